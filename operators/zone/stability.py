"""Plan stability: a frozen horizon at the head of every route.

A customer told "your driver arrives at 10:40" must be able to rely on it.  The
engine's own decisions were the main reason an ETA did not hold: on simulated
Andorra days a periodic re-optimization, a late-risk re-route or a redispatch
changed the stops ahead of 18 % of the predictions 10-30 minutes ahead (the
re-sequenced or inserted stops cost them +28 minutes at the median), while the
travel-time and service-time errors of plans that held stayed within -11..+14
minutes (docs/models.md, "What makes the intervals wide").

So the head of a route is a commitment (the practice of most dispatch
operations; on by default: 1800 s and at least 1 stop): the stops planned to be
reached within ``plan_frozen_s`` of now, and at least the first
``plan_frozen_stops``, keep their order and their vehicle when the engine
re-sequences its plan (periodic re-optimization), and no new order's stop is
inserted in front of them (insertion starts after the head: ``Timing.min_pos``,
set by the sweep's assignment).  What comes after the frozen head is optimized as
before, starting from the last frozen stop at its planned service start.  The stop
being served always stays first (it was so before).  Retried attempts, customer
replies and the hand-over of a broken-down vehicle's load (operators/zone/recovery.py)
also place their stops after the head.

The exception responses (the late-risk re-route and redispatch, the failure-risk
move of a risky delivery, contact.py) are bound as ``plan_frozen_exceptions`` says
(:func:`exception_frozen_settings`, :func:`head_for_risk`): by default (``at_risk``)
the stops at risk may jump the queue, but a late-risk re-route keeps the head's
other stops first and in their order; ``free``: exceptions may re-sequence the head;
``bound``: they respect it like the plan.  A predicted exception is the reason to
break a commitment, and binding the exceptions cost closed-loop targets, while a
free re-route moved the near ETAs of customers not at risk by tens of minutes
(docs/models-intervals.md, "The frozen horizon is the default").  Not
frozen either: what the world imposes (cancellations, failed or served stops, a
dispatcher's manual change) and the late-risk order itself when a redispatch moves
it to another vehicle (the reason for the move).

Times are the routing's planned ones (``route_timing`` with the engine's travel
model from the vehicle's position at the decision's event time): no clock, the
same answer on every replay.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

from fleetstream.operators.dispatch import route_timing
from fleetstream.operators.state import DELIVERY, ONBOARD, PICKUP, Order, Vehicle
from fleetstream.operators.zone.world import start_of


def frozen_count(v: Vehicle, orders: dict[str, Order], now: float, tt: Callable,
                 frozen_s: float, frozen_stops: int, arrive: list | None = None,
                 route: list | None = None) -> int:
    """How many leading stops of ``v``'s route (or of ``route``, stops ``v`` would
    drive instead) are frozen at ``now``: the first ``frozen_stops``, then every
    further stop planned to be reached by ``now + frozen_s`` (the stop being served
    counts as one).  ``arrive``: the planned arrivals of that route from
    ``start_of(v, now)``, when the caller has them (``route_timing(...).arrive``; else
    they are computed)."""
    route = v.route if route is None else route
    n = len(route)
    k = min(n, max(0, int(frozen_stops)))
    if v.at_stop is not None and n:
        k = max(k, 1)
    if frozen_s > 0 and k < n:
        if arrive is None:
            pos, ts = start_of(v, now)
            arrive = route_timing(v, [tuple(s) for s in route], orders, pos, ts, tt).arrive
        limit = now + frozen_s
        while k < n and arrive[k] <= limit:
            k += 1
    return k


def restart_after(v: Vehicle, orders: dict[str, Order], k: int, now: float,
                  tt: Callable) -> tuple[Vehicle, dict[str, Order], float]:
    """A copy of ``v`` whose route starts at its ``k``-th stop (``k >= 1``: the last
    frozen one, to be kept first), the orders as that copy sees them, and the planned
    service start at that stop: what a re-sequencing of the rest of the route needs.

    Pickups made in the frozen head are on board by then (their deliveries are in
    the rest); deliveries made in it are off board."""
    route = [tuple(s) for s in v.route]
    pos, ts = start_of(v, now)
    timing = route_timing(v, route, orders, pos, ts, tt)
    done = route[:k - 1]
    picked = {oid for oid, kind in done if kind == PICKUP}
    dropped = {oid for oid, kind in done if kind != PICKUP}
    vc = copy.copy(v)
    vc.route = route[k - 1:]
    vc.onboard = [oid for oid in v.onboard if oid not in dropped] + sorted(
        oid for oid in picked if oid not in v.onboard and oid not in dropped)
    vc.at_stop = None
    seen = orders
    if picked:
        seen = dict(orders)
        for oid in picked:
            o = copy.copy(orders[oid])
            o.status = ONBOARD
            seen[oid] = o
    return vc, seen, timing.start[k - 1]


def keep_head(new: list, head: list) -> list:
    """``new`` with ``head`` (the frozen stops still on the route) first, in their
    order, and the rest of ``new`` in its order."""
    if new[:len(head)] == head:
        return new
    fixed = set(head)
    return list(head) + [s for s in new if s not in fixed]


def head_for_risk(seq: list, head: list, at_risk: set[str]) -> list:
    """A late-risk re-route ``seq`` that keeps the frozen ``head`` except for the stops
    at risk: the head's stops come first and in their order, with the stops of the
    ``at_risk`` orders that ``seq`` put among (or before) them where it put them; every
    other stop follows in ``seq``'s order.  ``seq`` itself when the head is empty or
    when the result would put a pickup after its delivery.

    The exception is the reason to break the commitment, so the stops at risk may jump
    the queue; the other customers of the next half hour keep their order (a free
    re-route re-sequenced them too: on simulated Andorra days that was most of what
    moved the ETAs under 30 minutes ahead by tens of minutes)."""
    seq = [tuple(s) for s in seq]
    on = set(seq)
    kept = [tuple(s) for s in head if s[0] not in at_risk and tuple(s) in on]
    fixed = set(kept)
    at = [i for i, s in enumerate(seq) if s in fixed]
    if not at:
        return seq
    last = at[-1]
    front = [s for s in seq[:last + 1] if s in fixed or s[0] in at_risk]
    rest = [s for s in seq[:last + 1] if not (s in fixed or s[0] in at_risk)] + seq[last + 1:]
    order = iter(kept)
    front = [next(order) if s in fixed else s for s in front]
    out = front + rest
    pos = {s: i for i, s in enumerate(out)}
    if any(k == DELIVERY and pos.get((oid, PICKUP), -1) > i for (oid, k), i in pos.items()):
        return seq
    return out


def frozen_settings(settings: Any) -> tuple[float, int]:
    """``(plan_frozen_s, plan_frozen_stops)`` of an EngineSettings."""
    return (float(getattr(settings, "plan_frozen_s", 0.0)),
            int(getattr(settings, "plan_frozen_stops", 0)))


def exception_frozen_settings(settings: Any) -> tuple[float, int]:
    """The frozen head the exception responses respect (the late-risk re-route and
    redispatch, the failure-risk move of a risky delivery): the plan's
    (:func:`frozen_settings`) when ``plan_frozen_exceptions`` is ``bound``, else none
    (``at_risk`` then keeps the head's order in a late-risk re-route afterwards:
    :func:`risk_head_settings`).

    A predicted exception is a reason to break a commitment: on simulated Andorra
    days, binding the late-risk and failure-risk responses to the frozen head cost
    one closed-loop target on each seed set, while binding only the plan's own
    changes (insertion, periodic re-optimization) kept every target and halved the
    arrival error (docs/models-intervals.md, "The frozen horizon")."""
    if getattr(settings, "plan_frozen_exceptions", "at_risk") == "bound":
        return frozen_settings(settings)
    return (0.0, 0)


def risk_head_settings(settings: Any) -> tuple[float, int]:
    """The head a late-risk re-route keeps but for the stops at risk
    (:func:`head_for_risk`): the plan's with ``plan_frozen_exceptions = "at_risk"``
    (the default), else none (``free``; ``bound`` keeps it whole already)."""
    if getattr(settings, "plan_frozen_exceptions", "at_risk") == "at_risk":
        return frozen_settings(settings)
    return (0.0, 0)


def kept_head_settings(settings: Any) -> tuple[float, int]:
    """The head an exception's decision keeps (whole under ``bound``, but for the stops
    at risk under ``at_risk``): the plan's (:func:`frozen_settings`) unless
    ``plan_frozen_exceptions`` is ``free``."""
    bound = exception_frozen_settings(settings)
    return bound if bound != (0.0, 0) else risk_head_settings(settings)
