"""No wall clock in any routing result: the same plan twice, under CPU load, and
whatever the guard; a guard that cuts a search is reported, never silent."""

from __future__ import annotations

import multiprocessing as mp
import time
from dataclasses import replace

import pytest

from fleetstream.operators.routing import ortools_backend as ob
from fleetstream.operators.routing.checker import check_plan
from fleetstream.operators.routing.engine_adapter import RoutingConfig
from fleetstream.operators.routing.solver import DEFAULT_GUARD_S, Budget, plan, reroute
from fleetstream.operators.routing.strategy import ORToolsStrategy
from engine_gen import T0, busy, dist, scene, tt
from routing_gen import random_problem

BUDGET = Budget(solution_limit=100)
# (problem, plan keywords): the engine's way (hard windows first, no span cost) and
# soft windows with span costs (OR-Tools then schedules each route with an LP inside
# the finalizer, the step its lns_time_limit bounds).
CASES = {
    "engine": (lambda: random_problem(5, n_jobs=120, n_vehicles=8, pickups=0.2, soft=True),
               dict(hard_first=True, span_cost=False)),
    "soft-span": (lambda: random_problem(7, n_jobs=60, n_vehicles=5, pickups=0.2, soft=True), {}),
}


def fingerprint(res) -> tuple:
    return (sorted((vid, tuple(st)) for vid, st in res.routes.items()),
            sorted(u.job_id for u in res.unassigned), round(res.cost, 6), res.status,
            res.stats["solutions"])


@pytest.fixture(scope="module")
def reference():
    out = {}
    for name, (make, kw) in CASES.items():
        p = make()
        res = plan(p, BUDGET, **kw)
        assert not res.stats["guard_hit"]
        assert res.stats["solutions"] == BUDGET.solution_limit  # the count stopped it
        out[name] = (p, kw, fingerprint(res))
    return out


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_plan_twice(reference, case):
    p, kw, ref = reference[case]
    assert fingerprint(plan(p, BUDGET, **kw)) == ref


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_plan_under_cpu_load(reference, case):
    """A competing busy process (bounded: 60 s at most, stopped when done) slows the
    solve down; the plan does not change."""
    p, kw, ref = reference[case]
    ctx = mp.get_context("spawn")
    hogs = [ctx.Process(target=busy, args=(60.0,), daemon=True) for _ in range(2)]
    for h in hogs:
        h.start()
    try:
        time.sleep(0.5)  # let them spin up
        assert all(h.is_alive() for h in hogs)
        got = fingerprint(plan(p, BUDGET, **kw))
    finally:
        for h in hogs:
            h.terminate()
            h.join(10)
    assert got == ref


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_plan_whatever_the_guard(reference, case):
    p, kw, ref = reference[case]
    assert BUDGET.guard_s == DEFAULT_GUARD_S
    assert fingerprint(plan(p, replace(BUDGET, guard_s=1e7), **kw)) == ref
    # and the non-deterministic time budget is ignored by a deterministic budget
    assert fingerprint(plan(p, replace(BUDGET, time_limit_s=0.001), **kw)) == ref


def test_no_time_bounded_neighbourhood():
    """The search parameters: the CP-LNS operators (their completion is bounded by
    lns_time_limit) are off, and lns_time_limit never binds before the guard."""
    sp = ob.search_parameters(BUDGET.params())
    assert sp.time_limit.ToSeconds() == int(DEFAULT_GUARD_S)
    assert sp.lns_time_limit.ToMilliseconds() >= sp.time_limit.ToMilliseconds()
    from ortools.util import optional_boolean_pb2
    for op in ob.CP_LNS_OPERATORS:
        assert getattr(sp.local_search_operators, op) == optional_boolean_pb2.BOOL_FALSE, op
    assert sp.secondary_ls_time_limit_ratio == 0.0
    assert not sp.use_multi_armed_bandit_concatenate_operators
    assert sp.sat_parameters.num_workers == 1
    assert sp.solution_limit == BUDGET.solution_limit


def test_a_guard_hit_is_reported():
    """A 1 ms guard on a sizeable problem cuts the search: the plan says so (and is
    still a checked plan: jobs the cut search left out are inserted or explained)."""
    p = random_problem(11, n_jobs=200, n_vehicles=10, pickups=0.2, soft=True)
    res = plan(p, replace(BUDGET, guard_s=0.001), hard_first=True, span_cost=False)
    assert res.stats["guard_hit"] is True
    assert res.stats["solutions"] < BUDGET.solution_limit
    rep = check_plan(p, res.routes, [u.job_id for u in res.unassigned])
    assert rep.feasible, [v.text for v in rep.violations][:3]
    ok = plan(random_problem(11, n_jobs=20, n_vehicles=3), replace(BUDGET, solution_limit=20))
    assert ok.stats["guard_hit"] is False


def test_a_guard_hit_is_reported_by_an_ortools_reroute():
    p = random_problem(12, n_jobs=150, n_vehicles=1, pickups=0.0, soft=True)
    vid = p.vehicles[0].id
    cur = [(j.id, "delivery") for j in p.jobs]
    r = reroute(p, vid, cur, replace(BUDGET, guard_s=0.001), method="ortools")
    assert r.guard_hit is True
    assert reroute(p, vid, cur[:20], BUDGET, method="local").guard_hit is False


def test_the_strategy_uses_the_configured_guard():
    """``RoutingConfig.guard_s`` (the engine's routing_guard_s) reaches every solve;
    a tiny one is reported on the strategy's plan."""
    cfg = RoutingConfig(guard_s=0.001)
    assert cfg.guarded(cfg.plan_budget).guard_s == 0.001
    assert RoutingConfig().guarded(RoutingConfig().plan_budget).guard_s == DEFAULT_GUARD_S
    with pytest.raises(ValueError):
        RoutingConfig(guard_s=0.0)
    s = scene(3, n_depot=6, n_depot_orders=120)
    out = ORToolsStrategy(cfg).plan(s.depot, s.depot_orders, {}, T0, tt, dist)
    assert out is not None and out[0].stats["guard_hit"] is True
    out = ORToolsStrategy().plan(s.depot, s.depot_orders, {}, T0, tt, dist)
    assert out is not None and out[0].stats["guard_hit"] is False
