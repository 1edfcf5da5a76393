"""The order lifecycle: created, cancelled, arrived at, picked up, delivered or
failed.  Reality wins over the plan: a stop the driver reached becomes the head of
the route, an order picked up by another vehicle moves to it.  Finished orders
leave the state (and every route) and teach the seats their delayed labels.
"""

from __future__ import annotations

from typing import Any

from fleetstream.models.availability import note_outcome, stated_window
from fleetstream.operators.knowledge import note_driver
from fleetstream.operators.routing.constraints import apply_requirements, requirements_from_profile
from fleetstream.operators.state import (CANCELLED, DELIVERED, DELIVERY, DONE, FAILED, ONBOARD, PICKUP,
                                         Order)
from fleetstream.operators.zone import recovery
from fleetstream.operators.zone.forecasting import Forecasting, Observer
from fleetstream.operators.zone.governance import Governance
from fleetstream.operators.zone.records import Emitter, Explanation, Out
from fleetstream.operators.zone.recovery import Recovery
from fleetstream.operators.zone.state import ZoneState, seen_customer
from fleetstream.operators.zone.world import World


class OrderLifecycle:
    """Order events and their effect on routes, customers and the seats."""

    def __init__(self, state: ZoneState, world: World, forecasting: Forecasting,
                 governance: Governance, emit: Emitter, observer: Observer | None = None):
        self.state = state
        self.world = world
        self.forecasting = forecasting
        self.governance = governance
        self.emit = emit
        self.observer = observer
        self.recovery = Recovery(state, world, governance, emit)   # docs/routing.md

    def on_order_created(self, ev: Any, out: list[Out]) -> None:
        st = self.state
        if ev.order_id in st.orders:
            st.count("orders_recreated_ignored")
            return
        o = st.orders[ev.order_id] = Order.from_event(ev)
        st.note_inflow(ev.ts)   # work that may be inserted into running routes (intervals)
        # The customer's requirements (customer_profile) become the order's constraints.
        why = apply_requirements(o, requirements_from_profile(st.customers.get(ev.customer_id)))
        min_s = self.world.settings.plan_stated_hours_s
        if not why and min_s > 0:           # plan in the customer's stated hours
            c = st.customers.get(ev.customer_id)
            w = stated_window((o.window_start, o.window_end),
                              c.get("available_hours") if c else None,
                              self.world.settings.timezone, min_s)
            if w is not None:
                o.window_start, o.window_end = w
                st.count("windows_in_stated_hours")
        if why:
            o.unassigned_alerted = True
            self.emit.alert(out, ev.ts, "unassigned", "warning",
                            f"Order {o.id}: the customer's access hours leave no time in its "
                            "window", None, [o.id], {"reasons": [{"constraint": why}]},
                            [ev.event_id])
        st.customers.setdefault(ev.customer_id, {"language": "en"})
        seen_customer(st, ev.customer_id, ev.ts)

    def on_order_cancelled(self, ev: Any, out: list[Out]) -> None:
        st = self.state
        o = st.orders.get(ev.order_id)
        if o is None or o.status in DONE:
            return
        v = st.vehicles.get(o.vehicle_id) if o.vehicle_id else None
        o.status = CANCELLED
        self.emit.outcome(out, ev, o, o.vehicle_id, "cancelled", ev.reason or None)
        if v is not None and any(s[0] == o.id for s in v.route):
            new = [s for s in v.route if s[0] != o.id]
            self.governance.decide(out, "unassign", ev.ts, [o.id], {v.id: new}, [ev.event_id],
                                   Explanation(f"Order {o.id} cancelled: removed from {v.id}'s route",
                                               reasons=[{"rule": "order_cancelled",
                                                         "reason": ev.reason or ""}]),
                                   force_auto=True)
        self.forget(o)

    def on_stop_arrived(self, ev: Any, out: list[Out]) -> None:
        st = self.state
        o = st.orders.get(ev.order_id)
        v = st.vehicles.get(ev.vehicle_id)
        if o is None or v is None:
            return
        kind = ev.stop_kind
        v.at_stop = (o.id, kind)
        v.pos = o.stop_point(kind)
        if v.leg is not None:  # hours of service: the leg just driven
            v.driven_s = (v.driven_s or 0.0) + max(0.0, ev.ts - v.leg["ts"])
        self.forecasting.learn_leg(v, o, kind, ev.ts)
        # Reality wins: the stop the driver reached is now the head of the route.
        if (o.id, kind) in v.route and v.route[0] != (o.id, kind):
            v.route.remove((o.id, kind))
            v.route.insert(0, (o.id, kind))
            v.route_version += 1
        if kind == DELIVERY:
            o.arrived_ts = ev.ts
            late = ev.ts > o.window_end
            st.count("arrivals")
            st.count("arrivals_late", 1 if late else 0)
            if self.observer is not None:
                self.observer("arrival", {"zone": st.zone, "order_id": o.id, "ts": ev.ts,
                                          "window_end": o.window_end, "late": late,
                                          "snaps": o.snaps, "wsnaps": o.wsnaps})
            self.forecasting.learn_arrival(o, ev.ts, late)
        self.forecasting.drift_alerts(ev.ts, [ev.event_id], out)

    def on_order_picked_up(self, ev: Any, out: list[Out]) -> None:
        st = self.state
        o = st.orders.get(ev.order_id)
        v = st.vehicles.get(ev.vehicle_id)
        if o is None or v is None or o.status in DONE:
            return
        if o.vehicle_id and o.vehicle_id != v.id:
            # Reality wins over the plan: it is on this vehicle now.
            old = st.vehicles.get(o.vehicle_id)
            if old is not None:
                old.route = [s for s in old.route if s[0] != o.id]
                old.route_version += 1
            st.count("reconciled_pickups")
        o.status, o.vehicle_id = ONBOARD, v.id
        if o.id not in v.onboard:
            v.onboard.append(o.id)
        if (o.id, PICKUP) in v.route:
            v.route.remove((o.id, PICKUP))
            v.route_version += 1
        if (o.id, DELIVERY) not in v.route:
            v.route.append((o.id, DELIVERY))
            v.route_version += 1
        if o.kind == "on_demand":
            v.at_stop = None
            self.world.start_leg(v, ev.ts)

    def on_order_delivered(self, ev: Any, out: list[Out]) -> None:
        self.finish(ev, DELIVERED, out)

    def on_order_failed(self, ev: Any, out: list[Out]) -> None:
        self.finish(ev, FAILED, out)

    def finish(self, ev: Any, status: str, out: list[Out]) -> None:
        """The order ended (delivered or failed): customer history, outcome record,
        failure-risk labels, and the vehicle moves on to its next stop.  A failed
        attempt may instead go back on the route of the vehicle carrying the order
        (:meth:`Recovery.retry`, docs/routing.md "Recovery of work"): then the order
        stays open, with no outcome record yet."""
        st = self.state
        o = st.orders.get(ev.order_id)
        if o is None or o.status in DONE:
            return
        v = st.vehicles.get(ev.vehicle_id)
        failed = status == FAILED
        c = st.customers.setdefault(o.customer_id, {"language": "en"})
        seen_customer(st, o.customer_id, ev.ts)
        tally = "failures" if failed else "deliveries"
        c[tally] = c.get(tally, 0) + 1
        note_outcome(c, ev.ts, self.world.settings.timezone, failed,
                     getattr(ev, "reason", None))   # models/availability.py
        if failed:
            key = f"{ev.reason}_failures" if ev.reason in ("access", "not_home") else "other_failures"
            c[key] = c.get(key, 0) + 1
            st.count("failed")
        else:
            st.count("delivered")
        note_driver(c, v, failed, getattr(ev, "reason", None))   # operators/knowledge.py
        if self.observer is not None:
            self.observer("outcome", {"zone": st.zone, "order_id": o.id, "ts": ev.ts,
                                      "failed": failed, "snaps": o.snaps, "wsnaps": o.wsnaps})
        why = None
        if failed:
            if v is not None:   # the vehicle moves on: the attempted stop leaves its route
                if (o.id, DELIVERY) in v.route:
                    v.route = [s for s in v.route if s != (o.id, DELIVERY)]
                    v.route_version += 1
                v.at_stop = None
                v.eta_ts = -1e18
            why = self.recovery.retry(ev, o, v, out)
            if why is None:     # another attempt is planned: the order stays on board
                st.count("failed_attempts_retried")
                self.forecasting.learn_outcome(o, failed)
                # This attempt's predictions have both labels (arrival, outcome): the
                # retry's predictions start afresh, or the retry's arrival would label
                # them again, hours later (wide intervals, a late-risk and failure-risk
                # label learned twice).
                o.snaps = []
                self.forecasting.drift_alerts(ev.ts, [ev.event_id], out)
                self.world.start_leg(v, ev.ts)
                return
        self.emit.outcome(out, ev, o, ev.vehicle_id, "failed" if failed else "delivered",
                          ev.reason if failed else None)
        if failed:
            self.recovery.final_failure(ev, o, why or "", out)
        self.forecasting.learn_outcome(o, failed)
        self.forecasting.drift_alerts(ev.ts, [ev.event_id], out)
        o.status = status
        if v is not None:
            if o.id in v.onboard:
                v.onboard.remove(o.id)
            if any(s[0] == o.id for s in v.route):
                v.route = [s for s in v.route if s[0] != o.id]
                v.route_version += 1
            v.at_stop = None
            v.eta_ts = -1e18
            self.world.start_leg(v, ev.ts)
            count_done(st, v)
        self.forget(o)

    def forget(self, o: Order) -> None:
        """Completed orders leave the state (keeps snapshots small), and every route."""
        st = self.state
        st.orders.pop(o.id, None)
        recovery.forget(st, o)
        for v in st.vehicles.values():
            if any(s[0] == o.id for s in v.route):
                v.route = [s for s in v.route if s[0] != o.id]
                v.route_version += 1
            if o.id in v.onboard:
                v.onboard.remove(o.id)


def count_done(st: ZoneState, v: Any) -> None:
    """One more order finished by ``v`` in its current shift (``ZoneState.done``: the
    workload balance counts it in the driver's load, docs/routing.md "Workload
    balance").  A new shift starts the count again; vehicles the zone no longer knows
    are dropped from it."""
    d = st.done.get(v.id)
    if d is None or d[0] != v.shift_start_ts:
        d = st.done[v.id] = [v.shift_start_ts, 0]
        if len(st.done) > len(st.vehicles):
            for vid in [x for x in st.done if x not in st.vehicles]:
                del st.done[vid]
    d[1] += 1
