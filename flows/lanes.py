"""Spread stage 1 (decode + tracking) over several ordered lanes, a lane per zone group.

Why zone groups and not entity hashes: the zone step must see its events in input
order.  Bytewax hands a stateful step an epoch's items in several calls and items
from several upstream workers arrive in no fixed order, so a zone fed by several
stage-1 keys would interleave them by arrival (docs/architecture.md).  With a lane
per zone group every zone keeps exactly **one** upstream:

    source (one ordered partition)
      -> route   (one key: reads every message in input order, picks its lane)
      -> track   (key = lane: decode, dedupe, stale pings, zone of each entity)
      -> zone    (key = zone: only the lane of that zone ever feeds it)

Each hop has a single upstream instance, whose output reaches the next step in the
order it was sent, so each lane sees its messages in input order and each zone sees
its events in input order: the decisions are those of one lane.

The lane of a zone is a pure function of its name (``zone_lane``), never of arrival
order, so a zone named first by a condition and later by a shift start stays on one
lane.  The router learns the zone of each vehicle and order from their
``shift_start`` / ``order_created`` (the same events the tracker learns from), so an
entity's later events go to the lane whose tracker knows it.  A message the router
cannot place (malformed, or an entity with no creation event seen) goes to lane
``seq % lanes``: its tracker dead-letters it exactly as one lane would, and dead
letters are ordered by ``seq`` in the output files.

What differs from one lane, by construction: stage-1 state that spans zone groups is
per lane.  Dedupe is per lane (an event id reused by events of two zone groups is not a
duplicate), and each lane has its own event-time watermark (docs/limits.md): the first
event of a lane sets it, the skew limit and its rebase count the events of that lane
only, and the dedupe horizon and the forgetting of finished entities follow it.  On
recorded data the outputs are byte-identical to one lane (tests/flows/test_scaleout.py);
on input built to move one lane's watermark (a far-future first event, a skew rebase)
they can differ.  That is why the lane count is a flag (``--lanes``, default 1) and not
tied to the worker or process count: at a given lane count the outputs are the same
bytes on any number of workers and processes.

>>> r = LaneRouter(4)
>>> r.lane(InMsg(6, "fs.telemetry", "V1", b'{"type":"ping","vehicle_id":"V1"}'))  # unknown
2
>>> zone_lane("Z3", 4) == zone_lane("Z3", 4)
True
"""

from __future__ import annotations

import zlib
from typing import Any

import orjson

from fleetstream.contract.events import EVENT_TYPES
from fleetstream.contract.message import InMsg
from fleetstream.contract.settings import LimitsSettings
from fleetstream.operators.pipeline import decode

CREATING = ("shift_start", "order_created")
SELF_ZONED = ("condition", "approval", "customer_profile")


def zone_lane(zone: str, lanes: int) -> int:
    """The lane of a zone: a stable hash of its name (the same in every process)."""
    return zlib.crc32(zone.encode("utf-8")) % lanes


class LaneRouter:
    """Picks the lane of each message, in input order.  State: the zone of every
    vehicle and order seen created (plain dict, snapshotted by the flow)."""

    def __init__(self, lanes: int, zones: dict[str, str] | None = None,
                 limits: LimitsSettings | None = None):
        self.lanes = lanes
        self.zones: dict[str, str] = dict(zones or {})  # "v:<id>" / "o:<id>" -> zone
        self.limits = limits or LimitsSettings()  # the tracker's decoding limits

    def lane(self, msg: InMsg) -> int:
        fallback = msg.seq % self.lanes
        topic = msg.topic
        try:
            obj: Any = orjson.loads(msg.value)
        except orjson.JSONDecodeError:
            return fallback
        if not isinstance(obj, dict):
            return fallback
        t = obj.get("type")
        cls = EVENT_TYPES.get(t) if isinstance(t, str) else None
        if cls is None or cls.TOPIC != topic:
            return fallback
        if t in SELF_ZONED:
            zone = obj.get("zone")
            return zone_lane(zone, self.lanes) if isinstance(zone, str) else fallback
        prefix = "o:" if cls.KEY == "order_id" else "v:"
        if t in CREATING:
            ok, ev = decode(msg, self.limits)  # the tracker's decoding: learn what it learns
            if not ok:
                return fallback
            zone = ev.zone  # type: ignore[attr-defined]
            self.zones[prefix + getattr(ev, cls.KEY)] = zone
            return zone_lane(zone, self.lanes)
        ent = obj.get(cls.KEY)
        zone = self.zones.get(prefix + ent) if isinstance(ent, str) else None
        return zone_lane(zone, self.lanes) if zone is not None else fallback

    def snapshot(self) -> dict[str, Any]:
        return {"v": 1, "lanes": self.lanes, "zones": dict(self.zones)}

    @classmethod
    def restore(cls, snap: dict[str, Any], limits: LimitsSettings | None = None) -> "LaneRouter":
        return cls(snap["lanes"], snap["zones"], limits)
