"""The shipped road graph, snapping and shortest paths (fleetstream/roads)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from fleetstream.roads import RoadGraph, Router, available_graphs, load_graph
from fleetstream.roads.graph import DATA_DIR, GraphNotFound

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import osm_to_graph  # noqa: E402


@pytest.fixture(scope="module")
def g() -> RoadGraph:
    return load_graph("andorra")


def _toy(edges, coords) -> RoadGraph:
    """A hand-made graph: ``edges`` (u, v, length_m) sorted by (u, v)."""
    edges = sorted(edges)
    lat = np.array([c[0] for c in coords], dtype=float)
    lon = np.array([c[1] for c in coords], dtype=float)
    n = len(edges)
    return RoadGraph("toy", lat, lon, np.arange(len(coords)), np.array([e[0] for e in edges], np.int32),
                     np.array([e[1] for e in edges], np.int32),
                     np.array([e[2] for e in edges], float), np.zeros(n, np.uint8),
                     np.full(n, 36.0), np.zeros(n, bool), ("residential",))


def test_shipped_graph_loads_once_and_is_strongly_connected(g):
    assert "andorra" in available_graphs()
    assert load_graph("andorra") is g                      # cached per process
    assert g.n_nodes > 10_000 and g.n_edges > 20_000
    assert {"primary", "secondary", "residential"} <= set(g.classes)
    km = g.length_m.sum() / 1000
    assert 600 < km < 900                                    # ~400 km of road, both directions
    assert np.all(g.length_m > 0) and np.all(g.speed_kmh > 0)
    m = csr_matrix((np.ones(g.n_edges), (g.u, g.v)), shape=(g.n_nodes, g.n_nodes))
    assert connected_components(m, directed=True, connection="strong")[0] == 1
    keys = g.u.astype(np.int64) * g.n_nodes + g.v
    assert np.all(np.diff(keys) > 0), "edges sorted by (u, v), no parallel edges"
    assert 42.4 < g.lat.min() and g.lat.max() < 42.7 and 1.4 < g.lon.min() and g.lon.max() < 1.8


def test_graph_file_is_small_and_attributed():
    path = os.path.join(DATA_DIR, "andorra.npz")
    assert os.path.getsize(path) < 3_000_000
    text = open(os.path.join(DATA_DIR, "andorra.ATTRIBUTION.md")).read()
    assert "OpenStreetMap contributors" in text and "Open Database" in text
    assert load_graph("andorra").meta["licence"] == "ODbL-1.0"


def test_unknown_graph_is_a_clear_error():
    with pytest.raises(GraphNotFound, match="no road graph 'atlantis'.*andorra"):
        load_graph("atlantis")


def test_snapping(g):
    idx, d = g.snap(np.column_stack([g.lat[:50], g.lon[:50]]))
    assert np.all(d < 0.01) and np.array_equal(idx, np.arange(50))
    # 30 m north of a node: at most 30 m from the nearest node.
    p = (g.lat[100] + 30 / 111_195, g.lon[100])
    i, d = g.snap([p])
    assert d[0] <= 30.01
    # Off the map (Berlin): snapped, but hundreds of km away.
    assert g.snap([(52.52, 13.40)])[1][0] > 500_000


def test_two_way_paths_cost_the_same_both_ways(g):
    r = Router(g)
    rng = np.random.default_rng(3)
    keys = set((g.u.astype(np.int64) * g.n_nodes + g.v).tolist())
    checked = 0
    pairs = []
    for a in rng.integers(0, g.n_nodes, size=150):
        near = g.tree.query_ball_point(g.xy[a], r=800.0)
        pairs.append((int(a), int(near[rng.integers(len(near))])))
    for a, b in pairs:
        pab, pba = r.path(int(a), int(b)), r.path(int(b), int(a))
        two_way = all(int(y) * g.n_nodes + int(x) in keys for x, y in zip(pab[:-1], pab[1:]))
        two_way_back = all(int(y) * g.n_nodes + int(x) in keys for x, y in zip(pba[:-1], pba[1:]))
        if two_way and two_way_back:
            assert r.cost(int(a), int(b)) == pytest.approx(r.cost(int(b), int(a)), rel=1e-5)
            checked += 1
        # Always: the cost is the sum of the path's edge weights; the length too.
        e = g.edge_ids(pab)
        assert r.cost(int(a), int(b)) == pytest.approx(r.weight[e].sum(), rel=1e-5)
        assert r.length(int(a), int(b)) == pytest.approx(g.length_m[e].sum(), rel=1e-5)
    assert checked >= 30


def test_one_way_is_respected():
    # 0 -> 1 one way (100 m); 1 <-> 2 and 2 <-> 0 two-way (100 m each).
    toy = _toy([(0, 1, 100.0), (1, 2, 100.0), (2, 1, 100.0), (2, 0, 100.0), (0, 2, 100.0)],
               [(0.0, 0.0), (0.0, 0.001), (0.001, 0.0005)])
    r = Router(toy)
    assert list(r.path(0, 1)) == [0, 1]
    assert list(r.path(1, 0)) == [1, 2, 0]                  # not back along the one-way
    assert r.length(1, 0) == pytest.approx(200.0)


def test_one_way_streets_of_the_map_are_not_driven_backwards(g):
    keys = set((g.u.astype(np.int64) * g.n_nodes + g.v).tolist())
    one_way = [e for e in range(g.n_edges)
               if int(g.v[e]) * g.n_nodes + int(g.u[e]) not in keys][:20]
    assert len(one_way) == 20
    r = Router(g)
    for e in one_way:
        p = r.path(int(g.v[e]), int(g.u[e]))
        assert len(p) > 2                                    # a detour, never the edge backwards
        g.edge_ids(p)                                        # every hop is a real edge


def test_ties_go_to_the_lower_node_index():
    # Two routes of equal cost from 0 to 3: via 1 or via 2. The canonical one uses 1,
    # however the edges were listed.
    coords = [(0, 0), (0.001, 0.001), (-0.001, 0.001), (0, 0.002)]
    for order in ([(0, 1, 50.0), (0, 2, 50.0), (1, 3, 50.0), (2, 3, 50.0)],
                  [(0, 2, 50.0), (2, 3, 50.0), (0, 1, 50.0), (1, 3, 50.0)]):
        back = [(v, u, w) for u, v, w in order]
        r = Router(_toy(order + back, coords))
        assert list(r.path(0, 3)) == [0, 1, 3]
        assert list(r.path(3, 0)) == [3, 1, 0]


def test_rows_are_cached_and_batched(g):
    r = Router(g, cache_rows=4)
    nodes = [0, 10, 20, 30, 40]
    cost, length = r.matrix(nodes, nodes)
    assert cost.shape == (5, 5) and np.all(np.diag(cost) == 0)
    assert r.cache_info()["searches"] == 5 and r.cache_info()["rows"] == 4
    again = Router(g).matrix(nodes, nodes)
    assert np.array_equal(cost, again[0]) and np.array_equal(length, again[1])


def test_conversion_handles_one_way_speeds_and_components():
    ids = np.array([10, 11, 12, 13, 14, 15])
    lat = np.array([0.0, 0.0, 0.001, 0.001, 0.5, 0.5])
    lon = np.array([0.0, 0.001, 0.001, 0.0, 0.0, 0.001])
    segs = [  # (u, v, highway, maxspeed, oneway, junction, way)
        (10, 11, "primary", "50", None, None, 1),
        (11, 12, "residential", None, "yes", None, 2),       # one way 11 -> 12
        (12, 13, "residential", "30 mph", "-1", None, 3),    # one way 13 -> 12
        (13, 10, "secondary", None, None, "roundabout", 4),  # roundabout: 13 -> 10 only
        (12, 10, "tertiary", "90;30", "no", None, 5),
        (12, 10, "tertiary", None, "no", None, 6),           # parallel: keeps the first (same length)
        (11, 13, "unclassified", None, "true", None, 8),     # one way 11 -> 13
        (14, 15, "primary", None, None, None, 7),            # an island: dropped
    ]
    a = osm_to_graph.build(ids, lat, lon, segs)
    pairs = {(int(u), int(v)) for u, v in zip(a["edge_u"], a["edge_v"])}
    osm = a["node_osm_id"]
    named = {(int(osm[u]), int(osm[v])) for u, v in pairs}
    assert named == {(10, 11), (11, 10), (11, 12), (13, 12), (13, 10), (12, 10), (10, 12),
                     (11, 13)}
    assert 14 not in osm and 15 not in osm
    sp = {(int(osm[u]), int(osm[v])): (float(s), bool(p)) for u, v, s, p in
          zip(a["edge_u"], a["edge_v"], a["edge_speed_kmh"], a["edge_speed_posted"])}
    assert sp[(10, 11)] == (50.0, True)
    assert sp[(11, 12)] == (osm_to_graph.CLASS_SPEED_KMH["residential"], False)
    assert sp[(13, 12)][0] == pytest.approx(48.3, abs=0.1)
    assert sp[(12, 10)] == (30.0, True)


def test_conversion_script_help_names_every_flag():
    out = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "osm_to_graph.py"), "--help"],
                         capture_output=True, text=True, check=True).stdout
    for flag in ("--pbf", "--name", "--out-dir", "--classes", "--source-note", "--max-mb", "--quiet"):
        assert flag in out
