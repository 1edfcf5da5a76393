"""The fleetstream dataflow (DESIGN.md, "Data flow").  Wiring only.

    input -> decode ----------------------------------> dead letters
               |  ok
               v
             key by input partition -> track (dedupe, stale, zone per entity) -> dead letters / drops
               |  routed
               v
             key by zone -> zone engine -> decisions, eta, alerts, notifications, dead letters

Every output is ``(topic, sort_prefix, record)``; ``attach_outputs`` decides where
it goes (files for replays, Kafka live).
"""

from __future__ import annotations

from typing import Any, Callable

import bytewax.operators as op
from bytewax.dataflow import Dataflow, Stream

from fleetstream.connectors.files import sort_prefix
from fleetstream.contract.outputs import TOPIC_DLQ
from fleetstream.flows.logic import TrackerLogic, ZoneLogic
from fleetstream.operators.pipeline import InMsg, decode, stage1_key
from fleetstream.operators.zone_engine import ZoneEngine

DROPS = "_drops"

Output = tuple[str, str, dict]


def _decode(msg: InMsg) -> tuple[InMsg, bool, Any]:
    ok, what = decode(msg)
    return (msg, ok, what)


def _dlq_out(item: tuple) -> Output:
    msg, rec = item[0], item[-1]
    return (TOPIC_DLQ, sort_prefix(0.0, "", msg.seq), rec)


def _tracked_out(item: tuple) -> Output:
    verdict, what, msg, ev = item
    if verdict == "dlq":
        return (TOPIC_DLQ, sort_prefix(0.0, "", msg.seq), what)
    return (DROPS, sort_prefix(0.0, "", msg.seq),
            {"seq": msg.seq, "event_id": ev.event_id, "reason": what})


def _zone_out(zone: str, item: tuple) -> Output:
    topic, rec, n = item
    return (topic, sort_prefix(rec.get("ts", 0.0), zone, n), rec)


def build_flow(name: str, source: Any, attach_outputs: Callable[[Stream], None],
               zone_factory: Callable[[str], ZoneEngine],
               zone_restore: Callable[[bytes], ZoneEngine], ordered: bool = True,
               attach_positions: Callable[[Stream], None] | None = None) -> Dataflow:
    """``ordered``: input ``seq`` orders the input (replay line, or Kafka timestamp);
    see flows/logic.py.  ``attach_positions`` receives every accepted ping as
    ``(vehicle_id, lat, lon, ts, zone)`` (the live Redis read model uses it)."""
    flow = Dataflow(name)
    msgs = op.input("input", flow, source)
    decoded = op.map("decode", msgs, _decode)
    valid = op.branch("valid", decoded, lambda t: t[1])
    bad = op.map("decode_errors", valid.falses, _dlq_out)

    events = op.map("unwrap", valid.trues, lambda t: (t[0], t[2]))
    by_entity = op.key_on("key_partition", events, lambda t: stage1_key(t[0]))
    tracked = op.stateful_batch("track", by_entity, lambda resume: TrackerLogic(resume, ordered))
    tracked = op.key_rm("tracked", tracked)
    routed = op.branch("routed", tracked, lambda t: t[0] == "route")
    rejects = op.map("track_rejects", routed.falses, _tracked_out)

    if attach_positions is not None:
        pings = op.filter("pings", routed.trues, lambda t: t[3].TYPE == "ping")
        attach_positions(op.map("positions", pings, lambda t: (t[3].vehicle_id, t[3].lat,
                                                               t[3].lon, t[3].ts, t[1])))
    zoned = op.map("to_zone", routed.trues, lambda t: (t[1], (t[1], t[2], t[3])))
    decided = op.stateful_batch(
        "zone", zoned, lambda resume: ZoneLogic(resume, zone_factory, zone_restore, ordered))
    outs = op.map("outputs", decided, lambda kv: _zone_out(kv[0], kv[1]))

    attach_outputs(op.merge("all_outputs", bad, rejects, outs))
    return flow
