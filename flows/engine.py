"""The fleetstream dataflow (docs/design.md, "Data flow").  Wiring only.

    input -> [route: lane per zone group, when lanes > 1; flows/lanes.py]
               |
               v
             key by lane -> decode + track (dedupe, stale, zone per entity) -> dead letters / drops
               |  routed
               v
             key by zone -> zone engine -> decisions, eta, alerts, notifications, dead letters

Every hop has a single upstream instance per key (one source partition, one router,
one lane per zone), which is what keeps each zone's events in input order on any
number of workers and processes (docs/architecture.md, "Determinism").

Every output is ``(topic, sort_prefix, record)``; ``attach_outputs`` decides where
it goes (files for replays, Kafka live).  Between steps, messages, events and
outputs travel in chunks (lists), one Bytewax item per batch (flows/logic.py).
"""

from __future__ import annotations

from typing import Any, Callable

import bytewax.operators as op
from bytewax.dataflow import Dataflow, Stream

from fleetstream.connectors.files import sort_prefix
from fleetstream.contract.outputs import TOPIC_DLQ
from fleetstream.contract.settings import LimitsSettings
from fleetstream.flows import tap
from fleetstream.flows.logic import RouterLogic, TrackerLogic, ZoneLogic
from fleetstream.flows.tap import DROPS
from fleetstream.operators.pipeline import stage1_key
from fleetstream.operators.zone.engine import ZoneEngine

__all__ = ["DROPS", "build_flow"]

Output = tuple[str, str, dict]


def _reject_outs(item: tuple) -> list[Output]:
    out = []
    for verdict, what, msg, ev in item[1]:
        if verdict == "dlq":
            out.append((TOPIC_DLQ, sort_prefix(0.0, "", msg.seq), what))
        else:
            out.append((DROPS, sort_prefix(0.0, "", msg.seq),
                        {"seq": msg.seq, "event_id": ev.event_id, "reason": what}))
    return out


def _zone_outs(zone: str, chunk: list) -> list[Output]:
    return [(topic, sort_prefix(rec.get("ts", 0.0), zone, n), rec) for topic, rec, n in chunk]


def _positions(item: tuple) -> list[tuple]:
    zone = item[1]
    return [(ev.vehicle_id, ev.lat, ev.lon, ev.ts, zone) for _m, ev in item[2]
            if ev.TYPE == "ping"]


def build_flow(name: str, source: Any, attach_outputs: Callable[[Stream], None],
               zone_factory: Callable[[str], ZoneEngine],
               zone_restore: Callable[[bytes], ZoneEngine], ordered: bool = True,
               attach_positions: Callable[[Stream], None] | None = None,
               lanes: int = 1, limits: LimitsSettings | None = None,
               chunked_input: bool = False, chunked_outputs: bool = False,
               interrupted: Callable[[], bool] = lambda: False) -> Dataflow:
    """``ordered``: input ``seq`` orders the input (replay line, or Kafka timestamp);
    see flows/logic.py.  ``attach_positions`` receives every accepted ping as
    ``(vehicle_id, lat, lon, ts, zone)`` (the live Redis read model uses it).
    ``lanes`` > 1 spreads decoding and tracking over that many lanes, a lane per zone
    group (flows/lanes.py); it needs a source with one ordered partition.  ``limits``:
    the input hygiene of decoding and tracking (the ``[limits]`` settings).
    ``chunked_input``: the source emits lists of messages (one per batch) rather than
    messages; ``chunked_outputs``: ``attach_outputs`` receives lists of outputs (one
    per step call) rather than outputs.  Chunks cost Bytewax one item, not one per
    message (flows/logic.py).  ``interrupted``: true when the input ended because
    of a stop request, not at its end (messages held by stage 1 then stay held for
    ``--resume`` instead of becoming dead letters).

    With an observer installed (``flows.tap.install``, the metrics endpoint), the
    flow also counts its inputs and outputs without changing them (flows/tap.py)."""
    observer = tap.current()
    flow = Dataflow(name)
    msgs = op.input("input", flow, tap.tap_source(source, observer))
    chunks = msgs if chunked_input else op.map("chunk", msgs, lambda m: [m])
    if observer is not None:
        chunks = op.inspect("tap_inputs", chunks, tap.inputs_inspector(observer))
    if lanes > 1:
        one = op.key_on("key_router", chunks, lambda _c: "router")
        routed_chunks = op.stateful_batch(
            "route", one, lambda resume: RouterLogic(resume, lanes, ordered, limits))
        chunks = op.key_rm("lanes", routed_chunks)
    # Every message of a chunk is on the same lane (one source partition, or the router).
    by_lane = op.key_on("key_partition", chunks, lambda c: stage1_key(c[0]))
    tracked = op.stateful_batch("track", by_lane,
                                lambda resume: TrackerLogic(resume, ordered, limits, interrupted))
    tracked = op.key_rm("tracked", tracked)
    routed = op.branch("routed", tracked, lambda t: t[0] == "zone")
    rejects = op.map("track_rejects", routed.falses, _reject_outs)

    if attach_positions is not None:
        attach_positions(op.flat_map("positions", routed.trues, _positions))
    zoned = op.map("to_zone", routed.trues, lambda t: (t[1], t))
    decided = op.stateful_batch(
        "zone", zoned,
        lambda resume: ZoneLogic(resume, zone_factory, zone_restore, ordered, observer))
    outs = op.map("outputs", decided, lambda kv: _zone_outs(kv[0], kv[1]))

    out_chunks = op.merge("all_outputs", rejects, outs)
    if observer is not None:
        out_chunks = op.inspect("tap_outputs", out_chunks, tap.outputs_inspector(observer))
    if chunked_outputs:
        attach_outputs(out_chunks)
    else:
        attach_outputs(op.flat_map("unchunk", out_chunks, lambda chunk: chunk))
    return flow
