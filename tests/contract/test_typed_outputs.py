"""The typed nested objects of the outputs (fleetstream/contract/details.py) are the
truth the engine follows: every reason rule, alert kind, model seat and constraint
the operators emit is declared; the strict schemas reject any undeclared key, the
published ones tolerate it; the engine builds decisions with the contract's class."""

from __future__ import annotations

import dataclasses
import os
import re

import jsonschema
import pytest

from fleetstream.contract import details as dt
from fleetstream.contract import outputs as out
from fleetstream.schemas import all_schemas, strict_schemas

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _operator_sources() -> str:
    text = []
    for d, _dirs, files in os.walk(os.path.join(ROOT, "operators")):
        text += [open(os.path.join(d, f), encoding="utf-8").read()
                 for f in sorted(files) if f.endswith(".py")]
    return "\n".join(text)


def test_every_reason_rule_the_operators_write_is_declared():
    rules = set(re.findall(r'"rule":\s*"(\w+)"', _operator_sources()))
    assert rules, "no rule literal found: the scan is broken"
    assert rules <= set(dt.REASONS), rules - set(dt.REASONS)
    for spec in dt.DECISION_EXPLANATIONS.values():
        assert set(spec.fields) <= {f.name for f in dataclasses.fields(dt.Explanation)}


def test_every_alert_kind_the_operators_emit_is_declared():
    src = _operator_sources()
    kinds = set(re.findall(r'\.alert\(\s*out,\s*[\w.]+,\s*"(\w+)"', src))
    kinds |= set(re.findall(r'"kind":\s*"(\w+)",\s*\n?\s*"severity"', src))
    assert {"late_risk", "unassigned", "engine_error"} <= kinds, kinds
    assert kinds <= set(dt.ALERT_DETAILS), kinds - set(dt.ALERT_DETAILS)
    assert out.ALERT_KINDS == tuple(dt.ALERT_DETAILS)


def test_model_seats_and_constraints_match_the_operators():
    from fleetstream.operators import dispatch
    from fleetstream.operators.estimators import SEATS
    from fleetstream.operators.routing import constraints as rc
    assert tuple(SEATS) == dt.MODEL_SEATS
    names = {c for c in rc.ALL_CONSTRAINTS if c != rc.C_CAPACITY}
    names |= {v for k, v in vars(dispatch).items() if k.startswith("C_") and v != "capacity"}
    names |= {"capacity_" + d for d in ("weight_kg", "volume_l")}
    assert names <= set(dt.CONSTRAINTS), names - set(dt.CONSTRAINTS)


def test_the_engine_builds_decisions_with_the_contract_class():
    from fleetstream.operators.zone import records
    assert records.Explanation is dt.Explanation


def test_every_typed_field_is_documented_with_a_unit_where_numeric():
    classes = [c for c in vars(dt).values()
               if isinstance(c, type) and dataclasses.is_dataclass(c) and c is not dt.KindSpec]
    assert len(classes) > 20
    for c in classes:
        for f in dataclasses.fields(c):
            m = f.metadata
            assert m["doc"].strip(), (c.__name__, f.name)
            t = m["schema"].get("type")
            numeric = t in ("number", "integer") or (isinstance(t, list) and "number" in t)
            if numeric and f.name not in ("seed", "solution_limit", "iterations", "n"):
                assert m["unit"] != "-", (c.__name__, f.name)


@pytest.fixture(scope="module")
def decision() -> dict:
    return {"decision_id": "D-Z1-1-1", "ts": 1.0, "v": 1, "zone": "Z1", "kind": "reroute",
            "status": "applied", "autonomy": "auto", "order_ids": ["o1"],
            "routes": {"v1": [{"order_id": "o1", "stop": "delivery", "eta": 2.0,
                               "window_end": 3.0, "location": {"lat": 52.5, "lon": 13.4},
                               "customer": {"language": "en", "history": {"deliveries": 2}}}]},
            "trigger_event_ids": ["p1"],
            "models": {s: {"version": "x-1", "n": 0} for s in dt.MODEL_SEATS},
            "explanation": {"summary": "s", "reasons": [{"rule": "late_risk", "orders": ["o1"],
                                                         "threshold": 0.6}],
                            "alternatives": [{"option": "re-sequence", "lateness_min": 0.0}],
                            "expected_gain_min": 3.0, "method": "local",
                            "expected_effect": {"lateness_min": -3.0, "km": 1.0, "cost": 0.5},
                            "strategy": "ortools-routing-1"}}


@pytest.mark.parametrize("path,value", [
    (("explanation", "undocumented"), 1),
    (("explanation", "reasons", 0, "undocumented"), 1),
    (("explanation", "expected_effect", "undocumented"), 1),
    (("routes", "v1", 0, "undocumented"), 1),
    (("routes", "v1", 0, "customer", "undocumented"), 1),
    (("models", "eta", "undocumented"), 1),
    (("models", "new_seat"), {"version": "y", "n": 1}),
    (("explanation", "plan"), {"vehicles": 1}),          # not a reroute field
    (("explanation", "reasons", 0, "rule"), "shift_start_plan"),  # not a reroute rule
    (("kind",), "swap"),                                   # an enum value not emitted today
])
def test_strict_rejects_what_is_not_declared_and_published_tolerates_additions(decision, path,
                                                                               value):
    import copy
    strict = jsonschema.Draft202012Validator(strict_schemas()["fs.decisions"])
    published = jsonschema.Draft202012Validator(all_schemas()["fs.decisions"])
    assert strict.is_valid(decision), list(strict.iter_errors(decision))[:1]
    rec = copy.deepcopy(decision)
    node = rec
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    assert not strict.is_valid(rec)
    if path[-1] in ("undocumented", "new_seat", "kind"):
        assert published.is_valid(rec), list(published.iter_errors(rec))[:1]


def test_route_stops_need_a_location(decision):
    import copy
    published = jsonschema.Draft202012Validator(all_schemas()["fs.decisions"])
    rec = copy.deepcopy(decision)
    del rec["routes"]["v1"][0]["location"]
    assert not published.is_valid(rec)
    rec["routes"]["v1"][0]["location"] = {"lat": 95.0, "lon": 0.0}
    assert not published.is_valid(rec)


def test_alert_details_are_typed_per_kind():
    strict = jsonschema.Draft202012Validator(strict_schemas()["fs.alerts"])
    published = jsonschema.Draft202012Validator(all_schemas()["fs.alerts"])
    a = {"alert_id": "A-1", "ts": 1.0, "v": 1, "zone": "Z1", "kind": "stale_vehicle",
         "severity": "warning", "message": "m", "details": {"last_ping_ts": 5.0}}
    assert strict.is_valid(a) and published.is_valid(a)
    b = {**a, "details": {"last_ping_ts": "yesterday"}}
    assert not strict.is_valid(b) and not published.is_valid(b)
    c = {**a, "details": {"p_fail": 0.5}}  # failure_risk details on a stale_vehicle alert
    assert not strict.is_valid(c)
