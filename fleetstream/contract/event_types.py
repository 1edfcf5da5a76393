"""The input event types: topics, vocabularies and one dataclass per event type.

This module holds the declarations of the input contract: the schema version,
the input topic names, the closed vocabularies (fleet, vehicle, building,
order and condition kinds, failure reasons, reply answers), the base
:class:`Event` (``event_id``, ``ts``, ``v``) and one dataclass per event type,
grouped by topic, each field declared once with its unit, bounds and meaning
through the helpers of fleetstream/contract/fields.py, and the registry
``EVENT_TYPES`` (type name -> class).  Validation and decoding are in
fleetstream/contract/events.py, which re-exports every name of this module.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

from fleetstream.contract.fields import (
    _POINT_SCHEMA, f_area, f_bool, f_dims, f_enum, f_hours, f_id, f_int, f_lang, f_num, f_point,
    f_str, f_str_list, f_ts)

SCHEMA_VERSION = 1

TOPIC_TELEMETRY = "fs.telemetry"
TOPIC_FLEET = "fs.fleet"
TOPIC_ORDERS = "fs.orders"
TOPIC_CONDITIONS = "fs.conditions"
TOPIC_APPROVALS = "fs.approvals"
TOPIC_CUSTOMERS = "fs.customers"
INPUT_TOPICS = (TOPIC_TELEMETRY, TOPIC_FLEET, TOPIC_ORDERS, TOPIC_CONDITIONS,
                TOPIC_APPROVALS, TOPIC_CUSTOMERS)

FLEET_TYPES = ("captive", "3pl", "gig")
VEHICLE_TYPES = ("bike", "cargo_bike", "car", "van", "truck")
BUILDING_TYPES = ("house", "apartment", "office", "shop")
ORDER_KINDS = ("parcel", "on_demand")
FAIL_REASONS = ("not_home", "access", "refused", "damaged", "other")
REPLY_ANSWERS = ("confirmed", "unavailable")
STOP_KINDS = ("pickup", "delivery")
CONDITION_KINDS = ("traffic", "weather", "incident")


# --------------------------------------------------------------------------
# Events.


@dataclass(slots=True)
class Event:
    """Fields common to every input event."""

    TYPE: ClassVar[str] = ""
    TOPIC: ClassVar[str] = ""
    KEY: ClassVar[str] = ""  # the field that keys the event on its topic

    event_id: str = f_id("Unique id of this event; a repeated id is a duplicate and ignored.")
    ts: float = f_ts("Event time")
    v: int = f_int("Schema version", SCHEMA_VERSION, SCHEMA_VERSION)

    def to_dict(self) -> dict:
        d = {"type": self.TYPE}
        for f in dataclasses.fields(self):
            val = getattr(self, f.name)
            if isinstance(val, tuple) and f.metadata.get("schema") is _POINT_SCHEMA:
                val = {"lat": val[0], "lon": val[1]}
            elif isinstance(val, tuple) and len(val) == 3:
                val = {"lat": val[0], "lon": val[1], "radius_m": val[2]}
            if val is None:
                continue
            d[f.name] = val
        return d


# ---- fs.telemetry


@dataclass(slots=True)
class Ping(Event):
    """A GPS fix from a vehicle."""

    TYPE = "ping"
    TOPIC = TOPIC_TELEMETRY
    KEY = "vehicle_id"
    vehicle_id: str = f_id("Vehicle sending the fix.")
    lat: float = f_num("Latitude, WGS84 degrees.", -90, 90)
    lon: float = f_num("Longitude, WGS84 degrees.", -180, 180)
    speed_kmh: float = f_num("Ground speed, km/h.", 0, 250)
    heading: float = f_num("Heading, degrees clockwise from north.", 0, 360)
    odometer_km: float | None = f_num("Odometer, km.", 0, optional=True)
    battery_pct: float | None = f_num("Battery state of charge, percent.", 0, 100, optional=True)


# ---- fs.fleet


@dataclass(slots=True)
class ShiftStart(Event):
    """A driver starts a shift with a vehicle; the vehicle joins ``zone``."""

    TYPE = "shift_start"
    TOPIC = TOPIC_FLEET
    KEY = "vehicle_id"
    vehicle_id: str = f_id("Vehicle id.")
    driver_id: str = f_id("Driver id.")
    zone: str = f_id("Zone (depot or service area) the vehicle works in.")
    fleet_type: str = f_enum("Fleet type.", FLEET_TYPES)
    vehicle_type: str = f_enum("Vehicle type.", VEHICLE_TYPES)
    capacity: dict = f_dims("Capacity per dimension: weight_kg, volume_l, optional count (stops).",
                            ("weight_kg", "volume_l"), ("count",))
    start: tuple = f_point("Where the shift starts (usually the depot).")
    end: tuple = f_point("Where the shift must end.")
    shift_end_ts: float = f_ts("Latest time the vehicle may finish its route")
    cost_per_km: float = f_num("Variable cost per km, currency units.", 0)
    cost_per_hour: float = f_num("Cost per working hour, currency units.", 0)
    skills: list = f_str_list("Driver skills and certifications (e.g. hazmat, age_check, heavy_lift).")
    cost_per_stop: float = f_num("Cost per stop (gig couriers), currency units.", 0,
                                 optional=True, default=0.0)
    fixed_cost: float = f_num("Fixed cost of using the vehicle this shift, currency units.", 0,
                              optional=True, default=0.0)
    max_route_s: float | None = f_num("Maximum route duration, seconds.", 0, optional=True,
                                      lo_open=True)
    break_earliest_ts: float | None = f_ts(
        "Earliest start of the driver's break (absent: the shift start; used with break_s)",
        optional=True)
    break_latest_ts: float | None = f_ts(
        "Latest start of the driver's break (absent: the shift end; a latest before the "
        "earliest means the earliest)", optional=True)
    break_s: float | None = f_num(
        "Duration of the driver's break, seconds; the shift has a break only with it. The "
        "break is taken between stops; a route ending before its earliest start needs none.",
        0, 86400, optional=True, lo_open=True)
    max_drive_s: float | None = f_num(
        "Hours of service: the most driving time (travel between stops, without service "
        "and waiting) the driver may do this shift, seconds; absent: no limit.", 0,
        optional=True, lo_open=True)


@dataclass(slots=True)
class ShiftEnd(Event):
    """The vehicle's shift is over; it takes no more work."""

    TYPE = "shift_end"
    TOPIC = TOPIC_FLEET
    KEY = "vehicle_id"
    vehicle_id: str = f_id("Vehicle id.")


@dataclass(slots=True)
class VehicleUnavailable(Event):
    """The vehicle cannot continue (breakdown, accident); its orders need a new home."""

    TYPE = "vehicle_unavailable"
    TOPIC = TOPIC_FLEET
    KEY = "vehicle_id"
    vehicle_id: str = f_id("Vehicle id.")
    reason: str = f_str("Free-text reason.", max_len=200)


# ---- fs.orders


@dataclass(slots=True)
class OrderCreated(Event):
    """A new order.  ``parcel`` orders are loaded at the depot; ``on_demand`` orders
    are picked up at ``pickup`` then delivered to ``location``."""

    TYPE = "order_created"
    TOPIC = TOPIC_ORDERS
    KEY = "order_id"
    order_id: str = f_id("Order id.")
    zone: str = f_id("Zone the order belongs to.")
    customer_id: str = f_id("Customer receiving the order.")
    kind: str = f_enum("Order kind.", ORDER_KINDS)
    location: tuple = f_point("Delivery location.")
    window_start: float = f_ts("Delivery window opens")
    window_end: float = f_ts("Delivery window closes")
    size: dict = f_dims("Size per dimension: weight_kg, volume_l.", ("weight_kg", "volume_l"))
    service_s: float = f_num("Service time at the door, seconds.", 0, 7200)
    priority: int = f_int("Service tier: 0 standard, 1 express, 2 premium.", 0, 2)
    pickup: tuple | None = f_point("Pickup location (required for on_demand).", optional=True)
    pickup_service_s: float = f_num("Service time at the pickup, seconds.", 0, 7200,
                                    optional=True, default=120.0)
    skills: list = f_str_list("Skills the driver needs (e.g. hazmat, age_check, heavy_lift).")
    vehicle_types: list = f_str_list("Allowed vehicle types; empty means any.", VEHICLE_TYPES)
    fleet_types: list = f_str_list("Allowed fleet types; empty means any.", FLEET_TYPES)
    value: float = f_num("Declared goods value, currency units.", 0, optional=True, default=0.0)


@dataclass(slots=True)
class OrderCancelled(Event):
    TYPE = "order_cancelled"
    TOPIC = TOPIC_ORDERS
    KEY = "order_id"
    order_id: str = f_id("Order id.")
    reason: str | None = f_str("Free-text reason.", optional=True, max_len=200)


@dataclass(slots=True)
class StopArrived(Event):
    """Execution: the vehicle reached the order's pickup or delivery stop."""

    TYPE = "stop_arrived"
    TOPIC = TOPIC_ORDERS
    KEY = "order_id"
    order_id: str = f_id("Order id.")
    vehicle_id: str = f_id("Vehicle that arrived.")
    stop_kind: str = f_enum("Which stop of the order.", STOP_KINDS, optional=True,
                            default="delivery")


@dataclass(slots=True)
class OrderPickedUp(Event):
    """Execution: the order is on the vehicle (on-demand pickup done)."""

    TYPE = "order_picked_up"
    TOPIC = TOPIC_ORDERS
    KEY = "order_id"
    order_id: str = f_id("Order id.")
    vehicle_id: str = f_id("Vehicle carrying the order.")


@dataclass(slots=True)
class OrderDelivered(Event):
    TYPE = "order_delivered"
    TOPIC = TOPIC_ORDERS
    KEY = "order_id"
    order_id: str = f_id("Order id.")
    vehicle_id: str = f_id("Vehicle that delivered.")


@dataclass(slots=True)
class OrderFailed(Event):
    TYPE = "order_failed"
    TOPIC = TOPIC_ORDERS
    KEY = "order_id"
    order_id: str = f_id("Order id.")
    vehicle_id: str = f_id("Vehicle that attempted the delivery.")
    reason: str = f_enum("Why the attempt failed.", FAIL_REASONS)


@dataclass(slots=True)
class CustomerReply(Event):
    """The customer's answer when contacted ahead of a delivery (since contract 1.2.0;
    docs/governance.md, "Contact ahead"): ``confirmed`` (someone will be there, or a
    neighbour or a safe place is arranged) or ``unavailable``, either optionally with
    the hours someone can receive today.  With ``available_from`` later than now the
    engine moves the delivery to a place on its route not before that time (and before
    ``available_until``) when one is feasible."""

    TYPE = "customer_reply"
    TOPIC = TOPIC_ORDERS
    KEY = "order_id"
    order_id: str = f_id("Order the reply is about.")
    answer: str = f_enum("What the customer said.", REPLY_ANSWERS)
    available_from: float | None = f_ts("Someone can receive from this time today",
                                        optional=True)
    available_until: float | None = f_ts("... until this time", optional=True)
    channel: str | None = f_str("How the customer answered (sms, call, app).", optional=True,
                                max_len=32)


# ---- fs.conditions


@dataclass(slots=True)
class Condition(Event):
    """A traffic or weather factor on travel times in a zone (or an area of it)."""

    TYPE = "condition"
    TOPIC = TOPIC_CONDITIONS
    KEY = "zone"
    zone: str = f_id("Zone affected.")
    kind: str = f_enum("What causes it.", CONDITION_KINDS)
    factor: float = f_num("Travel-time multiplier (1 = normal, 2 = twice as slow).", 0.2, 10)
    start_ts: float = f_ts("Condition starts")
    end_ts: float = f_ts("Condition ends")
    area: tuple | None = f_area("Circle {lat, lon, radius_m} it applies to; absent means the "
                                "whole zone.")


# ---- fs.approvals


@dataclass(slots=True)
class Approval(Event):
    """A dispatcher's answer to a proposed decision."""

    TYPE = "approval"
    TOPIC = TOPIC_APPROVALS
    KEY = "decision_id"
    decision_id: str = f_id("Decision being answered.")
    zone: str = f_id("Zone of the decision.")
    approved: bool = f_bool("True to apply the proposal, false to reject it.")
    by: str = f_id("Who answered.")
    reason: str | None = f_str("Why (a rejection's reason is remembered with it; "
                               "docs/governance.md).", optional=True, multiline=True)


@dataclass(slots=True)
class OrderPin(Event):
    """A dispatcher's override (since contract 1.2.0): serve the order with this vehicle.
    The engine inserts it there now (cheapest feasible position; if that is infeasible
    it raises an ``override_conflict`` alert and changes nothing) and no later
    re-optimization, re-route or redispatch moves it to another vehicle
    (docs/governance.md, "Manual overrides")."""

    TYPE = "order_pin"
    TOPIC = TOPIC_APPROVALS
    KEY = "zone"
    zone: str = f_id("Zone of the order.")
    order_id: str = f_id("Order to pin.")
    vehicle_id: str = f_id("Vehicle that must serve it.")
    by: str = f_id("Dispatcher who decided.")
    reason: str | None = f_str("Why.", optional=True, multiline=True)


@dataclass(slots=True)
class OrderUnpin(Event):
    """Release a pinned order: the engine may move it again (since contract 1.2.0)."""

    TYPE = "order_unpin"
    TOPIC = TOPIC_APPROVALS
    KEY = "zone"
    zone: str = f_id("Zone of the order.")
    order_id: str = f_id("Order to release.")
    by: str = f_id("Dispatcher who decided.")
    reason: str | None = f_str("Why.", optional=True, multiline=True)


@dataclass(slots=True)
class RouteLock(Event):
    """Lock a vehicle's route (since contract 1.2.0): its sequence is not changed by
    re-optimization, re-route or redispatch and no new order is inserted into it; stops
    leave it only by delivery, failure, cancellation or expiry."""

    TYPE = "route_lock"
    TOPIC = TOPIC_APPROVALS
    KEY = "zone"
    zone: str = f_id("Zone of the vehicle.")
    vehicle_id: str = f_id("Vehicle whose route is locked.")
    by: str = f_id("Dispatcher who decided.")
    reason: str | None = f_str("Why.", optional=True, multiline=True)


@dataclass(slots=True)
class RouteUnlock(Event):
    """Unlock a vehicle's route: the engine may change it again (since contract 1.2.0)."""

    TYPE = "route_unlock"
    TOPIC = TOPIC_APPROVALS
    KEY = "zone"
    zone: str = f_id("Zone of the vehicle.")
    vehicle_id: str = f_id("Vehicle whose route is unlocked.")
    by: str = f_id("Dispatcher who decided.")
    reason: str | None = f_str("Why.", optional=True, multiline=True)


@dataclass(slots=True)
class OrderUpdate(Event):
    """Change an order's delivery window and/or address (since contract 1.2.0); the
    route it is on is re-timed, and an ``override_conflict`` alert says when the new
    window cannot be met on its vehicle.  At least one change must be given."""

    TYPE = "order_update"
    TOPIC = TOPIC_APPROVALS
    KEY = "zone"
    zone: str = f_id("Zone of the order.")
    order_id: str = f_id("Order to change.")
    by: str = f_id("Dispatcher who decided.")
    window_start: float | None = f_ts("New delivery window opens", optional=True)
    window_end: float | None = f_ts("New delivery window closes", optional=True)
    location: tuple | None = f_point("New delivery location.", optional=True)
    reason: str | None = f_str("Why.", optional=True, multiline=True)


# ---- fs.customers


@dataclass(slots=True)
class CustomerProfile(Event):
    """Customer context, on a compacted topic keyed by customer_id."""

    TYPE = "customer_profile"
    TOPIC = TOPIC_CUSTOMERS
    KEY = "customer_id"
    customer_id: str = f_id("Customer id.")
    zone: str = f_id("Zone of the customer's address.")
    language: str = f_lang("Preferred language, BCP 47 tag (e.g. en, de, es).")
    preferred_drop: str | None = f_str("Preferred drop spot.", optional=True, multiline=True)
    access_instructions: str | None = f_str("Access instructions (codes, gates, floors).",
                                            optional=True, multiline=True)
    notes: str | None = f_str("Free-text notes for the driver.", optional=True,
                              multiline=True)
    service_requirements: list = f_str_list(
        "Requirements such as age_check, call_ahead. Those that are driver skills (age_check, "
        "id_check, hazmat, heavy_lift, two_person) become constraints on the customer's orders.")
    max_vehicle_type: str | None = f_enum(
        "Vehicle-size limit: the largest vehicle type that can reach the address; larger "
        "vehicles are not used for the customer's orders (constraint access).", VEHICLE_TYPES,
        optional=True)
    access_codes: list = f_str_list(
        "Access credentials a driver needs at the address (gate, building badge); a driver "
        "holds one as the skill access:<code> (constraint access).")
    access_hours: list = f_hours(
        "Daily hours the address can be accessed, UTC, 'HH:MM-HH:MM' (an end before the "
        "start runs past midnight); the order's window is narrowed to the first open "
        "interval inside it (constraint access).")
    # -- failure-risk context (issue 9 item 5): informational, never a constraint
    building_type: str | None = f_enum(
        "Kind of building at the address (from address data): house, apartment, office or "
        "shop. A feature of the failure-risk model (offices and shops keep opening hours, "
        "homes are empty when people are out).", BUILDING_TYPES, optional=True)
    available_hours: list = f_hours(
        "Daily hours someone is usually there to receive, local time of the zone, "
        "'HH:MM-HH:MM': a business's opening hours, or what the customer said. A "
        "statement, not a constraint (unlike access_hours): a feature of the "
        "failure-risk model.")


EVENT_TYPES: dict[str, type[Event]] = {
    c.TYPE: c for c in (Ping, ShiftStart, ShiftEnd, VehicleUnavailable, OrderCreated,
                        OrderCancelled, StopArrived, OrderPickedUp, OrderDelivered, OrderFailed,
                        CustomerReply, Condition, Approval, OrderPin, OrderUnpin, RouteLock,
                        RouteUnlock, OrderUpdate, CustomerProfile)
}

OVERRIDE_TYPES = (OrderPin.TYPE, OrderUnpin.TYPE, RouteLock.TYPE, RouteUnlock.TYPE, OrderUpdate.TYPE)
"""Dispatcher overrides on fs.approvals: keyed by (and routed on) their ``zone``."""
