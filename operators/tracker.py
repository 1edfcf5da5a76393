"""Stage 1: per-entity tracking before the zone engine.

Keyed by entity (a vehicle, an order, a customer, a zone or a decision), the
tracker drops duplicate event ids and stale pings and resolves the zone each
event belongs to, so that stage 2 can be keyed by zone:

- vehicles learn their zone from ``shift_start``;
- orders from ``order_created``;
- conditions, approvals and customer profiles name their zone.

It holds a bounded window of recent event ids per entity (duplicates arrive
close together in practice; the window size is a setting).

The lane watermark is in operators/watermark.py and the per-entity state and the
verdicts in operators/entity_tracker.py; both are re-exported here.

>>> from fleetstream.contract.events import validate
>>> t = EntityTracker()
>>> shift = validate({"type": "shift_start", "event_id": "e1", "ts": 100, "v": 1,
...     "vehicle_id": "v1", "driver_id": "d1", "zone": "z1", "fleet_type": "gig",
...     "vehicle_type": "car", "capacity": {"weight_kg": 100, "volume_l": 500},
...     "start": {"lat": 1, "lon": 1}, "end": {"lat": 1, "lon": 1}, "shift_end_ts": 9000,
...     "cost_per_km": 0.5, "cost_per_hour": 20})
>>> t.process(shift)
('route', 'z1')
>>> t.process(shift)
('drop', 'duplicate event_id e1')
"""

from __future__ import annotations

import base64
import math
from typing import Any

from fleetstream.contract.events import Event, Ping
from fleetstream.contract.message import InMsg
from fleetstream.contract.settings import LimitsSettings
from fleetstream.operators.entity_tracker import (  # noqa: F401 - re-exported
    DROP, FINISHING, HOLD, REJECT, RELEASE, ROUTE, SELF_ZONED, EntityTracker, entity_key)
from fleetstream.operators.watermark import (  # noqa: F401 - re-exported
    WATERMARK_RANK, WATERMARK_WINDOW, Watermark)

_LIMITS = LimitsSettings()  # defaults
HOLD_MAX = 256
"""At most this many too-far-ahead messages are held per lane while they wait for the
stream to confirm them (docs/limits.md, "Quiet periods"); the oldest beyond it is
dead-lettered."""


def _msg_snapshot(m: Any) -> Any:
    """A held message in a snapshot (JSON-safe: the value in base64)."""
    if m is None:
        return None
    return [m.seq, m.topic, m.key, base64.b64encode(m.value).decode("ascii"), m.partition,
            m.offset, m.lane]


def _msg_restore(x: Any) -> Any:
    if x is None:
        return None
    seq, topic, key, value, partition, offset, lane = x
    return InMsg(seq, topic, key, base64.b64decode(value), partition, offset, lane)



class PartitionTracker:
    """Stage 1 for one input partition: the entities whose events it carries.

    Keying stage 1 by input partition rather than by entity gives every zone a
    single upstream per partition: in a replay (one ordered partition) the zone
    engine sees events exactly in input order, on one worker or many.  Kafka's
    default partitioner puts a vehicle's telemetry and fleet events on the same
    partition index when the topics have equal partition counts (the topic
    bootstrap command makes them so), so a vehicle's zone is learned where its
    pings arrive.

    Duplicates are found in a window of recent event ids bounded by event time
    (``dedupe_window_s``) and by count (``dedupe_max``).

    Event-time sanity (docs/limits.md): ``clock`` is the largest event time accepted
    on the lane; ``watermark`` is the reference new events are checked against: the
    ``WATERMARK_RANK``-th largest of the last ``WATERMARK_WINDOW`` accepted event times
    (the first event sets it), so that one or two accepted outliers cannot move it and
    a run of events each a little ahead cannot ratchet it forward.  An event of any type whose ``ts``
    is not finite, outside ``[min_event_ts, max_event_ts)`` or more than
    ``event_skew_s`` ahead of the watermark is rejected (a dead letter) and moves no
    clock, so one wrong timestamp cannot poison a zone.  A too-far-ahead event is held
    (``HOLD``; at most ``HOLD_MAX`` per lane), not yet dead-lettered: after a quiet
    period longer than the skew, ``skew_rebase_events`` consecutive too-far-ahead events
    (no on-time event in between, accepted or not) from as many distinct entities,
    within the skew of each other, show that the stream itself has moved on
    (``RELEASE``): the watermark is rebased to the earliest of them and all of them are
    accepted in input order, so a real gap loses nothing.  An on-time event next, an
    inconsistent one, or the end of the input turns the held ones into dead letters
    (``take_dropped``, ``end_of_input``).

    >>> from fleetstream.contract.events import validate
    >>> pt = PartitionTracker()
    >>> ping = {"type": "ping", "event_id": "p1", "ts": 10, "v": 1, "vehicle_id": "v9",
    ...         "lat": 1, "lon": 1, "speed_kmh": 0, "heading": 0}
    >>> pt.process(validate(ping))
    ('reject', 'unknown vehicle: no shift_start seen before this ping')
    """

    def __init__(self, dedupe_window_s: float = 900.0, dedupe_max: int = 200_000,
                 event_skew_s: float = _LIMITS.event_skew_s,
                 retain_done_s: float = 86_400.0,
                 skew_rebase_events: int = _LIMITS.skew_rebase_events,
                 min_event_ts: float = _LIMITS.min_event_ts,
                 max_event_ts: float = _LIMITS.max_event_ts,
                 ping_lead_s: float = _LIMITS.ping_lead_s,
                 zones: tuple = _LIMITS.zones, max_zones: int = _LIMITS.max_zones,
                 max_unconfirmed_zones: int = _LIMITS.max_unconfirmed_zones,
                 retention_s: float = _LIMITS.retention_s,
                 order_grace_s: float = _LIMITS.order_grace_s,
                 clock_stall_events: int = _LIMITS.clock_stall_events):
        # key -> [zone, last_ping_ts, done_ts, keep_until]: an entity not heard of by
        # keep_until (event time: see _keep) is forgotten, finished or not.
        self.entities: dict[str, list] = {}
        # A finished order (delivered, failed, cancelled) or a vehicle whose shift ended
        # is forgotten this long (event time) after it finished, so a long live run
        # does not grow without bound; a late event for it is then an unknown entity.
        self.retain_done_s = retain_done_s
        self.next_gc_ts = -1e18
        self.recent: dict[str, float] = {}    # event_id -> ts, insertion ordered
        self.clock = -1e18                    # largest accepted ts; -1e18: no event yet
        self.dedupe_window_s = dedupe_window_s
        self.dedupe_max = dedupe_max
        self.event_skew_s = event_skew_s
        self.skew_rebase_events = skew_rebase_events
        self.min_event_ts = min_event_ts
        self.max_event_ts = max_event_ts
        self.ping_lead_s = ping_lead_s
        self.ahead: list[list] = []           # [entity key, ts, reason] of the held run
        self.held: list[Any] = []             # its messages (parallel to ahead)
        self.dropped: list[tuple] = []        # (message, reason, ts): see take_dropped
        self.released: list[Any] = []         # see take_released
        self.rebases = 0                      # times the watermark was rebased
        self.marks = Watermark()              # of accepted ts: see the class docstring
        # Zones (docs/limits.md, "Zones"): the allow-list, or the zones a shift_start
        # named (known) and those named only by other events so far (unconfirmed).
        self.allow = frozenset(zones)
        self.max_zones = max_zones
        self.max_unconfirmed_zones = max_unconfirmed_zones
        self.zones_known: set[str] = set()
        self.zones_unconfirmed: set[str] = set()
        self.retention_s = retention_s
        self.order_grace_s = order_grace_s
        # Stalled lane clock (docs/limits.md, "Stalled clock"): accepted events in a row
        # that did not advance the watermark; one notice per stall.
        self.clock_stall_events = clock_stall_events
        self.still_events = 0
        self.stall_alerted = False
        self.stalls = 0
        self.stall: dict | None = None   # the notice of the event just accepted, if any

    @property
    def watermark(self) -> float | None:
        """The reference for the skew check (None before the lane's first event)."""
        return self.marks.value

    @classmethod
    def from_limits(cls, limits: LimitsSettings, **kw: Any) -> "PartitionTracker":
        """A tracker applying ``limits`` (the ``[limits]`` settings section)."""
        return cls(event_skew_s=limits.event_skew_s,
                   skew_rebase_events=limits.skew_rebase_events,
                   min_event_ts=limits.min_event_ts, max_event_ts=limits.max_event_ts,
                   ping_lead_s=limits.ping_lead_s, zones=limits.zones,
                   max_zones=limits.max_zones,
                   max_unconfirmed_zones=limits.max_unconfirmed_zones,
                   retention_s=limits.retention_s, order_grace_s=limits.order_grace_s,
                   clock_stall_events=limits.clock_stall_events, **kw)

    def _time_check(self, ev: Event, key: str, msg: Any) -> tuple[str, str] | None:
        """None if ``ev.ts`` is acceptable on this lane now, else ``(REJECT, why)``,
        ``(HOLD, why)`` (too far ahead: held, see the class docstring) or
        ``(RELEASE, why)`` (this event confirms the held run: the lane moved on)."""
        ts = ev.ts
        if not isinstance(ts, (int, float)) or not math.isfinite(ts):
            return REJECT, f"ts: not a finite number ({ts!r})"
        if not self.min_event_ts <= ts < self.max_event_ts:
            return REJECT, (f"ts: {ts:.0f} outside the accepted range [limits.min_event_ts "
                            f"{self.min_event_ts:.0f}, limits.max_event_ts "
                            f"{self.max_event_ts:.0f})")
        wm = self.watermark
        skew = self.event_skew_s
        if wm is None or ts <= wm + skew:
            if self.ahead:  # an on-time event (whatever becomes of it) ends the held run
                self._drop_held("an on-time event came next: the lane had not moved on",
                                keep=())
            return None
        why = (f"ts {ts - wm:.0f} s ahead of the lane watermark {wm:.0f} "
               f"(limits.event_skew_s {skew:.0f})")
        need = self.skew_rebase_events
        if need <= 0:
            return REJECT, why
        if any(abs(a[1] - ts) > skew for a in self.ahead):
            self._drop_held(f"an event dated {ts:.0f} came next, more than the skew away",
                            keep=[i for i, a in enumerate(self.ahead)
                                  if abs(a[1] - ts) <= skew])
        keys = {a[0] for a in self.ahead}
        keys.add(key)
        if len(keys) >= need:
            # The stream has moved on: the held run and this event are accepted, in
            # input order, from a watermark at the earliest of them.
            self.rebases += 1
            self.marks.reset(min([a[1] for a in self.ahead] + [ts]))
            self.released, self.held, self.ahead = self.held, [], []
            return RELEASE, why
        why += f"; {len(keys)} of {need} distinct entities needed to move it"
        self.ahead.append([key, ts, why])
        self.held.append(msg)
        if len(self.ahead) > HOLD_MAX:
            self._drop_held(f"more than {HOLD_MAX} messages were held",
                            keep=range(1, len(self.ahead)))
        return HOLD, why

    def _drop_held(self, note: str, keep: Any) -> None:
        """The held messages not in ``keep`` (indices) become dead letters."""
        keep = set(keep)
        ahead, held = [], []
        for i, (a, m) in enumerate(zip(self.ahead, self.held)):
            if i in keep:
                ahead.append(a)
                held.append(m)
            else:
                self.dropped.append((m, f"{a[2]}; held, then {note}", a[1]))
        self.ahead, self.held = ahead, held

    def take_dropped(self) -> list[tuple[Any, str, float]]:
        """Held messages that turned out to be too far ahead after all, as
        ``(message, reason, ts)``, in input order: the caller dead-letters them."""
        out, self.dropped = self.dropped, []
        return out

    def take_released(self) -> list[Any]:
        """After ``RELEASE``: the held messages, in input order, for the caller to
        process again (before the event that released them)."""
        out, self.released = self.released, []
        return out

    def end_of_input(self) -> list[tuple[Any, str, float]]:
        """The input ended (not interrupted): every held message is a dead letter."""
        self._drop_held("the input ended before the lane moved on", keep=())
        return self.take_dropped()

    def process(self, ev: Event, msg: Any = None) -> tuple[str, str]:
        """The verdict on ``ev``: ``(ROUTE, zone)``, ``(DROP, reason)``, ``(REJECT,
        reason)``, ``(HOLD, reason)`` (``msg`` is kept; see ``take_dropped``) or
        ``(RELEASE, reason)`` (``take_released``, then process those and ``ev`` again).
        Whatever the verdict, ``take_dropped`` may then hold dead letters that come
        before ``ev`` in input order."""
        self.stall = None
        eid = ev.event_id
        if eid in self.recent:
            return (DROP, f"duplicate event_id {eid}")
        key = entity_key(ev)
        chk = self._time_check(ev, key, msg)
        if chk is not None:
            return chk
        ent = self.entities.get(key)
        if (isinstance(ev, Ping) and ent is not None and ent[1] is not None and ev.ts <= ent[1]
                and ent[1] <= self.marks.value + self.ping_lead_s):
            # (a last ping further ahead of the watermark was a clock glitch: not counted)
            self._remember(eid, ev.ts)
            return (DROP, f"stale ping: {ev.ts:.1f} not after {ent[1]:.1f}")
        zone = getattr(ev, "zone", None)
        if zone is not None:
            why = self._admit(zone, ev.TYPE == "shift_start")
            if why is not None:
                return (REJECT, why)
        if ev.TYPE in SELF_ZONED:
            # These carry their zone: nothing to remember but the event id.
            self._advance(ev.ts)
            self._remember(eid, ev.ts)
            return (ROUTE, zone)  # type: ignore[return-value]
        if ev.TYPE in ("shift_start", "order_created"):
            if ent is None:
                ent = self.entities[key] = [zone, None, None, None]
            ent[0] = zone
            ent[2] = None
            ent[3] = self._keep(ev, None)
        elif ent is None:
            what = "vehicle" if ev.KEY == "vehicle_id" else "order"
            first = "shift_start" if what == "vehicle" else "order_created"
            return (REJECT, f"unknown {what}: no {first} seen before this {ev.TYPE}")
        self._advance(ev.ts)
        self._remember(eid, ev.ts)
        if isinstance(ev, Ping):
            ent[1] = ev.ts
        elif ev.TYPE in FINISHING:
            ent[2] = ev.ts
        keep = ev.ts + self.retention_s
        if ent[3] is not None and keep > ent[3]:
            ent[3] = keep
        if self.clock >= self.next_gc_ts:
            self._forget_finished()
        return (ROUTE, ent[0])

    def _keep(self, ev: Event, keep: float | None) -> float:
        """Until when an entity is remembered without news (docs/limits.md,
        "Retention"): ``retention_s`` after its last event, and at least until an
        order's window end plus ``order_grace_s`` (when the zone expires it) or a
        vehicle's planned shift end plus ``retention_s``."""
        t = ev.ts + self.retention_s
        if ev.TYPE == "order_created":
            t = max(t, ev.window_end + self.order_grace_s)  # type: ignore[attr-defined]
        elif ev.TYPE == "shift_start":
            t = max(t, ev.shift_end_ts + self.retention_s)  # type: ignore[attr-defined]
        return t if keep is None else max(t, keep)

    def _admit(self, zone: str, confirming: bool) -> str | None:
        """Why an event naming ``zone`` may not create or reach it, or None (docs/limits.md,
        "Zones").  ``confirming``: the event is fleet configuration (a shift_start)."""
        if self.allow:
            if zone in self.allow:
                return None
            return (f"zone {zone!r} is not in limits.zones ({len(self.allow)} zones "
                    f"allowed)")
        known = self.zones_known
        if zone in known:
            return None
        pending = self.zones_unconfirmed
        if zone in pending:
            if confirming:
                pending.discard(zone)
                known.add(zone)
            return None
        if len(known) + len(pending) >= self.max_zones:
            return (f"zone {zone!r} unknown and limits.max_zones ({self.max_zones}) zones "
                    f"already exist on this lane")
        if confirming:
            known.add(zone)
            return None
        if len(pending) >= self.max_unconfirmed_zones:
            return (f"zone {zone!r} unknown: no shift_start has named it, and "
                    f"limits.max_unconfirmed_zones ({self.max_unconfirmed_zones}) zones "
                    f"named only by orders, profiles, conditions or approvals are waiting "
                    f"for one (set limits.zones to list your zones)")
        pending.add(zone)
        return None

    def _advance(self, ts: float) -> None:
        """An event was accepted: the watermark follows it, the run of rejects ends."""
        if ts > self.clock:
            self.clock = ts
        before = self.marks.value
        self.marks.observe(ts)
        if before is None or ts >= before or self.marks.value > before:
            # (an event at the watermark is on time: bursts share their timestamps)
            self.still_events = 0
            self.stall_alerted = False
            return
        self.still_events += 1
        if self.still_events == self.clock_stall_events and not self.stall_alerted:
            self.stall_alerted = True
            self.stalls += 1
            self.stall = {"events": self.still_events, "clock": float(self.marks.value),
                          "behind_s": float(self.marks.value - ts)}

    def _forget_finished(self) -> None:
        """Drop entities finished more than ``retain_done_s`` ago, and those not heard of
        by their ``keep_until`` (hourly, event time; measured against the watermark)."""
        horizon = self.clock - self.retain_done_s
        now = self.marks.value if self.marks.value is not None else self.clock
        for k in [k for k, e in self.entities.items()
                  if (e[2] is not None and e[2] < horizon)
                  or (e[3] is not None and e[3] < now)]:
            del self.entities[k]
        self.next_gc_ts = self.clock + 3600.0

    def _remember(self, eid: str, ts: float) -> None:
        recent = self.recent
        recent[eid] = ts
        if len(recent) > self.dedupe_max or (len(recent) > 1024 and len(recent) % 256 == 0):
            # the watermark, not the clock: one event ahead must not evict the window
            horizon = self.marks.value - self.dedupe_window_s
            while recent and (len(recent) > self.dedupe_max or
                              next(iter(recent.values())) < horizon):
                del recent[next(iter(recent))]

    def snapshot(self) -> dict[str, Any]:
        return {"v": 4, "entities": {k: list(v) for k, v in self.entities.items()},
                "recent": dict(self.recent), "clock": self.clock,
                "window": self.dedupe_window_s, "max": self.dedupe_max,
                "skew": self.event_skew_s, "rebase": self.skew_rebase_events,
                "ts_range": [self.min_event_ts, self.max_event_ts],
                "ahead": [list(a) for a in self.ahead], "rebases": self.rebases,
                "held": [_msg_snapshot(m) for m in self.held],
                "times": self.marks.snapshot(), "ping_lead": self.ping_lead_s,
                "retain": self.retain_done_s, "next_gc_ts": self.next_gc_ts,
                "zones": {"allow": sorted(self.allow), "max": self.max_zones,
                          "max_unconfirmed": self.max_unconfirmed_zones,
                          "known": sorted(self.zones_known),
                          "unconfirmed": sorted(self.zones_unconfirmed)},
                "retention": [self.retention_s, self.order_grace_s],
                "stall": [self.clock_stall_events, self.still_events, self.stall_alerted,
                          self.stalls]}

    @classmethod
    def restore(cls, snap: dict[str, Any]) -> "PartitionTracker":
        lo, hi = snap.get("ts_range", (_LIMITS.min_event_ts, _LIMITS.max_event_ts))
        t = cls(snap["window"], snap["max"], snap.get("skew", _LIMITS.event_skew_s),
                snap.get("retain", 86_400.0), snap.get("rebase", _LIMITS.skew_rebase_events),
                lo, hi)
        t.entities = {k: (list(v) + [None, None])[:4] for k, v in snap["entities"].items()}
        z = snap.get("zones")
        if z is not None:
            t.allow = frozenset(z["allow"])
            t.max_zones, t.max_unconfirmed_zones = z["max"], z["max_unconfirmed"]
            t.zones_known, t.zones_unconfirmed = set(z["known"]), set(z["unconfirmed"])
        else:  # a snapshot from before zone admission: its zones are known
            t.zones_known = {e[0] for e in t.entities.values() if e[0] is not None}
        t.retention_s, t.order_grace_s = snap.get("retention", (t.retention_s, t.order_grace_s))
        t.next_gc_ts = snap.get("next_gc_ts", -1e18)
        t.recent = dict(snap["recent"])
        t.clock = snap["clock"]
        if snap.get("v", 0) >= 4:
            t.ahead = [list(a) for a in snap.get("ahead", ())]
            t.held = [_msg_restore(m) for m in snap.get("held", ())]
        # (before v4 too-far-ahead events were dead-lettered, not held: nothing to keep)
        t.rebases = snap.get("rebases", 0)
        t.marks = Watermark.restore(snap.get("times", [t.clock] if t.clock > -1e17 else []))
        t.ping_lead_s = snap.get("ping_lead", _LIMITS.ping_lead_s)
        (t.clock_stall_events, t.still_events, t.stall_alerted,
         t.stalls) = snap.get("stall", (_LIMITS.clock_stall_events, 0, False, 0))
        return t
