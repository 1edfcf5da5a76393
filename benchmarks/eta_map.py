"""The engine's ETA with the haversine provider versus the map provider, on
simulated Andorra days (the road world, docs/roads.md).

For each seed: simulate the ``andorra`` scenario in closed loop (today's engine,
its default haversine provider), then replay the recording through the engine
twice and score it against the world's truth (``fleetstream.evaluate``'s
scorecard):

* ``haversine`` -- the engine as configured today;
* ``map``       -- the same engine whose zone engines get
  ``MapProvider(MapNetwork("andorra"))``, by replacing the default provider in
  ``fleetstream.operators.zone.engine`` inside this script (the product has no
  setting for it yet).

The replays are counterfactual for the second run (the world does not react to
different decisions), which is what an ETA comparison needs: same legs, same
truth.  Reported per seed, then mean and sd: the raw providers' leg error
(truth/legs: ``provider_s`` is haversine, ``map_s`` the map provider), and for
each engine run the scorecard's leg MAE (model, provider), arrival ETA MAE
(model, provider) and the 80/95 % interval coverage.

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

from fleetstream.contract.settings import Settings
from fleetstream.evaluate import score_replay
from fleetstream.operators.traveltime_map import MapProvider
from fleetstream.operators.zone import engine as zone_engine
from fleetstream.roads.network import MapNetwork
from fleetstream.sim.record import record


def _raw_leg_errors(replay: str) -> dict:
    with gzip.open(os.path.join(replay, "truth", "legs.jsonl.gz"), "rb") as f:
        legs = [orjson.loads(x) for x in f if x.strip()]
    n = max(1, len(legs))
    return {"legs": len(legs),
            "haversine_mae_s": sum(abs(x["true_s"] - x["provider_s"]) for x in legs) / n,
            "map_mae_s": sum(abs(x["true_s"] - x["map_s"]) for x in legs) / n}


def _score(replay: str, provider: str) -> dict:
    original = zone_engine.HaversineProvider
    if provider == "map":
        network = MapNetwork("andorra")
        zone_engine.HaversineProvider = lambda: MapProvider(network)  # type: ignore[assignment]
    try:
        card, _ = score_replay(replay, Settings(), progress=False)
    finally:
        zone_engine.HaversineProvider = original  # type: ignore[assignment]
    return {"leg_model_mae_s": card["legs"]["model_mae_s"],
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
    base = args.keep or tempfile.mkdtemp(prefix="eta-map-")
    rows = []
    for seed in seeds:
        path = os.path.join(base, f"andorra-{seed}")
        t = time.perf_counter()
        if not os.path.isfile(os.path.join(path, "manifest.json")):
            record("andorra", path, seed=seed, progress=False)
        raw = _raw_leg_errors(path)
        hav = _score(path, "haversine")
        mp = _score(path, "map")
        rows.append((seed, raw, hav, mp))
        print(f"seed {seed}: legs {raw['legs']}  raw MAE haversine {raw['haversine_mae_s']:.1f} s, "
              f"map {raw['map_mae_s']:.1f} s | engine+haversine: leg model {hav['leg_model_mae_s']} "
              f"provider {hav['leg_provider_mae_s']}, ETA model {hav['eta_model_mae_s']} provider "
              f"{hav['eta_provider_mae_s']}, cov80 {hav['coverage80']} cov95 {hav['coverage95']} | "
              f"engine+map: leg model {mp['leg_model_mae_s']} provider {mp['leg_provider_mae_s']}, "
              f"ETA model {mp['eta_model_mae_s']} provider {mp['eta_provider_mae_s']}, cov80 "
              f"{mp['coverage80']} cov95 {mp['coverage95']}  ({time.perf_counter() - t:.0f} s)",
              flush=True)
    print(f"\n{len(seeds)} seeds ({', '.join(map(str, seeds))}), recordings in {base}")
    print("raw leg MAE, haversine provider (s)   " + _stats([r[1]["haversine_mae_s"] for r in rows]))
    print("raw leg MAE, map provider (s)         " + _stats([r[1]["map_mae_s"] for r in rows]))
    for label, k in (("haversine", 2), ("map", 3)):
        for key in ("leg_model_mae_s", "leg_provider_mae_s", "eta_model_mae_s", "eta_provider_mae_s",
                    "coverage80", "coverage95"):
            xs = [float(r[k][key]) for r in rows]
            if key.startswith("coverage"):
                xs = [x * 100 for x in xs]
            print(f"engine+{label:<9} {key:<20} " + _stats(xs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
