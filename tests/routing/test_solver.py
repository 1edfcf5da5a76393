"""The entry points: every emitted plan passes the independent checker, re-route and
redispatch behave (gain threshold, "kept"), results are deterministic."""

from __future__ import annotations

import os
import random

import pytest

from fleetstream.operators.routing.checker import check_plan, check_route
from fleetstream.operators.routing.io import problem_from_dict, read_bks, read_solomon
from fleetstream.operators.routing.local_search import RouteEval
from fleetstream.operators.routing.model import Job, Problem, VehicleSpec
from fleetstream.operators.routing.ortools_backend import SolverParams, solve
from fleetstream.operators.routing.solver import Budget, plan, redispatch, reroute
from routing_gen import random_problem

FAST = Budget(time_limit_s=20.0, solution_limit=40)


@pytest.mark.parametrize("seed", range(8))
def test_every_plan_passes_the_independent_checker(seed):
    """Random instances (pickups, skills, access, fleet rules, capacities, max durations,
    breaks on odd seeds, hard windows on every third): the plan has no violation, and
    every job is either routed or explained with ranked reasons."""
    rng = random.Random(seed)
    p = random_problem(seed, n_jobs=rng.randint(8, 25), n_vehicles=rng.randint(2, 4),
                       pickups=0.3, soft=seed % 3 != 0, breaks=seed % 2 == 1, tight=seed % 4 == 0)
    res = plan(p, FAST)
    rep = check_plan(p, res.routes, [u.job_id for u in res.unassigned])
    assert rep.feasible, [v.text for v in rep.violations]
    routed = {s[0] for stops in res.routes.values() for s in stops}
    assert routed | {u.job_id for u in res.unassigned} == {j.id for j in p.jobs}
    for u in res.unassigned:
        assert u.reasons and sum(r["vehicles"] for r in u.reasons) == len(p.vehicles)
        assert set(u.per_vehicle) == {v.id for v in p.vehicles}
    assert res.cost == pytest.approx(rep.cost)


def test_hard_first_plan_serves_late_rather_than_dropping():
    """With soft windows, ``hard_first`` plans on time with OR-Tools, then inserts what
    is left late: nothing that can be served is dropped, and the checker agrees."""
    p = random_problem(5, n_jobs=30, n_vehicles=2, pickups=0.0, soft=True, tight=True)
    res = plan(p, FAST, hard_first=True, span_cost=False)
    rep = check_plan(p, res.routes, [u.job_id for u in res.unassigned])
    assert rep.feasible
    for u in res.unassigned:  # only jobs no vehicle can carry at all
        assert all(c not in ("cost", "time_window") for c in u.per_vehicle.values())


def test_an_impossible_job_is_dropped_with_its_reason():
    """A job needing a skill nobody has is left out (not a failed solve), reason skills."""
    p = random_problem(1, n_jobs=6, n_vehicles=2, pickups=0.0)
    p.jobs[0].skills = ("hazmat_level_9",)
    p = Problem(p.time, p.dist, p.vehicles, p.jobs, lateness_cost_per_unit=p.lateness_cost_per_unit)
    res = plan(p, FAST)
    u = {x.job_id: x for x in res.unassigned}[p.jobs[0].id]
    assert u.reasons[0]["constraint"] == "skills" and u.reasons[0]["vehicles"] == 2
    assert check_plan(p, res.routes, [x.job_id for x in res.unassigned]).feasible


def test_plan_is_deterministic_for_a_solution_limit():
    """Same problem, same budget (solution limit, no wall-clock cut): same routes."""
    p = random_problem(11, n_jobs=25, n_vehicles=3)
    a = plan(p, FAST)
    b = plan(p, FAST)
    assert a.routes == b.routes and a.cost == b.cost


# C101 and its best-known solution ship with the tests (data/solomon/README.md), so this
# runs on a clean clone; benchmarks/solomon.py reads all 56 from SOLOMON_DIR.
SOLOMON_SHIPPED = os.path.join(os.path.dirname(__file__), "data", "solomon")
SOLOMON_C101 = os.path.join(SOLOMON_SHIPPED, "instances", "C101.txt")


def test_solomon_reader_and_checker_on_c101():
    """C101: 100 customers, 25 vehicles of 200; the best-known solution file itself
    passes the checker at its published distance, and our solve is feasible."""
    p = read_solomon(SOLOMON_C101)
    assert (len(p.jobs), len(p.vehicles), p.vehicles[0].capacity) == (100, 25, {"demand": 200.0})
    assert p.job("1").window == (912.0, 967.0) and p.job("1").service == 90.0
    bks = read_bks(os.path.join(SOLOMON_SHIPPED, "bks_solomon_cvrplib.csv"))["C101"]
    routes = {}
    with open(os.path.join(SOLOMON_SHIPPED, "bks_solutions", "C101.sol")) as f:
        for i, line in enumerate(x for x in f if x.startswith("Route")):
            routes[p.vehicles[i].id] = [(c, "delivery") for c in line.split(":")[1].split()]
    rep = check_plan(p, routes)
    assert rep.feasible and rep.distance == pytest.approx(bks["distance"], abs=0.05)
    res = solve(p, SolverParams(time_limit_s=5.0, solution_limit=50, scale=10.0, first_solution="savings"))
    rep = check_plan(p, res.routes)
    assert rep.feasible and rep.distance >= bks["distance"] - 0.05


def test_json_instance_format():
    """The JSON format: coordinates or matrices, vehicles with costs and breaks, jobs
    with pickups; the solve passes the checker."""
    d = {"format": "fleetstream-routing/1", "speed_kmh": 20, "lateness_cost_per_unit": 0.01,
         "vehicles": [{"id": "van-1", "start": [52.52, 13.40], "start_time": 0, "shift_end": 20000,
                       "capacity": {"weight_kg": 100, "count": 10}, "cost_per_km": 0.35,
                       "cost_per_hour": 28, "break": {"earliest": 7200, "latest": 9000, "duration": 900}}],
         "jobs": [{"id": "a", "location": [52.53, 13.41], "window": [0, 3600], "service": 120,
                   "size": {"weight_kg": 5}},
                  {"id": "b", "location": [52.51, 13.42], "pickup": [52.515, 13.405],
                   "window": [0, 7200], "service": 60, "drop_penalty": 100}]}
    p = problem_from_dict(d)
    assert p.vehicle("van-1").break_.duration == 900 and p.job("b").has_pickup
    res = plan(p, FAST)
    assert check_plan(p, res.routes, [u.job_id for u in res.unassigned]).feasible
    assert {s[0] for s in res.routes["van-1"]} == {"a", "b"}
    with pytest.raises(ValueError):
        problem_from_dict({"format": "other"})


# ---------------------------------------------------------------- reroute / redispatch

def line_problem(n_vehicles: int = 2, lateness: float = 1.0) -> Problem:
    """Nodes on a line 0..10 (60 s, 500 m apart); vehicles start at 0 and end at 0."""
    n = 11
    T = [[abs(i - j) * 60 for j in range(n)] for i in range(n)]
    D = [[abs(i - j) * 500 for j in range(n)] for i in range(n)]
    vs = [VehicleSpec(f"v{k}", 0, 0, shift_end=20000, cost_per_km=0.5, capacity={"count": 20})
          for k in range(n_vehicles)]
    jobs = [Job(f"j{i}", i, window=(0, 400 + 40 * i), service=30) for i in range(1, n)]
    return Problem(T, D, vs, jobs, lateness_cost_per_unit=lateness)


def test_reroute_fixes_a_scrambled_sequence_and_keeps_a_good_one():
    """A zig-zag sequence is re-sequenced to less lateness and cost; a sequence that is
    already optimal comes back unchanged (``changed`` False)."""
    p = line_problem(1)
    scrambled = [(f"j{i}", "delivery") for i in (9, 1, 8, 2, 7, 3, 6, 4, 5, 10)]
    r = reroute(p, "v0", scrambled, Budget())
    assert r.changed and r.cost_after < r.cost_before and r.lateness_after < r.lateness_before
    assert check_route(p, "v0", r.sequence).feasible
    good = [(f"j{i}", "delivery") for i in range(1, 11)]
    r2 = reroute(p, "v0", good, Budget())
    assert not r2.changed and r2.sequence == good


def test_reroute_local_and_ortools_agree_on_feasibility():
    """Both methods return a permutation of the same stops, never worse than the start."""
    p = line_problem(1)
    seq = [(f"j{i}", "delivery") for i in (5, 3, 9, 1, 7, 2, 10, 4, 8, 6)]
    for method in ("local", "ortools"):
        r = reroute(p, "v0", seq, Budget(solution_limit=30), method=method)
        assert sorted(r.sequence) == sorted(seq)
        assert r.cost_after <= r.cost_before


def test_redispatch_moves_when_the_gain_beats_the_change_cost():
    """v0 carries everything and runs late; v1 is idle: moving the far jobs pays."""
    p = line_problem(2, lateness=1.0)
    cur = {"v0": [(f"j{i}", "delivery") for i in range(1, 11)], "v1": []}
    res = redispatch(p, "v0", ["j9", "j10"], cur, change_cost=1.0)
    assert res.action == "move" and {m.job_id for m in res.moves} == {"j9", "j10"}
    assert all(m.to_vehicle == "v1" for m in res.moves)
    assert res.gain > 1.0
    rep = check_plan(p, {**cur, **res.routes})
    assert rep.feasible
    ev0 = RouteEval(p, "v0")
    assert ev0.cost(res.routes["v0"]) < ev0.cost(cur["v0"])


def test_redispatch_keeps_the_plan_when_the_gain_is_below_the_threshold():
    """Same situation, prohibitive change cost: nothing moves and the explanation says
    "kept, gain X below threshold Y" with the numbers."""
    p = line_problem(2, lateness=1.0)
    cur = {"v0": [(f"j{i}", "delivery") for i in range(1, 11)], "v1": []}
    res = redispatch(p, "v0", ["j10"], cur, change_cost=1e6)
    assert res.action == "kept" and not res.routes
    assert res.explanation.startswith("kept, gain ") and "below threshold 1000000.00" in res.explanation
    assert res.alternatives[0]["candidates"][0]["vehicle"] == "v1"


def test_redispatch_reports_why_no_vehicle_can_take_a_job():
    """The only other vehicle is a gig bike: a high-value job cannot go there."""
    p = line_problem(1)
    bike = VehicleSpec("bike", 0, 0, shift_end=20000, fleet_type="gig", vehicle_type="bike")
    p = Problem(p.time, p.dist, p.vehicles + [bike], p.jobs, lateness_cost_per_unit=1.0)
    p.job("j10").value = 2000.0
    res = redispatch(p, "v0", ["j10"], {"v0": [("j10", "delivery")]}, change_cost=0.0)
    assert res.action == "none"
    assert res.unmovable[0].reasons[0]["constraint"] == "fleet_rule"


def test_redispatch_and_reroute_are_deterministic():
    """Same inputs, same outputs (no clock, no unseeded randomness)."""
    p = random_problem(3, n_jobs=20, n_vehicles=3)
    base = plan(p, FAST)
    src = max(base.routes, key=lambda v: len(base.routes[v]))
    jobs = [s[0] for s in base.routes[src] if s[1] == "delivery"][:2]
    a = redispatch(p, src, jobs, base.routes, 0.5)
    b = redispatch(p, src, jobs, base.routes, 0.5)
    assert (a.action, a.routes, a.gain) == (b.action, b.routes, b.gain)
    r1 = reroute(p, src, list(reversed(base.routes[src])))
    r2 = reroute(p, src, list(reversed(base.routes[src])))
    assert r1.sequence == r2.sequence
