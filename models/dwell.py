"""Time at a stop, per stop: what a stop takes beyond its nominal service.

A stop takes longer than the order's ``service_s``: finding a place to park, the walk
to the door, stairs or a lift, a gate code, waiting for the customer.  How much
depends on the building and the customer (a house with a drive against an apartment
block without a lift), on the vehicle (a bike parks at the door, a van searches) and
on the hour (streets are busier at midday).  One zone-wide mean spreads all of that
over every stop; :class:`StopTimes` learns it per stop from the engine's own events
(arrival, then the departure to the next stop), as shrunken means in a hierarchy:

1. the zone: the decayed mean excess of every stop (``DECAY`` per stop);
2. the stop's **building** (its type, ``+code`` when the address needs an access code;
   pickups are their own): a decayed mean shrunk to the zone's with ``GROUP_K``
   pseudo-stops;
3. the building **crossed with the vehicle type**: shrunk to the building's with
   ``GROUP_K`` pseudo-stops;
4. that in a **band of hours** (``BAND_H`` hours of the stop's time of day): shrunk to
   the previous level with ``BAND_K`` pseudo-stops;
5. the **customer**: the decayed mean of what the customer's own past stops took
   beyond their band's estimate at the time, shrunk towards 0 with ``CUSTOMER_K``
   pseudo-stops (a customer seen once moves the estimate by a quarter of what it
   showed).

The times are skewed (most stops a few minutes, a few very long: a break taken at
the stop, a long wait), so each stop is learned **winsorized**: clipped to its
estimate before it +- ``WINSOR_S`` (a robust, median-like centre, which is what an
arrival forecast scored by its absolute error wants), and every value to
[``MIN_S``, ``MAX_S``].

Before any stop the estimate is 0 (the nominal service).  Every learned value is
clipped to [``MIN_S``, ``MAX_S``] (a driver's lunch at a stop does not become the
next customer's wait), non-finite values are ignored, and the customers kept are
bounded (``MAX_CUSTOMERS``, least recently seen dropped first: deterministic, as is
everything here: plain floats updated in event order).

The key of a stop is :func:`stop_key`; the estimate is :meth:`StopTimes.extra_s`.
"""

from __future__ import annotations

import math

DECAY = 0.98          # per stop of the zone: the zone's memory is ~50 stops
GROUP_DECAY = 0.99    # per stop of the group / band / customer: ~100 stops
GROUP_K = 5.0         # pseudo-stops of the upper level's mean in a building's / group's
BAND_K = 10.0         # pseudo-stops of the group's mean in a band's
CUSTOMER_K = 3.0      # pseudo-stops of 0 (the band's estimate) in a customer's residual
BAND_H = 2            # hours of the day per band
MIN_S, MAX_S = -300.0, 900.0
WINSOR_S = 240.0      # a stop is learned within its estimate +- this
MAX_CUSTOMERS = 20000
PICKUP = "pickup"


def stop_key(kind: str, building: str | None, coded: bool, vehicle_type: str | None,
             ts: float, customer: str | None) -> tuple:
    """``(building, group, band, customer)`` of a stop: pickups are their own building;
    a delivery's is its building type (``?`` unknown), ``+code`` when the address needs
    an access code; the group adds the vehicle type; the band is the hour band of
    ``ts``."""
    if kind == PICKUP:
        b, customer = PICKUP, None
    else:
        b = f"{building or '?'}{'+code' if coded else ''}"
    band = int((ts % 86400.0) // (3600.0 * BAND_H)) if math.isfinite(ts) else 0
    return (b, f"{b}|{vehicle_type or '?'}", band, customer)


def _clip(x: float) -> float:
    return MIN_S if x < MIN_S else MAX_S if x > MAX_S else x


class StopTimes:
    """Learned seconds a stop takes beyond its nominal service (module docstring)."""

    def __init__(self) -> None:
        self.zone = [0.0, 0.0]                       # decayed sum, decayed count
        self.buildings: dict[str, list[float]] = {}  # building -> [sum, n]
        self.groups: dict[str, list[float]] = {}     # group -> [sum, n]
        self.bands: dict[tuple, list[float]] = {}    # (group, band) -> [sum, n]
        self.customers: dict[str, list[float]] = {}  # customer -> [residual sum, n]
        self.n = 0

    def zone_s(self) -> float:
        z = self.zone
        return z[0] / (z[1] + 1.0)

    def _band_s(self, building: str, group: str, band: int) -> float:
        m = self.zone_s()
        b0 = self.buildings.get(building)
        if b0 is not None:
            m = (b0[0] + GROUP_K * m) / (b0[1] + GROUP_K)
        g = self.groups.get(group)
        if g is not None:
            m = (g[0] + GROUP_K * m) / (g[1] + GROUP_K)
        b = self.bands.get((group, band))
        if b is not None:
            m = (b[0] + BAND_K * m) / (b[1] + BAND_K)
        return m

    def extra_s(self, key: tuple) -> float:
        """Expected seconds beyond the nominal service at a stop of ``key``
        (:func:`stop_key`), clipped to [``MIN_S``, ``MAX_S``]."""
        building, group, band, customer = key
        m = self._band_s(building, group, band)
        if customer is not None:
            c = self.customers.get(customer)
            if c is not None:
                m += c[0] / (c[1] + CUSTOMER_K)
        return _clip(m)

    def learn(self, key: tuple, extra_s: float) -> None:
        """A stop of ``key`` took ``extra_s`` seconds beyond its nominal service."""
        if not isinstance(extra_s, (int, float)) or not math.isfinite(extra_s):
            return
        building, group, band, customer = key
        est = self._band_s(building, group, band)
        y = _clip(min(max(float(extra_s), est - WINSOR_S), est + WINSOR_S))
        if customer is not None:   # the residual against what the band said before this stop
            cs = self.customers
            c = cs.pop(customer, None)   # re-inserted last: the dict is least recently seen first
            if c is None:
                c = [0.0, 0.0]
                while len(cs) >= MAX_CUSTOMERS:
                    del cs[next(iter(cs))]
            r = y - est
            c[0] = c[0] * GROUP_DECAY + r
            c[1] = c[1] * GROUP_DECAY + 1.0
            cs[customer] = c
        z = self.zone
        z[0] = z[0] * DECAY + y
        z[1] = z[1] * DECAY + 1.0
        for d, k in ((self.buildings, building), (self.groups, group),
                     (self.bands, (group, band))):
            s = d.get(k)
            if s is None:
                s = d[k] = [0.0, 0.0]
            s[0] = s[0] * GROUP_DECAY + y
            s[1] = s[1] * GROUP_DECAY + 1.0
        self.n += 1
