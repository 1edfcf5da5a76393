"""Workload balance and the fleet-type cost model (docs/routing.md, "Workload balance").

**Balance objective.**  Drivers are compared with their *peers*: the available vehicles
of the same zone, fleet type and shift (start and end rounded to 30 minutes).  A driver's
load is ``S``, the orders it has today (on its route, on board, or done by it; the
orders the zone still knows), and ``H``, its working time (from shift start to the
planned end of its route; now for an active vehicle with an empty route; 0 at the depot
with nothing to do).  With ``mS``, ``mH`` the peer means (at least 1 order and 600 s),
the balance penalty of a driver is the convex

    P = weight / 2 * ((S - mS)^2 / mS  +  mS * (H - mH)^2 / mH^2)

(currency units: both terms are squared deviations from the peer mean, the second
scaled to orders).  An insertion adding ``dS`` orders and ``dH`` seconds to a driver
costs ``P(S + dS, H + dH) - P(S, H)`` on top of its detour: negative (a bonus) for a
driver below its peers, positive above.  For one order, a driver ``k`` orders above the
mean pays about ``weight * k / mS`` more than one at the mean: ``weight`` is the extra
cost, in currency units, of one more order for a driver whose load is twice the
peers' mean.  ``weight`` 0 is plain cheapest insertion.  Deterministic: only event
time and the zone's state.

**Fleet-type cost model.**  Every insertion and plan prices a vehicle by its own
``shift_start`` figures: ``cost_per_km`` x added km + ``cost_per_hour`` x added hours +
``cost_per_stop`` per stop (the simulator's fleets: captive 0.35/km 28/h, 3PL 0.45/km
24/h, gig 3.20 per stop).  ``fixed_cost`` is not charged when dispatching: a vehicle
on shift is paid for anyway, and a per-use fixed cost on a vehicle's first order was
measured to hurt (docs/routing.md, "Workload balance").  Balance never compares fleet
types with each other: which fleet serves an order is the price comparison above, or
the only feasible vehicle (skills, value, fleet rules).

**Plan balance** (:func:`balanced_plan`, the zone plan of the vehicles at the depot;
docs/routing.md, "Workload balance").  The plan is solved as it always was (the
*unbalanced plan*, whose fleet-type split is the price and feasibility decision); then,
within each peer group, every vehicle is capped at ``ceil(PLAN_SLACK x N_g / n_g)``
orders (``N_g`` the orders the unbalanced plan gave the ``n_g`` vehicles of the group)
and the plan is solved again.  The balanced plan is kept only if, on the engine's own
planning travel times, it has no more late stops and no more orders left out than the
unbalanced one and at most ``PLAN_KM_TOLERANCE`` more distance; otherwise the
unbalanced plan stands (``stats["plan_balance"]`` says which and why).  Counts only:
both solves have the strategy's count budget, so the result is deterministic.
"""

from __future__ import annotations

import math

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from fleetstream.operators.state import ACTIVE, ASSIGNED, AT_DEPOT, DELIVERED, FAILED, ONBOARD

MIN_MEAN_ORDERS = 1.0
MIN_MEAN_WORK_S = 600.0
SHIFT_ROUND_S = 1800.0
_LOADED = (ASSIGNED, ONBOARD, DELIVERED, FAILED)
PLAN_SLACK = 1.1
"""A depot vehicle is planned at most 10 % above its peer group's mean share."""
PLAN_KM_TOLERANCE = 0.03
"""The balanced plan may drive at most 3 % more than the unbalanced one."""


def peer_key(v: Any) -> tuple:
    """Vehicles compared with each other: same fleet type and shift (30-minute grid)."""
    return (v.fleet_type, round(v.shift_start_ts / SHIFT_ROUND_S),
            round(v.shift_end_ts / SHIFT_ROUND_S))


def penalty(weight: float, s: float, h: float, ms: float, mh: float) -> float:
    """The balance penalty of one driver (module docstring)."""
    return weight * 0.5 * ((s - ms) ** 2 / ms + ms * (h - mh) ** 2 / (mh * mh))


@dataclass
class Balance:
    """Loads of a zone's drivers and their peers' means, for one sweep of insertions.
    ``weight`` 0: no balance term (only the fleet's use cost)."""

    weight: float = 0.0
    loads: dict[str, list[float]] = field(default_factory=dict)   # vid -> [orders, work_s]
    groups: dict[str, tuple] = field(default_factory=dict)        # vid -> peer key

    def __post_init__(self) -> None:
        self._means: dict[tuple, tuple[float, float]] = {}

    def orders_of(self, vid: str) -> float:
        ld = self.loads.get(vid)
        return ld[0] if ld else 0.0

    def means(self, key: tuple) -> tuple[float, float]:
        """Peer means (orders, work seconds) of the group ``key``, floored."""
        m = self._means.get(key)
        if m is None:
            xs = [self.loads[vid] for vid, k in self.groups.items() if k == key]
            ms = sum(x[0] for x in xs) / len(xs) if xs else 0.0
            mh = sum(x[1] for x in xs) / len(xs) if xs else 0.0
            m = self._means[key] = (max(ms, MIN_MEAN_ORDERS), max(mh, MIN_MEAN_WORK_S))
        return m

    def coefficients(self, vid: str, d_orders: float = 1.0) -> tuple[float, float, float]:
        """``(a, b, c)`` with ``cost(vid, d_orders, dh) == a + b * dh + c * dh ** 2``
        (the exact difference of the quadratic penalty, for the insertion loops)."""
        if self.weight <= 0 or vid not in self.loads:
            return 0.0, 0.0, 0.0
        s, h = self.loads[vid]
        ms, mh = self.means(self.groups[vid])
        w = self.weight
        a = w * 0.5 * ((s + d_orders - ms) ** 2 - (s - ms) ** 2) / ms
        return a, w * ms * (h - mh) / (mh * mh), w * 0.5 * ms / (mh * mh)

    def cost(self, vid: str, d_orders: float, d_work_s: float) -> float:
        """The balance term of adding ``d_orders`` and ``d_work_s`` to ``vid``."""
        if self.weight <= 0 or vid not in self.loads:
            return 0.0
        s, h = self.loads[vid]
        ms, mh = self.means(self.groups[vid])
        return (penalty(self.weight, s + d_orders, h + max(0.0, d_work_s), ms, mh)
                - penalty(self.weight, s, h, ms, mh))

    def add(self, vid: str, d_orders: float, d_work_s: float) -> None:
        """Record an insertion (the next orders of the sweep see it)."""
        ld = self.loads.get(vid)
        if ld is not None:
            ld[0] += d_orders
            ld[1] += max(0.0, d_work_s)
            self._means.pop(self.groups[vid], None)


def zone_balance(weight: float, vehicles: Iterable[Any], orders: dict[str, Any], now: float,
                 end_ts: Any, done: dict[str, list] | None = None) -> Balance:
    """The balance of a zone at ``now``: every available vehicle's load.  ``end_ts(v)``
    gives the planned end of ``v``'s route (event time); it is called only for vehicles
    with a route (and only when ``weight`` > 0).  ``done``: orders each vehicle finished
    in its shift (``ZoneState.done``, vid -> [shift_start_ts, count]; a count from
    another shift is not read)."""
    b = Balance(weight)
    vs = [v for v in vehicles if v.status in (AT_DEPOT, ACTIVE)]
    n_orders = {v.id: 0.0 for v in vs}
    if done:
        for v in vs:
            d = done.get(v.id)
            if d is not None and d[0] == v.shift_start_ts:
                n_orders[v.id] = float(d[1])
    for o in orders.values():
        if o.vehicle_id in n_orders and o.status in _LOADED:
            n_orders[o.vehicle_id] += 1.0
    for v in sorted(vs, key=lambda x: x.id):
        if weight > 0 and (v.route or v.onboard):
            work = max(0.0, end_ts(v) - v.shift_start_ts)
        elif weight > 0 and v.status == ACTIVE:
            work = max(0.0, now - v.shift_start_ts)
        else:
            work = 0.0
        b.loads[v.id] = [n_orders[v.id], work]
        b.groups[v.id] = peer_key(v)
    return b


# ---------------------------------------------------------------------- plan balance


def split_caps(vehicles: Iterable[Any], routes: dict[str, list], current: dict[str, list],
               slack: float = PLAN_SLACK) -> dict[str, float]:
    """Vehicle id -> its ``count`` cap in the balanced plan: ``ceil(slack x N_g / n_g)``,
    ``N_g`` the orders that ``routes`` (the unbalanced plan) gives the ``n_g`` depot
    vehicles of the peer group ``g`` (:func:`peer_key`), never below the orders already
    on the vehicle's route (``current``) or on board, never above its own ``count``
    capacity.  Only groups of two or more depot vehicles are capped; ``slack`` <= 0:
    no cap."""
    if slack <= 0:
        return {}
    depot = [v for v in vehicles if v.status == AT_DEPOT]
    members: dict[tuple, list] = {}
    for v in depot:
        members.setdefault(peer_key(v), []).append(v)
    caps: dict[str, float] = {}
    for vs in members.values():
        if len(vs) < 2:
            continue
        n = sum(len({oid for oid, _k in routes.get(v.id, [])}) for v in vs)
        share = float(math.ceil(slack * n / len(vs) - 1e-9))
        for v in vs:
            have = len({oid for oid, _k in current.get(v.id, [])} | set(v.onboard))
            cap = max(share, float(have))
            own = v.capacity.get("count")
            caps[v.id] = cap if own is None else min(float(own), cap)
    return caps


def late_stops(p: Any, routes: dict[str, list]) -> int:
    """Stops of ``routes`` whose service starts after their window end, on the
    problem's own (planning) travel times."""
    from fleetstream.operators.routing.checker import check_route
    from fleetstream.operators.state import PICKUP
    n = 0
    for vid, stops in routes.items():
        if not stops:
            continue
        rep = check_route(p, vid, list(stops))
        for (jid, kind), start in zip(stops, rep.starts):
            j = p.job(jid)
            w1 = (j.pickup_window if kind == PICKUP else j.window)[1]
            if start > w1 + 1e-6:
                n += 1
    return n


def _loads(routes: dict[str, list]) -> dict[str, int]:
    return {vid: len({oid for oid, _k in stops}) for vid, stops in routes.items()}


def balanced_plan(strategy: Any, vehicles: list, orders: list, current: dict[str, list],
                  now: float, tt: Any, dist: Any, slack: float = PLAN_SLACK,
                  km_tolerance: float = PLAN_KM_TOLERANCE) -> tuple[Any, Any] | None:
    """The zone plan with workload balance (module docstring, "Plan balance"):
    ``strategy`` an ORToolsStrategy (or a subclass: its config, budget and backend).
    Returns ``(PlanResult, Problem)`` like ``strategy.plan``."""
    from fleetstream.operators.routing import solver
    from fleetstream.operators.routing.engine_adapter import build_problem, materialise
    if not vehicles:
        return None
    cfg = strategy.config
    built = build_problem(vehicles, orders, current, now, tt, dist, cfg)
    p = materialise(built.problem)
    budget = cfg.guarded(cfg.plan_budget)

    def solve(prob: Any) -> Any:
        return solver.plan(prob, budget, built.routes, hard_first=True, span_cost=False,
                           backend=strategy.backend)

    base = solve(p)
    caps = split_caps(vehicles, base.routes, current, slack)
    loads = _loads(base.routes)
    info: dict[str, Any] = {"kept": "unbalanced", "reason": "no vehicle above its cap"}
    base.stats["plan_balance"] = info
    if not any(loads.get(vid, 0) > cap for vid, cap in caps.items()):
        return base, p
    vs = [replace(v, capacity={**v.capacity, "count": caps[v.id]}) if v.id in caps else v
          for v in p.vehicles]
    p2 = solver._with(p, vehicles=vs, fairness_cost_per_stop=0.0)
    bal = solve(p2)
    late0, late1 = late_stops(p, base.routes), late_stops(p, bal.routes)
    info.update({"late_stops": [late0, late1], "unassigned": [len(base.unassigned),
                 len(bal.unassigned)], "km": [round(base.distance / 1000.0, 1),
                 round(bal.distance / 1000.0, 1)]})
    if late1 > late0:
        info["reason"] = "more late stops"
    elif len(bal.unassigned) > len(base.unassigned):
        info["reason"] = "more orders left out"
    elif bal.distance > (1.0 + km_tolerance) * base.distance:
        info["reason"] = "more distance than the tolerance"
    else:
        info.update(kept="balanced", reason="no more late stops, orders left out or distance")
        bal.stats["plan_balance"] = info
        return bal, p
    return base, p
