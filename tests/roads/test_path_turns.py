"""Turns on the map's paths (junction turns and bends, heading changes over
``routing.TURN_DEG``): counted along the shortest-path tree, handed to the ETA seat
as a feature of each leg on the map (docs/models-eta.md)."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from fleetstream.models.eta import RiverEta
from fleetstream.models.features import eta_linear_features
from fleetstream.operators.traveltime import HaversineProvider
from fleetstream.operators.traveltime_map import MapProvider
from fleetstream.roads.network import MapNetwork
from fleetstream.roads.routing import TURN_DEG

ALV, ENCAMP, BERLIN = (42.5078, 1.5211), (42.5360, 1.5830), (52.52, 13.40)


@pytest.fixture(scope="module")
def net() -> MapNetwork:
    return MapNetwork("andorra")


def _turns_on_path(net: MapNetwork, a: int, b: int) -> int:
    """The same count, walking the path node by node."""
    p = net.router.path(a, b)
    xy = net.graph.xy[p]
    n = 0
    for i in range(1, len(p) - 1):
        d1, d2 = xy[i] - xy[i - 1], xy[i + 1] - xy[i]
        n1, n2 = math.hypot(*d1), math.hypot(*d2)
        if n1 > 0 and n2 > 0 and float(np.dot(d1, d2)) < math.cos(math.radians(TURN_DEG)) * n1 * n2:
            n += 1
    return n


def test_the_tree_counts_the_turns_of_every_path(net):
    rng = random.Random(3)
    nodes = [rng.randrange(net.graph.n_nodes) for _ in range(40)]
    for a, b in zip(nodes, nodes[1:]):
        assert net.turns(a, b) == _turns_on_path(net, a, b), (a, b)
    assert net.turns(nodes[0], nodes[0]) == 0
    long = max(((a, b) for a in nodes[:6] for b in nodes[6:12]), key=lambda ab: net.router.length(*ab))
    assert net.turns(*long) > 3        # a mountain road bends


def test_the_provider_counts_on_the_map_only(net):
    prov = MapProvider(net)
    assert prov.turns(ALV, ENCAMP) > 0
    assert prov.turns(ALV, ALV) == 0
    assert prov.turns(ALV, BERLIN) is None                     # off the map: no count
    assert not hasattr(HaversineProvider(), "turns")


def test_the_eta_seat_learns_what_turns_cost():
    """Legs of the same length and provider time, one with many bends: the seat with the
    turns learns the difference, the features without them cannot."""
    rng = random.Random(5)

    def leg(turns: int | None) -> dict:
        x = {"dist_km": 2.0, "provider_s": 240.0, "hour": 10.0, "dow": 2, "zone": "Z",
             "vehicle_type": "van", "fleet_type": "captive", "driver_pace": 1.0,
             "condition_factor": 1.0, "stops_ahead": 0, "speed_kmh": 30.0}
        if turns is not None:
            x["turns"] = turns
        return x

    assert "turns_km" in eta_linear_features(leg(6)) and "turns_km" not in eta_linear_features(leg(None))
    m = RiverEta()
    for _ in range(2000):
        bendy = rng.random() < 0.5
        m.learn(leg(30 if bendy else 2), (1.8 if bendy else 1.2) * math.exp(rng.gauss(0, 0.05)))
    assert m.predict_ratio(leg(30)) > m.predict_ratio(leg(2)) + 0.4
    for bad in (float("nan"), float("inf"), -1):
        assert "turns_km" not in eta_linear_features(leg(bad))
