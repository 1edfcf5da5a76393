"""Plain, compact per-zone state: vehicles, orders, stops.

Objects use ``__slots__`` and dump to plain dicts (``dump``/``load``) so a zone's
snapshot is versioned data, not a pickle of engine classes.
"""

from __future__ import annotations

from typing import Any

from fleetstream.contract.events import OrderCreated, ShiftStart

Point = tuple[float, float]
PICKUP = "pickup"
DELIVERY = "delivery"

# Order statuses.
PENDING = "pending"          # known, not on any route
PROPOSED = "proposed"        # in a proposal waiting for approval
ASSIGNED = "assigned"        # on a vehicle's route, not yet on board
ONBOARD = "onboard"          # loaded (parcel) or picked up (on-demand)
DELIVERED = "delivered"
FAILED = "failed"
CANCELLED = "cancelled"
DONE = (DELIVERED, FAILED, CANCELLED)

# Vehicle statuses.
AT_DEPOT = "depot"           # shift started, not departed: parcels can still be loaded
ACTIVE = "active"
ENDED = "ended"
UNAVAILABLE = "unavailable"


class _Plain:
    __slots__: tuple[str, ...] = ()

    def dump(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}

    OPTIONAL: dict[str, Any] = {}
    """Slots added after a snapshot layout: their value when a snapshot lacks them."""

    @classmethod
    def load(cls, d: dict[str, Any]) -> Any:
        obj = cls.__new__(cls)
        for k in cls.__slots__:
            setattr(obj, k, d[k] if k in d or k not in cls.OPTIONAL else cls.OPTIONAL[k])
        return obj


class Vehicle(_Plain):
    __slots__ = (
        "id", "driver_id", "fleet_type", "vehicle_type", "capacity", "skills", "start", "end",
        "shift_start_ts", "shift_end_ts", "cost_per_km", "cost_per_hour", "cost_per_stop",
        "fixed_cost", "max_route_s", "break_earliest_ts", "break_latest_ts", "break_s",
        "max_drive_s", "driven_s", "status", "pos", "pos_ts", "speed_kmh", "route",
        "onboard", "at_stop", "leg", "pace", "route_version", "last_trigger_ts",
        "stale_alerted", "eta_ts", "etas", "depart_ts", "leg_ratios", "leg_ratio_ts", "leg_ratio_rv",
    )

    OPTIONAL = {"break_earliest_ts": None, "break_latest_ts": None, "break_s": None,
                "max_drive_s": None, "driven_s": 0.0}

    @classmethod
    def from_event(cls, ev: ShiftStart) -> "Vehicle":
        v = cls.__new__(cls)
        v.id, v.driver_id = ev.vehicle_id, ev.driver_id
        v.fleet_type, v.vehicle_type = ev.fleet_type, ev.vehicle_type
        v.capacity, v.skills = dict(ev.capacity), sorted(ev.skills)
        v.start, v.end = ev.start, ev.end
        v.shift_start_ts, v.shift_end_ts = ev.ts, ev.shift_end_ts
        v.cost_per_km, v.cost_per_hour = ev.cost_per_km, ev.cost_per_hour
        v.cost_per_stop, v.fixed_cost = ev.cost_per_stop, ev.fixed_cost
        v.max_route_s = ev.max_route_s
        for name, default in cls.OPTIONAL.items():  # optional shift_start fields
            setattr(v, name, getattr(ev, name, default))
        v.driven_s = 0.0
        v.status = AT_DEPOT
        v.pos, v.pos_ts, v.speed_kmh = ev.start, ev.ts, 0.0
        v.route = []            # [(order_id, PICKUP|DELIVERY)], remaining stops in order
        v.onboard = []          # order ids on board
        v.at_stop = None        # (order_id, kind) being served
        v.leg = None            # the leg being driven, for learning: dict
        v.pace = 1.0            # recent true/predicted travel-time ratio of this driver
        v.route_version = 0
        v.last_trigger_ts = -1e18
        v.stale_alerted = False
        v.eta_ts = -1e18
        v.etas = []             # per remaining stop: predicted arrival, epoch s
        v.depart_ts = None
        v.leg_ratios = []       # cached model ratio per remaining leg after the first
        v.leg_ratio_ts = -1e18
        v.leg_ratio_rv = -1
        return v

    @property
    def available(self) -> bool:
        return self.status in (AT_DEPOT, ACTIVE)


class Order(_Plain):
    __slots__ = (
        "id", "customer_id", "kind", "location", "pickup", "window_start", "window_end",
        "size", "service_s", "pickup_service_s", "skills", "vehicle_types", "fleet_types",
        "priority", "value", "created_ts", "event_id", "status", "vehicle_id",
        "pub_ts", "pub_eta", "pub_hi", "notified_eta", "late_flag", "fail_alerted", "snaps",
        "unassigned_alerted", "arrived_ts", "retry_ts", "wsnaps",
    )

    @classmethod
    def from_event(cls, ev: OrderCreated) -> "Order":
        o = cls.__new__(cls)
        o.id, o.customer_id, o.kind = ev.order_id, ev.customer_id, ev.kind
        o.location, o.pickup = ev.location, ev.pickup
        o.window_start, o.window_end = ev.window_start, ev.window_end
        o.size, o.service_s, o.pickup_service_s = dict(ev.size), ev.service_s, ev.pickup_service_s
        o.skills, o.vehicle_types, o.fleet_types = list(ev.skills), list(ev.vehicle_types), list(ev.fleet_types)
        o.priority, o.value = ev.priority, ev.value
        o.created_ts, o.event_id = ev.ts, ev.event_id
        o.status, o.vehicle_id = PENDING, None
        o.pub_ts, o.pub_eta, o.pub_hi = None, None, None
        o.notified_eta = None
        o.late_flag = False
        o.fail_alerted = False
        o.snaps = []            # prediction snapshots for delayed-label learning
        o.unassigned_alerted = False
        o.arrived_ts = None
        o.retry_ts = -1e18      # an order with no feasible vehicle is retried from then on
        o.wsnaps = {}           # evaluation only: predictions 60 and 30 min before window end
        return o

    def stop_point(self, kind: str) -> Point:
        return self.pickup if kind == PICKUP else self.location  # type: ignore[return-value]

    def stop_service_s(self, kind: str) -> float:
        return self.pickup_service_s if kind == PICKUP else self.service_s

    def stop_window(self, kind: str) -> tuple[float, float]:
        if kind == PICKUP:
            return (self.created_ts, self.window_end)
        return (self.window_start, self.window_end)
