"""Travel time between two points at a time of day (docs/design.md, "Travel times").

One small contract, :class:`TravelTimeProvider`; the default is haversine
distance times a circuity factor over a speed profile by hour, times the live
condition factor the caller passes in.  A road-network provider (for example an
OSRM table service) implements the same two methods.

>>> p = HaversineProvider()
>>> round(p.distance_m((52.52, 13.40), (52.53, 13.42)))
2364
>>> round(p.travel_s((52.52, 13.40), (52.53, 13.42), depart_ts=8 * 3600))  # 08:00 UTC
448
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from fleetstream.operators.localtime import LocalClock

Point = tuple[float, float]
EARTH_RADIUS_M = 6_371_000.0

# Mean urban driving speed (km/h) by local hour (``HaversineProvider.tz``; UTC by
# default): morning and evening peaks.
DEFAULT_SPEED_PROFILE_KMH = (
    32, 34, 35, 35, 34, 30, 26, 21, 19, 23, 25, 25,
    24, 24, 24, 23, 21, 19, 20, 24, 27, 29, 30, 31,
)

# Riders' prior speed (km/h) by vehicle type: a bicycle or a cargo bike rides at its own
# speed, not at a car's (what the bicycle profiles of route planners assume, ~15 km/h; a
# loaded cargo bike less).  The providers time every vehicle as a car; the ETA seat
# learns each type's pace from here (models/eta.py, ``eta-*-5``) and the plans time a
# rider's leg at that pace when it is slower (``engine.routing_rider_pace``,
# operators/zone/world.py ``TravelModel.tt_for``).
RIDER_KMH = {"bike": 15.0, "cargo_bike": 12.0}


def rider_prior_s_per_km(vehicle_type: str | None) -> float | None:
    """A rider's prior pace (s per km) from ``RIDER_KMH``; None for other types.

    >>> rider_prior_s_per_km("bike"), rider_prior_s_per_km("van")
    (240.0, None)
    """
    kmh = RIDER_KMH.get(vehicle_type) if vehicle_type is not None else None
    return None if kmh is None else 3600.0 / kmh


def vehicle_tt(tt: Callable, v: Any) -> Callable:
    """The travel times of vehicle ``v``: ``tt``, unless ``tt`` is a travel model's
    ``tt`` (a bound method of an object with ``tt_for``) that times ``v``'s vehicle type
    differently (a rider at its own pace: ``TravelModel.tt_for``)."""
    tt_for = getattr(getattr(tt, "__self__", None), "tt_for", None)
    if tt_for is None or getattr(tt, "__name__", None) != "tt":
        return tt
    return tt_for(getattr(v, "vehicle_type", None))


def haversine_m(a: Point, b: Point) -> float:
    """Great-circle distance in metres."""
    lat1, lon1 = a
    lat2, lon2 = b
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


_DEG_M = math.pi / 180.0 * EARTH_RADIUS_M


def fast_distance_m(a: Point, b: Point) -> float:
    """Equirectangular distance in metres: within 0.1 % of haversine below 50 km,
    about six times cheaper.  The engine's hot loops use it.

    >>> abs(fast_distance_m((52.52, 13.40), (52.60, 13.55)) / haversine_m((52.52, 13.40), (52.60, 13.55)) - 1) < 1e-3
    True
    """
    lat1, lon1 = a
    lat2, lon2 = b
    x = (lon2 - lon1) * math.cos((lat1 + lat2) * (math.pi / 360.0))
    y = lat2 - lat1
    return math.sqrt(x * x + y * y) * _DEG_M


class TravelTimeProvider(Protocol):
    name: str

    def distance_m(self, a: Point, b: Point) -> float:
        """Road distance in metres."""

    def travel_s(self, a: Point, b: Point, depart_ts: float, factor: float = 1.0) -> float:
        """Travel time in seconds leaving ``a`` at ``depart_ts`` (epoch s UTC), with a live
        condition multiplier ``factor`` (1 = normal)."""


@dataclass(frozen=True)
class HaversineProvider:
    """Haversine distance x ``circuity``, at the hourly ``speed_profile_kmh``.

    The profile is read at the local hour of ``tz`` (an IANA name; the engine passes
    ``engine.timezone``): peaks follow the local clock, daylight saving included.

    Vehicle types scale the speed (bikes are slower in traffic-free terms but do not
    suffer congestion as much; the default keeps a single profile and lets the ETA
    model learn the rest).
    """

    circuity: float = 1.35
    speed_profile_kmh: tuple = DEFAULT_SPEED_PROFILE_KMH
    min_leg_s: float = 30.0
    name: str = field(default="haversine-1")
    tz: str = "UTC"
    clock: LocalClock = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "clock", LocalClock(self.tz))
        if self.circuity < 1:
            raise ValueError("circuity must be >= 1")
        if len(self.speed_profile_kmh) != 24 or min(self.speed_profile_kmh) <= 0:
            raise ValueError("speed_profile_kmh needs 24 positive speeds")

    def distance_m(self, a: Point, b: Point) -> float:
        return fast_distance_m(a, b) * self.circuity

    def speed_kmh(self, ts: float) -> float:
        return self.speed_profile_kmh[int(self.clock.local(ts) // 3600) % 24]

    def travel_s(self, a: Point, b: Point, depart_ts: float, factor: float = 1.0) -> float:
        d = fast_distance_m(a, b) * self.circuity
        if d <= 1.0:
            return 0.0
        t = d * 3.6 / self.speed_profile_kmh[
            int((depart_ts if self.clock.utc else self.clock.local(depart_ts)) // 3600) % 24]
        return (t if t > self.min_leg_s else self.min_leg_s) * factor
