"""The road network a travel-time provider queries: a shipped graph and a router
behind the small :class:`fleetstream.operators.traveltime_map.RoadNetwork`
protocol (snap a point, cost and length between nodes, a matrix for plans).

It lives here, above the operators layer, because the operators may not import
``fleetstream.roads`` (tests/test_layers.py): the engine's provider receives a
:class:`MapNetwork` and only calls its methods.  A :class:`MapNetwork` pickles
as its parameters (a few bytes, not the graph): the worker process that unpickles
it loads the shipped graph once (``load_graph`` is cached per process) and
builds its own caches, which change no answer.

>>> net = MapNetwork("andorra")
>>> n, d = net.snap((42.5078, 1.5211))
>>> import pickle; net2 = pickle.loads(pickle.dumps(net))
>>> net2.snap((42.5078, 1.5211)) == (n, d) and len(pickle.dumps(net)) < 300
True
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from fleetstream.roads.graph import load_graph
from fleetstream.roads.routing import Router, freeflow_weights


class MapNetwork:
    """Free-flow shortest paths on the shipped graph ``name``.

    * ``junction_s`` -- seconds added on entering a junction (a node with three or
      more neighbours): a simple turn/junction cost, 0 by default;
    * ``speed_factor`` -- multiplier on every posted-or-default speed (1 = the map);
    * ``cache_rows`` -- rows (all-to-one searches) kept, least recently used out;
    * ``cache_points`` -- snapped points kept.
    """

    def __init__(self, name: str = "andorra", junction_s: float = 0.0, speed_factor: float = 1.0,
                 cache_rows: int = 256, cache_points: int = 50_000):
        if junction_s < 0 or not speed_factor > 0:
            raise ValueError("junction_s must be >= 0 and speed_factor > 0")
        self.name, self.junction_s, self.speed_factor = name, float(junction_s), float(speed_factor)
        self.cache_rows, self.cache_points = int(cache_rows), int(cache_points)
        self.graph = load_graph(name)
        self.router = Router(self.graph, freeflow_weights(self.graph, self.junction_s,
                                                          self.speed_factor), self.cache_rows)
        self._points: OrderedDict[tuple, tuple[int, float]] = OrderedDict()

    def __reduce__(self):
        return (MapNetwork, (self.name, self.junction_s, self.speed_factor, self.cache_rows,
                             self.cache_points))

    def __repr__(self) -> str:
        return (f"MapNetwork({self.name!r}, junction_s={self.junction_s}, "
                f"speed_factor={self.speed_factor})")

    @property
    def key(self) -> str:
        """What determines every answer (the cache size does not)."""
        return f"{self.name}:{self.graph.meta.get('source_sha256', '')[:12]}:" \
               f"j{self.junction_s:g}:f{self.speed_factor:g}"

    def snap(self, point: tuple[float, float]) -> tuple[int, float]:
        """(nearest node, distance in metres) of ``(lat, lon)``."""
        key = (float(point[0]), float(point[1]))
        hit = self._points.get(key)
        if hit is not None:
            return hit
        idx, d = self.graph.snap([key])
        hit = (int(idx[0]), float(d[0]))
        self._points[key] = hit
        if len(self._points) > self.cache_points:
            self._points.popitem(last=False)
        return hit

    def snap_many(self, points) -> tuple[np.ndarray, np.ndarray]:
        return self.graph.snap(points)

    def cost_length(self, a: int, b: int) -> tuple[float, float]:
        """(free-flow seconds, metres) of the fastest path from node ``a`` to ``b``."""
        row = self.router.row(b)
        return float(row.cost[a]), float(row.length[a])

    def turns(self, a: int, b: int) -> int:
        """Turns (heading changes over ``routing.TURN_DEG``: junction turns and bends)
        on the fastest path from node ``a`` to ``b``."""
        return self.router.turns(a, b)

    def matrix(self, sources, targets) -> tuple[np.ndarray, np.ndarray]:
        """(seconds, metres) matrices between node lists, searched in one batch."""
        return self.router.matrix(sources, targets)

    def cache_info(self) -> dict:
        return {"points": len(self._points), **self.router.cache_info()}
