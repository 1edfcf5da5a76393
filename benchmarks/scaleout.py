"""Scale-out of the replay flow: 1 process vs N Bytewax processes (``fleetstream replay
-p N``) on a day of 8 or more zones, with a byte-identical check of every run's outputs.

By default the ``zones8`` scenario (8 zones, ~75k events) is simulated first into a
temporary folder (about 20-40 s); ``--replay`` uses an existing folder instead.
Each configuration is ``processes:lanes`` (``--configs``); runs are interleaved
(p1, p2, p1, p2...) so that every configuration sees the same machine load.  Per
configuration: wall time of the flow (mean, sd; process start-up included),
speedup over the first configuration, and the CPU seconds of the busiest
process.  ``cpu-bound speedup`` = CPU seconds of the 1-process run / CPU seconds
of the busiest process of the N-process run: what the split of the work allows
on idle cores, much less dependent on what else runs on the machine (the wall-time
speedup is not: on a loaded 2-core machine N processes share the same cores).
It is meaningful with zone plans solved inline (``--set engine.solver_workers=0``):
a solver pool's CPU is not in the 1-process figure.  ``total cpu s`` is the CPU of
the whole process tree of a run (pools included): what scale-out costs in all.

    python benchmarks/scaleout.py [--replay DIR] [--runs 3] [--configs 1:1,2:1,2:2]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def child(replay: str, out: str, processes: int, lanes: int, workers: int,
          overrides: list[str]) -> None:
    from fleetstream.contract.settings import Settings
    from fleetstream.replay import FILE_TOPICS, run_replay
    st = Settings.load(None, overrides=dict(kv.split("=", 1) for kv in overrides))
    s = run_replay(replay, out, st.engine, workers=workers, processes=processes, lanes=lanes,
                   limits=st.limits)
    digest = hashlib.sha256()
    for t in FILE_TOPICS:
        with open(os.path.join(out, t + ".jsonl"), "rb") as f:
            digest.update(t.encode() + b"\0" + f.read() + b"\0")
    try:  # reap this process's solver pool, if any, so that its CPU is counted below
        from fleetstream.operators.jobs import shutdown_pool
        shutdown_pool()
    except ImportError:
        pass
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    tree = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
    print(json.dumps({"seconds": s.seconds, "events": s.events_in,
                      "process_cpu_s": s.process_cpu_s, "tree_cpu_s": tree,
                      "sha256": digest.hexdigest(),
                      "decisions": s.counts.get("fs.decisions", 0)}))


def run_one(replay: str, tmp: str, processes: int, lanes: int, workers: int,
            overrides: list[str]) -> dict:
    out = os.path.join(tmp, f"out_p{processes}_l{lanes}")
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, __file__, "--child", replay, out, str(processes),
                          str(lanes), str(workers)] + [f"--set={kv}" for kv in overrides],
                         capture_output=True, text=True, cwd=ROOT)
    if res.returncode != 0:
        sys.stderr.write(res.stderr)
        raise SystemExit(f"run p{processes} lanes {lanes} failed (exit {res.returncode})")
    r = json.loads(res.stdout.strip().splitlines()[-1])
    r["wall_incl_start"] = time.perf_counter() - t0
    shutil.rmtree(out, ignore_errors=True)
    return r


def simulate(tmp: str, scenario: str) -> str:
    path = os.path.join(tmp, scenario)
    print(f"simulating the {scenario} scenario into {path} ...", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "fleetstream.cli", "simulate", "--scenario", scenario,
                    "--out", path, "-q"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    print(f"  done in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    return path


def _zones(replay: str) -> str:
    try:
        with open(os.path.join(replay, "manifest.json"), "rb") as f:
            return str(json.load(f)["sizes"]["zones"])
    except (OSError, KeyError, ValueError):
        return "?"


def _mean_sd(xs: list[float]) -> tuple[float, float]:
    return statistics.mean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--replay", metavar="DIR",
                    help="replay folder to use (default: simulate --scenario into a temp dir)")
    ap.add_argument("--scenario", default="zones8",
                    help="scenario simulated when --replay is not given (default zones8)")
    ap.add_argument("--runs", type=int, default=3, help="runs of each configuration (default 3)")
    ap.add_argument("--configs", default="1:1,2:1,2:2",
                    help="comma-separated PROCESSES:LANES configurations; the first is the "
                    "reference for speedups and bytes (default 1:1,2:1,2:2)")
    ap.add_argument("--workers", type=int, default=1,
                    help="Bytewax workers per process (default 1)")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                    help="settings override for every run, as `fleetstream replay --set` "
                    "(e.g. engine.solver_workers=0 solves zone plans inline)")
    ap.add_argument("--json", metavar="FILE", help="also write every run's figures to FILE")
    ap.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        replay, out, p, lanes, w = a.child
        child(replay, out, int(p), int(lanes), int(w), a.set)
        return
    configs = [tuple(int(x) for x in c.split(":")) for c in a.configs.split(",")]
    tmp = tempfile.mkdtemp(prefix="fs_scaleout_")
    try:
        replay = a.replay or simulate(tmp, a.scenario)
        zones = _zones(replay)
        runs: dict[tuple, list[dict]] = {c: [] for c in configs}
        load0 = os.getloadavg()[0]
        t0 = time.perf_counter()
        for i in range(a.runs):
            for c in configs:
                r = run_one(replay, tmp, c[0], c[1], a.workers, a.set)
                runs[c].append(r)
                print(f"[{time.perf_counter() - t0:6.0f} s] run {i + 1}/{a.runs} "
                      f"p{c[0]} lanes {c[1]}: {r['seconds']:.1f} s, cpu "
                      f"{'+'.join(f'{x:.1f}' for x in r['process_cpu_s'])} s, "
                      f"sha {r['sha256'][:12]}", file=sys.stderr, flush=True)
        load1 = os.getloadavg()[0]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    ref = runs[configs[0]]
    ref_sha = ref[0]["sha256"]
    ref_wall = [r["seconds"] for r in ref]
    ref_cpu = [max(r["process_cpu_s"]) for r in ref]
    print(f"replay: {a.replay or a.scenario + ' (simulated)'}  zones: {zones}  "
          f"events: {ref[0]['events']:,}  decisions: {ref[0]['decisions']:,}  runs: {a.runs}  "
          f"workers/process: {a.workers}  settings: {' '.join(a.set) or 'defaults'}  "
          f"load average (1 min) {load0:.1f} -> {load1:.1f} on "
          f"{os.cpu_count()} CPUs")
    print(f"{'config':<14}{'wall s mean':>12}{'sd':>7}{'speedup':>9}{'sd':>7}"
          f"{'total cpu s':>15}{'busiest-process cpu s':>23}{'cpu-bound speedup':>19}  identical")
    for c in configs:
        rs = runs[c]
        wall = [r["seconds"] for r in rs]
        busiest = [max(r["process_cpu_s"]) for r in rs]
        sp = [w0 / w for w0, w in zip(ref_wall, wall)]
        cpu_sp = [c0 / b for c0, b in zip(ref_cpu, busiest)]
        same = all(r["sha256"] == ref_sha for r in rs)
        wm, wsd = _mean_sd(wall)
        spm, spsd = _mean_sd(sp)
        bm, bsd = _mean_sd(busiest)
        cm, csd = _mean_sd(cpu_sp)
        tm, tsd = _mean_sd([r["tree_cpu_s"] for r in rs])
        print(f"{f'p{c[0]} lanes {c[1]}':<14}{wm:>12.1f}{wsd:>7.1f}{spm:>9.2f}{spsd:>7.2f}"
              f"{f'{tm:.1f} +- {tsd:.1f}':>15}"
              f"{f'{bm:.1f} +- {bsd:.1f}':>23}{f'{cm:.2f} +- {csd:.2f}':>19}  "
              f"{'yes' if same else 'NO'}")
    all_same = all(r["sha256"] == ref_sha for rs in runs.values() for r in rs)
    print(f"outputs byte-identical across all {sum(len(v) for v in runs.values())} runs: "
          f"{'yes' if all_same else 'NO'}")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"args": vars(a), "runs": {f"p{c[0]}:l{c[1]}": v for c, v in runs.items()}},
                      fh, indent=1)
    if not all_same:
        raise SystemExit(1)


if __name__ == "__main__":
    sys.path.insert(0, ROOT)
    main()
