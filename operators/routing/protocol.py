"""The zone engine's routing seat: one protocol, every verb.

Every routing strategy implements all the verbs below; a verb a strategy does not
support returns ``None`` ("no change / no answer"), so the engine calls the verbs
directly instead of probing with ``hasattr``.

- ``insert``: cheapest feasible insertion of one order among candidate vehicles;
- ``plan``: the whole zone (depot vehicles and their orders) from scratch;
- ``reroute_result``: a better sequence of one vehicle's remaining stops;
- ``redispatch``: move orders away from a vehicle where the gain beats a change cost;
- ``reroute``: the legacy one-verb re-sequence (a stop list or None).

Rules every implementation follows (``tests/routing/test_strategy_conformance.py``):
deterministic (same inputs, same outputs: searches bounded by counts, never by the
wall clock), no verb mutates its inputs (vehicles, orders, routes), every emitted
plan and re-route passes :mod:`operators.routing.checker`, and the strategy object
pickles (it is shipped to solver processes).  A wall-clock guard that cuts a search
is reported (``PlanResult.stats["guard_hit"]``, ``RerouteResult.guard_hit``,
``RedispatchResult.guard_hit``), never silent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Protocol, runtime_checkable

if TYPE_CHECKING:  # pragma: no cover - types only (no import cycle with dispatch)
    from fleetstream.operators.balance import Balance
    from fleetstream.operators.dispatch import Insertion, Rejection, Timing
    from fleetstream.operators.routing.engine_adapter import RoutingConfig
    from fleetstream.operators.routing.solver import PlanResult, RedispatchResult, RerouteResult
    from fleetstream.operators.state import Order, Vehicle

Point = tuple[float, float]
TravelFn = Callable[[Point, Point, float], float]
DistFn = Callable[[Point, Point], float]
VERBS = ("insert", "plan", "reroute_result", "redispatch", "reroute")


@runtime_checkable
class RoutingStrategy(Protocol):
    """The routing seat of the zone engine.  Implementations must be deterministic
    and picklable, and must not mutate their arguments."""

    name: str
    config: "RoutingConfig | None"

    def insert(self, o: "Order", candidates: "list[Vehicle]", orders: "dict[str, Order]",
               now: float, tt: TravelFn, dist: DistFn,
               timings: "dict[str, Timing] | None" = None,
               balance: "Balance | None" = None) -> "tuple[Insertion | None, Rejection]":
        """Cheapest feasible insertion of ``o`` among ``candidates`` (None and the
        per-constraint rejection counts when no vehicle can take it).  ``balance``: the
        zone's workload balance and fleet use costs for this sweep
        (:class:`operators.balance.Balance`; docs/routing.md, "Workload balance")."""
        ...

    def plan(self, vehicles: "list[Vehicle]", orders: "list[Order]",
             current: dict[str, list], now: float, tt: TravelFn,
             dist: DistFn) -> "tuple[PlanResult, Any] | None":
        """A plan of the whole zone and the problem it solved, or None."""
        ...

    def reroute_result(self, v: "Vehicle", orders: "dict[str, Order]", now: float,
                       tt: TravelFn, dist: DistFn, keep_first: bool = False,
                       time_factor: float = 1.0) -> "RerouteResult | None":
        """A re-sequence of ``v``'s remaining stops (``keep_first``: the stop being
        served stays first and is not in the result), or None."""
        ...

    def redispatch(self, v: "Vehicle", order_ids: list[str], candidates: "list[Vehicle]",
                   orders: "dict[str, Order]", now: float, tt: TravelFn,
                   dist: DistFn) -> "RedispatchResult | None":
        """Moves of ``order_ids`` from ``v`` to ``candidates``, or None."""
        ...

    def reroute(self, v: "Vehicle", orders: "dict[str, Order]", now: float,
                tt: TravelFn) -> "list[tuple[str, str]] | None":
        """A better stop sequence for ``v``, or None to keep it."""
        ...


__all__ = ["RoutingStrategy", "VERBS", "TravelFn", "DistFn"]
