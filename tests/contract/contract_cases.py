"""Good events and per-field good/bad values, derived from the field metadata in
fleetstream/events.py (the same declarations the validator and the schemas use).

Values are built from each field's JSON Schema fragment (its kind and bounds),
so a new field or a changed bound gets its cases without editing this file.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timedelta, timezone
from typing import Any, NamedTuple

from fleetstream.contract import events as ev

T0 = 1_795_507_200.0  # 2026-11-24T08:00:00Z
MISSING = object()  # the field is absent from the message

# Values that must differ from the generic one so cross-field rules hold.
OVERRIDES: dict[str, dict[str, Any]] = {
    "order_created": {"window_start": T0 + 3600, "window_end": T0 + 7200, "kind": "parcel"},
    "condition": {"start_ts": T0, "end_ts": T0 + 3600},
    "shift_start": {"shift_end_ts": T0 + 8 * 3600},
    "order_update": {"window_start": T0 + 3600, "window_end": T0 + 7200},
    "customer_reply": {"available_from": T0 + 3600, "available_until": T0 + 7200},
}

# Known disagreements (bugs) between the validator and the schema it documents:
# case id -> reason; the marked half of the pair of tests becomes xfail(strict).
# Empty: the ones found (string timestamps out of range, ISO 8601 basic form,
# missing schema bounds) are fixed.
VALIDATOR_BUGS: dict[str, str] = {}
SCHEMA_BUGS: dict[str, str] = {}


def fields_of(cls: type[ev.Event]) -> list[dataclasses.Field]:
    return list(dataclasses.fields(cls))


def kind_of(frag: dict) -> str:
    if any(b.get("format") == "date-time" for b in frag.get("oneOf", ())):
        return "ts"
    if "radius_m" in frag.get("properties", {}):
        return "area"
    if frag.get("type") == "object" and frag.get("additionalProperties") is False:
        return "dims"
    if frag.get("type") == "object":
        return "point"
    if "enum" in frag:
        return "enum"
    return frag["type"]  # string, number, integer, boolean, array


def iso(t: float, offset_h: int = 0, frac: bool = False) -> str:
    tz = timezone(timedelta(hours=offset_h))
    s = datetime.fromtimestamp(t, tz).isoformat(timespec="milliseconds" if frac else "seconds")
    return s.replace("+00:00", "Z")


def generic_value(frag: dict) -> Any:
    k = kind_of(frag)
    if k == "ts":
        return T0
    if k == "area":
        return {"lat": 52.5, "lon": 13.4, "radius_m": 500.0}
    if k == "point":
        return {"lat": 52.5, "lon": 13.4}
    if k == "dims":
        return {d: 1.0 for d in frag["required"]}
    if k == "enum":
        return frag["enum"][0]
    if k == "array":
        items = frag["items"]
        if items.get("pattern") == ev.HOURS_PATTERN:
            return ["09:00-17:00"]
        return [items["enum"][0]] if "enum" in items else ["x1"]
    if frag.get("pattern") == ev.LANG_PATTERN:
        return "en"
    if k == "boolean":
        return True
    if k in ("number", "integer"):
        lo = frag.get("minimum", frag.get("exclusiveMinimum"))
        hi = frag.get("maximum")
        if lo is not None and hi is not None:
            return lo if k == "integer" else (lo + hi) / 2
        if lo is not None:
            return lo + 1
        return 1
    return "x1"


def good_event(cls: type[ev.Event], **changes: Any) -> dict:
    """A message of type ``cls`` with every field (optional ones too) set to a valid
    value; ``changes`` replace fields (``MISSING`` removes one)."""
    d: dict[str, Any] = {"type": cls.TYPE}
    for f in fields_of(cls):
        d[f.name] = generic_value(f.metadata["schema"])
    d["event_id"] = f"{cls.TYPE}-1"
    d.update(OVERRIDES.get(cls.TYPE, {}))
    for k, v in changes.items():
        if v is MISSING:
            d.pop(k, None)
        else:
            d[k] = v
    return d


class Case(NamedTuple):
    type: str
    field: str
    label: str
    value: Any
    expect: Any = None  # for good cases: the normalised value, if not the input

    @property
    def id(self) -> str:
        return f"{self.type}.{self.field}:{self.label}"


def good_values(name: str, frag: dict, optional: bool, base: Any) -> list[tuple[str, Any, Any]]:
    k = kind_of(frag)
    out: list[tuple[str, Any, Any]] = []
    if k == "ts":
        # the same instant in every accepted form (keeps cross-field rules intact)
        out += [("epoch-number", base, float(base)), ("epoch-int", int(base), float(base)),
                ("rfc3339-z", iso(base), float(base)),
                ("rfc3339-offset", iso(base, 2), float(base)),
                ("rfc3339-fraction", iso(base + 0.25, -5, frac=True), base + 0.25)]
    elif k == "string" and frag.get("pattern") == ev.LANG_PATTERN:
        out += [(f"tag-{t}", t, t) for t in ("en", "de-CH", "zh-Hant-TW", "es-419")]
    elif k == "string" and frag.get("pattern") == ev.ID_PATTERN:
        n = frag["maxLength"]
        out += [("one-char", "a", "a"), ("max-len", "A" * n, "A" * n),
                ("id-punctuation", "a-b_c.d:e@f/g+h=i~j", "a-b_c.d:e@f/g+h=i~j")]
    elif k == "string":
        n = frag["maxLength"]
        out += [("one-char", "a", "a"), ("max-len", "é" * n, "é" * n),
                ("unicode", "Straße — «B» 東京", "Straße — «B» 東京")]
        if frag.get("pattern") == ev.TEXT_PATTERN:
            out.append(("multi-line", "line 1\r\nline\t2", "line 1\r\nline\t2"))
    elif k in ("number", "integer"):
        lo, hi = frag.get("minimum"), frag.get("maximum")
        if lo is not None:
            out.append(("min", lo, lo))
        if "exclusiveMinimum" in frag:
            v = frag["exclusiveMinimum"] + 0.001 if k == "number" else frag["exclusiveMinimum"] + 1
            out.append(("just-above-exclusive-min", v, v))
        if hi is not None:
            out.append(("max", hi, hi))
        if k == "number":
            out.append(("integer-literal", int(generic_value(frag)),
                        float(int(generic_value(frag)))))
    elif k == "boolean":
        out += [("true", True, True), ("false", False, False)]
    elif k == "enum":
        out += [(f"value-{v}", v, v) for v in frag["enum"]]
    elif k == "array":
        items = frag["items"]
        vals = items.get("enum", ["09:00-17:00", "22:00-02:00"] if items.get("pattern") == ev.HOURS_PATTERN
                         else ["hazmat", "age_check"])
        out += [("empty", [], []), ("all", list(vals), list(vals)),
                ("max-items", [vals[0]] * frag["maxItems"], [vals[0]] * frag["maxItems"])]
    elif k == "point":
        out += [("corner", {"lat": -90, "lon": 180}, (-90.0, 180.0)),
                ("extra-key-ignored", {"lat": 1, "lon": 2, "alt": 30}, (1.0, 2.0))]
    elif k == "area":
        out += [("circle", {"lat": 1, "lon": 2, "radius_m": 0.5}, (1.0, 2.0, 0.5))]
    elif k == "dims":
        zero = {d: 0 for d in frag["required"]}
        out.append(("zeros", zero, {d: 0.0 for d in zero}))
        opt = [d for d in frag["properties"] if d not in frag["required"]]
        if opt:
            full = {**zero, **{d: 3 for d in opt}}
            out.append(("with-optional", full, {d: float(v) for d, v in full.items()}))
    if optional:
        out += [("absent", MISSING, None), ("null", None, None)]
    return out


def bad_values(name: str, frag: dict, optional: bool) -> list[tuple[str, Any]]:
    k = kind_of(frag)
    out: list[tuple[str, Any]] = []
    if not optional:
        out += [("missing", MISSING), ("null", None)]
    if k == "ts":
        out += [("wrong-type-bool", True), ("wrong-type-object", {"t": 1}),
                ("negative", -1), ("naive-rfc3339", "2026-11-24T08:00:00"),
                ("date-only", "2026-11-24"), ("not-a-time", "yesterday"),
                ("bad-offset", "2026-11-24T08:00:00+25:00"),
                ("ts-number-year-3000", 32503680000),
                ("ts-string-before-1970", "1960-01-01T00:00:00Z"),
                ("ts-string-after-3000", "9999-12-31T00:00:00Z"),
                ("ts-iso-basic-not-rfc3339", "20261124T080000Z")]
    elif k == "string":
        out += [("wrong-type-number", 5), ("wrong-type-bool", True), ("wrong-type-list", ["x"]),
                ("empty", ""), ("too-long", "a" * (frag["maxLength"] + 1)),
                ("nul", "a\x00b"), ("escape", "a\x1b[31m"), ("c1-control", "a\x85b")]
        if frag.get("pattern") in (ev.ID_PATTERN, ev.LANG_PATTERN):
            out += [("space", "a b"), ("newline-inside", "a\nb"), ("tab", "a\tb"),
                    ("non-ascii", "aé"), ("html", "<b>")]
        elif frag.get("pattern") == ev.LINE_PATTERN:
            out += [("newline-inside", "a\nb"), ("tab", "a\tb")]
    elif k in ("number", "integer"):
        out += [("wrong-type-string", "5"), ("wrong-type-bool", True), ("wrong-type-list", [1])]
        if k == "integer":
            out.append(("fraction", 1.5))
        if "minimum" in frag:
            out.append(("below-min", frag["minimum"] - 1))
        if "exclusiveMinimum" in frag:
            out.append(("at-exclusive-min", frag["exclusiveMinimum"]))
        if "maximum" in frag:
            out.append(("above-max", frag["maximum"] + 1))
    elif k == "boolean":
        out += [("wrong-type-int", 1), ("wrong-type-string", "true")]
    elif k == "enum":
        out += [("bad-enum", "nope"), ("bad-enum-case", frag["enum"][0].upper()),
                ("wrong-type-number", 1), ("wrong-type-list", [frag["enum"][0]])]
    elif k == "array":
        items = frag["items"]
        out += [("wrong-type-string", "hazmat"), ("empty-item", [""]), ("number-item", [1]),
                ("space-in-item", ["age check"]), ("control-in-item", ["a\x00"]),
                ("too-many", ["a"] * (frag["maxItems"] + 1) if "enum" not in items
                 else [items["enum"][0]] * (frag["maxItems"] + 1))]
        if "enum" in items:
            out.append(("bad-enum-item", ["nope"]))
        else:
            out.append(("list-item-too-long", ["a" * (ev.MAX_ID_LEN + 1)]))
    elif k in ("point", "area"):
        extra = {"radius_m": 10} if k == "area" else {}
        out += [("wrong-type-list", [52.5, 13.4]), ("lat-out-of-range", {"lat": 91, "lon": 0, **extra}),
                ("lon-out-of-range", {"lat": 0, "lon": -180.5, **extra}),
                ("missing-lon", {"lat": 0, **extra}), ("lat-string", {"lat": "1", "lon": 0, **extra})]
        if k == "area":
            out += [("radius-zero", {"lat": 0, "lon": 0, "radius_m": 0}),
                    ("missing-radius", {"lat": 0, "lon": 0})]
    elif k == "dims":
        req = frag["required"]
        out += [("wrong-type-list", [1, 2]),
                ("missing-dimension", {d: 1 for d in req[1:]}),
                ("negative", {**{d: 1 for d in req}, req[0]: -0.1}),
                ("unknown-dimension", {**{d: 1 for d in req}, "height_cm": 3}),
                ("string-value", {**{d: 1 for d in req}, req[0]: "1"})]
    return out


def all_cases() -> tuple[list[Case], list[Case]]:
    good, bad = [], []
    for t, cls in ev.EVENT_TYPES.items():
        base = good_event(cls)
        for f in fields_of(cls):
            frag, opt = f.metadata["schema"], f.metadata["optional"]
            for label, v, want in good_values(f.name, frag, opt, base[f.name]):
                good.append(Case(t, f.name, label, v, want))
            for label, v in bad_values(f.name, frag, opt):
                bad.append(Case(t, f.name, label, v))
    return good, bad


RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def rfc3339_checker():
    """A jsonschema FormatChecker with a real ``date-time`` check (jsonschema only
    checks it when the optional rfc3339-validator package is installed)."""
    import jsonschema

    fc = jsonschema.FormatChecker()

    @fc.checks("date-time")
    def _dt(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if not RFC3339.match(value):
            return False
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            return False
        return True

    return fc
