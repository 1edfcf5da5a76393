"""Per-event processing cost of the zone engine, and what the slow events did.

Runs a replay through the in-process engine (``fleetstream.engine.LocalEngine``:
the same decode / track / zone_step steps as the Bytewax flow, one message at a
time) and times every zone-engine ``process`` call with ``time.perf_counter_ns``
-- here, in the benchmark, never in the engine.  It also times, inside each
event, what the event triggered:

* ``refresh``   -- ETA / interval / risk refresh of a vehicle's remaining stops
                   (``Forecasting.refresh``);
* ``risk``      -- the risk response (``Response.handle_risk``), split into
                   ``redispatch`` and the rest (re-route, alert, notify);
* ``sweep``     -- periodic work, split into ``plan`` (request a zone plan),
                   ``reopt`` (request a re-optimization) and ``insert``
                   (``assign_pending``: insertion of pending orders);
* ``gc0/1/2``   -- pauses of Python's cyclic garbage collector (by generation),
                   whatever was running (they are also inside the classes above);
* ``apply``     -- applying due solver jobs (``apply_due_jobs``), minus
* ``wait``      -- the time spent waiting in ``SolverJobs.result`` for a solve
                   still running at its due event time.  That is the cost of a
                   late solve, not of the event, so the distribution is reported
                   with and without it.  With ``--set engine.solver_workers=0``
                   the solve happens inline at request time instead (then it is
                   inside ``plan`` / ``reopt``).

The main figure is wall time (``perf_counter_ns``); the thread's CPU time
(``thread_time_ns``, which does not count time the thread was preempted on a busy
machine) of each event is reported beside it.  Reported: p50 / p90 / p99 / p99.9 / max, the events over 5 ms and over 50 ms,
the slow events (over ``--slow-ms``) by event type and by their dominant
trigger, and the slowest events one by one.  ``--profile refresh`` (or
``risk``, ``sweep``, ``apply``, ``event``) runs cProfile over every call of that
class and prints the top functions.

    python benchmarks/event_cost.py [replay_data/metro] [--set engine.solver_workers=0]
        [--profile refresh] [--clock cpu] [--risk-jobs 30] [--limit N] [--json out.json]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import pstats
import sys
import time
from collections import Counter, defaultdict
from typing import Any, Callable

from fleetstream.connectors.files import count_lines, read_replay
from fleetstream.contract.settings import Settings
from fleetstream.engine import LocalEngine
from fleetstream.operators.zone import response
from fleetstream.wiring import build_zone_engine

CLASSES = ("refresh", "risk", "redispatch", "sweep", "plan", "reopt", "insert", "apply", "wait",
           "gc0", "gc1", "gc2")
clock = time.perf_counter_ns
cpu = time.thread_time_ns   # CPU time of this thread: what the event cost without preemption


class Recorder:
    """Per-event accumulators of the time spent in each triggered class."""

    def __init__(self, profile: str | None) -> None:
        self.cur: dict[str, int] = {}
        self.prof = cProfile.Profile() if profile else None
        self.profile = profile
        # (wall ns, event index, type, zone, {class: wall ns in it}, thread CPU ns)
        self.samples: list[tuple[int, int, str, str, dict[str, int], int]] = []

    def wrap(self, obj: Any, attr: str, name: str) -> None:
        inner: Callable = getattr(obj, attr)
        cur_of = self  # the accumulator dict is replaced per event
        prof = self.prof if self.profile == name else None

        def timed(*a: Any, **k: Any) -> Any:
            if prof is not None:
                prof.enable()
            t = clock()
            try:
                return inner(*a, **k)
            finally:
                dt = clock() - t
                if prof is not None:
                    prof.disable()
                c = cur_of.cur
                c[name] = c.get(name, 0) + dt
                c[name + "#"] = c.get(name + "#", 0) + 1

        setattr(obj, attr, timed)

    def watch_gc(self) -> None:
        """Count the cyclic garbage collector's pauses as a class of their own."""
        t0 = [0]

        def cb(phase: str, info: dict) -> None:
            if phase == "start":
                t0[0] = clock()
            else:
                c = self.cur
                key = f"gc{info['generation']}"
                c[key] = c.get(key, 0) + clock() - t0[0]

        gc.callbacks.append(cb)

    def instrument(self, z: Any) -> Any:
        """Wrap the capability methods of one zone engine (instance attributes)."""
        self.wrap(z.forecasting, "refresh", "refresh")
        self.wrap(z.response, "handle_risk", "risk")
        inner_risk = z.response.handle_risk
        rec = self

        def risk(v: Any, *a: Any, **k: Any) -> Any:   # note the route length
            rec.cur["risk_stops"] = len(v.route)
            return inner_risk(v, *a, **k)

        z.response.handle_risk = risk
        self.wrap(z.response, "redispatch", "redispatch")
        self.wrap(z.assignment, "maybe_plan", "plan")
        self.wrap(z.assignment, "maybe_reoptimize", "reopt")
        self.wrap(z.assignment, "assign_pending", "insert")
        self.wrap(z, "sweep", "sweep")
        self.wrap(z, "apply_due_jobs", "apply")
        self.wrap(z.jobs, "result", "wait")
        inner = z.process
        samples = self.samples
        prof = self.prof if self.profile == "event" else None

        def process(ev: Any) -> Any:
            rec.cur = {}
            if prof is not None:
                prof.enable()
            c = cpu()
            t = clock()
            out = inner(ev)
            dt = clock() - t
            dc = cpu() - c
            if prof is not None:
                prof.disable()
            samples.append((dt, len(samples), ev.TYPE, z.zone, rec.cur, dc))
            return out

        z.process = process
        return z


def risk_jobs(z: Any, allowance: float | None) -> Any:
    """Hand due ``risk`` jobs to the risk response (the rest as the engine does)."""
    if allowance is None or getattr(z.response, "apply_job", None) is None:
        return z

    def apply_due_jobs(clock: float, out: list) -> None:
        for job in z.jobs.due(clock):
            res = z.jobs.result(job)
            (z.response if job.kind == "risk" else z.assignment).apply_job(job, res, out)

    z.apply_due_jobs = apply_due_jobs
    return z


def dominant(parts: dict[str, int]) -> str:
    """The class an event's time went to (the innermost one that explains it)."""
    if parts.get("wait", 0):
        own = {"wait": parts["wait"], "apply": parts.get("apply", 0) - parts["wait"]}
    else:
        own = {"apply": parts.get("apply", 0)}
    risk = parts.get("risk", 0)
    own["redispatch"] = parts.get("redispatch", 0)
    own["reroute/alert"] = risk - own["redispatch"]
    own["refresh"] = parts.get("refresh", 0)
    own["plan"] = parts.get("plan", 0)
    own["reopt"] = parts.get("reopt", 0)
    own["insert"] = parts.get("insert", 0)
    own["sweep other"] = parts.get("sweep", 0) - own["plan"] - own["reopt"] - own["insert"]
    own["gc"] = parts.get("gc0", 0) + parts.get("gc1", 0) + parts.get("gc2", 0)
    k, v = max(own.items(), key=lambda kv: kv[1])
    return k if v > 0 else "handler only"


def quantiles(d: list[int]) -> dict[str, float]:
    d = sorted(d)
    n = len(d)

    def q(p: float) -> float:
        return d[min(n - 1, int(p * n))] / 1e6

    return {"count": n, "total_s": sum(d) / 1e9, "mean_ms": sum(d) / n / 1e6, "p50_ms": q(0.5),
            "p90_ms": q(0.9), "p99_ms": q(0.99), "p999_ms": q(0.999), "max_ms": d[-1] / 1e6,
            "over_5ms": sum(1 for x in d if x > 5_000_000),
            "over_50ms": sum(1 for x in d if x > 50_000_000)}


def ms(x: float) -> str:
    return f"{x * 1000:.0f} us" if x < 1 else f"{x:,.1f} ms" if x < 100 else f"{x:,.0f} ms"


def line(name: str, q: dict) -> str:
    return (f"  {name:<22} n={q['count']:>7,}  mean {ms(q['mean_ms']):>8}  p50 {ms(q['p50_ms']):>8}"
            f"  p90 {ms(q['p90_ms']):>8}  p99 {ms(q['p99_ms']):>8}  p99.9 {ms(q['p999_ms']):>8}"
            f"  max {ms(q['max_ms']):>8}  >5ms {q['over_5ms']:>5}  >50ms {q['over_50ms']:>4}")


def report(rec: Recorder, slow_ms: float, top: int) -> dict:
    s = rec.samples
    res: dict[str, Any] = {"all": quantiles([x[0] for x in s]),
                           "excl_wait": quantiles([x[0] - x[4].get("wait", 0) for x in s])}
    print(f"\nper-event cost of ZoneEngine.process ({len(s):,} events, "
          f"{res['all']['total_s']:.1f} s in all):")
    print(line("all events", res["all"]))
    print(line("minus solver waits", res["excl_wait"]))
    res["cpu"] = quantiles([x[5] for x in s])
    print(line("thread CPU time", res["cpu"]))
    waits = [x[4]["wait"] for x in s if x[4].get("wait")]
    if waits:
        res["waits"] = quantiles(waits)
        print(line("solver waits (events)", res["waits"]))
    print("\nby event type (cost minus solver waits):")
    by_type: dict[str, list[int]] = defaultdict(list)
    for x in s:
        by_type[x[2]].append(x[0] - x[4].get("wait", 0))
    res["by_type"] = {}
    for t in sorted(by_type, key=lambda t: -sum(by_type[t])):
        res["by_type"][t] = quantiles(by_type[t])
        print(line(t, res["by_type"][t]))
    print("\nby what the event triggered (time inside that class, per call):")
    res["by_class"] = {}
    for c in CLASSES:
        d = [x[4][c] for x in s if x[4].get(c)]
        if d:
            res["by_class"][c] = quantiles(d)
            print(line(c, res["by_class"][c]))
    risky = [x for x in s if "risk_stops" in x[4]]
    if risky:
        print("\nrisk responses by the vehicle's route length (stops): response = re-route + "
              "redispatch + alert")
        res["risk_by_stops"] = {}
        for lo, hi in ((0, 8), (9, 16), (17, 32), (33, 64), (65, 10**9)):
            grp = [x for x in risky if lo <= x[4]["risk_stops"] <= hi]
            if not grp:
                continue
            name = f"{lo}-{hi}" if hi < 10**9 else f"{lo}+"
            res["risk_by_stops"][name] = {
                "response": quantiles([x[4]["risk"] for x in grp]),
                "redispatch": quantiles([x[4].get("redispatch", 0) for x in grp]),
                "reroute": quantiles([x[4]["risk"] - x[4].get("redispatch", 0) for x in grp])}
            for k, q in res["risk_by_stops"][name].items():
                print(line(f"{name:>7} stops {k}", q))
    slow = [x for x in s if x[0] - x[4].get("wait", 0) > slow_ms * 1e6]
    print(f"\nevents over {slow_ms:g} ms (minus solver waits): {len(slow):,}")
    by_dom: dict[str, list[int]] = defaultdict(list)
    for x in slow:
        by_dom[dominant(x[4])].append(x[0] - x[4].get("wait", 0))
    res["slow_by_trigger"] = {}
    for k in sorted(by_dom, key=lambda k: -len(by_dom[k])):
        res["slow_by_trigger"][k] = quantiles(by_dom[k])
        print(line(k, res["slow_by_trigger"][k]))
    types = Counter(x[2] for x in slow)
    print("  by event type: " + ", ".join(f"{t} {n}" for t, n in types.most_common()))
    print(f"\n{top} slowest events (ms minus waits, event index, type, zone, dominant: parts ms):")
    res["slowest"] = []
    for x in sorted(s, key=lambda x: -(x[0] - x[4].get("wait", 0)))[:top]:
        parts = {k: round(v / 1e6, 2) if k != "risk_stops" else v
                 for k, v in x[4].items() if not k.endswith("#")}
        res["slowest"].append({"ms": (x[0] - x[4].get("wait", 0)) / 1e6, "index": x[1],
                               "type": x[2], "zone": x[3], "parts": parts})
        print(f"  {(x[0] - x[4].get('wait', 0)) / 1e6:>9,.1f}  #{x[1]:>7}  {x[2]:<18} {x[3]:<4} "
              f"{dominant(x[4]):<14} {parts}")
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("replay", nargs="?", default="replay_data/metro")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                    help="override one setting, e.g. --set engine.solver_workers=0")
    ap.add_argument("--profile", choices=("refresh", "risk", "redispatch", "sweep", "insert",
                                          "apply", "event"),
                    help="cProfile every call of this class and print the top functions")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="time everything with perf_counter_ns (wall, the default) or with "
                         "the thread's CPU time (cpu: steadier on a busy machine; solver "
                         "waits then read about 0)")
    ap.add_argument("--risk-jobs", type=float, metavar="SECONDS",
                    help="risk responses as solver jobs due SECONDS of event time after the "
                         "trigger (sets operators/zone/response.RISK_JOB_ALLOWANCE_S and, "
                         "until the engine does it, hands 'risk' jobs to Response.apply_job)")
    ap.add_argument("--gc-freeze", type=int, metavar="N",
                    help="call gc.freeze() every N events (what the cyclic collector's full "
                         "pauses cost, and what freezing the long-lived heap saves)")
    ap.add_argument("--limit", type=int, default=None, help="only the first N messages")
    ap.add_argument("--slow-ms", type=float, default=5.0, help="threshold of a slow event")
    ap.add_argument("--top", type=int, default=15, help="how many slowest events to list")
    ap.add_argument("--json", help="also write the figures to this file")
    a = ap.parse_args()
    global clock
    if a.clock == "cpu":
        clock = time.thread_time_ns
    overrides = dict(kv.partition("=")[::2] for kv in a.set)
    settings = Settings.load(None, overrides=overrides)
    rec = Recorder(a.profile)
    rec.watch_gc()
    if a.risk_jobs is not None:
        response.RISK_JOB_ALLOWANCE_S = a.risk_jobs
    eng = LocalEngine(settings.engine, lambda zone: rec.instrument(
        risk_jobs(build_zone_engine(zone, settings.engine), a.risk_jobs)))
    total = a.limit or count_lines(a.replay)
    t0 = time.perf_counter()
    last = t0
    n = 0
    for msg in read_replay(a.replay):
        if a.limit is not None and n >= a.limit:
            break
        eng.process(msg)
        n += 1
        if a.gc_freeze and n % a.gc_freeze == 0:
            gc.freeze()
        now = time.perf_counter()
        if now - last >= 2.0 or n == total:
            last = now
            zs = sum(x[0] for x in rec.samples) / 1e9
            print(f"\r[{now - t0:6.1f} s] {n:>8,}/{total:,} messages  {n / (now - t0):>8,.0f} msg/s"
                  f"  zone engine {zs:6.1f} s", end="", file=sys.stderr, flush=True)
    secs = time.perf_counter() - t0
    print(file=sys.stderr)
    print(f"{a.replay}: {n:,} messages in {secs:.1f} s ({n / secs:,.0f} msg/s end to end, "
          f"in-process, one thread); clock: {a.clock}; settings overrides: "
          f"{overrides or 'none'}; risk responses: "
          f"{'inline' if a.risk_jobs is None else f'solver jobs due {a.risk_jobs:g} s later'}"
          f"{f'; gc.freeze() every {a.gc_freeze:,} events' if a.gc_freeze else ''}")
    res = report(rec, a.slow_ms, a.top)
    stats = eng.stats()
    keys = ("risk_triggers", "risk_jobs", "risk_jobs_stale", "risk_redispatch_stale",
            "decisions_reroute_applied", "decisions_redispatch_applied", "alerts_late_risk",
            "eta_published")
    res["stats"] = {k: stats.get(k, 0) for k in keys}
    print("\nzone counters: " + ", ".join(f"{k} {v:,.0f}" for k, v in res["stats"].items()))
    res.update({"replay": a.replay, "messages": n, "seconds": secs, "overrides": overrides,
                "risk_jobs": a.risk_jobs, "gc_freeze": a.gc_freeze})
    if rec.prof is not None:
        buf = io.StringIO()
        pstats.Stats(rec.prof, stream=buf).sort_stats("cumulative").print_stats(35)
        print(f"\ncProfile of every '{a.profile}' call (cumulative):")
        print(buf.getvalue())
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
