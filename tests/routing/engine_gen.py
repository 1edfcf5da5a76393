"""Seeded engine-object scenes (``operators.state`` Vehicles and Orders) for the
routing-strategy tests: a zone of vehicles with routes, on-board parcels and
on-demand pickups, plus a travel-time and a distance function."""

from __future__ import annotations

import copy
import math
import random
from dataclasses import dataclass, field
from types import SimpleNamespace

from fleetstream.operators.state import ACTIVE, AT_DEPOT, ASSIGNED, DELIVERY, PENDING, PICKUP, Order, Vehicle

CENTER = (52.52, 13.405)
T0 = 1772438400.0  # 08:00 UTC


def pt(rng: random.Random, radius_km: float = 5.0) -> tuple[float, float]:
    r, a = radius_km * math.sqrt(rng.random()), rng.random() * 2 * math.pi
    return (round(CENTER[0] + r * math.cos(a) / 111.0, 6),
            round(CENTER[1] + r * math.sin(a) / (111.0 * math.cos(math.radians(CENTER[0]))), 6))


def dist(a, b) -> float:
    """Metres, equirectangular x 1.3 (a street factor)."""
    kx = 111_320.0 * math.cos(math.radians(CENTER[0]))
    return 1.3 * math.hypot((a[0] - b[0]) * 110_540.0, (a[1] - b[1]) * kx)


def tt(a, b, ts: float) -> float:
    """Seconds at 25 km/h, 20 % slower in the 09:00-10:00 peak (time-dependent)."""
    slow = 1.2 if T0 + 3600 <= ts < T0 + 7200 else 1.0
    return dist(a, b) / (25 / 3.6) * slow


def vehicle(vid: str, rng: random.Random, fleet: str = "captive", active: bool = True) -> Vehicle:
    ev = SimpleNamespace(vehicle_id=vid, driver_id="d" + vid, fleet_type=fleet,
                         vehicle_type="van" if fleet != "gig" else "cargo_bike",
                         capacity={"weight_kg": 900.0, "volume_l": 8000.0, "count": 60.0},
                         skills=["age_check"] if fleet != "gig" else [], start=CENTER, end=CENTER,
                         ts=T0 - 3600, shift_end_ts=T0 + 9 * 3600, cost_per_km=0.35,
                         cost_per_hour=28.0, cost_per_stop=0.0 if fleet != "gig" else 3.2,
                         fixed_cost=40.0, max_route_s=None)
    v = Vehicle.from_event(ev)
    if active:
        v.status, v.pos, v.pos_ts = ACTIVE, pt(rng), T0
    return v


def order(oid: str, rng: random.Random, kind: str = "parcel", k: int = 0) -> Order:
    start = T0 + rng.randrange(0, 6) * 1800 + k * 60
    ev = SimpleNamespace(order_id=oid, customer_id="c" + oid, kind=kind, location=pt(rng),
                         pickup=pt(rng) if kind == "on_demand" else None, window_start=start - 3600,
                         window_end=start + rng.choice([3600, 7200]),
                         size={"weight_kg": 2.0, "volume_l": 10.0}, service_s=120.0,
                         pickup_service_s=120.0, skills=[], vehicle_types=[], fleet_types=[],
                         priority=rng.choice([0, 0, 1]), value=30.0, ts=T0 - 7200, event_id="e" + oid)
    return Order.from_event(ev)


def pickups_first(route: list) -> list:
    """``route`` with each delivery moved after its pickup when it came before it."""
    seen: set[str] = set()
    waiting: set[str] = set()
    fixed = []
    for s in route:
        if s[1] == DELIVERY and (s[0], PICKUP) in route and s[0] not in seen:
            waiting.add(s[0])
            continue
        fixed.append(s)
        if s[1] == PICKUP:
            seen.add(s[0])
            if s[0] in waiting:
                waiting.discard(s[0])
                fixed.append((s[0], DELIVERY))
    return fixed


def make_late(sc: "Scene", i: int = 0) -> None:
    """Vehicle ``i`` serves its stops latest deadline first (late: something to repair)."""
    v = sc.vehicles[i]
    v.route = pickups_first(sorted(v.route, key=lambda s: (-sc.orders[s[0]].window_end, s)))


@dataclass
class Scene:
    vehicles: list[Vehicle]
    orders: dict[str, Order]
    pending: list[Order] = field(default_factory=list)   # new orders to insert
    depot: list[Vehicle] = field(default_factory=list)   # vehicles at the depot (zone plan)
    depot_orders: list[Order] = field(default_factory=list)

    def copy(self) -> "Scene":
        return copy.deepcopy(self)


def scene(seed: int, n_vehicles: int = 4, stops: int = 8, n_pending: int = 3,
          n_depot: int = 3, n_depot_orders: int = 12) -> Scene:
    """Active vehicles with ``stops`` orders each (1 in 4 on-demand: pickup and
    delivery), pending orders, and depot vehicles with unassigned parcels."""
    rng = random.Random(seed)
    orders: dict[str, Order] = {}
    vs = []
    for i in range(n_vehicles):
        v = vehicle(f"v{i}", rng, "gig" if i % 4 == 3 else "captive")
        for k in range(max(1, stops - 2 * i)):
            kind = "on_demand" if k % 4 == 0 else "parcel"
            o = order(f"o{i}-{k}", rng, kind, k)
            o.vehicle_id, o.status = v.id, ASSIGNED if kind == "on_demand" else "onboard"
            orders[o.id] = o
            if kind == "on_demand":
                v.route += [(o.id, PICKUP), (o.id, DELIVERY)]
            else:
                v.onboard.append(o.id)
                v.route.append((o.id, DELIVERY))
        # earliest deadline first, odd vehicles perturbed (something to re-route)
        v.route.sort(key=lambda s: (orders[s[0]].window_end, s[1] == DELIVERY, s[0]))
        if i % 2 and len(v.route) > 3:
            a, b = rng.randrange(len(v.route)), rng.randrange(len(v.route))
            v.route[a], v.route[b] = v.route[b], v.route[a]
        v.route = pickups_first(v.route)
        vs.append(v)
    pending = []
    for k in range(n_pending):
        o = order(f"n{k}", rng, "on_demand" if k % 2 else "parcel", k)
        if o.kind == "parcel":
            o.kind = "on_demand"
            o.pickup = pt(rng)
        orders[o.id] = o
        pending.append(o)
    depot = [vehicle(f"d{i}", rng, active=False) for i in range(n_depot)]
    depot_orders = []
    for k in range(n_depot_orders):
        o = order(f"p{k}", rng, "parcel", k)
        o.status = PENDING
        orders[o.id] = o
        depot_orders.append(o)
    return Scene(vs, orders, pending, depot, depot_orders)


__all__ = ["Scene", "scene", "make_late", "pickups_first", "tt", "dist", "busy", "T0", "AT_DEPOT"]


def busy(seconds: float) -> None:
    """Spin one CPU for ``seconds`` (a competing process for the load tests)."""
    import time
    end = time.monotonic() + seconds
    x = 0
    while time.monotonic() < end:
        x = (x * 31 + 7) % 1_000_003
