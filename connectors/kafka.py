"""Kafka edges: the output sink, publishing a replay and recording the input topics;
the ordered input source and the client helpers, re-exported from their modules.

Output: :class:`KafkaOutputSink` produces every output record as JSON with the
contract's headers, through one idempotent producer per worker, and returns
from a batch only when the broker acknowledged it (at-least-once with the
recovery store).  :func:`publish` produces a replay in order with strictly
increasing timestamps; :func:`record` consumes the input topics back in the
order the engine's source merges them in.  The live input
(:class:`OrderedKafkaSource`: the merge by timestamp, its waiting and its
recovery) is in connectors/kafka_source.py; client construction, the broker
check and topic admin in connectors/kafka_clients.py.
"""

from __future__ import annotations

import base64
import heapq
import logging
import threading
import time
from typing import Any, Iterable, Iterator

import orjson
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from confluent_kafka import (OFFSET_BEGINNING, OFFSET_END, Consumer, KafkaError, KafkaException,
                             Producer, TopicPartition)
from confluent_kafka.admin import AdminClient

from fleetstream.connectors.kafka_clients import (  # noqa: F401 - re-exported
    CONSUMER_ONLY, IDEMPOTENT, LIBRDKAFKA_LOG, KafkaClientError, KafkaUnavailable, _client,
    check_broker, client_config, ensure_topics, producer_config)
from fleetstream.connectors.kafka_source import (  # noqa: F401 - re-exported
    MESSAGE_ERRORS, SEQ_KEY, OrderedKafkaSource, Stream, _MergedPartition, _skey, to_inmsg)
from fleetstream.connectors.redaction import redact, redact_url, scrub  # noqa: F401
from fleetstream.contract.events import INPUT_TOPICS
from fleetstream.contract.headers import output_headers
from fleetstream.contract.message import kafka_order
from fleetstream.operators import jobs
from fleetstream.operators.pipeline import InMsg

log = logging.getLogger("fleetstream.kafka")


# ---------------------------------------------------------------- output


class OutputCounters:
    """Counts shared by the sink partitions of one run (workers are threads)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_topic: dict[str, int] = {}
        self.skipped = 0

    def add(self, counts: dict[str, int]) -> None:
        with self.lock:
            for k, v in counts.items():
                self.by_topic[k] = self.by_topic.get(k, 0) + v

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return dict(self.by_topic)


class _OutputPart(StatelessSinkPartition):
    def __init__(self, cfg: dict, prefix: str, skip: frozenset, counters: OutputCounters,
                 flush_timeout_s: float, progress_s: float):
        self.producer = _client(Producer, cfg)
        self.prefix = prefix
        self.skip = skip
        self.counters = counters
        self.flush_timeout_s = flush_timeout_s
        self.progress_s = progress_s
        self.next_progress = time.monotonic() + progress_s
        self.failed: list[str] = []

    def _delivered(self, err: Any, msg: Any) -> None:
        if err is not None:
            self.failed.append(f"{msg.topic()}: {err}")

    def _produce(self, topic: str, key: bytes, value: bytes,
                 headers: list | None = None) -> None:
        while True:
            try:
                self.producer.produce(topic, value, key, on_delivery=self._delivered,
                                      headers=headers)
                return
            except BufferError:  # local queue full: let it drain
                self.producer.poll(0.05)
            except KafkaException as e:
                if e.args and e.args[0].code() == KafkaError.MSG_SIZE_TOO_LARGE:
                    # A permanent error for this one record: retrying would wedge the
                    # engine on every restart. Logged and counted, never silent.
                    self.counters.skipped += 1
                    log.error("output record too large for %s (%d bytes), skipped: key %r",
                              topic, len(value), key[:80])
                    return
                raise

    def write_batch(self, items: list) -> None:
        """``items``: ``(topic, key, record)``.  Returns only when every record is
        acknowledged by the broker: the Bytewax snapshot that follows can then not
        cover an output that was lost (at-least-once)."""
        counts: dict[str, int] = {}
        prefix = self.prefix
        dumps = orjson.dumps
        for topic, key, rec in items:
            counts[topic] = counts.get(topic, 0) + 1
            if topic in self.skip:
                continue
            # the contract's headers (docs/topics.md): schema version, trace id...
            self._produce(prefix + topic, key.encode("utf-8"), dumps(rec),
                          output_headers(topic, rec))
            self.producer.poll(0)
        remaining = self.producer.flush(self.flush_timeout_s)
        if self.failed or remaining:
            failed, self.failed = self.failed, []
            raise RuntimeError(f"kafka output: {len(failed)} records failed, {remaining} not "
                               f"acknowledged after {self.flush_timeout_s:.0f} s; first errors: "
                               f"{failed[:3]} (restart with --recovery to resume: no output "
                               "is lost)")
        self.counters.add(counts)
        if self.progress_s and time.monotonic() >= self.next_progress:
            self.next_progress = time.monotonic() + self.progress_s
            log.info("outputs so far: %s%s", ", ".join(
                f"{k} {v:,}" for k, v in sorted(self.counters.snapshot().items())),
                f"; {jobs.summary()}" if jobs.METRICS["submitted"] else "")

    def close(self) -> None:
        self.producer.flush(self.flush_timeout_s)


class KafkaOutputSink(DynamicSink):
    """Produces ``(topic, key, record)`` items to ``output_prefix + topic`` with the
    record as JSON and the key as UTF-8.  Topics in ``skip`` are only counted.
    Each worker has its own idempotent producer (no duplicates from client
    retries); ``extra`` librdkafka properties (SASL/SSL...) pass through."""

    def __init__(self, bootstrap: str, output_prefix: str = "", extra: dict | None = None,
                 skip: Iterable[str] = (), flush_timeout_s: float = 120.0,
                 progress_s: float = 10.0):
        cfg = {"linger.ms": 2, "compression.type": "lz4", "queue.buffering.max.messages": 500000}
        cfg.update(client_config(bootstrap, extra))
        cfg = producer_config(cfg)
        self.cfg = cfg
        self.prefix = output_prefix
        self.skip = frozenset(skip)
        self.flush_timeout_s = flush_timeout_s
        self.progress_s = progress_s
        self.counters = OutputCounters()

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _OutputPart:
        return _OutputPart(self.cfg, self.prefix, self.skip, self.counters,
                           self.flush_timeout_s, self.progress_s)


# ---------------------------------------------------------------- publish / record


def publish(bootstrap: str, msgs: Iterable[InMsg], prefix: str = "", extra: dict | None = None,
            speed: float | None = None, progress: Any = None) -> int:
    """Produce messages to their topics in order, with strictly increasing
    timestamps (so the merge restores exactly this order).

    The producer is idempotent (``enable.idempotence=true``, ``acks=all``): a batch
    retried after "Not leader for partition" (right after topic creation, a broker
    restart) can neither be duplicated nor land after a later batch of its
    partition.  These two cannot be overridden by ``extra``.
    With ``speed`` the event-time gaps are replayed ``speed`` times faster."""
    cfg = client_config(bootstrap, {"linger.ms": 5, "batch.num.messages": 10000,
                                    "queue.buffering.max.messages": 1000000, **(extra or {})})
    cfg = producer_config(cfg)
    p = _client(Producer, cfg)
    errors: list[str] = []

    def on_delivery(err: Any, _msg: Any) -> None:
        if err is not None:
            errors.append(str(err))

    base_ms = int(time.time() * 1000)
    first_ts = wall0 = None
    n = 0
    for m in msgs:
        if speed:
            try:
                ts = float(orjson.loads(m.value)["ts"])
            except Exception:  # noqa: BLE001
                ts = None
            if ts is not None:
                if first_ts is None:
                    first_ts, wall0 = ts, time.monotonic()
                delay = (ts - first_ts) / speed - (time.monotonic() - wall0)
                if delay > 0:
                    p.flush()
                    time.sleep(delay)
        while True:
            try:
                p.produce(prefix + m.topic, value=m.value,
                          key=m.key.encode() if m.key is not None else None,
                          timestamp=base_ms + n, on_delivery=on_delivery)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
        n += 1
        if progress and n % 50000 == 0:
            progress(f"published {n:,}")
    remaining = p.flush(60)
    if remaining or errors:
        raise RuntimeError(f"publish: {remaining} undelivered, errors: {errors[:3]}")
    return n


def record(bootstrap: str, prefix: str = "", extra: dict | None = None, idle_s: float = 5.0,
           from_beginning: bool = True, max_messages: int | None = None) -> Iterator[InMsg]:
    """Consume the input topics until they are idle for ``idle_s``; yields messages
    in the order the engine's source merges them in: each partition in offset
    order, merged by ``kafka_order`` (timestamp, topic rank, partition, offset) of
    the partitions' next messages.  When every partition's timestamps increase
    (any idempotent producer) that is plain sorting by ``kafka_order``."""
    cfg = client_config(bootstrap, extra)
    admin = _client(AdminClient, cfg)
    md = admin.list_topics(timeout=30).topics
    c = _client(Consumer, {**cfg, "group.id": "fleetstream-record", "enable.auto.commit": False})
    tps = [TopicPartition(prefix + t, p, OFFSET_BEGINNING if from_beginning else OFFSET_END)
           for t in INPUT_TOPICS if prefix + t in md for p in md[prefix + t].partitions]
    c.assign(tps)
    streams: dict[tuple, list] = {}
    n = 0
    last = time.monotonic()
    order = {prefix + t: i for i, t in enumerate(INPUT_TOPICS)}
    try:
        while time.monotonic() - last < idle_s:
            msgs = c.consume(10000, 0.2)
            for m in msgs:
                if m.error() is None:
                    streams.setdefault((m.topic(), m.partition()), []).append(
                        (kafka_order(m.timestamp()[1], order[m.topic()], m.partition(),
                                     m.offset()), to_inmsg(m, prefix)))
                    n += 1
                    last = time.monotonic()
            if max_messages and n >= max_messages:
                break
    finally:
        c.close()
    merged = heapq.merge(*(sorted(v, key=lambda x: x[0][3]) for _k, v in sorted(streams.items())),
                         key=lambda x: x[0])
    for i, (_k, m) in enumerate(merged):
        yield InMsg(i, m.topic, m.key, m.value)


def b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


__all__ = ["KafkaOutputSink", "OrderedKafkaSource", "ensure_topics", "publish", "record", "redact"]
