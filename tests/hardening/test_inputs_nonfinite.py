"""No output record holds a non-finite number (issue 11, "Compounding inputs").

Measured before the fix: 320 re-sent traffic reports overflowed to NaN: 8,536 engine
errors, ETAs written as ``null`` against the schema, 221 of 300 outcomes lost.

1. The guard: ``pipeline.zone_step`` is the one place every zone engine output
   leaves through; a record holding NaN or an infinity is never emitted: it becomes
   an ``engine_error`` alert naming the record and the field, and is counted.
2. Extreme but valid inputs through the whole pipeline (decode, stage 1, a learned
   zone engine): 320 re-sent condition reports, orders across the antimeridian and
   at the poles (distances of thousands of km), speeds at the wire limits: zero
   non-finite outputs, zero engine errors, an outcome for every order."""

from __future__ import annotations

import math

import orjson

from fleetstream.contract.message import InMsg
from fleetstream.contract.outputs import TOPIC_ALERTS, TOPIC_ETA, TOPIC_OUTCOMES
from fleetstream.contract.settings import EngineSettings, LimitsSettings
from fleetstream.engine import LocalEngine
from fleetstream.operators.pipeline import nonfinite_path, zone_step
from fleetstream.operators.zone.engine import ZoneEngine

T0 = 1772438400.0


def test_nonfinite_path_finds_nan_and_inf_anywhere():
    assert nonfinite_path({"a": 1.0, "b": [{"c": 2}]}) is None
    assert nonfinite_path({"a": 1.0, "b": [{"c": float("nan")}]}) == ".b[0].c"
    assert nonfinite_path({"eta": float("inf")}) == ".eta"
    assert nonfinite_path({"routes": {"v1": [{"eta": -math.inf}]}}) == ".routes.v1[0].eta"


class _Poisoned(ZoneEngine):
    """An engine whose ETA arithmetic went wrong (what 320 compounded factors did)."""

    def process(self, ev):
        out = super().process(ev)
        return out + [(TOPIC_ETA, {"eta_id": "E-Z-1-99", "ts": ev.ts, "zone": "Z",
                                   "order_id": "o1", "eta": float("nan"),
                                   "hi95": float("inf")})]


def test_zone_step_never_emits_a_nonfinite_record():
    from fleetstream.contract.events import validate
    eng = _Poisoned("Z", EngineSettings())
    ev = validate({"type": "condition", "event_id": "c1", "ts": T0, "v": 1, "zone": "Z",
                   "kind": "traffic", "factor": 2, "start_ts": T0, "end_ts": T0 + 60})
    out = zone_step(eng, InMsg(7, "fs.conditions", "Z", b"{}"), ev)
    assert all(nonfinite_path(r) is None for _t, r in out), out
    assert not [r for t, r in out if t == TOPIC_ETA]
    alerts = [r for t, r in out if t == TOPIC_ALERTS and r["kind"] == "engine_error"]
    assert len(alerts) == 1, out
    a = alerts[0]
    assert "non-finite" in a["message"] and ".eta" in a["message"] and "E-Z-1-99" in a["message"]
    assert a["details"]["topic"] == TOPIC_ETA and a["trigger_event_ids"] == ["c1"]
    assert eng.stats["nonfinite_outputs"] == 1
    orjson.dumps(out)  # plain JSON, no NaN written as null


# ---------------------------------------------------------------- extreme inputs


def _msg(seq: int, topic: str, key: str, ev: dict) -> InMsg:
    ev = {"v": 1, **ev}
    return InMsg(seq, topic, key, orjson.dumps(ev))


def _extreme_stream() -> tuple[list[InMsg], list[str]]:
    msgs: list[InMsg] = []
    seq = 0

    def add(topic, key, ev):
        nonlocal seq
        seq += 1
        msgs.append(_msg(seq, topic, key, ev))

    zone = "ZX"
    depots = [(0.0, 179.999), (89.99, 0.0), (-89.99, 120.0), (0.0, -179.999)]
    # near a depot but across the antimeridian or at a pole, and far across the globe
    points = [(0.0, -179.99), (0.01, 179.98), (89.999, 180.0), (89.995, -90.0),
              (-89.999, -180.0), (-89.995, 121.0), (0.001, -179.9999), (0.0, -179.95),
              (45.0, 0.0), (-45.0, 90.0), (10.0, -170.0), (-0.01, 179.99)]
    orders = []
    for i, p in enumerate(points * 2):
        oid = f"OX{i:03d}"
        orders.append(oid)
        add("fs.orders", oid, {"type": "order_created", "event_id": f"oc{i}", "ts": T0 + i,
                               "order_id": oid, "zone": zone, "customer_id": f"C{i}",
                               "kind": "parcel", "location": {"lat": p[0], "lon": p[1]},
                               "window_start": T0, "window_end": T0 + 4 * 3600,
                               "size": {"weight_kg": 1, "volume_l": 1}, "service_s": 60,
                               "priority": 0})
    for j, d in enumerate(depots):
        add("fs.fleet", f"VX{j}", {"type": "shift_start", "event_id": f"ss{j}", "ts": T0 + 100 + j,
                                   "vehicle_id": f"VX{j}", "driver_id": f"D{j}", "zone": zone,
                                   "fleet_type": "gig", "vehicle_type": "van",
                                   "capacity": {"weight_kg": 1000, "volume_l": 10000},
                                   "start": {"lat": d[0], "lon": d[1]},
                                   "end": {"lat": d[0], "lon": d[1]},
                                   "shift_end_ts": T0 + 10 * 3600, "cost_per_km": 0.5,
                                   "cost_per_hour": 20})
    # the same traffic report, re-sent 320 times with new event ids
    for k in range(320):
        add("fs.conditions", zone, {"type": "condition", "event_id": f"cx{k}",
                                    "ts": T0 + 200 + k * 0.5, "zone": zone, "kind": "traffic",
                                    "factor": 9.5, "start_ts": T0, "end_ts": T0 + 8 * 3600})
    for kind, f in (("weather", 10.0), ("incident", 10.0)):
        add("fs.conditions", zone, {"type": "condition", "event_id": f"c-{kind}", "ts": T0 + 400,
                                    "zone": zone, "kind": kind, "factor": f, "start_ts": T0,
                                    "end_ts": T0 + 8 * 3600})
    # every parcel is loaded at its depot (reality wins: it is on that vehicle now)
    for i, oid in enumerate(orders):
        add("fs.orders", oid, {"type": "order_picked_up", "event_id": f"op{i}",
                               "ts": T0 + 500 + i, "order_id": oid,
                               "vehicle_id": f"VX{i % len(depots)}"})
    # pings: vehicles jump across the globe at the wire's speed limits
    t = T0 + 600
    for step in range(60):
        for j, d in enumerate(depots):
            t += 7
            p = points[(step + j) % len(points)]
            add("fs.telemetry", f"VX{j}", {"type": "ping", "event_id": f"p{step}-{j}", "ts": t,
                                           "vehicle_id": f"VX{j}", "lat": p[0], "lon": p[1],
                                           "speed_kmh": 250.0 if step % 2 else 0.0,
                                           "heading": 359.9})
    # half the orders are delivered (by whoever), the rest never hear back
    for i, oid in enumerate(orders[::2]):
        t += 5
        add("fs.orders", oid, {"type": "order_delivered", "event_id": f"od{i}", "ts": t,
                               "order_id": oid, "vehicle_id": f"VX{i % len(depots)}"})
    # the day goes on (pings) until every window plus the grace period is over
    while t < T0 + 4 * 3600 + LimitsSettings().order_grace_s + 3600:
        t += 600
        add("fs.telemetry", "VX0", {"type": "ping", "event_id": f"late{t}", "ts": t,
                                    "vehicle_id": "VX0", "lat": 0.0, "lon": 179.999,
                                    "speed_kmh": 0.0, "heading": 0.0})
    return msgs, orders


def test_extreme_but_valid_inputs_give_finite_outputs_and_an_outcome_per_order():
    msgs, orders = _extreme_stream()
    eng = LocalEngine(EngineSettings(solver_workers=0))
    outs = []
    for m in msgs:
        outs += eng.process(m)
    bad = [(t, nonfinite_path(r)) for t, _k, r in outs if nonfinite_path(r)]
    assert not bad, bad[:5]
    errors = [r["message"] for t, _k, r in outs
              if t == TOPIC_ALERTS and r["kind"] == "engine_error"]
    assert not errors, errors[:3]
    assert not [r for t, _k, r in outs if t == "fs.dlq"], "valid input was dead-lettered"
    outcome = {r["order_id"]: r["outcome"] for t, _k, r in outs if t == TOPIC_OUTCOMES}
    assert set(outcome) == set(orders), sorted(set(orders) - set(outcome))
    assert sum(1 for o in outcome.values() if o == "delivered") == len(orders[::2])
    for t, _k, r in outs:
        orjson.dumps(r)
