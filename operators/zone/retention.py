"""Bounded zone state (docs/limits.md, "Retention"): orders that never hear back
expire, and vehicles, customers and per-vehicle model residuals are forgotten by age,
all in event time.

- An order that no vehicle has when its window closes (pending: never assigned, or
  handed over from a vehicle that left service and not collected) ends with outcome
  ``not_served`` (``Recovery.close_unserved``, docs/routing.md "Recovery of work").
- An order with no delivered/failed/cancelled event by ``window_end +
  limits.order_grace_s`` expires: an ``fs.outcomes`` record with outcome ``expired``
  and a reason, and it leaves the state and every route (``OrderLifecycle.forget``).
- A vehicle is forgotten ``limits.retention_s`` after the later of its last ping and
  its planned shift end, once nothing is on board and no proposal names it; its
  residual in the ETA model (``vres``) goes with it.  A later ``shift_start`` brings
  it back as a new vehicle, as every shift does.
- A customer is forgotten ``limits.retention_s`` after it was last seen (profile,
  order created, order finished) when none of its orders is open; its profile and
  delivery history go with it (the profile topic, compacted, stays the long-term
  source of profiles).

The work runs at most every ``HOUSEKEEPING_S`` of event time, from the zone's sweep.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

from fleetstream.contract.settings import LimitsSettings
from fleetstream.operators.estimators import ModelSeats
from fleetstream.operators.state import DONE
from fleetstream.operators.zone.health import EXPIRED
from fleetstream.operators.zone.orders import OrderLifecycle
from fleetstream.operators.zone.records import Emitter, Explanation, Out
from fleetstream.operators.zone.state import ZoneState

HOUSEKEEPING_S = 600.0
"""Event time between two housekeeping passes (expiry and pruning)."""


class Retention:
    """Order expiry and age-based pruning of one zone's state."""

    def __init__(self, state: ZoneState, limits: LimitsSettings, seats: ModelSeats,
                 lifecycle: OrderLifecycle, emit: Emitter):
        self.state = state
        self.limits = limits
        self.seats = seats
        self.lifecycle = lifecycle
        self.emit = emit

    def maybe_run(self, now: float, triggers: list[str], out: list[Out]) -> None:
        st = self.state
        if now < st.next_housekeeping_ts:
            return
        st.next_housekeeping_ts = (math.floor(now / HOUSEKEEPING_S) + 1) * HOUSEKEEPING_S
        # Orders no vehicle has when their window closed: not_served, told, alerted
        # (operators/zone/recovery.py; docs/routing.md, "Recovery of work").
        self.lifecycle.recovery.close_unserved(now, triggers, out, self.lifecycle.forget)
        self.expire_orders(now, triggers, out)
        self.prune(now)

    def expire_orders(self, now: float, triggers: list[str], out: list[Out]) -> None:
        st, grace = self.state, self.limits.order_grace_s
        due = [o for o in st.orders.values()
               if o.status not in DONE and o.window_end + grace < now]
        if not due:
            return
        trigger = SimpleNamespace(ts=now, event_id=triggers[0] if triggers else "")
        for o in sorted(due, key=lambda o: (o.window_end, o.id)):
            reason = (f"expired: no delivered, failed or cancelled event by the window end "
                      f"plus limits.order_grace_s ({grace:.0f} s); last status {o.status}")
            self.emit.outcome(out, trigger, o, o.vehicle_id, EXPIRED, reason)
            self.emit.notify(out, now, o, "order_not_served", now, now,   # docs/notifications.md
                             "no_vehicle" if o.vehicle_id is None else "not_delivered")
            st.count("orders_expired")
            v = st.vehicles.get(o.vehicle_id) if o.vehicle_id else None
            if v is not None and any(s[0] == o.id for s in v.route):
                # the driver's route loses the stop: say so, as for a cancellation
                new = [s for s in v.route if s[0] != o.id]
                self.lifecycle.governance.decide(
                    out, "unassign", now, [o.id], {v.id: new}, triggers,
                    Explanation(f"Order {o.id} expired: removed from {v.id}'s route",
                                reasons=[{"rule": "order_expired", "reason": reason}]),
                    force_auto=True)
            self.lifecycle.forget(o)

    def prune(self, now: float) -> None:
        st = self.state
        horizon = now - self.limits.retention_s
        busy = {vid for prop in st.proposals.values() for vid in prop["routes"]}
        gone = [vid for vid, v in st.vehicles.items()
                if max(v.pos_ts, v.shift_end_ts) < horizon and not v.onboard
                and not v.route and vid not in busy and vid not in st.plan_vehicles]
        forget = getattr(self.seats.eta, "forget_vehicle", None)
        for vid in gone:
            del st.vehicles[vid]
            st.reopt_seen.pop(vid, None)
            if forget is not None:
                forget(vid)
        if gone:
            st.count("vehicles_pruned", len(gone))
        seen = st.customer_seen
        for cid in st.customers:
            if cid not in seen:
                seen[cid] = now   # (a snapshot from before retention: counted from now)
        stale = {cid for cid, ts in seen.items() if ts < horizon}
        if not stale:
            return
        stale -= {o.customer_id for o in st.orders.values()}
        for cid in sorted(stale):
            st.customers.pop(cid, None)
            del seen[cid]
        if stale:
            st.count("customers_pruned", len(stale))



def deep_size(obj: object) -> int:
    """Bytes of ``obj`` and everything it references (``sys.getsizeof`` over the object
    graph, each object once): what keeping it costs in memory."""
    import sys
    seen: set[int] = set()
    stack, total = [obj], 0
    while stack:
        o = stack.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        total += sys.getsizeof(o)
        if isinstance(o, dict):
            stack.extend(o.keys())
            stack.extend(o.values())
        elif isinstance(o, (list, tuple, set, frozenset)):
            stack.extend(o)
        elif hasattr(o, "__slots__"):
            stack.extend(getattr(o, k) for k in o.__slots__ if hasattr(o, k))
        elif hasattr(o, "__dict__"):
            stack.append(o.__dict__)
    return total


def state_sizes(state: ZoneState) -> dict[str, float]:
    """Mean bytes per vehicle, per open order and per customer of a zone's state (deep
    size in memory, and pickled as in the snapshot): docs/limits.md, "Retention"."""
    import pickle
    nv, no, nc = len(state.vehicles), len(state.orders), len(state.customers)
    vs, os_ = list(state.vehicles.values()), list(state.orders.values())
    return {
        "vehicles": nv, "orders": no, "customers": nc,
        "vehicle_bytes": deep_size(vs) / max(nv, 1),
        "vehicle_pickled": len(pickle.dumps([v.dump() for v in vs], 5)) / max(nv, 1),
        "order_bytes": deep_size(os_) / max(no, 1),
        "order_pickled": len(pickle.dumps([o.dump() for o in os_], 5)) / max(no, 1),
        "customer_bytes": (deep_size(state.customers) + deep_size(state.customer_seen))
        / max(nc, 1),
        "customer_pickled": len(pickle.dumps((state.customers, state.customer_seen), 5))
        / max(nc, 1),
    }
