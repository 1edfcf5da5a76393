"""The ``[limits]`` settings: input hygiene applied before any decision
(:class:`LimitsSettings`).

Split out of :mod:`fleetstream.contract.settings`, which re-exports every name here
and loads the sections.  The limits and the dead letters they give are documented in
docs/limits.md (keys and defaults in docs/configuration.md).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass
class LimitsSettings:
    """Input hygiene, applied before any decision (docs/limits.md).  A message or event
    over a limit is dead-lettered (``fs.dlq``) with a reason naming the limit."""

    max_message_bytes: int = 262_144
    """Largest accepted message (topic + key + value bytes), checked before parsing.  A
    larger one is dead-lettered; its ``raw`` keeps only the first this many bytes."""
    event_skew_s: float = 21_600.0
    """An event whose ``ts`` is more than this ahead of its input lane's watermark (the
    largest event time accepted so far on the lane) is dead-lettered and moves no clock.
    The first event of a lane sets the watermark."""
    skew_rebase_events: int = 3
    """A too-far-ahead event is held, not yet dead-lettered.  After a quiet period
    longer than ``event_skew_s`` the stream itself has moved on: consecutive
    too-far-ahead events from this many distinct entities, within ``event_skew_s`` of
    each other, move the watermark, and all the held ones are accepted in input order
    (nothing is lost).  An on-time event next, or the end of the input, makes the held
    ones dead letters.  0: never hold, dead-letter at once (strict)."""
    ping_lead_s: float = 600.0
    """A vehicle's last ping more than this ahead of the lane watermark (but within the
    skew) is taken for a clock glitch: the vehicle's later pings are not dropped as
    stale because of it."""
    min_event_ts: float = 0.0
    """Earliest accepted event time ``ts`` (epoch seconds UTC)."""
    max_event_ts: float = 4_102_444_800.0
    """Event times at or after this (default 2100-01-01T00:00:00Z) are rejected."""
    zones: Any = ""
    """Allow-list of zone ids (a list, or one string of comma-separated ids).  Set: only
    these zones exist; an event naming another zone is dead-lettered.  Empty (default):
    a zone exists once a ``shift_start`` names it (fleet configuration); before that, at
    most ``max_unconfirmed_zones`` zones named only by other events are admitted."""
    max_zones: int = 256
    """Most zones one input lane creates (a zone engine each); an event naming a further
    zone is dead-lettered."""
    max_unconfirmed_zones: int = 16
    """With no ``zones`` allow-list: most zones admitted before any ``shift_start`` names
    them (orders and customer profiles usually arrive before the first shift).  A zone
    name seen only in such events keeps its place until a ``shift_start`` confirms it."""
    condition_factor_min: float = 0.2
    """Smallest travel-time factor of one condition and of several combined; smaller ones
    are clamped up to it (the clamp is counted and alerted)."""
    condition_factor_max: float = 10.0
    """Largest travel-time factor of one condition and of several overlapping conditions
    combined (their product); larger ones are clamped down to it."""
    max_conditions: int = 512
    """Most live condition reports a zone keeps; past it the report ending first is
    dropped (counted)."""
    order_grace_s: float = 21_600.0
    """An order with no delivered/failed/cancelled event expires this long (event time)
    after its window end: an ``fs.outcomes`` record says so and it leaves the state."""
    retention_s: float = 172_800.0
    """Vehicles whose shift ended (or that were unavailable) and customers with no open
    order are forgotten this long (event time) after they were last seen, with the
    vehicle's learned residual in the ETA model."""
    clock_stall_events: int = 5_000
    """A zone whose clock has not advanced over this many consecutive events raises a
    ``clock stalled`` alert (once per stall).  An input lane whose watermark has not
    advanced over this many consecutive accepted events dated behind it does too (in the
    zone of the event that completes the count).  0: never."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.type == "float" and not isinstance(v, float):
                setattr(self, f.name, float(v))
        if self.max_message_bytes < 1024:
            raise ValueError("limits.max_message_bytes must be >= 1024")
        if not self.event_skew_s > 0:
            raise ValueError("limits.event_skew_s must be > 0")
        if not self.ping_lead_s > 0:
            raise ValueError("limits.ping_lead_s must be > 0")
        if self.skew_rebase_events < 0:
            raise ValueError("limits.skew_rebase_events must be >= 0 (0: never)")
        if not 0 <= self.min_event_ts < self.max_event_ts:
            raise ValueError("limits: need 0 <= min_event_ts < max_event_ts")
        zones = self.zones
        if isinstance(zones, str):
            zones = [z.strip() for z in zones.split(",") if z.strip()]
        if not isinstance(zones, (list, tuple)) or not all(isinstance(z, str) and z
                                                           for z in zones):
            raise ValueError("limits.zones must be a list of zone ids (or one "
                             "comma-separated string)")
        self.zones = tuple(zones)
        for name in ("max_zones", "max_conditions"):
            if getattr(self, name) < 1:
                raise ValueError(f"limits.{name} must be >= 1")
        if self.max_unconfirmed_zones < 0 or self.clock_stall_events < 0:
            raise ValueError("limits.max_unconfirmed_zones and limits.clock_stall_events "
                             "must be >= 0")
        if not 0 < self.condition_factor_min <= 1 <= self.condition_factor_max:
            raise ValueError("limits: need 0 < condition_factor_min <= 1 <= "
                             "condition_factor_max")
        if not self.order_grace_s >= 0 or not self.retention_s > 0:
            raise ValueError("limits: need order_grace_s >= 0 and retention_s > 0")

