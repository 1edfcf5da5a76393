"""``fleetstream run``: the engine live on Kafka, with the Redis read model.

    fleetstream run [--bootstrap HOST:PORT] [--redis URL] [-w N] [--recovery DIR]
                    [--epoch-interval S] [--stop-at-end] [--config FILE] [--set K=V]

Consumes the input topics (``OrderedKafkaSource``: per partition index, the
input topics merged in timestamp order), runs the same flow as a replay, and
produces every output record to its topic (``kafka.output_prefix`` in front,
e.g. ``shadow.`` for shadow mode), keyed as docs/topics.md says.  With a Redis
URL it also maintains the read model (docs/redis.md); Redis being down never
stops the engine.  With ``--recovery DIR`` Bytewax snapshots state and input
offsets there every epoch; restarting with the same DIR resumes (outputs after
the last snapshot are produced again: at-least-once, dedupe on the record ids).
Details: docs/live.md.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import sys
import threading
import time
from datetime import timedelta
from functools import partial
from types import SimpleNamespace
from typing import Any

import click

import bytewax.operators as op
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from bytewax.errors import BytewaxRuntimeError
from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.testing import cluster_main, run_main

from fleetstream.connectors.kafka import (KafkaClientError, KafkaOutputSink, KafkaUnavailable,
                                          OrderedKafkaSource, check_broker, scrub)
from fleetstream import cli
from fleetstream.contract.events import INPUT_TOPICS
from fleetstream.connectors.redaction import redact, redact_url  # noqa: F401 (re-exported)
from fleetstream.contract.settings import Settings
from fleetstream.operators import jobs
from fleetstream.wiring import build_zone_engine, restore_zone_engine
from fleetstream.flows.engine import DROPS, build_flow
from fleetstream.observe import runtime as observe  # metrics, health, logs
from fleetstream.operators.pipeline import output_key

log = logging.getLogger("fleetstream.live")


class RedisStats:
    """Read-model metrics of every Redis sink partition of one run."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.parts: list[Any] = []
        self.errors = 0

    def metrics(self) -> dict[str, Any]:
        agg: dict[str, Any] = {"sink_errors": self.errors}
        with self.lock:
            for p in self.parts:
                try:
                    m = p.model.metrics()
                except Exception:  # noqa: BLE001
                    continue
                for k, v in m.items():
                    if isinstance(v, bool):
                        agg[k] = agg.get(k, True) and v
                    elif isinstance(v, (int, float)):
                        agg[k] = agg.get(k, 0) + v
        return agg


class _RedisPart(StatelessSinkPartition):
    """Items: ``("out", (topic, record))`` or ``("pos", (vid, lat, lon, ts, zone))``.
    One pipeline per batch.  Never raises: the engine must not depend on Redis."""

    def __init__(self, url: str, settings: Settings, stats: RedisStats):
        from fleetstream.connectors.redis_store import RedisReadModel
        r = settings.redis
        self.model = RedisReadModel(url, key_prefix=r.key_prefix, ttl_s=r.ttl_s,
                                    stream_maxlen=r.stream_maxlen)
        self.stats = stats
        with stats.lock:
            stats.parts.append(self)

    def write_batch(self, items: list) -> None:
        outs, positions = [], []
        for kind, payload in items:
            (positions if kind == "pos" else outs).append(payload)
        try:
            self.model.write(outs, positions)
        except Exception as e:  # noqa: BLE001 - the read model never stops the engine
            self.stats.errors += 1
            if self.stats.errors == 1 or self.stats.errors % 1000 == 0:
                log.warning("redis read model: write failed (%s: %s), %d so far",
                            type(e).__name__, e, self.stats.errors)

    def close(self) -> None:
        try:
            self.model.close()
        except Exception:  # noqa: BLE001
            pass


class RedisSink(DynamicSink):
    """Every worker keeps the read model for the outputs of its own zones."""

    def __init__(self, url: str, settings: Settings):
        self.url, self.settings = url, settings
        self.stats = RedisStats()

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _RedisPart:
        return _RedisPart(self.url, self.settings, self.stats)


class LiveFlow:
    """The live dataflow plus the counters of its sinks (read them after a run)."""

    def __init__(self, settings: Settings, redis_url: str | None, tail: bool = True,
                 models_dir: str | None = None, progress_s: float = 10.0):
        k = settings.kafka
        source = OrderedKafkaSource(k.bootstrap, prefix=k.topic_prefix, extra=k.config, tail=tail)
        self.kafka_sink = KafkaOutputSink(k.bootstrap, k.topic_prefix + k.output_prefix, k.config,
                                          skip=(DROPS,), progress_s=progress_s)
        self.redis_sink = RedisSink(redis_url, settings) if redis_url else None

        def attach(stream: Any) -> None:
            keyed = op.map("to_kafka", stream,
                           lambda t: (t[0], "" if t[0] == DROPS else output_key(t[0], t[2]), t[2]))
            op.output("kafka_out", keyed, self.kafka_sink)
            if self.redis_sink is not None:
                published = op.filter("for_redis", stream, lambda t: t[0] != DROPS)
                op.output("redis_out",
                          op.map("to_redis", published, lambda t: ("out", (t[0], t[2]))),
                          self.redis_sink)

        def positions(stream: Any) -> None:
            if self.redis_sink is not None:
                op.output("redis_positions", op.map("pos", stream, lambda p: ("pos", p)),
                          self.redis_sink)

        self.flow = build_flow("fleetstream_live", source, attach,
                               partial(build_zone_engine, settings=settings.engine,
                                       models_dir=models_dir, limits=settings.limits),
                               partial(restore_zone_engine, settings=settings.engine,
                                       limits=settings.limits),
                               ordered=True, attach_positions=positions, limits=settings.limits)

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {"outputs": self.kafka_sink.counters.snapshot(),
                               "outputs_skipped": self.kafka_sink.counters.skipped}
        if self.redis_sink is not None:
            out["redis"] = self.redis_sink.stats.metrics()
        out["solver_jobs"] = dict(jobs.METRICS)
        return out


def make_live_flow(settings: Settings, redis_url: str | None, tail: bool = True,
                   models_dir: str | None = None):
    return LiveFlow(settings, redis_url, tail, models_dir).flow


def run_live(settings: Settings, redis_url: str | None = None, workers: int = 1,
             recovery_dir: str | None = None, tail: bool = True,
             models_dir: str | None = None, epoch_interval_s: float = 2.0,
             progress_s: float = 10.0) -> dict[str, Any]:
    """Run the live flow until the input ends (``tail=False``) or forever.  Returns
    the output counts per topic (``_drops`` included) and the read-model metrics."""
    jobs.LOG_WAITS[0] = True  # live: a late solver result holds events up; say so
    lf = LiveFlow(settings, redis_url, tail, models_dir, progress_s)
    from fleetstream.observe import runtime as observe  # metrics read the connectors' counters
    observe.watch_live(lf)
    rc = None
    if recovery_dir:
        if not os.path.isdir(recovery_dir) or not os.listdir(recovery_dir):
            os.makedirs(recovery_dir, exist_ok=True)
            init_db_dir(recovery_dir, 1)
        rc = RecoveryConfig(recovery_dir)
    ei = timedelta(seconds=epoch_interval_s)
    if workers <= 1:
        run_main(lf.flow, epoch_interval=ei, recovery_config=rc)
    else:
        cluster_main(lf.flow, [], 0, epoch_interval=ei, recovery_config=rc,
                     worker_count_per_proc=workers)
    return lf.stats()


def _sigterm(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt("SIGTERM")


def _check_args(a: Any) -> str | None:
    """The first mistake in the flags, as one line (None: fine)."""
    if a.workers < 0:
        return f"-w/--workers must be >= 1 (0: the workers setting), got {a.workers}"
    if not (math.isfinite(a.epoch_interval) and a.epoch_interval > 0):
        return f"--epoch-interval must be a number of seconds > 0, got {a.epoch_interval}"
    bad = [kv for kv in a.set if "=" not in kv or "." not in kv.split("=", 1)[0]]
    if bad:
        return f"--set takes SECTION.KEY=VALUE, got {bad[0]!r}"
    if a.models and not os.path.isdir(a.models):
        return f"--models {a.models}: not a directory"
    if a.config and not os.path.isfile(a.config):
        return f"--config {a.config}: not a file"
    if a.recovery:
        if os.path.exists(a.recovery) and not os.path.isdir(a.recovery):
            return f"--recovery {a.recovery}: exists and is not a directory"
        parent = os.path.dirname(os.path.abspath(a.recovery))
        if not os.path.exists(a.recovery) and not os.access(parent, os.W_OK):
            return f"--recovery {a.recovery}: cannot be created ({parent} is not writable)"
    return None


@click.command("run", cls=cli.Command, help=cli.help_text(__doc__), context_settings=cli.CONTEXT)
@click.option("--bootstrap", metavar="HOST:PORT", default=None,
              show_default="kafka.bootstrap: $FLEETSTREAM_KAFKA__BOOTSTRAP, else --config, "
              "else 127.0.0.1:19092",
              help="Kafka bootstrap servers")
@click.option("--redis", metavar="URL", default=None,
              show_default="redis.url: $FLEETSTREAM_REDIS__URL, else --config, else none",
              help="Redis URL for the read model (an empty string: no read model)")
@click.option("-w", "--workers", type=int, default=0, metavar="N",
              show_default="0: the workers setting", help="worker threads")
@click.option("--recovery", metavar="DIR", default=None, show_default="off",
              help="Bytewax recovery folder: state and input offsets are snapshotted there; "
              "a restart with the same DIR resumes")
@click.option("--epoch-interval", type=float, default=2.0, metavar="S",
              help="seconds between snapshots with --recovery")
@click.option("--stop-at-end", is_flag=True,
              help="stop when every input partition is consumed (tests, backfills)")
@click.option("--models", metavar="DIR", default=None, show_default="cold start",
              help="warm-start models from a snapshot folder")
@click.option("--config", metavar="FILE", default=None,
              show_default="built-in settings and the FLEETSTREAM_* environment",
              help="TOML settings file (docs/configuration.md)")
@click.option("--set", "set_", multiple=True, metavar="SECTION.KEY=VALUE",
              help="override one setting, e.g. --set kafka.topic_prefix=test. (repeatable; "
              "beats the environment and --config)")
@click.option("-q", "--quiet", is_flag=True, help="no progress lines")
@observe.options
def command(**kw: Any) -> int:
    kw["set"] = list(kw.pop("set_"))
    return _run(SimpleNamespace(**kw))


def main(argv: list[str] | None = None) -> int:
    return cli.run(command, argv, "fleetstream run", usage_exits=True)


def _run(a: SimpleNamespace) -> int:
    problem = _check_args(a)
    if problem:
        print(f"fleetstream run: {problem}", file=sys.stderr)
        return 2
    overrides: dict[str, Any] = dict(kv.split("=", 1) for kv in a.set)
    if a.bootstrap and "kafka.bootstrap" not in overrides:
        overrides["kafka.bootstrap"] = a.bootstrap
    try:
        s = Settings.load(a.config, overrides=overrides)
        check_broker(s.kafka.bootstrap, s.kafka.config,
                     need_topics=[s.kafka.topic_prefix + t for t in INPUT_TOPICS])
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError,
            ValueError) as e:
        print(f"fleetstream run: {scrub(' '.join(str(e).split()))}", file=sys.stderr)
        return 2
    except (KafkaUnavailable, KafkaClientError) as e:
        print(f"fleetstream run: {e}", file=sys.stderr)
        return 1
    redis_url = a.redis if a.redis is not None else s.redis.url
    # SIGTERM stops like Ctrl-C: Bytewax aborts, the sinks close (the Redis read
    # model writes its backlog, outputs are flushed) instead of the process dying.
    signal.signal(signal.SIGTERM, _sigterm)
    observe.start(a, "live", s)  # logs (then basicConfig below is a no-op), metrics endpoint
    logging.basicConfig(level=logging.WARNING if a.quiet else logging.INFO,
                        format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    workers = a.workers or s.workers
    log.info("kafka %s (topic prefix %r, output prefix %r, client config %s), redis %s, "
             "workers %d, recovery %s", s.kafka.bootstrap, s.kafka.topic_prefix,
             s.kafka.output_prefix, redact(s.kafka.config),
             redact_url(redis_url) if redis_url else "off", workers, a.recovery or "off")
    t0 = time.monotonic()
    try:
        stats = run_live(s, redis_url or None, workers, a.recovery, tail=not a.stop_at_end,
                         models_dir=a.models, epoch_interval_s=a.epoch_interval,
                         progress_s=0 if a.quiet else 10.0)
    except (KeyboardInterrupt, BytewaxRuntimeError) as e:
        # Bytewax wraps the KeyboardInterrupt of Ctrl-C / SIGTERM ("signal received").
        if not isinstance(e, KeyboardInterrupt) and not isinstance(e.__cause__,
                                                                   KeyboardInterrupt):
            raise
        log.warning("stopped by a signal after %.1f s (restart with the same --recovery "
                    "to resume)", time.monotonic() - t0)
        observe.stop(a)
        return 130
    log.info("stopped after %.1f s: %s", time.monotonic() - t0, stats)
    observe.stop(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
