"""Events/s of the full fleetstream flow vs a bare Bytewax pipeline, same events, and
the per-event processing cost of the zone step.

The bare pipeline reads the same replay file with the same source, decodes each
message with orjson, keys it and passes it through a stateful step: the floor
cost of Bytewax itself.  Each pipeline runs in its own subprocess so its peak
memory (max RSS) is its own.  Runs alternate (bare, full, bare, full...) so both
see the same machine load; the ratio is taken run by run.

The full run also times every call of the zone step (``zone_step``: the zone
engine on one event, as the flow calls it) with ``time.perf_counter`` -- here, in
the benchmark, never in the engine -- and reports its distribution: p50, p90,
p99, p99.9, max, the calls over 5 ms and over 50 ms, and the 10 slowest with
their event type and what they emitted.  (With ``--processes`` > 1 the zone steps
run in other processes and are not timed.)

    python benchmarks/replay_throughput.py [replay_data/metro] [--workers 1] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def bare(replay: str, workers: int, batch_size: int, processes: int) -> dict:
    import bytewax.operators as op
    import orjson
    from bytewax.dataflow import Dataflow
    from bytewax.testing import TestingSink, cluster_main, run_main

    from fleetstream.connectors.files import ReplaySource

    class Pass(op.StatefulBatchLogic):
        def __init__(self, resume):
            self.n = resume or 0

        def on_batch(self, values):
            self.n += len(values)
            return values, False

        def snapshot(self):
            return self.n

    def decode(m):
        try:
            e = orjson.loads(m.value)
        except orjson.JSONDecodeError:
            return {}
        return e if isinstance(e, dict) else {}

    flow = Dataflow("bare")
    s = op.input("in", flow, ReplaySource(replay, batch_size=batch_size))
    d = op.map("decode", s, decode)
    k = op.key_on("key", d, lambda e: str(e.get("vehicle_id") or e.get("order_id")
                                          or e.get("zone") or ""))
    p = op.stateful_batch("pass", k, lambda r: Pass(r))
    sink: list = []
    op.output("out", op.map("count", p, lambda kv: 1), TestingSink(sink))
    t0 = time.perf_counter()
    if workers == 1:
        run_main(flow)
    else:
        cluster_main(flow, [], 0, worker_count_per_proc=workers)
    return {"events": len(sink), "seconds": time.perf_counter() - t0}


class ZoneStepTimer:
    """Wraps ``zone_step`` where the flow's zone logic calls it; keeps every duration."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, int, str, str, str]] = []

    def install(self) -> None:
        from fleetstream.flows import logic
        inner = logic.zone_step
        samples = self.samples
        clock = time.perf_counter

        def timed(engine, msg, ev):
            t = clock()
            out = inner(engine, msg, ev)
            samples.append((clock() - t, msg.seq, ev.TYPE, engine.zone, _emitted(out)))
            return out

        logic.zone_step = timed

    def report(self) -> dict:
        d = sorted(s[0] for s in self.samples)
        n = len(d)
        if not n:
            return {"count": 0}

        def q(p: float) -> float:
            return d[min(n - 1, int(p * n))] * 1000.0

        slow = sorted(self.samples, key=lambda s: -s[0])[:10]
        return {"count": n, "total_s": sum(d), "p50_ms": q(0.50), "p90_ms": q(0.90),
                "p99_ms": q(0.99), "p999_ms": q(0.999), "max_ms": d[-1] * 1000.0,
                "over_5ms": sum(1 for x in d if x > 0.005),
                "over_50ms": sum(1 for x in d if x > 0.050),
                "slowest": [{"ms": round(s[0] * 1000.0, 1), "seq": s[1], "type": s[2],
                             "zone": s[3], "emitted": s[4]} for s in slow]}


def _emitted(out: list) -> str:
    """What one zone step emitted: topic (decision kinds / alert kinds) counts."""
    parts: dict[str, int] = {}
    for topic, rec in out:
        kind = rec.get("kind")
        k = topic.removeprefix("fs.") + (f":{kind}" if kind and topic != "fs.eta" else "")
        parts[k] = parts.get(k, 0) + 1
    return ", ".join(f"{k} x{v}" if v > 1 else k for k, v in sorted(parts.items())) or "-"


def full(replay: str, workers: int, batch_size: int, processes: int) -> dict:
    from fleetstream.replay import run_replay
    timer = ZoneStepTimer()
    timer.install()
    with tempfile.TemporaryDirectory() as out:
        s = run_replay(replay, out, workers=workers, batch_size=batch_size, processes=processes)
        r = {"events": s.events_in, "seconds": s.seconds,
             "outputs": sum(v for k, v in s.counts.items() if not k.startswith("_")),
             "zone_step": timer.report(), "process_cpu_s": s.process_cpu_s}
    try:  # solver jobs (zone plans in a process pool): a zone step may wait for one
        from fleetstream.operators.jobs import METRICS
        r["solver_jobs"] = dict(METRICS)
    except ImportError:
        pass
    return r


def child(kind: str, replay: str, workers: int, batch_size: int, processes: int) -> None:
    r = (bare if kind == "bare" else full)(replay, workers, batch_size, processes)
    r["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(r))


def run_child(kind: str, a: argparse.Namespace) -> dict:
    procs = a.processes if kind == "full" else 1
    out = subprocess.run([sys.executable, __file__, "--child", kind, a.replay,
                          "--workers", str(a.workers), "--batch-size", str(a.batch_size),
                          "--processes", str(procs)],
                         check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _ms(x: float) -> str:
    return f"{x:.3f} ms" if x < 1 else f"{x:,.1f} ms" if x < 100 else f"{x:,.0f} ms"


def print_zone_step(z: dict) -> None:
    if not z.get("count"):
        print("zone step cost        : not timed (zone steps ran in other processes)")
        return
    print(f"zone step cost per event ({z['count']:,} calls, {z['total_s']:.1f} s in all):")
    print(f"  p50 {_ms(z['p50_ms'])}  p90 {_ms(z['p90_ms'])}  p99 {_ms(z['p99_ms'])}  "
          f"p99.9 {_ms(z['p999_ms'])}  max {_ms(z['max_ms'])}")
    print(f"  over 5 ms: {z['over_5ms']:,}   over 50 ms: {z['over_50ms']:,}")
    print("  10 slowest (ms, input seq, event type, zone -> what it emitted):")
    for s in z["slowest"]:
        print(f"    {s['ms']:>9,.1f}  seq {s['seq']:>7}  {s['type']:<18} {s['zone']:<4} -> "
              f"{s['emitted']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("replay", nargs="?", default=os.path.join(ROOT, "replay_data", "metro"),
                    help="replay folder (default replay_data/metro)")
    ap.add_argument("--workers", type=int, default=1,
                    help="Bytewax workers per process (default 1)")
    ap.add_argument("--processes", type=int, default=1,
                    help="processes of the full flow (fleetstream replay -p; default 1); the "
                    "zone step is timed only with 1")
    ap.add_argument("--repeat", type=int, default=2,
                    help="runs of each pipeline (default 2); mean, sd and best are reported")
    ap.add_argument("--batch-size", type=int, default=2000,
                    help="source batch size for both pipelines (default 2000)")
    ap.add_argument("--json", metavar="FILE", help="also write every run's figures to FILE")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.child, a.replay, a.workers, a.batch_size, a.processes)
        return
    runs: dict[str, list[dict]] = {"bare": [], "full": []}
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    for i in range(a.repeat):
        for kind in ("bare", "full"):
            print(f"[{time.perf_counter() - t0:6.0f} s] run {i + 1}/{a.repeat}: {kind} ...",
                  file=sys.stderr, flush=True)
            r = run_child(kind, a)
            r["eps"] = r["events"] / r["seconds"]
            runs[kind].append(r)
            print(f"[{time.perf_counter() - t0:6.0f} s]   {kind}: {r['eps']:,.0f} events/s "
                  f"({r['seconds']:.1f} s)", file=sys.stderr, flush=True)
    b_eps = [r["eps"] for r in runs["bare"]]
    f_eps = [r["eps"] for r in runs["full"]]
    ratios = [f / b for f, b in zip(f_eps, b_eps)]
    n_workers = a.workers * a.processes
    f, b = runs["full"][-1], runs["bare"][-1]

    def ms(xs: list[float]) -> str:
        sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
        return f"mean {statistics.mean(xs):>10,.0f}  sd {sd:>8,.0f}  best {max(xs):>10,.0f}"

    print(f"replay: {a.replay}  processes: {a.processes}  workers/process: {a.workers}  "
          f"source batch: {a.batch_size}  events: {f['events']:,}  runs: {a.repeat}  "
          f"load average (1 min) {load0:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"bare bytewax pipeline : events/s {ms(b_eps)}  (peak RSS {b['max_rss_mb']:.0f} MB)")
    print(f"full fleetstream flow : events/s {ms(f_eps)}  (peak RSS {f['max_rss_mb']:.0f} MB, "
          f"{f['outputs']:,} outputs)")
    print(f"full flow per worker  : events/s {ms([x / n_workers for x in f_eps])}  "
          f"({n_workers} worker{'s' if n_workers > 1 else ''})")
    sd = statistics.stdev(ratios) if len(ratios) > 1 else 0.0
    print(f"ratio full/bare       : mean {statistics.mean(ratios):.4f}  sd {sd:.4f}   "
          f"(target >= 0.25, goal 0.5)")
    print_zone_step(f["zone_step"])
    j = f.get("solver_jobs")
    if j and j.get("submitted"):
        print(f"  solver jobs: {j['submitted']:.0f} submitted, {j.get('waits', 0):.0f} waited for "
              f"at their due event time ({j.get('wait_s', 0.0):.1f} s in all, longest "
              f"{j.get('max_wait_s', 0.0):.1f} s): those waits are inside the zone steps above")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"args": vars(a), "runs": runs}, fh, indent=1)


if __name__ == "__main__":
    sys.path.insert(0, ROOT)
    main()
