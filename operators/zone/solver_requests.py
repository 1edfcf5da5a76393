"""The solver side of assignment: the plain, picklable requests the zone plan and the
periodic re-optimization ship to a solver job (:class:`PlanRequest`,
:class:`ReoptRequest` of :class:`ReoptJob`), the pure functions that solve them
(:func:`solve_plan`, :func:`solve_reopt`: no engine, no zone state, so a result is the
same inline or in another process), and the helpers that build them.

Split out of :mod:`operators.zone.assignment`, which re-exports every name here; the
three steps (request, solve, apply) are described there and in docs/architecture.md,
"Solver jobs".
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field, replace
from typing import Any

from fleetstream.operators.knowledge import relocate_to_knowers
from fleetstream.operators.routing.solver import PlanResult, RerouteResult
from fleetstream.operators.state import DELIVERY, PICKUP, Order, Vehicle
from fleetstream.operators.zone.world import TravelModel


def _copies(x: Any) -> Any:
    """Independent copies of plain state for a solver request: a pickle round trip,
    3x faster than ``copy.deepcopy`` (9 vs 27 ms for a zone of 833 orders)."""
    return pickle.loads(pickle.dumps(x, protocol=pickle.HIGHEST_PROTOCOL))


def as_stops(seq: list) -> list[tuple[str, str]]:
    """A solver's stop sequence as route stops (``(order_id, PICKUP|DELIVERY)``)."""
    return [(oid, PICKUP if k == PICKUP else DELIVERY) for oid, k in seq]


@dataclass
class PlanRequest:
    """Everything the zone plan needs, as plain copies (picklable)."""

    vehicles: list[Vehicle]          # the depot vehicles (copies), by id
    orders: list[Order]              # pending orders and those on their routes (copies), by id
    current: dict[str, list]         # the depot vehicles' routes now
    now: float
    travel: TravelModel
    strategy: Any                    # a RoutingStrategy
    # Hard-access stops to drivers who know them (operators/knowledge.py): order id ->
    # the drivers who delivered at its customer's door, and the price of giving it to
    # another (engine.access_knowledge_price; 0: the solver's plan as it is).
    known: dict = field(default_factory=dict)
    knowledge_price: float = 0.0


def solve_plan(req: PlanRequest) -> PlanResult | None:
    """The zone plan of ``req`` (pure: no engine, no zone state), with hard-access
    deliveries moved to drivers who know the door when that pays
    (:func:`operators.knowledge.relocate_to_knowers`; ``stats["knowledge_moves"]``)."""
    ans = req.strategy.plan(req.vehicles, req.orders, req.current, req.now, req.travel.tt,
                            req.travel.dist)
    if ans is None:
        return None
    res = ans[0]
    if req.knowledge_price > 0.0 and req.known:
        routes, moves = relocate_to_knowers(
            {vid: as_stops(r) for vid, r in res.routes.items()}, req.vehicles,
            {o.id: o for o in req.orders}, req.now, req.travel.tt, req.travel.dist,
            req.known, req.knowledge_price)
        res = replace(res, routes=routes, stats={**res.stats, "knowledge_moves": moves})
    return res


@dataclass
class ReoptJob:
    """One route for periodic re-optimization (``skip``: unchanged since it was
    judged, nothing to solve)."""

    vehicle_id: str
    route: list[tuple[str, str]]
    skip: bool = False
    vehicle: Vehicle | None = None   # copy
    orders: dict[str, Order] = field(default_factory=dict)  # copies of the route's orders
    keep_first: bool = False
    time_factor: float = 1.0
    # -- plan stability (operators/zone/stability.py): the route's first ``frozen``
    # stops stay as they are; ``vehicle`` then starts at the next one (kept first,
    # ``keep_first``), whose planned service start is ``start_ts``.
    frozen: int = 0
    start_ts: float | None = None


@dataclass
class ReoptRequest:
    now: float
    conds: tuple                     # event ids of the conditions active at ``now``
    jobs: list[ReoptJob]
    travel: TravelModel
    strategy: Any


def solve_reopt(req: ReoptRequest) -> list[RerouteResult | None]:
    """One re-route result (or None) per job of ``req`` (pure)."""
    return [None if j.skip else req.strategy.reroute_result(
        j.vehicle, j.orders, req.now if j.start_ts is None else j.start_ts, req.travel.tt,
        req.travel.dist, keep_first=j.keep_first, time_factor=j.time_factor) for j in req.jobs]
