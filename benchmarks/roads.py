"""Road-graph speed: loading, snapping, shortest-path matrices, the map provider.

Measured with ``time.perf_counter`` here (never in the product), over several
seeds (random point and stop sets), reported as mean, sd and per seed:

* ``load``        -- reading the shipped graph (first ``load_graph`` of a process;
                     later calls are cached);
* ``snap batch``  -- snapping N random points in one call (per point);
* ``snap one``    -- snapping one point at a time through ``MapNetwork.snap``
                     (uncached points; per point);
* ``matrix cold`` -- a K x K travel-time matrix between random stops with an empty
                     cache (K all-to-one searches, one batched Dijkstra call);
* ``matrix warm`` -- the same matrix again (rows cached);
* ``travel_s``    -- one ``MapProvider.travel_s`` call between cached stops.

Usage::

    .venv/bin/python benchmarks/roads.py                  # 5 seeds, 100 x 100
    .venv/bin/python benchmarks/roads.py --seeds 3 --size 50 --points 2000
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

from fleetstream.operators.traveltime_map import MapProvider
from fleetstream.roads.graph import DATA_DIR, load_graph, read_graph
from fleetstream.roads.network import MapNetwork


def _fmt(xs: list[float], unit: str, scale: float) -> str:
    v = [x * scale for x in xs]
    sd = statistics.stdev(v) if len(v) > 1 else 0.0
    return (f"mean {statistics.mean(v):9.3f} {unit}  sd {sd:8.3f}  per seed "
            + " ".join(f"{x:.3f}" for x in v))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Time the road graph: load, snapping, shortest-path "
                                             "matrices and the map provider (mean, sd, per seed).")
    ap.add_argument("--graph", default="andorra", help="shipped graph name (default: %(default)s)")
    ap.add_argument("--seeds", type=int, default=5, help="random point sets (default: %(default)s)")
    ap.add_argument("--size", type=int, default=100,
                    help="stops per side of the matrix (default: %(default)s)")
    ap.add_argument("--points", type=int, default=10_000,
                    help="points snapped per seed (default: %(default)s)")
    args = ap.parse_args(argv)
    if args.seeds < 1 or args.size < 2 or args.points < 1:
        print("roads.py: --seeds >= 1, --size >= 2 and --points >= 1", file=sys.stderr)
        return 2
    t = time.perf_counter()
    g = load_graph(args.graph)
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    read_graph(os.path.join(DATA_DIR, f"{args.graph}.npz"))
    reread_s = time.perf_counter() - t
    print(f"graph {args.graph}: {g.n_nodes:,} nodes, {g.n_edges:,} edges; first load "
          f"{load_s * 1000:.0f} ms (with imports), re-read {reread_s * 1000:.0f} ms")
    lat0, lat1, lon0, lon1 = g.lat.min(), g.lat.max(), g.lon.min(), g.lon.max()
    res: dict[str, list[float]] = {k: [] for k in ("snap_batch", "snap_one", "cold", "warm", "tt")}
    for seed in range(args.seeds):
        rng = np.random.default_rng(seed)
        pts = np.column_stack([rng.uniform(lat0, lat1, args.points), rng.uniform(lon0, lon1, args.points)])
        g.tree  # built once per process, outside the timing
        t = time.perf_counter()
        g.snap(pts)
        res["snap_batch"].append((time.perf_counter() - t) / args.points)
        net = MapNetwork(args.graph, cache_rows=max(256, args.size))
        k = min(2000, args.points)
        t = time.perf_counter()
        for p in pts[:k]:
            net.snap((float(p[0]), float(p[1])))
        res["snap_one"].append((time.perf_counter() - t) / k)
        stops = rng.choice(g.n_nodes, size=args.size, replace=False)
        t = time.perf_counter()
        net.matrix(stops, stops)
        res["cold"].append(time.perf_counter() - t)
        t = time.perf_counter()
        net.matrix(stops, stops)
        res["warm"].append(time.perf_counter() - t)
        prov = MapProvider(net)
        sp = [(float(g.lat[s]), float(g.lon[s])) for s in stops]
        for a in sp:                      # warm the snaps
            net.snap(a)
        n = 0
        t = time.perf_counter()
        for a in sp:
            for b in sp[:20]:
                prov.travel_s(a, b, 0.0)
                n += 1
        res["tt"].append((time.perf_counter() - t) / n)
    print(f"snap batch ({args.points:,} points)   " + _fmt(res["snap_batch"], "us/point", 1e6))
    print("snap one at a time          " + _fmt(res["snap_one"], "us/point", 1e6))
    print(f"matrix {args.size}x{args.size} cold         " + _fmt(res["cold"], "s", 1.0))
    print(f"matrix {args.size}x{args.size} warm         " + _fmt(res["warm"], "ms", 1e3))
    print("travel_s (cached rows)      " + _fmt(res["tt"], "us/call", 1e6))
    return 0


if __name__ == "__main__":
    sys.exit(main())
