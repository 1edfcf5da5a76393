"""Plan stability (operators/zone/stability.py): the frozen head of a route keeps its
order through periodic re-optimization (inline and as a solver job) and late-risk
re-routes (but for the stops at risk); the rest is still optimized; on by default
(1800 s / 1 stop)."""

from __future__ import annotations

import os
import pickle
import sys

import pytest

from fleetstream.contract.settings import EngineSettings
from fleetstream.operators.state import DELIVERY, PICKUP
from fleetstream.operators.zone.assignment import solve_reopt
from fleetstream.operators.zone.response import reroute_sequence, risk_reroute_head
from fleetstream.operators.zone.stability import (frozen_count, head_for_risk, keep_head,
                                                  restart_after)

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "zone"))
from zone_scene import T0, Feed, engine, order, pt, put_on, vehicle  # noqa: E402

ZIGZAG = [0.03, 0.0, 0.025, 0.005, 0.02, 0.01]   # back and forth along a line


def _zone(**kw):
    """One active van on a zig-zag route worth re-sequencing (no frozen head unless
    ``kw`` asks for one)."""
    kw = {"plan_frozen_s": 0.0, "plan_frozen_stops": 0, **kw}
    s = EngineSettings(routing_plan_solutions=40, plan_solve_allowance_s=0, **kw)
    f = Feed()
    v = vehicle(f, "v1", active=True, pos=pt(0.0, 0.0))
    mine = [order(f, f"o{i}", pt(d, 0.0), T0, T0 + 5 * 3600) for i, d in enumerate(ZIGZAG)]
    put_on(v, mine)
    eng = engine([v], mine, s)
    eng.state.next_reopt_ts = int(T0 // s.sweep_interval_s) - 100   # every bucket is due
    return eng, v


def _reopt(eng) -> list:
    out: list = []
    eng.assignment.maybe_reoptimize(T0 + 30, ["e-sweep"], out)
    return [r for _, r in out if r.get("kind") == "reroute"]


def test_without_a_frozen_horizon_the_reoptimization_reorders_the_head() -> None:
    # what the frozen horizon prevents (so the next test can fail)
    eng, v = _zone()
    head = [tuple(s) for s in v.route[:2]]
    assert len(_reopt(eng)) == 1
    assert [tuple(s) for s in v.route[:2]] != head


def test_the_frozen_stops_keep_their_order_and_the_rest_is_optimized() -> None:
    eng, v = _zone(plan_frozen_stops=2)
    before = [tuple(s) for s in v.route]
    assert len(_reopt(eng)) == 1
    after = [tuple(s) for s in v.route]
    assert after[:2] == before[:2] and sorted(after) == sorted(before) and after != before


def test_a_horizon_in_seconds_freezes_the_stops_planned_within_it() -> None:
    eng, v = _zone(plan_frozen_s=1.0)
    tt = eng.world.travel.tt
    assert frozen_count(v, eng.state.orders, T0, tt, 0.0, 0) == 0
    assert frozen_count(v, eng.state.orders, T0, tt, 0.0, 2) == 2
    assert frozen_count(v, eng.state.orders, T0, tt, 1e6, 0) == len(v.route)
    k = frozen_count(v, eng.state.orders, T0, tt, 1800.0, 0)
    assert 0 < k < len(v.route)
    # a route frozen but for one stop is not re-sequenced at all
    eng2, v2 = _zone(plan_frozen_s=1e6)
    before = [tuple(s) for s in v2.route]
    assert _reopt(eng2) == [] and [tuple(s) for s in v2.route] == before
    assert eng2.state.stats["reopt_frozen"] == 1


def test_the_solver_job_path_equals_the_inline_one_with_a_frozen_head() -> None:
    a, va = _zone(plan_frozen_stops=3)
    b, vb = _zone(plan_frozen_stops=3)
    out_a = _reopt(a)
    req = b.assignment.reopt_request(T0 + 30)
    job = req.jobs[0]
    assert job.frozen == 2 and job.keep_first and job.start_ts > T0 + 30
    assert [tuple(s) for s in job.vehicle.route] == [tuple(s) for s in vb.route[2:]]
    res = pickle.loads(pickle.dumps(solve_reopt(pickle.loads(pickle.dumps(req)))))
    out_b: list = []
    b.assignment.apply_reopt(req, res, T0 + 30, ["e-sweep"], out_b)
    assert [r["routes"] for r in out_a] == [r["routes"] for _, r in out_b if r.get("kind") == "reroute"]
    assert va.route == vb.route


def test_a_late_risk_reroute_keeps_the_frozen_head() -> None:
    eng, v = _zone()
    before = [tuple(s) for s in v.route]
    st, strat = eng.state, eng.response.strategy
    free, _ = reroute_sequence(v, st.orders, T0, eng.world.travel, strat, 1.0)
    assert free is not None and free[:2] != before[:2]
    seq, _ = reroute_sequence(v, st.orders, T0, eng.world.travel, strat, 1.0, (0.0, 2))
    assert seq is not None and seq[:2] == before[:2] and sorted(seq) == sorted(before)
    nothing, how = reroute_sequence(v, st.orders, T0, eng.world.travel, strat, 1.0, (1e6, 0))
    assert nothing is None and how == "frozen"


def test_a_risk_reroute_keeps_the_head_but_for_the_stops_at_risk() -> None:
    a, b, c, d = ("a", DELIVERY), ("b", DELIVERY), ("c", DELIVERY), ("d", DELIVERY)
    r = ("r", DELIVERY)
    # the stop at risk jumps the queue; a stop that is neither goes behind the head
    assert head_for_risk([c, a, r, b, d], [a, b], {"r"}) == [a, r, b, c, d]
    # the head's own order comes back, the stop at risk keeps its place among them
    assert head_for_risk([b, r, a, c], [a, b], {"r"}) == [a, r, b, c]
    # a head stop at risk moves freely
    assert head_for_risk([c, b, a], [a, b], {"a"}) == [b, c, a]
    assert head_for_risk([c, a], [], {"r"}) == [c, a]
    # never a pickup after its delivery: the re-route as it was
    pk, dl = ("p", PICKUP), ("p", DELIVERY)
    assert head_for_risk([pk, dl, b, a], [a, b], set()) == [a, b, pk, dl]
    assert head_for_risk([pk, a, dl], [a, dl], set()) == [pk, a, dl]


def test_the_settings_choose_which_head_a_risk_reroute_keeps() -> None:
    from fleetstream.operators.zone.stability import (exception_frozen_settings,
                                                      risk_head_settings)
    for mode, bound, kept in (("at_risk", (0.0, 0), (1800.0, 1)), ("free", (0.0, 0), (0.0, 0)),
                              ("bound", (1800.0, 1), (0.0, 0))):
        s = EngineSettings(plan_frozen_exceptions=mode)
        assert (exception_frozen_settings(s), risk_head_settings(s)) == (bound, kept), mode


def test_the_late_risk_response_keeps_the_plans_head_with_the_settings() -> None:
    eng, v = _zone()
    before = [tuple(s) for s in v.route]
    st, tt = eng.state, eng.world.travel.tt
    free, _ = reroute_sequence(v, st.orders, T0, eng.world.travel, eng.response.strategy, 1.0)
    risky = free[0][0]
    assert free[:2] != before[:2] and risky != before[0][0]
    kept = risk_reroute_head(v, free, st.orders, T0, tt, (0.0, 2), [risky])
    head = [s for s in before[:2] if s[0] != risky]
    assert [s for s in kept if s in head] == head and sorted(kept) == sorted(before)
    assert kept.index(head[-1]) <= len(head) and kept[0] in head + [(risky, DELIVERY)]
    assert risk_reroute_head(v, free, st.orders, T0, tt, (0.0, 0), [risky]) == free
    assert risk_reroute_head(v, None, st.orders, T0, tt, (0.0, 2), [risky]) is None


def test_a_restart_after_the_head_sees_its_pickups_on_board() -> None:
    f = Feed()
    v = vehicle(f, "v1", active=True)
    od = order(f, "d1", pt(0.01, 0.0), T0, T0 + 5 * 3600, kind="on_demand", pickup=pt(0.005, 0.0))
    p2 = order(f, "o2", pt(0.02, 0.0), T0, T0 + 5 * 3600)
    p3 = order(f, "o3", pt(0.03, 0.0), T0, T0 + 5 * 3600)
    put_on(v, [od, p2, p3], [("d1", PICKUP), ("o2", DELIVERY), ("d1", DELIVERY), ("o3", DELIVERY)])
    eng = engine([v], [od, p2, p3])
    vc, seen, t0 = restart_after(v, eng.state.orders, 2, T0, eng.world.travel.tt)
    assert vc.route == [("o2", DELIVERY), ("d1", DELIVERY), ("o3", DELIVERY)]
    assert "d1" in vc.onboard and seen["d1"].status == "onboard"
    assert eng.state.orders["d1"].status != "onboard" and v.route[0] == ("d1", PICKUP)   # copies
    assert t0 > T0


def test_keep_head() -> None:
    a, b, c, d = ("a", DELIVERY), ("b", DELIVERY), ("c", DELIVERY), ("d", DELIVERY)
    assert keep_head([c, a, b, d], [a, b]) == [a, b, c, d]
    assert keep_head([a, b, d, c], [a, b]) == [a, b, d, c]
    assert keep_head([c, d], []) == [c, d]


def _insert_near_start(**kw) -> list:
    """A van on a straight route away from its position; a new on-demand order picked
    up and delivered right next to it: cheapest insertion puts it first, unless the
    head is frozen."""
    s = EngineSettings(**kw)
    f = Feed()
    v = vehicle(f, "v1", active=True, pos=pt(0.0, 0.0))
    mine = [order(f, f"o{i}", pt(0.01 * (i + 1), 0.0), T0, T0 + 5 * 3600) for i in range(4)]
    put_on(v, mine)
    new = order(f, "new", pt(0.001, 0.0), T0, T0 + 5 * 3600, kind="on_demand",
                pickup=pt(0.0005, 0.0))
    eng = engine([v], mine + [new], s)
    out: list = []
    eng.assignment.assign_pending(T0 + 30, ["e-sweep"], out)
    return [tuple(x) for x in eng.state.vehicles["v1"].route]


def test_without_a_frozen_head_a_new_order_goes_first() -> None:
    assert _insert_near_start(plan_frozen_s=0, plan_frozen_stops=0)[0] == ("new", PICKUP)


def test_the_frozen_head_is_on_by_default() -> None:
    """Half an hour and at least one stop (docs/models-intervals.md, "The frozen
    horizon"): the new order waits behind the first stop."""
    s = EngineSettings()
    assert (s.plan_frozen_s, s.plan_frozen_stops, s.plan_frozen_exceptions) == (1800.0, 1,
                                                                                "at_risk")
    with pytest.raises(ValueError, match="plan_frozen_exceptions must be one of"):
        EngineSettings(plan_frozen_exceptions="sometimes")
    route = _insert_near_start()
    assert route[0] == ("o0", DELIVERY) and route.index(("new", PICKUP)) >= 1, route


def test_insertion_respects_the_frozen_head() -> None:
    route = _insert_near_start(plan_frozen_stops=2)
    assert route[:2] == [("o0", DELIVERY), ("o1", DELIVERY)], route
    assert route.index(("new", PICKUP)) >= 2, route


def test_retries_replies_and_hand_overs_respect_the_frozen_head() -> None:
    """Recovery's places (retried attempts, customer replies, risky moves) and its
    hand-over insertion start after the frozen head; without one they may go first."""
    for frozen, first in ((0, 0), (2, 2)):
        eng, v = _zone(plan_frozen_stops=frozen)
        rec = eng.lifecycle.recovery
        o = eng.state.orders["o0"]
        base = [s for s in v.route if s[0] != "o0"]
        places, _ = rec.places(o, v, T0 + 30, base)
        assert places and min(k for k, *_ in places) == first, (frozen, places[0][0])
        t = rec.head_timing(v, T0 + 30)
        assert (t.min_pos if t is not None else 0) == frozen


def test_exception_moves_bind_the_head_only_when_asked() -> None:
    """The failure-risk move of a risky delivery (``places(..., exception=True)``) may go
    in front of the frozen head unless ``plan_frozen_exceptions`` is ``bound``."""
    for binds, first in (("at_risk", 0), ("free", 0), ("bound", 2)):
        eng, v = _zone(plan_frozen_stops=2, plan_frozen_exceptions=binds)
        rec = eng.lifecycle.recovery
        base = [s for s in v.route if s[0] != "o0"]
        places, _ = rec.places(eng.state.orders["o0"], v, T0 + 30, base, exception=True)
        assert places and min(k for k, *_ in places) == first, (binds, places[0][0])
