"""The Kafka source's merge order against the real broker (no engine): the merged
sequence equals the file order whatever the engine does between two polls, and
messages with equal timestamps follow the documented total order
(fleetstream/contract/message.py)."""

from __future__ import annotations

import os
import time

import pytest

from fleetstream.connectors.files import read_replay
from fleetstream.connectors.kafka import OrderedKafkaSource, ensure_topics, publish, record
from fleetstream.contract.events import INPUT_TOPICS

pytestmark = pytest.mark.integration

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SMALL = os.path.join(ROOT, "replay_data", "small")


def drain(src: OrderedKafkaSource, stall_s: float = 0.0, stalls: int = 0,
          limit_s: float = 120.0) -> list:
    """Every message of the source's one merged part, in emission order.  With
    ``stall_s``: after each of the first ``stalls`` calls that returned nothing
    (the merge is waiting for a stream), sleep that long before the next poll:
    the engine busy elsewhere."""
    part = src.build_part("inp", src.list_parts()[0], None)
    src.last_part = part  # type: ignore[attr-defined]
    out = []
    end = time.monotonic() + limit_s
    try:
        while time.monotonic() < end:
            try:
                b = part.next_batch()
            except StopIteration:
                return out
            out.extend(b)
            if not b and stalls > 0:
                stalls -= 1
                time.sleep(stall_s)
    finally:
        part.close()
    raise AssertionError(f"the source did not reach the end in {limit_s} s")


def out_of_order(got: list, want: list) -> int:
    """How many emitted messages are not at their position of the reference order."""
    ref = [(m.topic, m.key, m.value) for m in want]
    return sum(1 for i, m in enumerate(got) if i >= len(ref) or (m.topic, m.key, m.value) != ref[i])


def test_a_stalled_consumer_still_merges_in_timestamp_order(kafka_bootstrap, prefix):
    """The engine busy for longer than the merge's wait between two polls (53-69 s
    of shift-start planning on metro, 1.5 s here against a 1 s wait) must not make
    the merge give up waiting: the wait counts the source's own polls, not the
    wall time the engine consumed.  Before the fix, thousands of the 14,644
    messages of `small` in 4 partitions came out of order."""
    ensure_topics(kafka_bootstrap, prefix, partitions=4)
    msgs = list(read_replay(SMALL))
    publish(kafka_bootstrap, msgs, prefix)
    src = OrderedKafkaSource(kafka_bootstrap, prefix=prefix, tail=False, lag_wait_s=1.0,
                             batch_size=500)
    got = drain(src, stall_s=1.5, stalls=4)
    assert len(got) == len(msgs)
    assert src.last_part.gave_up == 0
    assert out_of_order(got, msgs) == 0
    assert [m.seq for m in got] == list(range(len(msgs))), "seq is the merge position"


def test_equal_timestamps_follow_the_total_order(kafka_bootstrap, prefix):
    """Hundreds of messages stamped in the same millisecond on several partitions
    and topics: the merge emits them by (timestamp, topic rank, partition, offset),
    which is also the order `record` writes, whatever the offsets (the old key
    ``ts*1000 + offset % 1000`` reordered them where an offset crossed a multiple
    of 1000)."""
    from confluent_kafka import Producer
    ensure_topics(kafka_bootstrap, prefix, partitions=3)
    p = Producer({"bootstrap.servers": kafka_bootstrap, "enable.idempotence": True,
                  "linger.ms": 50})
    ts0 = int(time.time() * 1000)
    n = 0
    for block in range(6):          # 6 timestamps ...
        for i in range(700):        # ... 700 messages each, spread over topics/partitions
            topic = INPUT_TOPICS[(i * 7 + block) % 3]
            p.produce(prefix + topic, value=b'{"n":%d}' % n, key=b"k%d" % i,
                      partition=(i + block) % 3, timestamp=ts0 + block)
            n += 1
    assert p.flush(30) == 0
    src = OrderedKafkaSource(kafka_bootstrap, prefix=prefix, tail=False, batch_size=333)
    got = drain(src)
    assert len(got) == n
    rank = {t: i for i, t in enumerate(INPUT_TOPICS)}
    keys = [(rank[m.topic], m.partition, m.offset) for m in got]
    # Within a timestamp block (6 blocks of 700, produced in block order) the keys
    # (topic rank, partition, offset) strictly increase.
    blocks = [keys[i:i + 700] for i in range(0, n, 700)]
    for b in blocks:
        assert b == sorted(b) and len(set(b)) == len(b)
    # seq, the order the stateful steps sort a batch by, follows the merge exactly.
    seqs = [m.seq for m in got]
    assert all(a < b for a, b in zip(seqs, seqs[1:]))
    rec = list(record(kafka_bootstrap, prefix, idle_s=1.5))
    assert [(m.topic, m.value) for m in rec] == [(m.topic, m.value) for m in got]
