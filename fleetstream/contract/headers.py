"""Kafka headers of every output record (docs/topics.md, docs/asyncapi.yaml).

Headers are a convenience for routing, tracing and schema selection *without*
parsing the payload; the payload stays self-contained (``v``, ids and
``trigger_event_ids`` are in it).  Every output record gets:

- ``content-type``: ``application/json`` (one UTF-8 JSON object);
- ``schema_version``: the contract's semantic version (``CONTRACT_VERSION``), whose
  major part equals the payload's ``v``;
- ``schema_id``: the ``$id`` of the topic's JSON Schema;
- ``producer``: ``fleetstream/<package version>``;
- ``trace_id``: what caused the record (see :func:`trace_id`).

Values are deterministic (no wall clock, no host name), so a replay and a
restart produce the same headers.

>>> rec = {"decision_id": "D-Z1-100-7", "trigger_event_ids": ["p42", "p43"], "v": 1}
>>> dict(output_headers("fs.decisions", rec))["trace_id"]
b'p42'
>>> [k for k, _ in output_headers("fs.decisions", rec)]
['content-type', 'schema_version', 'schema_id', 'producer', 'trace_id']
"""

from __future__ import annotations

from importlib import metadata

from fleetstream.contract.outputs import CONTRACT_VERSION, KEYS, schema_id

CONTENT_TYPE = "application/json"
HEADER_NAMES = ("content-type", "schema_version", "schema_id", "producer", "trace_id")
# The field holding each output topic's own record id.
ID_FIELDS = {"fs.decisions": "decision_id", "fs.eta": "eta_id", "fs.alerts": "alert_id",
             "fs.notifications": "notification_id", "fs.outcomes": "outcome_id"}
HEADER_DOCS = {
    "content-type": f"Always `{CONTENT_TYPE}`: the value is one UTF-8 JSON object.",
    "schema_version": "Semantic version of the contract the record follows (e.g. "
                      f"`{CONTRACT_VERSION}`); its major part equals the payload's `v`.",
    "schema_id": "`$id` of the topic's JSON Schema (docs/schemas/<topic>.json).",
    "producer": "`fleetstream/<version>` of the engine that wrote the record.",
    "trace_id": "What caused the record: `refers_to` (the proposal a decision answers), "
                "else the first of `trigger_event_ids` (the input event id), else for "
                "fs.dlq `<source_topic>@<seq>`, else the record's own id (a notification "
                "starts its own trace).",
}


def _version() -> str:
    try:
        return metadata.version("fleetstream")
    except metadata.PackageNotFoundError:  # running from a source tree
        return "0+unknown"


PRODUCER = f"fleetstream/{_version()}"


def trace_id(topic: str, rec: dict) -> str:
    """The id of what caused ``rec`` (documented in ``HEADER_DOCS['trace_id']``).

    >>> trace_id("fs.decisions", {"decision_id": "D2", "refers_to": "D1",
    ...                           "trigger_event_ids": ["ap-D1"]})
    'D1'
    >>> trace_id("fs.dlq", {"source_topic": "fs.orders", "seq": 17})
    'fs.orders@17'
    >>> trace_id("fs.notifications", {"notification_id": "N-Z1-5-3"})
    'N-Z1-5-3'
    """
    ref = rec.get("refers_to")
    if ref:
        return str(ref)
    trig = rec.get("trigger_event_ids")
    if trig:
        return str(trig[0])
    if topic == "fs.dlq":
        return f"{rec.get('source_topic', '')}@{rec.get('seq', '')}"
    return str(rec.get(ID_FIELDS.get(topic, ""), ""))


def output_headers(topic: str, rec: dict) -> list[tuple[str, bytes]]:
    """The Kafka headers of output record ``rec`` on ``topic`` (a list of
    ``(name, value bytes)``, the form ``confluent_kafka.Producer.produce`` takes)."""
    if topic not in KEYS:
        raise KeyError(f"not an output topic: {topic!r}")
    return [("content-type", CONTENT_TYPE.encode()),
            ("schema_version", CONTRACT_VERSION.encode()),
            ("schema_id", schema_id(topic).encode()),
            ("producer", PRODUCER.encode()),
            ("trace_id", trace_id(topic, rec).encode("utf-8"))]
