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

import math
import zlib
from typing import Any

import orjson

from fleetstream.contract.events import EVENT_TYPES, OVERRIDE_TYPES
from fleetstream.contract.message import InMsg
from fleetstream.contract.settings import LimitsSettings
from fleetstream.operators.pipeline import decode
from fleetstream.operators.tracker import HOLD_MAX, Watermark

CREATING = ("shift_start", "order_created")
SELF_ZONED = ("condition", "approval", "customer_profile", *OVERRIDE_TYPES)


def zone_lane(zone: str, lanes: int) -> int:
    """The lane of a zone: a stable hash of its name (the same in every process)."""
    return zlib.crc32(zone.encode("utf-8")) % lanes


class LaneRouter:
    """Picks the lane of each message, in input order.  State: the zone of every
    vehicle and order seen created, each with the event time until which it is kept
    (plain dicts, snapshotted by the flow).

    Retention (docs/limits.md, "Retention"): the router forgets an entity on the
    horizon the stage-1 tracker uses for it (``PartitionTracker._keep``):
    ``retention_s`` after its last event, and not before an order's window end +
    ``order_grace_s`` or a vehicle's shift end + ``retention_s``; plus a margin of
    ``event_skew_s``, so the router never forgets before the lane's tracker does.  Its
    clock is a ``Watermark`` of the times of the ``shift_start`` / ``order_created``
    events it decodes (with the tracker's decoding, so malformed messages move nothing),
    fed with the tracker's rule: only times in ``[min_event_ts, max_event_ts)`` and at
    most ``event_skew_s`` ahead of it, with the same rebase after ``skew_rebase_events``
    too-far-ahead events from as many distinct entities.  So one far-future event cannot
    make it forget anything, and it can only lag the lanes' clocks (forgetting later).
    Other events of a known entity extend its entry (``ts + retention_s``) when their
    time is within the skew of the clock; they do not move it."""

    GC_EVERY_S = 3600.0  # event time between two sweeps of the maps

    def __init__(self, lanes: int, zones: dict[str, str] | None = None,
                 limits: LimitsSettings | None = None):
        self.lanes = lanes
        self.zones: dict[str, str] = dict(zones or {})  # "v:<id>" / "o:<id>" -> zone
        self.limits = limits = limits or LimitsSettings()  # the tracker's limits
        # key -> event time after which the entry is forgotten; None: not known yet
        # (entries restored from a v1 snapshot get one at the next sweep).
        self.keep: dict[str, float | None] = {k: None for k in self.zones}
        self.marks = Watermark()
        self.ahead: list[list] = []   # [entity key, ts] of the held run (the tracker's)
        self.next_gc_ts = -1e18
        self.forgotten = 0

    # -- event-time clock (the tracker's rule: operators/tracker.py) ---------------
    def _clock(self, key: str, ts: Any, observe: bool = True) -> float | None:
        """``ts`` if the tracker's time check would accept it, else None.  ``observe``
        (only for events the router decoded as the tracker does): it moves the clock
        (or counts towards a rebase); otherwise it is only checked against the clock."""
        lim = self.limits
        if (type(ts) not in (int, float) or not math.isfinite(ts)
                or not lim.min_event_ts <= ts < lim.max_event_ts):
            return None
        wm = self.marks.value
        if not observe:
            return ts if wm is not None and ts <= wm + lim.event_skew_s else None
        if wm is None or ts <= wm + lim.event_skew_s:
            self.ahead = []
            self.marks.observe(ts)
            return ts
        need = lim.skew_rebase_events
        if need <= 0:
            return None
        # the tracker's held run (operators/tracker.py, HOLD): consistent times, at most
        # HOLD_MAX of them; enough distinct entities rebase it to its earliest time
        ahead = [a for a in self.ahead if abs(a[1] - ts) <= lim.event_skew_s]
        if len({a[0] for a in ahead} | {key}) >= need:
            self.ahead = []
            self.marks.reset(min([a[1] for a in ahead] + [ts]))
            for a in ahead:  # released in input order, as the tracker does
                self.marks.observe(a[1])
            self.marks.observe(ts)
            return ts
        self.ahead = (ahead + [[key, ts]])[-HOLD_MAX:]
        return None

    def _sweep(self) -> None:
        now = self.marks.value
        if now is None or now < self.next_gc_ts:
            return
        lim = self.limits
        cut = now - lim.event_skew_s
        keep, zones = self.keep, self.zones
        for k in [k for k, t in keep.items() if t is not None and t < cut]:
            del keep[k]
            del zones[k]
            self.forgotten += 1
        for k, t in keep.items():
            if t is None:  # from a v1 snapshot: kept a full retention from now
                keep[k] = now + lim.retention_s
        self.next_gc_ts = now + self.GC_EVERY_S

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
            key = prefix + getattr(ev, cls.KEY)
            self.zones[key] = zone
            r = self.limits.retention_s
            if self._clock(key, ev.ts) is None:
                # the tracker refuses it too: the entry is kept on the router's clock only
                wm = self.marks.value
                until = (ev.ts if wm is None else wm) + r
            else:
                until = max(ev.ts + r, ev.window_end + self.limits.order_grace_s  # type: ignore[attr-defined]
                            if t == "order_created" else ev.shift_end_ts + r)  # type: ignore[attr-defined]
            self.keep[key] = max(until, self.keep.get(key) or -1e18)
            self._sweep()
            return zone_lane(zone, self.lanes)
        ent = obj.get(cls.KEY)
        key = prefix + ent if isinstance(ent, str) else None
        ts = self._clock(key or "?", obj.get("ts"), observe=False)
        zone = self.zones.get(key) if key is not None else None
        if zone is not None and ts is not None:
            k = self.keep.get(key)
            if k is not None and ts + self.limits.retention_s > k:
                self.keep[key] = ts + self.limits.retention_s
        self._sweep()
        return zone_lane(zone, self.lanes) if zone is not None else fallback

    def snapshot(self) -> dict[str, Any]:
        return {"v": 2, "lanes": self.lanes, "zones": dict(self.zones),
                "keep": dict(self.keep), "times": self.marks.snapshot(),
                "ahead": [list(a) for a in self.ahead], "next_gc_ts": self.next_gc_ts,
                "forgotten": self.forgotten}

    @classmethod
    def restore(cls, snap: dict[str, Any], limits: LimitsSettings | None = None) -> "LaneRouter":
        r = cls(snap["lanes"], snap["zones"], limits)
        if snap.get("v", 1) >= 2:
            r.keep = dict(snap["keep"])
            r.marks = Watermark.restore(snap["times"])
            r.ahead = [list(a) for a in snap["ahead"]]
            r.next_gc_ts = snap["next_gc_ts"]
            r.forgotten = snap.get("forgotten", 0)
        return r
