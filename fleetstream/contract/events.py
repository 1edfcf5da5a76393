"""The input event contract: typed events, strict validation, orjson decoding.

Wire format: one JSON object per Kafka message or replay line.  Every event has

- ``type``: the event type (``ping``, ``shift_start``, ...), which also fixes the
  topic it may arrive on (``Event.TOPIC``);
- ``event_id``: a string unique per event; a repeated id is a duplicate (no-op);
- ``ts``: event time.  Canonical form is **epoch seconds (UTC) as a number**; an
  RFC 3339 string with an explicit offset (``2026-11-24T08:00:00Z``) is accepted
  on input and converted.  Naive timestamps are rejected;
- ``v``: the schema version, currently ``1``.

Other fields are declared once, on the dataclasses of
fleetstream/contract/event_types.py (built with the field helpers of
fleetstream/contract/fields.py), with their unit and bounds; the validator, the
JSON Schemas in ``docs/schemas/`` and the field tables in ``docs/topics.md`` are
all generated from these declarations.

Fields the contract does not know are ignored (additive schema evolution); a
known field with a wrong type or value is rejected with a reason naming it.  Ids
are limited to ``ID_CHARS`` (1 to ``MAX_ID_LEN`` characters) and free text may not
hold control characters (docs/limits.md).

This module holds :class:`ValidationError` and the validation itself
(:func:`validate`, :func:`decode_event`, :func:`encode_event`, :func:`event_key`);
every name of event_types.py and fields.py is re-exported here, so
``from fleetstream.contract.events import Ping, MAX_ID_LEN`` keeps working.

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
from typing import Any, Callable

import orjson

from fleetstream.contract.event_types import (  # noqa: F401 - re-exported
    SCHEMA_VERSION, TOPIC_TELEMETRY, TOPIC_FLEET, TOPIC_ORDERS, TOPIC_CONDITIONS, TOPIC_APPROVALS,
    TOPIC_CUSTOMERS, INPUT_TOPICS, FLEET_TYPES, VEHICLE_TYPES, BUILDING_TYPES, ORDER_KINDS,
    FAIL_REASONS, REPLY_ANSWERS, STOP_KINDS, CONDITION_KINDS, Event, Ping, ShiftStart, ShiftEnd,
    VehicleUnavailable, OrderCreated, OrderCancelled, StopArrived, OrderPickedUp, OrderDelivered,
    OrderFailed, CustomerReply, Condition, Approval, OrderPin, OrderUnpin, RouteLock, RouteUnlock,
    OrderUpdate, CustomerProfile, EVENT_TYPES, OVERRIDE_TYPES)
from fleetstream.contract.fields import (  # noqa: F401 - re-exported
    MAX_ID_LEN, MAX_TEXT_LEN, MAX_EPOCH_S, ID_CHARS, ID_PATTERN, TEXT_PATTERN, LINE_PATTERN,
    LANG_PATTERN, check_id, f_id, f_str, f_lang, f_num, f_int, f_bool, f_enum, f_str_list,
    parse_ts, HOURS_PATTERN, f_hours, f_ts, f_point, f_dims, f_area)


class ValidationError(ValueError):
    """An event breaks the contract; ``str(err)`` names the field and reason."""

    def __init__(self, field_name: str, reason: str):
        super().__init__(f"{field_name}: {reason}" if field_name else reason)
        self.field = field_name
        self.reason = reason


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
