"""What the engine knows about a customer's availability, from events only.

Two pieces the zone engine calls (operators/zone/world.py, operators/zone/orders.py):

- :func:`note_outcome` keeps, in the customer's record, the local hours of its
  recent outcomes (at most ``KEEP`` each of not-home failures and deliveries, with
  their event time), learnt from ``order_delivered`` / ``order_failed``;
- :func:`risk_context` captures, when a risk is predicted, what the failure-risk
  model reads about the planned arrival: local hour and day of week (the engine's
  ``timezone`` setting), the building type and stated hours of the
  ``customer_profile``, whether the arrival falls inside the stated hours and how
  far outside, and the customer's not-home failures and deliveries near that hour,
  weighted by recency.

Plain functions of event data: no simulator import, no wall clock.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from functools import lru_cache

KEEP = 6                  # recent outcomes kept per customer and kind
BAND_H = 1.5              # "near the hour": within this many hours (circular)
HALF_LIFE_S = 14 * 86400  # recency: an outcome two weeks old counts half


@lru_cache(maxsize=32)
def _tz(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def local_hour_dow(ts: float, tz: str = "UTC") -> tuple[float, int]:
    """Local hour of day (float) and day of week (Monday 0) of epoch ``ts``.

    >>> local_hour_dow(1772409600.0 + 9.5 * 3600)          # 2026-03-02 09:30 UTC, a Monday
    (9.5, 0)
    >>> local_hour_dow(1772409600.0 + 9.5 * 3600, "Europe/Andorra")
    (10.5, 0)
    """
    if tz == "UTC":
        day = int(ts // 86400)
        return (ts - day * 86400) / 3600.0, (day + 3) % 7
    d = datetime.fromtimestamp(ts, _tz(tz))
    return d.hour + d.minute / 60.0 + d.second / 3600.0, d.weekday()


def parse_hours(items) -> list[tuple[float, float]]:
    """``["HH:MM-HH:MM", ...]`` as (start_h, end_h); an end before the start runs past
    midnight (split in two).

    >>> parse_hours(["08:00-12:30", "22:00-02:00"])
    [(8.0, 12.5), (22.0, 24.0), (0.0, 2.0)]
    """
    out = []
    for x in items or ():
        s = int(x[0:2]) + int(x[3:5]) / 60.0
        e = int(x[6:8]) + int(x[9:11]) / 60.0
        if e > s:
            out.append((s, e))
        else:
            out += [(s, 24.0), (0.0, e)]
    return out


def _hdist(a: float, b: float) -> float:
    d = abs(a - b) % 24.0
    return min(d, 24.0 - d)


def note_outcome(c: dict, ts: float, tz: str, failed: bool, reason: str | None) -> None:
    """Remember the local hour of a delivery or a not-home failure of customer ``c``."""
    if failed and reason != "not_home":
        return
    key = "nh_recent" if failed else "ok_recent"
    h, _ = local_hour_dow(ts, tz)
    lst = c.setdefault(key, [])
    lst.append([round(ts, 3), round(h, 3)])
    if len(lst) > KEEP:
        del lst[0]


def _near(lst, arrive: float, hour: float) -> float:
    w = 0.0
    for ts, h in lst or ():
        if _hdist(h, hour) <= BAND_H:
            w += 0.5 ** (max(0.0, arrive - ts) / HALF_LIFE_S)
    return round(w, 4)


def risk_context(c: dict, arrive: float, tz: str) -> dict:
    """Failure-risk fields of a planned arrival at ``arrive`` for customer record ``c``."""
    hour, dow = local_hour_dow(arrive, tz)
    x = {"arr_hour": round(hour, 3), "dow": dow, "building": c.get("building_type") or "?",
         "nh_near": _near(c.get("nh_recent"), arrive, hour),
         "ok_near": _near(c.get("ok_recent"), arrive, hour)}
    hours = parse_hours(c.get("available_hours"))
    if hours:
        inside = any(s <= hour < e for s, e in hours)
        x["stated_in"] = 1 if inside else 0
        x["stated_out_h"] = 0.0 if inside else round(min(
            min(_hdist(hour, s), _hdist(hour, e)) for s, e in hours), 3)
    return x
