"""ZoneEngine: the event -> handler table, rewiring, snapshot round trip."""

from __future__ import annotations

import pickle

import orjson
import pytest

from fleetstream.contract.events import EVENT_TYPES
from fleetstream.contract.settings import EngineSettings
from fleetstream.operators.dispatch import InsertionStrategy
from fleetstream.operators.estimators import ModelSeats
from fleetstream.operators.zone.engine import ZoneEngine
from fleetstream.operators.zone.state import STATE_VERSION
from zone_scene import T0, Feed, ScriptedLateRisk, pt


def test_the_router_table_has_one_handler_per_input_event_type() -> None:
    eng = ZoneEngine("Z")
    assert set(eng.handlers) == set(EVENT_TYPES)
    capabilities = (eng.fleet, eng.lifecycle, eng.world, eng.governance, eng.overrides,
                    eng.contact)
    for t, h in eng.handlers.items():
        assert callable(h), t
        assert h.__self__ in capabilities + (eng,), f"{t} is not routed to a capability object"
        if h.__self__ is not eng:
            assert h.__name__ == "on_" + t


def test_process_dispatches_through_the_table() -> None:
    eng = ZoneEngine("Z")
    seen = []
    eng.handlers["condition"] = lambda ev, out: seen.append(ev.event_id)
    f = Feed()
    eng.process(f.ev("condition", T0, zone="Z", kind="traffic", factor=2.0, start_ts=T0,
                     end_ts=T0 + 600))
    assert seen == ["e1"]
    assert eng.state.conditions == []   # the table's handler ran, not World.on_condition


def test_setting_the_strategy_seats_or_observer_rewires_every_capability() -> None:
    eng = ZoneEngine("Z")
    s = InsertionStrategy()
    eng.strategy = s
    assert eng.assignment.strategy is s and eng.response.strategy is s
    seats = ModelSeats(late_risk=ScriptedLateRisk(0.5))
    eng.seats = seats
    assert eng.forecasting.seats is seats and eng.governance.seats is seats and eng.emit.seats is seats
    calls = []
    eng.observer = lambda kind, rec: calls.append(kind)
    assert eng.forecasting.observer is not None and eng.lifecycle.observer is not None
    assert eng.handlers["approval"].__self__ is eng.governance


SETTINGS = EngineSettings(routing_plan_solutions=30)


def _events() -> list:
    """Two vans, six orders, pings out of the depot, a condition, a profile, arrivals
    and deliveries: enough to plan, publish ETAs, learn and decide."""
    f = Feed()
    a, b = pt(0.02, 0.01), pt(-0.015, 0.02)
    locs = [pt(0.01 * i, 0.004 * (i % 3)) for i in range(1, 7)]
    evs = [f.shift("v1"), f.shift("v2")]
    evs += [f.order(f"o{i}", T0 + 10 + i, loc, T0, T0 + 4 * 3600) for i, loc in enumerate(locs)]
    evs.append(f.ev("customer_profile", T0 + 30, customer_id="co1", zone="Z", language="de",
                    access_instructions="gate 4", service_requirements=[]))
    evs += [f.ping("v1", T0 + 300, pt(0, 0)), f.ping("v2", T0 + 301, pt(0, 0))]
    scratch = ZoneEngine("Z", SETTINGS)   # the zone plan, to load what it planned
    for ev in evs:
        scratch.process(ev)
    t = T0 + 400
    for vid in ("v1", "v2"):
        for oid, _kind in scratch.vehicles[vid].route:
            t += 5
            evs.append(f.ev("order_picked_up", t, order_id=oid, vehicle_id=vid))
    for k in range(30):
        t += 60
        evs.append(f.ping("v1", t, pt(0.001 * k, 0.0005 * k)))
        evs.append(f.ping("v2", t, pt(-0.001 * k, 0.0007 * k)))
        if k == 10:
            evs.append(f.ev("condition", t, zone="Z", kind="traffic", factor=1.6, start_ts=t,
                            end_ts=t + 3600))
    evs.append(f.order("o9", t + 5, a, t, t + 3 * 3600, kind="on_demand", pickup=pt(0.005, 0)))
    evs.append(f.order("o10", t + 6, b, t, t + 3 * 3600, kind="on_demand", pickup=pt(0, 0.005)))
    evs += [f.ping("v1", t + 70, pt(0.03, 0.015)), f.ping("v2", t + 71, pt(-0.03, 0.021))]
    return evs


def _stop_events(eng: ZoneEngine, f: Feed, t: float) -> list:
    """Arrive at and deliver the first stop of every vehicle's route."""
    evs = []
    for vid in sorted(eng.vehicles):
        v = eng.vehicles[vid]
        if v.route:
            oid, kind = v.route[0]
            evs.append(f.ev("stop_arrived", t, order_id=oid, vehicle_id=vid, stop_kind=kind))
            evs.append(f.ev("order_delivered", t + 90, order_id=oid, vehicle_id=vid))
            t += 100
    return evs


def test_snapshot_round_trip_continues_byte_for_byte() -> None:
    s = SETTINGS
    a = ZoneEngine("Z", s)
    evs = _events()
    half = len(evs) // 2
    for ev in evs[:half]:
        a.process(ev)
    blob = a.snapshot()
    b = ZoneEngine.restore(blob, s)
    assert pickle.loads(b.snapshot()) == pickle.loads(blob)
    rest = evs[half:]
    f = Feed()
    f.n = 1000
    out_a = [r for ev in rest for r in a.process(ev)]
    out_b = [r for ev in rest for r in b.process(ev)]
    more = _stop_events(a, f, rest[-1].ts + 60)
    assert more, "the scene should have routed orders"
    out_a += [r for ev in more for r in a.process(ev)]
    out_b += [r for ev in more for r in b.process(ev)]
    topics = {t for t, _ in out_a}
    assert {"fs.eta", "fs.outcomes", "fs.decisions"} <= topics
    assert orjson.dumps(out_a) == orjson.dumps(out_b)
    assert pickle.loads(a.snapshot()) == pickle.loads(b.snapshot())


def test_restore_refuses_another_state_version() -> None:
    st = pickle.loads(ZoneEngine("Z").snapshot())
    assert st["state_version"] == STATE_VERSION
    st["state_version"] = STATE_VERSION + 1
    with pytest.raises(ValueError, match="state version"):
        ZoneEngine.restore(pickle.dumps(st))
