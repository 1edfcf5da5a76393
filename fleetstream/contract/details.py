"""Typed nested objects of the output records: decision explanations (per decision
kind), model versions, route stops and alert details (per alert kind).

Each object is a dataclass whose fields carry their JSON Schema fragment and a
one-line meaning (``ofield``); the JSON Schemas in ``docs/schemas/``, the AsyncAPI
document and the tables in ``docs/topics.md`` are generated from these classes
(:mod:`fleetstream.contract.outputs`), and ``Explanation`` is the very class the
engine builds decisions with (``fleetstream.operators.zone.records`` re-exports it).

A variant of a union (a reason ``rule``, an alert ``kind``) names itself in
``TAG``.  Field order is the order the engine writes the keys in.

This module holds the model versions and the route stops; the declaration
markers and shared vocabularies are in markers.py, the decision explanations in
explanations.py and the alert details in alert_details.py, all re-exported here.

>>> [f.name for f in fields(ExpectedEffect)]
['lateness_min', 'km', 'cost', 'p_on_time', 'p_on_time_before']
>>> REASONS["late_risk"].TAG
'late_risk'
>>> Explanation("Move o1", reasons=[{"rule": "late_risk"}], strategy="s-1").to_record()
{'summary': 'Move o1', 'reasons': [{'rule': 'late_risk'}], 'strategy': 's-1'}
"""

from __future__ import annotations

from dataclasses import dataclass, fields  # noqa: F401 - fields: the doctest above

from fleetstream.contract.alert_details import (  # noqa: F401 - re-exported
    ConstraintCount, RiskDriver, DetailsLateRisk, DetailsFailureRisk, DetailsUnassigned,
    DetailsStaleVehicle,
    DetailsDrift, DetailsVehicleUnavailable, DetailsStrandedOrders, DetailsEngineError,
    DetailsConditionClamped, DetailsClockStalled, DetailsLateRiskCleared,
    DetailsProposalUnanswered, DetailsOverrideConflict, ALERT_DETAIL_TYPES, ALERT_DETAILS)
from fleetstream.contract.explanations import (  # noqa: F401 - re-exported
    ReasonShiftStartPlan, ReasonCheapestInsertion, ReasonPeriodicReoptimization, ReasonLateRisk,
    ReasonOrderCancelled, ReasonCustomerUnavailable, ReasonOrderExpired, ReasonManualOverride,
    ReasonFailureRisk, ReasonLeastDelayInsertion, ReasonDriverKnowsDoor,
    REASON_TYPES, REASONS, RerouteAlternative, CandidateCost, RedispatchAlternative, AssignOption,
    AssignAlternative, ExpectedEffect, SolverJob, PlanSummary, ROOT_CAUSE_TYPES, RootCause,
    Explanation, KindSpec, _ALWAYS, DECISION_EXPLANATIONS)
from fleetstream.contract.event_types import REPLY_ANSWERS
from fleetstream.contract.markers import (  # noqa: F401 - re-exported
    ref, list_of, map_of, union, ext_enum, ofield, EPOCH, TT_FACTOR, STOP_KINDS, MODEL_SEATS,
    SOLVERS, REROUTE_METHODS, PLAN_STATUSES, CONSTRAINTS)


# --------------------------------------------------------------------------
# Models


@dataclass
class ModelVersion:
    """The version of one learned model (a *seat*) and how many labels it learned."""

    version: str = ofield("string", "Model implementation and version, e.g. `eta-linear-1`.")
    n: int = ofield({"type": "integer", "minimum": 0}, "Labels learned so far in this zone.",
                    unit="labels")


MODELS = {"type": "object", "properties": {s: ref(ModelVersion) for s in MODEL_SEATS},
          "additionalProperties": ref(ModelVersion),
          "$keys": "model seat: " + ", ".join(MODEL_SEATS)}


# --------------------------------------------------------------------------
# Route stops (fs.decisions routes)


@dataclass
class CustomerHistory:
    """Past outcomes of the customer's orders (counts; absent when zero)."""

    failures: int = ofield("integer", "Failed delivery attempts.", True, "attempts")
    access_failures: int = ofield("integer", "Failed attempts for access reasons.", True,
                                  "attempts")
    not_home_failures: int = ofield("integer", "Failed attempts: customer not home.", True,
                                    "attempts")
    deliveries: int = ofield("integer", "Successful deliveries.", True, "deliveries")


@dataclass
class CustomerReplyNote:
    """What the customer answered when contacted ahead of this delivery (the latest
    ``customer_reply`` event; since contract 1.2.0)."""

    answer: str = ofield(ext_enum(REPLY_ANSWERS),
                         "confirmed (someone will be in, or a neighbour or a safe place) or "
                         "unavailable.")
    ts: float = ofield("number", "When the customer answered (absent for a reply an "
                       "engine remembered before this field existed).", True, EPOCH)
    available_from: float = ofield("number", "Someone can receive from this time.", True,
                                   EPOCH)
    available_until: float = ofield("number", "... until this time.", True, EPOCH)


@dataclass
class CustomerContext:
    """What the driver should know about the customer (from fs.customers)."""

    language: str = ofield("string", "Preferred language, BCP 47 tag.", True)
    preferred_drop: str = ofield("string", "Preferred drop spot.", True)
    access_instructions: str = ofield("string", "Access instructions (codes, gates, floors).",
                                      True)
    notes: str = ofield("string", "Free-text notes for the driver.", True)
    service_requirements: list = ofield(list_of({"type": "string"}),
                                        "Requirements such as age_check, call_ahead.", True)
    available_hours: list = ofield(list_of({"type": "string"}),
                                   "When someone is usually there to receive, as the "
                                   "customer profile states them ('HH:MM-HH:MM', local "
                                   "time of the zone; since contract 1.2.0).", True)
    history: CustomerHistory = ofield(ref(CustomerHistory), "Past outcomes, when any.", True)
    reply: CustomerReplyNote = ofield(ref(CustomerReplyNote), "The customer's answer to a "
                                      "contact ahead of this delivery, when there is one "
                                      "(since contract 1.2.0).", True)


@dataclass
class Point:
    """A position, WGS84 degrees."""

    lat: float = ofield({"type": "number", "minimum": -90, "maximum": 90}, "Latitude.",
                        unit="deg (WGS84)")
    lon: float = ofield({"type": "number", "minimum": -180, "maximum": 180}, "Longitude.",
                        unit="deg (WGS84)")


@dataclass
class RouteStop:
    """One stop of a vehicle's route, in visiting order."""

    order_id: str = ofield("string", "Order served at this stop.")
    stop: str = ofield(ext_enum(STOP_KINDS), "pickup or delivery.")
    eta: float = ofield("number", "Planned arrival.", unit=EPOCH)
    window_end: float = ofield("number", "The order's delivery window end.", unit=EPOCH)
    location: Point = ofield(ref(Point), "Where the stop is: the pickup point for a pickup, "
                             "the delivery location for a delivery (since contract 1.1.0).")
    customer: CustomerContext = ofield(ref(CustomerContext), "Deliveries only: customer "
                                       "context, when the engine knows any.", True)
