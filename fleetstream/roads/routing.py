"""Shortest paths on a :class:`~fleetstream.roads.graph.RoadGraph`.

A :class:`Router` answers "how long from any node to node ``t``" with one
Dijkstra search on the reversed graph (``scipy.sparse.csgraph.dijkstra`` with a
limited set of sources), and keeps the answer as a *row*: the cost from every
node to ``t``, the road length along the chosen path, the turns on it (a heading
change of more than ``TURN_DEG`` at a node: junction turns and bends) and the next
node on it.  Rows are cached (LRU, ``cache_rows``; 14 bytes per node each, about
220 kB on the Andorra graph), so a plan's matrix over N stops costs N
searches once, and a vehicle anywhere on the map reaches a cached stop for free.

Deterministic: the path tree is canonical, whatever order the search settled
nodes in.  From node ``u`` the next node is the *lowest-index* ``w`` with
``cost(u -> w) + cost_to_t(w) == cost_to_t(u)`` (exact float equality: that is
how the search computed it), so ties between equal-cost routes are broken by
node index.

>>> from fleetstream.roads.graph import load_graph
>>> r = Router(load_graph("andorra"))
>>> a, b = r.graph.snap([(42.5078, 1.5211), (42.5440, 1.5150)])[0]
>>> p = r.path(int(a), int(b))
>>> bool(p[0] == a and p[-1] == b)
True
>>> abs(r.cost(int(a), int(b)) / float(sum(r.weight[r.graph.edge_ids(p)])) - 1) < 1e-6
True
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from fleetstream.roads.graph import RoadGraph

TURN_DEG = 40.0
"""A path turns at a node where its heading changes by more than this (degrees)."""
_TURN_COS = float(np.cos(np.radians(TURN_DEG)))


def freeflow_weights(g: RoadGraph, junction_s: float = 0.0, speed_factor: float = 1.0) -> np.ndarray:
    """Seconds per edge at the edge's posted-or-default speed (times ``speed_factor``),
    plus ``junction_s`` on entering a junction (a node with three or more neighbours)."""
    w = g.length_m / (g.speed_kmh * speed_factor / 3.6)
    if junction_s:
        w = w + junction_s * (g.degree[g.v] >= 3)
    return w


class Row:
    """Everything about reaching one target node from anywhere."""

    __slots__ = ("target", "cost", "length", "nxt", "turns")

    def __init__(self, target: int, cost: np.ndarray, length: np.ndarray, nxt: np.ndarray,
                 turns: np.ndarray):
        self.target, self.cost, self.length, self.nxt = target, cost, length, nxt
        self.turns = turns


class Router:
    """Shortest paths by ``weight`` (seconds per edge; default: free flow)."""

    def __init__(self, graph: RoadGraph, weight: np.ndarray | None = None, cache_rows: int = 256):
        from scipy.sparse import csr_matrix
        self.graph = g = graph
        w = freeflow_weights(graph) if weight is None else np.asarray(weight, dtype=np.float64)
        if w.shape != (g.n_edges,) or not np.all(np.isfinite(w)) or w.min() <= 0:
            raise ValueError("edge weights must be finite and positive, one per edge")
        self.weight = w
        # Reversed graph: a search from t over it gives the cost from every node to t.
        self._rev = csr_matrix((w, (g.v, g.u)), shape=(g.n_nodes, g.n_nodes))
        self.cache_rows = max(1, int(cache_rows))
        self._rows: OrderedDict[int, Row] = OrderedDict()
        self.searches = 0

    # ------------------------------------------------------------------ rows

    def rows(self, targets) -> list[Row]:
        """The rows of ``targets`` (node indices), searching the missing ones in one
        batched call."""
        targets = [int(t) for t in targets]
        missing = sorted({t for t in targets if t not in self._rows})
        fresh: dict[int, Row] = {}
        if missing:
            from scipy.sparse.csgraph import dijkstra
            dist = dijkstra(self._rev, directed=True, indices=missing)
            dist = np.atleast_2d(dist)
            self.searches += len(missing)
            for t, d in zip(missing, dist):
                fresh[t] = self._row(t, d)
        out = []
        for t in targets:
            row = self._rows.get(t)
            if row is None:
                row = fresh[t]
                self._rows[t] = row
                if len(self._rows) > self.cache_rows:
                    self._rows.popitem(last=False)
            else:
                self._rows.move_to_end(t)
            out.append(row)
        return out

    def row(self, target: int) -> Row:
        return self.rows([target])[0]

    def _row(self, t: int, dist: np.ndarray) -> Row:
        g, w = self.graph, self.weight
        if not np.all(np.isfinite(dist)):
            raise ValueError(f"node {t} is not reachable from every node: the graph must be "
                             "strongly connected (scripts/osm_to_graph.py keeps the largest "
                             "strongly connected component)")
        # Canonical next hop: edges sorted by (u, v), so the first tight edge of u has the lowest v.
        tight = np.flatnonzero((w + dist[g.v]) == dist[g.u])
        first_u, first = np.unique(g.u[tight], return_index=True)
        nxt = np.full(g.n_nodes, t, dtype=np.int64)
        via = np.full(g.n_nodes, -1, dtype=np.int64)
        nxt[first_u] = g.v[tight[first]]
        via[first_u] = tight[first]
        nxt[t], via[t] = t, -1
        missing = np.flatnonzero(via < 0)
        if len(missing) != 1:   # float ties that were not exact: should never happen
            raise RuntimeError(f"no tight edge from {len(missing) - 1} nodes towards {t}")
        # A turn at the next node n of u: the heading u -> n and n -> next(n) differ by
        # more than TURN_DEG (none at the target, where the path ends).
        n2 = nxt[nxt]
        d1, d2 = g.xy[nxt] - g.xy, g.xy[n2] - g.xy[nxt]
        norm = np.hypot(d1[:, 0], d1[:, 1]) * np.hypot(d2[:, 0], d2[:, 1])
        turn = ((nxt != t) & (norm > 0)
                & ((d1 * d2).sum(axis=1) < _TURN_COS * norm)).astype(np.float64)
        # Road length and turns along the tree by pointer jumping (log2(depth) vector
        # steps).  The target points to itself with 0 m, so finished nodes add nothing.
        acc = g.length_m[np.maximum(via, 0)]
        acc[t] = 0.0
        turn[t] = 0.0
        p = nxt
        while (p != t).any():
            acc = acc + acc[p]
            turn = turn + turn[p]
            p = p[p]
        # Kept compact (14 bytes a node): float32 answers, computed from the exact search.
        return Row(t, dist.astype(np.float32), acc.astype(np.float32), nxt.astype(np.int32),
                   np.minimum(turn, 65535).astype(np.uint16))

    # ------------------------------------------------------------------ queries

    def cost(self, a: int, b: int) -> float:
        return float(self.row(b).cost[a])

    def length(self, a: int, b: int) -> float:
        return float(self.row(b).length[a])

    def turns(self, a: int, b: int) -> int:
        """Turns on the fastest path from ``a`` to ``b`` (see ``TURN_DEG``)."""
        return int(self.row(b).turns[a])

    def matrix(self, sources, targets) -> tuple[np.ndarray, np.ndarray]:
        """(cost, length) matrices ``[len(sources), len(targets)]``."""
        src = np.asarray(sources, dtype=np.int64)
        rows = self.rows(targets)
        cost = np.column_stack([r.cost[src] for r in rows]) if rows else np.zeros((len(src), 0))
        length = np.column_stack([r.length[src] for r in rows]) if rows else np.zeros((len(src), 0))
        return cost, length

    def path(self, a: int, b: int) -> np.ndarray:
        """Node indices from ``a`` to ``b`` inclusive."""
        nxt = self.row(b).nxt
        out = [a]
        while out[-1] != b:
            out.append(int(nxt[out[-1]]))
            if len(out) > self.graph.n_nodes:
                raise RuntimeError("path loop")
        return np.asarray(out, dtype=np.int64)

    def cache_info(self) -> dict:
        return {"rows": len(self._rows), "cache_rows": self.cache_rows, "searches": self.searches}
