"""Events/s of the full fleetstream flow vs a bare Bytewax pipeline, same events.

The bare pipeline reads the same replay file with the same source, decodes each
message with orjson, keys it and passes it through a stateful step: the floor
cost of Bytewax itself.  Each pipeline runs in its own subprocess so its peak
memory (max RSS) is its own.

    python benchmarks/replay_throughput.py [replay_data/metro] [--workers 1] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def bare(replay: str, workers: int, batch_size: int) -> dict:
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
    k = op.key_on("key", d, lambda e: str(e.get("vehicle_id") or e.get("order_id") or e.get("zone") or ""))
    p = op.stateful_batch("pass", k, lambda r: Pass(r))
    sink: list = []
    op.output("out", op.map("count", p, lambda kv: 1), TestingSink(sink))
    t0 = time.perf_counter()
    if workers == 1:
        run_main(flow)
    else:
        cluster_main(flow, [], 0, worker_count_per_proc=workers)
    return {"events": len(sink), "seconds": time.perf_counter() - t0}


def full(replay: str, workers: int, batch_size: int) -> dict:
    from fleetstream.replay import run_replay
    with tempfile.TemporaryDirectory() as out:
        s = run_replay(replay, out, workers=workers, batch_size=batch_size)
        return {"events": s.events_in, "seconds": s.seconds,
                "outputs": sum(v for k, v in s.counts.items() if not k.startswith("_"))}


def child(kind: str, replay: str, workers: int, batch_size: int) -> None:
    r = (bare if kind == "bare" else full)(replay, workers, batch_size)
    r["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(r))


def run_child(kind: str, replay: str, workers: int, batch_size: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", kind, replay, "--workers", str(workers),
                          "--batch-size", str(batch_size)],
                         check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("replay", nargs="?", default=os.path.join(ROOT, "replay_data", "metro"))
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=2, help="runs of each; the best is kept")
    ap.add_argument("--batch-size", type=int, default=2000,
                    help="source batch size for both pipelines (default 2000)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.child, a.replay, a.workers, a.batch_size)
        return
    best: dict[str, dict] = {}
    for _ in range(a.repeat):
        for kind in ("bare", "full"):
            r = run_child(kind, a.replay, a.workers, a.batch_size)
            r["eps"] = r["events"] / r["seconds"]
            if kind not in best or r["eps"] > best[kind]["eps"]:
                best[kind] = r
    b, f = best["bare"], best["full"]
    print(f"replay: {a.replay}  workers: {a.workers}  source batch: {a.batch_size}  "
          f"events: {f['events']:,}")
    print(f"bare bytewax pipeline : {b['eps']:>10,.0f} events/s  ({b['seconds']:.2f} s, peak RSS {b['max_rss_mb']:.0f} MB)")
    print(f"full fleetstream flow : {f['eps']:>10,.0f} events/s  ({f['seconds']:.2f} s, peak RSS {f['max_rss_mb']:.0f} MB, {f['outputs']:,} outputs)")
    print(f"ratio full/bare       : {f['eps'] / b['eps']:.3f}   (target >= 0.25, goal 0.5)")


if __name__ == "__main__":
    sys.path.insert(0, ROOT)
    main()
