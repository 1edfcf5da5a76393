"""A zone's local wall-clock time (``engine.timezone``) for every hour of the day and
day of the week a decision reads: the ETA seat's hour and weekday features, the hourly
mean travel ratio, the interval and risk seats' hour, the time-at-stop bands and the
haversine provider's hourly speed profile.

Rush hours, shifts and customers' routines follow the local clock, which moves against
UTC twice a year where daylight saving applies; an hour feature counted in UTC puts a
summer's 8 o'clock traffic in the winter's 7 o'clock bin.  ``LocalClock.local(ts)``
shifts an event time (epoch s, UTC) by the zone's UTC offset at that instant, so
``(local % 86400) / 3600`` is the local hour and ``int(local // 86400 + 3) % 7`` the
local weekday (Monday 0), the formulas the engine used on UTC before.

For ``UTC`` (the default) it is the identity: an engine in UTC decides exactly as
before.  Pure and deterministic: the offset comes from the IANA time-zone database
(``zoneinfo``) for the event time alone, never from the machine's clock or zone.
"""

from __future__ import annotations

import math
import zoneinfo
from datetime import datetime
from functools import lru_cache

SLOT_S = 900            # offsets are looked up once per quarter hour of event time
MAX_CACHED = 8192       # slots kept (about 85 days); the cache restarts past that
UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/GMT", "GMT", "Z"})


@lru_cache(maxsize=64)
def zone_info(name: str) -> zoneinfo.ZoneInfo:
    """The ``zoneinfo`` zone of an IANA name (one per name and process); the one lookup
    the engine's local times, its customer messages and the availability features use."""
    return zoneinfo.ZoneInfo(name)


def utc_offset_s(ts: float, tz: str) -> float:
    """The UTC offset (s) of ``tz`` at epoch ``ts``.

    >>> utc_offset_s(1767258000.0, "Europe/Berlin")     # 2026-01-01 09:00 UTC: winter
    3600.0
    >>> utc_offset_s(1782896400.0, "Europe/Berlin")     # 2026-07-01 09:00 UTC: summer
    7200.0
    >>> utc_offset_s(1782896400.0, "America/New_York")
    -14400.0
    """
    off = datetime.fromtimestamp(ts, zone_info(tz)).utcoffset()
    return off.total_seconds() if off is not None else 0.0


class LocalClock:
    """Local wall-clock epoch seconds of one time zone.

    >>> c = LocalClock("Europe/Andorra")
    >>> (c.local(1782896400.0) % 86400) / 3600              # 09:00 UTC in July
    11.0
    >>> LocalClock("UTC").local(1782896400.0) == 1782896400.0
    True
    >>> c.hour(1767258000.0), c.weekday(1767258000.0)       # 2026-01-01, a Thursday
    (10.0, 3)
    """

    __slots__ = ("tz", "utc", "_off")

    def __init__(self, tz: str = "UTC"):
        self.tz = tz or "UTC"
        self.utc = self.tz in UTC_NAMES
        if not self.utc:
            zone_info(self.tz)   # an unknown name fails here, once, not at the first event
        self._off: dict[int, float] = {}

    def local(self, ts: float) -> float:
        """``ts`` shifted by the zone's UTC offset at ``ts`` (identity in UTC; a
        non-finite ``ts`` is returned as is)."""
        if self.utc or not math.isfinite(ts):
            return ts
        slot = int(ts // SLOT_S)
        off = self._off.get(slot)
        if off is None:
            start = slot * SLOT_S
            off = utc_offset_s(start, self.tz)
            if utc_offset_s(start + SLOT_S - 1, self.tz) != off:
                # a transition inside the quarter hour (none in today's database):
                # exact for this instant, not cached
                return ts + utc_offset_s(ts, self.tz)
            if len(self._off) >= MAX_CACHED:
                self._off.clear()
            self._off[slot] = off
        return ts + off

    def hour(self, ts: float) -> float:
        """Local hour of the day (float, 0 <= h < 24)."""
        return (self.local(ts) % 86400) / 3600.0

    def weekday(self, ts: float) -> int:
        """Local day of the week, Monday 0."""
        return int(self.local(ts) // 86400 + 3) % 7

    def __getstate__(self):
        return self.tz

    def __setstate__(self, tz):
        self.__init__(tz)

    def __repr__(self) -> str:
        return f"LocalClock({self.tz!r})"
