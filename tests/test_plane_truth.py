"""The plane world's true travel times (fleetstream/sim/planetruth.py): the world's own
model, not the engine's provider times factors."""

from __future__ import annotations

import ast
import math
import os
import random
import statistics

from fleetstream.operators.traveltime import HaversineProvider
from fleetstream.sim.planetruth import PlaneTruth, crow_m

CITY = (52.52, 13.405)
T_NOON = 1772409600.0 + 12 * 3600   # a Monday, 12:00 UTC
T_NIGHT = 1772409600.0 + 3 * 3600


def _point(rng: random.Random, km: float) -> tuple:
    return (CITY[0] + rng.uniform(-1, 1) * km / 111.0, CITY[1] + rng.uniform(-1, 1) * km / 68.0)


def _ratios(truth: PlaneTruth, km: float, n: int = 200, vtype: str = "van", t: float = T_NOON) -> list:
    rng, prov = random.Random(5), HaversineProvider()
    out = []
    for _ in range(n):
        a = _point(rng, 6.0)
        ang = rng.uniform(0, 6.283)
        b = (a[0] + km * 0.7071 * math.cos(ang) / 111.0,
             a[1] + km * 0.7071 * math.sin(ang) / 68.0)
        leg = truth.leg(rng, a, b, t, vtype, 1.0, 1.0, 1.0, 1.0, "house", "delivery")
        out.append(leg.total_s / prov.travel_s(a, b, t))
    return out


def test_the_ratio_to_the_straight_line_estimate_falls_with_the_trip_length():
    """As on real trips: short legs take several times a straight-line estimate (pulling
    out, parking, detours, local streets), long ones less than it (arterials)."""
    truth = PlaneTruth(7)
    short, mid, long_ = (statistics.median(_ratios(truth, km)) for km in (0.4, 2.0, 10.0))
    assert short > 1.8 and long_ < 1.0
    assert short > mid > long_


def test_a_pair_of_places_keeps_its_detour_and_it_is_the_same_both_ways():
    truth = PlaneTruth(7)
    a, b = (52.50, 13.40), (52.53, 13.45)
    assert truth.road_m(a, b) == truth.road_m(b, a) == PlaneTruth(7).road_m(a, b)
    assert truth.road_m(a, b) > crow_m(a, b) * 1.2
    assert PlaneTruth(8).road_m(a, b) != truth.road_m(a, b)   # another world, other streets
    assert truth.road_m(a, a) == 0.0


def test_rush_hour_slows_cars_not_bikes():
    truth = PlaneTruth(7)
    a, b = (52.50, 13.40), (52.53, 13.45)

    def drive(vtype, t):
        return truth.leg(random.Random(1), a, b, t, vtype, 1.0, 1.0, 1.0, 1.0, None, "pickup").drive_s

    t_peak = 1772409600.0 + 8 * 3600
    assert drive("van", t_peak) > drive("van", T_NIGHT) * 1.2
    assert drive("bike", t_peak) == drive("bike", T_NIGHT)


def test_the_plane_truth_reads_nothing_of_the_engine():
    """No import of the engine's operators or models in the world's truth module."""
    import fleetstream.sim.planetruth as mod
    tree = ast.parse(open(os.path.abspath(mod.__file__), encoding="utf-8").read())
    names = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    names += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in names if m and (m.startswith("fleetstream.operators")
                                           or m.startswith("fleetstream.models")
                                           or m.startswith("operators") or m.startswith("models"))]
