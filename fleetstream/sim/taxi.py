"""Synthetic taxi trips: a city's rides from the simulator's own model, to exercise
``fleetstream models trips`` and ``benchmarks/eta_trips.py`` where no real trip file is
at hand.  Not real data, and no figure measured on it stands for one; it shares nothing
with the engine's providers (no circuity, no hourly speed table of theirs): a ride
drives a street route longer than the straight line (more so for short rides: blocks,
one-way streets), partly on local streets and, the longer the ride, more on arterials
and expressways, each with its own speed by hour and day (rush hours, quiet nights,
weekends), stops at lights along the local part, a pick-up and drop-off overhead, the
driver's hidden pace, a lognormal noise and a few rides much longer than their route
(a detour, a wait).  So, as on real taxi data, the true / straight-line-provider ratio
falls steeply with the ride's length: about 2 for the shortest tenth and well under 1
for the longest.

Each city is one ``random.Random(seed)`` stream: the same seed gives the same file.
"""

from __future__ import annotations

import csv
import io
import math
import random

# Local streets and expressways: speed (km/h) by local hour on a weekday.
LOCAL_KMH = (24, 25, 26, 26, 25, 23, 19, 15, 13, 15, 16, 16,
             15, 15, 15, 14, 13, 12, 13, 15, 17, 19, 21, 23)
EXPRESS_KMH = (85, 88, 90, 90, 88, 80, 60, 42, 38, 50, 58, 60,
               58, 58, 56, 50, 42, 36, 40, 55, 65, 72, 78, 82)
WEEKEND = 1.15          # streets a little faster on Saturdays and Sundays
DAY_S = 86400.0
HOURLY_SHARE = (2, 1.5, 1, 0.7, 0.6, 0.8, 1.8, 3.5, 5, 5, 4.5, 4.5,
                5, 5, 4.8, 5, 5.5, 6, 6, 5.5, 5, 4.5, 4, 3)


def _row(rng: random.Random, t0: float, center: tuple, pace: list, n_taxis: int,
         utc_offset_h: float, city: dict) -> dict:
    lat0, lon0 = center
    km_lat = 1.0 / 111.2
    km_lon = 1.0 / (111.2 * math.cos(math.radians(lat0)))
    # where rides start: the centre, a few hot spots, an airport now and then
    if rng.random() < 0.04:
        ox, oy = 14.0 + rng.gauss(0, 0.3), -6.0 + rng.gauss(0, 0.3)
    else:
        ox, oy = rng.gauss(0, 2.5), rng.gauss(0, 3.5)
    crow = min(30.0, rng.lognormvariate(math.log(city["median_km"]), 0.85))
    ang = rng.uniform(0, 2 * math.pi)
    dx, dy = crow * math.cos(ang), crow * math.sin(ang)
    a = (lat0 + oy * km_lat, lon0 + ox * km_lon)
    b = (lat0 + (oy + dy) * km_lat, lon0 + (ox + dx) * km_lon)
    # the street route and how it is driven
    detour = 1.22 + 0.55 * math.exp(-crow / 0.9) + abs(rng.gauss(0, 0.08))
    route = crow * detour
    express = route * (1.0 - math.exp(-crow / city["express_km"])) * rng.uniform(0.7, 1.0)
    local = route - express
    loc_h = ((t0 / 3600.0) + utc_offset_h) % 24
    h = int(loc_h)
    frac = loc_h - h
    wk = (1.0 if int((t0 / DAY_S + utc_offset_h / 24 + 3) % 7) < 5 else WEEKEND) * city["speed"]
    lk = (LOCAL_KMH[h] * (1 - frac) + LOCAL_KMH[(h + 1) % 24] * frac) * wk
    ek = (EXPRESS_KMH[h] * (1 - frac) + EXPRESS_KMH[(h + 1) % 24] * frac) * wk
    lights = sum(1 for _ in range(int(local * city["lights_km"])) if rng.random() < 0.35) \
        * rng.uniform(15, 45)
    overhead = rng.uniform(20, city["overhead_s"])
    taxi = rng.randrange(n_taxis)
    drive = (local / lk + express / ek) * 3600.0 * pace[taxi]
    secs = overhead + lights + drive * rng.lognormvariate(0.0, 0.18)
    if rng.random() < 0.03:
        secs *= rng.uniform(1.4, 2.5)
    return {"start_ts": round(t0, 1), "start_lat": round(a[0], 6), "start_lon": round(a[1], 6),
            "end_lat": round(b[0], 6), "end_lon": round(b[1], 6),
            "duration_s": round(secs, 1), "vehicle_id": f"taxi-{taxi:04d}"}


def trips(seed: int, days: int = 3, per_day: int = 4000, first_day_ts: float = 1_795_392_000.0,
          center: tuple = (40.75, -73.98), n_taxis: int = 400,
          utc_offset_h: float = 0.0) -> list[dict]:
    """The rides of ``days`` days from ``first_day_ts`` (a midnight UTC), in start order:
    dicts with the columns ``fleetstream models trips`` reads."""
    rng = random.Random(seed)
    # the city's own character: how fast its streets are, how far its rides go, how
    # soon a ride reaches the expressways, its lights and its kerbs
    city = {"speed": rng.uniform(0.9, 1.3), "median_km": rng.uniform(1.8, 3.2),
            "express_km": rng.uniform(2.5, 5.0), "lights_km": rng.uniform(3.0, 6.0),
            "overhead_s": rng.uniform(60.0, 150.0)}
    pace = [math.exp(rng.gauss(0.0, 0.08)) for _ in range(n_taxis)]
    tot = sum(HOURLY_SHARE)
    out = []
    for d in range(days):
        for h, share in enumerate(HOURLY_SHARE):
            n = int(round(per_day * share / tot))
            for _ in range(n):
                t0 = first_day_ts + d * DAY_S + (h - utc_offset_h) * 3600.0 + rng.uniform(0, 3600)
                out.append(_row(rng, t0, center, pace, n_taxis, utc_offset_h, city))
    out.sort(key=lambda r: r["start_ts"])
    return out


def to_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["start_ts"], lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()
