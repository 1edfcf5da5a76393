"""Decision explanations: the typed ``explanation`` of an ``fs.decisions`` record.

This module holds the reasons (one class per ``rule``, ``REASONS``), the
alternatives each decision kind weighed, the expected effect, the solver job
and plan summaries, the root causes, :class:`Explanation` itself (the very class
the engine builds decisions with) and ``DECISION_EXPLANATIONS``, what the
explanation of each decision kind may hold.  The JSON Schemas, the AsyncAPI
document and docs/topics.md are generated from these classes; every name is
re-exported by fleetstream/contract/details.py.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

from fleetstream.contract.markers import (
    CONSTRAINTS, EPOCH, PLAN_STATUSES, REROUTE_METHODS, SOLVERS, ext_enum, list_of, ofield, ref,
    union)


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
    head_kept: int = ofield("integer", "Stops of a frozen head the decision kept first and "
                            "in their order: in a `reroute`, the vehicle's own head but "
                            "for the stops at risk; in a `redispatch`, the destination's "
                            "head, ahead of the moved orders (`engine.plan_frozen_s` / "
                            "`plan_frozen_stops`, `plan_frozen_exceptions`; absent when "
                            "none).", True, "stops")


@dataclass
class ReasonOrderCancelled:
    """The order was cancelled (fs.orders order_cancelled)."""

    TAG: ClassVar[str] = "order_cancelled"
    rule: str = ofield("string", "`order_cancelled`.")
    reason: str = ofield("string", "The cancellation reason ('' when none was given).")


@dataclass
class ReasonCustomerUnavailable:
    """The customer replied, contacted ahead, that nobody can receive the delivery before
    its window closes (fs.orders customer_reply ``unavailable`` without hours;
    ``engine.hold_unavailable``, docs/governance.md "Contact ahead"): the delivery left
    its route and the order ended ``not_served`` (since contract 1.2.0)."""

    TAG: ClassVar[str] = "customer_unavailable"
    rule: str = ofield("string", "`customer_unavailable`.")


@dataclass
class ReasonLeastDelayInsertion:
    """A delivery put back on the van that carries it, after a failed attempt
    (``not_home``, ``access``) or to the hours the customer gave when contacted ahead
    (``customer_reply``): at the feasible place that delays the customers already on the
    route least, the seconds their arrivals move plus the seconds of driving the place
    adds (docs/routing-recovery.md; since contract 1.2.0, before it such decisions said
    ``cheapest_feasible_insertion``)."""

    TAG: ClassVar[str] = "least_delay_insertion"
    rule: str = ofield("string", "`least_delay_insertion`.")
    delay_s: float = ofield("number", "How much later the stops after the delivery arrive, "
                            "summed over those stops.", unit="s")
    added_drive_s: float = ofield("number", "Driving the retry adds to the route (the "
                                  "leg back to the depot included).", unit="s")
    places: int = ofield("integer", "Feasible places weighed on the route.", unit="places")


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


@dataclass
class ReasonDriverKnowsDoor:
    """A hard-access delivery given to a driver who has delivered at that door before
    (since contract 1.2.0; ``engine.access_knowledge_price``, docs/routing-knowledge.md):
    by insertion (the other candidates paid the price) or moved there by the zone plan
    (``moved_from``, ``added_cost``)."""

    TAG: ClassVar[str] = "driver_knows_door"
    rule: str = ofield("string", "`driver_knows_door`.")
    order_id: str = ofield("string", "The hard-access order.")
    driver_id: str = ofield("string", "The driver who takes it and has delivered there.")
    price: float = ofield("number", "What giving it to a driver new to the door would have "
                          "cost (engine.access_knowledge_price).", unit="currency")
    moved_from: str = ofield("string", "Zone plan: the vehicle the solver had put it on.",
                             True)
    added_cost: float = ofield("number", "Zone plan: what the move adds (distance and "
                               "working time at the vehicles' own prices).", True,
                               "currency")


REASON_TYPES = (ReasonShiftStartPlan, ReasonCheapestInsertion, ReasonPeriodicReoptimization,
                ReasonLateRisk, ReasonOrderCancelled, ReasonCustomerUnavailable,
                ReasonOrderExpired, ReasonManualOverride, ReasonFailureRisk,
                ReasonLeastDelayInsertion, ReasonDriverKnowsDoor)
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
    knowledge_moves: int = ofield("integer", "Hard-access deliveries the plan moved to "
                                  "drivers who know the door (present only then; "
                                  "docs/routing-knowledge.md).", True, "orders")
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
                       (ReasonShiftStartPlan, ReasonCheapestInsertion,
                        ReasonLeastDelayInsertion, ReasonDriverKnowsDoor), AssignAlternative,
                       _ALWAYS + ("alternatives", "expected_effect", "plan")),
    "reroute": KindSpec("One vehicle's stops re-sequenced: late risk, periodic "
                        "re-optimisation, or a delivery moved to when it is less likely "
                        "to fail.", (ReasonLateRisk, ReasonPeriodicReoptimization,
                                     ReasonFailureRisk),
                        RerouteAlternative,
                        _ALWAYS + ("alternatives", "expected_gain_min", "expected_effect",
                                   "method")),
    "redispatch": KindSpec("Orders moved between vehicles.",
                           (ReasonLateRisk, ReasonCheapestInsertion, ReasonDriverKnowsDoor),
                           RedispatchAlternative,
                           _ALWAYS + ("alternatives", "gain", "change_cost",
                                      "expected_effect")),
    "hold": KindSpec("Orders kept unassigned (reserved: not emitted by this version).", (),
                     None, _ALWAYS),
    "unassign": KindSpec("An order taken off a route (cancelled, expired: docs/limits.md, or "
                         "the customer said nobody can receive it: docs/governance.md).",
                         (ReasonOrderCancelled, ReasonOrderExpired,
                          ReasonCustomerUnavailable), None, _ALWAYS),
    "override": KindSpec("A dispatcher's override applied (order pinned or unpinned, route "
                         "locked or unlocked, window or address changed); status applied, "
                         "autonomy manual, ``approved_by`` the dispatcher.",
                         (ReasonManualOverride,), None, _ALWAYS),
}
