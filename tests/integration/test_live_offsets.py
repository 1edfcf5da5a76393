"""Consumer-group offsets for lag monitoring (#13): the live engine commits the
offsets it has processed, only once their outputs are delivered, so
``kafka-consumer-groups.sh --describe --group fleetstream-engine`` shows its lag.
The recovery store stays the source of truth for where a run starts."""

from __future__ import annotations

import os
import time

import pytest
from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient
from live_helpers import Engine, consume_all, read_jsonl, wait_until

from fleetstream.connectors.files import read_replay
from fleetstream.connectors.kafka import ensure_topics, publish
from fleetstream.contract.events import INPUT_TOPICS
from fleetstream.replay import run_replay

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def committed(bootstrap: str, group: str, tps: list[TopicPartition]) -> dict:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    fut = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group, tps)])
    res = fut[group].result(timeout=10)
    return {(tp.topic, tp.partition): tp.offset for tp in res.topic_partitions}


def test_offsets_are_committed_after_their_outputs(tiny, kafka_bootstrap, prefix, tmp_path):
    ensure_topics(kafka_bootstrap, prefix, partitions=2)
    publish(kafka_bootstrap, read_replay(tiny.path), prefix)
    from confluent_kafka import Consumer
    c = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": "it-wm"})
    tps = [TopicPartition(prefix + t, p) for t in INPUT_TOPICS for p in range(2)]
    ends = {(tp.topic, tp.partition): c.get_watermark_offsets(tp, timeout=10)[1] for tp in tps}
    c.close()
    group = f"fs-it-{prefix.strip('.')}"
    ref = str(tmp_path / "ref")
    run_replay(tiny.path, ref)
    want = len(read_jsonl(os.path.join(ref, "fs.decisions.jsonl")))
    eng = Engine(kafka_bootstrap, prefix, str(tmp_path / "engine.log"), "--epoch-interval", "0.5",
                 env={"FLEETSTREAM_KAFKA__CONFIG": f'{{"group.id": "{group}"}}'})
    try:
        seen_partial = []

        def caught_up() -> bool:
            got = committed(kafka_bootstrap, group, tps)
            done = all(got.get(k, -1) == v for k, v in ends.items())
            if not done and any(o > 0 for o in got.values()):
                seen_partial.append(len(consume_all(kafka_bootstrap, prefix + "fs.decisions")))
            return done

        wait_until(caught_up, 120, "the engine's committed offsets to reach the end")
        # Every output was delivered before the offsets reached the end.
        assert len(consume_all(kafka_bootstrap, prefix + "fs.decisions")) == want
    finally:
        eng.kill()
    print(eng.output()[-2000:])
