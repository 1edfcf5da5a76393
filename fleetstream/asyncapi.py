"""docs/asyncapi.yaml: the AsyncAPI 3.0 document of every topic, generated from the
contract (the same declarations as the JSON Schemas; ``fleetstream schemas`` writes
it, ``fleetstream schemas --check`` fails when it is stale).

From the engine's point of view: it *receives* the input topics and *sends* the
output topics.  Payloads reference ``docs/schemas/<topic>.json`` (JSON Schema
2020-12); headers, keys and Kafka bindings (partitions, compaction) are inline;
the examples come from ``docs/examples/`` (real messages of a replay).

>>> doc = asyncapi_document({})
>>> doc["asyncapi"], sorted(doc["channels"])[:2]
('3.0.0', ['fs.alerts', 'fs.approvals'])
>>> print(to_yaml({"a": [1, {"b": "x y", "c": True}], "d": {}, "n": 1e-17}), end="")
a:
  - 1
  - b: "x y"
    c: true
d: {}
"n": 1.0e-17
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from fleetstream.contract import events as ev
from fleetstream.contract import outputs as out
from fleetstream.contract.headers import CONTENT_TYPE, HEADER_DOCS, HEADER_NAMES
from fleetstream.contract.settings import KafkaSettings

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING = "0.5.0"
SCHEMA_FORMAT = "application/schema+json;version=draft-2020-12"

_TOPIC_DOCS = {
    "fs.telemetry": "GPS fixes from vehicles.",
    "fs.fleet": "Shifts and vehicle availability.",
    "fs.orders": "Orders and their execution (arrivals, pickups, deliveries, failures).",
    "fs.conditions": "Traffic and weather factors on travel times.",
    "fs.approvals": "Dispatchers' answers to proposed decisions.",
    "fs.customers": "Customer profiles (compacted: last profile per customer wins).",
    "fs.decisions": "Routing decisions with their routes, models and typed explanation.",
    "fs.eta": "Predicted arrivals with 80 % and 95 % intervals and late risk.",
    "fs.alerts": "Operational alerts with typed details.",
    "fs.notifications": "Customer messages in the customer's language.",
    "fs.outcomes": "How each order ended.",
    "fs.dlq": "Dead letters: every rejected input message with the reason and its bytes.",
}


def _name(topic: str) -> str:
    """A component-safe name: fs.eta -> fsEta."""
    a, b = topic.split(".", 1)
    return a + "".join(p.capitalize() for p in b.split("_"))


def _key_doc(topic: str) -> tuple[str, str]:
    if topic in out.KEYS:
        return out.KEYS[topic], f"The record's `{out.KEYS[topic]}`."
    keys = sorted({c.KEY for c in ev.EVENT_TYPES.values() if c.TOPIC == topic})
    return ", ".join(keys), (f"The event's `{keys[0]}`, so Kafka's default partitioner "
                             "keeps one entity on one partition.")


def _headers_schema() -> dict:
    props = {h: {"type": "string", "description": HEADER_DOCS[h]} for h in HEADER_NAMES}
    props["content-type"]["const"] = CONTENT_TYPE
    props["schema_version"]["pattern"] = r"^[0-9]+\.[0-9]+\.[0-9]+$"
    props["producer"]["pattern"] = r"^fleetstream/"
    return {"type": "object", "required": list(HEADER_NAMES), "properties": props}


def asyncapi_document(examples: dict[str, list[dict]]) -> dict:
    """The AsyncAPI 3.0 document; ``examples``: topic -> example messages (the
    ``messages`` of docs/examples/<topic>.json)."""
    k = KafkaSettings()
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    topics = [(t, False) for t in ev.INPUT_TOPICS] + [(t, True) for t in out.OUTPUT_TOPICS]
    for topic, is_out in topics:
        n = topic
        key_field, key_doc = _key_doc(topic)
        msg: dict[str, Any] = {
            "name": topic,
            "title": f"{topic} message",
            "summary": _TOPIC_DOCS[topic],
            "contentType": CONTENT_TYPE,
            "payload": {"schemaFormat": SCHEMA_FORMAT,
                        "schema": {"$ref": f"./schemas/{topic}.json"}},
            "bindings": {"kafka": {"key": {"type": "string",
                                           "description": f"Message key: {key_doc}",
                                           "x-payload-field": key_field},
                                   "bindingVersion": KAFKA_BINDING}},
        }
        if is_out:
            msg["headers"] = _headers_schema()
            msg["correlationId"] = {"description": "What caused the record: an input event "
                                    "id or the proposal a decision answers.",
                                    "location": "$message.header#/trace_id"}
        else:
            msg["description"] = ("Carries " + ", ".join(
                f"`{c.TYPE}`" for c in ev.EVENT_TYPES.values() if c.TOPIC == topic)
                + " events (field `type`). No headers are needed.")
        exs = []
        for e in examples.get(topic, []):
            x: dict[str, Any] = {"name": e["name"], "summary": e["summary"],
                                 "payload": e["payload"]}
            if e.get("headers"):
                x["headers"] = e["headers"]
            exs.append(x)
        if exs:
            msg["examples"] = exs
        messages[n] = msg
        address = ("{topic_prefix}{output_prefix}" if is_out else "{topic_prefix}") + topic
        conf = {"cleanup.policy": ["compact"]} if topic == ev.TOPIC_CUSTOMERS else \
            {"cleanup.policy": ["delete"]}
        params = {"topic_prefix": {"description": "kafka.topic_prefix (e.g. `acme.`).",
                                   "default": k.topic_prefix}}
        if is_out:
            params["output_prefix"] = {"description": "kafka.output_prefix (e.g. `shadow.` "
                                       "in shadow mode).", "default": k.output_prefix}
        channels[n] = {
            "address": address,
            "title": topic,
            "description": (f"{_TOPIC_DOCS[topic]} {'Output' if is_out else 'Input'} topic, "
                            f"key `{key_field}`. See docs/topics.md#{topic.replace('.', '')}."),
            "parameters": params,
            "messages": {n: {"$ref": f"#/components/messages/{n}"}},
            "bindings": {"kafka": {"topic": topic, "partitions": k.partitions,
                                   "replicas": k.replication, "topicConfiguration": conf,
                                   "bindingVersion": KAFKA_BINDING}},
        }
        op: dict[str, Any] = {
            "action": "send" if is_out else "receive",
            "channel": {"$ref": f"#/channels/{n}"},
            "summary": (f"The engine publishes {topic}." if is_out
                        else f"The engine consumes {topic}."),
            "messages": [{"$ref": f"#/channels/{n}/messages/{n}"}],
        }
        if not is_out:
            op["bindings"] = {"kafka": {"groupId": {"type": "string",
                                                    "default": "fleetstream-engine"},
                                        "bindingVersion": KAFKA_BINDING}}
        op_id = _name(topic)
        operations[("send" if is_out else "receive") + op_id[0].upper() + op_id[1:]] = op
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": "urn:fleetstream:engine",
        "info": {
            "title": "fleetstream",
            "version": out.CONTRACT_VERSION,
            "description": ("Real-time streaming decision engine for last-mile delivery. "
                            "Generated by `fleetstream schemas` from the contract code: do "
                            "not edit. Topics, fields and units: docs/topics.md; "
                            "compatibility: docs/versioning.md; history: docs/CHANGELOG.md. "
                            "Consumers must ignore unknown fields and tolerate unknown "
                            "enum values (x-extensible-enum)."),
            "license": {"name": "Apache-2.0"},
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {"kafka": {"host": k.bootstrap, "protocol": "kafka",
                              "description": "Default of kafka.bootstrap "
                              "(docs/configuration.md)."}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


# --------------------------------------------------------------------------
# A small deterministic YAML emitter (block style; strings always double-quoted
# JSON strings, which YAML reads the same), so generation needs no YAML package.

_PLAIN_KEY = re.compile(r"^[A-Za-z_$][A-Za-z0-9_.$/-]*$")
_RESERVED = {"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"}


def _scalar(x: Any) -> str:
    if x is None:
        return "null"
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, (int, float)):
        t = orjson.dumps(x).decode()
        if "e" in t and "." not in t:  # 1e-05: YAML 1.1 readers need the dot
            t = t.replace("e", ".0e", 1)
        return t
    return orjson.dumps(str(x)).decode()


def _key(k: str) -> str:
    return k if _PLAIN_KEY.match(k) and k.lower() not in _RESERVED else orjson.dumps(k).decode()


def _emit(x: Any, indent: int, lines: list[str]) -> None:
    pad = "  " * indent
    if isinstance(x, dict):
        for k, v in x.items():
            if isinstance(v, (dict, list)) and v:
                lines.append(f"{pad}{_key(k)}:")
                _emit(v, indent + 1, lines)
            else:
                lines.append(f"{pad}{_key(k)}: {_inline(v)}")
    elif isinstance(x, list):
        for v in x:
            if isinstance(v, (dict, list)) and v:
                sub: list[str] = []
                _emit(v, indent + 1, sub)
                first = sub[0][len(pad) + 2:]
                lines.append(f"{pad}- {first}")
                lines.extend(sub[1:])
            else:
                lines.append(f"{pad}- {_inline(v)}")


def _inline(v: Any) -> str:
    if isinstance(v, dict):
        return "{}"
    if isinstance(v, list):
        return "[]"
    return _scalar(v)


def to_yaml(doc: dict) -> str:
    lines: list[str] = []
    _emit(doc, 0, lines)
    return "\n".join(lines) + "\n"


def render_asyncapi(examples: dict[str, list[dict]]) -> bytes:
    head = ("# Generated by `fleetstream schemas` from fleetstream/contract/ and\n"
            "# fleetstream/asyncapi.py: do not edit; `fleetstream schemas --check` fails\n"
            "# when this file is stale.\n")
    return (head + to_yaml(asyncapi_document(examples))).encode("utf-8")
