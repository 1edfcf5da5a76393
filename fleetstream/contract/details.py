"""Typed nested objects of the output records: decision explanations (per decision
kind), model versions, route stops and alert details (per alert kind).

Each object is a dataclass whose fields carry their JSON Schema fragment and a
one-line meaning (``ofield``); the JSON Schemas in ``docs/schemas/``, the AsyncAPI
document and the tables in ``docs/topics.md`` are generated from these classes
(:mod:`fleetstream.contract.outputs`), and ``Explanation`` is the very class the
engine builds decisions with (``fleetstream.operators.zone.records`` re-exports it).

A variant of a union (a reason ``rule``, an alert ``kind``) names itself in
``TAG``.  Field order is the order the engine writes the keys in.

>>> [f.name for f in fields(ExpectedEffect)]
['lateness_min', 'km', 'cost', 'p_on_time', 'p_on_time_before']
>>> REASONS["late_risk"].TAG
'late_risk'
>>> Explanation("Move o1", reasons=[{"rule": "late_risk"}], strategy="s-1").to_record()
{'summary': 'Move o1', 'reasons': [{'rule': 'late_risk'}], 'strategy': 's-1'}
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

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
class CustomerContext:
    """What the driver should know about the customer (from fs.customers)."""

    language: str = ofield("string", "Preferred language, BCP 47 tag.", True)
    preferred_drop: str = ofield("string", "Preferred drop spot.", True)
    access_instructions: str = ofield("string", "Access instructions (codes, gates, floors).",
                                      True)
    notes: str = ofield("string", "Free-text notes for the driver.", True)
    service_requirements: list = ofield(list_of({"type": "string"}),
                                        "Requirements such as age_check, call_ahead.", True)
    history: CustomerHistory = ofield(ref(CustomerHistory), "Past outcomes, when any.", True)


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


# --------------------------------------------------------------------------
# Decision explanations


@dataclass
class ReasonShiftStartPlan:
    """A zone plan solved when a wave of shifts started."""

    TAG: ClassVar[str] = "shift_start_plan"
    rule: str = ofield("string", "`shift_start_plan`.")
    solver: str = ofield(ext_enum(SOLVERS), "Plan backend.")
    solution_limit: int = ofield("integer", "OR-Tools: solutions searched (count budget).",
                                 True, "solutions")
    iterations: int = ofield("integer", "PyVRP: iterations (count budget).", True,
                             "iterations")
    seed: int = ofield("integer", "PyVRP: random seed.", True)


@dataclass
class ReasonCheapestInsertion:
    """New orders inserted where they cost least among feasible positions."""

    TAG: ClassVar[str] = "cheapest_feasible_insertion"
    rule: str = ofield("string", "`cheapest_feasible_insertion`.")
    candidates_per_order: int = ofield("integer", "Vehicles tried per order.", unit="vehicles")


@dataclass
class ReasonPeriodicReoptimization:
    """A route re-sequenced by the periodic re-optimisation."""

    TAG: ClassVar[str] = "periodic_reoptimization"
    rule: str = ofield("string", "`periodic_reoptimization`.")
    interval_min: float = ofield("number", "Re-optimisation interval.", unit="min")
    min_gain: float = ofield("number", "Least cost drop that changes a route.",
                             unit="currency")
    guard_hit: bool = ofield("boolean", "True when the solver's wall-clock guard cut the "
                             "search (present only then).", True)


@dataclass
class ReasonLateRisk:
    """Stops predicted to miss their window (late-risk model above its threshold)."""

    TAG: ClassVar[str] = "late_risk"
    rule: str = ofield("string", "`late_risk`.")
    orders: list = ofield(list_of({"type": "string"}), "Orders at risk.", True)
    threshold: float = ofield("number", "Late-risk probability that triggers a response.",
                              True, "probability (0-1)")
    order: str = ofield("string", "The one order moved (baseline redispatch).", True)


@dataclass
class ReasonOrderCancelled:
    """The order was cancelled (fs.orders order_cancelled)."""

    TAG: ClassVar[str] = "order_cancelled"
    rule: str = ofield("string", "`order_cancelled`.")
    reason: str = ofield("string", "The cancellation reason ('' when none was given).")


@dataclass
class ReasonOrderExpired:
    """The order got no delivered, failed or cancelled event by its window end plus
    ``limits.order_grace_s`` (docs/limits.md, retention); its outcome is ``expired``."""

    TAG: ClassVar[str] = "order_expired"
    rule: str = ofield("string", "`order_expired`.")
    reason: str = ofield("string", "Why, with the grace period and the last status.")


@dataclass
class ReasonManualOverride:
    """A dispatcher's override on fs.approvals (since contract 1.2.0; docs/governance.md,
    "Manual overrides")."""

    TAG: ClassVar[str] = "manual_override"
    rule: str = ofield("string", "`manual_override`.")
    action: str = ofield(ext_enum(("order_pin", "order_unpin", "route_lock", "route_unlock",
                                   "order_update")), "The override event's type.")
    by: str = ofield("string", "Dispatcher who decided.")
    reason: str = ofield("string", "The dispatcher's reason.", True)
    order_id: str = ofield("string", "The order concerned (pin, unpin, update).", True)
    vehicle_id: str = ofield("string", "The vehicle concerned (pin, lock, unlock).", True)
    changes: dict = ofield("object", "order_update: the new values (window_start, "
                           "window_end, location).", True)


@dataclass
class ReasonFailureRisk:
    """A delivery likely to fail at its planned time moved on its route to when the
    customer is more likely in (since contract 1.2.0; ``engine.failure_attempt_cost``,
    docs/governance.md "Contact ahead")."""

    TAG: ClassVar[str] = "failure_risk"
    rule: str = ofield("string", "`failure_risk`.")
    order: str = ofield("string", "The order moved.")
    p_fail_before: float = ofield("number", "Predicted failure risk at the planned time.",
                                  unit="probability (0-1)")
    p_fail_after: float = ofield("number", "Predicted failure risk at the new time.",
                                 unit="probability (0-1)")
    attempt_cost: float = ofield("number", "Cost of a failed attempt "
                                 "(engine.failure_attempt_cost).", unit="currency")


REASON_TYPES = (ReasonShiftStartPlan, ReasonCheapestInsertion, ReasonPeriodicReoptimization,
                ReasonLateRisk, ReasonOrderCancelled, ReasonOrderExpired, ReasonManualOverride,
                ReasonFailureRisk)
REASONS = {c.TAG: c for c in REASON_TYPES}


@dataclass
class RerouteAlternative:
    """An option weighed by a late-risk re-route."""

    option: str = ofield("string", "`keep current sequence` or `re-sequence`.")
    lateness_min: float = ofield("number", "Predicted total lateness with this option.",
                                 unit="min")


@dataclass
class CandidateCost:
    """A vehicle an order could move to and what the move saves."""

    vehicle: str = ofield("string", "Candidate vehicle.")
    gain: float = ofield("number", "Cost saved by the move (change cost not deducted).",
                         unit="currency")


@dataclass
class RedispatchAlternative:
    """The candidates costed for one order of a redispatch (best first, at most 5)."""

    job_id: str = ofield("string", "Order.")
    candidates: list = ofield(list_of(CandidateCost), "Candidates, best first.")


@dataclass
class AssignOption:
    """Another option an insertion costed for one order (since contract 1.2.0)."""

    option: str = ofield(ext_enum(("vehicle", "leave_unassigned")),
                         "`vehicle`: another vehicle; `leave_unassigned`: keep the order "
                         "pending until a later sweep (listed when no other vehicle was "
                         "feasible).")
    vehicle: str = ofield("string", "option vehicle: the vehicle.", True)
    cost: float = ofield("number", "Feasible vehicle: added cost of the order's cheapest "
                         "position on it.", True, "currency")
    cost_delta: float = ofield("number", "Feasible vehicle: its cost minus the chosen one's "
                               "(>= 0: the chosen insertion is the cheapest).", True,
                               "currency")
    constraint: str = ofield(ext_enum(CONSTRAINTS), "Vehicle ruled out: the constraint "
                             "that left it no feasible position.", True)


@dataclass
class AssignAlternative:
    """What the insertion of one order of an assign decision costed (since contract
    1.2.0; docs/governance.md, "Costed alternatives"): the chosen vehicle and at most 3
    other options, the cheapest feasible vehicles first, then vehicles a constraint
    ruled out (nearest first), then ``leave_unassigned`` when no other vehicle was
    feasible."""

    order_id: str = ofield("string", "Order.")
    vehicle: str = ofield("string", "The vehicle chosen.")
    cost: float = ofield("number", "Added cost of the chosen position.", unit="currency")
    feasible: int = ofield({"type": "integer", "minimum": 1}, "Candidate vehicles with a "
                           "feasible position (the chosen one included).", unit="vehicles")
    ruled_out: int = ofield({"type": "integer", "minimum": 0}, "Candidate vehicles a "
                            "constraint ruled out.", unit="vehicles")
    options: list = ofield(list_of(AssignOption), "Other options, best first (at most 3 "
                           "vehicles, then possibly leave_unassigned).")


@dataclass
class ExpectedEffect:
    """Expected effect of the decision on the affected routes (after minus before)."""

    lateness_min: float = ofield("number", "Change of predicted total lateness.", unit="min")
    km: float = ofield("number", "Change of planned distance.", unit="km")
    cost: float = ofield("number", "Change of route cost (distance and time costs).",
                         unit="currency")
    p_on_time: float = ofield("number", "Mean on-time probability of the orders concerned, "
                              "after.", True, "probability (0-1)")
    p_on_time_before: float = ofield("number", "The same, before.", True, "probability (0-1)")


@dataclass
class SolverJob:
    """A plan solved off the event path (a solver job)."""

    id: str = ofield("string", "Job id.")
    requested_ts: float = ofield("number", "Event time the job was requested at.", unit=EPOCH)
    applied_ts: float = ofield("number", "Event time its result was applied at.", unit=EPOCH)
    reconciled_vehicles: int = ofield("integer", "Vehicles whose route changed while solving "
                                      "(left out of the plan).", unit="vehicles")
    reconciled_stops: int = ofield("integer", "Stops dropped because they changed while "
                                   "solving.", unit="stops")


@dataclass
class PlanSummary:
    """The zone plan the decision is part of."""

    vehicles: int = ofield("integer", "Vehicles planned.", unit="vehicles")
    orders: int = ofield("integer", "Orders planned.", unit="orders")
    vehicles_used: int = ofield({"type": ["integer", "null"]}, "Vehicles with a route.",
                                unit="vehicles")
    distance_km: float = ofield("number", "Total planned distance.", unit="km")
    cost: float = ofield("number", "Total plan cost.", unit="currency")
    unassigned: int = ofield("integer", "Orders the plan left out.", unit="orders")
    stops_spread: int = ofield("integer", "Most minus fewest stops per used vehicle.",
                               unit="stops")
    hours_spread: float = ofield("number", "Longest minus shortest route.", unit="h")
    independent_check: str = ofield(ext_enum(("feasible", "violations")),
                                    "Verdict of the independent route checker.")
    status: str = ofield(ext_enum(PLAN_STATUSES), "Solver status.")
    guard_hit: bool = ofield("boolean", "True when the wall-clock guard cut the search "
                             "(present only then).", True)
    solver_job: SolverJob = ofield(ref(SolverJob), "When solved as a solver job.", True)


# -- helper R (recovery of work): order_failed, shift_end
ROOT_CAUSE_TYPES = ("order_created", "vehicle_unavailable", "condition", "order_failed",
                    "shift_end", "customer_reply")
# -- end helper R


@dataclass
class RootCause:
    """An input event that caused the situation a decision answers (since contract
    1.2.0): the new order, the vehicle that dropped out, the incident or weather on the
    route, besides the event that made the engine look (``trigger_event_ids``, often
    a ping).  docs/governance.md, "Root cause"."""

    type: str = ofield(ext_enum(ROOT_CAUSE_TYPES), "What kind of event.")
    event_id: str = ofield("string", "The input event.")
    order_id: str = ofield("string", "order_created, order_failed, customer_reply: the "
                           "order.", True)
    kind: str = ofield("string", "condition: its kind (incident, weather, ...).", True)


@dataclass
class Explanation:
    """Why a decision was taken.  ``to_record`` keeps the fields that are set, in
    this order (the order of the published ``explanation`` object)."""

    summary: str = ofield("string", "One sentence for a person.")
    reasons: list | None = ofield(list_of(union("rule", REASONS, "a rule this consumer does "
                                                "not know: read the summary")),
                                  "Rules that fired, with their numbers (typed by `rule`).", True)
    alternatives: list | None = ofield(list_of({"anyOf": [ref(RerouteAlternative),
                                                          ref(RedispatchAlternative),
                                                          ref(AssignAlternative)]}),
                                       "Options costed (reroute: RerouteAlternative, "
                                       "redispatch: RedispatchAlternative, assign by "
                                       "insertion: AssignAlternative, one per order).", True)
    expected_gain_min: float | None = ofield("number", "Predicted lateness saved.", True,
                                             "min")
    gain: float | None = ofield("number", "Cost saved by the moves (change cost not "
                                "deducted).", True, "currency")
    change_cost: float | None = ofield("number", "Least gain a move must beat.", True,
                                       "currency")
    expected_effect: dict | None = ofield(ref(ExpectedEffect), "Expected effect.", True)
    method: str | None = ofield(ext_enum(REROUTE_METHODS), "Re-sequencing method.", True)
    plan: dict | None = ofield(ref(PlanSummary), "The zone plan.", True)
    strategy: str | None = ofield("string", "Routing strategy and version.", True)
    approved_by: str | None = ofield("string", "Who approved the proposal (status applied "
                                     "with refers_to).", True)
    root_causes: list | None = ofield(list_of(RootCause), "Input events that caused the "
                                      "situation (at most 10), besides the trigger.", True)

    def to_record(self) -> dict[str, Any]:
        rec = {}
        for f in fields(self):
            x = getattr(self, f.name)
            if x is not None:
                rec[f.name] = x
        return rec

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> "Explanation":
        return cls(**rec)


@dataclass(frozen=True)
class KindSpec:
    """What the explanation of one decision kind may hold."""

    doc: str
    reasons: tuple[type, ...]
    alternatives: type | None
    fields: tuple[str, ...]


_ALWAYS = ("summary", "reasons", "strategy", "approved_by", "root_causes")
DECISION_EXPLANATIONS: dict[str, KindSpec] = {
    "assign": KindSpec("New orders onto a route: by insertion (with the options each "
                       "insertion costed), or a zone plan.",
                       (ReasonShiftStartPlan, ReasonCheapestInsertion), AssignAlternative,
                       _ALWAYS + ("alternatives", "expected_effect", "plan")),
    "reroute": KindSpec("One vehicle's stops re-sequenced: late risk, periodic "
                        "re-optimisation, or a delivery moved to when it is less likely "
                        "to fail.", (ReasonLateRisk, ReasonPeriodicReoptimization,
                                     ReasonFailureRisk),
                        RerouteAlternative,
                        _ALWAYS + ("alternatives", "expected_gain_min", "expected_effect",
                                   "method")),
    "redispatch": KindSpec("Orders moved between vehicles.",
                           (ReasonLateRisk, ReasonCheapestInsertion), RedispatchAlternative,
                           _ALWAYS + ("alternatives", "gain", "change_cost",
                                      "expected_effect")),
    "hold": KindSpec("Orders kept unassigned (reserved: not emitted by this version).", (),
                     None, _ALWAYS),
    "unassign": KindSpec("An order taken off a route (cancelled, or expired: docs/limits.md).",
                         (ReasonOrderCancelled, ReasonOrderExpired), None, _ALWAYS),
    "override": KindSpec("A dispatcher's override applied (order pinned or unpinned, route "
                         "locked or unlocked, window or address changed); status applied, "
                         "autonomy manual, ``approved_by`` the dispatcher.",
                         (ReasonManualOverride,), None, _ALWAYS),
}


# --------------------------------------------------------------------------
# Alert details


@dataclass
class ConstraintCount:
    """One constraint that keeps an order off vehicles, and on how many."""

    constraint: str = ofield(ext_enum(CONSTRAINTS), "Constraint name.")
    vehicles: int = ofield("integer", "Vehicles it rules out.", True, "vehicles")
    example_vehicle: str = ofield("string", "One of them.", True)
    text: str = ofield("string", "The constraint in words ('' when none).", True)


@dataclass
class DetailsLateRisk:
    """Stops of one vehicle predicted to miss their window, after the engine's response."""

    TAG: ClassVar[str] = "late_risk"
    threshold: float = ofield("number", "Late-risk probability that triggers.",
                              unit="probability (0-1)")
    etas: dict = ofield({"type": "object", "additionalProperties": {"type": ["number", "null"]},
                         "$keys": "order id"}, "Order id -> predicted arrival (epoch s UTC).",
                        unit=EPOCH)
    redispatch: str = ofield("string", "What the redispatch attempt concluded.", True)


@dataclass
class DetailsFailureRisk:
    """An order likely to fail at the door (customer history)."""

    TAG: ClassVar[str] = "failure_risk"
    p_fail: float = ofield("number", "Probability of a failed attempt.",
                           unit="probability (0-1)")
    customer_failures: int = ofield("integer", "Customer's past failed attempts.",
                                    unit="attempts")
    customer_access_failures: int = ofield("integer", "Of which for access reasons.",
                                           unit="attempts")


@dataclass
class DetailsUnassigned:
    """An order with no feasible vehicle (yet), or parcels left at the depot."""

    TAG: ClassVar[str] = "unassigned"
    reasons: list = ofield(list_of(ConstraintCount), "Why, most frequent first (absent when a "
                           "vehicle left the depot without planned parcels).", True)


@dataclass
class DetailsStaleVehicle:
    """An active vehicle without a position for too long."""

    TAG: ClassVar[str] = "stale_vehicle"
    last_ping_ts: float = ofield("number", "Event time of the last position.", unit=EPOCH)


@dataclass
class DetailsDrift:
    """A learned model's error rose (ADWIN on its progressive error)."""

    TAG: ClassVar[str] = "drift"
    seat: str = ofield(ext_enum(MODEL_SEATS), "Model seat that drifted.")
    metric: str = ofield("string", "Progressive error metric (e.g. log_loss, abs_err_s).")
    before: float = ofield("number", "Metric before the change (ADWIN estimate).", unit="metric")
    after: float = ofield("number", "Metric after the change.", unit="metric")
    window: int = ofield("integer", "Labels in the detector's window.", unit="labels")
    n: int = ofield("integer", "Labels seen by the detector.", unit="labels")
    zone: str = ofield("string", "Zone.", True)


@dataclass
class DetailsVehicleUnavailable:
    """A vehicle dropped out (breakdown, accident)."""

    TAG: ClassVar[str] = "vehicle_unavailable"
    reason: str = ofield("string", "Reason from the vehicle_unavailable event.")


@dataclass
class DetailsStrandedOrders:
    """Orders on board a vehicle that dropped out: recover them."""

    TAG: ClassVar[str] = "stranded_orders"
    on_board: int = ofield("integer", "Orders physically on the vehicle.", unit="orders")


@dataclass
class DetailsEngineError:
    """An input event the engine could not process (also in fs.dlq)."""

    TAG: ClassVar[str] = "engine_error"
    seq: int = ofield("integer", "Position of the input message (see fs.dlq).",
                      unit="position")
    topic: str = ofield("string", "When an output record was withheld for a non-finite "
                        "number: its topic (docs/limits.md).", True)
    field: str = ofield("string", "... and the path of the non-finite number in it.", True)


@dataclass
class DetailsConditionClamped:
    """A condition's travel-time factor, or the product of the conditions overlapping it,
    was clamped to ``limits.condition_factor_min/max`` (docs/limits.md)."""

    TAG: ClassVar[str] = "condition_clamped"
    clamped_to: float = ofield("number", "The factor used instead.", unit=TT_FACTOR)
    conditions: int = ofield("integer", "Conditions concerned.", unit="conditions")
    factor: float = ofield("number", "The reported factor (a single condition).", True,
                           TT_FACTOR)
    combined_factor: float = ofield("number", "The product of the overlapping conditions.",
                                    True, TT_FACTOR)


@dataclass
class DetailsClockStalled:
    """The zone clock did not advance over ``limits.clock_stall_events`` consecutive
    events: most likely one event dated ahead moved it (docs/limits.md)."""

    TAG: ClassVar[str] = "clock_stalled"
    events: int = ofield("integer", "Consecutive events that did not advance the clock.",
                         unit="events")
    clock: float = ofield("number", "The zone clock.", unit=EPOCH)
    behind_s: float = ofield("number", "How far the latest event is behind the clock.",
                             unit="s")


@dataclass
class DetailsLateRiskCleared:
    """Reserved: not emitted by this version."""

    TAG: ClassVar[str] = "late_risk_cleared"


@dataclass
class DetailsProposalUnanswered:
    """A proposal nobody answered within ``engine.proposal_ttl_s`` (docs/governance.md)."""

    TAG: ClassVar[str] = "proposal_unanswered"
    decision_id: str = ofield("string", "The proposal (status proposed).")
    decision_kind: str = ofield("string", "Its decision kind (assign, reroute, redispatch).")
    waited_s: float = ofield("number", "Event time since it was proposed.", unit="s")
    fallback: str = ofield(ext_enum(("apply", "keep")), "What the engine does now "
                           "(``engine.proposal_fallback``): apply it if still valid, or keep "
                           "it open.")


@dataclass
class DetailsOverrideConflict:
    """A dispatcher's override could not be applied (``applied`` false: nothing changed),
    was applied but leaves its order infeasible (``applied`` true: an order_update whose
    new window or address its vehicle cannot meet), or no longer holds (an order_pin
    released because its vehicle dropped out or ended its shift: ``applied`` false,
    ``by`` engine).  docs/governance.md."""

    TAG: ClassVar[str] = "override_conflict"
    action: str = ofield("string", "The override event's type (order_pin, order_update, ...).")
    constraint: str = ofield("string", "What stands in the way (a constraint name such as "
                             "time_window or capacity, or unknown_order, unknown_vehicle, "
                             "order_closed, on_board, in_proposal, vehicle_unavailable).")
    applied: bool = ofield("boolean", "Was the override applied anyway.")
    by: str = ofield("string", "Dispatcher who asked (`engine` for a pin the engine "
                     "released).")


ALERT_DETAIL_TYPES = (DetailsLateRisk, DetailsFailureRisk, DetailsUnassigned, DetailsStaleVehicle,
                      DetailsDrift, DetailsVehicleUnavailable, DetailsStrandedOrders,
                      DetailsEngineError, DetailsLateRiskCleared, DetailsProposalUnanswered,
                      DetailsConditionClamped, DetailsClockStalled, DetailsOverrideConflict)
ALERT_DETAILS = {c.TAG: c for c in ALERT_DETAIL_TYPES}
