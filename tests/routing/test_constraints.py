"""Each named constraint can reject, and says why (static checks and the checker)."""

from __future__ import annotations

import pytest

from fleetstream.operators.routing.checker import check_plan, check_route
from fleetstream.operators.routing.constraints import (C_ACCESS, C_BREAK, C_COUNT, C_DEPOT, C_DURATION,
                                           C_FLEET, C_FLEET_RULE, C_MISSING, C_ONBOARD, C_PAIRING,
                                           C_SHIFT, C_SKILLS, C_VTYPE, C_WINDOW, static_reasons)
from fleetstream.operators.routing.model import Break, Job, Problem, VehicleSpec

# A line: node 0 is the depot, node k is k*100 m and k*60 s away from it.
N = 6
LINE_T = [[abs(i - j) * 60 for j in range(N)] for i in range(N)]
LINE_D = [[abs(i - j) * 100 for j in range(N)] for i in range(N)]


def problem(vehicles, jobs, **kw) -> Problem:
    return Problem(time=LINE_T, dist=LINE_D, vehicles=vehicles, jobs=jobs, **kw)


def van(**kw) -> VehicleSpec:
    base = dict(id="van", start=0, end=0, shift_end=10_000, vehicle_type="van", fleet_type="captive",
                capacity={"weight_kg": 100, "volume_l": 500, "count": 10}, skills=("heavy_lift",))
    base.update(kw)
    return VehicleSpec(**base)


def names(reasons) -> list[str]:
    return [r.constraint for r in reasons]


@pytest.mark.parametrize("job,vehicle,constraint", [
    (Job("j", 1, skills=("hazmat",)), van(), C_SKILLS),
    (Job("j", 1, vehicle_types=("bike",)), van(), C_VTYPE),
    (Job("j", 1, max_vehicle_size="car"), van(), C_ACCESS),
    (Job("j", 1, fleet_types=("3pl",)), van(), C_FLEET),
    (Job("j", 1, value=900.0), van(fleet_type="gig"), C_FLEET_RULE),
    (Job("j", 1, age_check=True), van(fleet_type="gig"), C_FLEET_RULE),
    (Job("j", 1, size={"weight_kg": 150}), van(), "capacity_weight_kg"),
    (Job("j", 1, size={"volume_l": 600}), van(), "capacity_volume_l"),
    (Job("j", 1, onboard_vehicle="other"), van(), C_ONBOARD),
    (Job("j", 1, depot_loaded=True), van(at_depot=False), C_DEPOT),
])
def test_each_static_constraint_rejects_with_its_name(job, vehicle, constraint):
    """The static check names the constraint, with a sentence naming the vehicle."""
    reasons = static_reasons(job, vehicle)
    assert names(reasons) == [constraint]
    assert vehicle.id in reasons[0].text or constraint in (C_FLEET_RULE, C_ACCESS, C_ONBOARD)
    p = problem([vehicle], [job])
    rep = check_plan(p, {vehicle.id: [("j", "delivery")]})
    assert constraint in names(rep.violations)


def test_a_compatible_job_passes_every_static_check():
    """No false alarms: a plain job on a plain van has no static reason."""
    assert static_reasons(Job("j", 1, size={"weight_kg": 10}, skills=("heavy_lift",)), van()) == []


def test_capacity_over_the_route_counts_every_parcel():
    """Three parcels of 40 kg fit one by one but not together on a 100 kg van."""
    jobs = [Job(f"j{i}", i, size={"weight_kg": 40}) for i in (1, 2, 3)]
    p = problem([van()], jobs)
    rep = check_route(p, "van", [(j.id, "delivery") for j in jobs])
    assert names(rep.violations) == ["capacity_weight_kg"]
    assert rep.peak_load["weight_kg"] == 120
    ok = check_route(p, "van", [("j1", "delivery"), ("j2", "delivery")])
    assert ok.feasible


def test_count_capacity():
    """The count dimension limits how many orders ride at once."""
    jobs = [Job(f"j{i}", i) for i in (1, 2, 3)]
    p = problem([van(capacity={"count": 2})], jobs)
    assert names(check_route(p, "van", [(j.id, "delivery") for j in jobs]).violations) == [C_COUNT]


def test_hard_window_rejects_and_soft_window_costs():
    """A hard window end is a violation; with a lateness cost it is a priced delay
    unless beyond max_lateness."""
    jobs = [Job("j", 5, window=(0, 100), service=60)]
    hard = problem([van()], jobs)
    rep = check_route(hard, "van", [("j", "delivery")])
    assert names(rep.violations) == [C_WINDOW] and rep.violations[0].amount == 200
    soft = problem([van()], jobs, lateness_cost_per_unit=0.5)
    rep = check_route(soft, "van", [("j", "delivery")])
    assert rep.feasible and rep.lateness == 200
    assert rep.cost == pytest.approx(0.5 * 200)
    capped = problem([van()], jobs, lateness_cost_per_unit=0.5, max_lateness=100)
    assert names(check_route(capped, "van", [("j", "delivery")]).violations) == [C_WINDOW]


def test_service_times_push_later_stops():
    """Service time at one stop delays the next: 60 s drive + 500 s service + 60 s."""
    jobs = [Job("a", 1, service=500), Job("b", 2, window=(0, 600))]
    rep = check_route(problem([van()], jobs), "van", [("a", "delivery"), ("b", "delivery")])
    assert rep.starts == [60, 620]
    assert names(rep.violations) == [C_WINDOW]


def test_shift_end_and_max_duration():
    """Back at the depot after the shift end, or a route longer than allowed."""
    jobs = [Job("a", 5, service=100)]
    late = problem([van(shift_end=500)], jobs)
    assert C_SHIFT in names(check_route(late, "van", [("a", "delivery")]).violations)
    long = problem([van(max_duration=600)], jobs)
    assert names(check_route(long, "van", [("a", "delivery")]).violations) == [C_DURATION]


def test_waiting_before_the_first_window_does_not_count_as_duration():
    """The start can be delayed into the waiting: a 5 s drive to a window at 1000
    does not make a 1000 s route."""
    jobs = [Job("a", 1, window=(1000, 2000))]
    rep = check_route(problem([van(max_duration=200)], jobs), "van", [("a", "delivery")])
    assert rep.feasible and rep.duration == 120


def test_break_must_fit_between_services():
    """A 30 min break that must start within [61, 100]: fine while waiting before a
    late window, impossible when the service must start at 60 and lasts 5000 s."""
    b = Break(earliest=61, latest=100, duration=1800)
    waiting = problem([van(break_=b)], [Job("a", 1, window=(2000, 3000), service=5000)])
    rep = check_route(waiting, "van", [("a", "delivery")])
    assert rep.feasible and rep.break_after == -1
    busy = problem([van(break_=b)], [Job("a", 1, window=(0, 60), service=5000)])
    rep = check_route(busy, "van", [("a", "delivery")])
    assert not rep.feasible
    assert names(rep.violations) in ([C_BREAK], [C_WINDOW])
    short = problem([van(break_=b)], [Job("a", 0, service=30)])
    assert check_route(short, "van", [("a", "delivery")]).break_after is None, \
        "a route over before the break window needs no break"


def test_pickup_before_delivery_on_the_same_vehicle():
    """Delivery before pickup, or the pickup alone, are pairing violations."""
    jobs = [Job("od", 3, pickup=1)]
    p = problem([van()], jobs)
    assert check_route(p, "van", [("od", "pickup"), ("od", "delivery")]).feasible
    assert C_PAIRING in names(check_route(p, "van", [("od", "delivery"), ("od", "pickup")]).violations)
    assert C_PAIRING in names(check_route(p, "van", [("od", "delivery")]).violations)


def test_onboard_job_must_stay_and_mandatory_job_must_be_served():
    """An on-board parcel on no route and a mandatory job left out are violations;
    a job with a drop penalty may be left out."""
    jobs = [Job("on", 1, onboard_vehicle="van"), Job("must", 2), Job("may", 3, drop_penalty=50)]
    rep = check_plan(problem([van(onboard=("on",))], jobs), {"van": []})
    assert sorted(names(rep.violations)) == [C_MISSING, C_ONBOARD]
    assert rep.dropped == ["on", "must", "may"]
    assert rep.cost == 50


def test_costs_fixed_variable_and_per_stop():
    """Fixed + per km + per hour + per stop, from the checker's own arithmetic."""
    v = van(fixed_cost=40, cost_per_km=0.5, cost_per_hour=36, cost_per_stop=2)
    rep = check_route(problem([v], [Job("a", 5)]), "van", [("a", "delivery")])
    # 1000 m, 600 s, one stop.
    assert rep.cost == pytest.approx(40 + 0.5 * 1.0 + 36 * 600 / 3600 + 2)


def test_fairness_spread_is_reported():
    """The plan report carries the spread of stops and hours across used routes."""
    jobs = [Job(f"j{i}", i) for i in range(1, 5)]
    p = problem([van(id="a"), van(id="b")], jobs, fairness_cost_per_stop=3.0)
    rep = check_plan(p, {"a": [(f"j{i}", "delivery") for i in (1, 2, 3)], "b": [("j4", "delivery")]})
    assert rep.stops_spread == 2
    assert rep.hours_spread > 0
    # fair share = ceil(4 jobs / 2 vehicles) = 2: route a is 1 over.
    plain = check_plan(problem([van(id="a"), van(id="b")], jobs),
                       {"a": [(f"j{i}", "delivery") for i in (1, 2, 3)], "b": [("j4", "delivery")]})
    assert rep.cost - plain.cost == pytest.approx(3.0)


def test_restart_after_the_shift_end_keeps_a_valid_vehicle():
    """Re-routing a vehicle that is still serving a stop after its shift end (overtime)
    must give a problem whose stops are late, not an invalid vehicle (this raised
    'shift_end before start_time' inside the engine on the metro replay)."""
    from types import SimpleNamespace

    from fleetstream.operators.routing.strategy import _restart_at
    pts = [(52.5, 13.4), (52.51, 13.41)] + [(52.5 + k / 100, 13.4) for k in range(2, N)]
    p = problem([van(shift_end=1_000)], [Job("j", 1)], points=pts)
    built = SimpleNamespace(problem=p)
    q = _restart_at(p, "van", pts[1], 5_000.0, built, [])
    v = q.vehicles[0]
    assert v.start == 1 and v.start_time == 5_000.0 and v.shift_end > v.start_time
