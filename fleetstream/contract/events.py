"""The input event contract: typed events, strict validation, orjson decoding.

Wire format: one JSON object per Kafka message or replay line.  Every event has

- ``type``: the event type (``ping``, ``shift_start``, ...), which also fixes the
  topic it may arrive on (``Event.TOPIC``);
- ``event_id``: a string unique per event; a repeated id is a duplicate (no-op);
- ``ts``: event time.  Canonical form is **epoch seconds (UTC) as a number**; an
  RFC 3339 string with an explicit offset (``2026-11-24T08:00:00Z``) is accepted
  on input and converted.  Naive timestamps are rejected;
- ``v``: the schema version, currently ``1``.

Other fields are declared once, on the dataclasses below, with their unit and
bounds; the validator, the JSON Schemas in ``docs/schemas/`` and the field
tables in ``docs/topics.md`` are all generated from these declarations.

Fields the contract does not know are ignored (additive schema evolution); a
known field with a wrong type or value is rejected with a reason naming it.  Ids
are limited to ``ID_CHARS`` (1 to ``MAX_ID_LEN`` characters) and free text may not
hold control characters (docs/limits.md).

>>> ev = decode_event(b'{"type":"ping","event_id":"p1","ts":1700000000,"v":1,'
...                   b'"vehicle_id":"v1","lat":52.5,"lon":13.4,"speed_kmh":30,"heading":90}',
...                   "fs.telemetry")
>>> (ev.vehicle_id, ev.ts, ev.speed_kmh)
('v1', 1700000000.0, 30.0)
>>> decode_event(b'{"type":"ping","event_id":"p1","ts":1700000000,"v":1}', "fs.telemetry")
Traceback (most recent call last):
...
fleetstream.contract.events.ValidationError: vehicle_id: required field is missing
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, ClassVar

import orjson

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

MAX_ID_LEN = 128
MAX_TEXT_LEN = 2000
MAX_EPOCH_S = 32503680000  # year 3000: later epoch seconds are a unit error


class ValidationError(ValueError):
    """An event breaks the contract; ``str(err)`` names the field and reason."""

    def __init__(self, field_name: str, reason: str):
        super().__init__(f"{field_name}: {reason}" if field_name else reason)
        self.field = field_name
        self.reason = reason


# --------------------------------------------------------------------------
# Field declarations.  Each helper returns a dataclass field whose metadata
# carries a checker (value -> normalised value, raising ValueError) and the
# JSON Schema fragment used for docs.


def _fld(check: Callable[[Any], Any], schema: dict, doc: str, optional: bool = False,
         default: Any = None) -> Any:
    meta = {"check": check, "schema": schema, "doc": doc, "optional": optional}
    if optional:
        if isinstance(default, (list, dict)):
            return field(default_factory=lambda d=default: type(d)(d), metadata=meta)
        return field(default=default, metadata=meta)
    return field(metadata=meta)


def _number(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"expected a number, got {type(v).__name__}")
    f = float(v)
    if not math.isfinite(f):
        raise ValueError("must be finite")
    return f


# Ids (event, vehicle, driver, order, customer, zone, decision ids, skills...): 1 to
# MAX_ID_LEN characters among ASCII letters, digits and ``_ - . : @ / + = ~``: no
# whitespace, no control characters, nothing that needs escaping in a file name, a
# sort key, a Redis key part or HTML.  Free text (notes, instructions, reasons) may be
# any Unicode but no control characters; long text may hold tabs and line breaks.
ID_CHARS = "ASCII letters, digits and _ - . : @ / + = ~"
ID_PATTERN = r"^[A-Za-z0-9_.:@/+=~-]+$"
TEXT_PATTERN = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
LINE_PATTERN = r"^[^\u0000-\u001F\u007F-\u009F]*$"
LANG_PATTERN = r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$"
_ID_BAD = re.compile(r"[^A-Za-z0-9_.:@/+=~-]")
_TEXT_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LINE_BAD = re.compile("[\x00-\x1f\x7f-\x9f]")
_LANG = re.compile(LANG_PATTERN[:-1] + r"\Z")


def check_id(v: Any, max_len: int = MAX_ID_LEN) -> str:
    """An id string, or ValueError saying what is wrong.

    >>> check_id("acme:V-12")
    'acme:V-12'
    >>> check_id("Z\\n1")
    Traceback (most recent call last):
    ...
    ValueError: may only contain ASCII letters, digits and _ - . : @ / + = ~ (found '\\n' at 1)
    """
    if not isinstance(v, str):
        raise ValueError(f"expected a string, got {type(v).__name__}")
    if not v or len(v) > max_len:
        raise ValueError(f"must be 1 to {max_len} characters")
    bad = _ID_BAD.search(v)
    if bad is not None:
        raise ValueError(f"may only contain {ID_CHARS} (found {bad.group()!r} at {bad.start()})")
    return v


def f_id(doc: str, optional: bool = False) -> Any:
    """An id field (see ``ID_CHARS``)."""
    return _fld(check_id, {"type": "string", "minLength": 1, "maxLength": MAX_ID_LEN,
                           "pattern": ID_PATTERN}, doc, optional)


def f_str(doc: str, optional: bool = False, max_len: int = MAX_TEXT_LEN,
          multiline: bool = False) -> Any:
    """Free text: any Unicode but control characters (tabs and line breaks allowed
    when ``multiline``)."""
    bad_re = _TEXT_BAD if multiline else _LINE_BAD

    def check(v: Any) -> str:
        if not isinstance(v, str):
            raise ValueError(f"expected a string, got {type(v).__name__}")
        if not v or len(v) > max_len:
            raise ValueError(f"must be 1 to {max_len} characters")
        bad = bad_re.search(v)
        if bad is not None:
            raise ValueError(f"must not contain control characters (found {bad.group()!r} "
                             f"at {bad.start()})")
        return v
    return _fld(check, {"type": "string", "minLength": 1, "maxLength": max_len,
                        "pattern": TEXT_PATTERN if multiline else LINE_PATTERN}, doc, optional)


def f_lang(doc: str) -> Any:
    def check(v: Any) -> str:
        if not isinstance(v, str):
            raise ValueError(f"expected a string, got {type(v).__name__}")
        if len(v) > 16 or not _LANG.match(v):
            raise ValueError(f"must be a BCP 47 language tag of at most 16 characters "
                             f"(e.g. en, de-CH), got {v[:40]!r}")
        return v
    return _fld(check, {"type": "string", "minLength": 2, "maxLength": 16,
                        "pattern": LANG_PATTERN}, doc)


def f_num(doc: str, lo: float | None = None, hi: float | None = None, optional: bool = False,
          default: float | None = None, lo_open: bool = False) -> Any:
    def check(v: Any) -> float:
        f = _number(v)
        if lo is not None and (f < lo or (lo_open and f == lo)):
            raise ValueError(f"must be {'>' if lo_open else '>='} {lo:g}, got {f:g}")
        if hi is not None and f > hi:
            raise ValueError(f"must be <= {hi:g}, got {f:g}")
        return f
    schema: dict = {"type": "number"}
    if lo is not None:
        schema["exclusiveMinimum" if lo_open else "minimum"] = lo
    if hi is not None:
        schema["maximum"] = hi
    return _fld(check, schema, doc, optional, default)


def f_int(doc: str, lo: int, hi: int, optional: bool = False, default: int | None = None) -> Any:
    def check(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValueError(f"expected an integer, got {type(v).__name__}")
        if not lo <= v <= hi:
            raise ValueError(f"must be between {lo} and {hi}, got {v}")
        return v
    return _fld(check, {"type": "integer", "minimum": lo, "maximum": hi}, doc, optional, default)


def f_bool(doc: str) -> Any:
    def check(v: Any) -> bool:
        if not isinstance(v, bool):
            raise ValueError(f"expected true or false, got {type(v).__name__}")
        return v
    return _fld(check, {"type": "boolean"}, doc)


def f_enum(doc: str, values: tuple[str, ...], optional: bool = False,
           default: str | None = None) -> Any:
    def check(v: Any) -> str:
        if v not in values or not isinstance(v, str):
            raise ValueError(f"must be one of {', '.join(values)}, got {v!r}")
        return v
    return _fld(check, {"type": "string", "enum": list(values)}, doc, optional, default)


def f_str_list(doc: str, values: tuple[str, ...] | None = None, max_items: int = 32) -> Any:
    def check(v: Any) -> list[str]:
        if not isinstance(v, list):
            raise ValueError(f"expected a list of strings, got {type(v).__name__}")
        if len(v) > max_items:
            raise ValueError(f"at most {max_items} items")
        for x in v:
            if not isinstance(x, str) or not x or len(x) > MAX_ID_LEN:
                raise ValueError("every item must be a non-empty string")
            if values is not None and x not in values:
                raise ValueError(f"items must be among {', '.join(values)}, got {x!r}")
            if values is None and _ID_BAD.search(x):
                raise ValueError(f"every item may only contain {ID_CHARS}, got {x[:40]!r}")
        return v
    items: dict = {"type": "string", "minLength": 1, "maxLength": MAX_ID_LEN}
    if values is not None:
        items["enum"] = list(values)
    else:
        items["pattern"] = ID_PATTERN
    return _fld(check, {"type": "array", "items": items, "maxItems": max_items}, doc, True, [])


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?$")


def parse_ts(v: Any) -> float:
    """Event time as epoch seconds (UTC) from a number or an RFC 3339 string.

    >>> parse_ts("2026-11-24T08:00:00Z"), parse_ts(1795507200)
    (1795507200.0, 1795507200.0)
    """
    if isinstance(v, str):
        if not _RFC3339.match(v):
            raise ValueError(f"not an RFC 3339 timestamp: {v[:40]!r}")
        try:
            d = datetime.fromisoformat(v.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ValueError(f"not an RFC 3339 timestamp: {v[:40]!r}") from None
        if d.tzinfo is None:
            raise ValueError("timestamp needs a UTC offset (naive times are ambiguous)")
        f = d.timestamp()
    else:
        f = _number(v)
    if not 0 <= f < MAX_EPOCH_S:
        raise ValueError(f"epoch seconds out of range: {f:g}")
    return f


HOURS_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$"
_HOURS = re.compile(HOURS_PATTERN[:-1] + r"\Z")


def f_hours(doc: str, max_items: int = 8) -> Any:
    """Daily time intervals ``["HH:MM-HH:MM", ...]`` (optional, default empty)."""
    def check(v: Any) -> list[str]:
        if not isinstance(v, list):
            raise ValueError(f"expected a list of strings, got {type(v).__name__}")
        if len(v) > max_items:
            raise ValueError(f"at most {max_items} items")
        for x in v:
            if not isinstance(x, str) or not _HOURS.match(x):
                raise ValueError(f"every item must be 'HH:MM-HH:MM' (00:00-23:59), got {str(x)[:40]!r}")
            if x[:5] == x[6:]:
                raise ValueError(f"an interval must not be empty, got {x!r}")
        return v
    return _fld(check, {"type": "array", "items": {"type": "string", "pattern": HOURS_PATTERN},
                        "maxItems": max_items}, doc, True, [])


def f_ts(doc: str, optional: bool = False) -> Any:
    schema = {"oneOf": [{"type": "number", "minimum": 0, "exclusiveMaximum": MAX_EPOCH_S},
                        {"type": "string", "format": "date-time"}]}
    return _fld(parse_ts, schema, doc + " (epoch seconds UTC; RFC 3339 accepted)", optional)


def _point_check(v: Any) -> tuple[float, float]:
    if not isinstance(v, dict):
        raise ValueError(f"expected an object {{lat, lon}}, got {type(v).__name__}")
    try:
        lat, lon = _number(v["lat"]), _number(v["lon"])
    except KeyError as e:
        raise ValueError(f"missing {e.args[0]}") from None
    if not -90 <= lat <= 90 or not -180 <= lon <= 180:
        raise ValueError("lat must be in [-90, 90] and lon in [-180, 180]")
    return (lat, lon)


_POINT_SCHEMA = {"type": "object", "required": ["lat", "lon"],
                 "properties": {"lat": {"type": "number", "minimum": -90, "maximum": 90},
                                "lon": {"type": "number", "minimum": -180, "maximum": 180}}}


def f_point(doc: str, optional: bool = False) -> Any:
    """A WGS84 point ``{"lat": deg, "lon": deg}``, held as a ``(lat, lon)`` tuple."""
    return _fld(_point_check, _POINT_SCHEMA, doc + " (WGS84 degrees)", optional)


def f_dims(doc: str, required: tuple[str, ...], optional_keys: tuple[str, ...] = ()) -> Any:
    """Non-negative quantities per dimension, e.g. ``{"weight_kg": 3, "volume_l": 20}``."""
    allowed = required + optional_keys

    def check(v: Any) -> dict[str, float]:
        if not isinstance(v, dict):
            raise ValueError(f"expected an object, got {type(v).__name__}")
        out = {}
        for k in allowed:
            if k not in v:
                if k in required:
                    raise ValueError(f"missing {k}")
                continue
            x = _number(v[k])
            if x < 0:
                raise ValueError(f"{k} must be >= 0")
            out[k] = x
        for k in v:
            if k not in allowed:
                raise ValueError(f"unknown dimension {k!r} (known: {', '.join(allowed)})")
        return out
    schema = {"type": "object", "required": list(required), "additionalProperties": False,
              "properties": {k: {"type": "number", "minimum": 0} for k in allowed}}
    return _fld(check, schema, doc, False)


def f_area(doc: str) -> Any:
    def check(v: Any) -> tuple[float, float, float] | None:
        if v is None:
            return None
        lat, lon = _point_check(v)
        if "radius_m" not in v:
            raise ValueError("missing radius_m")
        r = _number(v["radius_m"])
        if r <= 0:
            raise ValueError("radius_m must be > 0")
        return (lat, lon, r)
    schema = {"type": "object", "required": ["lat", "lon", "radius_m"],
              "properties": {**_POINT_SCHEMA["properties"],
                             "radius_m": {"type": "number", "exclusiveMinimum": 0}}}
    return _fld(check, schema, doc, True)


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

# Per type: [(name, check, optional)] in declaration order, precomputed once.
_CHECKS: dict[str, list[tuple[str, Callable[[Any], Any], bool]]] = {
    t: [(f.name, f.metadata["check"], f.metadata["optional"]) for f in dataclasses.fields(c)]
    for t, c in EVENT_TYPES.items()
}
_CROSS_CHECKS: dict[str, Callable[[Any], None]] = {}


def _cross(type_name: str) -> Callable[[Callable[[Any], None]], Callable[[Any], None]]:
    def deco(fn: Callable[[Any], None]) -> Callable[[Any], None]:
        _CROSS_CHECKS[type_name] = fn
        return fn
    return deco


@_cross("order_created")
def _check_order(ev: OrderCreated) -> None:
    if ev.window_end <= ev.window_start:
        raise ValidationError("window_end", "must be after window_start")
    if ev.kind == "on_demand" and ev.pickup is None:
        raise ValidationError("pickup", "required for on_demand orders")


@_cross("condition")
def _check_condition(ev: Condition) -> None:
    if ev.end_ts <= ev.start_ts:
        raise ValidationError("end_ts", "must be after start_ts")


@_cross("order_update")
def _check_order_update(ev: OrderUpdate) -> None:
    if ev.window_start is None and ev.window_end is None and ev.location is None:
        raise ValidationError("", "order_update changes nothing: give window_start, "
                              "window_end or location")
    if (ev.window_start is not None and ev.window_end is not None
            and ev.window_end <= ev.window_start):
        raise ValidationError("window_end", "must be after window_start")


@_cross("customer_reply")
def _check_customer_reply(ev: CustomerReply) -> None:
    if (ev.available_from is not None and ev.available_until is not None
            and ev.available_until <= ev.available_from):
        raise ValidationError("available_until", "must be after available_from")


@_cross("shift_start")
def _check_shift(ev: ShiftStart) -> None:
    if ev.shift_end_ts <= ev.ts:
        raise ValidationError("shift_end_ts", "must be after the event time")


def validate(obj: Any, topic: str | None = None) -> Event:
    """Build a typed event from a decoded JSON value, or raise ValidationError."""
    if not isinstance(obj, dict):
        raise ValidationError("", f"expected a JSON object, got {type(obj).__name__}")
    t = obj.get("type")
    cls = EVENT_TYPES.get(t) if isinstance(t, str) else None
    if cls is None:
        raise ValidationError("type", f"unknown event type {str(t)[:40]!r}")
    if topic is not None and cls.TOPIC != topic:
        raise ValidationError("type", f"{t} belongs on {cls.TOPIC}, not {topic}")
    kwargs = {}
    for name, check, optional in _CHECKS[t]:
        val = obj.get(name)
        if val is None:
            if optional:
                continue
            raise ValidationError(name, "required field is missing")
        try:
            kwargs[name] = check(val)
        except ValueError as e:
            raise ValidationError(name, str(e)) from None
    ev = cls(**kwargs)
    cross = _CROSS_CHECKS.get(t)
    if cross is not None:
        cross(ev)
    return ev


def decode_event(raw: bytes | str, topic: str | None = None) -> Event:
    """Decode one message (orjson) and validate it.  Raises ValidationError."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise ValidationError("", f"malformed JSON: {e}") from None
    return validate(obj, topic)


def encode_event(ev: Event) -> bytes:
    return orjson.dumps(ev.to_dict())


def event_key(ev: Event) -> str:
    """The Kafka message key of an event on its topic (docs/design.md, data flow)."""
    return getattr(ev, ev.KEY)
