"""Re-plan latency of the zone engine's routing: re-route and redispatch, p50/p95.

- re-route: one active vehicle with 20, 50 and 100 remaining stops (random points in
  a 5 km disc around Berlin, 1 h and 2 h windows, half of them already late-ish),
  current sequence perturbed; times ``ORToolsStrategy.reroute_result`` (engine objects
  in, problem built with the engine's planning travel time, local search) and, for
  comparison, the OR-Tools re-route of the same problem (solution limit 50);
- redispatch: a zone of 50 and 200 active vehicles with 15 stops each; an at-risk
  on-demand order on one vehicle; times the engine's whole redispatch decision
  (``ZoneEngine._redispatch``: candidate search over the zone, insertion into the
  nearest candidates, local search of the affected routes, the decision record).

    python benchmarks/replan_latency.py [--repeat 30] [--seed 1]

Wall-clock figures on this machine; the engine itself never reads the clock.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import time
from types import SimpleNamespace

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from fleetstream.contract.settings import EngineSettings  # noqa: E402
from fleetstream.operators.routing import solver  # noqa: E402
from fleetstream.operators.routing.strategy import ORToolsStrategy  # noqa: E402
from fleetstream.operators.state import ACTIVE, ASSIGNED, DELIVERY, PICKUP, Order, Vehicle  # noqa: E402
from fleetstream.operators.zone.engine import ZoneEngine  # noqa: E402

CENTER = (52.52, 13.405)
T0 = 1772438400.0  # 08:00 UTC


def pt(rng: random.Random, radius_km: float = 5.0) -> tuple[float, float]:
    r, a = radius_km * math.sqrt(rng.random()), rng.random() * 2 * math.pi
    return (CENTER[0] + r * math.cos(a) / 111.0,
            CENTER[1] + r * math.sin(a) / (111.0 * math.cos(math.radians(CENTER[0]))))


def vehicle(vid: str, rng: random.Random, fleet: str = "captive") -> Vehicle:
    ev = SimpleNamespace(vehicle_id=vid, driver_id="d" + vid, fleet_type=fleet, vehicle_type="van",
                         capacity={"weight_kg": 900.0, "volume_l": 8000.0, "count": 200.0},
                         skills=["age_check"], start=CENTER, end=CENTER, ts=T0 - 3600,
                         shift_end_ts=T0 + 9 * 3600, cost_per_km=0.35, cost_per_hour=28.0,
                         cost_per_stop=0.0, fixed_cost=40.0, max_route_s=None)
    v = Vehicle.from_event(ev)
    v.status, v.pos, v.pos_ts = ACTIVE, pt(rng), T0
    return v


def order(oid: str, rng: random.Random, kind: str = "parcel", k: int = 0) -> Order:
    start = T0 + rng.randrange(0, 6) * 1800 + k * 60
    ev = SimpleNamespace(order_id=oid, customer_id="c" + oid, kind=kind, location=pt(rng),
                         pickup=pt(rng) if kind == "on_demand" else None, window_start=start - 3600,
                         window_end=start + rng.choice([3600, 7200]), size={"weight_kg": 2.0, "volume_l": 10.0},
                         service_s=120.0, pickup_service_s=120.0, skills=[], vehicle_types=[],
                         fleet_types=[], priority=rng.choice([0, 0, 1]), value=30.0, ts=T0 - 7200,
                         event_id="e" + oid)
    o = Order.from_event(ev)
    o.status = "onboard" if kind == "parcel" else ASSIGNED
    return o


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def bench_reroute(n: int, repeat: int, seed: int) -> dict:
    eng = ZoneEngine("Z1", EngineSettings())
    strat: ORToolsStrategy = eng.strategy
    local, ort = [], []
    for r in range(repeat):
        rng = random.Random(seed * 1000 + r)
        v = vehicle("v", rng)
        orders = {}
        for k in range(n):
            o = order(f"o{k}", rng, k=k)
            o.vehicle_id = v.id
            orders[o.id] = o
            v.onboard.append(o.id)
        seq = sorted(orders, key=lambda i: orders[i].window_end)
        for _ in range(n // 5):  # perturb: what re-routing has to repair
            i, j = rng.randrange(n), rng.randrange(n)
            seq[i], seq[j] = seq[j], seq[i]
        v.route = [(i, DELIVERY) for i in seq]
        t = time.perf_counter()
        res = strat.reroute_result(v, orders, T0, eng.tt, eng.dist)
        local.append((time.perf_counter() - t) * 1000)
        if r < min(repeat, 10):
            from fleetstream.operators.routing.engine_adapter import build_problem, materialise
            built = build_problem([v], list(orders.values()), {v.id: v.route}, T0, eng.tt, eng.dist,
                                  strat.config)
            t = time.perf_counter()
            p = materialise(built.problem)
            solver.reroute(p, v.id, built.routes[v.id], solver.Budget(solution_limit=50), method="ortools")
            ort.append((time.perf_counter() - t) * 1000)
        assert res is not None
    return {"stops": n, "local_p50_ms": round(pct(local, 0.5), 1), "local_p95_ms": round(pct(local, 0.95), 1),
            "ortools_p50_ms": round(pct(ort, 0.5), 1), "ortools_p95_ms": round(pct(ort, 0.95), 1)}


def bench_redispatch(n_vehicles: int, repeat: int, seed: int, stops: int = 15) -> dict:
    times = []
    actions: dict[str, int] = {}
    for r in range(repeat):
        rng = random.Random(seed * 7919 + r)
        eng = ZoneEngine("Z1", EngineSettings())
        for i in range(n_vehicles):
            v = vehicle(f"v{i:03d}", rng, "gig" if i % 5 == 4 else "captive")
            eng.vehicles[v.id] = v
            for k in range(stops):
                kind = "on_demand" if k % 4 == 0 else "parcel"
                o = order(f"o{i}-{k}", rng, kind, k)
                o.vehicle_id = v.id
                eng.orders[o.id] = o
                if kind == "on_demand":
                    v.route += [(o.id, PICKUP), (o.id, DELIVERY)]
                else:
                    v.onboard.append(o.id)
                    v.route.append((o.id, DELIVERY))
        src = eng.vehicles["v000"]
        risky = next(oid for oid, k in src.route if k == PICKUP)
        eng.orders[risky].window_end = T0 + 1200  # at risk
        out: list = []
        t = time.perf_counter()
        moved, note = eng._redispatch(src, [risky], T0, ["bench"], out)
        times.append((time.perf_counter() - t) * 1000)
        key = "moved" if moved else ("kept" if note.startswith("kept") else "none")
        actions[key] = actions.get(key, 0) + 1
    return {"vehicles": n_vehicles, "p50_ms": round(pct(times, 0.5), 1), "p95_ms": round(pct(times, 0.95), 1),
            "mean_ms": round(statistics.mean(times), 1), "outcomes": actions}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    print("re-route (one vehicle, remaining stops): ms")
    for n in (20, 50, 100):
        print(" ", bench_reroute(n, a.repeat, a.seed), flush=True)
    print("redispatch decision (zone of N vehicles, 15 stops each): ms")
    for n in (50, 200):
        print(" ", bench_redispatch(n, a.repeat, a.seed), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
