"""Contact ahead: the customer's reply (docs/governance.md, "Contact ahead").

A ``failure_risk`` alert asks the operation to contact the customer before the van
comes.  The answer comes back as a ``customer_reply`` event on fs.orders:

- ``confirmed`` (someone will be there, or a neighbour, a safe place) or
  ``unavailable``: remembered with the order
  (``customers[cid]["recovery"][order_id]["reply"]``).
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
- Without hours, or hours already started: nothing to move.

Event time only; a reply for an unknown or finished order is counted and ignored
(``replies_ignored``): a late answer is normal, not an error.
"""

from __future__ import annotations

from typing import Any

from fleetstream.operators.state import ASSIGNED, DELIVERY, DONE, ONBOARD, PENDING, PICKUP
from fleetstream.operators.zone.records import Explanation, Out
from fleetstream.operators.zone.recovery import Recovery, hhmm, memo
from fleetstream.operators.zone.state import ZoneState


class ContactAhead:
    """Applies customer replies to one zone's state (see the module doc)."""

    def __init__(self, state: ZoneState, governance: Any, recovery: Recovery):
        self.state = state
        self.governance = governance
        self.recovery = recovery

    def on_customer_reply(self, ev: Any, out: list[Out]) -> None:
        st = self.state
        o = st.orders.get(ev.order_id)
        if o is None or o.status in DONE:
            st.count("replies_ignored")
            return
        memo(st, o)["reply"] = ev.answer
        st.count(f"replies_{ev.answer}")
        if ev.available_from is None:
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
        route, why = self.recovery.retry_route(o, v, ev.ts, start, base)
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
                        reasons=[{"rule": "cheapest_feasible_insertion",
                                  "candidates_per_order": 1}],
                        root_causes=[{"type": "customer_reply", "event_id": ev.event_id,
                                      "order_id": o.id}]))
