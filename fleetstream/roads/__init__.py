"""Road networks from OpenStreetMap: the shipped graph, snapping, shortest paths.

* :mod:`fleetstream.roads.graph` -- :func:`load_graph` (cached per process),
  :class:`RoadGraph` (nodes, directed edges, nearest-node snapping);
* :mod:`fleetstream.roads.routing` -- :class:`Router` (Dijkstra rows to a target,
  cached; canonical, deterministic path trees).

Graphs are converted once by ``scripts/osm_to_graph.py`` and shipped in
``fleetstream/roads/data/`` with their OpenStreetMap (ODbL) attribution
(docs/roads.md).  Runtime needs numpy and scipy only.
"""

from fleetstream.roads.graph import GraphNotFound, RoadGraph, available_graphs, load_graph
from fleetstream.roads.routing import Router, freeflow_weights

__all__ = ["GraphNotFound", "RoadGraph", "Router", "available_graphs", "freeflow_weights",
           "load_graph"]
