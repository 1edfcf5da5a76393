"""The output contract: topics, keys and fields of everything fleetstream emits.

Every output record is a JSON object with ``ts`` (event time of the decision,
epoch seconds UTC, never wall-clock) and ``v`` (schema version).  Records are
built by the operators; this module declares their fields (name, JSON type, unit,
meaning) once, and the nested objects (explanations per decision kind, alert
details per alert kind, route stops, model versions) as the typed classes of
:mod:`fleetstream.contract.details`, for the JSON Schemas in ``docs/schemas/``, the
AsyncAPI document ``docs/asyncapi.yaml`` and the tables in ``docs/topics.md``.

Two renderings of each output schema:

- *published* (``strict=False``): what consumers validate with.  Objects allow
  fields they do not know and enums are open (``x-extensible-enum``): a minor
  contract version may add both (docs/versioning.md);
- *strict* (``strict=True``): what the engine must emit today.  Closed enums, no
  undeclared key anywhere; the contract tests hold every record to it.

>>> s = output_schema("fs.decisions")
>>> s["$id"], s["properties"]["kind"]["x-extensible-enum"][:2]
('urn:fleetstream:schema:v1:fs.decisions', ['assign', 'reroute'])
>>> output_schema("fs.decisions", strict=True)["properties"]["kind"]["enum"][:2]
['assign', 'reroute']
"""

from __future__ import annotations

import dataclasses
from typing import Any

from fleetstream.contract import details as dt

OUTPUT_SCHEMA_VERSION = 1
# Semantic version of the whole contract (inputs and outputs), see docs/versioning.md
# and docs/CHANGELOG.md.  Its major part is the ``v`` every message carries.
CONTRACT_VERSION = "1.2.0"
SCHEMA_ID_PREFIX = "urn:fleetstream:schema:v"


def schema_id(topic: str) -> str:
    """The ``$id`` of a topic's schema: one per topic and major version."""
    return f"{SCHEMA_ID_PREFIX}{CONTRACT_VERSION.split('.')[0]}:{topic}"


TOPIC_DECISIONS = "fs.decisions"
TOPIC_ETA = "fs.eta"
TOPIC_ALERTS = "fs.alerts"
TOPIC_NOTIFICATIONS = "fs.notifications"
TOPIC_OUTCOMES = "fs.outcomes"
TOPIC_DLQ = "fs.dlq"
OUTPUT_TOPICS = (TOPIC_DECISIONS, TOPIC_ETA, TOPIC_ALERTS, TOPIC_NOTIFICATIONS, TOPIC_OUTCOMES,
                 TOPIC_DLQ)

DECISION_KINDS = tuple(dt.DECISION_EXPLANATIONS)
DECISION_STATUSES = ("applied", "proposed", "rejected", "expired", "alert_only")
ALERT_KINDS = tuple(dt.ALERT_DETAILS)
SEVERITIES = ("info", "warning", "critical")

E = dt.ext_enum
_STOPS = {"type": "object", "additionalProperties": dt.list_of(dt.RouteStop),
          "$keys": "vehicle id"}

# (name, JSON type or schema fragment, required, doc)
FIELDS: dict[str, list[tuple[str, object, bool, str]]] = {
    TOPIC_DECISIONS: [
        ("decision_id", "string", True, "Deterministic id: zone, event time and a per-zone "
         "sequence; the same in every replay, so consumers can dedupe."),
        ("ts", "number", True, "Event time the decision was taken at, epoch seconds UTC."),
        ("v", "integer", True, "Schema version."),
        ("zone", "string", True, "Zone."),
        ("kind", E(DECISION_KINDS), True,
         "assign (new orders onto a route), reroute (re-sequence one vehicle), redispatch "
         "(move orders between vehicles), hold (keep orders unassigned), unassign."),
        ("status", E(DECISION_STATUSES), True,
         "applied (autonomy auto, or an approved proposal), proposed (waits for fs.approvals), "
         "rejected/expired (a proposal that was not applied), alert_only (autonomy off)."),
        ("autonomy", E(("auto", "propose", "off", "manual")), True,
         "Autonomy level in force for this decision kind (manual: a dispatcher's override, "
         "kind override; autonomy levels do not apply to it)."),
        ("order_ids", {"type": "array", "items": {"type": "string"}}, True,
         "Orders the decision is about."),
        ("routes", _STOPS, True, "For each affected vehicle, its whole remaining route after the "
         "decision (empty for rejected and expired proposals)."),
        ("trigger_event_ids", {"type": "array", "items": {"type": "string"}}, True,
         "Input events that caused the decision."),
        ("models", dt.MODELS, True, "Model seat -> version and labels learned."),
        ("explanation", dt.ref(dt.Explanation), True, "Why: summary sentence, reasons with "
         "numbers, alternatives costed, expected effect (minutes, km, cost); typed per `kind` "
         "(Explanation_<kind>)."),
        ("refers_to", "string", False, "For an applied/rejected proposal: the proposal's id."),
    ],
    TOPIC_ETA: [
        ("eta_id", "string", True, "Deterministic id of this ETA message."),
        ("ts", "number", True, "Event time of the update, epoch seconds UTC."),
        ("v", "integer", True, "Schema version."),
        ("zone", "string", True, "Zone."),
        ("order_id", "string", True, "Order."),
        ("vehicle_id", "string", True, "Vehicle serving the order."),
        ("stop", E(dt.STOP_KINDS), True, "Which stop."),
        ("eta", "number", True, "Predicted arrival, epoch seconds UTC."),
        ("lo80", "number", True, "80 % interval lower bound, epoch seconds UTC."),
        ("hi80", "number", True, "80 % interval upper bound, epoch seconds UTC."),
        ("lo95", "number", True, "95 % interval lower bound, epoch seconds UTC."),
        ("hi95", "number", True, "95 % interval upper bound, epoch seconds UTC."),
        ("window_start", "number", True, "Delivery window start, epoch seconds UTC."),
        ("window_end", "number", True, "Delivery window end, epoch seconds UTC."),
        ("stops_ahead", "integer", True, "Stops the vehicle makes before this one."),
        ("p_late", "number", True, "Probability of arriving after window_end."),
        ("models", dt.MODELS, True, "Model seat -> version and labels learned."),
        ("trigger_event_ids", {"type": "array", "items": {"type": "string"}}, True,
         "The input event (usually a ping) that caused this update."),
    ],
    TOPIC_ALERTS: [
        ("alert_id", "string", True, "Deterministic id of the alert."),
        ("ts", "number", True, "Event time, epoch seconds UTC."),
        ("v", "integer", True, "Schema version."),
        ("zone", "string", True, "Zone."),
        ("kind", E(ALERT_KINDS), True, "What happened."),
        ("severity", E(SEVERITIES), True, "How urgent."),
        ("message", "string", True, "One line for a person."),
        ("vehicle_id", "string", False, "Vehicle concerned."),
        ("order_ids", {"type": "array", "items": {"type": "string"}}, False, "Orders concerned."),
        ("details", {"type": "object"}, False, "Numbers behind the message; typed per `kind` "
         "(Details_<kind>)."),
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
        ("kind", E(("eta_changed", "window_at_risk", "order_not_served")), True,
         "Why the customer is told (order_not_served: the order will not be delivered, "
         "the message says why; docs/notifications.md)."),
        ("message", "string", True, "Text in the customer's language."),
        ("eta", "number", True, "New predicted arrival, epoch seconds UTC (order_not_served: "
         "the time of the message)."),
        ("hi80", "number", True, "80 % interval upper bound, epoch seconds UTC (at least eta)."),
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
        # -- helper R (recovery of work): not_served, since contract 1.2.0
        ("outcome", E(("delivered", "failed", "cancelled", "expired", "not_served")), True,
         "How the order ended, as the engine learned it from order_delivered, order_failed or "
         "order_cancelled; expired: none of them came by the window end plus "
         "limits.order_grace_s (the reason says so); not_served: no vehicle had it when its "
         "window closed (never assigned, or stranded on a vehicle that dropped out and not "
         "collected; the reason says which; docs/routing.md, \"Recovery of work\")."),
        # -- end helper R
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
        ("stage", E(("decode", "track", "engine")), True,
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



# --------------------------------------------------------------------------
# Schema generation from FIELDS and the typed classes of fleetstream.contract.details.

DRAFT = "https://json-schema.org/draft/2020-12/schema"


class _Ctx:
    def __init__(self, strict: bool):
        self.strict = strict
        self.defs: dict[str, Any] = {}


def _ref(cls: type, ctx: _Ctx, name: str | None = None) -> dict:
    name = name or cls.__name__
    if name not in ctx.defs:
        ctx.defs[name] = {}  # placeholder against recursion
        ctx.defs[name] = object_schema(cls, ctx)
    return {"$ref": f"#/$defs/{name}"}


def _resolve(frag: Any, ctx: _Ctx) -> Any:
    """A declared schema fragment as JSON Schema: typed classes become ``$defs``
    references, unions conditional sub-schemas, open enums ``x-extensible-enum``."""
    if not isinstance(frag, dict):
        return frag
    if "$class" in frag:
        return _ref(frag["$class"], ctx)
    if "$union" in frag:
        u = frag["$union"]
        tag, variants = u["tag"], u["variants"]
        if not variants:  # nothing of the kind is emitted (yet)
            return False if ctx.strict else {"type": "object", "required": [tag]}
        if ctx.strict:
            return {"type": "object", "required": [tag],
                    "oneOf": [_ref(c, ctx) for c in variants.values()]}
        return {"type": "object", "required": [tag],
                "properties": {tag: {"type": "string", "x-extensible-enum": list(variants),
                                     "description": f"Picks the type; unknown: {u['unknown']}."}},
                "allOf": [{"if": {"properties": {tag: {"const": k}}, "required": [tag]},
                           "then": _ref(c, ctx)} for k, c in variants.items()]}
    out: dict[str, Any] = {}
    for k, x in frag.items():
        if k == "$enum":
            out["enum" if ctx.strict else "x-extensible-enum"] = list(x)
        elif k == "$keys":
            out["propertyNames"] = {"description": f"Keys: {x}."}
        elif k in ("items", "additionalProperties"):
            out[k] = _resolve(x, ctx)
        elif k == "properties":
            out[k] = {n: _resolve(v, ctx) for n, v in x.items()}
        elif k in ("anyOf", "oneOf", "allOf"):
            out[k] = [_resolve(v, ctx) for v in x]
        else:
            out[k] = x
    if ctx.strict and "properties" in out and "additionalProperties" in out:
        # an open map with known keys (models): strict means exactly the known keys
        out["additionalProperties"] = False
        out["required"] = list(out["properties"])
    return out


def describe(doc: str, unit: str) -> str:
    doc = doc if doc.endswith(".") else doc + "."
    return doc + (f" Unit: {unit}." if unit not in ("-", "") else "")


def object_schema(cls: type, ctx: _Ctx, only: tuple[str, ...] | None = None,
                  overrides: dict[str, Any] | None = None) -> dict:
    """The JSON Schema of a typed class of :mod:`fleetstream.contract.details`."""
    props, required = {}, []
    tag = getattr(cls, "TAG", None)
    for f in dataclasses.fields(cls):
        if only is not None and f.name not in only:
            continue
        m = f.metadata
        frag = (overrides or {}).get(f.name, m["schema"])
        s = _resolve(frag, ctx)
        if f.name == "rule" and tag is not None:
            s = {"const": tag}
        props[f.name] = {**s, "description": describe(m["doc"], m["unit"])}
        if not m["optional"]:
            required.append(f.name)
    out: dict[str, Any] = {"type": "object", "title": cls.__name__, "properties": props}
    if required:
        out["required"] = required
    doc = (cls.__doc__ or "").strip()
    if doc and not doc.startswith(cls.__name__ + "("):
        out["description"] = " ".join(doc.split("\n\n")[0].split())
    if ctx.strict:
        out["additionalProperties"] = False
    return out


def _field_schema(typ: Any, doc: str, ctx: _Ctx) -> dict:
    frag = {"type": typ} if isinstance(typ, str) else typ
    s = _resolve(frag, ctx)
    return {**s, "description": doc}


def _decision_kinds(ctx: _Ctx) -> list[dict]:
    """explanation typed per decision kind: Explanation_<kind>."""
    conds = []
    for kind, spec in dt.DECISION_EXPLANATIONS.items():
        over: dict[str, Any] = {"reasons": dt.list_of(dt.union(
            "rule", {c.TAG: c for c in spec.reasons}, "a rule this consumer does not know"))}
        if spec.alternatives is not None:
            over["alternatives"] = dt.list_of(spec.alternatives)
        name = f"Explanation_{kind}"
        s = object_schema(dt.Explanation, ctx, only=spec.fields, overrides=over)
        s["title"] = name
        s["description"] = f"Explanation of a `{kind}` decision: {spec.doc}"
        ctx.defs[name] = s
        conds.append({"if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
                      "then": {"properties": {"explanation": {"$ref": f"#/$defs/{name}"}}}})
    return conds


def _alert_kinds(ctx: _Ctx) -> list[dict]:
    """details typed per alert kind: Details_<kind>."""
    conds = []
    for kind, cls in dt.ALERT_DETAILS.items():
        name = f"Details_{kind}"
        s = object_schema(cls, ctx)
        s["title"] = name
        s["description"] = (" ".join((cls.__doc__ or "").split()) + " " if cls.__doc__ and
                            not cls.__doc__.startswith(cls.__name__ + "(") else "") + \
            f"Details of a `{kind}` alert."
        ctx.defs[name] = s
        conds.append({"if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
                      "then": {"properties": {"details": {"$ref": f"#/$defs/{name}"}}}})
    return conds


def output_schema(topic: str, strict: bool = False) -> dict:
    """The JSON Schema of an output topic (published, or ``strict``: see the module doc)."""
    ctx = _Ctx(strict)
    props, required = {}, []
    for name, typ, req, doc in FIELDS[topic]:
        props[name] = _field_schema(typ, doc, ctx)
        if req:
            required.append(name)
    s: dict[str, Any] = {"$schema": DRAFT, "$id": schema_id(topic), "title": topic,
                         "type": "object", "required": required, "properties": props}
    conds = (_decision_kinds(ctx) if topic == TOPIC_DECISIONS
             else _alert_kinds(ctx) if topic == TOPIC_ALERTS else [])
    if conds:
        s["allOf"] = conds
    if strict:
        s["additionalProperties"] = False
    if ctx.defs:
        s["$defs"] = ctx.defs
    return s
