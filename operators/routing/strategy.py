"""The OR-Tools routing strategy of the zone engine (every verb of
:class:`operators.routing.protocol.RoutingStrategy`).

- ``insert``: cheapest feasible insertion with time-dependent travel times (the
  baseline's, it is exact and fast for one order);
- ``plan``: the whole zone with OR-Tools (:func:`operators.routing.solver.plan`);
- ``reroute``: one vehicle's remaining stops, warm-started from its sequence;
- ``redispatch``: at-risk orders to other vehicles or fleet types, only when the
  gain beats the change cost.

All searches are bounded by counts (``Budget.deterministic``), never by the wall
clock, so the engine's decisions replay byte-identically; the wall clock is only a
guard (``RoutingConfig.guard_s``) whose hit is reported on the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from fleetstream.operators.dispatch import InsertionStrategy, Insertion, Rejection, Timing
from fleetstream.operators.routing import solver
from fleetstream.operators.traveltime import vehicle_tt
from fleetstream.operators.routing.engine_adapter import RoutingConfig, build_problem, materialise
from fleetstream.operators.state import DELIVERY, PICKUP


@dataclass
class ORToolsStrategy:
    """Routing seat of the zone engine backed by ``operators/routing``."""

    config: RoutingConfig = field(default_factory=RoutingConfig)
    name: str = "ortools-routing-1"
    _insertion: InsertionStrategy = field(default_factory=InsertionStrategy)
    backend: str = "ortools"
    """Zone-plan backend (``solver.plan``): ``ortools``; :class:`PyVRPStrategy` uses ``auto``."""

    def insert(self, o: Any, candidates: list, orders: dict, now: float, tt: Callable,
               dist: Callable, timings: dict[str, Timing] | None = None,
               balance: Any = None) -> tuple[Insertion | None, Rejection]:
        return self._insertion.insert(o, candidates, orders, now, tt, dist, timings, balance)

    def plan(self, vehicles: list, orders: list, current: dict[str, list], now: float,
             tt: Callable, dist: Callable) -> tuple[solver.PlanResult, Any] | None:
        if not vehicles:
            return None
        built = build_problem(vehicles, orders, current, now, tt, dist, self.config)
        p = materialise(built.problem)
        res = solver.plan(p, self.config.guarded(self.config.plan_budget), built.routes,
                          hard_first=True, span_cost=False, backend=self.backend)
        return res, p

    def reroute_result(self, v: Any, orders: dict, now: float, tt: Callable, dist: Callable,
                       keep_first: bool = False, time_factor: float = 1.0) -> solver.RerouteResult | None:
        """``time_factor`` scales the planning travel times for this vehicle (the engine
        passes the driver's learned pace when ``RoutingConfig.learned_pace`` is on)."""
        tt = vehicle_tt(tt, v)   # a rider at its own pace
        if time_factor != 1.0:
            base_tt = tt

            def tt(a, b, ts, _f=time_factor):  # noqa: F811
                return base_tt(a, b, ts) * _f
        stops = [tuple(s) for s in v.route]
        if len(stops) < 2 + (1 if keep_first else 0):
            return None
        head = stops[:1] if keep_first else []
        rest = stops[1:] if keep_first else stops
        ids = list(dict.fromkeys(s[0] for s in stops))
        built = build_problem([v], [orders[i] for i in ids], {v.id: rest}, now, tt, dist, self.config)
        p = built.problem
        if head:
            # The stop being served stays first: start the search from it.
            o = orders[head[0][0]]
            pt = o.stop_point(head[0][1])
            p = _restart_at(p, v.id, pt, now + o.stop_service_s(head[0][1]) - built.origin, built,
                            [s for s in rest])
        seq0 = built.routes[v.id] if not head else [s for s in built.routes[v.id]]
        return solver.reroute(p, v.id, seq0, self.config.guarded(self.config.reroute_budget),
                              "local" if len(seq0) <= self.config.max_local_stops else "ortools")

    def reroute(self, v: Any, orders: dict, now: float, tt: Callable,
                dist: Callable | None = None) -> list[tuple[str, str]] | None:
        r = self.reroute_result(v, orders, now, tt, dist or (lambda a, b: 0.0))
        if r is None or not r.changed:
            return None
        return [(oid, PICKUP if k == PICKUP else DELIVERY) for oid, k in r.sequence]

    def redispatch(self, v: Any, order_ids: list[str], candidates: list, orders: dict,
                   now: float, tt: Callable, dist: Callable) -> solver.RedispatchResult | None:
        if not order_ids:
            return None
        vehicles = [v] + [w for w in candidates if w.id != v.id]
        ids: dict[str, None] = {}
        for w in vehicles:
            for oid, _k in w.route:
                ids[oid] = None
        for oid in order_ids:
            ids[oid] = None
        current = {w.id: [tuple(s) for s in w.route] for w in vehicles}
        built = build_problem(vehicles, [orders[i] for i in ids if i in orders], current, now,
                              tt, dist, self.config)
        return solver.redispatch(built.problem, v.id, order_ids, built.routes,
                                 self.config.redispatch_change_cost,
                                 self.config.guarded(self.config.reroute_budget))


@dataclass
class PyVRPStrategy(ORToolsStrategy):
    """The routing seat with zone plans by PyVRP where it expresses the zone's problem
    exactly (:func:`operators.routing.solver.choose_backend`), OR-Tools otherwise;
    every other verb as :class:`ORToolsStrategy`.  The plan is bounded by
    ``config.plan_budget.iterations`` with ``config.plan_budget.seed`` (counts only:
    byte-identical replays); the guard is ``config.guard_s``.

    The engine's default configuration charges the fairness term
    (``fairness_cost_per_stop``), which PyVRP cannot express: with it the rule picks
    OR-Tools; ``RoutingConfig(fairness_cost_per_stop=0.0)`` lets PyVRP plan (zones
    whose vehicles charge a cost per stop, gig couriers, stay with OR-Tools)."""

    name: str = "pyvrp-routing-1"
    backend: str = "auto"


def _restart_at(p, vid, pt, t_rel, built, rest):
    """The problem with vehicle ``vid`` starting at point ``pt`` at ``t_rel``."""
    from dataclasses import replace

    from fleetstream.operators.routing.model import Problem
    pts = built.problem.points
    try:
        node = pts.index((float(pt[0]), float(pt[1])))
    except ValueError:
        return p
    vs = []
    for x in p.vehicles:
        if x.id == vid:
            t0 = max(x.start_time, t_rel)
            # A vehicle still driving after its shift end (overtime) keeps a shift end
            # after its start: its stops are then late, never an invalid problem.
            x = replace(x, start=node, start_time=t0, shift_end=max(x.shift_end, t0 + 60.0))
        vs.append(x)
    return Problem(p.time, p.dist, vs, p.jobs, p.km_per_unit, p.hours_per_unit,
                   p.lateness_cost_per_unit, p.max_lateness, p.fairness_cost_per_stop,
                   p.objective, p.high_value, p.gig_forbidden_age_check, p.points,
                   p.vehicle_time)
