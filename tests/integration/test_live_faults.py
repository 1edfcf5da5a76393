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


def _check(res: dict) -> None:
    assert res["happened"]["rc"] == 0, res.get("engine_log")
    assert res["same"], res


def test_independent_producer_and_a_stall_decide_like_the_replay(tiny, kafka_bootstrap, prefix,
                                                                  tmp_path):
    """kcat publishes; the engine is SIGSTOPped 11 s (longer than the 10 s wait)
    while it reads the backlog.  Before the fix the merge stopped waiting after
    such a stall and thousands of messages came out of order."""
    res = parity_run(kafka_bootstrap, prefix, list(read_replay(tiny.path)), str(tmp_path / "run"),
                     stall_s=11.0)
    _check(res)
    assert res["happened"]["stall_at"] < 1.0, "the stall must come mid-stream"


def test_broker_killed_mid_stream_decides_like_the_replay(tiny, tmp_path):
    broker = ExtraBroker(str(tmp_path / "broker"))
    try:
        res = parity_run(broker.bootstrap, "fx.", list(read_replay(tiny.path)),
                         str(tmp_path / "run"), broker=broker)
    finally:
        broker.stop()
    _check(res)
    assert res["happened"]["broker_kill_at"] < 1.0, "the kill must come mid-stream"


def test_redis_outage_mid_stream_decides_like_the_replay(tiny, kafka_bootstrap, prefix, tmp_path):
    """Redis down mid-run: decisions unchanged, and the restarted (empty) server
    receives the held-back writes without waiting for later traffic."""
    os.makedirs(tmp_path / "redis")
    redis = ThrowawayRedis(str(tmp_path / "redis"))
    try:
        res = parity_run(kafka_bootstrap, prefix, list(read_replay(tiny.path)),
                         str(tmp_path / "run"), redis=redis, redis_down_s=3.0)
    finally:
        redis.kill()
    _check(res)
    assert res["happened"]["redis_kill_at"] < 1.0, "the outage must come mid-stream"
    assert res["redis_decisions"] > 0
