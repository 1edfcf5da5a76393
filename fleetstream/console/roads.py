"""Road geometry for the map's background, from the graphs shipped with
``fleetstream.roads`` and any graph file given to the console (``--road-map``;
OpenStreetMap, docs/roads.md): every road segment with an end inside the requested
box, each undirected segment once."""

from __future__ import annotations

from typing import Any

MAJOR = ("motorway", "trunk", "primary", "secondary", "tertiary")
MAX_SEGMENTS = 60000


def road_segments(lat0: float, lon0: float, lat1: float, lon1: float,
                  max_segments: int = MAX_SEGMENTS, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """``{"graphs": [names], "attribution": str, "segments": [[lat, lon, lat, lon,
    major], ...]}`` for the shipped graphs and the graph files ``extra`` (paths of
    ``.npz`` written by scripts/osm_to_graph.py) overlapping the box (empty when none
    does, or when fleetstream.roads is not available).  Beyond ``max_segments``
    only major roads are kept."""
    try:
        import numpy as np

        from fleetstream.roads import available_graphs, load_graph
    except ImportError:
        return {"graphs": [], "attribution": "", "segments": []}
    names, segs = [], []
    for name in [*available_graphs(), *(e for e in extra if e not in available_graphs())]:
        g = load_graph(name)
        if (g.lat.max() < lat0 or g.lat.min() > lat1 or g.lon.max() < lon0
                or g.lon.min() > lon1):
            continue
        inside = (g.lat >= lat0) & (g.lat <= lat1) & (g.lon >= lon0) & (g.lon <= lon1)
        m = inside[g.u] | inside[g.v]
        if not m.any():
            continue
        u, v, cls = g.u[m].astype(np.int64), g.v[m].astype(np.int64), g.road_class[m]
        key = np.minimum(u, v) * g.n_nodes + np.maximum(u, v)
        _, first = np.unique(key, return_index=True)
        u, v, cls = u[first], v[first], cls[first]
        major = np.isin(cls, [i for i, c in enumerate(g.classes) if c in MAJOR])
        if len(u) > max_segments:
            u, v, major = u[major], v[major], major[major]
        rows = np.column_stack([g.lat[u], g.lon[u], g.lat[v], g.lon[v]]).round(6)
        segs += [[*r, int(mj)] for r, mj in zip(rows.tolist(), major.tolist())]
        names.append(g.name)
    return {"graphs": names, "segments": segs[:max_segments],
            "attribution": "© OpenStreetMap contributors (ODbL)" if names else ""}
