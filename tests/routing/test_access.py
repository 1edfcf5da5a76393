"""Customer requirements become constraints on that customer's orders: required skills
(age check), access credentials, a vehicle-size limit and daily access hours; the
insertion and the zone plan respect them and name ``access`` / ``skills`` when no
vehicle can serve."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from fleetstream.operators.dispatch import InsertionStrategy, route_timing
from fleetstream.operators.routing import constraints as RC
from fleetstream.operators.routing.checker import check_plan
from fleetstream.operators.routing.engine_adapter import RoutingConfig, build_problem, materialise
from fleetstream.operators.routing.ortools_backend import SolverParams, solve
from fleetstream.operators.state import Order, Vehicle

T0 = 1772438400.0          # 2026-03-02 08:00 UTC
DEPOT = (52.52, 13.405)


def tt(a, b, _ts):
    return (abs(a[0] - b[0]) * 111_000.0 + abs(a[1] - b[1]) * 67_000.0) / (30 / 3.6)


def dist(a, b):
    return abs(a[0] - b[0]) * 111_000.0 + abs(a[1] - b[1]) * 67_000.0


def vehicle(vid, vtype="van", skills=(), fleet="captive") -> Vehicle:
    ev = SimpleNamespace(vehicle_id=vid, driver_id="d" + vid, fleet_type=fleet, vehicle_type=vtype,
                         capacity={"weight_kg": 900.0, "count": 60.0}, skills=list(skills), start=DEPOT,
                         end=DEPOT, ts=T0, shift_end_ts=T0 + 10 * 3600,
                         cost_per_km=0.2 if vtype == "van" else 0.4, cost_per_hour=20.0,
                         cost_per_stop=0.0, fixed_cost=0.0, max_route_s=None)
    return Vehicle.from_event(ev)


def order(oid, w0=T0, w1=T0 + 8 * 3600, loc=(52.53, 13.405)) -> Order:
    ev = SimpleNamespace(order_id=oid, customer_id="c" + oid, kind="parcel", location=loc, pickup=None,
                         window_start=w0, window_end=w1, size={"weight_kg": 2.0}, service_s=120.0,
                         pickup_service_s=0.0, skills=[], vehicle_types=[], fleet_types=[],
                         priority=0, value=30.0, ts=T0 - 3600, event_id="e" + oid)
    return Order.from_event(ev)


def profile(**kw) -> RC.CustomerRequirements:
    base = {"service_requirements": [], "language": "en"}
    base.update(kw)
    return RC.requirements_from_profile(base)


def test_profile_fields_become_requirements():
    assert profile() is None
    assert profile(service_requirements=["call_ahead"]) is None  # an instruction, not a skill
    r = profile(service_requirements=["age_check", "call_ahead"], max_vehicle_type="car",
                access_codes=["tower-a"], access_hours=["09:00-11:30", "22:00-02:00"])
    assert r.skills == ("age_check",) and r.max_vehicle_size == "car"
    assert r.access_codes == ("tower-a",)
    assert r.access_hours == ((9 * 3600, 11.5 * 3600), (22 * 3600, 2 * 3600))


def _insert(o, vehicles):
    orders = {o.id: o}
    return InsertionStrategy().insert(o, vehicles, orders, T0, tt, dist)


def test_a_customer_requiring_a_skill_gets_only_a_vehicle_with_it():
    o = order("o1")
    assert RC.apply_requirements(o, profile(service_requirements=["age_check"])) is None
    cheap, skilled = vehicle("cheap"), vehicle("skilled", skills=["age_check"])
    skilled.cost_per_km = 5.0
    ins, _rej = _insert(o, [cheap, skilled])
    assert ins is not None and ins.vehicle_id == "skilled"
    ins, rej = _insert(o, [cheap])
    assert ins is None and rej.ranked()[0]["constraint"] == RC.C_SKILLS


def test_a_vehicle_size_limit_excludes_large_vans_and_is_named_access():
    o = order("o1")
    RC.apply_requirements(o, profile(max_vehicle_type="car"))
    van, car = vehicle("van"), vehicle("car", vtype="car")
    ins, _rej = _insert(o, [van, car])
    assert ins is not None and ins.vehicle_id == "car"  # the van is cheaper but too big
    ins, rej = _insert(o, [van])
    assert ins is None and rej.ranked()[0]["constraint"] == RC.C_ACCESS
    # An order that already allowed only vans can now be served by no vehicle type.
    o2 = order("o2")
    o2.vehicle_types = ["van"]
    RC.apply_requirements(o2, profile(max_vehicle_type="car"))
    assert _insert(o2, [van, car])[1].ranked()[0]["constraint"] == RC.C_ACCESS


def test_access_credentials_are_named_access():
    o = order("o1")
    RC.apply_requirements(o, profile(access_codes=["tower-a"]))
    ins, rej = _insert(o, [vehicle("v")])
    assert ins is None and rej.ranked()[0]["constraint"] == RC.C_ACCESS
    ins, _ = _insert(o, [vehicle("v", skills=["access:tower-a"])])
    assert ins is not None


def test_access_hours_narrow_the_window_and_are_respected():
    o = order("o1", T0, T0 + 8 * 3600)           # 08:00-16:00
    RC.apply_requirements(o, profile(access_hours=["12:00-13:00"]))
    assert (o.window_start, o.window_end) == (T0 + 4 * 3600, T0 + 5 * 3600)
    v = vehicle("v")
    ins, _ = _insert(o, [v])
    assert ins is not None
    v.route = [(o.id, "delivery")]
    t = route_timing(v, v.route, {o.id: o}, DEPOT, T0, tt)
    assert T0 + 4 * 3600 <= t.start[0] <= T0 + 5 * 3600
    # No access hour inside the window: the order is reported, its window untouched.
    o2 = order("o2", T0, T0 + 2 * 3600)
    assert RC.apply_requirements(o2, profile(access_hours=["12:00-13:00"])) == RC.C_ACCESS
    assert (o2.window_start, o2.window_end) == (T0, T0 + 2 * 3600)


@pytest.mark.parametrize("seed", [0, 1])
def test_zone_plan_respects_customer_requirements(seed):
    """The plan path (engine adapter, OR-Tools, independent checker) sees the same
    folded requirements: the age-checked order goes to the skilled car, the
    size-limited one to no van, the access-hours one inside its hours."""
    van, car = vehicle("van"), vehicle("car", vtype="car", skills=["age_check"])
    car.cost_per_km = 1.0 + seed
    a, b, c = order("a"), order("b", loc=(52.50, 13.42)), order("c", loc=(52.54, 13.39))
    RC.apply_requirements(a, profile(service_requirements=["age_check"]))
    RC.apply_requirements(b, profile(max_vehicle_type="car"))
    RC.apply_requirements(c, profile(access_hours=["10:00-10:30"]))
    built = build_problem([van, car], [a, b, c], {}, T0, tt, dist,
                          RoutingConfig(lateness_cost_per_min=0.0))
    p = materialise(built.problem)
    res = solve(p, SolverParams(solution_limit=100))
    assert res is not None
    where = {jid: vid for vid, r in res.routes.items() for jid, _k in r}
    assert where["a"] == "car" and where["b"] == "car"
    rep = check_plan(p, res.routes)
    assert rep.feasible and not rep.dropped
    vid = where["c"]
    k = [jid for jid, _k in res.routes[vid]].index("c")
    start = rep.routes[vid].starts[k] + built.origin
    assert T0 + 2 * 3600 <= start <= T0 + 2.5 * 3600
