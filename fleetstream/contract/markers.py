"""How the typed nested objects of the output records are declared.

This module holds the building blocks of fleetstream/contract/details.py,
explanations.py and alert_details.py: the markers a field's schema fragment uses
for another typed object, a list or map of them, a union picked by a tag field
or a growing enum (:func:`ref`, :func:`list_of`, :func:`map_of`, :func:`union`,
:func:`ext_enum`), :func:`ofield` (a dataclass field carrying its JSON Schema
fragment, one-line meaning and unit), the unit strings and the vocabularies the
objects share (stop kinds, model seats, solvers, plan statuses, constraints).
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

# Markers in a field's schema fragment: another typed object, a list of them, a
# map of them, or a union (the variants of a tag field).


def ref(cls: type) -> dict:
    return {"$class": cls}


def list_of(item: dict | type) -> dict:
    return {"type": "array", "items": ref(item) if isinstance(item, type) else item}


def map_of(cls: type, key_doc: str) -> dict:
    return {"type": "object", "additionalProperties": ref(cls), "$keys": key_doc}


def union(tag: str, variants: dict[str, type], doc_unknown: str) -> dict:
    """One of ``variants`` picked by the value of the field ``tag``."""
    return {"$union": {"tag": tag, "variants": variants, "unknown": doc_unknown}}


def ext_enum(values: tuple | list) -> dict:
    """A string from a list that may grow (see docs/versioning.md): consumers must
    tolerate values they do not know."""
    return {"type": "string", "$enum": list(values)}


def ofield(schema: dict | str, doc: str, optional: bool = False, unit: str = "-") -> Any:
    frag = {"type": schema} if isinstance(schema, str) else schema
    meta = {"schema": frag, "doc": doc, "optional": optional, "unit": unit}
    return field(default=None, metadata=meta) if optional else field(metadata=meta)


EPOCH = "epoch s (UTC)"
TT_FACTOR = "travel-time factor (x free flow)"
STOP_KINDS = ("pickup", "delivery")
MODEL_SEATS = ("eta", "intervals", "late_risk", "failure_risk")
SOLVERS = ("ortools", "pyvrp")
REROUTE_METHODS = ("local", "ortools", "edf")
PLAN_STATUSES = ("not_solved", "success", "partial_success", "fail", "fail_timeout", "invalid",
                 "infeasible", "optimal")
# Why an order cannot go on a vehicle (operators/routing/constraints.py: the one
# implementation, which operators/dispatch.py uses).
CONSTRAINTS = ("capacity_weight_kg", "capacity_volume_l", "capacity_count", "capacity",
               "time_window", "shift_end", "max_duration", "break", "skills", "vehicle_type",
               "access", "fleet_type", "fleet_rule", "onboard", "loaded_at_depot",
               "pickup_delivery", "vehicle_unavailable", "window_closed", "cost", "no_vehicle",
               "max_drive")
