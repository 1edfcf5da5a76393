"""Events/s through a real Kafka broker and the engine in one process, and the
latency from a ping produced to its ETA/decision consumed.

Needs the broker from ``scripts/services.sh start`` (FLEETSTREAM_KAFKA_BOOTSTRAP).

1. Throughput: publish a replay (default replay_data/metro) into fresh topics,
   then run the engine live until the end of the topics; events/s = events /
   engine wall time (publish time reported apart).
2. Latency: run the engine live (tailing) in a thread, produce the replay at
   about half the measured sustained rate, consume fs.eta and fs.decisions and
   match each output to the produce time of its triggering event
   (``trigger_event_ids``; ETA messages by their triggering ping via the
   event-time ``ts``).  Prints p50/p99.

    python benchmarks/kafka_e2e.py [--replay replay_data/metro] [--latency-events 60000]
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import uuid

import orjson
from confluent_kafka import Consumer, Producer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from connectors.files import read_replay  # noqa: E402
from connectors.kafka import ensure_topics, publish  # noqa: E402
from fleetstream.live import run_live  # noqa: E402
from fleetstream.settings import KafkaSettings, Settings  # noqa: E402


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")


def throughput(bootstrap: str, replay: str, partitions: int) -> float:
    prefix = f"b{uuid.uuid4().hex[:6]}."
    ensure_topics(bootstrap, prefix, partitions=partitions)
    msgs = list(read_replay(replay))
    t0 = time.perf_counter()
    publish(bootstrap, msgs, prefix)
    tp = time.perf_counter() - t0
    s = Settings(kafka=KafkaSettings(bootstrap=bootstrap, topic_prefix=prefix))
    t0 = time.perf_counter()
    run_live(s, tail=False)
    te = time.perf_counter() - t0
    eps = len(msgs) / te
    print(f"publish: {len(msgs):,} messages in {tp:.1f} s ({len(msgs) / tp:,.0f}/s)")
    print(f"engine : {len(msgs):,} events in {te:.1f} s -> {eps:,.0f} events/s sustained "
          f"(broker -> engine -> broker, {partitions} partition(s), 1 process)")
    return eps


def latency(bootstrap: str, replay: str, rate: float, n: int) -> None:
    prefix = f"l{uuid.uuid4().hex[:6]}."
    ensure_topics(bootstrap, prefix, partitions=1)
    s = Settings(kafka=KafkaSettings(bootstrap=bootstrap, topic_prefix=prefix))
    engine = threading.Thread(target=run_live, args=(s,), kwargs={"tail": True}, daemon=True)
    engine.start()
    time.sleep(3)
    sent: dict[str, float] = {}
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "lat" + prefix,
                  "auto.offset.reset": "earliest"})
    c.subscribe([prefix + "fs.eta", prefix + "fs.decisions"])
    lat: list[float] = []
    stop = threading.Event()

    def consume() -> None:
        while not stop.is_set():
            for m in c.consume(500, 0.1):
                if m.error():
                    continue
                now = time.perf_counter()
                rec = orjson.loads(m.value())
                for eid in rec.get("trigger_event_ids", []) or [rec.get("trigger")]:
                    t = sent.get(eid) if eid else None
                    if t is not None:
                        lat.append(now - t)
                        break

    th = threading.Thread(target=consume, daemon=True)
    th.start()
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 1})
    msgs = list(read_replay(replay))[:n]
    t0 = time.perf_counter()
    for i, m in enumerate(msgs):
        due = t0 + i / rate
        while time.perf_counter() < due:
            time.sleep(0.0005)
        try:
            eid = orjson.loads(m.value).get("event_id")
        except Exception:  # noqa: BLE001
            eid = None
        if eid:
            sent.setdefault(eid, time.perf_counter())
        p.produce(prefix + m.topic, value=m.value, key=m.key.encode() if m.key else None,
                  timestamp=int(time.time() * 1000))
        p.poll(0)
    p.flush()
    time.sleep(5)
    stop.set()
    th.join()
    c.close()
    print(f"latency at {rate:,.0f} events/s over {n:,} events: {len(lat):,} outputs matched, "
          f"p50 {1000 * pct(lat, 0.5):.0f} ms, p99 {1000 * pct(lat, 0.99):.0f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--replay", default=os.path.join(ROOT, "replay_data", "metro"))
    ap.add_argument("--partitions", type=int, default=1)
    ap.add_argument("--latency-events", type=int, default=60000)
    ap.add_argument("--rate", type=float, help="latency test rate (default: half the sustained rate)")
    a = ap.parse_args()
    bootstrap = os.environ.get("FLEETSTREAM_KAFKA_BOOTSTRAP")
    if not bootstrap:
        sys.exit("FLEETSTREAM_KAFKA_BOOTSTRAP is not set: run scripts/services.sh start, then "
                 'eval "$(scripts/services.sh env)"')
    eps = throughput(bootstrap, a.replay, a.partitions)
    latency(bootstrap, a.replay, a.rate or eps / 2, a.latency_events)
    os._exit(0)  # the tailing engine thread never ends by itself


if __name__ == "__main__":
    main()
