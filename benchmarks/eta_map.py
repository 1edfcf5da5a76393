"""The engine's ETA with the haversine provider versus the map provider, on
simulated Andorra days (the road world, docs/roads.md).

For each seed and each provider, simulate the ``andorra`` scenario in closed
loop with the engine using that provider, then replay the recording through the
same engine and score it against the world's truth (``fleetstream.evaluate``'s
scorecard):

* ``haversine`` -- the engine as configured today;
* ``map``       -- the same engine with ``engine.travel_provider = "map"``
  (``MapProvider(MapNetwork("andorra"))``, see fleetstream/wiring.py).

Each provider is scored on its own closed-loop day: replaying one provider's
recording through an engine with the other provider would score ETAs of routes
the world never drove.  The two days share the seed (same customers, orders,
fleet, incidents), not the decisions.  Reported per seed, then mean and sd: the
raw providers' leg error on the day's legs (truth/legs: ``provider_s`` is
haversine, ``map_s`` the map provider), and for each engine the scorecard's
leg MAE (model, provider), arrival ETA MAE (model, provider, and on the
predictions whose plan held), the 80/95 % interval coverage and the day's
on-time rate.

Usage::

    .venv/bin/python benchmarks/eta_map.py                    # seeds 5,6,7
    .venv/bin/python benchmarks/eta_map.py --seeds 5,6,7,8,9 --keep /tmp/andorra-days
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import sys
import tempfile
import time

import orjson

from fleetstream.contract.settings import EngineSettings, Settings
from fleetstream.evaluate import score_replay
from fleetstream.sim.record import record


def _raw_leg_errors(replay: str) -> dict:
    with gzip.open(os.path.join(replay, "truth", "legs.jsonl.gz"), "rb") as f:
        legs = [orjson.loads(x) for x in f if x.strip()]
    n = max(1, len(legs))
    return {"legs": len(legs),
            "haversine_mae_s": sum(abs(x["true_s"] - x["provider_s"]) for x in legs) / n,
            "map_mae_s": sum(abs(x["true_s"] - x["map_s"]) for x in legs) / n}


def _day(path: str, seed: int, provider: str, speed_factor: float = 1.0,
         junction_s: float = 0.0) -> dict:
    """Simulate (unless ``path`` holds the day already) and score, with ``provider``
    chosen by the engine setting ``travel_provider`` (docs/configuration.md)."""
    es = EngineSettings(travel_provider=provider, travel_map="andorra",
                        travel_map_speed_factor=speed_factor, travel_map_junction_s=junction_s)
    if not os.path.isfile(os.path.join(path, "manifest.json")):
        record("andorra", path, seed=seed, settings=es, progress=False)
    card, _ = score_replay(path, Settings(engine=es), progress=False)
    with open(os.path.join(path, "manifest.json"), "rb") as f:
        kpis = orjson.loads(f.read())["closed_loop_kpis"]
    held = card["eta"].get("plan_held", {})
    return {"raw": _raw_leg_errors(path), "on_time": kpis["on_time_rate"],
            "eta_held_model_mae_s": held.get("model", {}).get("mae_s", float("nan")),
            "eta_held_provider_mae_s": held.get("provider", {}).get("mae_s", float("nan")),"leg_model_mae_s": card["legs"]["model_mae_s"],
            "leg_provider_mae_s": card["legs"]["provider_mae_s"],
            "eta_model_mae_s": card["eta"]["model"]["mae_s"],
            "eta_provider_mae_s": card["eta"]["provider"]["mae_s"],
            "coverage80": card["intervals"]["80"]["coverage"],
            "coverage95": card["intervals"]["95"]["coverage"]}


def _stats(xs: list[float]) -> str:
    sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
    return f"mean {statistics.mean(xs):8.1f}  sd {sd:7.1f}  per seed " + " ".join(f"{x:.1f}" for x in xs)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Engine ETA with the haversine provider vs the map "
                                             "provider on simulated Andorra days (mean, sd, per seed).")
    ap.add_argument("--seeds", default="5,6,7", help="comma-separated seeds (default: %(default)s)")
    ap.add_argument("--providers", default="haversine,map",
                    help="comma-separated providers to run: haversine, map (default: %(default)s)")
    ap.add_argument("--map-speed-factor", type=float, default=1.0,
                    help="MapNetwork speed_factor of the map provider (default: %(default)s)")
    ap.add_argument("--map-junction-s", type=float, default=0.0,
                    help="MapNetwork junction_s of the map provider (default: %(default)s)")
    ap.add_argument("--keep", default=None,
                    help="directory to keep the recordings in (andorra-SEED); an existing "
                         "recording there is reused (default: a temporary directory)")
    args = ap.parse_args(argv)
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        print(f"eta_map.py: --seeds must be integers, got {args.seeds!r}", file=sys.stderr)
        return 2
    if not seeds:
        print("eta_map.py: no seeds", file=sys.stderr)
        return 2
    providers = [p.strip() for p in args.providers.split(",") if p.strip()]
    if not providers or set(providers) - {"haversine", "map"}:
        print(f"eta_map.py: --providers takes haversine and/or map, got {args.providers!r}",
              file=sys.stderr)
        return 2
    if not args.map_speed_factor > 0 or args.map_junction_s < 0:
        print("eta_map.py: --map-speed-factor must be > 0 and --map-junction-s >= 0", file=sys.stderr)
        return 2
    tag = "" if (args.map_speed_factor, args.map_junction_s) == (1.0, 0.0) else \
        f"-f{args.map_speed_factor:g}-j{args.map_junction_s:g}"
    base = args.keep or tempfile.mkdtemp(prefix="eta-map-")
    rows = []
    for seed in seeds:
        t = time.perf_counter()
        row = {p: _day(os.path.join(base, f"andorra-{seed}-{p}{tag if p == 'map' else ''}"), seed, p,
                       args.map_speed_factor, args.map_junction_s)
               for p in providers}
        rows.append(row)
        print(f"seed {seed} ({time.perf_counter() - t:.0f} s)", flush=True)
        for p, r in row.items():
            print(f"  engine+{p:<9} legs {r['raw']['legs']} raw leg MAE haversine "
                  f"{r['raw']['haversine_mae_s']:.1f} map {r['raw']['map_mae_s']:.1f} | leg MAE model "
                  f"{r['leg_model_mae_s']} provider {r['leg_provider_mae_s']} | ETA MAE model "
                  f"{r['eta_model_mae_s']} provider {r['eta_provider_mae_s']} (plan held: "
                  f"{r['eta_held_model_mae_s']} / {r['eta_held_provider_mae_s']}) | cov80 "
                  f"{r['coverage80']} cov95 {r['coverage95']} | on-time {r['on_time']}", flush=True)
    print(f"\n{len(seeds)} seeds ({', '.join(map(str, seeds))}), recordings in {base}")
    for p in providers:
        print(f"raw leg MAE on the engine+{p} days: haversine "
              + _stats([r[p]["raw"]["haversine_mae_s"] for r in rows]))
        print(f"raw leg MAE on the engine+{p} days: map       "
              + _stats([r[p]["raw"]["map_mae_s"] for r in rows]))
    for p in providers:
        for key in ("leg_model_mae_s", "leg_provider_mae_s", "eta_model_mae_s", "eta_provider_mae_s",
                    "eta_held_model_mae_s", "eta_held_provider_mae_s", "coverage80", "coverage95",
                    "on_time"):
            xs = [float(r[p][key]) for r in rows]
            if key.startswith("coverage") or key == "on_time":
                xs = [x * 100 for x in xs]
            print(f"engine+{p:<9} {key:<24} " + _stats(xs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
