"""The live input: :class:`OrderedKafkaSource`, the Bytewax source that merges the
input topics' partitions into one ordered sequence, its partition
(``_MergedPartition``) and :func:`to_inmsg` (a consumed message -> ``InMsg``).

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

import logging
import time
from collections import deque
from datetime import datetime
from typing import Any

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from fleetstream.connectors.kafka_clients import _client, client_config
from fleetstream.contract.events import INPUT_TOPICS
from fleetstream.operators.pipeline import InMsg

log = logging.getLogger("fleetstream.kafka")


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
