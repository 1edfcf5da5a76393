"""The three steps every input message goes through, shared by the Bytewax flow
(``flows/engine.py``) and the in-process engine (``fleetstream.engine``), so both
decide exactly alike:

1. ``decode``: bytes -> validated event, or a dead letter with the reason;
2. ``track``: stage 1 per entity (dedupe, stale pings, zone resolution);
3. ``zone_step``: stage 2 per zone (the zone engine), with any exception in
   decision code caught and turned into a dead letter plus an alert, so one bad
   event never stops the flow.

A message is ``InMsg(seq, topic, key, value, partition, offset)``; ``seq`` is its
position in the input (replay line number, or an arrival counter live) and is the
tie-breaker that makes processing order deterministic.
"""

from __future__ import annotations

import base64
import traceback
from typing import Any

from fleetstream.contract.events import INPUT_TOPICS, Event, ValidationError, decode_event
from fleetstream.contract.message import InMsg
from fleetstream.contract.outputs import KEYS, OUTPUT_SCHEMA_VERSION, TOPIC_ALERTS, TOPIC_DLQ
from fleetstream.operators.tracker import DROP, REJECT, PartitionTracker
from fleetstream.operators.zone_engine import ZoneEngine


def dead_letter(msg: InMsg, stage: str, reason: str, ts: float | None = None) -> dict:
    rec: dict[str, Any] = {"v": OUTPUT_SCHEMA_VERSION, "seq": msg.seq, "source_topic": msg.topic,
                           "stage": stage, "reason": reason}
    if ts is not None:
        rec["ts"] = ts
    if msg.key is not None:
        rec["key"] = msg.key
    if msg.partition is not None:
        rec["partition"] = msg.partition
        rec["offset"] = msg.offset
    try:
        rec["raw"] = msg.value.decode("utf-8")
    except UnicodeDecodeError:
        rec["raw"] = msg.value.decode("utf-8", "replace")
        rec["raw_b64"] = base64.b64encode(msg.value).decode("ascii")
    return rec


def decode(msg: InMsg) -> tuple[bool, Any]:
    """``(True, event)`` or ``(False, dead-letter record)``."""
    if msg.topic not in INPUT_TOPICS:
        if msg.topic.startswith("?kafka-error:"):
            return False, dead_letter(msg, "decode", "kafka consumer error: " + msg.topic[13:])
        return False, dead_letter(msg, "decode", f"not an input topic or not an envelope "
                                                 f"(topic {msg.topic[:60]!r})")
    try:
        return True, decode_event(msg.value, msg.topic)
    except ValidationError as e:
        return False, dead_letter(msg, "decode", str(e))
    except Exception as e:  # noqa: BLE001 - data must never crash the flow
        return False, dead_letter(msg, "decode", f"{type(e).__name__}: {e}")


def track(tracker: PartitionTracker, msg: InMsg, ev: Event) -> tuple[str, Any]:
    """``('route', zone)``, ``('drop', reason)`` or ``('dlq', record)``."""
    verdict, what = tracker.process(ev)
    if verdict == REJECT:
        return "dlq", dead_letter(msg, "track", what, ev.ts)
    if verdict == DROP:
        return "drop", what
    return "route", what


def zone_step(engine: ZoneEngine, msg: InMsg, ev: Event) -> list[tuple[str, dict]]:
    """Run the zone engine on one event; an exception becomes a dead letter + alert."""
    try:
        return engine.process(ev)
    except Exception as e:  # noqa: BLE001
        tb = traceback.extract_tb(e.__traceback__)[-1]
        reason = f"engine error {type(e).__name__}: {e} (at {tb.name}:{tb.lineno})"
        engine.n_out += 1
        alert = {"alert_id": f"A-{engine.zone}-{int(ev.ts)}-{engine.n_out}", "ts": ev.ts,
                 "v": OUTPUT_SCHEMA_VERSION, "zone": engine.zone, "kind": "engine_error",
                 "severity": "critical", "message": f"Event {ev.event_id} could not be "
                 f"processed: {reason}", "order_ids": [], "details": {"seq": msg.seq},
                 "trigger_event_ids": [ev.event_id]}
        return [(TOPIC_DLQ, dead_letter(msg, "engine", reason, ev.ts)), (TOPIC_ALERTS, alert)]


def stage1_key(msg: InMsg) -> str:
    """Stage 1 is keyed by input lane (see ``PartitionTracker``): one ordered source
    partition.  Not by Kafka partition: the live source merges every Kafka partition
    into one lane, and several stage-1 keys feeding one zone from different workers
    would interleave in arrival order, not input order."""
    return f"p{msg.lane}"


def output_key(topic: str, rec: dict) -> str:
    return str(rec.get(KEYS[topic], ""))
