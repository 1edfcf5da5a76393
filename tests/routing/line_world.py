"""A world on one line for routing-objective tests (the km price, the window margin):
points ``km`` east of an origin, metres along the line, one captive van driving from
``start`` to ``end`` with parcels on board."""

from __future__ import annotations

from types import SimpleNamespace

from fleetstream.operators.state import ACTIVE, ONBOARD, Order, Vehicle

T0 = 1772438400.0
LAT = 52.5


def at(km: float) -> tuple[float, float]:
    """A point ``km`` east of the origin on one line (0.01 degree = 1 km here)."""
    return (LAT, round(13.0 + km / 100.0, 6))


def dist(a, b) -> float:
    """Metres along the line."""
    return abs(a[1] - b[1]) * 100_000.0


def vehicle(start, end) -> Vehicle:
    """A captive van (0.35 a km, 28 an hour) active at ``start`` at T0, ending at ``end``."""
    ev = SimpleNamespace(vehicle_id="v", driver_id="dv", fleet_type="captive", vehicle_type="van",
                         capacity={"weight_kg": 900.0}, skills=[], start=start, end=end,
                         ts=T0 - 3600, shift_end_ts=T0 + 9 * 3600, cost_per_km=0.35,
                         cost_per_hour=28.0, cost_per_stop=0.0, fixed_cost=0.0, max_route_s=None)
    v = Vehicle.from_event(ev)
    v.status, v.pos, v.pos_ts = ACTIVE, start, T0
    return v


def parcel(oid: str, loc, start: float = T0 - 3600, end: float = T0 + 6 * 3600) -> Order:
    """A parcel on board the van, due at ``loc`` in ``[start, end]``."""
    ev = SimpleNamespace(order_id=oid, customer_id="c" + oid, kind="parcel", location=loc,
                         pickup=None, window_start=start, window_end=end,
                         size={"weight_kg": 2.0}, service_s=60.0, pickup_service_s=0.0,
                         skills=[], vehicle_types=[], fleet_types=[], priority=0, value=30.0,
                         ts=T0 - 7200, event_id="e" + oid)
    o = Order.from_event(ev)
    o.status, o.vehicle_id = ONBOARD, "v"
    return o
