"""The shipped road graph: loading (cached per process) and nearest-node snapping.

A graph is the ``.npz`` file ``scripts/osm_to_graph.py`` writes into
``fleetstream/roads/data/`` (docs/roads.md, "The graph"): nodes with
coordinates, directed edges sorted by (from, to) with length, road class and
posted-or-default speed.  Only numpy and scipy are needed to read it.

>>> g = load_graph("andorra")
>>> g.n_nodes > 10_000 and g.n_edges > 20_000
True
>>> idx, d = g.snap([(42.5078, 1.5211)])      # central Andorra la Vella
>>> bool(d[0] < 100)
True
"""

from __future__ import annotations

import functools
import json
import math
import os
from dataclasses import dataclass, field

import numpy as np

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
EARTH_RADIUS_M = 6_371_000.0
DEG_M = math.pi / 180.0 * EARTH_RADIUS_M


class GraphNotFound(LookupError):
    """No shipped graph of that name, and no graph file at that path."""


def available_graphs() -> list[str]:
    """Names of the graphs shipped in ``fleetstream/roads/data``."""
    if not os.path.isdir(DATA_DIR):
        return []
    return sorted(f[:-4] for f in os.listdir(DATA_DIR) if f.endswith(".npz"))


@dataclass(eq=False)
class RoadGraph:
    """A directed road graph.  Arrays are read-only numpy arrays; edges are sorted
    by (``u``, ``v``) so the out-edges of node ``i`` are ``out_ptr[i]:out_ptr[i+1]``."""

    name: str
    lat: np.ndarray          # float64 degrees, per node
    lon: np.ndarray
    osm_id: np.ndarray       # int64, per node
    u: np.ndarray            # int32, edge from-node
    v: np.ndarray            # int32, edge to-node
    length_m: np.ndarray     # float64, per edge
    road_class: np.ndarray   # uint8 index into ``classes``
    speed_kmh: np.ndarray    # float64: posted, else the class default
    speed_posted: np.ndarray  # bool
    classes: tuple
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.lat)
        self.n_nodes, self.n_edges = n, len(self.u)
        self.lat0 = float(np.mean(self.lat))
        self.lon0 = float(np.mean(self.lon))
        self._coslat0 = math.cos(math.radians(self.lat0))
        self.xy = np.column_stack(self.project(self.lat, self.lon))
        self.out_ptr = np.searchsorted(self.u, np.arange(n + 1)).astype(np.int64)
        # Undirected neighbours per node: junctions have three or more.
        nb = np.unique(np.concatenate([self.u.astype(np.int64) * n + self.v,
                                       self.v.astype(np.int64) * n + self.u]))
        self.degree = np.bincount(nb // n, minlength=n).astype(np.int32)
        self._key = self.u.astype(np.int64) * n + self.v   # sorted: edges are sorted by (u, v)
        self._tree = None
        for a in (self.xy, self.out_ptr, self.degree, self._key):
            a.setflags(write=False)

    # ------------------------------------------------------------------ geometry

    def project(self, lat, lon):
        """Local equirectangular projection in metres (x east, y north) around the
        graph's mean coordinate: within 0.1 % of great-circle distances over a
        city or a small country."""
        lat, lon = np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
        return (lon - self.lon0) * self._coslat0 * DEG_M, (lat - self.lat0) * DEG_M

    def unproject(self, x, y):
        return (np.asarray(y) / DEG_M + self.lat0,
                np.asarray(x) / (self._coslat0 * DEG_M) + self.lon0)

    @property
    def tree(self):
        if self._tree is None:
            from scipy.spatial import cKDTree
            self._tree = cKDTree(self.xy)
        return self._tree

    def snap(self, points) -> tuple[np.ndarray, np.ndarray]:
        """Nearest node of each ``(lat, lon)``: (node indices int64, distances in m).
        Ties (two nodes at exactly the same distance) go to the lower index."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        x, y = self.project(pts[:, 0], pts[:, 1])
        q = np.column_stack([x, y])
        d, idx = self.tree.query(q, k=2)
        # Canonical tie-break: among the two nearest at the same distance, the lower index.
        tie = d[:, 0] == d[:, 1]
        best = np.where(tie, np.minimum(idx[:, 0], idx[:, 1]), idx[:, 0])
        return best.astype(np.int64), d[:, 0]

    def node_point(self, i: int) -> tuple[float, float]:
        return (round(float(self.lat[i]), 7), round(float(self.lon[i]), 7))

    def edge_id(self, a: int, b: int) -> int:
        """Index of the edge ``a -> b`` (KeyError when there is none)."""
        k = a * self.n_nodes + b
        i = int(np.searchsorted(self._key, k))
        if i >= self.n_edges or self._key[i] != k:
            raise KeyError((a, b))
        return i

    def edge_ids(self, path: np.ndarray) -> np.ndarray:
        """Edge indices along a node path."""
        path = np.asarray(path, dtype=np.int64)
        keys = path[:-1] * self.n_nodes + path[1:]
        idx = np.searchsorted(self._key, keys)
        if len(idx) and (idx.max() >= self.n_edges or np.any(self._key[idx] != keys)):
            raise KeyError("path uses a missing edge")
        return idx

    def class_of(self, name: str) -> int:
        return self.classes.index(name) if name in self.classes else -1

    def distance_to_edges_m(self, points, radius_m: float = 200.0) -> np.ndarray:
        """Distance from each ``(lat, lon)`` to the nearest edge segment (for checks
        and tests; brute force over the edges near the point)."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        x, y = self.project(pts[:, 0], pts[:, 1])
        out = np.full(len(pts), np.inf)
        ax, ay = self.xy[self.u, 0], self.xy[self.u, 1]
        bx, by = self.xy[self.v, 0], self.xy[self.v, 1]
        near_nodes = self.tree.query_ball_point(np.column_stack([x, y]),
                                                r=radius_m + float(self.max_edge_m))
        for i, nodes in enumerate(near_nodes):
            if not nodes:
                continue
            nodes = np.asarray(nodes)
            e = np.concatenate([np.arange(self.out_ptr[n], self.out_ptr[n + 1]) for n in nodes])
            dx, dy = bx[e] - ax[e], by[e] - ay[e]
            L2 = np.maximum(dx * dx + dy * dy, 1e-9)
            t = np.clip(((x[i] - ax[e]) * dx + (y[i] - ay[e]) * dy) / L2, 0.0, 1.0)
            px, py = ax[e] + t * dx - x[i], ay[e] + t * dy - y[i]
            out[i] = float(np.sqrt(px * px + py * py).min())
        return out

    @functools.cached_property
    def max_edge_m(self) -> float:
        return float(self.length_m.max())

    def summary(self) -> dict:
        return {"name": self.name, "nodes": self.n_nodes, "edges": self.n_edges,
                "km_directed": round(float(self.length_m.sum()) / 1000, 1),
                "bbox": [round(float(self.lat.min()), 5), round(float(self.lon.min()), 5),
                         round(float(self.lat.max()), 5), round(float(self.lon.max()), 5)]}


def read_graph(path: str, name: str | None = None) -> RoadGraph:
    """Read a graph file written by ``scripts/osm_to_graph.py``."""
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta_json"]))
        arr = {k: z[k] for k in z.files}
    g = RoadGraph(
        name=name or meta.get("name") or os.path.basename(path)[:-4],
        lat=arr["node_lat_e7"].astype(np.float64) / 1e7,
        lon=arr["node_lon_e7"].astype(np.float64) / 1e7,
        osm_id=arr["node_osm_id"].astype(np.int64),
        u=arr["edge_u"].astype(np.int32), v=arr["edge_v"].astype(np.int32),
        length_m=arr["edge_length_m"].astype(np.float64),
        road_class=arr["edge_class"].astype(np.uint8),
        speed_kmh=arr["edge_speed_kmh"].astype(np.float64),
        speed_posted=arr["edge_speed_posted"].astype(bool),
        classes=tuple(str(c) for c in arr["classes"]), meta=meta)
    for a in (g.lat, g.lon, g.osm_id, g.u, g.v, g.length_m, g.road_class, g.speed_kmh,
              g.speed_posted):
        a.setflags(write=False)
    return g


def is_graph_path(name: str) -> bool:
    """A graph named by its file (``.npz``, or any name with a path separator) rather
    than by a shipped name."""
    return name.endswith(".npz") or os.sep in name or "/" in name


def graph_path(name: str) -> str:
    """The file of graph ``name``: a shipped name (``fleetstream/roads/data/NAME.npz``)
    or the path of a ``.npz`` written by scripts/osm_to_graph.py.  A missing one raises
    :class:`GraphNotFound` with a message of one line."""
    shipped = ", ".join(available_graphs()) or "none"
    if is_graph_path(name):
        if not name.endswith(".npz"):
            raise GraphNotFound(f"road graph {name!r}: a graph file ends in .npz (written by "
                                f"scripts/osm_to_graph.py); shipped graphs: {shipped}")
        if not os.path.isfile(name):
            raise GraphNotFound(f"road graph {name!r}: no such file")
        return name
    path = os.path.join(DATA_DIR, f"{name}.npz")
    if not os.path.isfile(path):
        raise GraphNotFound(f"no road graph {name!r} (shipped: {shipped}; or give the path of "
                            "a .npz written by scripts/osm_to_graph.py)")
    return path


@functools.lru_cache(maxsize=8)
def load_graph(name: str = "andorra") -> RoadGraph:
    """The shipped graph ``name`` (``fleetstream/roads/data/NAME.npz``), read once per
    process, or the graph file at that path (``graph_path``).  A file that is not such
    a graph raises :class:`GraphNotFound` too."""
    path = graph_path(name)
    try:
        return read_graph(path, None if is_graph_path(name) else name)
    except GraphNotFound:
        raise
    except Exception as e:   # not an npz, or not one of ours: one line, not a traceback
        why = str(e.args[0]) if isinstance(e, KeyError) and e.args else "not a readable .npz archive"
        raise GraphNotFound(f"road graph {name!r}: not a graph written by "
                            f"scripts/osm_to_graph.py ({why})") from None
