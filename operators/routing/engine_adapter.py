"""From the zone engine's state to routing problems and back.

The zone engine keeps :class:`operators.state.Vehicle` and ``Order`` objects in
epoch seconds and (lat, lon); the routing model wants node indices and matrices.
:func:`build_problem` makes a :class:`Problem` for a set of vehicles and orders:

- times relative to ``origin`` (the engine's clock), integer seconds; distances in
  integer metres, from the engine's planning travel time (provider x live
  conditions x planning buffer) at the time of the solve;
- a vehicle at the depot starts there at max(now, shift start); an active one at
  its last position now; its shift end gets ``RoutingConfig.overtime_allowance_s``
  of room (overtime is charged by the hourly cost, not forbidden);
- the driver's break still to take (``shift_start`` break fields) and the driving
  time left (``max_drive_s``) become the vehicle's ``break_`` and ``max_drive``;
- a parcel not yet loaded needs a vehicle at the depot; an order on board stays
  on its vehicle (mandatory there); an on-demand order not yet picked up has its
  pickup first;
- windows are soft (``lateness_cost_per_min``); leaving an order out costs its
  drop penalty (by priority), so an impossible order is reported, not fatal.

Matrices are lazy (:class:`LazyMatrix`): a local search touches only the pairs
it needs; OR-Tools materialises them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from fleetstream.operators.routing.constraints import engine_break, engine_drive_left
from fleetstream.operators.routing.model import Break, Job, Problem, VehicleSpec
from fleetstream.operators.routing.solver import DEFAULT_GUARD_S, Budget
from fleetstream.operators.state import AT_DEPOT, ONBOARD, PICKUP
from fleetstream.operators.traveltime import vehicle_tt

Point = tuple[float, float]


@dataclass(frozen=True)
class RoutingConfig:
    """How the zone engine uses the routing package (all times event-time seconds,
    costs in currency units)."""

    plan_budget: Budget = field(default_factory=lambda: Budget(solution_limit=300))
    """Counts only (``deterministic``): the plan is the same on any machine."""
    reroute_budget: Budget = field(default_factory=lambda: Budget(local_passes=3, local_window=8))
    guard_s: float = DEFAULT_GUARD_S
    """Wall-clock safety guard of every solve (the engine's ``routing_guard_s``); it
    overrides the budgets' own ``guard_s`` (:meth:`guarded`).  A solve it cuts is
    reported (``guard_hit``), never silent."""
    lateness_cost_per_min: float = 2.0
    """Cost of a minute past a window end (makes on-time dominate km)."""
    window_margin_s: float = 0.0
    """Seconds before each window end from which lateness is costed (never before the
    window start): plans, re-routes, re-optimization and redispatch then keep slack
    against travel times that run longer than planned (``engine.routing_window_margin_s``;
    docs/routing-policies.md, "The window margin").  0: the window end."""
    drop_penalty: float = 300.0
    drop_penalty_per_priority: float = 200.0
    overtime_allowance_s: float = 3600.0
    fairness_cost_per_stop: float = 10.0
    plan_enabled: bool = True
    """Plan the zone with OR-Tools at the first sweep after the shift starts settle."""
    plan_min_orders: int = 5
    reopt_interval_s: float = 1800.0
    """Periodic re-optimization sweep of every active route (needs reroute autonomy)."""
    reopt_min_gain: float = 2.0
    """A re-sequence is decided only if it saves at least this much (currency)."""
    redispatch_change_cost: float = 4.0
    """A redispatch must save more than this (plan stability)."""
    redispatch_candidates: int = 8
    max_local_stops: int = 120
    learned_pace: bool = False
    """Re-route with the driver's learned pace (true / provider travel time, learned
    from finished legs) scaling the planning travel times, when it is above the
    planning buffer."""
    km_surcharge: float = 0.0
    """Currency per km added to every vehicle's own cost per km in the routing objective:
    zone plans, re-routes, periodic re-optimization and redispatch cost routes with it
    (the cheapest insertion of a new order keeps the vehicle's own price).  A search
    then trades a km only for a larger saving of time or lateness, the improvement
    tests (``reopt_min_gain``, the redispatch change cost) count the km a new sequence
    adds at that price, and a late-risk re-route must save more lateness (at
    ``lateness_cost_per_min``) than the km it adds cost (``response.reroute_pays``).
    0 (the default) charges each vehicle's own cost per km only, as before
    (docs/routing.md, "The km price")."""

    def __post_init__(self) -> None:
        if self.lateness_cost_per_min < 0 or self.drop_penalty <= 0:
            raise ValueError("lateness_cost_per_min >= 0 and drop_penalty > 0 required")
        if self.reopt_interval_s <= 0:
            raise ValueError("reopt_interval_s must be > 0")
        if not self.guard_s > 0:
            raise ValueError("guard_s must be > 0")
        if not self.km_surcharge >= 0:
            raise ValueError("km_surcharge must be >= 0")
        if not (self.window_margin_s >= 0 and math.isfinite(self.window_margin_s)):
            raise ValueError("window_margin_s must be finite and >= 0")

    def guarded(self, b: Budget) -> Budget:
        """``b`` with this configuration's wall-clock guard."""
        return b if b.guard_s == self.guard_s else replace(b, guard_s=self.guard_s)


class LazyRow(dict):
    """Row ``i`` of a :class:`LazyMatrix`: a dict of the entries computed so far (a
    hit is a plain dict lookup), computing a missing one on first access."""

    __slots__ = ("i", "m")

    def __init__(self, i: int, m: "LazyMatrix"):
        super().__init__()
        self.i, self.m = i, m

    def __missing__(self, j: int) -> float:
        c = self[j] = self.m.compute(self.i, j)
        return c

    def __len__(self) -> int:
        return len(self.m.points)

    def __iter__(self):
        return (self[j] for j in range(len(self.m.points)))


class LazyMatrix(list):
    """n x n matrix computed on first access: ``m[i][j] = round(fn(points[i], points[j]))``
    (a list of :class:`LazyRow`: ``m[i]`` is a plain list index)."""

    def __init__(self, points: list[Point], fn: Callable[[Point, Point], float]):
        super().__init__()
        self.points = points
        self.fn = fn
        self.extend(LazyRow(i, self) for i in range(len(points)))

    def compute(self, i: int, j: int) -> float:
        if i == j:
            return 0
        return int(round(self.fn(self.points[i], self.points[j])))


@dataclass
class Built:
    problem: Problem
    origin: float
    routes: dict[str, list[tuple[str, str]]]


def build_problem(vehicles: list[Any], orders: list[Any], current: dict[str, list],
                  now: float, tt: Callable[[Point, Point, float], float],
                  dist: Callable[[Point, Point], float], cfg: RoutingConfig) -> Built:
    """A routing problem for ``vehicles`` (engine Vehicles) and ``orders`` (engine
    Orders; every order on a listed route must be in it).  ``current`` gives each
    vehicle's stops as they stand (the warm start)."""
    origin = float(int(now))
    points: list[Point] = []
    index: dict[Point, int] = {}

    def node(pt) -> int:
        key = (float(pt[0]), float(pt[1]))
        i = index.get(key)
        if i is None:
            i = index[key] = len(points)
            points.append(key)
        return i

    vs = []
    for v in vehicles:
        at_depot = v.status == AT_DEPOT
        start_pt = v.start if at_depot else v.pos
        start_t = max(now, v.shift_start_ts) if at_depot else now
        b = engine_break(v, start_t)
        if b is not None:
            b = Break(max(0.0, b.earliest - origin), max(0.0, b.latest - origin), b.duration)
        drive_left = engine_drive_left(v)
        vs.append(VehicleSpec(
            v.id, node(start_pt), node(v.end), start_time=max(0.0, start_t - origin),
            shift_end=max(v.shift_end_ts + cfg.overtime_allowance_s, start_t + 60.0) - origin,
            max_duration=v.max_route_s, capacity=dict(v.capacity), skills=tuple(v.skills),
            fleet_type=v.fleet_type, vehicle_type=v.vehicle_type,
            cost_per_km=v.cost_per_km + cfg.km_surcharge,
            cost_per_hour=v.cost_per_hour, cost_per_stop=v.cost_per_stop, fixed_cost=0.0,
            onboard=tuple(o for o in v.onboard), at_depot=at_depot, break_=b,
            max_drive=None if drive_left is None else max(0.0, drive_left)))
    js = []
    margin = cfg.window_margin_s
    for o in orders:
        onboard = o.status == ONBOARD
        w0 = max(0.0, o.window_start - origin)
        w1 = max(0.0, o.window_end - origin)
        if margin:     # lateness costed from the end less the margin, never before the start
            w1 = max(min(w0, w1), w1 - margin)
        pickup = None
        pw = (0.0, w1)
        if o.kind == "on_demand" and not onboard and o.pickup is not None:
            pickup = node(o.pickup)
            pw = (max(0.0, o.created_ts - origin), w1)
        js.append(Job(
            o.id, node(o.location), window=(min(w0, w1), w1), service=float(o.service_s),
            size={k: float(q) for k, q in o.size.items()}, skills=tuple(o.skills),
            vehicle_types=tuple(o.vehicle_types), fleet_types=tuple(o.fleet_types),
            value=float(o.value), age_check="age_check" in o.skills, priority=int(o.priority),
            drop_penalty=(1e6 if onboard else cfg.drop_penalty + cfg.drop_penalty_per_priority * o.priority),
            pickup=pickup, pickup_window=pw, pickup_service=float(o.pickup_service_s),
            depot_loaded=(o.kind == "parcel" and not onboard),
            onboard_vehicle=o.vehicle_id if onboard else None))
    T = LazyMatrix(points, lambda a, b: tt(a, b, now))
    D = LazyMatrix(points, dist)
    # Riders at their own pace (``vehicle_tt``): one matrix per vehicle type that the
    # travel model times differently, shared by its vehicles.
    own: dict[str, LazyMatrix] = {}
    by_type: dict[Any, LazyMatrix | None] = {}
    for v in vehicles:
        vt = getattr(v, "vehicle_type", None)
        if vt not in by_type:
            f = vehicle_tt(tt, v)
            by_type[vt] = None if f == tt else LazyMatrix(points, lambda a, b, _f=f: _f(a, b, now))
        if by_type[vt] is not None:
            own[v.id] = by_type[vt]
    p = Problem(time=T, dist=D, vehicles=vs, jobs=js, km_per_unit=0.001,
                hours_per_unit=1 / 3600.0, lateness_cost_per_unit=cfg.lateness_cost_per_min / 60.0,
                fairness_cost_per_stop=cfg.fairness_cost_per_stop, objective="cost", points=points,
                vehicle_time=own)
    routes = {}
    for v in vehicles:
        routes[v.id] = [(oid, PICKUP if k == PICKUP else "delivery") for oid, k in current.get(v.id, [])
                        if p.has_job(oid)]
    return Built(p, origin, routes)


def materialise(p: Problem) -> Problem:
    """The same problem with plain list matrices (for OR-Tools)."""
    n = p.n_nodes
    T = [[p.time[i][j] for j in range(n)] for i in range(n)]
    D = [[p.dist[i][j] for j in range(n)] for i in range(n)]
    plain: dict[int, list] = {}     # a matrix shared by several riders stays shared
    for m in p.vehicle_time.values():
        if id(m) not in plain:
            plain[id(m)] = [[m[i][j] for j in range(n)] for i in range(n)]
    return Problem(time=T, dist=D, vehicles=p.vehicles, jobs=p.jobs, km_per_unit=p.km_per_unit,
                   hours_per_unit=p.hours_per_unit, lateness_cost_per_unit=p.lateness_cost_per_unit,
                   max_lateness=p.max_lateness, fairness_cost_per_stop=p.fairness_cost_per_stop,
                   objective=p.objective, high_value=p.high_value,
                   gig_forbidden_age_check=p.gig_forbidden_age_check, points=p.points,
                   vehicle_time={vid: plain[id(m)] for vid, m in p.vehicle_time.items()})
