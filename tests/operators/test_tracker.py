"""Stage 1 (operators/tracker.py): duplicates by event id within an event-time window,
stale pings dropped, each vehicle's zone learned from its fleet events and each
order's from order_created, events for unknown vehicles/orders rejected, and
out-of-order input handled (what is rejected, what is dropped, what is routed).

PartitionTracker is the tracker the flow and LocalEngine use; EntityTracker is the
per-entity variant the module also exports."""

from __future__ import annotations

import pickle

import orjson
import pytest

from fleetstream.contract.events import validate
from fleetstream.operators.tracker import DROP, REJECT, ROUTE, EntityTracker, PartitionTracker, entity_key

T = 1_795_507_200.0


def shift(vid="v1", zone="Z1", ts=T, eid=None):
    return validate({"type": "shift_start", "event_id": eid or f"s-{vid}-{zone}-{ts}", "ts": ts,
                     "v": 1, "vehicle_id": vid, "driver_id": "d1", "zone": zone,
                     "fleet_type": "gig", "vehicle_type": "car",
                     "capacity": {"weight_kg": 100, "volume_l": 500},
                     "start": {"lat": 1, "lon": 1}, "end": {"lat": 1, "lon": 1},
                     "shift_end_ts": ts + 8 * 3600, "cost_per_km": 0.5, "cost_per_hour": 20})


def ping(vid="v1", ts=T + 10, eid=None):
    return validate({"type": "ping", "event_id": eid or f"p-{vid}-{ts}", "ts": ts, "v": 1,
                     "vehicle_id": vid, "lat": 1, "lon": 1, "speed_kmh": 20, "heading": 0})


def vehicle_event(kind, vid="v1", ts=T + 20, eid=None):
    d = {"type": kind, "event_id": eid or f"{kind}-{vid}-{ts}", "ts": ts, "v": 1,
         "vehicle_id": vid}
    if kind == "vehicle_unavailable":
        d["reason"] = "flat tyre"
    return validate(d)


def order(oid="o1", zone="Z1", ts=T, eid=None):
    return validate({"type": "order_created", "event_id": eid or f"oc-{oid}", "ts": ts, "v": 1,
                     "order_id": oid, "zone": zone, "customer_id": "c1", "kind": "parcel",
                     "location": {"lat": 1, "lon": 1}, "window_start": ts + 3600,
                     "window_end": ts + 7200, "size": {"weight_kg": 1, "volume_l": 1},
                     "service_s": 60, "priority": 0})


def order_event(kind, oid="o1", vid="v1", ts=T + 30, eid=None):
    d = {"type": kind, "event_id": eid or f"{kind}-{oid}-{ts}", "ts": ts, "v": 1,
         "order_id": oid}
    if kind != "order_cancelled":
        d["vehicle_id"] = vid
    if kind == "order_failed":
        d["reason"] = "not_home"
    return validate(d)


def zone_event(kind, zone="Z9", ts=T, eid="z1"):
    d = {"type": kind, "event_id": eid, "ts": ts, "v": 1, "zone": zone}
    if kind == "condition":
        d.update(kind="traffic", factor=1.5, start_ts=ts, end_ts=ts + 600)
    elif kind == "approval":
        d.update(decision_id="D-1", approved=True, by="ops")
    else:
        d.update(customer_id="c1", language="de")
    return validate(d)


# ------------------------------------------------------------------ duplicates


def test_repeated_event_id_is_dropped_for_every_event_type():
    pt = PartitionTracker()
    events = [shift(), ping(), vehicle_event("shift_end"), order(),
              order_event("order_delivered"), zone_event("condition", eid="c"),
              zone_event("approval", eid="a"), zone_event("customer_profile", eid="cp")]
    for e in events:
        assert pt.process(e)[0] == ROUTE, e
    for e in events:
        assert pt.process(e) == (DROP, f"duplicate event_id {e.event_id}")


def test_duplicate_is_by_id_not_by_content():
    """Two pings with identical content but different ids are two events; the same id
    with different content is a duplicate."""
    pt = PartitionTracker()
    pt.process(shift())
    assert pt.process(ping(ts=T + 10, eid="a"))[0] == ROUTE
    assert pt.process(ping(ts=T + 20, eid="a")) == (DROP, "duplicate event_id a")
    assert pt.process(ping(ts=T + 20, eid="b"))[0] == ROUTE


def _flood(pt, n, ts0, step=1.0, prefix="f"):
    """n distinct events (condition events need no prior context)."""
    for i in range(n):
        assert pt.process(zone_event("condition", ts=ts0 + i * step, eid=f"{prefix}{i}"))[0] == ROUTE


def test_duplicate_within_the_event_time_window_is_still_caught():
    """1,500 later events, all within the 900 s window: the first id is remembered."""
    pt = PartitionTracker(dedupe_window_s=900)
    first = order(eid="first")
    assert pt.process(first)[0] == ROUTE
    _flood(pt, 1500, T + 1, step=0.5)  # spans 750 s
    assert pt.process(first) == (DROP, "duplicate event_id first")


def test_ids_older_than_the_window_are_forgotten():
    """Memory is bounded by event time: once the partition clock is more than
    dedupe_window_s past an id's event time (and the id set is large enough to be
    pruned), the id is forgotten and a re-send is routed again."""
    pt = PartitionTracker(dedupe_window_s=900)
    first = order(eid="first")
    pt.process(first)
    _flood(pt, 1500, T + 1000, step=1.0)  # all more than 900 s later
    assert "first" not in pt.recent
    assert len(pt.recent) < 1500
    assert pt.process(first) == (ROUTE, "Z1")


def test_window_is_event_time_not_arrival_count():
    """The same number of later events does not evict an id when they are close in
    event time: eviction depends on the clock, not on how many events arrived."""
    near, far = PartitionTracker(dedupe_window_s=900), PartitionTracker(dedupe_window_s=900)
    for pt, step in ((near, 0.1), (far, 10.0)):
        pt.process(order(eid="first"))
        _flood(pt, 1300, T + 1, step=step)
    assert "first" in near.recent
    assert "first" not in far.recent


def test_id_set_is_bounded_by_count():
    pt = PartitionTracker(dedupe_window_s=1e9, dedupe_max=2000)
    _flood(pt, 5000, T, step=0.01)
    assert len(pt.recent) <= 2000 + 256
    assert "f0" not in pt.recent and "f4999" in pt.recent


def test_small_dedupe_max_is_enforced():
    pt = PartitionTracker(dedupe_window_s=1e9, dedupe_max=100)
    _flood(pt, 1000, T, step=0.01)
    assert len(pt.recent) <= 100 + 256


# ------------------------------------------------------------------ stale pings


def test_stale_and_equal_time_pings_are_dropped():
    pt = PartitionTracker()
    pt.process(shift())
    assert pt.process(ping(ts=T + 100)) == (ROUTE, "Z1")
    assert pt.process(ping(ts=T + 90)) == (DROP, f"stale ping: {T + 90:.1f} not after "
                                                 f"{T + 100:.1f}")
    assert pt.process(ping(ts=T + 100, eid="same-time"))[0] == DROP
    assert pt.process(ping(ts=T + 101)) == (ROUTE, "Z1")


def test_stale_ping_does_not_move_the_vehicle_clock_back():
    pt = PartitionTracker()
    pt.process(shift())
    pt.process(ping(ts=T + 100))
    pt.process(ping(ts=T + 50))
    assert pt.process(ping(ts=T + 99))[0] == DROP  # still compared with T + 100
    assert pt.process(ping(ts=T + 100.5))[0] == ROUTE


def test_stale_is_per_vehicle():
    pt = PartitionTracker()
    pt.process(shift("v1"))
    pt.process(shift("v2"))
    assert pt.process(ping("v1", ts=T + 100))[0] == ROUTE
    assert pt.process(ping("v2", ts=T + 50)) == (ROUTE, "Z1")


def test_only_pings_can_be_stale():
    """Other vehicle events older than the last ping are routed (the zone engine
    reconciles them); the re-sent stale ping is a duplicate."""
    pt = PartitionTracker()
    pt.process(shift())
    pt.process(ping(ts=T + 100))
    assert pt.process(vehicle_event("vehicle_unavailable", ts=T + 50)) == (ROUTE, "Z1")
    stale = ping(ts=T + 60)
    assert pt.process(stale)[0] == DROP
    assert pt.process(stale) == (DROP, f"duplicate event_id {stale.event_id}")


# ------------------------------------------------------------------ zones


@pytest.mark.parametrize("kind", ["ping", "shift_end", "vehicle_unavailable"])
def test_vehicle_events_route_to_the_zone_learned_from_shift_start(kind):
    pt = PartitionTracker()
    assert pt.process(shift("v7", zone="North")) == (ROUTE, "North")
    e = ping("v7") if kind == "ping" else vehicle_event(kind, "v7")
    assert pt.process(e) == (ROUTE, "North")


def test_new_shift_start_moves_the_vehicle_to_its_new_zone():
    pt = PartitionTracker()
    pt.process(shift("v1", zone="A", ts=T))
    assert pt.process(ping("v1", ts=T + 10)) == (ROUTE, "A")
    assert pt.process(shift("v1", zone="B", ts=T + 3600)) == (ROUTE, "B")
    assert pt.process(ping("v1", ts=T + 3610)) == (ROUTE, "B")


@pytest.mark.parametrize("kind", ["order_cancelled", "stop_arrived", "order_picked_up",
                                  "order_delivered", "order_failed"])
def test_order_events_route_to_the_order_zone_not_the_vehicle_zone(kind):
    pt = PartitionTracker()
    pt.process(shift("v1", zone="VehicleZone"))
    pt.process(order("o1", zone="OrderZone"))
    assert pt.process(order_event(kind, "o1", "v1")) == (ROUTE, "OrderZone")


@pytest.mark.parametrize("kind", ["condition", "approval", "customer_profile"])
def test_zone_carrying_events_route_by_their_own_zone(kind):
    pt = PartitionTracker()
    assert pt.process(zone_event(kind, zone="Z42")) == (ROUTE, "Z42")


def test_vehicle_and_order_ids_do_not_collide():
    """An order named like a vehicle does not make that vehicle known."""
    pt = PartitionTracker()
    pt.process(order("X", zone="Z1"))
    assert pt.process(ping("X"))[0] == REJECT
    assert entity_key(ping("X")) != entity_key(order("X"))


# ------------------------------------------------------------------ unknown entities


@pytest.mark.parametrize("kind", ["ping", "shift_end", "vehicle_unavailable"])
def test_unknown_vehicle_is_rejected(kind):
    pt = PartitionTracker()
    e = ping("ghost") if kind == "ping" else vehicle_event(kind, "ghost")
    assert pt.process(e) == (REJECT, f"unknown vehicle: no shift_start seen before this {kind}")


@pytest.mark.parametrize("kind", ["order_cancelled", "stop_arrived", "order_picked_up",
                                  "order_delivered", "order_failed"])
def test_unknown_order_is_rejected(kind):
    pt = PartitionTracker()
    pt.process(shift("v1"))  # a known vehicle does not make the order known
    assert pt.process(order_event(kind, "ghost", "v1")) == (
        REJECT, f"unknown order: no order_created seen before this {kind}")


# ------------------------------------------------------------------ out of order


def test_events_before_their_entity_are_rejected_then_later_ones_route():
    """Out of order across topics: a ping and a delivery that arrive before the
    shift_start / order_created are rejected; events after them route normally."""
    pt = PartitionTracker()
    assert pt.process(ping("v1", ts=T + 5))[0] == REJECT
    assert pt.process(order_event("order_delivered", "o1", ts=T + 5))[0] == REJECT
    pt.process(shift("v1", ts=T))
    pt.process(order("o1", ts=T))
    assert pt.process(ping("v1", ts=T + 6)) == (ROUTE, "Z1")
    assert pt.process(order_event("order_picked_up", "o1", ts=T + 6)) == (ROUTE, "Z1")


def test_rejected_ping_does_not_set_the_vehicle_clock():
    pt = PartitionTracker()
    pt.process(ping("v1", ts=T + 500))  # rejected: vehicle unknown
    pt.process(shift("v1", ts=T))
    assert pt.process(ping("v1", ts=T + 10)) == (ROUTE, "Z1")


def test_out_of_order_event_times_keep_the_clock_at_the_maximum():
    pt = PartitionTracker()
    pt.process(zone_event("condition", ts=T + 100, eid="a"))
    pt.process(zone_event("condition", ts=T + 50, eid="b"))
    assert pt.clock == T + 100


def test_rejected_event_resent_after_its_entity_is_known_is_routed():
    pt = PartitionTracker()
    early = order_event("order_delivered", "o1", ts=T + 5)
    assert pt.process(early)[0] == REJECT
    pt.process(order("o1", ts=T))
    assert pt.process(early) == (ROUTE, "Z1")


def test_one_far_future_ping_does_not_silence_a_vehicle():
    pt = PartitionTracker()
    pt.process(shift("v1", ts=T))
    pt.process(ping("v1", ts=T + 10))
    pt.process(ping("v1", ts=T + 86400 * 365))  # clock error: a year ahead
    assert pt.process(ping("v1", ts=T + 20)) == (ROUTE, "Z1")


# ------------------------------------------------------------------ snapshot


def _busy_tracker() -> PartitionTracker:
    pt = PartitionTracker(dedupe_window_s=600, dedupe_max=5000)
    pt.process(shift("v1", zone="A"))
    pt.process(order("o1", zone="B"))
    pt.process(ping("v1", ts=T + 100))
    return pt


def test_snapshot_restore_keeps_zones_ids_and_ping_times():
    pt = _busy_tracker()
    snap = pickle.loads(pickle.dumps(pt.snapshot()))
    orjson.dumps(snap)  # plain data
    r = PartitionTracker.restore(snap)
    assert (r.dedupe_window_s, r.dedupe_max, r.clock) == (600, 5000, T + 100)
    assert r.process(ping("v1", ts=T + 100, eid="new"))[0] == DROP      # stale
    assert r.process(ping("v1", ts=T + 100))[0] == DROP                 # duplicate
    assert r.process(ping("v1", ts=T + 101)) == (ROUTE, "A")
    assert r.process(order_event("order_delivered", "o1")) == (ROUTE, "B")


def test_restored_tracker_decides_like_the_original():
    a = _busy_tracker()
    b = PartitionTracker.restore(pickle.loads(pickle.dumps(a.snapshot())))
    later = [ping("v1", ts=T + 90), ping("v1", ts=T + 200), ping("v2", ts=T + 200),
             shift("v2", zone="C", ts=T + 150), ping("v2", ts=T + 210),
             order_event("order_failed", "o1", ts=T + 300), order_event("order_failed", "o1",
                                                                          ts=T + 300)]
    assert [a.process(e) for e in later] == [b.process(e) for e in later]


def test_snapshot_is_not_changed_by_later_events():
    pt = _busy_tracker()
    snap = pt.snapshot()
    before = pickle.dumps(snap)
    pt.process(ping("v1", ts=T + 500))
    pt.process(shift("v1", zone="Z", ts=T + 600))
    assert pickle.dumps(snap) == before


# ------------------------------------------------------------------ EntityTracker


def test_entity_tracker_dedupes_drops_stale_and_learns_zone():
    t = EntityTracker(window=3)
    assert t.process(shift("v1", zone="Q")) == (ROUTE, "Q")
    assert t.process(ping("v1", ts=T + 10)) == (ROUTE, "Q")
    assert t.process(ping("v1", ts=T + 5))[0] == DROP
    assert t.process(ping("v1", ts=T + 10))[0] == DROP  # duplicate id
    for i in range(4):  # window of 3 ids: the shift_start id is forgotten
        t.process(ping("v1", ts=T + 20 + i))
    assert t.process(shift("v1", zone="Q")) == (ROUTE, "Q")
    r = EntityTracker.restore(pickle.loads(pickle.dumps(t.snapshot())))
    assert (r.zone, r.last_ping_ts, list(r._ids)) == (t.zone, t.last_ping_ts, list(t._ids))


def test_entity_tracker_rejects_unknown_vehicle():
    assert EntityTracker().process(ping("ghost")) == (
        REJECT, "unknown vehicle: no shift_start seen before this ping")


def test_entity_tracker_rejected_ping_does_not_set_the_vehicle_clock():
    t = EntityTracker()
    assert t.process(ping("v1", ts=T + 500))[0] == REJECT
    t.process(shift("v1", ts=T))
    assert t.process(ping("v1", ts=T + 10)) == (ROUTE, "Z1")


# ------------------------------------------------------------------ retention


# These jump a day ahead in one step, more than the default event-time skew
# (tests/hardening/test_event_time_sanity.py): the lane here allows two days.
DAYS = dict(event_skew_s=2 * 86_400)


@pytest.mark.parametrize("kind", ["order_delivered", "order_failed", "order_cancelled"])
def test_a_finished_order_is_forgotten_a_day_later_by_event_time(kind):
    pt = PartitionTracker(**DAYS)
    pt.process(shift())
    pt.process(order())
    assert pt.process(order_event(kind, ts=T + 100))[0] == ROUTE
    # Within the retention window a late event for it is still routed (the engine
    # ignores it); an hour-later sweep keeps it.
    assert pt.process(ping(ts=T + 3_700))[0] == ROUTE
    assert pt.process(order_event("stop_arrived", ts=T + 3_800))[0] == ROUTE
    assert "o:o1" in pt.entities
    # A day later (event time, not arrivals) the finished order is gone ...
    assert pt.process(ping(ts=T + 100 + 86_400 + 3_700))[0] == ROUTE
    assert "o:o1" not in pt.entities
    verdict, reason = pt.process(order_event("stop_arrived", ts=T + 90_000, eid="late"))
    assert verdict == REJECT and reason.startswith("unknown order")
    # ... while the vehicle, still pinging and never ended, is kept.
    assert "v:v1" in pt.entities


def test_a_vehicle_whose_shift_ended_is_forgotten_unless_a_new_shift_starts():
    pt = PartitionTracker(**DAYS)
    pt.process(shift("v1"))
    pt.process(shift("v2"))
    pt.process(vehicle_event("shift_end", "v1", ts=T + 8 * 3600))
    pt.process(vehicle_event("shift_end", "v2", ts=T + 8 * 3600))
    pt.process(shift("v2", ts=T + 24 * 3600))               # v2 works again the next day
    pt.process(ping("v2", ts=T + 8 * 3600 + 86_400 + 7_200))
    assert "v:v1" not in pt.entities and "v:v2" in pt.entities


def test_self_zoned_events_leave_no_entity_behind():
    pt = PartitionTracker()
    for i, kind in enumerate(("condition", "approval", "customer_profile")):
        assert pt.process(zone_event(kind, eid=f"z{i}")) == (ROUTE, "Z9")
    assert pt.entities == {}


def test_retention_survives_snapshot_and_restore():
    pt = PartitionTracker(retain_done_s=600)
    pt.process(shift())
    pt.process(order())
    pt.process(order_event("order_delivered", ts=T + 100))
    back = PartitionTracker.restore(pickle.loads(pickle.dumps(pt.snapshot())))
    assert back.retain_done_s == 600 and back.entities == pt.entities
    back.process(ping(ts=T + 100 + 600 + 3_700))
    assert "o:o1" not in back.entities
