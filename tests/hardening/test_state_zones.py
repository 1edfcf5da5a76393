"""Zones are created only from fleet configuration or an allow-list, up to a cap
(issue 11, "Unbounded state"); stage-1 entities that never finish are forgotten.

Before: every new zone string created a zone engine for good (about 100 kB each), and
an order with no terminal event stayed in the stage-1 tracker forever.

Rule (docs/limits.md, "Zones"): with ``limits.zones`` set, only those zones exist.
Without it, a zone exists once a ``shift_start`` names it; zones named only by other
events (orders and customer profiles arrive before the first shift of the day) are
admitted up to ``limits.max_unconfirmed_zones`` at a time; ``limits.max_zones`` caps
every lane.  An event for a zone that is not admitted is a dead letter with a reason."""

from __future__ import annotations

import os
import sys

import orjson

sys.path.insert(0, os.path.dirname(__file__))

from test_event_time_sanity import T, order, ping, shift  # noqa: E402

from fleetstream.contract import events as ev  # noqa: E402
from fleetstream.contract.message import InMsg  # noqa: E402
from fleetstream.contract.settings import EngineSettings, LimitsSettings  # noqa: E402
from fleetstream.engine import LocalEngine  # noqa: E402
from fleetstream.operators.tracker import REJECT, ROUTE, PartitionTracker  # noqa: E402


def _pt(**kw) -> PartitionTracker:
    return PartitionTracker.from_limits(LimitsSettings(**kw))


def profile(cid: str, zone: str, ts: float = T):
    return ev.validate({"type": "customer_profile", "event_id": f"cp-{cid}-{zone}", "ts": ts,
                        "v": 1, "customer_id": cid, "zone": zone, "language": "en"})


def test_orders_before_the_first_shift_are_kept_and_the_shift_confirms_the_zone():
    pt = _pt()
    assert pt.process(profile("c1", "Z1")) == (ROUTE, "Z1")
    assert pt.process(order("o1", "Z1")) == (ROUTE, "Z1")
    assert pt.process(shift("v1", "Z1", ts=T + 60)) == (ROUTE, "Z1")
    assert pt.process(order("o2", "Z1", ts=T + 61)) == (ROUTE, "Z1")
    assert "Z1" in pt.zones_known and not pt.zones_unconfirmed


def test_junk_zone_names_are_capped_and_dead_lettered_with_a_reason():
    pt = _pt(max_unconfirmed_zones=4)
    verdicts = [pt.process(order(f"o{i}", f"JUNK{i}", ts=T + i)) for i in range(20)]
    assert [v for v, _ in verdicts].count(ROUTE) == 4
    why = verdicts[-1][1]
    assert verdicts[-1][0] == REJECT and "limits.max_unconfirmed_zones" in why, why
    assert "JUNK19" in why
    # fleet configuration still creates zones; their orders flow
    assert pt.process(shift("v1", "Z9", ts=T + 30)) == (ROUTE, "Z9")
    assert pt.process(order("o-ok", "Z9", ts=T + 31)) == (ROUTE, "Z9")
    # a junk zone stays admitted (its engine exists) and a shift can still confirm it
    assert pt.process(shift("v2", "JUNK0", ts=T + 32)) == (ROUTE, "JUNK0")
    assert "JUNK0" in pt.zones_known


def test_an_allow_list_admits_exactly_its_zones():
    pt = _pt(zones="Z1,Z2")
    assert pt.process(order("o1", "Z2")) == (ROUTE, "Z2")
    v, why = pt.process(shift("v1", "Z3", ts=T + 1))
    assert v == REJECT and "limits.zones" in why and "Z3" in why
    v, why = pt.process(profile("c1", "Z4"))
    assert v == REJECT
    # the vehicle was not created: its pings are unknown, not routed to Z3
    assert pt.process(ping("v1", ts=T + 5))[0] == REJECT


def test_max_zones_caps_even_fleet_configuration():
    pt = _pt(max_zones=5)
    ok = [pt.process(shift(f"v{i}", f"Z{i}", ts=T + i))[0] for i in range(8)]
    assert ok.count(ROUTE) == 5
    v, why = pt.process(shift("v99", "Z99", ts=T + 20))
    assert v == REJECT and "limits.max_zones (5)" in why


def test_the_tracker_snapshot_keeps_the_admitted_zones():
    pt = _pt(max_unconfirmed_zones=2)
    pt.process(order("o1", "A"))
    pt.process(shift("v1", "B", ts=T + 1))
    pt2 = PartitionTracker.restore(orjson.loads(orjson.dumps(pt.snapshot())))
    assert pt2.zones_known == {"B"} and pt2.zones_unconfirmed == {"A"}
    assert pt2.max_unconfirmed_zones == 2
    pt2.process(order("o2", "C", ts=T + 2))
    assert pt2.process(order("o3", "D", ts=T + 3))[0] == REJECT


def test_zone_engines_stay_bounded_whatever_zone_names_arrive():
    eng = LocalEngine(EngineSettings(solver_workers=0), limits=LimitsSettings(max_unconfirmed_zones=3))
    outs = []
    for i in range(200):
        o = {"type": "order_created", "event_id": f"e{i}", "ts": T + i, "v": 1,
             "order_id": f"o{i}", "zone": f"Z-{i}", "customer_id": "c", "kind": "parcel",
             "location": {"lat": 1, "lon": 1}, "window_start": T, "window_end": T + 7200,
             "size": {"weight_kg": 1, "volume_l": 1}, "service_s": 60, "priority": 0}
        outs += eng.process(InMsg(i, "fs.orders", f"o{i}", orjson.dumps(o)))
    assert len(eng.zones) == 3
    dlq = [r for t, _k, r in outs if t == "fs.dlq"]
    assert len(dlq) == 197 and all(r["stage"] == "track" for r in dlq)


# ------------------------------------------------------------- stage-1 entity retention


def test_an_order_that_never_finishes_is_forgotten_by_stage_one():
    lim = LimitsSettings()
    pt = PartitionTracker.from_limits(lim)
    pt.process(shift("v1", "Z1"))
    pt.process(order("o-open", "Z1", ts=T + 1))            # window ends T + 1 + 7200
    assert "o:o-open" in pt.entities
    t = T + 2
    horizon = T + 1 + 7200 + max(lim.order_grace_s, lim.retention_s)
    while t < horizon + 7200:
        t += 1800
        pt.process(ping("v1", ts=t, eid=f"p{t}"))
    assert "o:o-open" not in pt.entities
    assert "v:v1" in pt.entities                           # it keeps pinging


def test_a_vehicle_that_goes_silent_is_forgotten_after_retention():
    lim = LimitsSettings()
    pt = PartitionTracker.from_limits(lim)
    pt.process(shift("v1", "Z1"))                            # shift ends T + 8 h
    pt.process(shift("v2", "Z1", ts=T + 1))
    t = T + 2
    while t < T + 8 * 3600 + lim.retention_s + 7200:
        t += 1800
        pt.process(ping("v2", ts=t, eid=f"p{t}"))
    assert "v:v1" not in pt.entities and "v:v2" in pt.entities
