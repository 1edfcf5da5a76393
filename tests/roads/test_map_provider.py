"""The map travel-time provider (operators/traveltime_map.py) on the shipped graph."""

from __future__ import annotations

import os
import pickle
import re

import pytest

from fleetstream.operators.traveltime import HaversineProvider
from fleetstream.operators.traveltime_map import MapProvider
from fleetstream.roads.network import MapNetwork

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ALV, MASSANA, ENCAMP = (42.5078, 1.5211), (42.5440, 1.5150), (42.5360, 1.5830)
BERLIN = (52.52, 13.40)
POINTS = [ALV, MASSANA, ENCAMP, (42.4637, 1.4913), (42.5096, 1.5387), (42.5676, 1.5976)]


@pytest.fixture(scope="module")
def prov() -> MapProvider:
    return MapProvider(MapNetwork("andorra"))


def test_map_times_follow_the_roads(prov):
    hav = HaversineProvider()
    d = prov.distance_m(ALV, ENCAMP)
    assert d > hav.distance_m(ALV, ENCAMP) / hav.circuity * 1.05   # roads are longer than the crow flies
    t = prov.travel_s(ALV, ENCAMP, 8 * 3600)
    assert 20 < d / t * 3.6 < 90                                    # a plausible free-flow speed
    assert prov.travel_s(ALV, ENCAMP, 8 * 3600, factor=2.0) == pytest.approx(2 * t)
    assert prov.travel_s(ALV, ALV, 0) == 0.0
    g = prov.network.graph
    n, _ = prov.network.snap(ALV)
    at, near = (g.lat[n], g.lon[n]), (g.lat[n] + 0.00003, g.lon[n])
    assert prov.network.snap(near)[0] == n
    assert prov.travel_s(at, near, 0) == prov.min_leg_s             # a few metres: the minimum leg


def test_the_map_has_no_time_of_day(prov):
    assert {prov.travel_s(ALV, MASSANA, h * 3600) for h in range(24)} == {prov.travel_s(ALV, MASSANA, 0)}


def test_off_the_map_falls_back_to_haversine(prov):
    hav = HaversineProvider()
    assert not prov.on_map(BERLIN) and prov.on_map(ALV)
    for a, b in ((ALV, BERLIN), (BERLIN, ALV), (BERLIN, (52.53, 13.42))):
        assert prov.travel_s(a, b, 8 * 3600, 1.3) == hav.travel_s(a, b, 8 * 3600, 1.3)
        assert prov.distance_m(a, b) == hav.distance_m(a, b)
    # Just beyond the snapping distance is off the map too.
    far = (42.3, 1.45)        # in Spain, south of the extract
    assert not prov.on_map(far)
    assert prov.travel_s(ALV, far, 0) == hav.travel_s(ALV, far, 0)


def test_picklable_small_and_same_answers(prov):
    blob = pickle.dumps(prov)
    assert len(blob) < 1_000                                         # parameters, not the graph
    other = pickle.loads(blob)
    for a in POINTS:
        for b in POINTS:
            assert other.travel_s(a, b, 3600.0) == prov.travel_s(a, b, 3600.0)
            assert other.distance_m(a, b) == prov.distance_m(a, b)


def test_answers_do_not_depend_on_the_cache(prov):
    """A fresh provider with a one-row cache, asked in another order, says the same."""
    tiny = MapProvider(MapNetwork("andorra", cache_rows=1, cache_points=2))
    want = {(a, b): prov.travel_s(a, b, 0.0) for a in POINTS for b in POINTS}
    for (a, b) in reversed(list(want)):
        assert tiny.travel_s(a, b, 0.0) == want[(a, b)]


def test_matrix_equals_one_call_per_pair(prov):
    pts = POINTS + [BERLIN]
    m = prov.matrix(pts, 9 * 3600.0, 1.1)
    for i, a in enumerate(pts):
        for j, b in enumerate(pts):
            assert m[i][j] == prov.travel_s(a, b, 9 * 3600.0, 1.1)


def test_junction_cost_and_speed_factor_slow_it_down():
    base = MapProvider(MapNetwork("andorra"))
    slow = MapProvider(MapNetwork("andorra", junction_s=5.0, speed_factor=0.8))
    assert slow.travel_s(ALV, ENCAMP, 0) > base.travel_s(ALV, ENCAMP, 0) / 0.8
    with pytest.raises(ValueError):
        MapNetwork("andorra", speed_factor=0)
    with pytest.raises(ValueError):
        MapProvider(MapNetwork("andorra"), max_snap_m=0)


def test_the_provider_never_reads_the_simulator():
    """The engine's map knowledge is the map: no import of the simulator's world model."""
    files = [os.path.join(ROOT, "operators", "traveltime_map.py")] + [
        os.path.join(ROOT, "fleetstream", "roads", f)
        for f in os.listdir(os.path.join(ROOT, "fleetstream", "roads")) if f.endswith(".py")]
    for f in files:
        src = open(f).read()
        assert not re.search(r"^\s*(from|import)\s+fleetstream\.sim", src, re.M), f
        assert "roadtruth" not in src and "TRUE_CLASS" not in src, f
