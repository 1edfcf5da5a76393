"""Field declarations of the input event contract: limits, checks and schema fragments.

This module holds the building blocks that fleetstream/contract/event_types.py
declares every input event field with: the limits (``MAX_ID_LEN``,
``MAX_TEXT_LEN``, ``MAX_EPOCH_S``), the id and text character rules
(``ID_CHARS`` and the ``*_PATTERN`` regular expressions), the checkers
(:func:`check_id`, :func:`parse_ts`...) and the ``f_*`` helpers, each returning a
dataclass field whose metadata carries a checker (value -> normalised value,
raising ``ValueError``), the field's JSON Schema fragment and its one-line doc.
Validation (fleetstream/contract/events.py), the JSON Schemas and the field
tables of docs/topics.md all read these declarations.
"""

from __future__ import annotations

import math
import re
from dataclasses import field
from datetime import datetime
from typing import Any, Callable

MAX_ID_LEN = 128
MAX_TEXT_LEN = 2000
MAX_EPOCH_S = 32503680000  # year 3000: later epoch seconds are a unit error


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
