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
it goes (files for replays, Kafka live).
"""

from __future__ import annotations

from typing import Any, Callable

import bytewax.operators as op
from bytewax.dataflow import Dataflow, Stream

from fleetstream.connectors.files import sort_prefix
from fleetstream.contract.outputs import TOPIC_DLQ
from fleetstream.contract.settings import LimitsSettings
from fleetstream.flows.logic import RouterLogic, TrackerLogic, ZoneLogic
from fleetstream.operators.pipeline import stage1_key
from fleetstream.operators.zone.engine import ZoneEngine

DROPS = "_drops"

Output = tuple[str, str, dict]


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
               attach_positions: Callable[[Stream], None] | None = None,
               lanes: int = 1, limits: LimitsSettings | None = None) -> Dataflow:
    """``ordered``: input ``seq`` orders the input (replay line, or Kafka timestamp);
    see flows/logic.py.  ``attach_positions`` receives every accepted ping as
    ``(vehicle_id, lat, lon, ts, zone)`` (the live Redis read model uses it).
    ``lanes`` > 1 spreads decoding and tracking over that many lanes, a lane per zone
    group (flows/lanes.py); it needs a source with one ordered partition.  ``limits``:
    the input hygiene of decoding and tracking (the ``[limits]`` settings)."""
    flow = Dataflow(name)
    msgs = op.input("input", flow, source)
    if lanes > 1:
        one = op.key_on("key_router", msgs, lambda _m: "router")
        routed_msgs = op.stateful_batch(
            "route", one, lambda resume: RouterLogic(resume, lanes, ordered, limits))
        msgs = op.key_rm("lanes", routed_msgs)
    by_lane = op.key_on("key_partition", msgs, stage1_key)
    tracked = op.stateful_batch("track", by_lane,
                                lambda resume: TrackerLogic(resume, ordered, limits))
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

    attach_outputs(op.merge("all_outputs", rejects, outs))
    return flow
