"""Live equals replay under faults (#11 item 7), against real services: input
published by an independent client (kcat, millisecond timestamps, many messages
per millisecond) into 4-partition topics, then the engine with a consumer stall
longer than the merge's wait, a broker SIGKILLed and restarted mid-stream (our
own extra broker), and redis-server killed and restarted mid-stream (our own).
Each run's decisions, alerts and ETAs equal the file replay of the same topics
(``fleetstream record`` order).  benchmarks/live_parity.py repeats this on
bigger scenarios."""

from __future__ import annotations

import os

import pytest
from live_helpers import ExtraBroker, ThrowawayRedis, parity_run

from fleetstream.connectors.files import read_replay

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SMALL = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                     "replay_data", "small")


def _check(res: dict) -> None:
    assert res["happened"]["rc"] == 0, res.get("engine_log")
    assert res["same"], res


def _mid_stream(res: dict, key: str) -> None:
    at = res["happened"].get(key)
    assert at is not None, f"the engine had read the whole input before the fault ({key}) came"
    assert at < 1.0, f"the fault must come mid-stream ({key} = {at})"


def test_independent_producer_and_a_stall_decide_like_the_replay(kafka_bootstrap, prefix,
                                                                  tmp_path):
    """kcat publishes; the engine is SIGSTOPped 11 s (longer than the 10 s wait)
    while it reads the backlog.  Before the fix the merge stopped waiting after
    such a stall and thousands of messages came out of order."""
    # `small`, not `tiny`: on a quick machine the engine read all of `tiny` before
    # the first committed offset was seen, and the fault was never injected.
    res = parity_run(kafka_bootstrap, prefix, list(read_replay(SMALL)), str(tmp_path / "run"),
                     stall_s=11.0)
    _check(res)
    _mid_stream(res, "stall_at")


def test_broker_killed_mid_stream_decides_like_the_replay(tmp_path):
    # `small`, not `tiny` (CI once read all of `tiny` before the kill could come).
    broker = ExtraBroker(str(tmp_path / "broker"))
    try:
        res = parity_run(broker.bootstrap, "fx.", list(read_replay(SMALL)),
                         str(tmp_path / "run"), broker=broker)
    finally:
        broker.stop()
    _check(res)
    _mid_stream(res, "broker_kill_at")


def test_redis_outage_mid_stream_decides_like_the_replay(kafka_bootstrap, prefix, tmp_path):
    """Redis down mid-run: decisions unchanged, and the restarted (empty) server
    receives the held-back writes without waiting for later traffic."""
    os.makedirs(tmp_path / "redis")
    redis = ThrowawayRedis(str(tmp_path / "redis"))
    try:
        # `small`, not `tiny`: the engine must still have outputs to write after the
        # kill (the committed offsets trail the outputs by an epoch).
        res = parity_run(kafka_bootstrap, prefix, list(read_replay(SMALL)),
                         str(tmp_path / "run"), redis=redis, redis_down_s=3.0)
    finally:
        redis.kill()
    _check(res)
    _mid_stream(res, "redis_kill_at")
    assert res["redis_keys"] > 0, "the restarted Redis got the held-back and later writes"


def test_sigterm_writes_the_redis_backlog(tiny, kafka_bootstrap, prefix, tmp_path):
    """Redis down during the whole run, back just before SIGTERM: the engine stops
    cleanly (no traceback) and its held-back read-model writes reach Redis at
    shutdown (before: SIGTERM killed the process and the backlog was lost)."""
    from live_helpers import Engine, committed_offsets, consume_all, end_offsets, wait_until
    from confluent_kafka import TopicPartition

    from fleetstream.connectors.kafka import ensure_topics, publish
    from fleetstream.contract.events import INPUT_TOPICS

    ensure_topics(kafka_bootstrap, prefix, partitions=1)
    publish(kafka_bootstrap, read_replay(tiny.path), prefix)
    os.makedirs(tmp_path / "redis")
    redis = ThrowawayRedis(str(tmp_path / "redis"))
    redis.kill()
    tps = [TopicPartition(prefix + t, 0) for t in INPUT_TOPICS]
    ends = end_offsets(kafka_bootstrap, tps)
    group = "fs-it-" + prefix.strip(".")
    eng = Engine(kafka_bootstrap, prefix, str(tmp_path / "engine.log"), "--epoch-interval", "0.5",
                 redis=redis.url, env={"FLEETSTREAM_KAFKA__CONFIG": f'{{"group.id": "{group}"}}'})
    try:
        wait_until(lambda: committed_offsets(kafka_bootstrap, group, tps) == ends, 180,
                   "the engine to process every input")
        redis.restart()
        eng.proc.terminate()
        rc = eng.wait(60)
        out = eng.output()
        assert "Traceback" not in out, out[-3000:]
        assert rc in (0, 130), out[-3000:]
        decisions = {d["decision_id"] for d in consume_all(kafka_bootstrap,
                                                           prefix + "fs.decisions")}
        assert decisions
        assert redis.client.xlen("fs:decisions") == len(decisions), out[-3000:]
    finally:
        if eng.alive():
            eng.kill()
        redis.kill()
