"""Solomon VRPTW benchmark of both plan backends: gap to the best-known distance,
every solution checked by the independent checker.

Runs PyVRP (operators/routing/pyvrp_backend.py) and OR-Tools
(operators/routing/ortools_backend.py) on the 56 Solomon instances and prints per
instance and backend: distance, vehicles, gap to the best-known distance (CVRPLIB
distance-only convention: Euclidean truncated to one decimal, exact integers at
scale 10), the checker's verdict and the seconds; then per backend the mean and
worst gap, feasible count and vehicles.

Budgets are counts, so results do not depend on the machine or its load: PyVRP
``--iterations`` (default 12000, about 8-10 s per instance on this shared 2-core
machine) with ``--seed``; OR-Tools ``--solutions`` (default 600, about 10 s).  The
wall clock is only a guard (``--guard``, reported when hit).  ``--solutions 0``
gives OR-Tools the old wall-clock budget ``--time-limit`` instead (not
deterministic).  ``--repeat`` runs everything a second time and reports whether
every result (routes, not only distances) is identical; ``--busy K`` runs K
busy-looping processes meanwhile (determinism under CPU load).

    python benchmarks/solomon.py [--backends pyvrp,ortools] [--iterations 12000]
                                 [--solutions 600] [--instances C101,R205] [--limit N]
                                 [--workers 2] [--repeat] [--busy 1] [--out results.json]
                                 [--lns-time-limit S]

``--gh DIR`` runs Gehring-Homberger instances (``*.txt`` in DIR, same format,
200-1000 customers) instead; gaps need a best-known csv in the Solomon format
(``--bks FILE``).  Data: ../shared/data/solomon (FLEETSTREAM_SOLOMON_DIR).
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing as mp
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import orjson  # noqa: E402

from fleetstream.operators.routing import pyvrp_backend  # noqa: E402
from fleetstream.operators.routing.checker import check_plan  # noqa: E402
from fleetstream.operators.routing.io import SOLOMON_DIR, read_bks, read_gehring_homberger, read_solomon  # noqa: E402
from fleetstream.operators.routing.ortools_backend import SolverParams, solve  # noqa: E402

FAMILIES = ("C1", "C2", "R1", "R2", "RC1", "RC2")


def family(name: str) -> str:
    stem = name.rstrip("0123456789")
    return stem + name[len(stem)] if len(name) > len(stem) else stem


def routes_hash(routes: dict) -> str:
    body = orjson.dumps({k: [list(s) for s in v] for k, v in sorted(routes.items()) if v})
    return hashlib.sha256(body).hexdigest()[:16]


def run_one(args: tuple) -> dict:
    name, path, backend, a = args
    p = read_gehring_homberger(path) if a["gh"] else read_solomon(path)
    t0 = time.perf_counter()
    if backend == "pyvrp":
        res = pyvrp_backend.solve(p, pyvrp_backend.PyVRPParams(
            iterations=a["iterations"], seed=a["seed"], guard_s=a["guard"]))
        budget = f"{a['iterations']} it"
    else:
        sol = a["solutions"] or None
        res = solve(p, SolverParams(time_limit_s=a["guard"] if sol else a["time_limit"], scale=10.0,
                                    first_solution="savings", gls_lambda=0.3, solution_limit=sol,
                                    lns_time_limit_s=a["lns"]))
        budget = f"{sol} sol" if sol else f"{a['time_limit']} s"
    secs = time.perf_counter() - t0
    row = {"instance": name, "backend": backend, "budget": budget, "seconds": round(secs, 2)}
    if res is None or not any(res.routes.values()):
        return {**row, "feasible": False, "distance": None, "vehicles": None, "guard_hit": bool(res and res.guard_hit),
                "hash": None}
    rep = check_plan(p, res.routes)
    return {**row, "feasible": rep.feasible, "distance": round(rep.distance, 1), "vehicles": rep.vehicles_used,
            "violations": len(rep.violations), "iterations_or_solutions": res.solutions,
            "guard_hit": res.guard_hit, "hash": routes_hash(res.routes)}


def _busy() -> None:  # pragma: no cover - a competing CPU load
    x = 0
    while True:
        x = (x * 1103515245 + 12345) % 2**31


def run_all(names, paths, backends, a, workers, bks) -> list[dict]:
    jobs = [(n, paths[n], b, a) for n in names for b in backends]
    rows = []
    print(f"{'instance':<9} {'backend':<8} {'distance':>9} {'bks':>9} {'gap %':>7} {'veh':>4} {'bks veh':>7} "
          f"{'check':>10} {'seconds':>8}", flush=True)
    with ProcessPoolExecutor(max_workers=max(1, workers)) as ex:
        for r in ex.map(run_one, jobs):
            b = bks.get(r["instance"])
            r["bks"] = b["distance"] if b else None
            r["bks_vehicles"] = b["vehicles"] if b else None
            r["gap_pct"] = (round(100 * (r["distance"] / b["distance"] - 1), 2)
                            if b and r["distance"] else None)
            rows.append(r)
            gap = r["gap_pct"] if r["gap_pct"] is not None else float("nan")
            print(f"{r['instance']:<9} {r['backend']:<8} {r['distance'] or 0:>9.1f} {r['bks'] or 0:>9.1f} "
                  f"{gap:>7.2f} {r['vehicles'] or 0:>4} {r['bks_vehicles'] or 0:>7} "
                  f"{'feasible' if r['feasible'] else 'INFEASIBLE':>10} {r['seconds']:>8.2f}"
                  f"{'  GUARD HIT' if r['guard_hit'] else ''}", flush=True)
    return rows


def summarise(rows: list[dict], backend: str) -> dict:
    rs = [r for r in rows if r["backend"] == backend]
    gaps = [r["gap_pct"] for r in rs if r["gap_pct"] is not None]
    worst = max(rs, key=lambda r: r["gap_pct"] if r["gap_pct"] is not None else -1e9) if rs else None
    s = {"backend": backend, "instances": len(rs), "budget": rs[0]["budget"] if rs else None,
         "feasible": sum(1 for r in rs if r["feasible"]),
         "guard_hits": sum(1 for r in rs if r.get("guard_hit")),
         "mean_gap_pct": round(sum(gaps) / len(gaps), 3) if gaps else None,
         "worst_gap_pct": max(gaps) if gaps else None,
         "worst_instance": worst["instance"] if worst and gaps else None,
         "vehicles": sum(r["vehicles"] or 0 for r in rs),
         "bks_vehicles": sum(r["bks_vehicles"] or 0 for r in rs),
         "mean_seconds": round(sum(r["seconds"] for r in rs) / len(rs), 2) if rs else None,
         "max_seconds": max((r["seconds"] for r in rs), default=None)}
    for fam in FAMILIES:
        fg = [r["gap_pct"] for r in rs if r["gap_pct"] is not None and family(r["instance"]) == fam]
        if fg:
            s[f"mean_gap_{fam}"] = round(sum(fg) / len(fg), 2)
    return s


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backends", default="pyvrp,ortools")
    ap.add_argument("--iterations", type=int, default=12_000, help="PyVRP iterations per instance")
    ap.add_argument("--seed", type=int, default=0, help="PyVRP seed")
    ap.add_argument("--solutions", type=int, default=600,
                    help="OR-Tools solutions per instance (0: wall-clock --time-limit instead)")
    ap.add_argument("--time-limit", type=float, default=10.0, help="OR-Tools seconds with --solutions 0")
    ap.add_argument("--lns-time-limit", type=float, default=None,
                    help="override OR-Tools' lns_time_limit, seconds (default: never binds)")
    ap.add_argument("--guard", type=float, default=300.0, help="wall-clock guard per solve, seconds")
    ap.add_argument("--limit", type=int, default=0, help="only the first N instances")
    ap.add_argument("--instances", default="", help="comma list, e.g. C101,R205")
    ap.add_argument("--workers", type=int, default=1, help="solves in parallel (one core each)")
    ap.add_argument("--repeat", action="store_true", help="run twice, report whether results are identical")
    ap.add_argument("--busy", type=int, default=0, help="busy-looping processes meanwhile (CPU load)")
    ap.add_argument("--data", default=SOLOMON_DIR)
    ap.add_argument("--gh", default="", help="directory of Gehring-Homberger instances instead")
    ap.add_argument("--bks", default="", help="best-known csv (default: the Solomon CVRPLIB one)")
    ap.add_argument("--out", default="", help="write the results as JSON")
    a = ap.parse_args(argv)
    backends = [b.strip() for b in a.backends.split(",") if b.strip()]
    bks = read_bks(a.bks or os.path.join(a.data, "bks_solomon_cvrplib.csv")) if (a.bks or not a.gh) else {}
    if a.gh:
        paths = {os.path.splitext(f)[0].upper(): os.path.join(a.gh, f)
                 for f in sorted(os.listdir(a.gh)) if f.lower().endswith(".txt")}
    else:
        paths = {n: os.path.join(a.data, "instances", f"{n}.txt") for n in bks}
    names = sorted(paths, key=lambda n: (family(n), n))
    if a.instances:
        names = [n.strip().upper() for n in a.instances.split(",") if n.strip()]
    if a.limit:
        names = names[: a.limit]
    opts = {"iterations": a.iterations, "seed": a.seed, "solutions": a.solutions,
            "time_limit": a.time_limit, "guard": a.guard, "gh": bool(a.gh), "lns": a.lns_time_limit}
    busy = [mp.Process(target=_busy, daemon=True) for _ in range(a.busy)]
    for b in busy:
        b.start()
    try:
        rows = run_all(names, paths, backends, opts, a.workers, bks)
        again = run_all(names, paths, backends, opts, a.workers, bks) if a.repeat else None
    finally:
        for b in busy:
            b.terminate()
            b.join()
    summary = {"backends": [summarise(rows, b) for b in backends], "busy": a.busy, "workers": a.workers,
               "load_avg_1m_end": round(os.getloadavg()[0], 2)}
    if again is not None:
        first = {(r["instance"], r["backend"]): (r["hash"], r["distance"]) for r in rows}
        for s in summary["backends"]:
            diff = [r["instance"] for r in again if r["backend"] == s["backend"]
                    and first[(r["instance"], r["backend"])] != (r["hash"], r["distance"])]
            s["identical_on_repeat"] = not diff
            s["differ_on_repeat"] = diff
    print(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode())
    if a.out:
        with open(a.out, "wb") as f:
            f.write(orjson.dumps({"summary": summary, "rows": rows, "repeat": again},
                                 option=orjson.OPT_INDENT_2))
    return 0 if all(r["feasible"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
