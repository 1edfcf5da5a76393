"""The output contract: topics, keys and fields of everything fleetstream emits.

Every output record is a JSON object with ``ts`` (event time of the decision,
epoch seconds UTC, never wall-clock) and ``v`` (schema version).  Records are
built as plain dicts by the operators; this module declares their fields (name,
JSON type, unit, meaning) once, for the JSON Schemas in ``docs/schemas/`` and the
tables in ``docs/topics.md``.
"""

from __future__ import annotations

OUTPUT_SCHEMA_VERSION = 1

TOPIC_DECISIONS = "fs.decisions"
TOPIC_ETA = "fs.eta"
TOPIC_ALERTS = "fs.alerts"
TOPIC_NOTIFICATIONS = "fs.notifications"
TOPIC_OUTCOMES = "fs.outcomes"
TOPIC_DLQ = "fs.dlq"
OUTPUT_TOPICS = (TOPIC_DECISIONS, TOPIC_ETA, TOPIC_ALERTS, TOPIC_NOTIFICATIONS, TOPIC_OUTCOMES,
                 TOPIC_DLQ)

DECISION_KINDS = ("assign", "reroute", "redispatch", "hold", "unassign")
DECISION_STATUSES = ("applied", "proposed", "rejected", "expired", "alert_only")
ALERT_KINDS = ("late_risk", "failure_risk", "unassigned", "stale_vehicle", "drift",
               "vehicle_unavailable", "stranded_orders", "engine_error", "late_risk_cleared")
SEVERITIES = ("info", "warning", "critical")

# (name, JSON type, required, doc)
_STOP = {
    "type": "object",
    "required": ["order_id", "stop", "eta"],
    "properties": {
        "order_id": {"type": "string"},
        "stop": {"type": "string", "enum": ["pickup", "delivery"]},
        "eta": {"type": "number", "description": "Planned arrival, epoch seconds UTC."},
        "window_end": {"type": "number", "description": "Window end, epoch seconds UTC."},
        "customer": {"type": "object", "description": "Customer context: language, "
                     "preferred_drop, access_instructions, notes, past_failures."},
    },
}

FIELDS: dict[str, list[tuple[str, object, bool, str]]] = {
    TOPIC_DECISIONS: [
        ("decision_id", "string", True, "Deterministic id: zone, event time and a per-zone "
         "sequence; the same in every replay, so consumers can dedupe."),
        ("ts", "number", True, "Event time the decision was taken at, epoch seconds UTC."),
        ("v", "integer", True, "Schema version."),
        ("zone", "string", True, "Zone."),
        ("kind", {"type": "string", "enum": list(DECISION_KINDS)}, True,
         "assign (new orders onto a route), reroute (re-sequence one vehicle), redispatch "
         "(move orders between vehicles), hold (keep orders unassigned), unassign."),
        ("status", {"type": "string", "enum": list(DECISION_STATUSES)}, True,
         "applied (autonomy auto, or an approved proposal), proposed (waits for fs.approvals), "
         "rejected/expired (a proposal that was not applied), alert_only (autonomy off)."),
        ("autonomy", {"type": "string", "enum": ["auto", "propose", "off"]}, True,
         "Autonomy level in force for this decision kind."),
        ("order_ids", {"type": "array", "items": {"type": "string"}}, True,
         "Orders the decision is about."),
        ("routes", {"type": "object", "additionalProperties": {"type": "array", "items": _STOP}},
         True, "For each affected vehicle, its whole remaining route after the decision."),
        ("trigger_event_ids", {"type": "array", "items": {"type": "string"}}, True,
         "Input events that caused the decision."),
        ("models", "object", True, "Model name -> version and samples learned."),
        ("explanation", "object", True, "Why: summary sentence, reasons with numbers, "
         "alternatives costed, expected effect (minutes, km, cost)."),
        ("refers_to", "string", False, "For an applied/rejected proposal: the proposal's id."),
    ],
    TOPIC_ETA: [
        ("eta_id", "string", True, "Deterministic id of this ETA message."),
        ("ts", "number", True, "Event time of the update, epoch seconds UTC."),
        ("v", "integer", True, "Schema version."),
        ("zone", "string", True, "Zone."),
        ("order_id", "string", True, "Order."),
        ("vehicle_id", "string", True, "Vehicle serving the order."),
        ("stop", {"type": "string", "enum": ["pickup", "delivery"]}, True, "Which stop."),
        ("eta", "number", True, "Predicted arrival, epoch seconds UTC."),
        ("lo80", "number", True, "80 % interval lower bound, epoch seconds UTC."),
        ("hi80", "number", True, "80 % interval upper bound, epoch seconds UTC."),
        ("lo95", "number", True, "95 % interval lower bound, epoch seconds UTC."),
        ("hi95", "number", True, "95 % interval upper bound, epoch seconds UTC."),
        ("window_start", "number", True, "Delivery window start, epoch seconds UTC."),
        ("window_end", "number", True, "Delivery window end, epoch seconds UTC."),
        ("stops_ahead", "integer", True, "Stops the vehicle makes before this one."),
        ("p_late", "number", True, "Probability of arriving after window_end."),
        ("models", "object", True, "Model name -> version and samples learned."),
        ("trigger_event_ids", {"type": "array", "items": {"type": "string"}}, True,
         "The input event (usually a ping) that caused this update."),
    ],
    TOPIC_ALERTS: [
        ("alert_id", "string", True, "Deterministic id of the alert."),
        ("ts", "number", True, "Event time, epoch seconds UTC."),
        ("v", "integer", True, "Schema version."),
        ("zone", "string", True, "Zone."),
        ("kind", {"type": "string", "enum": list(ALERT_KINDS)}, True, "What happened."),
        ("severity", {"type": "string", "enum": list(SEVERITIES)}, True, "How urgent."),
        ("message", "string", True, "One line for a person."),
        ("vehicle_id", "string", False, "Vehicle concerned."),
        ("order_ids", {"type": "array", "items": {"type": "string"}}, False, "Orders concerned."),
        ("details", "object", False, "Numbers behind the message."),
        ("trigger_event_ids", {"type": "array", "items": {"type": "string"}}, False,
         "Input events that caused the alert."),
    ],
    TOPIC_NOTIFICATIONS: [
        ("notification_id", "string", True, "Deterministic id."),
        ("ts", "number", True, "Event time, epoch seconds UTC."),
        ("v", "integer", True, "Schema version."),
        ("zone", "string", True, "Zone."),
        ("customer_id", "string", True, "Recipient."),
        ("order_id", "string", True, "Order."),
        ("language", "string", True, "Language of the message (from the customer profile)."),
        ("kind", {"type": "string", "enum": ["eta_changed", "window_at_risk"]}, True,
         "Why the customer is told."),
        ("message", "string", True, "Text in the customer's language."),
        ("eta", "number", True, "New predicted arrival, epoch seconds UTC."),
        ("hi80", "number", True, "80 % interval upper bound, epoch seconds UTC."),
    ],
    TOPIC_OUTCOMES: [
        ("outcome_id", "string", True, "Deterministic id (same per-zone sequence as the other "
         "records), so consumers can dedupe."),
        ("ts", "number", True, "Event time of the outcome, epoch seconds UTC."),
        ("v", "integer", True, "Schema version."),
        ("zone", "string", True, "Zone."),
        ("order_id", "string", True, "Order."),
        ("vehicle_id", "string", False, "Vehicle that served (or was to serve) the order."),
        ("customer_id", "string", True, "Customer of the order."),
        ("outcome", {"type": "string", "enum": ["delivered", "failed", "cancelled"]}, True,
         "How the order ended, as the engine learned it from order_delivered, order_failed or "
         "order_cancelled."),
        ("reason", "string", False, "For failed: the driver's reason (not_home, access, ...); "
         "for cancelled: the cancellation reason, if given."),
        ("trigger_event_ids", {"type": "array", "items": {"type": "string"}}, True,
         "The input event that reported the outcome."),
    ],
    TOPIC_DLQ: [
        ("ts", "number", False, "Event time if it could be read, epoch seconds UTC."),
        ("v", "integer", True, "Schema version."),
        ("seq", "integer", True, "Position of the message in the input (replay line or "
         "arrival sequence)."),
        ("source_topic", "string", True, "Topic the message arrived on."),
        ("partition", "integer", False, "Kafka partition (live only)."),
        ("offset", "integer", False, "Kafka offset (live only)."),
        ("key", "string", False, "Message key, if any."),
        ("stage", {"type": "string", "enum": ["decode", "track", "engine"]}, True,
         "Where it was rejected."),
        ("reason", "string", True, "Why: the field and what is wrong with it."),
        ("raw", "string", True, "The original message bytes, as UTF-8 text when they are "
         "valid UTF-8."),
        ("raw_b64", "string", False, "The original bytes in base64 when they are not UTF-8."),
    ],
}

KEYS = {
    TOPIC_DECISIONS: "zone",
    TOPIC_ETA: "order_id",
    TOPIC_ALERTS: "zone",
    TOPIC_NOTIFICATIONS: "customer_id",
    TOPIC_OUTCOMES: "order_id",
    TOPIC_DLQ: "source_topic",
}


def output_schema(topic: str) -> dict:
    props, required = {}, []
    for name, typ, req, doc in FIELDS[topic]:
        s = {"type": typ} if isinstance(typ, str) else dict(typ)  # type: ignore[arg-type]
        s["description"] = doc
        props[name] = s
        if req:
            required.append(name)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": topic, "type": "object", "required": required, "properties": props}
