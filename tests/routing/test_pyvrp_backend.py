"""The PyVRP backend: the backend rule, exact encodings (static constraints,
pickups and deliveries, capacities, scaling), checker agreement on every plan,
determinism (twice, and under a busy competing process), and the reported guard."""

from __future__ import annotations

import multiprocessing as mp
from dataclasses import replace

import pytest

from fleetstream.operators.routing import pyvrp_backend as pb
from fleetstream.operators.routing.checker import check_plan
from fleetstream.operators.routing.model import Break, Job, Problem, VehicleSpec
from fleetstream.operators.routing.solver import Budget, _with, choose_backend, plan
from routing_gen import random_problem

BUDGET = Budget(iterations=400, solution_limit=100)


def expressible(seed: int, **kw) -> Problem:
    """A seeded delivery day PyVRP can express: skills, vehicle types, access, fleet
    rules, pickups, capacities, maximum durations, hard windows; no fairness term, no
    per-stop cost."""
    p = random_problem(seed, soft=False, **kw)
    vs = [replace(v, cost_per_stop=0.0) for v in p.vehicles]
    return _with(p, vehicles=vs, fairness_cost_per_stop=0.0)


def test_rule_pyvrp_where_exact_ortools_otherwise():
    p = expressible(0)
    assert choose_backend(p) == ("pyvrp", [])
    assert choose_backend(_with(p, fairness_cost_per_stop=1.0))[1] == ["fairness"]
    soft = _with(p, lateness_cost_per_unit=0.01)
    assert choose_backend(soft) == ("ortools", ["soft_time_windows"])
    assert choose_backend(soft, hard_first=True) == ("pyvrp", [])  # hard windows, then late insertion
    brk = _with(p, vehicles=[replace(p.vehicles[0], break_=Break(100, 200, 30))] + p.vehicles[1:])
    assert choose_backend(brk) == ("ortools", ["break"])
    gig = _with(p, vehicles=[replace(p.vehicles[0], cost_per_stop=3.2)] + p.vehicles[1:])
    assert choose_backend(gig)[1] == ["cost_per_stop"]
    with pytest.raises(ValueError, match="break"):
        plan(brk, BUDGET, backend="pyvrp")
    assert plan(brk, BUDGET, backend="auto").stats["backend"] == "ortools"


@pytest.mark.parametrize("seed", range(6))
def test_every_plan_passes_the_checker(seed):
    p = expressible(seed, n_jobs=25, n_vehicles=4, pickups=0.3, tight=seed % 2 == 1)
    res = plan(p, BUDGET, backend="pyvrp")
    assert res.stats["backend"] == "pyvrp" and not res.stats["guard_hit"]
    rep = check_plan(p, res.routes, [u.job_id for u in res.unassigned])
    assert rep.feasible, [v.text for v in rep.violations][:3]
    assert abs(rep.cost - res.cost) < 1e-6
    served = {s[0] for st in res.routes.values() for s in st}
    assert served | {u.job_id for u in res.unassigned} == {j.id for j in p.jobs}


@pytest.mark.parametrize("seed", range(3))
def test_soft_windows_hard_first_pass_the_checker(seed):
    p = random_problem(seed, n_jobs=25, soft=True, tight=True)
    p = _with(p, vehicles=[replace(v, cost_per_stop=0.0) for v in p.vehicles], fairness_cost_per_stop=0.0)
    res = plan(p, BUDGET, hard_first=True, backend="auto")
    assert res.stats["backend"] == "pyvrp"
    rep = check_plan(p, res.routes, [u.job_id for u in res.unassigned])
    assert rep.feasible, [v.text for v in rep.violations][:3]


def line(n_jobs: int = 4) -> tuple[list, list]:
    pts = list(range(n_jobs + 1))
    m = [[abs(a - b) * 10 for b in pts] for a in pts]
    return m, m


def test_static_constraints_are_exact():
    """A job needing a skill only one vehicle has, and one too big for the other."""
    T, D = line(4)
    vs = [VehicleSpec("a", 0, 0, shift_end=1000, capacity={"weight_kg": 10}, cost_per_km=1.0),
          VehicleSpec("b", 0, 0, shift_end=1000, capacity={"weight_kg": 100}, skills=("age_check",),
                      cost_per_km=5.0, fixed_cost=50.0)]
    js = [Job("easy", 1, size={"weight_kg": 1}), Job("skill", 2, skills=("age_check",)),
          Job("heavy", 3, size={"weight_kg": 50}), Job("nobody", 4, skills=("crane",), drop_penalty=5.0)]
    p = Problem(T, D, vs, js, km_per_unit=1.0, objective="cost")
    res = plan(p, BUDGET, backend="pyvrp")
    where = {s[0]: vid for vid, st in res.routes.items() for s in st}
    assert where["skill"] == "b" and where["heavy"] == "b" and "nobody" not in where
    assert [u.job_id for u in res.unassigned] == ["nobody"]
    assert res.unassigned[0].reasons[0]["constraint"] == "skills"
    assert check_plan(p, res.routes, ["nobody"]).feasible


def test_pickup_before_delivery_same_vehicle_and_capacity():
    T, D = line(4)
    vs = [VehicleSpec("v", 0, 0, shift_end=1000, capacity={"count": 1})]
    js = [Job("p1", 2, pickup=1), Job("p2", 4, pickup=3)]
    p = Problem(T, D, vs, js, km_per_unit=1.0, objective="distance")
    res = plan(p, BUDGET, backend="pyvrp")
    assert res.routes["v"] == [("p1", "pickup"), ("p1", "delivery"), ("p2", "pickup"), ("p2", "delivery")]
    assert check_plan(p, res.routes).feasible


def test_fractional_data_is_scaled_conservatively():
    """Times with four decimals: scale 1000, not exact; travel rounded up, window ends
    down, so PyVRP never plans a stop the checker finds late (rounding to nearest
    would put b after a: 1000 + 1000 <= 2001, really 2.0008 > 2.0007)."""
    T = [[0, 1.0004, 2.0004], [1.0004, 0, 1.0004], [2.0004, 1.0004, 0]]
    vs = [VehicleSpec("v", 0, 0, shift_end=100)]
    js = [Job("a", 1, window=(0, 1.5)), Job("b", 2, window=(0, 2.0007), drop_penalty=10.0)]
    p = Problem(T, T, vs, js, km_per_unit=1.0, objective="distance")
    assert pb.scales(p) == (1000, 1000, False)
    res = plan(p, BUDGET, backend="pyvrp")
    assert check_plan(p, res.routes, [u.job_id for u in res.unassigned]).feasible
    assert res.routes["v"][:1] == [("a", "delivery")]


def solve_twice(p):
    a = plan(p, BUDGET, backend="pyvrp")
    b = plan(p, BUDGET, backend="pyvrp")
    return a, b


def _busy(stop):  # pragma: no cover - runs in a child process
    x = 0
    while not stop.is_set():
        x = (x * 1103515245 + 12345) % 2**31


def test_deterministic_twice_and_under_cpu_load():
    p = expressible(4, n_jobs=30, n_vehicles=4, pickups=0.2)
    a, b = solve_twice(p)
    assert a.routes == b.routes and a.cost == b.cost and a.stats["solutions"] == b.stats["solutions"] == 400
    stop = mp.Event()
    procs = [mp.Process(target=_busy, args=(stop,), daemon=True) for _ in range(2)]
    for q in procs:
        q.start()
    try:
        c = plan(p, BUDGET, backend="pyvrp")
    finally:
        stop.set()
        for q in procs:
            q.join(5)
    assert c.routes == a.routes and c.cost == a.cost
    other = plan(p, replace(BUDGET, seed=1), backend="pyvrp")  # the seed is an input
    assert check_plan(p, other.routes, [u.job_id for u in other.unassigned]).feasible


def test_guard_is_reported_never_silent():
    p = expressible(1, n_jobs=30)
    res = pb.solve(p, pb.PyVRPParams(iterations=10**9, guard_s=0.2))
    assert res.guard_hit and res.solutions < 10**9
    full = plan(p, Budget(iterations=10**9, guard_s=0.2), backend="pyvrp")
    assert full.stats["guard_hit"] is True
    assert check_plan(p, full.routes, [u.job_id for u in full.unassigned]).feasible
