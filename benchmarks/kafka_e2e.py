"""Events/s through a real Kafka broker and the engine in one process, and the
latency from a ping produced to its ETA consumed.

Needs the broker from ``scripts/services.sh start`` (FLEETSTREAM_KAFKA__BOOTSTRAP).

1. Throughput: publish a replay (default replay_data/metro) into fresh topics,
   then run the engine live (``run_live``, this process, 1 worker) until the end
   of the topics.  events/s = input events / engine wall time, broker -> engine
   -> broker, every output acknowledged by the broker.  ``--compare-replay``
   also times the same events through the file replay, so the cost of the Kafka
   edges shows.
2. Latency: ``fleetstream run`` tails fresh topics in a subprocess (as in
   production).  The first ``--warmup`` events (the morning: shift starts, the
   initial plan of every parcel) are produced at once and the engine catches
   up; then the next ``--latency-events`` are produced at a steady rate (half
   the sustained rate of step 1 unless ``--rate``), stamped with their produce
   time.  A consumer reads fs.eta and fs.decisions and matches each record to
   its triggering input (``trigger_event_ids``).  Prints p50/p90/p99/max of
   ping -> ETA consumed (and of any input -> decision consumed), milliseconds.

    python benchmarks/kafka_e2e.py [--replay replay_data/metro] [--partitions 1]
        [--warmup 20000] [--latency-events 60000] [--rate N] [--compare-replay]

Bounded: the engine subprocess is stopped at the end; nothing but the local
broker is contacted.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import orjson
from confluent_kafka import Consumer, Producer, TopicPartition

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from fleetstream.connectors.files import read_replay  # noqa: E402
from fleetstream.connectors.kafka import ensure_topics, publish  # noqa: E402
from fleetstream.live import run_live  # noqa: E402
from fleetstream.replay import run_replay  # noqa: E402
from fleetstream.contract.settings import KafkaSettings, Settings  # noqa: E402


PREFIXES: list[str] = []  # topic namespaces this run created, deleted at the end


def cleanup(bootstrap: str) -> None:
    from confluent_kafka.admin import AdminClient
    admin = AdminClient({"bootstrap.servers": bootstrap})
    mine = [t for t in admin.list_topics(timeout=10).topics if t.startswith(tuple(PREFIXES))]
    if mine:
        for fut in admin.delete_topics(mine, operation_timeout=60).values():
            try:
                fut.result()
            except Exception as e:  # noqa: BLE001
                print(f"cleanup: {e}", file=sys.stderr)


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")


def load_avg() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


def throughput(bootstrap: str, replay: str, partitions: int, with_replay: bool) -> float:
    prefix = f"b{uuid.uuid4().hex[:6]}."
    PREFIXES.append(prefix)
    ensure_topics(bootstrap, prefix, partitions=partitions)
    msgs = list(read_replay(replay))
    t0 = time.perf_counter()
    publish(bootstrap, msgs, prefix)
    tp = time.perf_counter() - t0
    print(f"publish : {len(msgs):,} messages in {tp:.1f} s ({len(msgs) / tp:,.0f}/s)", flush=True)
    s = Settings(kafka=KafkaSettings(bootstrap=bootstrap, topic_prefix=prefix,
                                     partitions=partitions))
    t0 = time.perf_counter()
    stats = run_live(s, tail=False, progress_s=0)
    te = time.perf_counter() - t0
    eps = len(msgs) / te
    outs = stats["outputs"]
    n_out = sum(v for k, v in outs.items() if not k.startswith("_"))
    print(f"engine  : {len(msgs):,} events in {te:.1f} s -> {eps:,.0f} events/s sustained "
          f"(broker -> engine -> broker, {partitions} partition(s), 1 process, 1 worker); "
          f"{n_out:,} output records acknowledged", flush=True)
    if with_replay:
        with tempfile.TemporaryDirectory() as out:
            t0 = time.perf_counter()
            run_replay(replay, out)
            tr = time.perf_counter() - t0
        print(f"replay  : same events from the file in {tr:.1f} s -> "
              f"{len(msgs) / tr:,.0f} events/s (engine alone; Kafka edges cost "
              f"{100 * (te - tr) / te:+.0f} % of live time)", flush=True)
    return eps


def edges(bootstrap: str, replay: str, partitions: int) -> float:
    """The Kafka edges alone: the same source and output sink around a pass-through
    step (decode + one output record per input), no engine."""
    import bytewax.operators as op
    from bytewax.dataflow import Dataflow
    from bytewax.testing import run_main

    from fleetstream.connectors.kafka import KafkaOutputSink, OrderedKafkaSource
    from fleetstream.operators.pipeline import decode

    prefix = f"e{uuid.uuid4().hex[:6]}."
    PREFIXES.append(prefix)
    ensure_topics(bootstrap, prefix, partitions=partitions)
    msgs = list(read_replay(replay))
    publish(bootstrap, msgs, prefix)
    flow = Dataflow("edges")
    inp = op.input("in", flow, OrderedKafkaSource(bootstrap, prefix, tail=False))
    outs = op.map("echo", inp, lambda m: ("fs.dlq", m.key or "", {
        "source_topic": m.topic, "offset": m.offset, "valid": decode(m)[0]}))
    sink = KafkaOutputSink(bootstrap, prefix, progress_s=0)
    op.output("out", outs, sink)
    t0 = time.perf_counter()
    run_main(flow)
    dt = time.perf_counter() - t0
    n_out = sum(sink.counters.snapshot().values())
    print(f"edges   : {len(msgs):,} events in {dt:.1f} s -> {len(msgs) / dt:,.0f} events/s through "
          f"source + decode + sink alone ({n_out:,} records acknowledged)", flush=True)
    return len(msgs) / dt


def _wait_caught_up(counter: list, event_ts: float, quiet_s: float, limit_s: float) -> bool:
    """Until the engine's outputs reached the event time of the last input
    (``counter[1]``: largest output ``ts`` seen; within 5 min, the sweep period
    of the slowest periodic output) and then stayed quiet for ``quiet_s``."""
    t0 = time.monotonic()
    last, since = counter[0], time.monotonic()
    while time.monotonic() - t0 < limit_s:
        time.sleep(0.2)
        if counter[0] != last:
            last, since = counter[0], time.monotonic()
        elif time.monotonic() - since >= quiet_s and counter[1] >= event_ts - 300:
            return True
    return False


def _event_ts(m) -> float:
    try:
        return float(orjson.loads(m.value)["ts"])
    except Exception:  # noqa: BLE001
        return 0.0


def latency(bootstrap: str, replay: str, rate: float, warmup: int, n: int, partitions: int) -> None:
    prefix = f"l{uuid.uuid4().hex[:6]}."
    PREFIXES.append(prefix)
    ensure_topics(bootstrap, prefix, partitions=partitions)
    msgs = list(read_replay(replay))
    warm, window = msgs[:warmup], msgs[warmup:warmup + n]
    if not window:
        sys.exit(f"the replay has {len(msgs):,} events: nothing left after --warmup {warmup:,}")
    cmd = [sys.executable, "-m", "fleetstream.live", "--bootstrap", bootstrap, "--redis", "",
           "--set", f"kafka.topic_prefix={prefix}", "-q"]
    engine = subprocess.Popen(cmd, cwd=ROOT)
    try:
        sent: dict[str, float] = {}
        is_ping: set[str] = set()
        eta_lat: list[float] = []
        dec_lat: list[float] = []
        seen = [0, 0.0]  # outputs consumed, largest output event time
        stop = threading.Event()
        c = Consumer({"bootstrap.servers": bootstrap, "group.id": "lat" + prefix,
                      "enable.auto.commit": False, "fetch.wait.max.ms": 10})
        c.assign([TopicPartition(prefix + t, p, 0) for t in ("fs.eta", "fs.decisions")
                  for p in range(partitions)])

        def consume() -> None:
            while not stop.is_set():
                for m in c.consume(1000, 0.05):
                    if m.error():
                        continue
                    now = time.perf_counter()
                    seen[0] += 1
                    rec = orjson.loads(m.value())
                    if isinstance(rec.get("ts"), (int, float)) and rec["ts"] > seen[1]:
                        seen[1] = rec["ts"]
                    for eid in rec.get("trigger_event_ids") or ():
                        t = sent.get(eid)
                        if t is not None:
                            if m.topic().endswith("fs.eta"):
                                if eid in is_ping:
                                    eta_lat.append(now - t)
                            else:
                                dec_lat.append(now - t)
                            break

        th = threading.Thread(target=consume, daemon=True)
        th.start()
        p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})

        def produce(m) -> None:
            while True:
                try:
                    p.produce(prefix + m.topic, value=m.value,
                              key=m.key.encode() if m.key else None)
                    return
                except BufferError:
                    p.poll(0.01)

        t0 = time.perf_counter()
        for m in warm:
            produce(m)
            p.poll(0)
        p.flush()
        warm_ts = max((_event_ts(m) for m in warm), default=0.0)
        ok = _wait_caught_up(seen, warm_ts, 3.0, 900.0)
        print(f"latency : warm-up {len(warm):,} events produced and "
              f"{'processed' if ok else 'NOT processed (gave up)'} in "
              f"{time.perf_counter() - t0:.1f} s", flush=True)
        seen_before = seen[0]
        t0 = time.perf_counter()
        for i, m in enumerate(window):
            due = t0 + i / rate
            while True:
                d = due - time.perf_counter()
                if d <= 0:
                    break
                time.sleep(min(d, 0.001))
            try:
                ev = orjson.loads(m.value)
                eid = ev.get("event_id")
                if eid:
                    sent.setdefault(eid, time.perf_counter())
                    if ev.get("type") == "ping":
                        is_ping.add(eid)
            except Exception:  # noqa: BLE001
                pass
            produce(m)
            p.poll(0)
        p.flush()
        produced_s = time.perf_counter() - t0
        _wait_caught_up(seen, max(_event_ts(m) for m in window), 3.0, 300.0)
        stop.set()
        th.join()
        c.close()
        print(f"latency : {len(window):,} events at {len(window) / produced_s:,.0f} events/s "
              f"(target {rate:,.0f}/s), {seen[0] - seen_before:,} outputs consumed", flush=True)
        for name, xs in (("ping -> ETA     ", eta_lat), ("input -> decision", dec_lat)):
            if xs:
                print(f"  {name}: {len(xs):,} matched, p50 {1000 * pct(xs, 0.5):.0f} ms, "
                      f"p90 {1000 * pct(xs, 0.9):.0f} ms, p99 {1000 * pct(xs, 0.99):.0f} ms, "
                      f"max {1000 * max(xs):.0f} ms", flush=True)
            else:
                print(f"  {name}: none matched", flush=True)
    finally:
        engine.terminate()
        try:
            engine.wait(20)
        except subprocess.TimeoutExpired:
            engine.kill()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--replay", default=os.path.join(ROOT, "replay_data", "metro"))
    ap.add_argument("--partitions", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=20000,
                    help="events produced at once before the latency window (default 20000)")
    ap.add_argument("--latency-events", type=int, default=60000)
    ap.add_argument("--rate", type=float,
                    help="latency test rate, events/s (default: half the sustained rate)")
    ap.add_argument("--compare-replay", action="store_true",
                    help="also time the same events through the file replay (engine alone)")
    ap.add_argument("--skip-throughput", action="store_true",
                    help="latency only (needs --rate)")
    a = ap.parse_args()
    bootstrap = os.environ.get("FLEETSTREAM_KAFKA__BOOTSTRAP")
    if not bootstrap:
        sys.exit("FLEETSTREAM_KAFKA__BOOTSTRAP is not set: run scripts/services.sh start, then "
                 'eval "$(scripts/services.sh env)"')
    print(f"machine : {os.cpu_count()} cores, load average {load_avg()}", flush=True)
    try:
        if a.skip_throughput:
            if not a.rate:
                sys.exit("--skip-throughput needs --rate")
            eps = 2 * a.rate
        else:
            edges(bootstrap, a.replay, a.partitions)
            eps = throughput(bootstrap, a.replay, a.partitions, a.compare_replay)
        latency(bootstrap, a.replay, a.rate or eps / 2, a.warmup, a.latency_events, a.partitions)
        print(f"machine : load average {load_avg()} at the end", flush=True)
    finally:
        cleanup(bootstrap)


if __name__ == "__main__":
    main()
