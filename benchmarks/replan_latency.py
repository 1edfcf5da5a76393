"""Route-evaluation latency of the routing verbs by route length, p50/p95 (ms).

Engine objects in, the engine's planning travel time (a fresh zone engine's ``tt``
and ``dist``), random points in a 5 km disc around Berlin, 1-2 h windows spread over
8 h, 20 h shifts (long routes run late but stay feasible):

- ``reroute``: ``ORToolsStrategy.reroute_result`` of one active vehicle whose
  earliest-deadline sequence was perturbed (problem built from engine objects, lazy
  matrices, local search); for comparison the OR-Tools re-route of the same problem
  (50 solutions) at the larger sizes;
- ``insert``: cheapest insertion of a new on-demand order (pickup and delivery)
  into 8 candidate vehicles with N stops each (``InsertionStrategy.insert``, the
  engine's verb for new orders);
- ``redispatch``: ``ORToolsStrategy.redispatch`` of an at-risk on-demand order from
  a vehicle with N stops to its 8 nearest vehicles with N stops each (insertion into
  each, local search of the source and the receiving route).

    python benchmarks/replan_latency.py [--repeat 30] [--seed 1] [--quick] [--out f.json]

Wall-clock figures on this machine; the engine itself never reads the clock.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import time
from types import SimpleNamespace

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import orjson  # noqa: E402

from fleetstream.contract.settings import EngineSettings  # noqa: E402
from fleetstream.operators.dispatch import InsertionStrategy  # noqa: E402
from fleetstream.operators.routing import solver  # noqa: E402
from fleetstream.operators.routing.engine_adapter import build_problem, materialise  # noqa: E402
from fleetstream.operators.routing.strategy import ORToolsStrategy  # noqa: E402
from fleetstream.operators.state import ACTIVE, ASSIGNED, DELIVERY, PICKUP, Order, Vehicle  # noqa: E402
from fleetstream.operators.zone.engine import ZoneEngine  # noqa: E402

CENTER = (52.52, 13.405)
T0 = 1772438400.0  # 08:00 UTC


def pt(rng: random.Random, radius_km: float = 5.0) -> tuple[float, float]:
    r, a = radius_km * math.sqrt(rng.random()), rng.random() * 2 * math.pi
    return (CENTER[0] + r * math.cos(a) / 111.0,
            CENTER[1] + r * math.sin(a) / (111.0 * math.cos(math.radians(CENTER[0]))))


def vehicle(vid: str, rng: random.Random) -> Vehicle:
    ev = SimpleNamespace(vehicle_id=vid, driver_id="d" + vid, fleet_type="captive", vehicle_type="van",
                         capacity={"weight_kg": 900.0, "volume_l": 8000.0, "count": 400.0},
                         skills=["age_check"], start=CENTER, end=CENTER, ts=T0 - 3600,
                         shift_end_ts=T0 + 20 * 3600, cost_per_km=0.35, cost_per_hour=28.0,
                         cost_per_stop=0.0, fixed_cost=40.0, max_route_s=None)
    v = Vehicle.from_event(ev)
    v.status, v.pos, v.pos_ts = ACTIVE, pt(rng), T0
    return v


def order(oid: str, rng: random.Random, kind: str, k: int, n: int) -> Order:
    start = T0 + (k * 8 * 3600) // max(1, n) + rng.randrange(0, 1800)
    ev = SimpleNamespace(order_id=oid, customer_id="c" + oid, kind=kind, location=pt(rng),
                         pickup=pt(rng) if kind == "on_demand" else None, window_start=start - 3600,
                         window_end=start + rng.choice([3600, 7200]), size={"weight_kg": 2.0, "volume_l": 10.0},
                         service_s=120.0, pickup_service_s=120.0, skills=[], vehicle_types=[],
                         fleet_types=[], priority=rng.choice([0, 0, 1]), value=30.0, ts=T0 - 7200,
                         event_id="e" + oid)
    o = Order.from_event(ev)
    o.status = "onboard" if kind == "parcel" else ASSIGNED
    return o


def loaded(vid: str, rng: random.Random, n: int, orders: dict, on_demand_every: int = 4) -> Vehicle:
    """An active vehicle with ``n`` stops, earliest deadline first, lightly perturbed."""
    v = vehicle(vid, rng)
    k = 0
    while len(v.route) < n:
        kind = "on_demand" if (on_demand_every and k % on_demand_every == 0 and len(v.route) + 2 <= n) else "parcel"
        o = order(f"{vid}-o{k}", rng, kind, k, n)
        o.vehicle_id = v.id
        orders[o.id] = o
        if kind == "on_demand":
            v.route += [(o.id, PICKUP), (o.id, DELIVERY)]
        else:
            v.onboard.append(o.id)
            v.route.append((o.id, DELIVERY))
        k += 1
    return v


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def timed(fn, *args) -> tuple[float, object]:
    t = time.perf_counter()
    r = fn(*args)
    return (time.perf_counter() - t) * 1000, r


def summary(name: str, n: int, ms: list[float], **extra) -> dict:
    return {"op": name, "stops": n, "p50_ms": round(pct(ms, 0.5), 2), "p95_ms": round(pct(ms, 0.95), 2),
            **extra}


def bench_reroute(eng, n: int, repeat: int, seed: int, ortools: bool) -> list[dict]:
    strat = ORToolsStrategy()
    local, ort = [], []
    for r in range(repeat):
        rng = random.Random(seed * 1000 + r)
        orders: dict = {}
        v = loaded("v", rng, n, orders, on_demand_every=0)
        for _ in range(max(1, n // 5)):  # perturb: what re-routing has to repair
            i, j = rng.randrange(n), rng.randrange(n)
            v.route[i], v.route[j] = v.route[j], v.route[i]
        ms, res = timed(strat.reroute_result, v, orders, T0, eng.tt, eng.dist)
        local.append(ms)
        if ortools and r < min(repeat, 10):
            built = build_problem([v], list(orders.values()), {v.id: v.route}, T0, eng.tt, eng.dist,
                                  strat.config)
            t = time.perf_counter()
            p = materialise(built.problem)
            solver.reroute(p, v.id, built.routes[v.id], solver.Budget(solution_limit=50), method="ortools")
            ort.append((time.perf_counter() - t) * 1000)
    out = [summary("reroute", n, local)]
    if ort:
        out.append(summary("reroute_ortools", n, ort))
    return out


def zone(rng: random.Random, n_vehicles: int, n: int) -> tuple[list, dict]:
    orders: dict = {}
    return [loaded(f"v{i:03d}", rng, n, orders) for i in range(n_vehicles)], orders


def bench_insert(eng, n: int, repeat: int, seed: int) -> dict:
    strat, ms = InsertionStrategy(), []
    for r in range(repeat):
        rng = random.Random(seed * 7919 + r)
        vs, orders = zone(rng, 8, n)
        o = order("new", rng, "on_demand", rng.randrange(n + 1), n)
        o.status = "pending"
        orders[o.id] = o
        ms.append(timed(strat.insert, o, vs, orders, T0, eng.tt, eng.dist)[0])
    return summary("insert_8_vehicles", n, ms)


def bench_redispatch(eng, n: int, repeat: int, seed: int, n_vehicles: int = 9) -> dict:
    strat, ms, actions = ORToolsStrategy(), [], {}
    for r in range(repeat):
        rng = random.Random(seed * 104729 + r)
        vs, orders = zone(rng, n_vehicles, n)
        src = vs[0]
        risky = next(oid for oid, k in src.route if k == PICKUP)
        orders[risky].window_end = T0 + 1200  # at risk
        cands = sorted(vs[1:], key=lambda w: (eng.dist(src.pos, w.pos), w.id))[:8]
        t, res = timed(strat.redispatch, src, [risky], cands, orders, T0, eng.tt, eng.dist)
        ms.append(t)
        actions[res.action] = actions.get(res.action, 0) + 1
    return summary("redispatch_8_candidates", n, ms, outcomes=actions)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="fewer sizes, no OR-Tools comparison")
    ap.add_argument("--out", default="", help="write the rows as JSON")
    a = ap.parse_args(argv)
    eng = ZoneEngine("Z1", EngineSettings())
    rows = []
    sizes = (3, 16, 64) if a.quick else (3, 8, 16, 32, 64, 127)
    for n in sizes:
        rows += bench_reroute(eng, n, a.repeat, a.seed, ortools=not a.quick and n >= 16)
    for n in sizes:
        rows.append(bench_insert(eng, n, a.repeat, a.seed))
    for n in sizes:
        rows.append(bench_redispatch(eng, n, a.repeat, a.seed))
    for r in rows:
        print(f"  {r['op']:<24} {r['stops']:>4} stops  p50 {r['p50_ms']:>8.2f} ms  p95 {r['p95_ms']:>8.2f} ms"
              + (f"  {r['outcomes']}" if "outcomes" in r else ""), flush=True)
    if a.out:
        with open(a.out, "wb") as f:
            f.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
