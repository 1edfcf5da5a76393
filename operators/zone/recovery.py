"""Recovery of work (docs/routing.md, "Recovery of work").

Three rules, all in event time:

1. **A failed attempt re-enters dispatch** when its reason is retryable
   (:data:`RETRYABLE`: ``not_home``, ``access``: the customer or the door may be there
   later), the order has had fewer than :data:`MAX_ATTEMPTS` attempts, and the vehicle
   that carries it (the parcel is on board: nobody else can deliver it) has a feasible
   place for the delivery not before ``failure + RETRY_DELAY_S`` and within the order's
   window (the window start is raised to that time; the customer's access hours were
   already folded into the window at creation).  The order stays on board, an
   ``assign`` decision puts the delivery back on the route and names the failed attempt
   as its root cause (``root_causes`` type ``order_failed``).  Otherwise (``refused``,
   ``damaged``, ``other``, attempts used up, no time left in the window) the failure is
   final: outcome ``failed`` with the driver's reason, and an ``order_not_served``
   message that says why and that the customer will be contacted for a new delivery
   (the parcel goes back with the driver).
2. **A vehicle that breaks down or ends its shift with orders on board** hands them
   over: each becomes a pickup-and-delivery job whose pickup is the vehicle's last
   known position with a transfer service time of :data:`TRANSFER_S` (the routing
   model has pickups: on-demand orders use them), offered to the other vehicles by
   cheapest feasible insertion (a ``redispatch`` decision whose root cause is the
   ``vehicle_unavailable`` or ``shift_end`` event).  Orders not yet picked up go back
   to normal dispatch (as before).
3. **No silent order**: an order that no vehicle has when its window closes, and that
   dispatch could not place (it raised an ``unassigned`` alert) or that was stranded
   and not collected, ends at the next housekeeping pass with outcome ``not_served``
   and a reason, an ``order_not_served`` message with the reason, and (stranded, when
   not alerted yet) an ``unassigned`` alert (critical) for the dispatcher.  An order
   dispatch never tried (no vehicle in service at all) is left to expiry
   (``limits.order_grace_s``, operators/zone/retention.py).

What recovery remembers per order (attempts, the vehicle it was stranded on) lives in
the customer's record of the zone state (``customers[cid]["recovery"][order_id]``),
so it is in every snapshot and goes when the order finishes.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from fleetstream.operators.dispatch import best_insertion, inserted_route, route_timing
from fleetstream.operators.routing.constraints import engine_drive_left
from fleetstream.operators.state import DELIVERY, ONBOARD, PENDING, Order, Vehicle
from fleetstream.operators.zone.records import Emitter, Explanation, Out
from fleetstream.operators.zone.state import ZoneState
from fleetstream.operators.zone.stability import (exception_frozen_settings, frozen_count,
                                                  frozen_settings)
from fleetstream.operators.zone.world import start_of

RETRYABLE = ("not_home", "access")
"""Failure reasons worth another attempt the same day (the contract's FAIL_REASONS are
not_home, access, refused, damaged, other; refused, damaged and other are final)."""
MAX_ATTEMPTS = 2
"""Delivery attempts per order and day (the first one and at most one retry)."""
RETRY_DELAY_S = 1800.0
"""Earliest retry after a failed attempt: the customer gets time to come home."""
TRANSFER_S = 300.0
"""Service time of a hand-over from a vehicle that dropped out (pickup at that vehicle)."""

NOT_SERVED = "not_served"
FINAL_REASON = {"not_home": "attempt_not_home", "access": "attempt_access",
                "refused": "attempt_refused", "damaged": "attempt_damaged"}
"""The order_not_served message reason (operators/notify.py) per final failure reason."""


def memo(state: ZoneState, o: Order, create: bool = True) -> dict | None:
    """What recovery remembers of order ``o`` (in its customer's record)."""
    c = state.customers.get(o.customer_id)
    if c is None:
        if not create:
            return None
        c = state.customers[o.customer_id] = {"language": "en"}
    rec = c.get("recovery")
    if rec is None:
        if not create:
            return None
        rec = c["recovery"] = {}
    m = rec.get(o.id)
    if m is None and create:
        m = rec[o.id] = {}
    return m


def forget(state: ZoneState, o: Order) -> None:
    """The order finished: recovery forgets it."""
    c = state.customers.get(o.customer_id)
    rec = c.get("recovery") if c else None
    if rec and o.id in rec:
        del rec[o.id]
        if not rec:
            del c["recovery"]


class Recovery:
    """The recovery rules over one zone's state (see the module doc)."""

    def __init__(self, state: ZoneState, world: Any, governance: Any, emit: Emitter):
        self.state = state
        self.world = world
        self.governance = governance
        self.emit = emit

    # ------------------------------------------------------------------ failed attempts

    def retry(self, ev: Any, o: Order, v: Vehicle | None, out: list[Out]) -> str | None:
        """A failed attempt of ``o`` (``ev``: order_failed) on ``v``: put the delivery back
        on ``v``'s route and return None, or return why it is final."""
        st = self.state
        m = memo(st, o)
        m["attempts"] = m.get("attempts", 0) + 1
        if ev.reason not in RETRYABLE:
            return f"{ev.reason}: not retried (only {', '.join(RETRYABLE)} are)"
        if m["attempts"] >= MAX_ATTEMPTS:
            return f"{ev.reason}: attempt {m['attempts']} of at most {MAX_ATTEMPTS}"
        if v is None or not v.available or o.status != ONBOARD or o.vehicle_id != v.id:
            return f"{ev.reason}: the vehicle carrying it is out of service"
        if st.untouchable(v.id):
            return f"{ev.reason}: {v.id}'s route is locked or in a proposal"
        not_before = ev.ts + RETRY_DELAY_S
        if not_before > o.window_end:
            return f"{ev.reason}: no time left in the window for another attempt"
        old_start = o.window_start
        o.window_start = max(o.window_start, not_before)
        new_route, why, cost = self.retry_place(o, v, ev.ts, not_before)
        if new_route is None:
            o.window_start = old_start
            return f"{ev.reason}: no feasible place on {v.id}'s route for another attempt ({why})"
        st.count("retries_planned")
        at = hhmm(not_before)
        self.governance.decide(
            out, "assign", ev.ts, [o.id], {v.id: new_route}, [ev.event_id],
            Explanation(f"Order {o.id}: delivery failed ({ev.reason}), attempt "
                        f"{m['attempts'] + 1} of {MAX_ATTEMPTS} planned on {v.id} not before "
                        f"{at} UTC (the parcel is on board)",
                        reasons=[{"rule": "least_delay_insertion", **cost}],
                        root_causes=[{"type": "order_failed", "event_id": ev.event_id,
                                      "order_id": o.id}]))
        return None

    def retry_route(self, o: Order, v: Vehicle, now: float, not_before: float,
                    base_route: list | None = None) -> tuple[list | None, str]:
        """``v``'s route (or ``base_route``: its route without that delivery) with the
        delivery of ``o`` (on board) put back, feasible as :meth:`places` says: where the
        van arrives not before ``not_before`` (else where it waits least at the door),
        the place that **delays the customers already on the route least**: the least
        :func:`retry_cost`, the seconds every later stop's arrival moves plus the seconds
        of driving the place adds (a customer's minute and a van's minute count alike),
        then the least planned distance.  Every stop on a route has a published ETA, so
        the cheapest place by distance alone (before 2026-11-30) put retries ahead of
        promised stops and moved their arrivals by hours (docs/models-eta.md).
        (None, constraint) when there is no place."""
        route, why, _info = self.retry_place(o, v, now, not_before, base_route)
        return route, why

    def retry_place(self, o: Order, v: Vehicle, now: float, not_before: float,
                    base_route: list | None = None) -> tuple[list | None, str, dict]:
        """:meth:`retry_route` with what the chosen place costs (``delay_s``: the later
        stops' arrivals moved, summed; ``added_drive_s``; ``places``: feasible places
        weighed), for the decision's explanation."""
        places, why, base = self.timed_places(o, v, now, base_route)
        if not places:
            return None, why, {}
        best: tuple | None = None
        for k, route, t, km in places:
            wait = max(0.0, not_before - t.arrive[k])   # at the door, before not_before
            delay, drive = retry_cost(base, t, k)
            key = (wait, delay + drive, km, k)
            if best is None or key < best[0]:
                best = (key, route, delay, drive)
        _key, route, delay, drive = best
        return route, "", {"delay_s": round(delay, 1), "added_drive_s": round(drive, 1),
                           "places": len(places)}

    def places(self, o: Order, v: Vehicle, now: float, base_route: list | None = None,
               exception: bool = False) -> tuple[list[tuple], str]:
        """Every feasible place for the delivery of ``o`` in ``v``'s route (or
        ``base_route``): ``(k, route, timing, added_m)``, feasible as ``route_timing``
        says (its own window; no lateness added at the other stops, the shift end or
        the break) and within the driver's driving limit; and the constraint that ruled
        out the last rejected place (``time_window`` when none was tried).  Places start
        after the frozen head; an ``exception`` response (the failure-risk move) starts
        after the exceptions' head (``stability.exception_frozen_settings``)."""
        places, why, _base = self.timed_places(o, v, now, base_route, exception)
        return places, why

    def timed_places(self, o: Order, v: Vehicle, now: float, base_route: list | None = None,
                     exception: bool = False) -> tuple[list[tuple], str, Any]:
        """:meth:`places` and the timing of the route without the delivery."""
        st = self.state
        travel = self.world.travel
        pos, ts = start_of(v, now)
        drive_left = engine_drive_left(v)
        stops = v.route if base_route is None else base_route
        base_m = self.world.route_km(pos, stops, v.end)
        base = route_timing(v, stops, st.orders, pos, ts, travel.tt)
        out: list[tuple] = []
        why = "time_window"
        for k in range(self.frozen_head(v, now, stops, exception), len(stops) + 1):
            route = stops[:k] + [(o.id, DELIVERY)] + stops[k:]
            t = route_timing(v, route, st.orders, pos, ts, travel.tt)
            if t.start[k] > o.window_end:
                continue
            if t.lateness_s > base.lateness_s + 1.0:   # (a route already late stays as late)
                why = "shift_end" if t.end_ts > max(v.shift_end_ts, base.end_ts) else "time_window"
                continue
            if drive_left is not None and t.drive_s > max(drive_left, base.drive_s):
                why = "max_drive"
                continue
            out.append((k, route, t, self.world.route_km(pos, route, v.end) - base_m))
        return out, why, base

    def frozen_head(self, v: Vehicle, now: float, stops: list | None = None,
                    exception: bool = False) -> int:
        """How many leading stops of ``v``'s route (or ``stops``) no new stop may go in
        front of: the frozen head of plan stability (``engine.plan_frozen_s`` /
        ``_stops``, operators/zone/stability.py; 0 when off), or for an ``exception``
        response the head ``engine.plan_frozen_exceptions`` says (``bound``: the plan's;
        else none)."""
        settings = self.world.settings
        frozen = exception_frozen_settings(settings) if exception else frozen_settings(settings)
        if frozen == (0.0, 0):
            return 0
        return frozen_count(v, self.state.orders, now, self.world.travel.tt, *frozen,
                            route=stops)

    def head_timing(self, v: Vehicle, now: float) -> Any:
        """``v``'s route timing with the frozen head set as the first insertion
        position (None when plan stability is off: insertion computes its own)."""
        k = self.frozen_head(v, now)
        if k == 0:
            return None
        pos, ts = start_of(v, now)
        t = route_timing(v, v.route, self.state.orders, pos, ts, self.world.travel.tt)
        t.min_pos = k
        return t

    def final_failure(self, ev: Any, o: Order, why: str, out: list[Out]) -> None:
        """Tell the customer that a failed order will not come today, and why."""
        self.state.count("failures_final")
        reason = FINAL_REASON.get(ev.reason, "attempt_other")
        self.emit.notify(out, ev.ts, o, "order_not_served", ev.ts, ev.ts, reason)

    # ------------------------------------------------------------------ hand-over

    def hand_over(self, v: Vehicle, ev: Any, cause: str, out: list[Out]) -> list[str]:
        """Orders on board ``v`` (out of service: ``cause`` is vehicle_unavailable or
        shift_end) become pickups at its last position, offered to the other vehicles.
        Returns the ids of those no vehicle can take now (they stay pending)."""
        st = self.state
        orders = st.orders
        moved = [oid for oid in v.onboard if oid in orders and orders[oid].status == ONBOARD]
        if not moved:
            return []
        for oid in moved:
            o = orders[oid]
            m = memo(st, o)
            m["stranded_on"] = v.id
            o.kind = "on_demand"          # a pickup (at the vehicle) and a delivery
            o.pickup = tuple(v.pos)
            o.pickup_service_s = TRANSFER_S
            o.status, o.vehicle_id = PENDING, None
            o.unassigned_alerted = False
        v.onboard = [oid for oid in v.onboard if oid not in moved]
        v.route = [s for s in v.route if s[0] not in moved]
        v.route_version += 1
        st.count("handover_orders", len(moved))
        return self.rehome(moved, ev, cause, v.id, out)

    def rehome(self, oids: list[str], ev: Any, cause: str, from_vid: str,
               out: list[Out]) -> list[str]:
        """Cheapest feasible insertion of the handed-over orders (most urgent first);
        one redispatch decision per vehicle that takes some."""
        st = self.state
        travel = self.world.travel
        pending = sorted((st.orders[oid] for oid in oids),
                         key=lambda o: (-o.priority, o.window_end, o.id))
        taken: dict[str, list[str]] = {}
        originals: dict[str, list] = {}
        left = []
        for o in pending:
            best = None
            for w in sorted(st.vehicles.values(), key=lambda w: w.id):
                if w.id == from_vid or not w.available or st.untouchable(w.id):
                    continue
                if st.plan_vehicles and w.id in st.plan_vehicles:
                    continue
                ins, _why = best_insertion(o, w, st.orders, ev.ts, travel.tt, travel.dist,
                                           self.head_timing(w, ev.ts))
                if ins is not None and (best is None or ins.cost < best.cost):
                    best = ins
            if best is None:
                left.append(o.id)
                continue
            w = st.vehicles[best.vehicle_id]
            originals.setdefault(w.id, list(w.route))
            w.route = inserted_route(w.route, best)   # tentatively: the next orders see it
            taken.setdefault(w.id, []).append(o.id)
        for wid, got in taken.items():
            w = st.vehicles[wid]
            new_route, w.route = list(w.route), originals[wid]
            st.count("handover_planned", len(got))
            self.governance.decide(
                out, "redispatch", ev.ts, got, {wid: new_route}, [ev.event_id],
                Explanation(f"{len(got)} order{'s' if len(got) > 1 else ''} on board {from_vid} "
                            f"({'breakdown' if cause == 'vehicle_unavailable' else 'shift ended'})"
                            f" to be collected from its position by {wid} and delivered",
                            reasons=[{"rule": "cheapest_feasible_insertion",
                                      "candidates_per_order": len(st.vehicles) - 1}],
                            root_causes=[{"type": cause, "event_id": ev.event_id}]))
        return left

    # ------------------------------------------------------------------ not served

    def close_unserved(self, now: float, triggers: list[str], out: list[Out],
                       forget_order: Any) -> None:
        """Orders no vehicle has when their window closed: outcome not_served, a message,
        an alert (see the module doc).  ``forget_order``: ``OrderLifecycle.forget``."""
        st = self.state
        due = [o for o in st.orders.values() if o.status == PENDING and o.window_end <= now]
        if not due:
            return
        trigger = SimpleNamespace(ts=now, event_id=triggers[0] if triggers else "")
        for o in sorted(due, key=lambda o: (o.window_end, o.id)):
            m = memo(st, o, create=False) or {}
            stranded = m.get("stranded_on")
            if not (stranded or o.unassigned_alerted):
                continue   # dispatch never tried (no vehicle in service): left to expiry
            if stranded:
                reason = (f"not_served: on board {stranded}, which dropped out; no vehicle "
                          "could collect and deliver it before its window closed")
                msg = "stranded"
            else:
                reason = "not_served: no vehicle could serve it before its window closed"
                msg = "no_vehicle"
            self.emit.outcome(out, trigger, o, None, NOT_SERVED, reason)
            self.emit.notify(out, now, o, "order_not_served", now, now, msg)
            if stranded and not o.unassigned_alerted:   # (else the dispatcher knows)
                self.emit.alert(out, now, "unassigned", "critical",
                                f"Order {o.id} not served: {reason[len('not_served: '):]}; "
                                "the customer was told", stranded, [o.id],
                                {"reasons": [{"constraint": "window_closed"}]}, triggers)
            st.count("orders_not_served")
            forget_order(o)


def retry_cost(base: Any, t: Any, k: int) -> tuple[float, float]:
    """What putting a stop back at position ``k`` costs the route, in seconds: how much
    later every stop after it arrives, summed (``t``: the route with it, ``base``:
    without; a stop that arrives earlier counts 0), and the driving it adds
    (``drive_s``, the leg back to the depot included).  Places are ranked by the sum."""
    delay = 0.0
    for j in range(k, len(base.arrive)):
        d = t.arrive[j + 1] - base.arrive[j]
        if d > 0.0:
            delay += d
    return delay, max(0.0, t.drive_s - base.drive_s)


def hhmm(ts: float) -> str:
    """HH:MM (UTC) of epoch ``ts``."""
    s = int(ts) % 86400
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}"
