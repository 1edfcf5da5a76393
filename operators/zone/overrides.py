"""Dispatcher overrides: pin an order to a vehicle, lock a route, change a window or address.

The events (``order_pin``, ``order_unpin``, ``route_lock``, ``route_unlock``,
``order_update``) arrive on fs.approvals, keyed by zone.  A human already decided, so
autonomy levels do not apply: each override that can be applied is applied at once and
recorded as a decision of kind ``override`` (status applied, autonomy ``manual``,
``approved_by`` the dispatcher, the override event as trigger).  One that cannot be
applied changes nothing and raises an ``override_conflict`` alert naming the
constraint.  What the engine then leaves alone lives in :class:`ZoneState`
(``pinned``, ``locked``) and is honoured by the assignment, the zone plan, periodic
re-optimization, risk re-route and redispatch (docs/governance.md, "Manual overrides").
"""

from __future__ import annotations

from typing import Any

from fleetstream.contract.settings import EngineSettings
from fleetstream.operators.dispatch import inserted_route, route_timing, static_reject
from fleetstream.operators.state import (ASSIGNED, DELIVERY, DONE, ENDED, ONBOARD, PENDING,
                                         PROPOSED)
from fleetstream.operators.zone.governance import Governance
from fleetstream.operators.zone.records import Emitter, Explanation, Out
from fleetstream.operators.zone.state import ZoneState
from fleetstream.operators.zone.world import World, start_of

KIND = "override"
AUTONOMY = "manual"
CONFLICT = "override_conflict"


def release_pins(state: ZoneState, emit: Emitter, now: float, triggers: list[str],
                 out: list[Out]) -> None:
    """A pinned order whose vehicle left service (dropped out, or its shift ended) is
    released from the pin, with an ``override_conflict`` alert saying so and why
    (``constraint`` ``vehicle_unavailable`` or ``shift_end``, ``applied`` false: the pin
    no longer holds); the order then goes to the usual redispatch or, on board, to the
    recovery of work.  The pin of a finished order is dropped without a word.  Called at
    every sweep before the pending orders are assigned (so right after a
    ``vehicle_unavailable``, whose event is then the trigger)."""
    if not state.pinned:
        return
    for oid, vid in sorted(state.pinned.items()):
        o = state.orders.get(oid)
        if o is None or o.status in DONE:
            # served, failed for good, cancelled or expired: nothing left to protect
            # (the pin would keep its vehicle out of the next zone plan); no alert
            del state.pinned[oid]
            continue
        v = state.vehicles.get(vid)
        if v is not None and v.available:
            continue
        del state.pinned[oid]
        why, what = ((C_SHIFT_END, "ended its shift") if v is not None and v.status == ENDED
                     else (C_UNAVAILABLE, "is no longer available" if v is None
                           else "dropped out"))
        then = ("it is on board: handed over as the recovery of work decides"
                if o.status == ONBOARD else "the engine may move it as usual")
        state.count("overrides_pin_released")
        emit.alert(out, now, CONFLICT, "warning",
                   f"Pin of {oid} to {vid} released: {vid} {what}; {then}", vid, [oid],
                   {"action": "order_pin", "constraint": why, "applied": False,
                    "by": "engine"}, triggers)


C_SHIFT_END = "shift_end"
C_UNAVAILABLE = "vehicle_unavailable"


class Overrides:
    """Apply the dispatcher's overrides of one zone."""

    def __init__(self, state: ZoneState, settings: EngineSettings, world: World,
                 governance: Governance, emit: Emitter, strategy: Any):
        self.state = state
        self.settings = settings
        self.world = world
        self.governance = governance
        self.emit = emit
        self.strategy = strategy

    # ------------------------------------------------------------------ records

    def _reason(self, ev: Any, **kw: Any) -> dict:
        r = {"rule": "manual_override", "action": ev.TYPE, "by": ev.by}
        if getattr(ev, "reason", None):
            r["reason"] = ev.reason
        r.update({k: v for k, v in kw.items() if v is not None})
        return r

    def _record(self, ev: Any, out: list[Out], summary: str, order_ids: list[str],
                routes: dict[str, list], **kw: Any) -> None:
        self.state.count(f"overrides_{ev.TYPE}")
        self.governance.emit_decision(out, KIND, ev.ts, "applied", AUTONOMY, order_ids, routes,
                                      [ev.event_id], Explanation(
                                          summary, reasons=[self._reason(ev, **kw)],
                                          approved_by=ev.by))

    def _conflict(self, ev: Any, out: list[Out], constraint: str, message: str,
                  vehicle_id: str | None, order_ids: list[str], applied: bool = False) -> None:
        self.state.count("overrides_conflict")
        self.emit.alert(out, ev.ts, CONFLICT, "warning", message, vehicle_id, order_ids,
                        {"action": ev.TYPE, "constraint": constraint, "applied": applied,
                         "by": ev.by}, [ev.event_id])

    # ------------------------------------------------------------------ pin

    def on_order_pin(self, ev: Any, out: list[Out]) -> None:
        """Put the order on the vehicle now (cheapest feasible position) and keep it there."""
        st, oid, vid = self.state, ev.order_id, ev.vehicle_id
        o, v = st.orders.get(oid), st.vehicles.get(vid)
        why = None
        if o is None:
            why = "unknown_order"
        elif v is None:
            why = "unknown_vehicle"
        elif o.status in DONE:
            why = "order_closed"
        elif o.status == ONBOARD and o.vehicle_id != vid:
            why = "on_board"
        elif o.status == PROPOSED or (o.vehicle_id and st.in_proposal(o.vehicle_id)) \
                or st.in_proposal(vid):
            why = "in_proposal"
        elif not v.available:
            why = "vehicle_unavailable"
        else:
            why = static_reject(o, v) if o.vehicle_id != vid else None
        if why is not None:
            self._conflict(ev, out, why, f"Cannot pin {oid} to {vid}: {why}; nothing changed",
                           vid if v is not None else None, [oid])
            return
        routes: dict[str, list] = {}
        if o.vehicle_id != vid:
            travel = self.world.travel
            pos, ts = start_of(v, ev.ts)
            timings = {vid: route_timing(v, v.route, st.orders, pos, ts, travel.tt)}
            ins, rej = self.strategy.insert(o, [v], st.orders, ev.ts, travel.tt, travel.dist,
                                            timings)
            if ins is None:
                ranked = rej.ranked()
                why = ranked[0]["constraint"] if ranked else "infeasible"
                self._conflict(ev, out, why, f"Cannot pin {oid} to {vid}: no feasible position "
                               f"({why}); nothing changed", vid, [oid])
                return
            if o.vehicle_id and o.vehicle_id in st.vehicles and o.status == ASSIGNED:
                src = st.vehicles[o.vehicle_id]
                routes[src.id] = [tuple(s) for s in src.route if s[0] != oid]
            routes[vid] = [tuple(s) for s in inserted_route(v.route, ins)]
            self.governance.apply_routes(routes, ev.ts)
        st.pinned[oid] = vid
        o.unassigned_alerted = False
        self._record(ev, out, f"{oid} pinned to {vid} by {ev.by}", [oid],
                     routes or {vid: [tuple(s) for s in v.route]}, order_id=oid, vehicle_id=vid)

    def on_order_unpin(self, ev: Any, out: list[Out]) -> None:
        st, oid = self.state, ev.order_id
        was = st.pinned.pop(oid, None)
        if was is None:
            self._conflict(ev, out, "not_pinned", f"{oid} is not pinned; nothing changed", None,
                           [oid])
            return
        self._record(ev, out, f"{oid} released from {was} by {ev.by}", [oid], {},
                     order_id=oid, vehicle_id=was)

    # ------------------------------------------------------------------ lock

    def on_route_lock(self, ev: Any, out: list[Out]) -> None:
        st, vid = self.state, ev.vehicle_id
        v = st.vehicles.get(vid)
        if v is None:
            self._conflict(ev, out, "unknown_vehicle", f"Cannot lock {vid}: unknown vehicle",
                           None, [])
            return
        st.locked.add(vid)
        route = [tuple(s) for s in v.route]
        self._record(ev, out, f"Route of {vid} locked by {ev.by} ({len(route)} stops)",
                     sorted({oid for oid, _k in route}), {vid: route}, vehicle_id=vid)

    def on_route_unlock(self, ev: Any, out: list[Out]) -> None:
        st, vid = self.state, ev.vehicle_id
        if vid not in st.locked:
            self._conflict(ev, out, "not_locked", f"The route of {vid} is not locked; nothing "
                           "changed", vid if vid in st.vehicles else None, [])
            return
        st.locked.discard(vid)
        self._record(ev, out, f"Route of {vid} unlocked by {ev.by}", [], {}, vehicle_id=vid)

    # ------------------------------------------------------------------ update

    def on_order_update(self, ev: Any, out: list[Out]) -> None:
        """New window and/or address; the order's route is re-timed and an alert says
        when its vehicle cannot meet the new window."""
        st, oid = self.state, ev.order_id
        o = st.orders.get(oid)
        why = "unknown_order" if o is None else "order_closed" if o.status in DONE else None
        if why is None:
            ws = ev.window_start if ev.window_start is not None else o.window_start
            we = ev.window_end if ev.window_end is not None else o.window_end
            if we <= ws:
                why = "time_window"
        if why is not None:
            self._conflict(ev, out, why, f"Cannot change {oid}: {why}; nothing changed", None,
                           [oid])
            return
        changes: dict[str, Any] = {}
        if ev.window_start is not None:
            o.window_start = changes["window_start"] = ev.window_start
        if ev.window_end is not None:
            o.window_end = changes["window_end"] = ev.window_end
        if ev.location is not None:
            o.location = ev.location
            changes["location"] = {"lat": ev.location[0], "lon": ev.location[1]}
        o.unassigned_alerted = False
        o.retry_ts = -1e18
        routes: dict[str, list] = {}
        v = st.vehicles.get(o.vehicle_id) if o.vehicle_id else None
        if v is not None and o.status in (ASSIGNED, ONBOARD) and any(s[0] == oid for s in v.route):
            route = [tuple(s) for s in v.route]
            self.governance.apply_routes({v.id: route}, ev.ts)   # re-timed: ETAs refreshed
            if v.leg is not None and v.at_stop is None and route and route[0][0] == oid:
                self.world.start_leg(v, ev.ts)                    # the leg's target moved
            routes[v.id] = route
            pos, ts = start_of(v, ev.ts)
            timing = route_timing(v, route, st.orders, pos, ts, self.world.travel.tt)
            for i, (sid, kind) in enumerate(route):
                if sid == oid and kind == DELIVERY and timing.start[i] > timing.window_end[i]:
                    late = (timing.start[i] - timing.window_end[i]) / 60
                    self._conflict(ev, out, "time_window",
                                   f"{oid} changed by {ev.by}, but {v.id} reaches it "
                                   f"{late:.0f} min after its new window", v.id, [oid], True)
        elif o.status == PENDING:
            pass  # the next sweep assigns it with its new window and address
        self._record(ev, out, f"{oid} changed by {ev.by}: {', '.join(sorted(changes))}", [oid],
                     routes, order_id=oid, changes=changes)
