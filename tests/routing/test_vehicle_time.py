"""A vehicle with its own travel times (``Problem.vehicle_time``: a rider at its own
pace): every backend, the local search and the checker time its route with its own
matrix, and a problem without any is solved exactly as before."""

from __future__ import annotations


import pytest

from fleetstream.operators.routing.checker import check_plan, check_route
from fleetstream.operators.routing.model import Job, Problem, VehicleSpec
from fleetstream.operators.routing.solver import Budget, _with, plan, reroute
from routing_gen import random_problem

BUDGET = Budget(deterministic=True, solution_limit=50)


def _line(n: int = 6) -> tuple[list, list]:
    """Nodes on a line 0..n, 10 time units apart for a van; a rider takes 4x as long."""
    T = [[abs(i - j) * 10 for j in range(n + 1)] for i in range(n + 1)]
    R = [[x * 4 for x in row] for row in T]
    return T, R


def _problem(rider_times: bool) -> Problem:
    T, R = _line()
    vs = [VehicleSpec("van", start=0, end=0, shift_end=1000, vehicle_type="van"),
          VehicleSpec("bike", start=0, end=0, shift_end=1000, vehicle_type="bike")]
    # far jobs due early: a van reaches node 6 at 60, the rider at 240
    jobs = [Job(f"j{k}", node=k, window=(0, 100), service=1) for k in (1, 5, 6)]
    return Problem(time=T, dist=T, vehicles=vs, jobs=jobs, objective="distance",
                   vehicle_time={"bike": R} if rider_times else {})


def test_the_checker_times_a_route_with_the_vehicles_own_matrix() -> None:
    p = _problem(True)
    assert check_route(p, "van", [("j6", "delivery")]).feasible
    rep = check_route(p, "bike", [("j6", "delivery")])
    assert not rep.feasible and rep.starts[0] == 240
    assert check_route(_problem(False), "bike", [("j6", "delivery")]).feasible
    assert check_route(p, "bike", [("j1", "delivery")]).drive == 80   # out and back at 4x


@pytest.mark.parametrize("backend", ["ortools", "pyvrp"])
def test_each_backend_gives_the_rider_only_what_it_reaches(backend: str) -> None:
    p = _problem(True)
    res = plan(p, BUDGET, backend=backend)
    rep = check_plan(p, res.routes, [u.job_id for u in res.unassigned])
    assert rep.feasible, [v.text for v in rep.violations]
    bike = {s[0] for s in res.routes.get("bike", [])}
    assert bike <= {"j1"}                 # j5, j6 are out of the rider's reach by 100
    assert {s[0] for s in res.routes.get("van", [])} >= {"j5", "j6"}


def test_the_local_search_uses_the_riders_matrix() -> None:
    from fleetstream.operators.routing import local_search as ls
    p = _with(_problem(True), lateness_cost_per_unit=1.0)   # soft windows: lateness counts
    stops = [("j6", "delivery"), ("j1", "delivery")]
    # van: j6 at 60, j1 at 60 + 1 + 50 = 111 (11 late); rider: 240 and 441 (140 + 341)
    assert ls.RouteEval(p, "van").lateness(stops) == 11
    assert ls.RouteEval(p, "bike").lateness(stops) == 140 + 341
    r = reroute(p, "bike", stops, BUDGET, method="local")
    assert r.sequence[0] == ("j1", "delivery")             # the near stop first for the rider
    assert check_route(p, "bike", r.sequence).lateness == pytest.approx(r.lateness_after)


def test_a_problem_without_own_times_plans_as_before() -> None:
    p = random_problem(3, n_jobs=20, soft=False)
    same = _with(p, vehicle_time={v.id: p.time for v in p.vehicles[:2]})
    a, b = plan(p, BUDGET), plan(same, BUDGET)
    assert a.routes == b.routes and abs(a.cost - b.cost) < 1e-9


def test_a_wrong_shape_is_refused() -> None:
    T, R = _line()
    with pytest.raises(ValueError, match="shape"):
        Problem(time=T, dist=T, vehicles=[VehicleSpec("v", 0, 0, shift_end=10)], jobs=[],
                vehicle_time={"v": [row[:-1] for row in R]})
