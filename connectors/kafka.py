"""Kafka edges: the ordered input source, output sink messages, topic admin,
publishing a replay and recording the input topics.

Input: :class:`OrderedKafkaSource` has one Bytewax partition per partition
*index* ``i``. Each part reads partition ``i`` of every input topic and merges
the topics by message timestamp. Messages with equal timestamps keep a fixed
topic order. With the project's producers (``fleetstream publish``, the
simulator) message timestamps increase with arrival, so a part emits events in
the order they were produced. With one partition per topic, the live engine
therefore sees exactly the order of the recording and decides exactly as the
file replay does (tested). With more partitions, each partition keeps its
order; order across partitions follows arrival.

Merging needs a message from every topic, or proof that a topic has nothing
older. A topic with no buffered message holds the merge back for at most
``max_wait_s`` (wall-clock: this is I/O, not decision logic). When the source
stops at the end (``tail=False``), partition EOF releases it at once.

Recovery: the resume state of a part is ``{topic: next offset}``, stored in the
Bytewax recovery store, not in a consumer group. After a crash the engine
resumes from the last snapshot's offsets. Outputs produced after that snapshot
are produced again, so delivery is at least once, and ``decision_id`` /
``eta_id`` / ``alert_id`` let consumers drop the duplicates.
"""

from __future__ import annotations

import base64
import logging
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Iterator

import orjson
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from fleetstream.events import INPUT_TOPICS, TOPIC_CUSTOMERS
from fleetstream.outputs import OUTPUT_TOPICS
from operators.pipeline import InMsg

log = logging.getLogger("fleetstream.kafka")
SECRET_WORDS = ("password", "secret", "key", "token")


def redact(config: dict) -> dict:
    """Config safe to log: values of secret-looking keys replaced.

    >>> redact({"sasl.password": "hunter2", "bootstrap.servers": "b:9092"})
    {'sasl.password': '***', 'bootstrap.servers': 'b:9092'}
    """
    return {k: ("***" if any(w in k.lower() for w in SECRET_WORDS) else v) for k, v in config.items()}


def client_config(bootstrap: str, extra: dict | None = None) -> dict:
    cfg = {"bootstrap.servers": bootstrap}
    cfg.update(extra or {})
    return cfg


# ---------------------------------------------------------------- admin


def ensure_topics(bootstrap: str, prefix: str = "", output_prefix: str = "", partitions: int = 4,
                  replication: int = 1, extra: dict | None = None,
                  timeout_s: float = 30.0) -> dict[str, str]:
    """Create the input and output topics (idempotent).  Input topics share one
    partition count so a key lands on the same partition index in each;
    ``fs.customers`` is compacted.  Returns topic -> 'created' | 'exists'."""
    admin = AdminClient(client_config(bootstrap, extra))
    existing = set(admin.list_topics(timeout=timeout_s).topics)
    wanted = [prefix + t for t in INPUT_TOPICS] + [prefix + output_prefix + t for t in OUTPUT_TOPICS]
    new = []
    for t in wanted:
        if t in existing:
            continue
        conf = {"cleanup.policy": "compact"} if t.endswith(TOPIC_CUSTOMERS) else {}
        new.append(NewTopic(t, num_partitions=partitions, replication_factor=replication, config=conf))
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


class _MergedPartition(StatefulSourcePartition[Any, dict]):
    def __init__(self, cfg: dict, topics: list[str], index: int, resume: dict | None,
                 tail: bool, batch_size: int, max_wait_s: float, prefix: str):
        c = dict(cfg)
        c.setdefault("group.id", "fleetstream-engine")  # required by librdkafka; no commits
        c["enable.auto.commit"] = False
        c["enable.partition.eof"] = True
        c.setdefault("auto.offset.reset", "earliest")
        self.consumer = Consumer(c)
        self.topics = topics
        self.prefix = prefix
        self.index = index
        self.next: dict[str, int] = dict(resume or {})
        self.consumer.assign([TopicPartition(t, index, self.next.get(t, OFFSET_BEGINNING))
                              for t in topics])
        self.buf: dict[str, list] = {t: [] for t in topics}
        self.eof: dict[str, bool] = {t: False for t in topics}
        self.tail = tail
        self.batch_size = batch_size
        self.max_wait_s = max_wait_s
        self.blocked_since: float | None = None

    def _poll(self) -> None:
        for m in self.consumer.consume(self.batch_size, 0.01):
            err = m.error()
            t = m.topic()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    self.eof[t] = True
                    continue
                # A consumer error is reported as a dead letter, never a crash.
                self.buf.setdefault(t, []).append((m, str(err)))
                continue
            self.eof[t] = False
            self.buf[t].append((m, None))

    def next_batch(self) -> list:
        self._poll()
        out = []
        order = {t: i for i, t in enumerate(self.topics)}
        while len(out) < self.batch_size:
            heads = [(self.buf[t][0][0].timestamp()[1], order[t], t) for t in self.topics if self.buf[t]]
            if not heads:
                break
            waiting = [t for t in self.topics if not self.buf[t] and not self.eof[t]]
            if waiting:
                # Something older may still come on a quiet topic: wait a little.
                now = time.monotonic()
                if self.blocked_since is None:
                    self.blocked_since = now
                if now - self.blocked_since < self.max_wait_s:
                    break
            self.blocked_since = None
            _ts, _o, t = min(heads)
            m, err = self.buf[t].pop(0)
            self.next[t] = m.offset() + 1
            out.append(to_inmsg(m, self.prefix, err))
        if not self.tail and not out and all(self.eof.values()) and not any(self.buf.values()):
            raise StopIteration()
        return out

    def next_awake(self) -> datetime | None:
        return None

    def snapshot(self) -> dict:
        return dict(self.next)

    def close(self) -> None:
        self.consumer.close()


def to_inmsg(m: Any, prefix: str, err: str | None = None) -> InMsg:
    topic = m.topic()
    if prefix and topic.startswith(prefix):
        topic = topic[len(prefix):]
    key = m.key()
    ts = m.timestamp()[1]
    value = m.value() or b""
    if err is not None:
        topic = "?kafka-error:" + err[:200]
    return InMsg(ts * 1000 + (m.offset() % 1000), topic,
                 key.decode("utf-8", "replace") if key is not None else None,
                 value, m.partition(), m.offset())


class OrderedKafkaSource(FixedPartitionedSource[InMsg, dict]):
    def __init__(self, bootstrap: str, prefix: str = "", partitions: int | None = None,
                 extra: dict | None = None, tail: bool = True, batch_size: int = 1000,
                 max_wait_s: float = 0.2):
        self.cfg = client_config(bootstrap, extra)
        self.topics = [prefix + t for t in INPUT_TOPICS]
        self.prefix = prefix
        self.partitions = partitions
        self.tail = tail
        self.batch_size = batch_size
        self.max_wait_s = max_wait_s

    def list_parts(self) -> list[str]:
        n = self.partitions
        if n is None:
            admin = AdminClient(self.cfg)
            md = admin.list_topics(timeout=30).topics
            counts = {len(md[t].partitions) for t in self.topics if t in md}
            if not counts:
                raise RuntimeError(f"input topics missing on the broker: run `fleetstream topics create`")
            if len(counts) > 1:
                raise RuntimeError(f"input topics have different partition counts {sorted(counts)}; "
                                   "a vehicle's events must share a partition index")
            n = counts.pop()
        return [f"p{i}" for i in range(n)]

    def build_part(self, step_id: str, for_part: str, resume_state: dict | None) -> _MergedPartition:
        return _MergedPartition(self.cfg, self.topics, int(for_part[1:]), resume_state, self.tail,
                                self.batch_size, self.max_wait_s, self.prefix)


# ---------------------------------------------------------------- publish / record


def publish(bootstrap: str, msgs: Iterable[InMsg], prefix: str = "", extra: dict | None = None,
            speed: float | None = None, progress: Any = None) -> int:
    """Produce messages to their topics in order, with increasing timestamps.

    With ``speed`` the event-time gaps are replayed ``speed`` times faster."""
    cfg = client_config(bootstrap, {"linger.ms": 5, "batch.num.messages": 10000,
                                    "queue.buffering.max.messages": 1000000, **(extra or {})})
    p = Producer(cfg)
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
    in timestamp order (the order the engine's source merges them in)."""
    cfg = client_config(bootstrap, extra)
    admin = AdminClient(cfg)
    md = admin.list_topics(timeout=30).topics
    c = Consumer({**cfg, "group.id": "fleetstream-record", "enable.auto.commit": False})
    tps = [TopicPartition(prefix + t, p, OFFSET_BEGINNING if from_beginning else OFFSET_END)
           for t in INPUT_TOPICS if prefix + t in md for p in md[prefix + t].partitions]
    c.assign(tps)
    got = []
    last = time.monotonic()
    order = {prefix + t: i for i, t in enumerate(INPUT_TOPICS)}
    try:
        while time.monotonic() - last < idle_s:
            msgs = c.consume(10000, 0.2)
            for m in msgs:
                if m.error() is None:
                    got.append(((m.timestamp()[1], order[m.topic()], m.partition(), m.offset()),
                                to_inmsg(m, prefix)))
                    last = time.monotonic()
            if max_messages and len(got) >= max_messages:
                break
    finally:
        c.close()
    got.sort(key=lambda x: x[0])
    for i, (_k, m) in enumerate(got):
        yield InMsg(i, m.topic, m.key, m.value)


def sink_message(topic: str, key: str, rec: dict, output_prefix: str) -> Any:
    from bytewax.connectors.kafka import KafkaSinkMessage
    return KafkaSinkMessage(key=key.encode("utf-8"), value=orjson.dumps(rec),
                            topic=output_prefix + topic)


def b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


__all__ = ["OrderedKafkaSource", "ensure_topics", "publish", "record", "sink_message", "redact",
           "timedelta", "timezone"]
