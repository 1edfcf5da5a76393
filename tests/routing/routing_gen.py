"""Seeded random routing instances shaped like a delivery day (for property tests)."""

from __future__ import annotations

import math
import random

from fleetstream.operators.routing.model import Break, Job, Problem, VehicleSpec

VTYPES = {"bike": ({"weight_kg": 15, "volume_l": 60, "count": 4}, "gig"),
          "cargo_bike": ({"weight_kg": 120, "volume_l": 500, "count": 25}, "gig"),
          "car": ({"weight_kg": 300, "volume_l": 1500, "count": 35}, "3pl"),
          "van": ({"weight_kg": 900, "volume_l": 8000, "count": 70}, "captive")}


def random_problem(seed: int, n_jobs: int = 30, n_vehicles: int = 4, pickups: float = 0.2,
                   soft: bool = True, breaks: bool = False, horizon_s: float = 8 * 3600,
                   tight: bool = False) -> Problem:
    rng = random.Random(seed)
    pts = [(0.0, 0.0)]
    for _ in range(n_jobs * 2):
        r, a = 5000 * math.sqrt(rng.random()), rng.random() * 2 * math.pi
        pts.append((r * math.cos(a), r * math.sin(a)))
    n = len(pts)
    D = [[int(round(math.dist(pts[i], pts[j]) * 1.35)) for j in range(n)] for i in range(n)]
    T = [[int(round(d * 3.6 / 22)) for d in row] for row in D]
    vs = []
    for i in range(n_vehicles):
        vt = rng.choice(list(VTYPES))
        cap, fleet = VTYPES[vt]
        vs.append(VehicleSpec(
            f"v{i}", 0, 0, start_time=0.0, shift_end=horizon_s, capacity=dict(cap),
            skills=tuple(s for s in ("age_check", "heavy_lift") if rng.random() < 0.5),
            fleet_type=fleet, vehicle_type=vt, cost_per_km=0.35 if fleet != "gig" else 0.0,
            cost_per_hour=28.0 if fleet != "gig" else 0.0, cost_per_stop=3.2 if fleet == "gig" else 0.0,
            fixed_cost=40.0 if fleet != "gig" else 0.0,
            max_duration=horizon_s * 0.9 if rng.random() < 0.3 else None,
            break_=Break(3 * 3600, 5 * 3600, 1800) if breaks and rng.random() < 0.7 else None))
    jobs = []
    for k in range(n_jobs):
        w = rng.choice([(0, horizon_s), (3600, 3 * 3600), (2 * 3600, 5 * 3600), (5 * 3600, 7 * 3600)])
        if tight:
            s = rng.uniform(0, horizon_s - 1800)
            w = (s, s + 1800)
        pick = rng.random() < pickups
        jobs.append(Job(
            f"j{k}", 1 + 2 * k, window=(float(w[0]), float(w[1])), service=float(rng.randint(60, 300)),
            size={"weight_kg": round(rng.lognormvariate(0.6, 0.8), 2), "volume_l": round(rng.uniform(1, 40), 1)},
            skills=("age_check",) if rng.random() < 0.1 else (),
            vehicle_types=("car", "van") if rng.random() < 0.1 else (),
            max_vehicle_size="car" if rng.random() < 0.05 else None, value=rng.lognormvariate(3.5, 1.0),
            priority=rng.choice([0, 0, 1, 2]), drop_penalty=500.0,
            pickup=2 + 2 * k if pick else None, pickup_window=(0.0, float(w[1])), pickup_service=120.0))
    return Problem(time=T, dist=D, vehicles=vs, jobs=jobs, lateness_cost_per_unit=(2 / 60) if soft else 0.0,
                   fairness_cost_per_stop=1.0, objective="cost", points=pts)
