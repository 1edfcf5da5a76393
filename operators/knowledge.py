"""Hard-access stops to drivers who know them (issue 9 item 5; docs/routing.md,
"Drivers who know the door").

An address with access instructions (a gate code, a courtyard, a badge at the
reception) fails far more often for access than others, and a driver who has been
inside before knows the way.  What the engine knows of it comes from order events
only: each customer record keeps, per driver, the deliveries made there
(``known_by``) and the attempts that failed for access (``access_failed_by``)
(:func:`note_driver`, called when an order ends).  It keeps them across days as the
rest of the customer record.

``engine.access_knowledge_price`` (currency, 0: off) is what the routing pays for
giving a **hard-access** delivery (the customer's profile has access instructions,
or an attempt there failed for access) to a driver who has not delivered there
while a driver who has is among the vehicles that could take it:

- the cheapest insertion of a new order adds the price to the insertion cost of
  each candidate whose driver does not know the door (the knowing drivers of the
  zone join the candidates): :func:`order_penalties`, :class:`KnowledgeTerm`;
- the zone plan, after the solver: each hard-access delivery planned on a vehicle
  whose driver does not know the door moves to the cheapest feasible place on a
  knowing driver's route when that costs less than the price
  (:func:`relocate_to_knowers`: distance and time at each vehicle's own prices, no
  new lateness), in order id order, each delivery at most once.

No wall clock, no randomness: the same events give the same routes.
"""

from __future__ import annotations

import copy
from typing import Any, Iterable

from fleetstream.operators.dispatch import best_insertion, inserted_route, route_timing
from fleetstream.operators.state import DELIVERY


def note_driver(c: dict, v: Any, failed: bool, reason: str | None) -> None:
    """Remember on customer record ``c`` that ``v``'s driver delivered there (or failed
    for access).  A vehicle without a driver id, or unknown (None), leaves no trace.

    >>> class V: driver_id = "d1"
    >>> c = {}
    >>> note_driver(c, V(), False, None); note_driver(c, V(), True, "access")
    >>> c
    {'known_by': {'d1': 1}, 'access_failed_by': {'d1': 1}}
    >>> note_driver(c, V(), True, "not_home"); c["known_by"]
    {'d1': 1}
    """
    d = getattr(v, "driver_id", None) if v is not None else None
    if not d:
        return
    if not failed:
        k = c.setdefault("known_by", {})
        k[d] = k.get(d, 0) + 1
    elif reason == "access":
        k = c.setdefault("access_failed_by", {})
        k[d] = k.get(d, 0) + 1


def hard_access(c: dict | None) -> bool:
    """A customer whose door is hard to get through: access instructions in its
    profile, or an attempt there that failed for access.

    >>> hard_access({"access_instructions": "gate code 4711"}), hard_access({})
    (True, False)
    >>> hard_access({"access_failures": 1}), hard_access(None)
    (True, False)
    """
    return bool(c) and bool(c.get("access_instructions") or c.get("access_failures"))


def knows(c: dict | None, driver_id: str | None) -> bool:
    """Whether ``driver_id`` has delivered at customer ``c`` before.

    >>> knows({"known_by": {"d1": 2}}, "d1"), knows({"known_by": {"d1": 2}}, "d2")
    (True, False)
    """
    return bool(c) and bool(driver_id) and (c.get("known_by") or {}).get(driver_id, 0) > 0


def knowers(c: dict | None) -> frozenset[str]:
    """The drivers who delivered at a hard-access customer ``c`` (empty otherwise).

    >>> sorted(knowers({"access_instructions": "x", "known_by": {"d2": 1, "d1": 3}}))
    ['d1', 'd2']
    >>> knowers({"known_by": {"d1": 1}})
    frozenset()
    """
    if not hard_access(c):
        return frozenset()
    return frozenset(d for d, n in (c.get("known_by") or {}).items() if n > 0)


def order_penalties(known: frozenset[str], vehicles: Iterable[Any], price: float) -> dict[str, float]:
    """Per vehicle id, the price of giving the delivery to its driver: ``price`` for a
    driver outside ``known`` when one of ``vehicles`` has a driver in it, else nothing.

    >>> class V:
    ...     def __init__(self, i, d): self.id, self.driver_id = i, d
    >>> order_penalties(frozenset({"d1"}), [V("v1", "d1"), V("v2", "d2")], 20.0)
    {'v2': 20.0}
    >>> order_penalties(frozenset({"d9"}), [V("v1", "d1")], 20.0)
    {}
    """
    if price <= 0.0 or not known:
        return {}
    vs = list(vehicles)
    if not any(v.driver_id in known for v in vs):
        return {}
    return {v.id: price for v in vs if v.driver_id not in known}


class KnowledgeTerm:
    """The zone's workload balance (``operators.balance.Balance`` or None) with a
    constant per vehicle added to an insertion's cost (the cheapest insertion reads
    only :meth:`coefficients`, via ``operators.dispatch.with_balance``)."""

    __slots__ = ("balance", "extra")

    def __init__(self, balance: Any, extra: dict[str, float]):
        self.balance = balance
        self.extra = extra

    def coefficients(self, vid: str, d_orders: float = 1.0) -> tuple[float, float, float]:
        a, b, c = (self.balance.coefficients(vid, d_orders) if self.balance is not None
                   else (0.0, 0.0, 0.0))
        return a + self.extra.get(vid, 0.0), b, c


def _route_cost(v: Any, stops: list, orders: dict, now: float, tt: Any, dist: Any) -> float:
    """Distance and working time of ``v`` over ``stops`` at its own prices (from its
    start at ``now`` to its end)."""
    t = route_timing(v, stops, orders, v.start, max(now, v.shift_start_ts), tt)
    m, prev = 0.0, v.start
    for oid, kind in stops:
        p = orders[oid].stop_point(kind)
        m += dist(prev, p)
        prev = p
    m += dist(prev, v.end)
    return m * v.cost_per_km / 1000.0 + (t.end_ts - max(now, v.shift_start_ts)) * v.cost_per_hour / 3600.0


def relocate_to_knowers(routes: dict[str, list], vehicles: list, orders: dict, now: float,
                        tt: Any, dist: Any, known: dict[str, frozenset], price: float
                        ) -> tuple[dict[str, list], list[dict]]:
    """The zone plan's ``routes`` with hard-access deliveries moved to drivers who know
    the door (module doc), and one record per move.  ``vehicles``: the planned depot
    vehicles (their routes are not read), ``orders``: id -> order, ``known``: order
    id -> drivers who know its customer's door.  Only deliveries without a pickup stop
    on the route (parcels loaded at the depot) move."""
    if price <= 0.0 or not known:
        return routes, []
    by_id = {v.id: v for v in vehicles}
    routes = {vid: [tuple(s) for s in r] for vid, r in routes.items()}
    moves: list[dict] = []
    for oid in sorted(known):
        drivers = known[oid]
        src = next((vid for vid in sorted(routes) if (oid, DELIVERY) in routes[vid]), None)
        if src is None or src not in by_id or by_id[src].driver_id in drivers:
            continue
        if any(s[0] == oid and s[1] != DELIVERY for s in routes[src]):
            continue
        targets = [vid for vid in sorted(by_id) if by_id[vid].driver_id in drivers and vid != src]
        if not targets:
            continue
        o = orders[oid]
        sv = by_id[src]
        base = [s for s in routes[src] if s != (oid, DELIVERY)]
        saving = (_route_cost(sv, routes[src], orders, now, tt, dist)
                  - _route_cost(sv, base, orders, now, tt, dist))
        best = None
        for vid in targets:
            tv = replace_route(by_id[vid], routes.get(vid, []))
            ins, _why = best_insertion(o, tv, orders, now, tt, dist)
            if ins is not None and (best is None or ins.cost < best[0].cost):
                best = (ins, vid, tv)
        if best is None:
            continue
        ins, vid, tv = best
        if ins.cost - saving >= price:
            continue
        routes[src] = base
        routes[vid] = inserted_route(tv.route, ins)
        moves.append({"order_id": oid, "driver_id": by_id[vid].driver_id, "price": price,
                      "moved_from": src, "vehicle_id": vid,
                      "added_cost": round(ins.cost - saving, 2)})
    return routes, moves


def replace_route(v: Any, stops: list) -> Any:
    """A shallow copy of vehicle ``v`` whose route is ``stops`` (for costing)."""
    w = copy.copy(v)
    w.route = [tuple(s) for s in stops]
    return w
