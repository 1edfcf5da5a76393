"""Small rules of the risk response (operators/zone/response.py): whether a re-route
pays for its km, route distance, which at-risk orders may move, the route and
timing look-ups the response and its solver jobs share, and the late risk at which an
answered stop is still at risk (:func:`still_at_risk_level`).  Pure functions of their
arguments."""

from __future__ import annotations

from typing import Any

from fleetstream.operators.dispatch import Timing
from fleetstream.operators.state import ASSIGNED, AT_DEPOT, DELIVERY, Order, Vehicle
from fleetstream.operators.zone.world import TravelModel

STILL_AT_RISK = 0.5
"""Late risk from which a stop answered a cooldown or more ago (its flag still set) is
alerted as still at risk: even odds or worse of missing its window.  The answer left
it unalerted when the plan timed it on time (``Response.late_by_plan``, a re-route the
plan judged enough, a move); as the arrival nears the risk of such a stop settles
near its ETA slack, so one that will arrive a few minutes late sits at 0.5-0.6 and
never reaches ``late_risk_on`` again (docs/models-risk.md, late risk)."""


def still_at_risk_level(on: float, rearm: float) -> float:
    """The still-at-risk level for the flag thresholds ``on`` and ``rearm``
    (operators/zone/forecasting.py ``thresholds``): :data:`STILL_AT_RISK`, never above
    ``on`` (a stop at the flag level is at risk) nor under ``rearm`` (under it the flag
    is re-armed: the answer worked).

    >>> still_at_risk_level(0.6, 0.45), still_at_risk_level(0.4, 0.3), still_at_risk_level(0.9, 0.6)
    (0.5, 0.4, 0.6)
    """
    return min(on, max(rearm, STILL_AT_RISK))


def reroute_pays(v: Vehicle, cur: list, seq: list, before: Timing, after: Timing,
                 orders: dict[str, Order], travel: TravelModel, cfg: Any) -> bool:
    """Is the re-sequencing ``cur`` -> ``seq`` of ``v`` worth deciding?  It must lower
    the predicted lateness; with a km price (``RoutingConfig.km_surcharge`` > 0) the
    lateness it saves, at ``lateness_cost_per_min``, must also exceed the km it adds
    (planning distance from the vehicle's position to its end) at the vehicle's cost
    per km plus the surcharge.  A sequence that adds no km needs only the first."""
    gain_s = before.lateness_s - after.lateness_s
    if gain_s <= 0:
        return False
    price = 0.0 if cfg is None else cfg.km_surcharge
    if price <= 0:
        return True
    added_km = (route_m(v, seq, orders, travel) - route_m(v, cur, orders, travel)) / 1000.0
    if added_km <= 0:
        return True
    return gain_s / 60.0 * cfg.lateness_cost_per_min > added_km * (v.cost_per_km + price)


def route_m(v: Vehicle, stops: list, orders: dict[str, Order], travel: TravelModel) -> float:
    """Planning distance (metres) from ``v``'s position over ``stops`` to its end."""
    d, prev = 0.0, v.pos
    for oid, kind in stops:
        o = orders.get(oid)
        if o is None:
            continue
        pt = o.stop_point(kind)
        d += travel.dist(prev, pt)
        prev = pt
    return d + travel.dist(prev, v.end)


def movable_orders(v: Vehicle, at_risk: list[str], orders: dict[str, Order]) -> list[str]:
    """The at-risk orders that can still move (not on board)."""
    return [oid for oid in at_risk if orders[oid].status == ASSIGNED and (
        orders[oid].kind == "on_demand" or v.status == AT_DEPOT)]


def plain(o: Order) -> dict:
    """An order's plain data without its prediction snapshots (what a routing search
    reads, nothing more)."""
    return {**o.dump(), "snaps": [], "wsnaps": {}}


def unchanged(cur: list, was: list) -> bool:
    """Is ``cur`` the route ``was`` less the stops served since (a prefix)?"""
    return cur == was[len(was) - len(cur):] if len(cur) <= len(was) else False


def kept_order(solved: list, cur: list, keep_first: bool) -> list:
    """The stops of ``cur`` in the ``solved`` order (the stop being served first)."""
    left = set(cur)
    seq = [s for s in solved if s in left and not (keep_first and s == cur[0])]
    return ([cur[0]] if keep_first and cur else []) + seq


def eta_of(v: Vehicle, oid: str) -> float | None:
    """The last predicted arrival at ``oid``'s delivery on ``v``'s route."""
    for i, (sid, kind) in enumerate(v.route):
        if sid == oid and kind == DELIVERY and i < len(v.etas):
            return v.etas[i]
    return None


def still_late(seq: list, oid: str, timing: Timing) -> bool:
    for i, (sid, kind) in enumerate(seq):
        if sid == oid and kind == DELIVERY and i < len(timing.start):
            return timing.start[i] > timing.window_end[i]
    return True


def lateness_of(v: Vehicle, oid: str, timing: Timing) -> float:
    for i, (sid, kind) in enumerate(v.route):
        if sid == oid and kind == DELIVERY:
            return max(0.0, timing.start[i] - timing.window_end[i])
    return 0.0
