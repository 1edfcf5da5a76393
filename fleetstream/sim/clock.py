"""The simulated world's local clock (``Scenario.timezone``).

People and roads keep local time: a customer's schedule ("out 08:00-17:30 on
weekdays"), the hours a customer states, a business's opening hours and the roads' rush
hours are local clock times, which move against UTC twice a year where daylight saving
applies.  ``Scenario.timezone`` None (every scenario's default) keeps the world of every
earlier figure: customers' schedules on UTC hours, the road map's rush hours on its own
fixed offset (``roadtruth.LOCAL_UTC_OFFSET_H``).

The world's side only (the engine reads its own ``engine.timezone``, which an operator
sets; a simulated day whose world and engine disagree is a misconfigured engine, and
``fleetstream simulate`` / ``evaluate`` say so).  The offset comes from the IANA
time-zone database for the instant, never from the machine's clock or zone.
"""

from __future__ import annotations

import zoneinfo

# The time-zone database lookups the engine uses too (a zone's offset is not a formula
# of the engine's models: both sides read the same IANA database).
from fleetstream.operators.localtime import UTC_NAMES, utc_offset_s, zone_info


def check(name: str) -> str:
    """``name`` if it is an IANA time zone this machine knows, else ValueError (one line)."""
    try:
        zone_info(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as "
                         "Europe/Andorra or America/New_York)") from None
    return name


def local_s(tz: str | None, ts: float) -> float:
    """Epoch ``ts`` (UTC) as local wall-clock epoch seconds of ``tz`` (None: unchanged),
    so ``local_s(tz, ts) % 86400`` is the local time of day.

    >>> local_s("Europe/Andorra", 1772442000.0) - 1772442000.0      # 2026-03-02 09:00 UTC
    3600.0
    >>> local_s("Europe/Andorra", 1775120400.0) - 1775120400.0      # 2026-04-02: summer
    7200.0
    """
    return ts if tz is None else ts + utc_offset_s(ts, tz)


def mismatch(world_tz: str | None, engine_tz: str | None) -> str | None:
    """One line when the simulated world's clock (None: customers on UTC hours) and the
    engine's ``engine.timezone`` differ: the engine then reads every stated hour and
    hour of the day shifted (a misconfigured engine; useful only to measure what the
    setting is worth).  None when they agree.

    >>> mismatch(None, "UTC") is None, mismatch("Europe/Andorra", "Europe/Andorra") is None
    (True, True)
    >>> mismatch("Europe/Andorra", "UTC")
    'the simulated world keeps Europe/Andorra time, the engine reads hours in UTC (engine.timezone)'
    """
    w = "UTC" if world_tz is None or world_tz in UTC_NAMES else world_tz
    e = "UTC" if engine_tz is None or engine_tz in UTC_NAMES else engine_tz
    if w == e:
        return None
    return (f"the simulated world keeps {w} time, the engine reads hours in {e} "
            "(engine.timezone)")
