"""Console speed with headless Chromium on a metro day (160 vehicles, 4,400 orders).

    fleetstream replay replay_data/metro --out out/metro -q
    python benchmarks/console.py out/metro [--runs 7] [--json FILE]

Targets (issue #12): first paint under 1 s; a new decision on the page under 1 s
after it is published.

- **first paint**: a fresh navigation to the console at the busiest time of the
  day (``?t=``, the event time with most stops on routes); the page's own mark
  ``console-painted`` (set once the KPI strip, the map with every vehicle, route
  and stop, the feeds and the scrubber are drawn), in ms since navigation start,
  plus the browser's first-contentful-paint.
- **live update**: the page follows the end of the day; the benchmark appends a
  decision (a copy of the day's busiest applied decision under a new id, one
  second after the last record) to ``fs.decisions.jsonl`` of a copy of the folder
  and notes the wall time after the write.  A MutationObserver in the page notes
  when that decision's row appears.  Latency = appearance - write (same machine
  clock).  This covers the file tail (``--poll-s``, 0.1 s), the SSE push, the
  state request, the fold at the new time and the redraw.

With ``--live`` (needs ``FLEETSTREAM_REDIS__URL``: ``scripts/services.sh start``),
the same two figures in live mode: the day's records up to the busy time are
written into a Redis read model of its own (``connectors.redis_store``, under a
fresh key prefix, removed afterwards), with each vehicle's latest position; the
console reads it (``--redis``); a new decision is then written through the read
model (``XADD`` to the decision stream, as ``fleetstream run`` does) and the time
to its row in the page is measured the same way (XREAD BLOCK, snapshot of every
vehicle and order from Redis, SSE, state, redraw).

Each figure: mean, sd, min and max over ``--runs`` runs, and every run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import orjson

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fleetstream.console.headless import ConsoleProcess, browser, severe

OBSERVE = """
window.__seen = {};
new MutationObserver(() => {
  for (const li of document.querySelectorAll('#decisions li[data-id^="D-BENCH-"]'))
    if (!(li.dataset.id in window.__seen)) window.__seen[li.dataset.id] = Date.now();
}).observe(document.getElementById('decisions'), {childList: true, subtree: true});
"""


def stats(xs: list[float]) -> dict:
    return {"mean": round(statistics.fmean(xs), 1), "sd": round(statistics.stdev(xs), 1)
            if len(xs) > 1 else 0.0, "min": round(min(xs), 1), "max": round(max(xs), 1),
            "runs": [round(x, 1) for x in xs]}


def workdir(out: str) -> str:
    """A folder the benchmark may append to: links to the big files, a copy of the
    decisions file and of the run marker (it names the replay input)."""
    d = tempfile.mkdtemp(prefix="console-bench-")
    for name in os.listdir(out):
        src = os.path.join(os.path.abspath(out), name)
        if name in ("fs.decisions.jsonl", ".fleetstream-run.json"):
            with open(src, "rb") as f, open(os.path.join(d, name), "wb") as g:
                g.write(f.read())
        elif os.path.isfile(src):
            os.symlink(src, os.path.join(d, name))
    return d


def busiest(d: str) -> tuple[float, dict]:
    """The event time of the applied decision with most stops, and that decision."""
    best, rec = -1, None
    with open(os.path.join(d, "fs.decisions.jsonl"), "rb") as f:
        for line in f:
            r = orjson.loads(line)
            n = sum(len(s) for s in r["routes"].values())
            if r["status"] == "applied" and n > best:
                best, rec = n, r
    return rec["ts"] + 1800.0, rec


def first_paints(drv, url: str, runs: int) -> tuple[dict, dict | None, dict]:
    painted, fcp, drawn = [], [], {}
    for i in range(runs + 1):  # the first run warms the browser cache: not counted
        drv.get("about:blank")
        drv.get(url)
        end = time.monotonic() + 30
        while drv.execute_script("return document.body.dataset.painted") != "1":
            if time.monotonic() > end:
                raise RuntimeError("the page did not paint in 30 s")
            time.sleep(0.02)
        m = drv.execute_script(
            "const p = performance.getEntriesByName('console-painted')[0];"
            "const f = performance.getEntriesByName('first-contentful-paint')[0];"
            "return [p.startTime, f ? f.startTime : null,"
            " document.querySelectorAll('#vehicles g.vehicle').length,"
            " document.querySelectorAll('#stops circle').length,"
            " document.querySelectorAll('#routes polyline').length]")
        if i:
            painted.append(m[0])
            if m[1] is not None:
                fcp.append(m[1])
        drawn = {"vehicles": m[2], "stops": m[3], "routes": m[4]}
    return stats(painted), (stats(fcp) if fcp else None), drawn


def live_updates(drv, url: str, runs: int, template: dict, publish) -> dict:
    """``publish(record)`` writes one decision; returns latency stats (ms)."""
    drv.get("about:blank")
    drv.get(url)
    while drv.execute_script("return document.body.dataset.painted") != "1":
        time.sleep(0.02)
    drv.execute_script(OBSERVE)
    last_ts = drv.execute_script("return window.__console.state.t_max")
    lat = []
    for i in range(runs):
        rid = f"D-BENCH-{i}-{int(time.time())}"
        publish({**template, "decision_id": rid, "ts": last_ts + 1.0 + i})
        published = time.time() * 1000.0
        end = time.monotonic() + 30
        while (seen := drv.execute_script("return window.__seen[arguments[0]]", rid)) is None:
            if time.monotonic() > end:
                raise RuntimeError(f"{rid} did not show in 30 s")
            time.sleep(0.01)
        lat.append(seen - published)
        time.sleep(0.5)
    return stats(lat)


def replay_bench(d: str, runs: int, t_busy: float, template: dict) -> dict:
    t0 = time.monotonic()
    console = ConsoleProcess("--replay", d, timeout_s=300, log_path=os.path.join(d, "console.log"))
    result: dict = {"load_s": round(time.monotonic() - t0, 1)}
    drv = browser()
    try:
        fp, fcp, drawn = first_paints(drv, f"{console.url}?t={t_busy}", runs)
        result.update(first_paint_ms=fp, first_contentful_paint_ms=fcp, drawn=drawn)

        def append(rec: dict) -> None:
            with open(os.path.join(d, "fs.decisions.jsonl"), "ab") as f:
                f.write(orjson.dumps(rec) + b"\n")
        result["live_update_ms"] = live_updates(drv, console.url, runs, template, append)
        result["browser_errors"] = severe(drv)
    finally:
        drv.quit()
        console.stop()
    return result


def live_bench(d: str, runs: int, t_busy: float, template: dict) -> dict:
    import uuid

    import redis
    from fleetstream.connectors.redis_store import RedisReadModel

    from fleetstream.console.replay_source import ReplaySource
    url = os.environ.get("FLEETSTREAM_REDIS__URL")
    if not url:
        raise SystemExit("--live needs FLEETSTREAM_REDIS__URL (scripts/services.sh start; "
                         'eval "$(scripts/services.sh env)")')
    kp = f"bench{uuid.uuid4().hex[:8]}:"
    src = ReplaySource(d)
    recs = [("fs.decisions", r) for r in src.decs if r["ts"] <= t_busy]
    recs += [("fs.alerts", r) for r in src.alerts if r["ts"] <= t_busy]
    for o in src.orders.values():
        recs += [("fs.eta", r) for r in o.eta if r["ts"] <= t_busy]
        if o.outcome is not None and o.outcome["ts"] <= t_busy:
            recs.append(("fs.outcomes", o.outcome))
    recs.sort(key=lambda x: x[1]["ts"])
    pos = []
    for v in src.vehicles.values():
        st = src._vehicle_at(v, t_busy, {})
        if st:
            pos.append((v.id, st["lat"], st["lon"], st["pos_ts"], v.zone))
    rm = RedisReadModel(url, kp, ttl_s=3600)
    t0 = time.monotonic()
    for i in range(0, len(recs), 5000):
        rm.write(recs[i:i + 5000])
    rm.write((), pos)
    rm.close()
    result: dict = {"read_model": {"records": len(recs), "positions": len(pos),
                                   "write_s": round(time.monotonic() - t0, 1)}}
    console = ConsoleProcess("--redis", url, "--key-prefix", kp, "--console-prefix",
                             kp + "console:", timeout_s=120,
                             log_path=os.path.join(d, "console-live.log"))
    drv = browser()
    pub = RedisReadModel(url, kp, ttl_s=3600)
    try:
        fp, fcp, drawn = first_paints(drv, console.url, runs)
        result.update(first_paint_ms=fp, first_contentful_paint_ms=fcp, drawn=drawn)

        def publish(rec: dict) -> None:
            pub.write([("fs.decisions", rec)])
            assert pub.flush(), "the read model did not take the record"
        result["live_update_ms"] = live_updates(drv, console.url, runs, template, publish)
        result["browser_errors"] = severe(drv)
    finally:
        drv.quit()
        console.stop()
        pub.close()
        r = redis.Redis.from_url(url)
        for k in r.scan_iter(match=kp + "*", count=1000):
            r.delete(k)
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", help="a `fleetstream replay replay_data/metro --out` folder")
    ap.add_argument("--runs", type=int, default=7, help="runs per figure (default 7)")
    ap.add_argument("--live", action="store_true",
                    help="also measure live mode on a Redis read model ($FLEETSTREAM_REDIS__URL)")
    ap.add_argument("--json", help="also write the figures to this file")
    a = ap.parse_args(argv)
    d = workdir(a.out)
    t_busy, template = busiest(d)
    result = {"replay": replay_bench(d, a.runs, t_busy, template)}
    if a.live:
        result["live"] = live_bench(d, a.runs, t_busy, template)
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    for mode, r in result.items():
        print(f"{mode}: first paint {r['first_paint_ms']['mean']:.0f} ± "
              f"{r['first_paint_ms']['sd']:.0f} ms (target < 1000), live update "
              f"{r['live_update_ms']['mean']:.0f} ± {r['live_update_ms']['sd']:.0f} ms after "
              f"publication (target < 1000); {a.runs} runs each; "
              f"{r['drawn']['vehicles']} vehicles, {r['drawn']['stops']} stops drawn",
              file=sys.stderr)
    if a.json:
        with open(a.json, "wb") as f:
            f.write(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
