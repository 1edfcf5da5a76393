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
import math
import traceback
from typing import Any

import orjson

from fleetstream.contract.events import INPUT_TOPICS, Event, ValidationError, decode_event
from fleetstream.contract.message import InMsg
from fleetstream.contract.outputs import KEYS, OUTPUT_SCHEMA_VERSION, TOPIC_ALERTS, TOPIC_DLQ
from fleetstream.contract.settings import LimitsSettings
from fleetstream.operators.tracker import DROP, HOLD, REJECT, RELEASE, PartitionTracker
from fleetstream.operators.zone.engine import ZoneEngine
from fleetstream.operators.zone.health import CLOCK_STALLED

DEFAULT_LIMITS = LimitsSettings()
_CUT = 256  # characters of a bad topic or key kept in a dead letter


def _text(raw: bytes) -> tuple[str, bool]:
    """UTF-8 text of ``raw`` and whether that is exact (else: replacement characters)."""
    try:
        return raw.decode("utf-8"), True
    except UnicodeDecodeError:
        return raw.decode("utf-8", "replace"), False


def _cut_utf8(raw: bytes, limit: int) -> bytes:
    """The first ``limit`` bytes, shortened by up to 3 so a valid UTF-8 text is not
    cut inside a character."""
    head = raw[:limit]
    for back in range(4):
        try:
            (head[:len(head) - back] if back else head).decode("utf-8")
            return head[:len(head) - back] if back else head
        except UnicodeDecodeError:
            continue
    return head


def dead_letter(msg: InMsg, stage: str, reason: str, ts: float | None = None,
                keep_bytes: int | None = None) -> dict:
    """The ``fs.dlq`` record of ``msg``.  Never raises, whatever the message's types:
    a topic that is not a string is written ``?``, a key that is not a string is left
    out (the reason says what it was), a value that is not bytes is kept as its JSON
    (or ``str``) text.  ``keep_bytes``: keep only the first this many bytes."""
    topic = msg.topic if isinstance(msg.topic, str) else "?"
    rec: dict[str, Any] = {"v": OUTPUT_SCHEMA_VERSION, "seq": msg.seq,
                           "source_topic": topic[:_CUT], "stage": stage, "reason": reason}
    if ts is not None:
        rec["ts"] = ts
    if isinstance(msg.key, str):
        rec["key"] = msg.key[:_CUT]
    if msg.partition is not None:
        rec["partition"] = msg.partition
        rec["offset"] = msg.offset
    value = msg.value
    if isinstance(value, (bytearray, memoryview)):
        value = bytes(value)
    if not isinstance(value, bytes):
        if value is None:
            value = b""
        elif isinstance(value, str):
            value = value.encode("utf-8", "surrogatepass")
        else:
            try:
                value = orjson.dumps(value)
            except TypeError:
                value = repr(value).encode("utf-8", "replace")
    if keep_bytes is not None and len(value) > keep_bytes:
        value = _cut_utf8(value, keep_bytes)
    rec["raw"], exact = _text(value)
    if not exact:
        rec["raw_b64"] = base64.b64encode(value).decode("ascii")
    return rec


def _envelope_error(msg: InMsg) -> str | None:
    """Why the envelope (topic, key, value) cannot be read, or None."""
    if not isinstance(msg.topic, str):
        return (f"topic: expected a string, got {type(msg.topic).__name__} "
                f"({_short(msg.topic)})")
    if msg.key is not None and not isinstance(msg.key, str):
        return (f"key: expected a string or null, got {type(msg.key).__name__} "
                f"({_short(msg.key)})")
    if not isinstance(msg.value, (bytes, bytearray, memoryview)):
        return f"value: expected bytes, got {type(msg.value).__name__}"
    return None


def _short(x: Any) -> str:
    try:
        s = orjson.dumps(x).decode("utf-8")
    except TypeError:
        s = repr(x)
    return s if len(s) <= 60 else s[:57] + "..."


def message_size(msg: InMsg) -> int:
    """Bytes of a well-typed message as the size limit counts them: topic + key + value
    (UTF-8)."""
    n = len(msg.value) + len(msg.topic.encode("utf-8", "surrogatepass"))
    if msg.key is not None:
        n += len(msg.key.encode("utf-8", "surrogatepass"))
    return n


def decode(msg: InMsg, limits: LimitsSettings = DEFAULT_LIMITS) -> tuple[bool, Any]:
    """``(True, event)`` or ``(False, dead-letter record)``; never raises.

    Checked in this order, before anything is parsed: the envelope's types (topic a
    string, key a string or null, value bytes), the message size
    (``limits.max_message_bytes``), the topic; then the event (fleetstream.contract)."""
    why = _envelope_error(msg)
    if why is not None:
        return False, dead_letter(msg, "decode", why, keep_bytes=limits.max_message_bytes)
    if isinstance(msg.value, (bytearray, memoryview)):
        msg = msg._replace(value=bytes(msg.value))
    size = message_size(msg)
    if size > limits.max_message_bytes:
        return False, dead_letter(
            msg, "decode", f"message of {size:,} bytes exceeds limits.max_message_bytes "
            f"({limits.max_message_bytes:,}); raw is truncated to its first "
            f"{limits.max_message_bytes:,} bytes", keep_bytes=limits.max_message_bytes)
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


def track(tracker: PartitionTracker, msg: InMsg, ev: Event,
          limits: LimitsSettings = DEFAULT_LIMITS) -> list[tuple[str, Any, InMsg, Any, Any]]:
    """Stage 1 for one decoded message: ``(verdict, what, msg, event, stall)`` for it
    and for any held message it releases or refutes, in input order.  ``verdict`` is
    ``'route'`` (``what`` the zone; ``stall`` a :class:`LaneStall` notice or None),
    ``'drop'`` (``what`` the reason) or ``'dlq'`` (``what`` the dead letter; ``event``
    None for a held message refuted).  A message held (too far ahead, waiting for the
    lane to confirm it; docs/limits.md, "Quiet periods") gives nothing yet."""
    out: list[tuple[str, Any, InMsg, Any, Any]] = []
    todo = [(msg, ev)]
    while todo:
        m, e = todo.pop(0)
        verdict, what = tracker.process(e, m)
        for hm, why, hts in tracker.take_dropped():
            out.append(("dlq", dead_letter(hm, "track", why, hts), hm, None, None))
        if verdict == HOLD:
            continue
        if verdict == RELEASE:
            # Held messages decoded once already: decoding again gives the same event.
            again = [(hm, decode(hm, limits)[1]) for hm in tracker.take_released()]
            todo[:0] = again + [(m, e)]
            continue
        if verdict == REJECT:
            ts = e.ts if isinstance(e.ts, (int, float)) and math.isfinite(e.ts) else None
            out.append(("dlq", dead_letter(m, "track", what, ts), m, e, None))
        elif verdict == DROP:
            out.append(("drop", what, m, e, None))
        else:
            out.append(("route", what, m, e, lane_stall(tracker, m, e)))
    return out


def end_of_input(tracker: PartitionTracker) -> list[tuple[str, Any, InMsg, Any, Any]]:
    """The input ended (not interrupted): held messages become dead letters."""
    return [("dlq", dead_letter(hm, "track", why, hts), hm, None, None)
            for hm, why, hts in tracker.end_of_input()]


class LaneStall:
    """Stage 1's notice that its input lane's watermark stalled (docs/limits.md,
    "Stalled clock"): ``PartitionTracker.stall`` set by the event ``event_id`` just
    accepted.  The Bytewax flow hands it to that event's zone right after the event
    (flows/logic.py, ``TrackerLogic``), where ``zone_step`` turns it into one
    ``clock_stalled`` alert: stage 1 has no output of its own but dead letters."""

    TYPE = "lane_clock_stalled"
    __slots__ = ("lane", "event_id", "ts", "events", "clock", "behind_s")

    def __init__(self, lane: int, event_id: str, ts: float, stall: dict):
        self.lane, self.event_id, self.ts = lane, event_id, ts
        self.events, self.clock, self.behind_s = stall["events"], stall["clock"], stall["behind_s"]

    def __reduce__(self):  # picklable between Bytewax processes
        return (LaneStall, (self.lane, self.event_id, self.ts,
                            {"events": self.events, "clock": self.clock,
                             "behind_s": self.behind_s}))


def lane_stall(tracker: PartitionTracker, msg: InMsg, ev: Event) -> "LaneStall | None":
    """The stall notice of the event ``tracker`` just routed, or None."""
    st = tracker.stall
    return None if st is None else LaneStall(msg.lane, ev.event_id, ev.ts, st)


def _lane_stall_alert(engine: ZoneEngine, n: LaneStall) -> list[tuple[str, dict]]:
    out: list = []
    engine.state.count("lane_clock_stalls")
    engine.emit.alert(out, n.ts, CLOCK_STALLED, "warning",
                      f"Input lane clock stalled (the lane of zone {engine.zone}): {n.events} "
                      f"consecutive accepted events did not advance its watermark "
                      f"(limits.clock_stall_events); "
                      f"the latest is {n.behind_s:.0f} s behind it, so the lane may be "
                      f"replaying old data or a flood of events dated ahead moved it",
                      None, [], {"events": n.events, "clock": n.clock,
                                 "behind_s": round(n.behind_s, 1)}, [n.event_id])
    return out


def nonfinite_path(x: Any, path: str = "") -> str | None:
    """Where ``x`` (a record) holds a NaN or an infinity, as ``.field[i].sub``; None if
    nowhere.  (orjson would write them as ``null``, against every output schema.)

    >>> nonfinite_path({"routes": {"v1": [{"eta": float("nan")}]}})
    '.routes.v1[0].eta'
    """
    if type(x) is float:
        return None if x - x == 0.0 else (path or ".")
    if isinstance(x, dict):
        for k, v in x.items():
            if type(v) is float:
                if v - v != 0.0:
                    return f"{path}.{k}"
            elif isinstance(v, (dict, list, tuple)):
                p = nonfinite_path(v, f"{path}.{k}")
                if p:
                    return p
    elif isinstance(x, (list, tuple)):
        for i, v in enumerate(x):
            if type(v) is float:
                if v - v != 0.0:
                    return f"{path}[{i}]"
            elif isinstance(v, (dict, list, tuple)):
                p = nonfinite_path(v, f"{path}[{i}]")
                if p:
                    return p
    return None


def _engine_error(engine: ZoneEngine, msg: InMsg, ev: Event, reason: str,
                  details: dict | None = None) -> dict:
    engine.n_out += 1
    return {"alert_id": f"A-{engine.zone}-{int(ev.ts)}-{engine.n_out}", "ts": ev.ts,
            "v": OUTPUT_SCHEMA_VERSION, "zone": engine.zone, "kind": "engine_error",
            "severity": "critical", "message": f"Event {ev.event_id} could not be "
            f"processed: {reason}", "order_ids": [], "details": {"seq": msg.seq, **(details or {})},
            "trigger_event_ids": [ev.event_id]}


def zone_step(engine: ZoneEngine, msg: InMsg, ev: Event) -> list[tuple[str, dict]]:
    """Run the zone engine on one event; an exception becomes a dead letter + alert.

    Every output of every zone engine leaves through here, so this is where a record
    holding a non-finite number (NaN, infinity: an arithmetic bug) is stopped: it is
    never emitted; an ``engine_error`` alert names it and the field, and the zone
    counts it (``stats["nonfinite_outputs"]``)."""
    if type(ev) is LaneStall:
        return _lane_stall_alert(engine, ev)
    try:
        out = engine.process(ev)
    except Exception as e:  # noqa: BLE001
        tb = traceback.extract_tb(e.__traceback__)[-1]
        reason = f"engine error {type(e).__name__}: {e} (at {tb.name}:{tb.lineno})"
        return [(TOPIC_DLQ, dead_letter(msg, "engine", reason, ev.ts)),
                (TOPIC_ALERTS, _engine_error(engine, msg, ev, reason))]
    for i, (topic, rec) in enumerate(out):
        where = nonfinite_path(rec)
        if where is not None:
            return _drop_nonfinite(engine, msg, ev, out, i)
    return out


def _drop_nonfinite(engine: ZoneEngine, msg: InMsg, ev: Event, out: list, first: int) -> list:
    kept: list[tuple[str, dict]] = list(out[:first])
    for topic, rec in out[first:]:
        where = nonfinite_path(rec)
        if where is None:
            kept.append((topic, rec))
            continue
        rid = next((str(v) for k, v in rec.items() if k.endswith("_id")), "?")
        engine.stats["nonfinite_outputs"] = engine.stats.get("nonfinite_outputs", 0) + 1
        reason = (f"{topic} record {rid} not emitted: non-finite number at {where} "
                  f"(an arithmetic bug)")
        kept.append((TOPIC_ALERTS, _engine_error(engine, msg, ev, reason,
                                                 {"topic": topic, "field": where})))
    return kept


def stage1_key(msg: InMsg) -> str:
    """Stage 1 is keyed by input lane (see ``PartitionTracker``): one ordered source
    partition.  Not by Kafka partition: the live source merges every Kafka partition
    into one lane, and several stage-1 keys feeding one zone from different workers
    would interleave in arrival order, not input order."""
    return f"p{msg.lane}"


def output_key(topic: str, rec: dict) -> str:
    return str(rec.get(KEYS[topic], ""))
