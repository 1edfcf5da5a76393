"""Dispatcher overrides (order_pin, order_unpin, route_lock, route_unlock, order_update) on
small hand-built zones: each is applied and recorded as an ``override`` decision, and what
it protects is left alone by re-optimization, risk re-route and redispatch."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from fleetstream.contract.events import ValidationError, validate
from fleetstream.contract.settings import EngineSettings
from fleetstream.operators.dispatch import InsertionStrategy
from fleetstream.operators.state import ASSIGNED, DELIVERY
from fleetstream.operators.zone.engine import ZoneEngine

sys.path.insert(0, str(Path(__file__).parent / "zone"))
from zone_scene import T0, Feed, engine, order, pt, put_on, vehicle  # noqa: E402

SETTINGS = EngineSettings(routing_plan_solutions=40, plan_solve_allowance_s=0)


def _run(eng: ZoneEngine, f: Feed, type_: str, ts: float = T0 + 10, **kw) -> list:
    return eng.process(f.ev(type_, ts, zone="Z", by="disp-1", **kw))


def _decisions(out: list) -> list[dict]:
    return [r for t, r in out if t == "fs.decisions"]


def _alerts(out: list) -> list[dict]:
    return [r for t, r in out if t == "fs.alerts"]


def _zigzag() -> tuple[Feed, ZoneEngine]:
    """Two active vans, each with a zig-zag route worth re-sequencing."""
    f = Feed()
    vs, os_ = [], []
    for k, vid in enumerate(("v1", "v2")):
        v = vehicle(f, vid, active=True, pos=pt(0.0, 0.01 * k))
        seq = [0.03, 0.0, 0.025, 0.005, 0.02, 0.01]
        mine = [order(f, f"{vid}o{i}", pt(d, 0.01 * k), T0, T0 + 5 * 3600)
                for i, d in enumerate(seq)]
        put_on(v, mine)
        vs.append(v)
        os_ += mine
    eng = engine(vs, os_, SETTINGS)
    eng.state.next_reopt_ts = int(T0 // SETTINGS.sweep_interval_s) - 100  # every bucket due
    return f, eng


def test_override_events_are_validated() -> None:
    ok = validate({"type": "order_pin", "event_id": "x1", "ts": T0, "v": 1, "zone": "Z",
                   "order_id": "o1", "vehicle_id": "v1", "by": "ann"}, "fs.approvals")
    assert (ok.order_id, ok.vehicle_id, ok.by) == ("o1", "v1", "ann")
    with pytest.raises(ValidationError, match="vehicle_id"):
        validate({"type": "order_pin", "event_id": "x1", "ts": T0, "v": 1, "zone": "Z",
                  "order_id": "o1", "vehicle_id": "v 1", "by": "ann"}, "fs.approvals")
    with pytest.raises(ValidationError, match="changes nothing"):
        validate({"type": "order_update", "event_id": "x2", "ts": T0, "v": 1, "zone": "Z",
                  "order_id": "o1", "by": "ann"}, "fs.approvals")
    with pytest.raises(ValidationError, match="window_end"):
        validate({"type": "order_update", "event_id": "x3", "ts": T0, "v": 1, "zone": "Z",
                  "order_id": "o1", "by": "ann", "window_start": T0 + 10, "window_end": T0},
                 "fs.approvals")
    with pytest.raises(ValidationError, match="belongs on fs.approvals"):
        validate({"type": "route_lock", "event_id": "x4", "ts": T0, "v": 1, "zone": "Z",
                  "vehicle_id": "v1", "by": "ann"}, "fs.orders")


def test_locked_route_is_left_alone_by_reoptimization() -> None:
    f, eng = _zigzag()
    before = list(eng.vehicles["v1"].route)
    out = _run(eng, f, "route_lock", vehicle_id="v1", reason="driver knows the area")
    d = _decisions(out)[0]
    assert (d["kind"], d["status"], d["autonomy"]) == ("override", "applied", "manual")
    assert d["explanation"]["approved_by"] == "disp-1"
    assert d["explanation"]["reasons"][0]["action"] == "route_lock"
    assert d["trigger_event_ids"] == [f"e{f.n}"]
    out = []
    eng.assignment.maybe_reoptimize(T0 + 30, ["sweep"], out)
    rerouted = {vid for r in _decisions(out) for vid in r["routes"]}
    assert rerouted == {"v2"}                      # v2 re-sequenced, locked v1 untouched
    assert eng.vehicles["v1"].route == before
    # Unlocked, it is re-optimized again.
    _run(eng, f, "route_unlock", ts=T0 + 40, vehicle_id="v1")
    eng.state.next_reopt_ts -= 100
    out = []
    eng.assignment.maybe_reoptimize(T0 + 60, ["sweep"], out)
    assert "v1" in {vid for r in _decisions(out) for vid in r["routes"]}


def test_locked_route_gets_no_reroute_nor_redispatch_nor_new_orders() -> None:
    f = Feed()
    v = vehicle(f, "v1", active=True)
    later = order(f, "o1", pt(0.03, 0.0), T0, T0 + 4 * 3600)
    urgent = order(f, "o2", pt(-0.03, 0.0), T0, T0 + 900)
    put_on(v, [later, urgent])
    w = vehicle(f, "v2", active=True)
    eng = engine([v, w], [later, urgent], strategy=InsertionStrategy())
    eng.state.locked.add("v1")
    out: list = []
    eng.response.handle_risk(v, ["o2"], T0, ["e1"], out)
    assert not _decisions(out)                      # without the lock: a reroute
    assert _alerts(out)[0]["kind"] == "late_risk"
    assert _alerts(out)[0]["details"]["redispatch"] == "the route is locked by a dispatcher"
    assert v.route == [("o1", DELIVERY), ("o2", DELIVERY)]
    fresh = order(f, "o3", pt(0.001, 0.0), T0, T0 + 4 * 3600, kind="on_demand",
                  pickup=pt(0.0, 0.001))
    eng.state.orders["o3"] = fresh
    assert [c.id for c in eng.assignment.candidates(fresh, T0)] == ["v2"]
    eng.state.locked.clear()
    assert sorted(c.id for c in eng.assignment.candidates(fresh, T0)) == ["v1", "v2"]


def test_pin_moves_the_order_and_nothing_moves_it_back() -> None:
    f = Feed()
    v1 = vehicle(f, "v1")                       # at the depot: its parcels can still move
    v2 = vehicle(f, "v2")
    first = order(f, "o1", pt(0.15, 0.15), T0, T0 + 6 * 3600)
    risky = order(f, "o2", pt(-0.01, 0.0), T0, T0 + 3 * 3600)
    put_on(v1, [first, risky])
    eng = engine([v1, v2], [first, risky], EngineSettings(redispatch_min_gain_s=60.0),
                 strategy=InsertionStrategy())
    out = _run(eng, f, "order_pin", order_id="o1", vehicle_id="v2")
    d = _decisions(out)[0]
    assert (d["kind"], d["order_ids"]) == ("override", ["o1"])
    assert {vid: [s["order_id"] for s in r] for vid, r in d["routes"].items()} == \
        {"v1": ["o2"], "v2": ["o1"]}
    assert first.vehicle_id == "v2" and first.status == ASSIGNED
    assert eng.state.pinned == {"o1": "v2"}
    # A late risk on v2 may not redispatch the pinned order (it would without the pin).
    moved, _note = eng.response.redispatch(v2, ["o1"], T0 + 20, ["e9"], [])
    assert moved == [] and v2.route == [("o1", DELIVERY)]
    _run(eng, f, "order_unpin", ts=T0 + 30, order_id="o1")
    assert eng.state.pinned == {}


def test_pin_that_is_infeasible_changes_nothing_and_alerts() -> None:
    f = Feed()
    v1 = vehicle(f, "v1")
    v2 = vehicle(f, "v2", vtype="bike")
    o = order(f, "o1", pt(0.01, 0.0), T0, T0 + 3 * 3600)
    o.vehicle_types = ["van"]
    put_on(v1, [o])
    eng = engine([v1, v2], [o], strategy=InsertionStrategy())
    out = _run(eng, f, "order_pin", order_id="o1", vehicle_id="v2")
    assert not _decisions(out)
    a = _alerts(out)[0]
    assert a["kind"] == "override_conflict" and a["details"]["applied"] is False
    assert a["details"]["constraint"] == "vehicle_type"
    assert o.vehicle_id == "v1" and eng.state.pinned == {}
    out = _run(eng, f, "order_pin", ts=T0 + 20, order_id="nope", vehicle_id="v2")
    assert _alerts(out)[0]["details"]["constraint"] == "unknown_order"


def test_update_window_retimes_and_alerts_when_infeasible() -> None:
    f = Feed()
    v = vehicle(f, "v1", active=True)
    o = order(f, "o1", pt(0.05, 0.0), T0, T0 + 4 * 3600)
    put_on(v, [o])
    eng = engine([v], [o], strategy=InsertionStrategy())
    version = v.route_version
    out = _run(eng, f, "order_update", order_id="o1", window_start=T0, window_end=T0 + 120)
    assert (o.window_start, o.window_end) == (T0, T0 + 120)
    assert v.route_version == version + 1          # re-timed
    d = _decisions(out)[0]
    assert d["kind"] == "override"
    assert d["explanation"]["reasons"][0]["changes"] == {"window_start": T0,
                                                         "window_end": T0 + 120}
    assert d["routes"]["v1"][0]["window_end"] == T0 + 120
    a = _alerts(out)[0]
    assert (a["kind"], a["details"]["constraint"], a["details"]["applied"]) == \
        ("override_conflict", "time_window", True)


def test_update_location_moves_the_stop() -> None:
    f = Feed()
    v = vehicle(f, "v1", active=True)
    o = order(f, "o1", pt(0.05, 0.0), T0, T0 + 4 * 3600)
    put_on(v, [o])
    eng = engine([v], [o], strategy=InsertionStrategy())
    far = eng.world.render_route("v1", v.route, T0 + 10)[0]["eta"]
    new = pt(0.005, 0.0)
    out = _run(eng, f, "order_update", order_id="o1", location={"lat": new[0], "lon": new[1]})
    assert o.location == new
    d = _decisions(out)[0]
    near = d["routes"]["v1"][0]
    assert near["eta"] < far and not _alerts(out)


def test_a_pinned_order_is_not_redispatched() -> None:
    f = Feed()
    v1 = vehicle(f, "v1")                       # at the depot: its parcels can still move
    v2 = vehicle(f, "v2")
    first = order(f, "o1", pt(0.15, 0.15), T0, T0 + 6 * 3600)
    risky = order(f, "o2", pt(-0.01, 0.0), T0, T0 + 3 * 3600)
    put_on(v1, [first, risky])
    eng = engine([v1, v2], [first, risky], EngineSettings(redispatch_min_gain_s=60.0),
                 strategy=InsertionStrategy())
    out = _run(eng, f, "order_pin", order_id="o2", vehicle_id="v1")   # already there
    assert _decisions(out)[0]["routes"] == {"v1": eng.world.render_route("v1", v1.route, T0 + 10)}
    moved, _note = eng.response.redispatch(v1, ["o2"], T0 + 20, ["e9"], [])
    assert moved == []                          # unpinned, it moves to v2 (test_zone_response)
    assert v1.route == [("o1", DELIVERY), ("o2", DELIVERY)] and risky.vehicle_id == "v1"
    _run(eng, f, "order_unpin", ts=T0 + 30, order_id="o2")
    moved, _note = eng.response.redispatch(v1, ["o2"], T0 + 40, ["e9"], [])
    assert moved == ["o2"]


def test_overrides_survive_a_snapshot_and_old_snapshots_load() -> None:
    import pickle
    f, eng = _zigzag()
    assert "locked" not in pickle.loads(eng.snapshot())      # no overrides: layout unchanged
    old = eng.snapshot()
    _run(eng, f, "route_lock", vehicle_id="v1")
    _run(eng, f, "order_pin", ts=T0 + 20, order_id="v2o1", vehicle_id="v2")
    back = ZoneEngine.restore(eng.snapshot(), SETTINGS)
    assert back.state.locked == {"v1"} and back.state.pinned == {"v2o1": "v2"}
    assert ZoneEngine.restore(old, SETTINGS).state.locked == set()


def test_the_trackers_route_overrides_by_their_zone() -> None:
    """Stage 1 places an override by its zone (an order_unpin has no vehicle, a
    route_lock no order): routed, deduplicated by event id like any event."""
    from fleetstream.operators.tracker import EntityTracker, PartitionTracker, entity_key
    f = Feed()
    pt_ = PartitionTracker()
    for t, kw in (("order_unpin", {"order_id": "o1"}), ("route_lock", {"vehicle_id": "v1"}),
                  ("order_update", {"order_id": "o1", "window_end": T0 + 60})):
        ev = f.ev(t, T0, zone="Z", by="ann", **kw)
        assert entity_key(ev) == "z:Z"
        assert pt_.process(ev) == ("route", "Z")
        assert pt_.process(ev)[0] == "drop"            # the same event id again
        assert EntityTracker().process(ev) == ("route", "Z")


def test_the_lane_router_places_overrides_on_their_zones_lane() -> None:
    import orjson

    from fleetstream.contract.message import InMsg
    from fleetstream.flows.lanes import LaneRouter, zone_lane
    router = LaneRouter(7)
    for seq, zone in enumerate(("Z1", "Z2", "Z3", "north", "south")):
        ev = {"type": "order_unpin", "event_id": f"x{seq}", "ts": T0, "v": 1, "zone": zone,
              "order_id": "o1", "by": "ann"}
        assert router.lane(InMsg(seq, "fs.approvals", zone, orjson.dumps(ev))) == \
            zone_lane(zone, 7)


@pytest.mark.parametrize("event,constraint", [
    ("vehicle_unavailable", "vehicle_unavailable"), ("shift_end", "shift_end")])
def test_a_pin_on_a_vehicle_leaving_service_is_released_with_an_alert(event, constraint) -> None:
    """The pinned order's vehicle breaks down or ends its shift: the pin is released
    and an override_conflict alert says so and why; the order is then assigned to
    another vehicle as usual (before: silently, and the stale pin kept the order from
    ever being redispatched again)."""
    f = Feed()
    v1 = vehicle(f, "v1", active=True, pos=pt(0.01, 0.0))
    v2 = vehicle(f, "v2", active=True, pos=pt(0.012, 0.0))
    o = order(f, "o1", pt(0.02, 0.0), T0, T0 + 6 * 3600, kind="on_demand", pickup=pt(0.015, 0.0))
    eng = engine([v1, v2], [o], SETTINGS, strategy=InsertionStrategy())
    eng.state.last_shift_start_ts = T0 - 3600
    _run(eng, f, "order_pin", order_id="o1", vehicle_id="v1")
    assert eng.state.pinned == {"o1": "v1"} and o.vehicle_id == "v1"
    kw = {"reason": "breakdown"} if event == "vehicle_unavailable" else {}
    ev = f.ev(event, T0 + 60, vehicle_id="v1", **kw)
    out = eng.process(ev)
    out += eng.process(f.ev("ping", T0 + 200, vehicle_id="v2", lat=v2.pos[0], lon=v2.pos[1],
                            speed_kmh=20.0, heading=0))
    rel = [a for a in _alerts(out) if a["kind"] == "override_conflict"]
    assert len(rel) == 1, _alerts(out)
    a = rel[0]
    assert (a["order_ids"], a["vehicle_id"]) == (["o1"], "v1")
    assert a["details"] == {"action": "order_pin", "constraint": constraint, "applied": False,
                            "by": "engine"}
    assert a["message"].startswith("Pin of o1 to v1 released: v1 ")
    if event == "vehicle_unavailable":
        assert a["trigger_event_ids"] == [ev.event_id]
    assert eng.state.pinned == {}
    assert o.vehicle_id == "v2"  # redispatched as usual
    # said once: later sweeps say nothing more
    later = eng.process(f.ev("ping", T0 + 900, vehicle_id="v2", lat=v2.pos[0], lon=v2.pos[1],
                             speed_kmh=20.0, heading=0))
    assert not [x for x in _alerts(later) if x["kind"] == "override_conflict"]


def test_the_pin_of_a_finished_order_is_dropped_without_an_alert() -> None:
    """A pinned order delivered: its pin goes at the next sweep, silently (it kept its
    vehicle out of every later zone plan)."""
    f = Feed()
    v1 = vehicle(f, "v1", active=True, pos=pt(0.01, 0.0))
    o = order(f, "o1", pt(0.02, 0.0), T0, T0 + 6 * 3600, kind="on_demand", pickup=pt(0.015, 0.0))
    eng = engine([v1], [o], SETTINGS, strategy=InsertionStrategy())
    eng.state.last_shift_start_ts = T0 - 3600
    _run(eng, f, "order_pin", order_id="o1", vehicle_id="v1")
    assert eng.state.pinned == {"o1": "v1"}
    out = eng.process(f.ev("order_picked_up", T0 + 60, order_id="o1", vehicle_id="v1"))
    out += eng.process(f.ev("order_delivered", T0 + 120, order_id="o1", vehicle_id="v1"))
    out += eng.process(f.ev("ping", T0 + 400, vehicle_id="v1", lat=v1.pos[0], lon=v1.pos[1],
                            speed_kmh=20.0, heading=0))
    assert o.status == "delivered"
    assert eng.state.pinned == {}
    assert not [a for a in _alerts(out) if a["kind"] == "override_conflict"]
