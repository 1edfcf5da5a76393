"""The ETA seat on the legs of recorded days, open loop: leg MAE against the provider
and the leg-length deciles where the seat is worse than the provider.

Each day's driven legs (the engine's leg features and the world's true / provider
ratio, captured by replaying the day through the engine with an observer, as
``benchmarks/models.py`` does) are streamed through a fresh seat per zone in event
order, predict then learn (progressive validation), so every leg is scored before the
seat has learned it.  Unlike ``fleetstream evaluate`` (closed loop: a changed seat
changes the day it is scored on), every variant of the seat sees the same legs, so two
versions of the engine can be compared on the same days: run this script from each
checkout on the same ``--keep`` folders.

Per day: legs, the seat's and the provider's MAE (s), the reduction, the number of
leg-length deciles where the seat is worse than the provider (the target: 0), how many
of those by more than two standard errors of the paired difference ("beyond noise":
``fleetstream.report.scorecard.length_deciles``) and the worst decile's two MAEs; then
mean, sd and per-day values, and the deciles of all days' legs pooled (several times
more legs per decile: a decile still worse there is the seat's, not one day's chance).

    .venv/bin/python benchmarks/eta_legs.py --scenario small --seeds 1,2,3,4,5
    .venv/bin/python benchmarks/eta_legs.py --scenario andorra --seeds 5,6,7 --config map.toml --keep /tmp/and
    .venv/bin/python benchmarks/eta_legs.py /tmp/and/andorra-5 replay_data/metro --config map.toml
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def collect_legs(replay: str, config: str | None) -> list[dict]:
    """Every learned leg of a replay with the engine of ``config``: (zone, x, ratio)."""
    from fleetstream.connectors.files import read_replay
    from fleetstream.contract.settings import Settings
    from fleetstream.engine import LocalEngine
    from fleetstream.wiring import build_zone_engine

    s = Settings.load(config)
    legs: list[dict] = []

    def obs(kind: str, payload: dict) -> None:
        if kind == "leg":
            legs.append({"zone": payload["zone"], "x": dict(payload["x"]), "ratio": payload["ratio"]})

    def factory(zone: str):
        e = build_zone_engine(zone, s.engine, kind="baseline")
        e.observer = obs
        return e

    eng = LocalEngine(s.engine, zone_factory=factory)
    for msg in read_replay(replay):
        eng.process(msg)
    return [lg for lg in legs if _num(lg["x"].get("provider_s")) and _num(lg["x"].get("dist_km"))]


def _num(v) -> bool:
    return isinstance(v, (int, float)) and v == v and abs(v) != float("inf")


def score(legs: list[dict], kind: str = "linear") -> dict:
    """Stream ``legs`` through a fresh seat per zone (predict, then learn)."""
    from fleetstream.models.eta import RiverEta

    seats: dict[str, RiverEta] = {}
    err_m: list[float] = []
    err_p: list[float] = []
    for lg in legs:
        seat = seats.get(lg["zone"])
        if seat is None:
            seat = seats[lg["zone"]] = RiverEta(kind, seed=7)
        p = seat.predict_ratio(lg["x"])
        seat.learn(lg["x"], lg["ratio"])
        prov = lg["x"]["provider_s"]
        err_m.append(abs(lg["ratio"] - p) * prov)
        err_p.append(abs(lg["ratio"] - 1.0) * prov)
    from fleetstream.report.scorecard import length_deciles, worse_deciles

    n = len(legs)
    dist = [lg["x"]["dist_km"] for lg in legs]
    dec = length_deciles(dist, err_m, err_p)
    by = [(d["model_mae_s"], d["provider_mae_s"], d["n"]) for d in dec if d["n"]]
    n_worse, n_beyond = worse_deciles(dec)
    sm, sp = sum(err_m), sum(err_p)
    answers: dict[str, int] = {}
    for seat in seats.values():
        for k, v in seat.metrics().items():
            if k.startswith("answered_"):
                answers[k[9:]] = answers.get(k[9:], 0) + v
    return {"legs": n, "model_mae_s": sm / max(1, n), "provider_mae_s": sp / max(1, n),
            "reduction_pct": 100.0 * (1.0 - sm / sp) if sp else float("nan"),
            "worse_deciles": n_worse, "worse_beyond_noise": n_beyond,
            "worst": max(by, key=lambda b: b[0] - b[1]) if by else None,
            "deciles": by, "answers": answers,
            "errors": {"dist_km": dist, "err_model_s": err_m, "err_provider_s": err_p}}


def _simulate(scenario: str, seed: int, out: str, config: str | None,
              road_map: str | None = None) -> None:
    cmd = [sys.executable, "-m", "fleetstream.cli", "simulate", "--scenario", scenario,
           "--seed", str(seed), "--out", out, "-q"]
    if config:
        cmd += ["--config", config]
    if road_map:
        cmd += ["--road-map", road_map]
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("days", nargs="*", help="recorded day folders (replay folders); or use --scenario")
    ap.add_argument("--scenario", help="simulate this scenario once per --seeds (tiny, small, metro, "
                    "disrupted, zones8, andorra)")
    ap.add_argument("--seeds", default="1,2,3,4,5", help="seeds to simulate with --scenario "
                    "(default: 1,2,3,4,5)")
    ap.add_argument("--config", help="settings file of the engine that simulates and replays "
                    "(e.g. [engine] travel_provider = \"map\" for the road world)")
    ap.add_argument("--road-map", metavar="MAP", help="with --scenario: place the world on this "
                    "road graph (a shipped name or a .npz path; fleetstream simulate --road-map)")
    ap.add_argument("--keep", help="folder to keep the simulated days in (reused when present); "
                    "default: a temporary folder, removed")
    ap.add_argument("--kind", default="linear", help="ETA model family: linear, arf or hat "
                    "(default: linear)")
    ap.add_argument("--deciles", action="store_true", help="print every day's ten deciles "
                    "(seat / provider MAE, s)")
    a = ap.parse_args(argv)
    try:
        seeds = [int(s) for s in a.seeds.split(",") if s.strip()]
    except ValueError:
        print(f"eta_legs: --seeds must be integers separated by commas, not {a.seeds!r}", file=sys.stderr)
        return 2
    if bool(a.days) == bool(a.scenario):
        print("eta_legs: give either day folders or --scenario", file=sys.stderr)
        return 2
    tmp = None
    days: list[tuple[str, str]] = [(os.path.basename(os.path.normpath(d)), d) for d in a.days]
    if a.scenario:
        base = a.keep or (tmp := tempfile.mkdtemp(prefix="eta-legs-"))
        os.makedirs(base, exist_ok=True)
        for s in seeds:
            d = os.path.join(base, f"{a.scenario}-{s}")
            if not os.path.exists(os.path.join(d, "manifest.json")):
                print(f"eta_legs: simulating {a.scenario} seed {s}", file=sys.stderr)
                _simulate(a.scenario, s, d, a.config, a.road_map)
            days.append((f"seed {s}", d))
    rows = []
    try:
        for i, (name, d) in enumerate(days, 1):
            print(f"eta_legs: replaying {d} ({i}/{len(days)})", file=sys.stderr)
            r = score(collect_legs(d, a.config), a.kind)
            rows.append((name, r))
            w = r["worst"]
            print(f"{name}: {r['legs']} legs, MAE {r['model_mae_s']:.1f} s vs provider "
                  f"{r['provider_mae_s']:.1f} s: {r['reduction_pct']:.1f} % below; worse deciles "
                  f"{r['worse_deciles']}, {r['worse_beyond_noise']} beyond noise (worst {w[0]:.1f} "
                  f"vs {w[1]:.1f} s); answers {r['answers']}")
            if a.deciles:
                print("  deciles (seat / provider s): " + "  ".join(
                    f"{m:.0f}/{p:.0f}" for m, p, _n in r["deciles"]))
    finally:
        if tmp:
            import shutil
            shutil.rmtree(tmp, ignore_errors=True)
    from fleetstream.report.pooled import pooled_deciles_line, reduction_line

    print(reduction_line("days", [r["reduction_pct"] for _n, r in rows],
                         [r["worse_deciles"] for _n, r in rows],
                         [r["worse_beyond_noise"] for _n, r in rows]))
    if len(rows) > 1:
        print(pooled_deciles_line([r["errors"] for _n, r in rows], "legs"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
