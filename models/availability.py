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
  weighted by recency, and whether the customer, contacted ahead, has arranged for
  the delivery (:func:`note_reply`, :func:`arranged`: ``customer_reply`` events);
- :func:`stated_window` narrows a delivery window to the longest stretch of it
  inside the customer's stated hours (``engine.plan_stated_hours_s``), so plans visit
  customers when they say someone is there.

Plain functions of event data: no simulator import, no wall clock.
"""

from __future__ import annotations

from datetime import datetime

from fleetstream.operators.localtime import zone_info

KEEP = 6                  # recent outcomes kept per customer and kind
BAND_H = 1.5              # "near the hour": within this many hours (circular)
HALF_LIFE_S = 14 * 86400  # recency: an outcome two weeks old counts half


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
    d = datetime.fromtimestamp(ts, zone_info(tz))
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


def stated_window(window: tuple[float, float], items, tz: str = "UTC",
                  min_s: float = 3600.0) -> tuple[float, float] | None:
    """The longest stretch of ``window`` (epoch seconds) inside the stated hours
    ``items`` (``customer_profile.available_hours``, local time of ``tz``), when it is
    at least ``min_s`` long and shorter than the window; None: keep the window (no
    hours, the whole window inside them, or too little inside them to plan on).

    >>> day = 1772409600.0                     # 2026-03-02 00:00 UTC
    >>> w = (day + 8.5 * 3600, day + 16.5 * 3600)
    >>> [round((t - day) / 3600, 2) for t in stated_window(w, ["06:00-09:00", "15:00-22:00"])]
    [15.0, 16.5]
    >>> stated_window(w, ["06:00-09:00", "16:00-22:00"]) is None   # 30 min at most
    True
    >>> [round((t - day) / 3600, 2) for t in stated_window(w, ["08:00-12:00"], "Europe/Andorra")]
    [8.5, 11.0]
    """
    hours = parse_hours(items)
    if not hours:
        return None
    w0, w1 = window
    best = None
    zone = None if tz == "UTC" else zone_info(tz)
    d0 = int(w0 // 86400) - 1
    for d in range(d0, int(w1 // 86400) + 2):
        if zone is None:
            base = d * 86400.0
        else:
            day = datetime.fromtimestamp(d * 86400.0, zone_info("UTC")).date()
            base = datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()
        for s, e in hours:
            lo, hi = max(w0, base + s * 3600.0), min(w1, base + e * 3600.0)
            if hi - lo > 0 and (best is None or hi - lo > best[1] - best[0]):
                best = (lo, hi)
    if best is None or best[1] - best[0] < min_s or best[1] - best[0] >= w1 - w0:
        return None
    return best


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


def note_reply(m: dict, answer: str, ts: float, available_from: float | None,
               available_until: float | None) -> None:
    """Remember a ``customer_reply`` in the order's memo ``m`` (a later reply replaces
    an earlier one, hours included)."""
    m["reply"] = answer
    m["reply_ts"] = ts
    for k, v in (("reply_from", available_from), ("reply_until", available_until)):
        if v is None:
            m.pop(k, None)
        else:
            m[k] = v


def arranged(m: dict | None, arrive: float) -> bool:
    """Has the customer, contacted ahead, arranged for a delivery at ``arrive``?  Yes
    when the reply gave hours and ``arrive`` is inside them, or when it was
    ``confirmed`` without hours (someone in, a neighbour, a safe place).  ``m``: the
    order's memo (:func:`note_reply`), None when there is none.

    >>> arranged({"reply": "confirmed", "reply_ts": 0.0}, 100.0)
    True
    >>> m = {"reply": "unavailable", "reply_ts": 0.0, "reply_from": 3600.0, "reply_until": 7200.0}
    >>> [arranged(m, t) for t in (3000.0, 3600.0, 7200.0, 7300.0)]
    [False, True, True, False]
    >>> arranged({"reply": "unavailable", "reply_ts": 0.0}, 100.0), arranged(None, 1.0)
    (False, False)
    """
    if not m or "reply" not in m:
        return False
    lo, hi = m.get("reply_from"), m.get("reply_until")
    if lo is None and hi is None:
        return m["reply"] == "confirmed"
    return (lo is None or arrive >= lo) and (hi is None or arrive <= hi)


def risk_context(c: dict, arrive: float, tz: str, memo: dict | None = None) -> dict:
    """Failure-risk fields of a planned arrival at ``arrive`` for customer record ``c``
    (``memo``: the order's, for the customer's reply to a contact ahead)."""
    hour, dow = local_hour_dow(arrive, tz)
    x = {"arr_hour": round(hour, 3), "dow": dow, "building": c.get("building_type") or "?",
         "nh_near": _near(c.get("nh_recent"), arrive, hour),
         "ok_near": _near(c.get("ok_recent"), arrive, hour)}
    if arranged(memo, arrive):
        x["arranged"] = 1
    hours = parse_hours(c.get("available_hours"))
    if hours:
        inside = any(s <= hour < e for s, e in hours)
        x["stated_in"] = 1 if inside else 0
        x["stated_out_h"] = 0.0 if inside else round(min(
            min(_hdist(hour, s), _hdist(hour, e)) for s, e in hours), 3)
    return x
