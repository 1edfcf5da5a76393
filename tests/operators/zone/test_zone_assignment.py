"""Assignment: the zone plan and periodic re-optimization as request / solve /
apply equal the inline result; requests are engine-free picklable copies;
cheapest insertion of pending orders."""

from __future__ import annotations

import pickle

import orjson

from fleetstream.contract.settings import EngineSettings
from fleetstream.operators.state import ASSIGNED, DELIVERY
from fleetstream.operators.zone.assignment import solve_plan, solve_reopt
from fleetstream.operators.zone.engine import ZoneEngine
from zone_scene import T0, Feed, engine, order, pt, put_on, vehicle

SETTINGS = EngineSettings(routing_plan_solutions=40, plan_solve_allowance_s=0)
"""Plans applied inline (allowance 0); the solver-job path is tested in test_zone_jobs.py."""


def _depot_zone() -> ZoneEngine:
    f = Feed()
    eng = ZoneEngine("Z", SETTINGS)
    eng.process(f.shift("v1"))
    eng.process(f.shift("v2", fleet="3pl"))
    for i in range(7):
        eng.process(f.order(f"o{i}", T0 + 1 + i, pt(0.004 * i - 0.012, 0.003 * (i % 4)),
                            T0, T0 + 3 * 3600))
    return eng


def _twins(make):
    a = make()
    b = ZoneEngine.restore(a.snapshot(), a.settings)
    return a, b


def _bytes(out: list) -> bytes:
    return orjson.dumps(out)


def test_plan_request_solve_apply_equals_the_inline_plan() -> None:
    a, b = _twins(_depot_zone)
    now = T0 + 300
    out_a: list = []
    a.assignment.maybe_plan(now, ["e-sweep"], out_a)
    req = b.assignment.plan_request(now)
    assert req is not None and b.assignment.plan_request(now) is None   # the wave is marked planned
    blob = pickle.dumps(req)
    assert b"ZoneState" not in blob and b"ZoneEngine" not in blob
    req2 = pickle.loads(blob)
    assert [v.id for v in req2.vehicles] == ["v1", "v2"] and len(req2.orders) == 7
    assert req.vehicles[0] is not b.vehicles["v1"] and req.orders[0] is not b.orders["o0"]
    res = pickle.loads(pickle.dumps(solve_plan(req2)))
    out_b: list = []
    b.assignment.apply_plan(req, res, now, ["e-sweep"], out_b)
    kinds = [r["kind"] for _, r in out_a if "decision_id" in r]
    assert kinds and set(kinds) == {"assign"}       # one decision per vehicle given orders
    assert _bytes(out_a) == _bytes(out_b)
    assert pickle.loads(a.snapshot()) == pickle.loads(b.snapshot())
    assert sorted(o.status for o in b.orders.values()) == [ASSIGNED] * 7


def test_no_plan_before_the_wave_settles_nor_twice() -> None:
    eng = _depot_zone()
    assert eng.assignment.plan_request(T0 + 60) is None     # plan_settle_s after the last shift start
    assert eng.assignment.plan_request(T0 + 300) is not None
    assert eng.assignment.plan_request(T0 + 360) is None


def _active_zone() -> ZoneEngine:
    """Three active vans, each with a zig-zag route worth re-sequencing."""
    f = Feed()
    vs, os_ = [], []
    for k, vid in enumerate(("v1", "v2", "v3")):
        v = vehicle(f, vid, active=True, pos=pt(0.0, 0.01 * k))
        seq = [0.03, 0.0, 0.025, 0.005, 0.02, 0.01]   # back and forth along a line
        mine = [order(f, f"{vid}o{i}", pt(d, 0.01 * k), T0, T0 + 5 * 3600) for i, d in enumerate(seq)]
        put_on(v, mine)
        vs.append(v)
        os_ += mine
    eng = engine(vs, os_, SETTINGS)
    sw = SETTINGS.sweep_interval_s
    eng.state.next_reopt_ts = int(T0 // sw) - 100   # every bucket is due
    return eng


def test_reopt_request_solve_apply_equals_the_inline_reoptimization() -> None:
    a, b = _twins(_active_zone)
    now = T0 + 30
    out_a: list = []
    a.assignment.maybe_reoptimize(now, ["e-sweep"], out_a)
    req = b.assignment.reopt_request(now)
    req2 = pickle.loads(pickle.dumps(req))
    res = pickle.loads(pickle.dumps(solve_reopt(req2)))
    out_b: list = []
    b.assignment.apply_reopt(req, res, now, ["e-sweep"], out_b)
    kinds = [r["kind"] for _, r in out_a]
    assert kinds == ["reroute"] * 3
    assert _bytes(out_a) == _bytes(out_b)
    assert pickle.loads(a.snapshot()) == pickle.loads(b.snapshot())
    # Judged routes are not solved again while they and the conditions stay the same.
    b.state.next_reopt_ts -= 100
    again = b.assignment.reopt_request(now + 60)
    assert [j.skip for j in again.jobs] == [True] * 3
    b.assignment.apply_reopt(again, solve_reopt(again), now + 60, [], [])
    assert b.stats["reoptimize_skipped_unchanged"] == 3


def test_pending_orders_go_to_the_cheapest_feasible_insertion() -> None:
    f = Feed()
    near = vehicle(f, "v1", active=True, pos=pt(0.01, 0.0))
    far = vehicle(f, "v2", active=True, pos=pt(-0.05, -0.05))
    od = order(f, "o1", pt(0.012, 0.002), T0, T0 + 7200, kind="on_demand", pickup=pt(0.011, 0.0))
    closed = order(f, "o2", pt(0.0, 0.0), T0 - 7200, T0 - 60)
    eng = engine([near, far], [od, closed], SETTINGS)
    out: list = []
    eng.assignment.assign_pending(T0, ["e"], out)
    by_kind = {r.get("kind"): r for _, r in out}
    assert by_kind["assign"]["routes"].keys() == {"v1"}
    assert near.route == [("o1", "pickup"), ("o1", DELIVERY)] and od.vehicle_id == "v1"
    assert by_kind["unassigned"]["severity"] == "critical"
    assert by_kind["unassigned"]["details"] == {"reasons": [{"constraint": "window_closed"}]}
    assert [c.id for c in eng.assignment.candidates(od, T0)] == ["v1", "v2"]
