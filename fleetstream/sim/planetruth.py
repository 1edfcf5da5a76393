"""The plane world's true travel times: the simulator's own model of a city it does
not draw.

The plane scenarios (``tiny``, ``small``, ``metro``, ``disrupted``, ``zones8``) have no
map: places are coordinates around a city centre.  How long a leg between two of them
takes is decided here, from the world's own hidden street model; nothing is shared with
the engine's travel-time providers (``operators/traveltime*.py``: the straight line
times one circuity at an hourly speed profile), which the engine must correct from the
legs it sees.  Until 2026-12-01 the plane's truth *was* the engine's haversine provider
times hidden factors, so a model of those factors fitted it by construction.

* **Hidden streets.** The road distance is the straight line times a detour that is
  larger for short trips (blocks, one-way streets: ``1.2 + 0.6 exp(-d / 1.2 km)``) and
  differs per pair of places (a fixed draw per pair, up to +30 %, the same every day).
  Bikes cut through (a tenth less detour).
* **Speed grows with the trip.** Short trips stay on local streets, long ones reach the
  arterials: ``20 + 30 (1 - exp(-road / 4 km))`` km/h for a car on a free road.
* **Junctions and signals**: 9 s per road km, times the zone's hidden density.
* **Time of day**: the world's congestion by local hour (``world.TRUE_CONGESTION``) on
  the driving time, deeper on the arterials (long trips) than on local streets, and
  the zone's density; bikes ignore it.
* **Vehicles**: vans 0.95, trucks 0.85 of a car's speed (trucks lose another minute
  per trip in town manoeuvring); bikes ride at 16 km/h, cargo bikes at 13, whatever
  the road.  **Drivers** keep their hidden pace.
* **Incidents** (an area, for an hour or so) and **weather** (a zone) slow the driving
  (bikes a third as much).
* **Stops**: pulling out (5-30 s) and the hunt for a place to stop at the end, by the
  customer's building (apartments and offices longest) and busier at midday; 60 s at
  a store.
* A lognormal noise (sigma 0.08) per leg on the driving time.

So, as in real trip data, the ratio true / straight-line estimate falls with the trip's
length: about 2 for trips under a kilometre (overheads, detours, local streets) and
below 1 for long ones (arterials), and it moves with the hour differently for short and
long trips.
"""

from __future__ import annotations

import math
import random
import zlib
from dataclasses import dataclass

from fleetstream.sim.clock import local_s
from fleetstream.sim.world import TRUE_CONGESTION

EARTH_R_M = 6_371_008.8
DETOUR_BASE, DETOUR_SHORT, DETOUR_SHORT_M = 1.2, 0.6, 1200.0
DETOUR_PAIR_MAX = 0.3          # a pair's own extra detour: uniform 0..this (fixed per pair)
LOCAL_KMH, ARTERIAL_KMH, ARTERIAL_M = 20.0, 50.0, 4000.0
JUNCTION_S_PER_KM = 9.0
VEHICLE_SPEED = {"car": 1.0, "van": 0.95, "truck": 0.85}
TRUCK_TOWN_S = 60.0
BIKE_KMH = {"bike": 16.0, "cargo_bike": 13.0}
BIKE_DETOUR = 0.9
# the hunt for a place to stop at a delivery (s, median) by the customer's building
PARKING_S = {"house": 25.0, "shop": 40.0, "office": 75.0, "apartment": 90.0}
PARKING_DEFAULT_S = 50.0
STORE_PARKING_S = 60.0
NOISE_SIGMA = 0.08


def crow_m(a: tuple, b: tuple) -> float:
    """Great-circle distance (m): the world's own, not the engine's."""
    la1, lo1, la2, lo2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * EARTH_R_M * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True)
class PlaneLeg:
    """One leg's truth: the road distance and the parts of its duration (s)."""

    road_m: float
    startup_s: float
    drive_s: float
    parking_s: float

    @property
    def total_s(self) -> float:
        return self.startup_s + self.drive_s + self.parking_s


class PlaneTruth:
    """True leg times on the plane (see the module text).  ``seed`` fixes each pair of
    places' own detour; ``tz`` is the world's local clock (None: UTC)."""

    def __init__(self, seed: int, tz: str | None = None):
        self.seed = int(seed)
        self.tz = tz

    def _pair_detour(self, a: tuple, b: tuple) -> float:
        p, q = sorted(((round(a[0], 5), round(a[1], 5)), (round(b[0], 5), round(b[1], 5))))
        u = zlib.crc32(repr((self.seed, p, q)).encode()) / 0xFFFFFFFF
        return DETOUR_PAIR_MAX * u

    def road_m(self, a: tuple, b: tuple, bike: bool = False) -> float:
        """The leg's road distance (m): the straight line times the hidden detour."""
        d = crow_m(a, b)
        if d <= 1.0:
            return 0.0
        detour = DETOUR_BASE + DETOUR_SHORT * math.exp(-d / DETOUR_SHORT_M) + self._pair_detour(a, b)
        if bike:
            detour = 1.0 + (detour - 1.0) * BIKE_DETOUR
        return d * detour

    def leg(self, rng: random.Random, a: tuple, b: tuple, t: float, vehicle_type: str,
            pace: float, density: float, slow: float, weather: float, building: str | None,
            stop: str) -> PlaneLeg:
        """The truth of one leg from ``a`` to ``b`` departing at ``t``.  ``slow`` is the
        incidents' factor on this leg (1: none), ``weather`` the zone's (1: none);
        ``building`` the delivery customer's building (None: unknown), ``stop`` the
        stop's kind (``delivery``, ``pickup``, ``end``)."""
        bike = vehicle_type in BIKE_KMH
        road = self.road_m(a, b, bike)
        noise = math.exp(rng.gauss(0.0, NOISE_SIGMA))
        startup = rng.uniform(5, 15) if bike else rng.uniform(5, 30)
        park_draw = math.exp(rng.gauss(0.0, 0.35))
        if road <= 0.0:
            return PlaneLeg(0.0, 0.0, 0.0, 0.0)
        hour = int(local_s(self.tz, t) // 3600) % 24
        if bike:
            kmh = BIKE_KMH[vehicle_type]
            drive = road / (kmh / 3.6) + JUNCTION_S_PER_KM * 0.5 * road / 1000.0
            slow = 1.0 + (slow - 1.0) * 0.3
            weather = 1.0 + (weather - 1.0) * 0.3
        else:
            art = 1.0 - math.exp(-road / ARTERIAL_M)
            kmh = (LOCAL_KMH + (ARTERIAL_KMH - LOCAL_KMH) * art) * VEHICLE_SPEED.get(vehicle_type, 1.0)
            cong = 1.0 + (TRUE_CONGESTION[hour] - 1.0) * (0.4 + 0.6 * art)
            drive = road / (kmh / 3.6) * cong * density + JUNCTION_S_PER_KM * density * road / 1000.0
            if vehicle_type == "truck":
                drive += TRUCK_TOWN_S * (1.0 - art)
        drive *= pace * slow * weather * noise
        if stop == "delivery":
            busy = 1.3 if 11 <= hour < 15 else 1.1 if 16 <= hour < 20 else 0.85
            parking = PARKING_S.get(building or "", PARKING_DEFAULT_S) * busy * park_draw
            if bike:
                parking = min(parking, 20.0)
        elif stop == "pickup":
            parking = (15.0 if bike else STORE_PARKING_S) * park_draw
        else:
            parking = 0.0
        return PlaneLeg(road, startup, drive, parking)
