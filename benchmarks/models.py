"""Model benchmark: speed of each seat model, ETA model comparison, flow events/s.

1. ETA model comparison on real legs: the legs of a replay (features captured by
   the engine, true/provider ratio as label) are streamed through each ETA model
   family in event order, predict-then-learn per zone; prints progressive ratio
   MAE (what chose the default) and predictions / learning updates per second.
2. Per-seat speed on those legs / synthetic inputs: intervals and risk models.
3. Flow events/s over the replay with the baseline seats and with the learned
   seats (``fleetstream.replay.run_replay``, one worker, each in its own
   subprocess), and the bare Bytewax pipeline of ``benchmarks/replay_throughput.py``.

    python benchmarks/models.py [replay_data/metro] [--skip-flow] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

from eta_legs import collect_legs  # noqa: E402 - a sibling script (benchmarks/ is on the path)


def eta_comparison(legs: list[dict]) -> list[dict]:
    from fleetstream.models.eta import ETA_KINDS, RiverEta
    rows = []
    for kind in ETA_KINDS:
        models: dict[str, RiverEta] = {}
        err = errp = 0.0
        t_pred = t_learn = 0.0
        for leg in legs:
            m = models.get(leg["zone"])
            if m is None:
                m = models[leg["zone"]] = RiverEta(kind, seed=7)
            t0 = time.perf_counter()
            p = m.predict_ratio(leg["x"])
            t1 = time.perf_counter()
            m.learn(leg["x"], leg["ratio"])
            t2 = time.perf_counter()
            t_pred += t1 - t0
            t_learn += t2 - t1
            err += abs(leg["ratio"] - p)
            errp += abs(leg["ratio"] - 1.0)
        n = max(1, len(legs))
        rows.append({"model": f"eta/{kind}", "legs": len(legs), "ratio_mae": err / n,
                     "provider_ratio_mae": errp / n,
                     "predict_per_s": n / t_pred if t_pred else float("nan"),
                     "learn_per_s": n / t_learn if t_learn else float("nan")})
    return rows


def seat_speed(n: int = 20000) -> list[dict]:
    from fleetstream.models.intervals import ConformalIntervals
    from fleetstream.models.risk import RiverRisk
    rng = random.Random(1)
    rows = []
    iv = ConformalIntervals()
    xs = [{"horizon_s": rng.uniform(0, 9000), "stops_ahead": 2, "zone": "Z", "hour": 9.0,
           "pace_var": 0.1} for _ in range(n)]
    rs = [rng.gauss(60, 300) for _ in range(n)]
    t0 = time.perf_counter()
    for x, r in zip(xs, rs):
        iv.update(x, r)
    t1 = time.perf_counter()
    for x in xs:
        iv.interval(x)
    t2 = time.perf_counter()
    rows.append({"model": "intervals/aci", "predict_per_s": n / (t2 - t1), "learn_per_s": n / (t1 - t0)})
    for target in ("late", "failure"):
        m = RiverRisk(target)
        xr = [{"slack_s": rng.gauss(600, 1500), "width80_s": rng.uniform(600, 3000),
               "horizon_s": rng.uniform(0, 7200), "stops_ahead": rng.randrange(10), "priority": 0,
               "hour": rng.uniform(7, 18), "zone": "Z", "fleet_type": "captive", "vehicle_type": "van",
               "cust_failures": rng.randrange(3), "cust_deliveries": rng.randrange(5),
               "cust_access_failures": 0, "access_difficulty_known": rng.random() < 0.15,
               "kind": "parcel"} for _ in range(n // 4)]
        ys = [rng.random() < 0.2 for _ in xr]
        t0 = time.perf_counter()
        for x, y in zip(xr, ys):
            m.learn(x, y)
        t1 = time.perf_counter()
        for x in xr:
            m.predict_proba(x)
        t2 = time.perf_counter()
        rows.append({"model": f"{target}_risk/logreg", "predict_per_s": len(xr) / (t2 - t1),
                     "learn_per_s": len(xr) / (t1 - t0)})
    return rows


def flow_child(kind: str, replay: str) -> dict:
    import resource
    if kind == "bare":
        sys.path.insert(0, HERE)
        from replay_throughput import bare
        r = bare(replay, 1, 2000)
    else:
        from functools import partial

        import fleetstream.replay as fr
        from fleetstream.wiring import build_zone_engine
        fr.build_zone_engine = partial(build_zone_engine, kind=kind)
        with tempfile.TemporaryDirectory() as out:
            s = fr.run_replay(replay, out, workers=1)
            r = {"events": s.events_in, "seconds": s.seconds}
    r["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return r


def run_flow(kind: str, replay: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", kind, replay], check=True,
                         capture_output=True, text=True, cwd=ROOT)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    r["eps"] = r["events"] / r["seconds"]
    return r


def snapshot_sizes(legs: list[dict]) -> dict:
    """Bytes of one zone's learned seats after learning that zone's legs."""
    import pickle

    from fleetstream.models.seats import learned_seats
    zones: dict[str, object] = {}
    for leg in legs:
        s = zones.get(leg["zone"])
        if s is None:
            s = zones[leg["zone"]] = learned_seats(leg["zone"])
        s.eta.learn(leg["x"], leg["ratio"])
    return {z: len(pickle.dumps(s.snapshot())) for z, s in zones.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("replay", nargs="?", default=os.path.join(ROOT, "replay_data", "metro"))
    ap.add_argument("--skip-flow", action="store_true", help="only the model benchmarks")
    ap.add_argument("--repeat", type=int, default=1, help="flow runs of each kind; the best is kept")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(flow_child(a.child, a.replay)))
        return
    print(f"replay: {a.replay}")
    legs = collect_legs(a.replay, None)
    print(f"\nETA model comparison on {len(legs):,} real legs (progressive, per zone, in event order)")
    print(f"{'model':<22}{'ratio MAE':>10}{'provider':>10}{'predict/s':>12}{'learn/s':>12}")
    for r in eta_comparison(legs):
        print(f"{r['model']:<22}{r['ratio_mae']:>10.4f}{r['provider_ratio_mae']:>10.4f}"
              f"{r['predict_per_s']:>12,.0f}{r['learn_per_s']:>12,.0f}")
    print("\nother seats (synthetic inputs)")
    for r in seat_speed():
        print(f"{r['model']:<22}{'':>20}{r['predict_per_s']:>12,.0f}{r['learn_per_s']:>12,.0f}")
    sizes = snapshot_sizes(legs)
    print("\nsnapshot of one zone's learned seats (pickle bytes): "
          + ", ".join(f"{z} {n:,}" for z, n in sorted(sizes.items())))
    if a.skip_flow:
        return
    best: dict[str, dict] = {}
    for _ in range(a.repeat):
        for kind in ("bare", "baseline", "learned"):
            r = run_flow(kind, a.replay)
            if kind not in best or r["eps"] > best[kind]["eps"]:
                best[kind] = r
    print("\nflow events/s (1 worker)")
    for kind in ("bare", "baseline", "learned"):
        r = best[kind]
        ratio = r["eps"] / best["bare"]["eps"]
        print(f"  {kind:<9} {r['eps']:>10,.0f} events/s  ({r['seconds']:.1f} s, peak RSS "
              f"{r['max_rss_mb']:.0f} MB, {ratio:.3f} of bare)")
    print(f"  learned / baseline: {best['learned']['eps'] / best['baseline']['eps']:.3f}")


if __name__ == "__main__":
    sys.path.insert(0, ROOT)
    main()
