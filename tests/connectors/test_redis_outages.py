"""The Redis read model when Redis fails: killed, paused, slow; retries on the
monotonic clock, a bounded backlog, close() waiting for Redis; keys that cannot
name another entity's.  Against real redis-server processes (conftest.py).
"""

from __future__ import annotations

import logging
import threading
import time

import pytest
from redis_helpers import Run, dump, engine_run, h, write_all

from fleetstream.connectors.redis_store import RedisReadModel, key_part
from fleetstream.contract.outputs import TOPIC_DECISIONS, TOPIC_DLQ


@pytest.fixture(scope="module")
def run(tiny) -> Run:
    return engine_run(tiny.path)


# ---------------------------------------------------------------- outages


def test_redis_killed_then_back(own_redis, redis_server, prefix, run, caplog):
    """Kill -9 mid-run: writes do not raise, the backlog grows, one warning per
    outage; restart: the backlog flushes and Redis holds what it would hold had it
    received those records (the earlier data died with the server: no persistence)."""
    m = RedisReadModel(own_redis.url, key_prefix="fs:", retry_base_s=0.01)
    half_o, half_p = len(run.outs) // 2, len(run.positions) // 2
    m.write(run.outs[:half_o], run.positions[:half_p])
    assert m.metrics()["written"] > 0
    own_redis.kill()
    c0 = m.metrics()["coalesced"]
    rest = Run(run.outs[half_o:], run.positions[half_p:])
    caplog.set_level(logging.WARNING, logger="fleetstream.redis")
    write_all(m, rest, batch=20)
    met = m.metrics()
    n_rest = len(rest.positions) + sum(1 for t, _ in rest.outs if t != TOPIC_DLQ)
    assert not met["connected"] and met["outages"] == 1 and met["failed_batches"] >= 1
    assert met["backlog"] + met["coalesced"] - c0 == n_rest and met["dropped"] == 0
    assert len([x for x in caplog.records if "unavailable" in x.getMessage()]) == 1

    own_redis.start()
    assert m.flush(force=True)
    met = m.metrics()
    assert met["connected"] and met["backlog"] == 0 and met["outages"] == 1
    ref = RedisReadModel(redis_server.url, key_prefix=prefix)
    write_all(ref, rest)
    assert dump(own_redis.client(), "fs:") == dump(redis_server.client(), prefix)


def test_unresponsive_redis_catches_up_exactly(own_redis, redis_server, prefix, run):
    """Redis paused (commands time out, some may still run later): after it answers
    again the read model equals an uninterrupted run, without duplicate stream entries."""
    m = RedisReadModel(own_redis.url, key_prefix="fs:", socket_timeout_s=0.2,
                       retry_base_s=0.05)
    third = len(run.outs) // 3
    m.write(run.outs[:third], run.positions[:len(run.positions) // 3])
    admin = own_redis.client()
    admin.execute_command("CLIENT", "PAUSE", "1500", "ALL")
    m.write(run.outs[third:], run.positions[len(run.positions) // 3:])
    assert m.metrics()["outages"] == 1 and m.metrics()["backlog"] > 0
    deadline = time.monotonic() + 20
    while not m.flush(force=True) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert m.metrics()["backlog"] == 0 and m.metrics()["connected"]
    ref = RedisReadModel(redis_server.url, key_prefix=prefix)
    write_all(ref, run)
    assert dump(own_redis.client(), "fs:") == dump(redis_server.client(), prefix)
    assert admin.xlen("fs:decisions") == len(run.of(TOPIC_DECISIONS))


def test_retries_back_off_on_the_monotonic_clock(own_redis):
    """While Redis is down, writes only queue until the next retry is due; retries
    back off exponentially; the first successful retry flushes everything."""
    now = [0.0]
    m = RedisReadModel(own_redis.url, retry_base_s=1.0, retry_max_s=8.0,
                       monotonic=lambda: now[0], flush_every_s=0)
    own_redis.kill()
    m.vehicle_position("V1", 52.5, 13.4, 1.0, "Z1")
    assert m.metrics()["failed_batches"] == 1
    for i in range(5):                      # not due yet: no attempt
        m.vehicle_position("V1", 52.5, 13.4, 2.0 + i, "Z1")
    assert m.metrics()["failed_batches"] == 1 and m.metrics()["backlog"] == 6
    now[0] = 1.01                           # due after 1 s
    m.vehicle_position("V1", 52.5, 13.4, 10.0, "Z1")
    assert m.metrics()["failed_batches"] == 2
    now[0] = 2.5                            # next one is 2 s later: not yet
    m.write_batch([])
    assert m.metrics()["failed_batches"] == 2
    own_redis.start()
    now[0] = 3.02
    m.write_batch([])
    met = m.metrics()
    assert met["backlog"] == 0 and met["connected"] and met["outages"] == 1
    assert float(own_redis.client().hget("fs:v:V1", "pos_ts")) == 10.0


def test_backlog_is_bounded(own_redis):
    """Beyond backlog_max the oldest writes are dropped and counted."""
    m = RedisReadModel(own_redis.url, backlog_max=50, retry_base_s=1000.0)
    own_redis.kill()
    m.write([], [(f"V{i}", 52.5, 13.4, float(i), "Z1") for i in range(200)])
    met = m.metrics()
    assert met["backlog"] == 50 and met["dropped"] == 150
    own_redis.start()
    assert m.flush(force=True)
    r = own_redis.client()
    assert not r.exists("fs:v:V149") and r.exists("fs:v:V150") and r.exists("fs:v:V199")
    assert h(r, "fs:z:Z1")["vehicles_idle"] == "50"


def test_backlog_reaches_redis_without_a_later_write(own_redis):
    """After an outage the held-back writes are sent when Redis returns even if
    nothing else is written (before: only a later write sent them; after a 60 s
    outage Redis had 0 keys 37 s after it came back)."""
    m = RedisReadModel(own_redis.url, retry_base_s=0.05, retry_max_s=0.2, flush_every_s=0.1)
    own_redis.kill()
    m.write([], [(f"V{i}", 52.5, 13.4, float(i), "Z1") for i in range(20)])
    assert m.metrics()["backlog"] == 20 and not m.metrics()["connected"]
    own_redis.start()
    deadline = time.monotonic() + 10
    while m.metrics()["backlog"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert m.metrics()["backlog"] == 0 and m.metrics()["connected"]
    assert own_redis.client().exists("fs:v:V19")
    m.close()


def test_close_keeps_trying_until_redis_is_back(own_redis):
    """Shutdown with a backlog and Redis away: close() retries for up to
    close_timeout_s, so a Redis back within that time gets every write."""
    m = RedisReadModel(own_redis.url, retry_base_s=1000.0, flush_every_s=0,
                       close_timeout_s=20)
    own_redis.kill()
    m.write([], [("V7", 52.5, 13.4, 7.0, "Z1")])
    assert m.metrics()["backlog"] == 1
    threading.Timer(1.0, own_redis.start).start()
    m.close()
    assert m.metrics()["backlog"] == 0
    assert own_redis.client().exists("fs:v:V7")


def test_an_id_cannot_name_another_entitys_key(redis_server, prefix):
    """Ids are escaped in key parts: a zone named ``Z1:vehicles:idle`` gets its own
    summary key and leaves zone Z1's index of idle vehicles alone (before: both
    were the key ``{prefix}z:Z1:vehicles:idle`` and the writes were refused)."""
    m = RedisReadModel(redis_server.url, key_prefix=prefix)
    m.write([], [("V1", 52.5, 13.4, 1.0, "Z1")])
    m.write([], [("V2", 52.5, 13.4, 2.0, "Z1:vehicles:idle"), ("a:b%c", 52.5, 13.4, 2.0, "Z1")])
    met = m.metrics()
    assert met["rejected"] == 0 and met["written"] == 3, met
    r = redis_server.client()
    assert r.type(f"{prefix}z:Z1:vehicles:idle") == b"zset"
    assert sorted(r.zrange(f"{prefix}z:Z1:vehicles:idle", 0, -1)) == [b"V1", b"a:b%c"]
    assert h(r, f"{prefix}z:Z1%3Avehicles%3Aidle")["zone"] == "Z1:vehicles:idle"
    assert h(r, f"{prefix}v:a%3Ab%25c")["vehicle_id"] == "a:b%c"
    assert key_part("Z1:orders:pending") == "Z1%3Aorders%3Apending"
