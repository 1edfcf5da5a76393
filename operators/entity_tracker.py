"""Stage-1 verdicts and per-entity tracking: duplicates, stale pings and the zone of an entity.

This module holds the verdicts stage 1 gives an event (``ROUTE``, ``DROP``,
``REJECT``, ``HOLD``, ``RELEASE``), which event types name their own zone
(``SELF_ZONED``) or finish their entity (``FINISHING``), :func:`entity_key` (the
stage-1 key of an event) and :class:`EntityTracker`, the state of one entity
(its zone, last ping time and a bounded window of recent event ids).  The
partition-level tracker that the engine runs is in operators/tracker.py, which
re-exports every name of this module.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from fleetstream.contract.events import OVERRIDE_TYPES, Event, Ping


ROUTE = "route"
DROP = "drop"
REJECT = "reject"
HOLD = "hold"
"""Too far ahead of the lane watermark: held until the stream confirms or refutes it."""
RELEASE = "release"
"""This event confirmed the held run (the lane moved on): process the released
messages, then this event, again."""


SELF_ZONED = ("condition", "approval", "customer_profile", *OVERRIDE_TYPES)
FINISHING = ("order_delivered", "order_failed", "order_cancelled", "shift_end")


def entity_key(ev: Event) -> str:
    """The stage-1 key: one entity's events meet in one tracker instance."""
    if ev.TYPE == "approval":
        return "d:" + ev.decision_id  # type: ignore[attr-defined]
    if ev.TYPE == "condition":
        return "z:" + ev.zone  # type: ignore[attr-defined]
    if ev.TYPE == "customer_profile":
        return "c:" + ev.customer_id  # type: ignore[attr-defined]
    if ev.KEY == "zone":  # dispatcher overrides (order_pin, route_lock, ...)
        return "z:" + ev.zone  # type: ignore[attr-defined]
    if ev.KEY == "order_id":
        return "o:" + ev.order_id  # type: ignore[attr-defined]
    return "v:" + ev.vehicle_id  # type: ignore[attr-defined]


class EntityTracker:
    """State of one entity: its zone, last ping time, recent event ids."""

    __slots__ = ("zone", "last_ping_ts", "_ids", "_id_set", "window")

    def __init__(self, window: int = 256):
        self.zone: str | None = None
        self.last_ping_ts: float | None = None
        self._ids: deque[str] = deque()
        self._id_set: set[str] = set()
        self.window = window

    def process(self, ev: Event) -> tuple[str, str]:
        """Returns ``('route', zone)``, ``('drop', why)`` (duplicate, stale: counted,
        not an error) or ``('reject', why)`` (dead letter: the event cannot be placed)."""
        eid = ev.event_id
        if eid in self._id_set:
            return (DROP, f"duplicate event_id {eid}")
        if isinstance(ev, Ping):
            if self.last_ping_ts is not None and ev.ts <= self.last_ping_ts:
                self._remember(eid)
                return (DROP, f"stale ping: {ev.ts:.1f} not after {self.last_ping_ts:.1f}")
        zone = getattr(ev, "zone", None)
        if ev.TYPE in ("shift_start", "order_created") or ev.TYPE in SELF_ZONED:
            self.zone = zone
        elif self.zone is None:
            what = "vehicle" if ev.KEY == "vehicle_id" else "order"
            return (REJECT, f"unknown {what}: no {'shift_start' if what == 'vehicle' else 'order_created'}"
                            f" seen before this {ev.TYPE}")
        self._remember(eid)
        if isinstance(ev, Ping):
            self.last_ping_ts = ev.ts
        return (ROUTE, self.zone)  # type: ignore[return-value]

    def _remember(self, eid: str) -> None:
        self._ids.append(eid)
        self._id_set.add(eid)
        if len(self._ids) > self.window:
            self._id_set.discard(self._ids.popleft())

    def snapshot(self) -> dict[str, Any]:
        return {"v": 1, "zone": self.zone, "last_ping_ts": self.last_ping_ts,
                "ids": list(self._ids), "window": self.window}

    @classmethod
    def restore(cls, snap: dict[str, Any]) -> "EntityTracker":  # noqa: D102
        t = cls(snap["window"])
        t.zone = snap["zone"]
        t.last_ping_ts = snap["last_ping_ts"]
        t._ids = deque(snap["ids"])
        t._id_set = set(t._ids)
        return t
