"""Driver breaks and hours of service (maximum driving time) on every path: insertion
(operators/dispatch.py), the engine-to-routing adapter, local search, OR-Tools, the
PyVRP rule and the independent checker."""

from __future__ import annotations

from types import SimpleNamespace

from fleetstream.operators import dispatch
from fleetstream.operators.routing import constraints as RC
from fleetstream.operators.routing import local_search as ls
from fleetstream.operators.routing.checker import check_plan, check_route
from fleetstream.operators.routing.engine_adapter import RoutingConfig, build_problem, materialise
from fleetstream.operators.routing.model import Break, Job, Problem, VehicleSpec
from fleetstream.operators.routing.ortools_backend import SolverParams, solve
from fleetstream.operators.routing.pyvrp_backend import unsupported
from fleetstream.operators.state import Order, Vehicle

T0 = 1772438400.0          # 08:00 UTC
DEPOT = (52.52, 13.405)
KMH = 30.0


def tt(a, b, _ts):
    """Seconds along a straight line at 30 km/h (1 degree latitude = 111 km)."""
    return abs(a[0] - b[0]) * 111_000.0 / (KMH / 3.6) + abs(a[1] - b[1]) * 67_000.0 / (KMH / 3.6)


def dist(a, b):
    return abs(a[0] - b[0]) * 111_000.0 + abs(a[1] - b[1]) * 67_000.0


def north(minutes: float):
    """A point ``minutes`` of driving north of the depot."""
    return (DEPOT[0] + minutes * 60 * (KMH / 3.6) / 111_000.0, DEPOT[1])


class HVehicle(Vehicle):
    """An engine vehicle with the hours-of-service fields of ``shift_start``."""

    __slots__ = ("break_earliest_ts", "break_latest_ts", "break_s", "max_drive_s", "driven_s")


def van(brk=None, max_drive=None, driven=0.0) -> HVehicle:
    ev = SimpleNamespace(vehicle_id="v1", driver_id="d1", fleet_type="captive", vehicle_type="van",
                         capacity={"weight_kg": 900.0, "count": 60.0}, skills=[], start=DEPOT,
                         end=DEPOT, ts=T0, shift_end_ts=T0 + 8 * 3600, cost_per_km=0.35,
                         cost_per_hour=28.0, cost_per_stop=0.0, fixed_cost=0.0, max_route_s=None)
    v = HVehicle.from_event(ev)
    if brk and brk[0] == "defaults":
        v.break_earliest_ts, v.break_latest_ts, v.break_s = None, None, brk[1]
    else:
        v.break_earliest_ts, v.break_latest_ts, v.break_s = brk if brk else (None, None, None)
    v.max_drive_s, v.driven_s = max_drive, driven
    return v


def order(oid, loc, w0, w1, service=120.0) -> Order:
    ev = SimpleNamespace(order_id=oid, customer_id="c" + oid, kind="parcel", location=loc, pickup=None,
                         window_start=w0, window_end=w1, size={"weight_kg": 2.0}, service_s=service,
                         pickup_service_s=0.0, skills=[], vehicle_types=[], fleet_types=[],
                         priority=0, value=30.0, ts=T0 - 3600, event_id="e" + oid)
    return Order.from_event(ev)


def test_a_break_makes_an_insertion_infeasible_and_is_named():
    # The order must be served 10:00-10:20, 20 min out; the break (30 min) must start
    # by 10:00: before the stop it pushes the service past 10:20, after it it starts late.
    o = order("o1", north(20), T0 + 2 * 3600, T0 + 2 * 3600 + 1200)
    ins, why = dispatch.best_insertion(o, van(), {"o1": o}, T0, tt, dist)
    assert ins is not None  # feasible without the break
    brk = (T0 + 2 * 3600, T0 + 2 * 3600, 1800.0)
    ins, why = dispatch.best_insertion(o, van(brk), {"o1": o}, T0, tt, dist)
    assert ins is None and why == RC.C_BREAK
    # The checker agrees: the route with the order is infeasible because of the break.
    v = van(brk)
    b = build_problem([v], [o], {"v1": [("o1", "delivery")]}, T0, tt, dist,
                      RoutingConfig(lateness_cost_per_min=0.0, overtime_allowance_s=0.0))
    assert b.problem.vehicle("v1").break_ == Break(7200.0, 7200.0, 1800.0)
    rep = check_route(b.problem, "v1", [("o1", "delivery")])
    assert not rep.feasible


def test_a_break_moves_the_stops_after_it():
    # Two stops, the second 90 min after the start; the break (earliest 09:00) is taken
    # on the way to it and its service starts 30 min later.
    a = order("a", north(10), T0, T0 + 8 * 3600)
    b = order("b", north(100), T0, T0 + 8 * 3600)
    orders = {"a": a, "b": b}
    v0, v1 = van(), van((T0 + 3600, T0 + 4 * 3600, 1800.0))
    for v in (v0, v1):
        v.route = [("a", "delivery"), ("b", "delivery")]
    t0 = dispatch.route_timing(v0, v0.route, orders, DEPOT, T0, tt)
    t1 = dispatch.route_timing(v1, v1.route, orders, DEPOT, T0, tt)
    assert t1.start[0] == t0.start[0]
    assert abs(t1.start[1] - (t0.start[1] + 1800.0)) < 1e-6
    assert t1.break_after == 0 and t1.feasible
    # An order due at 09:50 100 min out fits only without the break.
    c = order("c", north(100), T0, T0 + 6000 + 1200)
    orders["c"] = c
    assert dispatch.best_insertion(c, v0, orders, T0, tt, dist)[0] is not None
    ins, why = dispatch.best_insertion(c, v1, orders, T0, tt, dist)
    assert ins is None and why in (RC.C_BREAK, RC.C_WINDOW)


def test_max_driving_time_rejects_a_far_order():
    near = order("n", north(10), T0, T0 + 8 * 3600)
    far = order("f", north(40), T0, T0 + 8 * 3600)
    orders = {"n": near, "f": far}
    v = van(max_drive=3600.0)
    assert dispatch.best_insertion(near, v, orders, T0, tt, dist)[0] is not None
    ins, why = dispatch.best_insertion(far, v, orders, T0, tt, dist)
    assert ins is None and why == RC.C_DRIVE  # 80 min of driving > 60
    # Driving already done counts against the limit.
    v2 = van(max_drive=3600.0, driven=2700.0)
    assert dispatch.best_insertion(near, v2, orders, T0, tt, dist)[1] == RC.C_DRIVE
    # Without a limit the far order fits.
    assert dispatch.best_insertion(far, van(), orders, T0, tt, dist)[0] is not None
    # With a break still to take the re-timed path applies the same limit.
    v3 = van((T0 + 3600, T0 + 4 * 3600, 1800.0), max_drive=3600.0)
    assert dispatch.best_insertion(far, v3, orders, T0, tt, dist)[1] == RC.C_DRIVE
    assert dispatch.best_insertion(near, v3, orders, T0, tt, dist)[0] is not None


def _line_problem(max_drive=None, brk=None):
    n = 6
    T = [[abs(i - j) * 600 for j in range(n)] for i in range(n)]
    D = [[abs(i - j) * 5000 for j in range(n)] for i in range(n)]
    vs = [VehicleSpec("lim", 0, 0, shift_end=20_000, max_drive=max_drive, break_=brk,
                      capacity={"count": 10}, cost_per_km=0.3),
          VehicleSpec("free", 0, 0, shift_end=20_000, capacity={"count": 10}, cost_per_km=0.5)]
    jobs = [Job("near", 1, service=60), Job("far", 5, service=60)]
    return Problem(time=T, dist=D, vehicles=vs, jobs=jobs, objective="cost")


def test_checker_names_the_driving_limit_and_solvers_respect_it():
    p = _line_problem(max_drive=3000)
    rep = check_route(p, "lim", [("far", "delivery")])
    assert [r.constraint for r in rep.violations] == [RC.C_DRIVE] and rep.drive == 6000
    assert check_route(p, "lim", [("near", "delivery")]).feasible
    # Local search prices the limit as hard.
    ev = ls.RouteEval(p, "lim")
    assert not ev.fast_ok([("far", "delivery")])
    assert ev.cost([("far", "delivery")]) > ev.cost([("near", "delivery")]) + 1e5
    # OR-Tools: the cheaper vehicle could do both, but its driver may drive 50 min only.
    res = solve(p, SolverParams(solution_limit=50))
    assert res is not None
    routes = {v: [s for s in r] for v, r in res.routes.items()}
    assert all(s[0] != "far" for s in routes.get("lim", []))
    assert check_plan(p, res.routes).feasible
    # PyVRP cannot express it: the documented rule sends it to OR-Tools.
    assert "max_drive" in unsupported(p)
    assert "break" in unsupported(_line_problem(brk=Break(100, 200, 60)))


def test_zone_plan_gets_the_break_and_the_driving_time_left():
    a = order("a", north(10), T0, T0 + 8 * 3600)
    v = van((T0 + 3600, T0 + 2 * 3600, 900.0), max_drive=4 * 3600.0, driven=600.0)
    b = build_problem([v], [a], {}, T0 + 60, tt, dist, RoutingConfig())
    spec = materialise(b.problem).vehicle("v1")
    assert spec.break_ == Break(3540.0, 7140.0, 900.0)
    assert spec.max_drive == 4 * 3600.0 - 600.0
    # A break whose latest start passed is not planned any more; no fields, no break.
    assert build_problem([v], [a], {}, T0 + 3 * 3600, tt, dist,
                         RoutingConfig()).problem.vehicle("v1").break_ is None
    assert build_problem([van()], [a], {}, T0, tt, dist,
                         RoutingConfig()).problem.vehicle("v1").break_ is None


def test_break_window_defaults_to_the_shift():
    v = van(("defaults", 600.0))
    assert RC.engine_break(v, T0) == Break(T0, T0 + 8 * 3600, 600.0)
    v.break_earliest_ts, v.break_latest_ts = T0 + 7200, T0 + 3600   # latest before earliest
    assert RC.engine_break(v, T0) == Break(T0 + 7200, T0 + 7200, 600.0)
    assert RC.engine_break(van(), T0) is None


def test_reroute_respects_the_break_and_the_driving_limit():
    """ORToolsStrategy.reroute_result (the engine's re-route: local search on the
    adapted problem) returns a sequence the checker passes with the driver's break
    and driving limit; a zig-zag route over the limit is repaired."""
    from fleetstream.operators.routing.strategy import ORToolsStrategy
    from fleetstream.operators.state import ACTIVE
    orders = {f"s{m}": order(f"s{m}", north(m), T0, T0 + 8 * 3600) for m in (10, 40, 20, 30)}
    v = van((T0 + 1800, T0 + 3 * 3600, 1800.0), max_drive=85 * 60.0)
    v.status, v.pos = ACTIVE, DEPOT
    v.route = [(oid, "delivery") for oid in orders]        # 10, 40, 20, 30: 100 min of driving
    v.onboard = list(orders)
    for o in orders.values():
        o.status, o.vehicle_id = "onboard", "v1"
    strat = ORToolsStrategy()
    res = strat.reroute_result(v, orders, T0, tt, dist)
    assert res is not None and res.changed
    b = build_problem([v], list(orders.values()), {"v1": res.sequence}, T0, tt, dist, strat.config)
    spec = b.problem.vehicle("v1")
    assert spec.break_ is not None and spec.max_drive == 85 * 60.0
    rep = check_route(b.problem, "v1", res.sequence)
    assert rep.feasible, [r.as_dict() for r in rep.violations]
    assert rep.drive <= 85 * 60.0 and rep.break_after is not None


def _with_break(v, brk) -> HVehicle:
    h = HVehicle.__new__(HVehicle)
    for k in Vehicle.__slots__:
        setattr(h, k, getattr(v, k))
    h.break_earliest_ts, h.break_latest_ts, h.break_s = brk
    h.max_drive_s, h.driven_s = None, 0.0
    return h


def _feasible_full(v, route, orders, k, now, travel):
    pos, ts = (v.start, max(now, v.shift_start_ts)) if v.status == "depot" else (v.pos, now)
    t = dispatch.route_timing(v, route, orders, pos, ts, travel)
    # A break already taken (late) before the insertion point stays as it was.
    prefix_break = t.break_after is not None and t.break_after <= k - 2
    return (all(t.start[i] <= t.window_end[i] for i in range(k, len(route)))
            and t.end_ts <= v.shift_end_ts and (prefix_break or t.break_late_s == 0))


def test_break_insertion_agrees_with_full_retiming_on_seeded_scenes():
    """The incremental re-timing (stop at the first stop past the break that is in
    time) finds a feasible insertion exactly when re-timing every candidate in full
    does, and what it returns is feasible in full."""
    import os
    import random
    import sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from engine_gen import T0 as G0, dist as gdist, scene, tt as peak_tt

    def gtt(a, b, _t):  # time-independent (the later stops' latest starts are exact then,
        return peak_tt(a, b, G0)  # as for the insertion without a break)
    checked = found = 0
    for seed in range(10):
        sc = scene(seed, n_vehicles=4, stops=8, n_pending=3)
        rng = random.Random(seed)
        now = G0
        for o in sc.pending:
            for v0 in sc.vehicles:
                e = G0 + rng.choice([0, 1800, 3600, 7200])
                v = _with_break(v0, (e, e + rng.choice([0, 1800, 5400]), rng.choice([900.0, 1800.0])))
                ins, why = dispatch.best_insertion(o, v, sc.orders, now, gtt, gdist)
                orders = dict(sc.orders)
                n = len(v.route)
                if o.kind == "on_demand" and o.status != "onboard":
                    cands = [(k, j) for k in range(n + 1) for j in range(k, min(n, k + 6) + 1)]
                else:
                    cands = [(k,) for k in range(n + 1)]
                full = [c for c in cands if _feasible_full(
                    v, dispatch.inserted_route(v.route, dispatch.Insertion(v.id, c, 0, 0, 0, o.id)),
                    orders, c[0], now, gtt)]
                checked += 1
                if ins is None:
                    assert not full, (seed, o.id, v.id, why, full[:3])
                else:
                    found += 1
                    assert ins.positions in full, (seed, o.id, v.id, ins.positions)
    assert checked > 50 and found > 5
