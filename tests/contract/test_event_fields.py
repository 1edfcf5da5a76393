"""Every field of every event type: good values are accepted (and normalised), bad
values (wrong type, out of range, missing, bad enum, bad or naive timestamp) are
rejected with a ValidationError that names the field, and the generated JSON
Schema agrees with the validator on each of those values.

Cases are derived from the field metadata (tests/contract/contract_cases.py)."""

from __future__ import annotations

import dataclasses

import jsonschema
import orjson
import pytest

from contract_cases import (MISSING, SCHEMA_BUGS, T0, VALIDATOR_BUGS, all_cases, good_event,
                            iso, rfc3339_checker)
from fleetstream.contract import events as ev
from fleetstream.schemas import CROSS_FIELD_RULES, input_schema

GOOD, BAD = all_cases()
# A schema cannot bound the instant an RFC 3339 string denotes: these bad values are
# checked on the validator only.
SCHEMA_INEXPRESSIBLE = {"ts-string-before-1970", "ts-string-after-3000"}

_VALIDATORS: dict[str, jsonschema.Draft202012Validator] = {}


def schema_validator(topic: str) -> jsonschema.Draft202012Validator:
    if topic not in _VALIDATORS:
        _VALIDATORS[topic] = jsonschema.Draft202012Validator(
            input_schema(topic), format_checker=rfc3339_checker())
    return _VALIDATORS[topic]


def implicated_fields(errors) -> set[str]:
    """Top-level fields a list of jsonschema errors points at."""
    out: set[str] = set()
    for e in errors:
        if e.absolute_path:
            out.add(str(e.absolute_path[0]))
        elif e.validator == "required":
            out.update(n for n in e.validator_value if f"'{n}' is a required" in e.message)
    return out


def _msg(case) -> dict:
    return good_event(ev.EVENT_TYPES[case.type], **{case.field: case.value})


def _default(cls: type[ev.Event], name: str):
    f = {f.name: f for f in dataclasses.fields(cls)}[name]
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return f.default


def _marked(cases, bugs, skip=()):
    out = []
    for c in cases:
        if c.label in skip:
            continue
        marks = [pytest.mark.xfail(strict=True, reason=bugs[c.label])] if c.label in bugs else []
        out.append(pytest.param(c, id=c.id, marks=marks))
    return out


def test_cases_cover_every_field():
    """Each field of each event type has good and bad cases (the parametrization is
    not vacuous), and missing/null is a bad case for every required field."""
    good = {(c.type, c.field) for c in GOOD}
    bad = {(c.type, c.field) for c in BAD}
    for t, cls in ev.EVENT_TYPES.items():
        for f in dataclasses.fields(cls):
            assert (t, f.name) in good, (t, f.name)
            assert (t, f.name) in bad, (t, f.name)
            if not f.metadata["optional"]:
                assert any(c.type == t and c.field == f.name and c.label == "missing"
                           for c in BAD)


@pytest.mark.parametrize("cls", list(ev.EVENT_TYPES.values()), ids=list(ev.EVENT_TYPES))
def test_generic_good_event_is_valid_and_round_trips(cls):
    """The base event of each type validates, and encode/decode is the identity."""
    e = ev.validate(good_event(cls), cls.TOPIC)
    assert type(e) is cls
    again = ev.decode_event(ev.encode_event(e), cls.TOPIC)
    assert again == e
    assert ev.event_key(e) == getattr(e, cls.KEY)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in GOOD])
def test_good_value_is_accepted_and_normalised(case):
    cls = ev.EVENT_TYPES[case.type]
    msg = _msg(case)
    want = _default(cls, case.field) if case.label in ("absent", "null") else case.expect
    for e in (ev.validate(msg, cls.TOPIC), ev.decode_event(orjson.dumps(msg), cls.TOPIC)):
        got = getattr(e, case.field)
        assert got == want
        if case.label.startswith(("epoch", "rfc3339")):
            assert type(got) is float


@pytest.mark.parametrize("case", _marked(BAD, VALIDATOR_BUGS))
def test_bad_value_is_rejected_naming_the_field(case):
    cls = ev.EVENT_TYPES[case.type]
    raw = orjson.dumps(_msg(case))
    with pytest.raises(ev.ValidationError) as err:
        ev.decode_event(raw, cls.TOPIC)
    assert err.value.field == case.field
    assert str(err.value).startswith(f"{case.field}: ")
    assert err.value.reason
    if case.value is not MISSING and case.value is not None:
        # rejected by the field's own check, not by a cross-field rule downstream
        check = {f.name: f for f in dataclasses.fields(cls)}[case.field].metadata["check"]
        with pytest.raises(ValueError):
            check(case.value)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in GOOD])
def test_schema_accepts_good_value(case):
    cls = ev.EVENT_TYPES[case.type]
    errors = list(schema_validator(cls.TOPIC).iter_errors(_msg(case)))
    assert not errors, [e.message for e in errors]


@pytest.mark.parametrize("case", _marked(BAD, SCHEMA_BUGS, skip=SCHEMA_INEXPRESSIBLE))
def test_schema_rejects_bad_value_at_the_field(case):
    cls = ev.EVENT_TYPES[case.type]
    errors = list(schema_validator(cls.TOPIC).iter_errors(_msg(case)))
    assert errors
    assert case.field in implicated_fields(errors), [e.message for e in errors]


# ---------------------------------------------------------------- cross-field rules

OC, COND, SHIFT = ev.OrderCreated, ev.Condition, ev.ShiftStart

CROSS_BAD = [
    ("window-end-equals-start", OC, {"window_start": T0, "window_end": T0}, "window_end"),
    ("window-end-before-start", OC, {"window_start": T0, "window_end": T0 - 1}, "window_end"),
    # 07:30Z is before 09:00Z although the strings sort the other way
    ("window-order-after-offsets", OC, {"window_start": "2026-11-24T10:00:00+01:00",
                                        "window_end": "2026-11-24T09:30:00+02:00"},
     "window_end"),
    ("on-demand-without-pickup", OC, {"kind": "on_demand", "pickup": MISSING}, "pickup"),
    ("on-demand-null-pickup", OC, {"kind": "on_demand", "pickup": None}, "pickup"),
    ("condition-end-equals-start", COND, {"start_ts": T0, "end_ts": T0}, "end_ts"),
    ("condition-end-before-start", COND, {"start_ts": T0, "end_ts": T0 - 60}, "end_ts"),
    ("shift-end-equals-ts", SHIFT, {"ts": T0, "shift_end_ts": T0}, "shift_end_ts"),
    ("shift-end-before-ts", SHIFT, {"ts": T0, "shift_end_ts": iso(T0 - 1)}, "shift_end_ts"),
]
CROSS_GOOD = [
    ("window-one-second", OC, {"window_start": T0, "window_end": T0 + 1}),
    ("window-strings-with-offsets", OC, {"window_start": "2026-11-24T10:00:00+01:00",
                                         "window_end": "2026-11-24T09:30:00Z"}),
    ("on-demand-with-pickup", OC, {"kind": "on_demand", "pickup": {"lat": 1, "lon": 2}}),
    ("parcel-without-pickup", OC, {"kind": "parcel", "pickup": MISSING}),
    ("condition-one-second", COND, {"start_ts": T0, "end_ts": T0 + 1}),
    ("shift-end-after-ts", SHIFT, {"ts": iso(T0, 3), "shift_end_ts": T0 + 1}),
]
# The one cross rule a JSON Schema can carry (if kind = on_demand then pickup).
SCHEMA_CROSS = {"on-demand-without-pickup", "on-demand-null-pickup"}


@pytest.mark.parametrize("label,cls,changes,field", CROSS_BAD, ids=[c[0] for c in CROSS_BAD])
def test_cross_field_rule_rejects(label, cls, changes, field):
    with pytest.raises(ev.ValidationError) as err:
        ev.validate(good_event(cls, **changes), cls.TOPIC)
    assert err.value.field == field
    if label in SCHEMA_CROSS:
        errors = list(schema_validator(cls.TOPIC).iter_errors(good_event(cls, **changes)))
        assert field in implicated_fields(errors)


@pytest.mark.parametrize("label,cls,changes", CROSS_GOOD, ids=[c[0] for c in CROSS_GOOD])
def test_cross_field_rule_accepts(label, cls, changes):
    e = ev.validate(good_event(cls, **changes), cls.TOPIC)
    assert type(e) is cls
    assert not list(schema_validator(cls.TOPIC).iter_errors(good_event(cls, **changes)))


def test_every_cross_field_rule_is_documented_in_the_schemas():
    """A cross check added to events.py must be described in schemas.CROSS_FIELD_RULES
    (which puts it into the schema's $comment and docs/topics.md)."""
    assert set(ev._CROSS_CHECKS) == set(CROSS_FIELD_RULES)
    for t, rule in CROSS_FIELD_RULES.items():
        cls = ev.EVENT_TYPES[t]
        comment = input_schema(cls.TOPIC)["$defs"][t]["$comment"]
        assert all(r in comment for r in rule["rules"])
