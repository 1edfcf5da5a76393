"""Contact ahead: the customer's reply (docs/governance.md, "Contact ahead").

A ``failure_risk`` alert asks the operation to contact the customer before the van
comes.  The answer comes back as a ``customer_reply`` event on fs.orders:

- ``confirmed`` (someone will be there, or a neighbour, a safe place) or
  ``unavailable``: remembered with the order
  (``customers[cid]["recovery"][order_id]``: ``reply``, ``reply_ts`` and the hours
  ``reply_from`` / ``reply_until`` when given; models/availability.py ``note_reply``).
  The failure-risk seat reads it (``arranged``: a confirmed customer, or a planned
  arrival inside the hours the customer gave) and the driver sees it with the stop
  (the route's customer context, ``reply``).
- With ``available_from`` (and maybe ``available_until``), either answer: the van
  should come later.  The order's window becomes its intersection with the stated
  hours, and the delivery moves on the route of the vehicle that has it to the cheapest
  feasible place where the van arrives not before ``available_from`` (the rule of a
  retried attempt, :meth:`Recovery.retry_route`: no lateness added to the other stops,
  the shift end or the break, within the driving limit).  An ``assign`` decision says so;
  its root cause is the reply.  When no place fits, or the route is locked or in a
  proposal, or the stated hours miss the window, the plan stays as it was and the reply
  is counted (``replies_not_placed``, ``replies_outside_window``, ``replies_untouchable``).
  A pending order just takes the narrowed window: the next sweep places it.
- ``unavailable`` without hours (nobody can receive it before the window closes), with
  ``engine.hold_unavailable`` (the default): no driver is sent to that door.  The
  delivery leaves its route (an ``unassign`` decision whose root cause is the reply,
  applied like a cancellation: the customer's answer is a fact), the order ends
  ``not_served`` (reason ``customer_unavailable``; a parcel on board goes back with the
  driver) and the customer gets an ``order_not_served`` message saying a new delivery
  will be arranged.  Not when the van is already at the door or the route is locked or
  in a proposal (``replies_untouchable``; the attempt is made).  Counted:
  ``replies_held``.
- ``confirmed`` without hours, or hours already started: nothing to move.

Event time only; a reply for an unknown or finished order is counted and ignored
(``replies_ignored``): a late answer is normal, not an error.

**Moving a risky delivery** (``engine.failure_attempt_cost`` above 0; off by default):
at each sweep, a delivery that raised a ``failure_risk`` alert or is a retry after a
failed attempt (recovery.py), with no reply, still on
a route the engine may change (not locked, not in a proposal, the order collected, the
van not at the door) is considered once: for every feasible place on its route (the
places of a retried attempt) the failure-risk seat predicts the risk at the planned
arrival there (its features include the local hour, the day and the customer's
history near that hour: models/availability.py), and the place with the least
``p_fail * failure_attempt_cost + added distance and time cost`` wins; a ``reroute``
decision (reason ``failure_risk`` with both probabilities) moves it when that place is
not the current one.  Counted: ``risk_moves``, ``risk_kept``.
"""

from __future__ import annotations

from typing import Any

from fleetstream.models.availability import note_reply
from fleetstream.operators.state import (ACTIVE, ASSIGNED, DELIVERY, DONE, ONBOARD, PENDING,
                                        PICKUP, Order, Vehicle)
from fleetstream.operators.zone.records import Explanation, Out
from fleetstream.operators.zone.recovery import Recovery, hhmm, memo
from fleetstream.operators.zone.state import ZoneState


class ContactAhead:
    """Applies customer replies to one zone's state, and moves risky deliveries to when
    the customer is more likely in (see the module doc)."""

    def __init__(self, state: ZoneState, settings: Any, world: Any, seats: Any,
                 governance: Any, recovery: Recovery, emit: Any, forget_order: Any):
        self.emit = emit
        self.forget_order = forget_order
        self.state = state
        self.settings = settings
        self.world = world
        self.seats = seats
        self.governance = governance
        self.recovery = recovery

    def on_customer_reply(self, ev: Any, out: list[Out]) -> None:
        st = self.state
        o = st.orders.get(ev.order_id)
        if o is None or o.status in DONE:
            st.count("replies_ignored")
            return
        note_reply(memo(st, o), ev.answer, ev.ts, ev.available_from, ev.available_until)
        st.count(f"replies_{ev.answer}")
        if ev.available_from is None:
            if ev.answer == "unavailable" and self.settings.hold_unavailable:
                self._hold(o, ev, out)
            return
        start = max(o.window_start, ev.available_from)
        end = o.window_end if ev.available_until is None else min(o.window_end,
                                                                   ev.available_until)
        if end <= start:
            st.count("replies_outside_window")
            return
        if ev.available_from <= max(ev.ts, o.window_start):
            return                          # they are there already: nothing to move
        v = st.vehicles.get(o.vehicle_id) if o.vehicle_id else None
        if o.status == PENDING or v is None:
            o.window_start, o.window_end = start, end
            return
        if o.status not in (ASSIGNED, ONBOARD) or (o.id, DELIVERY) not in v.route:
            return
        if (o.id, PICKUP) in v.route or v.at_stop is not None and v.at_stop[0] == o.id:
            st.count("replies_not_placed")   # not collected yet, or the van is at the door
            return
        if st.untouchable(v.id):
            st.count("replies_untouchable")
            return
        base = [s for s in v.route if s != (o.id, DELIVERY)]
        old = (o.window_start, o.window_end)
        o.window_start, o.window_end = start, end
        route, why, cost = self.recovery.retry_place(o, v, ev.ts, start, base)
        if route is None:
            o.window_start, o.window_end = old
            st.count("replies_not_placed")
            return
        st.count("replies_moved")
        until = f" to {hhmm(end)}" if ev.available_until is not None else ""
        self.governance.decide(
            out, "assign", ev.ts, [o.id], {v.id: route}, [ev.event_id],
            Explanation(f"Order {o.id}: the customer can receive from {hhmm(start)}{until} "
                        f"UTC (contacted ahead); delivery moved on {v.id}",
                        reasons=[{"rule": "least_delay_insertion", **cost}],
                        root_causes=[{"type": "customer_reply", "event_id": ev.event_id,
                                      "order_id": o.id}]))

    def _hold(self, o: Order, ev: Any, out: list[Out]) -> None:
        """Nobody can receive ``o`` in its window (the customer said so): off its route,
        outcome not_served, the customer told (module doc)."""
        st = self.state
        v = st.vehicles.get(o.vehicle_id) if o.vehicle_id else None
        if v is not None and v.at_stop is not None and v.at_stop[0] == o.id:
            st.count("replies_at_door")
            return
        on_route = v is not None and any(s[0] == o.id for s in v.route)
        if on_route and st.untouchable(v.id):
            st.count("replies_untouchable")
            return
        st.count("replies_held")
        reason = ("not_served: the customer replied that nobody can receive it before its "
                  "window closes (contacted ahead)")
        self.emit.outcome(out, ev, o, o.vehicle_id, "not_served", reason)
        self.emit.notify(out, ev.ts, o, "order_not_served", ev.ts, ev.ts, "customer_unavailable")
        if on_route:
            new = [s for s in v.route if s[0] != o.id]
            aboard = " (the parcel stays on board)" if o.status == ONBOARD else ""
            self.governance.decide(
                out, "unassign", ev.ts, [o.id], {v.id: new}, [ev.event_id],
                Explanation(f"Order {o.id}: the customer replied that nobody can receive it "
                            f"before {hhmm(o.window_end)} UTC (contacted ahead): removed from "
                            f"{v.id}'s route{aboard}; a new delivery is to be arranged",
                            reasons=[{"rule": "customer_unavailable"}],
                            root_causes=[{"type": "customer_reply", "event_id": ev.event_id,
                                          "order_id": o.id}]),
                force_auto=True)
        self.forget_order(o)

    # ------------------------------------------------------------------ risky deliveries

    def move_risky(self, now: float, triggers: list[str], out: list[Out]) -> None:
        """The sweep's pass over deliveries with a failure-risk alert (module doc)."""
        cost = self.settings.failure_attempt_cost
        if cost <= 0.0:
            return
        st = self.state
        for vid in sorted(st.vehicles):
            v = st.vehicles[vid]
            if v.status != ACTIVE or not v.route or st.untouchable(vid):
                continue
            for oid, kind in list(v.route):
                o = st.orders.get(oid)
                if kind != DELIVERY or o is None:
                    continue
                m = memo(st, o, create=False) or {}
                if not (o.fail_alerted or m.get("attempts")):
                    continue           # neither a risk alert nor a retried attempt
                m = memo(st, o)
                if "risk_move" in m or "reply" in m:
                    continue
                m["risk_move"] = 0
                if (oid, PICKUP) in v.route or (v.at_stop is not None and v.at_stop[0] == oid):
                    continue
                if self._move(o, v, now, cost, triggers, out):
                    m["risk_move"] = 1
                    break           # the route changed: its other stops wait for the next sweep

    def _move(self, o: Order, v: Vehicle, now: float, cost: float, triggers: list[str],
              out: list[Out]) -> bool:
        st = self.state
        base = [s for s in v.route if s != (o.id, DELIVERY)]
        cur = v.route.index((o.id, DELIVERY))
        places, _why = self.recovery.places(o, v, now, base, exception=True)
        if not places:
            return False
        seat, world = self.seats.failure_risk, self.world
        hour = self.world.clock.hour(now)
        km, per_s = v.cost_per_km / 1000.0, v.cost_per_hour / 3600.0
        scored = []
        for k, route, t, added_m in places:
            p = seat.predict_proba(world.risk_x(v, o, t.arrive[k], 0.0, t.arrive[k] - now, k,
                                                hour))
            scored.append((p * cost + added_m * km + (t.end_ts - now) * per_s, k, p, route))
        here = [x for x in scored if x[1] == cur]
        best = min(scored)
        if not here or best[1] == cur or best[0] >= here[0][0]:
            st.count("risk_kept")
            return False
        st.count("risk_moves")
        p0, p1 = here[0][2], best[2]
        self.governance.decide(
            out, "reroute", now, [o.id], {v.id: best[3]}, triggers,
            Explanation(f"Order {o.id}: failure risk {p0:.0%} at the planned time, "
                        f"{p1:.0%} at stop {best[1] + 1} of {v.id}'s route: moved there",
                        reasons=[{"rule": "failure_risk", "order": o.id,
                                  "p_fail_before": round(p0, 3), "p_fail_after": round(p1, 3),
                                  "attempt_cost": cost}]))
        return True
