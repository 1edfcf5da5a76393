"""The fleet: shifts, vehicles becoming unavailable, pings and departures.

A ping moves the vehicle, detects its departure from the depot and, every
``eta_refresh_s``, refreshes its forecasts; stops that newly turned late-risky go
to the risk response.
"""

from __future__ import annotations

from typing import Any

from fleetstream.contract.settings import EngineSettings
from fleetstream.operators.state import (ACTIVE, ASSIGNED, AT_DEPOT, ENDED, ONBOARD, PENDING, PROPOSED,
                                         UNAVAILABLE, Vehicle)
from fleetstream.operators.traveltime import haversine_m
from fleetstream.operators.zone.forecasting import Forecasting
from fleetstream.operators.zone.records import Emitter, Out
from fleetstream.operators.zone.recovery import Recovery
from fleetstream.operators.zone.response import Response
from fleetstream.operators.zone.state import ZoneState
from fleetstream.operators.zone.world import World

DEPART_RADIUS_M = 200.0


class Fleet:
    """Vehicle lifecycle and telemetry."""

    def __init__(self, state: ZoneState, settings: EngineSettings, world: World,
                 forecasting: Forecasting, response: Response, emit: Emitter,
                 recovery: Recovery | None = None):
        self.state = state
        self.settings = settings
        self.world = world
        self.forecasting = forecasting
        self.response = response
        self.emit = emit
        # Recovery of work (operators/zone/recovery.py): orders on board a vehicle that
        # leaves service are handed over.
        self.recovery = recovery or Recovery(state, world, response.governance, emit)

    # ------------------------------------------------------------------ shifts

    def on_shift_start(self, ev: Any, out: list[Out]) -> None:
        st = self.state
        old = st.vehicles.get(ev.vehicle_id)
        v = Vehicle.from_event(ev)
        if old is not None and old.available:
            v.route, v.onboard, v.status, v.pos = old.route, old.onboard, old.status, old.pos
        st.vehicles[v.id] = v
        st.last_shift_start_ts = ev.ts

    def on_shift_end(self, ev: Any, out: list[Out]) -> None:
        v = self.state.vehicles.get(ev.vehicle_id)
        if v is None:
            return
        self.release_vehicle(v, ENDED, ev, out)

    def on_vehicle_unavailable(self, ev: Any, out: list[Out]) -> None:
        """Alert and release the vehicle (the engine then sweeps to re-home its orders)."""
        v = self.state.vehicles.get(ev.vehicle_id)
        if v is None:
            return
        self.emit.alert(out, ev.ts, "vehicle_unavailable", "critical",
                        f"Vehicle {v.id} unavailable: {ev.reason}", v.id,
                        [oid for oid, _ in v.route], {"reason": ev.reason}, [ev.event_id])
        self.release_vehicle(v, UNAVAILABLE, ev, out)

    def release_vehicle(self, v: Vehicle, status: str, ev: Any, out: list[Out]) -> None:
        """``v`` leaves service: orders not on board go back to the pool; orders on
        board are handed over (docs/routing.md, "Recovery of work"): each becomes a
        pickup at ``v``'s last position offered to the other vehicles
        (:meth:`Recovery.hand_over`); a critical alert names those no vehicle can
        collect now (they stay pending, and are reported not served if still pending
        when their window closes)."""
        orders = self.state.orders
        v.status = status
        for oid, _kind in v.route:
            o = orders.get(oid)
            if o is not None and o.status in (ASSIGNED, PROPOSED):
                o.status, o.vehicle_id = PENDING, None
        on_board = [oid for oid in v.onboard if orders.get(oid) and orders[oid].status == ONBOARD]
        v.route = [s for s in v.route if s[0] in on_board]
        v.route_version += 1
        if not on_board:
            return
        cause = "vehicle_unavailable" if status == UNAVAILABLE else "shift_end"
        left = self.recovery.hand_over(v, ev, cause, out)
        if left:
            self.emit.alert(out, ev.ts, "stranded_orders", "critical",
                            f"{len(left)} of {len(on_board)} orders on board {v.id} "
                            f"({'unavailable' if status == UNAVAILABLE else 'shift ended'}) "
                            "have no vehicle to collect them now: they are retried each sweep "
                            "and reported not served if still pending when their window "
                            "closes", v.id, left, {"on_board": len(on_board)}, [ev.event_id])

    # ------------------------------------------------------------------ telemetry

    def on_ping(self, ev: Any, out: list[Out]) -> None:
        v = self.state.vehicles.get(ev.vehicle_id)
        if v is None or not v.available:
            self.state.count("pings_ignored")
            return
        v.pos = (ev.lat, ev.lon)
        v.pos_ts = ev.ts
        v.speed_kmh = 0.8 * v.speed_kmh + 0.2 * ev.speed_kmh
        v.stale_alerted = False
        if v.status == AT_DEPOT and haversine_m(v.pos, v.start) > DEPART_RADIUS_M:
            self.depart(v, ev, out)
        if (v.status == ACTIVE and v.route and v.at_stop is None
                and ev.ts - v.eta_ts >= self.settings.eta_refresh_s):
            at_risk = self.forecasting.refresh(v, ev.ts, [ev.event_id], out)
            if at_risk:
                self.response.handle_risk(v, at_risk, ev.ts, [ev.event_id], out)

    def depart(self, v: Vehicle, ev: Any, out: list[Out]) -> None:
        """``v`` left the depot: planned parcels it did not load go back to the pool."""
        orders = self.state.orders
        v.status = ACTIVE
        v.depart_ts = ev.ts
        left = [oid for oid, kind in v.route
                if orders[oid].kind == "parcel" and oid not in v.onboard]
        if left:
            for oid in left:
                o = orders[oid]
                o.status, o.vehicle_id = PENDING, None
            v.route = [s for s in v.route if s[0] not in left]
            v.route_version += 1
            self.emit.alert(out, ev.ts, "unassigned", "warning",
                            f"{v.id} left the depot without {len(left)} planned parcels; "
                            "they are back in the pool", v.id, left, {}, [ev.event_id])
        self.world.start_leg(v, ev.ts)

    def stale_alerts(self, now: float, triggers: list[str], out: list[Out]) -> None:
        """Alert once per silence on active vehicles without a ping for ``stale_vehicle_s``."""
        s = self.settings
        for v in self.state.vehicles.values():
            if v.status == ACTIVE and not v.stale_alerted and now - v.pos_ts > s.stale_vehicle_s:
                v.stale_alerted = True
                self.emit.alert(out, now, "stale_vehicle", "warning",
                                f"No position from {v.id} for {(now - v.pos_ts) / 60:.0f} min",
                                v.id, [oid for oid, _ in v.route[:5]],
                                {"last_ping_ts": v.pos_ts}, triggers)
