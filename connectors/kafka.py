"""Kafka edges: the ordered input source, output sink messages, topic admin,
publishing a replay and recording the input topics.

Input: :class:`OrderedKafkaSource` merges every partition of every input topic
by message timestamp in one Bytewax partition (``merge="global"``, default), or
one Bytewax partition per partition *index* ``i`` reading partition ``i`` of
each topic (``merge="index"``). Messages with equal timestamps keep a fixed
(topic, partition) order. With the project's producers (``fleetstream
publish``, the simulator) message timestamps increase with production, so the
merge emits events in the order they were produced: the live engine sees
exactly the order of the recording and decides exactly as the file replay does,
with any number of partitions (tested).

A stream with nothing buffered holds the merge back while it may still have an
older message: when it has unread messages (position below its high watermark)
until they arrive (at most ``lag_wait_s``); when it looks caught up, that is
checked with the broker after each fetch that brought something (the cached
watermark can trail data already delivered for other streams); when nothing is
known, for at most ``max_wait_s`` (wall-clock: this is I/O, not decision logic).
When the source stops at the end (``tail=False``), partition EOF ends it.

Recovery: the resume state of a part is ``{"topic#partition": next offset}``, in the
Bytewax recovery store, not in a consumer group. After a crash the engine
resumes from the last snapshot's offsets. Outputs produced after that snapshot
are produced again, so delivery is at least once, and ``decision_id`` /
``eta_id`` / ``alert_id`` let consumers drop the duplicates.
"""

from __future__ import annotations

import base64
import heapq
import logging
import threading
import time
from collections import deque
from datetime import datetime
from typing import Any, Iterable, Iterator

import orjson
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from confluent_kafka import (OFFSET_BEGINNING, OFFSET_END, Consumer, KafkaError, KafkaException,
                             Producer, TopicPartition)
from confluent_kafka.admin import AdminClient, NewTopic

from fleetstream.connectors.redaction import redact, redact_url, scrub  # noqa: F401
from fleetstream.contract.headers import output_headers
from fleetstream.contract.events import INPUT_TOPICS, TOPIC_CUSTOMERS
from fleetstream.contract.message import kafka_order
from fleetstream.contract.outputs import OUTPUT_TOPICS
from fleetstream.operators import jobs
from fleetstream.operators.pipeline import InMsg

log = logging.getLogger("fleetstream.kafka")


class KafkaClientError(RuntimeError):
    """A Kafka client could not be created (bad option name or value).  Its message
    never holds an option's value."""


LIBRDKAFKA_LOG = logging.getLogger("fleetstream.kafka.librdkafka")
"""librdkafka's own log lines (connection failures, ``BGQUEUE``...) go through Python
logging (confluent-kafka's ``logger`` option), so they take the process's structured
format (``--log-format json``: JSON lines only), level and secret redaction instead of
bypassing them as ``%3|...|rdkafka#producer-1|...`` lines on stderr."""


def _client(kind: Any, config: dict) -> Any:
    try:
        return kind({"logger": LIBRDKAFKA_LOG, **config})
    except (KafkaException, ValueError, TypeError) as e:
        raise KafkaClientError(f"kafka client configuration rejected: "
                               f"{scrub(str(e), config)}") from None


class KafkaUnavailable(RuntimeError):
    """The broker did not answer (commands print this as one line, exit 1)."""


def check_broker(bootstrap: str, extra: dict | None = None, timeout_s: float = 10.0,
                 need_topics: Iterable[str] = ()) -> set[str]:
    """Fail fast with one clear line instead of librdkafka retrying for minutes:
    raises :class:`KafkaUnavailable` when no broker answers within ``timeout_s``,
    ``ValueError`` when a topic of ``need_topics`` does not exist.  Returns the
    broker's topic names."""
    cfg = {**client_config(bootstrap, extra), "log_level": 0,
           "socket.connection.setup.timeout.ms": int(timeout_s * 1000)}
    admin = _client(AdminClient, cfg)
    try:
        md = admin.list_topics(timeout=timeout_s)
    except KafkaException as e:
        err = e.args[0] if e.args else e
        reason = err.str() if hasattr(err, "str") else str(err)
        raise KafkaUnavailable(f"cannot reach the Kafka broker at {redact_url(bootstrap)} "
                               f"within {timeout_s:.0f} s ({scrub(reason, extra)})") from None
    if not md.brokers:
        raise KafkaUnavailable(f"no Kafka broker answers at {redact_url(bootstrap)}")
    names = set(md.topics)
    missing = [t for t in need_topics if t not in names]
    if missing:
        raise ValueError(f"topics missing on the broker ({', '.join(missing)}): run "
                         "`fleetstream topics create` (with the same topic prefix)")
    return names


def client_config(bootstrap: str, extra: dict | None = None) -> dict:
    cfg = {"bootstrap.servers": bootstrap}
    cfg.update(extra or {})
    return cfg


# Every producer fleetstream creates: no duplicates and no reordering from retries.
IDEMPOTENT = {"enable.idempotence": True, "acks": "all"}
CONSUMER_ONLY = ("group.id", "auto.offset.reset", "enable.auto.commit", "isolation.level")


def producer_config(cfg: dict) -> dict:
    """``cfg`` for a producer: consumer-only options dropped (librdkafka warns about
    each), then ``IDEMPOTENT``."""
    return {**{k: v for k, v in cfg.items() if k not in CONSUMER_ONLY}, **IDEMPOTENT}


# ---------------------------------------------------------------- admin


def ensure_topics(bootstrap: str, prefix: str = "", output_prefix: str = "", partitions: int = 4,
                  replication: int = 1, extra: dict | None = None,
                  timeout_s: float = 30.0) -> dict[str, str]:
    """Create the input and output topics (idempotent).  Input topics share one
    partition count so a key lands on the same partition index in each;
    ``fs.customers`` is compacted.  Returns topic -> 'created' | 'exists'."""
    admin = _client(AdminClient, client_config(bootstrap, extra))
    existing = set(admin.list_topics(timeout=timeout_s).topics)
    wanted = ([prefix + t for t in INPUT_TOPICS]
              + [prefix + output_prefix + t for t in OUTPUT_TOPICS])
    new = []
    for t in wanted:
        if t in existing:
            continue
        conf = {"cleanup.policy": "compact"} if t.endswith(TOPIC_CUSTOMERS) else {}
        new.append(NewTopic(t, num_partitions=partitions, replication_factor=replication,
                            config=conf))
    result = {t: "exists" for t in wanted if t in existing}
    if new:
        for t, fut in admin.create_topics(new, operation_timeout=timeout_s).items():
            try:
                fut.result()
                result[t] = "created"
            except Exception as e:  # noqa: BLE001
                if "TOPIC_ALREADY_EXISTS" in str(e):
                    result[t] = "exists"
                else:
                    raise
    return result


# ---------------------------------------------------------------- input

_EOF = KafkaError._PARTITION_EOF
# Errors about one record (it becomes a dead letter); any other consumer error is
# about the client or a partition and is only logged and counted.
MESSAGE_ERRORS = frozenset(c for c in (getattr(KafkaError, n, None) for n in (
    "_BAD_MSG", "_KEY_DESERIALIZATION", "_VALUE_DESERIALIZATION", "INVALID_RECORD",
    "CORRUPT_MESSAGE", "INVALID_MSG")) if c is not None)


Stream = tuple  # (topic, partition)


def _skey(st: Stream) -> str:
    return f"{st[0]}#{st[1]}"


class _MergedPartition(StatefulSourcePartition[InMsg, dict]):
    """Several (topic, partition) streams merged in the total order of
    ``kafka_order`` (timestamp, topic rank, partition, offset); ``streams`` is
    given in (topic rank, partition) order.  Resume state:
    ``{"topic#partition": next offset, "#seq": next seq}``."""

    def __init__(self, cfg: dict, streams: list[Stream], resume: dict | None,
                 tail: bool, batch_size: int, max_wait_s: float, prefix: str,
                 lag_wait_s: float = 10.0, poll_timeout_s: float = 0.005, lane: int = 0,
                 seq_stride: int = 1, hold_poll_s: float = 0.02, commit: bool = True):
        self.lane = lane  # stage-1 key of everything this partition reads
        c = dict(cfg)
        c.setdefault("group.id", "fleetstream-engine")  # lag visibility only (docs/live.md)
        c["enable.auto.commit"] = False
        c["enable.auto.offset.store"] = False
        c["enable.partition.eof"] = True
        c.setdefault("auto.offset.reset", "earliest")
        self.consumer = _client(Consumer, c)
        # Watermark queries go through a client of their own: on the consumer's
        # connection they would queue behind its long-poll fetch (up to
        # fetch.wait.max.ms).
        self.meta = _client(Consumer, {**c, "enable.partition.eof": False})
        self.topics = streams  # (topic rank, partition) order: the tie-break after ts
        self.order = {st: i for i, st in enumerate(streams)}
        self.prefix = prefix
        by_key = {_skey(st): st for st in streams}
        resume = resume or {}
        self.next: dict[Stream, int] = {by_key[k]: int(o) for k, o in resume.items()
                                        if k in by_key}
        # seq = position in the merged sequence (x seq_stride + lane when several
        # parts share the flow): a counter, resumed with the offsets.
        self.count = int(resume.get(SEQ_KEY, 0))
        self.seq_stride = max(1, seq_stride)
        self.consumer.assign([TopicPartition(st[0], st[1], self.next.get(st, OFFSET_BEGINNING))
                              for st in streams])
        self.query_timeout_s = 5.0
        self.reachable = True       # the broker answered our last request
        self.retry_at = 0.0         # no watermark query before this (after a failure)
        # Where each stream starts and ends now: a stream known to have unread
        # messages holds the merge until they arrive (exact order on a backlog).
        self.hwm: dict[Stream, int] = {}
        for t in streams:
            self._watermarks(t, init=True)
        # Per stream: (timestamp ms, message, error) in offset order.
        self.buf: dict[Stream, deque] = {t: deque() for t in streams}
        self.eof: dict[Stream, bool] = {t: False for t in streams}
        # End offset of the last partition-EOF per stream: with nothing buffered, all
        # before it was read (it can lie past the last message: transaction markers).
        self.end_seen: dict[Stream, int] = {}
        self.tail = tail
        self.batch_size = batch_size
        self.max_wait_s = max_wait_s
        self.lag_wait_s = lag_wait_s
        self.poll_timeout_s = poll_timeout_s
        self.hold_poll_s = hold_poll_s
        # The merge's waiting (see next_batch): per stream, seconds this source has
        # spent inside its own polls, broker reachable, while that stream held the
        # merge with no progress.  Never the wall time between polls.
        self.waited: dict[Stream, float] = {}
        self.holding: list[Stream] = []
        self.gave_up = 0            # holds that expired (the order may then differ)
        self.last_arrival = -1.0  # monotonic time of the latest fetch that brought messages
        self.verified: dict[Stream, float] = {}  # stream -> when its watermark was last asked
        self.errors = 0
        self._next_error_log = 0.0
        # Consumer-group offsets for lag visibility (never read back: docs/live.md).
        self.commit = commit and c.get("group.id") not in (None, "")
        self.to_commit: dict | None = None
        self.committed = 0

    def _watermarks(self, t: Stream, init: bool = False) -> bool:
        """Ask the broker for ``t``'s watermarks; False when it did not answer (then
        no query for a second: a down broker must not cost a timeout per stream)."""
        if time.monotonic() < self.retry_at:
            return False
        try:
            lo, hi = self.meta.get_watermark_offsets(TopicPartition(*t),
                                                     timeout=10 if init else self.query_timeout_s)
        except KafkaException as e:
            self.reachable = False
            self.retry_at = time.monotonic() + 1.0
            (log.warning if init else log.debug)("kafka: no watermarks for %s[%d]: %s",
                                                 t[0], t[1], e)
            return False
        self.reachable = True
        self.next.setdefault(t, lo)
        self.hwm[t] = max(hi, self.hwm.get(t, 0))
        return True

    def _poll(self, timeout: float) -> None:
        for m in self.consumer.consume(self.batch_size, timeout):
            err = m.error()
            t = (m.topic(), m.partition())
            if err is not None:
                if err.code() == _EOF:
                    if t in self.eof:
                        self.eof[t] = True
                        self.waited.pop(t, None)
                        off = m.offset()
                        if off is not None and off >= 0:
                            self.end_seen[t] = max(off, self.end_seen.get(t, 0))
                    continue
                self._consumer_error(m, err)
                continue
            if t not in self.buf:
                continue
            self.last_arrival = time.monotonic()
            self.reachable = True
            self.eof[t] = False
            self.waited.pop(t, None)  # progress on this stream: its wait starts over
            self.buf[t].append((m.timestamp()[1], m, None))

    def _consumer_error(self, m: Any, err: Any) -> None:
        """A message-level error (a record the client could not read) becomes a dead
        letter; client-level trouble (broker down, rebalance...) is logged and
        counted: librdkafka reconnects by itself."""
        t, off = (m.topic(), m.partition()), m.offset()
        if (err.code() in MESSAGE_ERRORS and t in self.buf and off is not None and off >= 0):
            self.buf[t].append((m.timestamp()[1], m, str(err)))
            return
        # A partition-level error (not leader, offset out of range, a broker going
        # away...) is transient: librdkafka refetches; it never moves our position.
        if err.code() in (KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT):
            self.reachable = False
        self.errors += 1
        now = time.monotonic()
        if now >= self._next_error_log:
            self._next_error_log = now + 10.0
            log.warning("kafka consumer: %s (%d consumer errors so far)", err, self.errors)

    def _lagging(self, t: Stream) -> bool | None:
        """Whether stream ``t`` (nothing buffered) may still have messages older than
        what is buffered elsewhere: True when it has unread messages (our position
        is below its high watermark) or the broker cannot tell us now, False when
        it is caught up, None when unknown.  "Caught up" must be checked after the
        latest fetch brought something: the client's cached watermark can trail the
        data it already delivered for other streams, so then the broker is asked
        (one round trip per quiet stream and new arrival)."""
        pos = self.next.get(t)
        if pos is None:  # its watermarks never came (e.g. "not leader" just after creation)
            if not self._watermarks(t):
                return True  # unknown: it may hold older messages; wait, asking again
            pos = self.next[t]
        pos = max(pos, self.end_seen.get(t, -1))
        tp = TopicPartition(*t)
        try:
            _lo, hi = self.consumer.get_watermark_offsets(tp, cached=True)
        except KafkaException:
            hi = -1
        if hi is not None and hi >= 0:
            self.hwm[t] = max(hi, self.hwm.get(t, 0))
        if self.hwm.get(t, -1) > pos:
            return True
        if self.verified.get(t, -1.0) < self.last_arrival:
            if not self._watermarks(t):
                return True  # the broker is away: it may hold older messages for t
            self.verified[t] = time.monotonic()
        return self.hwm.get(t, -1) > pos if t in self.hwm else None

    def next_batch(self) -> list[InMsg]:
        """The next messages in merge order.  A stream with nothing buffered holds
        the merge while it may still have an older message (``_lagging``): True ->
        up to ``lag_wait_s``, None -> up to ``max_wait_s``.  That waiting is
        measured in this source's own polls: the time spent inside the consumer's
        poll while that stream held the merge, the broker reachable, and the
        stream made no progress (a message or its end arriving starts it over).
        The engine being busy between two polls (minutes of planning) therefore
        never counts, and a broker restart never counts: waiting then costs
        nothing, since nothing can arrive."""
        buffered = any(self.buf.values())
        holding = self.holding
        timeout = self.hold_poll_s if holding else (0 if buffered else self.poll_timeout_s)
        t0 = time.monotonic()
        self._poll(timeout)
        spent = time.monotonic() - t0
        if holding and self.reachable:
            for t in holding:
                if not self.buf[t]:
                    self.waited[t] = self.waited.get(t, 0.0) + spent
        self.holding = []
        out: list[InMsg] = []
        bufs, topics, order = self.buf, self.topics, self.order
        lag: dict[Stream, bool | None] = {}  # per empty stream, for this call
        while len(out) < self.batch_size:
            best = None
            hold: list[Stream] = []
            for t in topics:
                b = bufs[t]
                if b:
                    ts = b[0][0]
                    if (best is None or ts < best[0]
                            or (ts == best[0] and order[t] < order[best[1]])):
                        best = (ts, t)
                    continue
                if t not in lag:
                    lag[t] = self._lagging(t)
                    if lag[t] is False:
                        self.waited.pop(t, None)
                if lag[t] is not False:
                    limit = self.lag_wait_s if lag[t] else self.max_wait_s
                    w = self.waited.get(t, 0.0)
                    if w < limit:
                        hold.append(t)
                    elif w != float("inf"):
                        self._give_up(t, w)
            if best is None:
                break
            if hold:
                # Something older may still come on a stream with nothing buffered.
                self.holding = hold
                break
            t = best[1]
            _ts, m, err = bufs[t].popleft()
            self.next[t] = m.offset() + 1
            out.append(to_inmsg(m, self.prefix, err, self.lane,
                                self.count * self.seq_stride + self.lane))
            self.count += 1
            if not bufs[t]:
                lag[t] = self._lagging(t)
        if self.to_commit is not None:
            self._commit()
        if (not self.tail and not out and all(self.eof.values())
                and not any(self.buf.values())):
            raise StopIteration()
        return out

    def _give_up(self, t: Stream, waited: float) -> None:
        self.waited[t] = float("inf")  # once per hold: progress on t resets it
        self.gave_up += 1
        log.warning("kafka merge: %s[%d] (position %s, high watermark %s) brought nothing in "
                    "%.1f s of polling; merging without it (messages it still has may come "
                    "after newer ones: %d such waits so far)", t[0], t[1], self.next.get(t),
                    self.hwm.get(t), waited, self.gave_up)

    def _commit(self) -> None:
        """Commit the offsets of the last snapshot to the consumer group, for lag
        monitoring only.  Called at the first poll after a snapshot: Bytewax polls
        a source in a new epoch only when every output of the earlier epochs is
        written (its backpressure probe), so everything before these offsets has
        been decided and its outputs delivered."""
        offsets, self.to_commit = self.to_commit, None
        if not offsets:
            return
        try:
            self.consumer.commit(offsets=[TopicPartition(t[0], t[1], off)
                                          for t, off in offsets.items()], asynchronous=True)
            self.committed += 1
        except KafkaException as e:  # lag visibility only: never stop the engine for it
            log.debug("kafka: offset commit failed: %s", e)

    def next_awake(self) -> datetime | None:
        return None

    def snapshot(self) -> dict:
        snap: dict = {_skey(st): off for st, off in self.next.items()}
        if self.commit:
            self.to_commit = dict(self.next)
        snap[SEQ_KEY] = self.count
        return snap

    def close(self) -> None:
        self.consumer.close()
        self.meta.close()


SEQ_KEY = "#seq"


def to_inmsg(m: Any, prefix: str, err: str | None = None, lane: int = 0,
             seq: int | None = None) -> InMsg:
    """A consumed message -> ``InMsg`` with ``seq`` (its position in the merge;
    default: the offset)."""
    topic = m.topic()
    if prefix and topic.startswith(prefix):
        topic = topic[len(prefix):]
    key = m.key()
    value = m.value() or b""
    if err is not None:
        topic = "?kafka-error:" + err[:200]
    return InMsg(m.offset() if seq is None else seq, topic,
                 key.decode("utf-8", "replace") if key is not None else None,
                 value, m.partition(), m.offset(), lane)


class OrderedKafkaSource(FixedPartitionedSource[InMsg, dict]):
    """The live input (see the module docstring).  ``merge="global"`` (default):
    one Bytewax partition reads every partition of every input topic and merges
    them all by timestamp, so any partition count decides exactly like one;
    the zone engines still spread over the workers (stage 2 is keyed by zone).
    ``merge="index"``: one Bytewax partition per partition index, for inputs
    too large for one reader (order across indexes then follows arrival).
    ``tail=False`` stops when every partition is read to its end.  ``extra``:
    librdkafka consumer properties (SASL/SSL...), passed through.
    ``lag_wait_s`` / ``max_wait_s``: how long a stream may hold the merge, counted
    in the source's own polling (``_MergedPartition.next_batch``).
    ``commit_offsets``: commit processed offsets to the consumer group
    (``group.id``, default ``fleetstream-engine``) for lag monitoring; they are
    never read back (the recovery store decides where a run starts)."""

    def __init__(self, bootstrap: str, prefix: str = "", partitions: int | None = None,
                 extra: dict | None = None, tail: bool = True, batch_size: int = 1000,
                 max_wait_s: float = 0.2, lag_wait_s: float = 10.0, merge: str = "global",
                 commit_offsets: bool = True):
        if merge not in ("global", "index"):
            raise ValueError("merge must be 'global' or 'index'")
        self.cfg = client_config(bootstrap, extra)
        self.topics = [prefix + t for t in INPUT_TOPICS]
        self.prefix = prefix
        self.partitions = partitions
        self.tail = tail
        self.batch_size = batch_size
        self.max_wait_s = max_wait_s
        self.lag_wait_s = lag_wait_s
        self.merge = merge
        self.commit_offsets = commit_offsets

    def _count(self) -> int:
        if self.partitions is None:
            admin = _client(AdminClient, self.cfg)
            md = admin.list_topics(timeout=30).topics
            missing = [t for t in self.topics if t not in md]
            if missing:
                raise RuntimeError(f"input topics missing on the broker ({', '.join(missing)}): "
                                   "run `fleetstream topics create`")
            counts = {len(md[t].partitions) for t in self.topics}
            if len(counts) > 1:
                raise RuntimeError(f"input topics have different partition counts "
                                   f"{sorted(counts)}; a vehicle's events must share a "
                                   "partition index")
            self.partitions = counts.pop()
        return self.partitions

    def list_parts(self) -> list[str]:
        n = self._count()
        return ["all"] if self.merge == "global" else [f"p{i}" for i in range(n)]

    def build_part(self, step_id: str, for_part: str,
                   resume_state: dict | None) -> _MergedPartition:
        n = self._count()
        idx = range(n) if for_part == "all" else [int(for_part[1:])]
        streams = [(t, i) for t in self.topics for i in idx]
        return _MergedPartition(self.cfg, streams, resume_state, self.tail, self.batch_size,
                                self.max_wait_s, self.prefix, self.lag_wait_s,
                                lane=0 if for_part == "all" else int(for_part[1:]),
                                seq_stride=1 if for_part == "all" else n,
                                commit=self.commit_offsets)


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
