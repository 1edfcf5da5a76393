"""Live mode against a real Kafka broker (and redis-server): the engine on Kafka
decides exactly as the file replay of the same events; bad messages reach the
dead-letter topic; a restart with recovery loses no decision."""

from __future__ import annotations

import os

import orjson
import pytest
from confluent_kafka import Consumer, TopicPartition
from live_helpers import consume_all

from fleetstream.connectors.files import read_replay
from fleetstream.connectors.kafka import ensure_topics, publish, record
from fleetstream.live import run_live
from fleetstream.replay import run_replay
from fleetstream.contract.settings import KafkaSettings, Settings
from fleetstream.operators.pipeline import InMsg

pytestmark = pytest.mark.integration


def _settings(bootstrap: str, prefix: str) -> Settings:
    return Settings(kafka=KafkaSettings(bootstrap=bootstrap, topic_prefix=prefix, partitions=1))


def _consume_all(bootstrap: str, topic: str) -> list[dict]:
    """Every record of ``topic`` to its end (the shared reader: it fails when it cannot
    reach the end, rather than returning what a busy broker gave in a few seconds;
    a 5-second private reader returned no decision once under CI load)."""
    return consume_all(bootstrap, topic, timeout_s=30)


def _replay_file(path: str) -> list[dict]:
    with open(path, "rb") as f:
        return [orjson.loads(x) for x in f]


def _canon(rec: dict) -> bytes:
    """A record without its transport detail: an engine_error alert names the input
    position ``seq`` of its event (a line number in a replay, the Kafka merge
    sequence live); everything else must be byte-identical."""
    if rec.get("kind") == "engine_error" and isinstance(rec.get("details"), dict):
        rec = {**rec, "details": {k: v for k, v in rec["details"].items() if k != "seq"}}
    return orjson.dumps(rec)


def test_live_on_kafka_decides_like_the_file_replay(tiny, kafka_bootstrap, prefix, tmp_path):
    """Publishing a recording into Kafka and running the engine live until the end
    of the topics produces the same decisions, ETAs and alerts as the file replay."""
    ensure_topics(kafka_bootstrap, prefix, partitions=1)
    publish(kafka_bootstrap, read_replay(tiny.path), prefix)
    run_live(_settings(kafka_bootstrap, prefix), tail=False)
    out = str(tmp_path / "replay")
    run_replay(tiny.path, out)
    for topic in ("fs.decisions", "fs.eta", "fs.alerts"):
        live = _consume_all(kafka_bootstrap, prefix + topic)
        want = _replay_file(os.path.join(out, topic + ".jsonl"))
        assert len(live) == len(want), topic
        assert sorted(_canon(x) for x in live) == sorted(_canon(x) for x in want), topic


def test_several_partitions_and_workers_decide_like_the_file_replay(tiny, kafka_bootstrap, prefix,
                                                                   tmp_path):
    """Input topics with 3 partitions (keys spread the events over them) and 2
    workers: the source merges all partitions by timestamp, so the decisions and
    ETAs are still exactly those of the file replay.  (Quarantined until
    2026-11-29: `publish` used a non-idempotent producer, whose retried batch right
    after topic creation could land after a later one, and the merge's wait timer
    ran on wall time; both fixed, see tests/integration/test_live_order.py.)"""
    ensure_topics(kafka_bootstrap, prefix, partitions=3)
    publish(kafka_bootstrap, read_replay(tiny.path), prefix)
    stats = run_live(Settings(kafka=KafkaSettings(bootstrap=kafka_bootstrap, topic_prefix=prefix)),
                     workers=2, tail=False)
    out = str(tmp_path / "replay")
    run_replay(tiny.path, out)
    for topic in ("fs.decisions", "fs.eta"):
        live = consume_all(kafka_bootstrap, prefix + topic)
        want = _replay_file(os.path.join(out, topic + ".jsonl"))
        assert want and stats["outputs"][topic] == len(want), topic
        assert sorted(_canon(x) for x in live) == sorted(_canon(x) for x in want), topic
    # The input really was spread: more than one partition of fs.telemetry has data.
    c = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": "t"})
    sizes = [c.get_watermark_offsets(TopicPartition(prefix + "fs.telemetry", p), timeout=10)[1]
             for p in range(3)]
    c.close()
    assert sum(1 for n in sizes if n > 0) >= 2, sizes


def test_malformed_messages_land_in_the_dead_letter_topic(kafka_bootstrap, prefix, tiny):
    """Bad bytes on an input topic end up on fs.dlq with reason, source topic,
    partition, offset and the original bytes; the engine keeps running."""
    ensure_topics(kafka_bootstrap, prefix, partitions=1)
    msgs = list(read_replay(tiny.path))[:200]
    bad = [InMsg(0, "fs.telemetry", "V1", b'{"type":"ping",'),
           InMsg(0, "fs.orders", "O1", b'{"type":"order_created","event_id":"x","ts":1,"v":1}')]
    publish(kafka_bootstrap, bad + msgs, prefix)
    run_live(_settings(kafka_bootstrap, prefix), tail=False)
    dlq = _consume_all(kafka_bootstrap, prefix + "fs.dlq")
    by_raw = {d["raw"]: d for d in dlq}
    first = by_raw['{"type":"ping",']
    assert "malformed JSON" in first["reason"]
    assert (first["source_topic"], first["partition"], first["offset"]) == ("fs.telemetry", 0, 0)
    second = by_raw['{"type":"order_created","event_id":"x","ts":1,"v":1}']
    assert "required field is missing" in second["reason"]


def test_restart_with_recovery_loses_no_decision(tiny, kafka_bootstrap, prefix, tmp_path):
    """Run live on the first half of the input, stop, publish the rest, restart with
    the same recovery dir: every decision of an uninterrupted run is on the output
    topic, and any duplicate carries the same decision_id (at-least-once)."""
    ensure_topics(kafka_bootstrap, prefix, partitions=1)
    msgs = list(read_replay(tiny.path))
    half = len(msgs) // 2
    db = str(tmp_path / "db")
    s = _settings(kafka_bootstrap, prefix)
    publish(kafka_bootstrap, msgs[:half], prefix)
    run_live(s, tail=False, recovery_dir=db, epoch_interval_s=0.2)
    publish(kafka_bootstrap, msgs[half:], prefix)
    run_live(s, tail=False, recovery_dir=db, epoch_interval_s=0.2)
    live = _consume_all(kafka_bootstrap, prefix + "fs.decisions")
    out = str(tmp_path / "ref")
    run_replay(tiny.path, out)
    want = _replay_file(os.path.join(out, "fs.decisions.jsonl"))
    by_id: dict[str, dict] = {}
    for d in live:
        if d["decision_id"] in by_id:
            assert by_id[d["decision_id"]] == d, "a duplicate must be the same decision"
        by_id[d["decision_id"]] = d
    assert sorted(by_id) == sorted(d["decision_id"] for d in want)
    assert all(by_id[d["decision_id"]] == d for d in want)


def test_record_captures_the_input_in_replayable_form(tiny, kafka_bootstrap, prefix, tmp_path):
    """`record` reads the input topics back into a replay folder whose replay equals
    the original's."""
    ensure_topics(kafka_bootstrap, prefix, partitions=1)
    msgs = list(read_replay(tiny.path))
    publish(kafka_bootstrap, msgs, prefix)
    got = list(record(kafka_bootstrap, prefix, idle_s=2.0))
    assert [(m.topic, m.key, m.value) for m in got] == [(m.topic, m.key, m.value) for m in msgs]
