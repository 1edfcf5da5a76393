"""Alert details: the typed ``details`` of an ``fs.alerts`` record, one class per alert kind.

This module holds the ``details`` object of every alert kind (late risk,
failure risk, unassigned, stale vehicle, drift, vehicle unavailable, stranded
orders, engine error, condition clamped, clock stalled, late risk cleared,
proposal unanswered, override conflict) and ``ALERT_DETAILS`` (kind -> class).
The JSON Schemas, the AsyncAPI document and docs/topics.md are generated from
these classes; every name is re-exported by fleetstream/contract/details.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from fleetstream.contract.markers import (
    CONSTRAINTS, EPOCH, MODEL_SEATS, TT_FACTOR, ext_enum, list_of, ofield)


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
class RiskDriver:
    """One feature that raises a failure-risk prediction (models/risk.py ``drivers``)."""

    feature: str = ofield("string", "Feature name (models/features.py failure_features: e.g. "
                          "stated_out, nh_near, bh_office_wd8).")
    text: str = ofield("string", "What the feature means, in words.")
    logit: float = ofield("number", "How much it raises the risk: weight x value in the "
                          "model that answered (log-odds; +0.7 about doubles a small risk).",
                          unit="log-odds")


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
    drivers: list = ofield(list_of(RiskDriver), "Why the risk is high: up to 3 features that "
                           "raise it most, largest first (absent when the seat cannot say, "
                           "e.g. the baseline seat).", True)


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
