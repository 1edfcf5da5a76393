"""``fleetstream run``: the engine live on Kafka, with the Redis read model.

    fleetstream run [--bootstrap HOST:PORT] [--redis URL] [-w N] [--recovery DIR]
                    [--stop-at-end] [--config FILE] [--set K=V]

Consumes the input topics (``OrderedKafkaSource``: per partition index, the
input topics merged in timestamp order), runs the same flow as a replay, and
produces every output record to its topic (``kafka.output_prefix`` in front,
e.g. ``shadow.`` for shadow mode), keyed as docs/topics.md says.  With a Redis
URL it also maintains the read model (docs/redis.md); Redis being down never
stops the engine.  With ``--recovery DIR`` Bytewax snapshots state and input
offsets there; restarting with the same DIR resumes (outputs after the last
snapshot are produced again: at-least-once, dedupe on the record ids).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from datetime import timedelta
from functools import partial
from typing import Any

import bytewax.operators as op
from bytewax.connectors.kafka import KafkaSink
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.testing import cluster_main, run_main

from connectors.kafka import OrderedKafkaSource, redact, sink_message
from fleetstream.settings import Settings
from fleetstream.wiring import build_zone_engine, restore_zone_engine
from flows.engine import DROPS, build_flow
from operators.pipeline import output_key

log = logging.getLogger("fleetstream.live")


class _RedisPart(StatelessSinkPartition):
    def __init__(self, url: str, settings: Settings):
        from connectors.redis_store import RedisReadModel
        r = settings.redis
        self.model = RedisReadModel(url, key_prefix=r.key_prefix, ttl_s=r.ttl_s,
                                    stream_maxlen=r.stream_maxlen)

    def write_batch(self, items: list) -> None:
        outs, positions = [], []
        for kind, payload in items:
            (positions if kind == "pos" else outs).append(payload)
        for vid, lat, lon, ts, _zone in positions:
            self.model.vehicle_position(vid, lat, lon, ts)
        if outs:
            self.model.write_batch(outs)


class RedisSink(DynamicSink):
    """Every worker keeps the read model for the outputs of its own zones."""

    def __init__(self, url: str, settings: Settings):
        self.url, self.settings = url, settings

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _RedisPart:
        return _RedisPart(self.url, self.settings)


class _Progress(StatelessSinkPartition):
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.next = time.monotonic() + 10

    def write_batch(self, items: list) -> None:
        for t in items:
            self.counts[t] = self.counts.get(t, 0) + 1
        if time.monotonic() >= self.next:
            self.next = time.monotonic() + 10
            print("  outputs so far: " + ", ".join(f"{k} {v:,}" for k, v in sorted(self.counts.items())),
                  file=sys.stderr, flush=True)


class ProgressSink(DynamicSink):
    def build(self, step_id: str, worker_index: int, worker_count: int) -> _Progress:
        return _Progress()


def make_live_flow(settings: Settings, redis_url: str | None, tail: bool = True,
                   models_dir: str | None = None):
    k = settings.kafka
    source = OrderedKafkaSource(k.bootstrap, prefix=k.topic_prefix, extra=k.config, tail=tail)
    out_prefix = k.topic_prefix + k.output_prefix
    brokers = [k.bootstrap]

    def attach(stream: Any) -> None:
        published = op.filter("publishable", stream, lambda t: t[0] != DROPS)
        msgs = op.map("to_kafka", published,
                      lambda t: sink_message(t[0], output_key(t[0], t[2]), t[2], out_prefix))
        op.output("kafka_out", msgs, KafkaSink(brokers, None, add_config=dict(k.config)))
        op.output("progress", op.map("topic_of", stream, lambda t: t[0]), ProgressSink())
        if redis_url:
            op.output("redis_out", op.map("to_redis", published, lambda t: ("out", (t[0], t[2]))),
                      RedisSink(redis_url, settings))

    def positions(stream: Any) -> None:
        if redis_url:
            op.output("redis_positions", op.map("pos", stream, lambda p: ("pos", p)),
                      RedisSink(redis_url, settings))

    return build_flow("fleetstream_live", source, attach,
                      partial(build_zone_engine, settings=settings.engine, models_dir=models_dir),
                      partial(restore_zone_engine, settings=settings.engine),
                      ordered=True, attach_positions=positions)


def run_live(settings: Settings, redis_url: str | None = None, workers: int = 1,
             recovery_dir: str | None = None, tail: bool = True,
             models_dir: str | None = None, epoch_interval_s: float = 2.0) -> None:
    flow = make_live_flow(settings, redis_url, tail, models_dir)
    rc = None
    if recovery_dir:
        if not os.path.isdir(recovery_dir):
            os.makedirs(recovery_dir)
            init_db_dir(recovery_dir, 1)
        rc = RecoveryConfig(recovery_dir)
    ei = timedelta(seconds=epoch_interval_s)
    if workers == 1:
        run_main(flow, epoch_interval=ei, recovery_config=rc)
    else:
        cluster_main(flow, [], 0, epoch_interval=ei, recovery_config=rc,
                     worker_count_per_proc=workers)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="fleetstream run", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bootstrap", help="Kafka bootstrap servers (default: kafka.bootstrap or "
                    "$FLEETSTREAM_KAFKA_BOOTSTRAP)")
    ap.add_argument("--redis", help="Redis URL for the read model (default: redis.url or "
                    "$FLEETSTREAM_REDIS_URL; empty: no read model)")
    ap.add_argument("-w", "--workers", type=int, default=0)
    ap.add_argument("--recovery", metavar="DIR", help="Bytewax recovery dir (resume on restart)")
    ap.add_argument("--stop-at-end", action="store_true",
                    help="stop when every input partition is consumed (tests, backfills)")
    ap.add_argument("--models", metavar="DIR", help="warm-start models from a snapshot dir")
    ap.add_argument("--config")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    a = ap.parse_args(argv)
    overrides = dict(kv.split("=", 1) for kv in a.set)
    if a.bootstrap or os.environ.get("FLEETSTREAM_KAFKA_BOOTSTRAP"):
        overrides["kafka.bootstrap"] = a.bootstrap or os.environ["FLEETSTREAM_KAFKA_BOOTSTRAP"]
    s = Settings.load(a.config, overrides=overrides)
    redis_url = a.redis if a.redis is not None else (s.redis.url or os.environ.get("FLEETSTREAM_REDIS_URL", ""))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    log.info("kafka %s (config %s), redis %s, workers %s", s.kafka.bootstrap,
             redact(s.kafka.config), "on" if redis_url else "off", a.workers or s.workers)
    run_live(s, redis_url or None, a.workers or s.workers, a.recovery, tail=not a.stop_at_end,
             models_dir=a.models)
    return 0


if __name__ == "__main__":
    sys.exit(main())
