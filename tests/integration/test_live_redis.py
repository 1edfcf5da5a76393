"""The live engine's Redis read model against real redis-servers: the keys that
downstream apps read hold what the engine decided, and a Redis that dies in the
middle of a run neither stops nor slows the engine's decisions; the read model
catches up when Redis is back."""

from __future__ import annotations

import os
import time
import uuid

import orjson
import pytest
from live_helpers import (Engine, ThrowawayRedis, caused_by, consume_all, ids_on, read_jsonl,
                          wait_until)

from fleetstream.connectors.files import read_replay
from fleetstream.connectors.kafka import ensure_topics, publish
from fleetstream.live import run_live
from fleetstream.replay import run_replay
from fleetstream.contract.settings import KafkaSettings, RedisSettings, Settings
from fleetstream.operators.pipeline import decode

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def reference(tiny, tmp_path_factory) -> dict[str, list[dict]]:
    out = str(tmp_path_factory.mktemp("ref"))
    run_replay(tiny.path, out)
    return {t: read_jsonl(os.path.join(out, t + ".jsonl"))
            for t in ("fs.decisions", "fs.eta", "fs.alerts")}


def _last_pings(msgs) -> dict[str, dict]:
    """Each fleet vehicle's latest GPS fix in the input (the one the read model must
    show).  Pings of vehicles that never started a shift are rejected upstream."""
    fleet = set()
    for m in msgs:
        if m.topic == "fs.fleet":
            ok, ev = decode(m)
            if ok and ev.TYPE == "shift_start":
                fleet.add(ev.vehicle_id)
    last: dict[str, dict] = {}
    for m in msgs:
        if m.topic != "fs.telemetry":
            continue
        ok, ev = decode(m)
        if not ok or ev.TYPE != "ping" or ev.vehicle_id not in fleet:
            continue  # malformed input or an unknown vehicle: a dead letter, not a position
        cur = last.get(ev.vehicle_id)
        if cur is None or ev.ts >= cur["ts"]:
            last[ev.vehicle_id] = {"lat": ev.lat, "lon": ev.lon, "ts": ev.ts}
    return last


def _h(r, key: str) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in r.hgetall(key).items()}


def _stream_ids(r, key: str) -> list[str]:
    return [f[b"decision_id"].decode() for _id, f in r.xrange(key)]


def test_live_run_fills_the_read_model(tiny, kafka_bootstrap, redis_url, prefix):
    """After a live run: every vehicle's hash has its latest position, every order
    with an ETA has the engine's latest ETA and interval, the decision stream holds
    every decision (full record), each zone has its summary, and the routes equal
    the last applied decision's route for the vehicle.  "The engine's" = what this
    live run published on its Kafka output topics (parity of those with the file
    replay is test_live.py's subject)."""
    import redis
    ensure_topics(kafka_bootstrap, prefix, partitions=1)
    msgs = list(read_replay(tiny.path))
    publish(kafka_bootstrap, msgs, prefix)
    kp = f"it{uuid.uuid4().hex[:8]}:"
    s = Settings(kafka=KafkaSettings(bootstrap=kafka_bootstrap, topic_prefix=prefix, partitions=1),
                 redis=RedisSettings(url=redis_url, key_prefix=kp, ttl_s=3600, stream_maxlen=1000))
    stats = run_live(s, redis_url, tail=False)
    assert stats["redis"]["written"] > 0 and stats["redis"]["backlog"] == 0, stats
    reference = {t: consume_all(kafka_bootstrap, prefix + t) for t in ("fs.eta", "fs.decisions")}
    assert reference["fs.decisions"] and len(reference["fs.eta"]) == stats["outputs"]["fs.eta"]
    r = redis.Redis.from_url(redis_url)
    try:
        # Vehicles: latest position.
        pings = _last_pings(msgs)
        assert pings
        for vid, ev in pings.items():
            h = _h(r, kp + "v:" + vid)
            assert (float(h["lat"]), float(h["lon"]), float(h["pos_ts"])) == \
                (float(ev["lat"]), float(ev["lon"]), float(ev["ts"])), vid
            assert 0 < r.ttl(kp + "v:" + vid) <= 3600
        # Orders: the latest ETA of each order (one output partition: topic order is emission order).
        latest: dict[str, dict] = {}
        for e in reference["fs.eta"]:
            latest[e["order_id"]] = e
        assert latest
        for oid, e in latest.items():
            h = _h(r, kp + "o:" + oid)
            assert h["eta_id"] == e["eta_id"], oid
            for f in ("eta", "lo80", "hi80", "lo95", "hi95", "p_late"):
                assert float(h[f]) == pytest.approx(e[f], abs=1e-6), (oid, f)
            assert h["eta_vehicle_id"] == e["vehicle_id"]
        # Decisions: the stream has every decision once, with its full record.
        want = reference["fs.decisions"]
        entries = r.xrange(kp + "decisions")
        assert sorted(_stream_ids(r, kp + "decisions")) == sorted(d["decision_id"] for d in want)
        by_id = {d["decision_id"]: d for d in want}
        for _sid, f in entries:
            assert orjson.loads(f[b"record"]) == by_id[f[b"decision_id"].decode()]
        # Zones: a summary per zone that decided something.
        for zone in {d["zone"] for d in want}:
            assert _h(r, kp + "z:" + zone)["zone"] == zone
        # Routes: every vehicle named in an applied decision has a route (a JSON
        # list of stops; its exact content is the read model's own contract,
        # tested in tests/connectors).
        for vid in {v for d in want if d["status"] == "applied" for v in d["routes"]}:
            assert isinstance(orjson.loads(_h(r, kp + "v:" + vid)["route"]), list), vid
    finally:
        for k in r.scan_iter(kp + "*"):
            r.delete(k)
        r.close()


def test_redis_dying_mid_run_does_not_stop_the_engine(tiny, reference, kafka_bootstrap, prefix,
                                                       tmp_path):
    """A real ``fleetstream run`` writes to its own redis-server (with a password);
    that server is killed after the first half of the input; the engine decides the
    second half exactly as without Redis (all decisions on Kafka), logs the outage
    without the password; a new redis-server on the same port receives the backlog
    (decisions taken during the outage) once more input flows.

    Each batch of input is published while the engine is paused (SIGSTOP), so the
    engine reads it as a backlog, which it merges in exact timestamp order (see
    docs/live.md: a tailing engine merges topics in arrival order within a few
    milliseconds); the decisions can then be compared with the file replay."""
    ensure_topics(kafka_bootstrap, prefix, partitions=1)
    msgs = list(read_replay(tiny.path))
    half, cut = len(msgs) // 2, (len(msgs) * 4) // 5
    secret = "pw" + uuid.uuid4().hex[:10]
    red = ThrowawayRedis(str(tmp_path), password=secret)
    kp = "fs:"
    publish(kafka_bootstrap, msgs[:half], prefix)
    eng = Engine(kafka_bootstrap, prefix, str(tmp_path / "engine.log"), redis=red.url,
                 env={"FLEETSTREAM_REDIS__KEY_PREFIX": kp})
    red2 = None
    try:
        wait_until(lambda: red.client.exists(kp + "decisions")
                   and red.client.xlen(kp + "decisions") > 0, 120, "decisions in Redis")
        dec = prefix + "fs.decisions"
        first = caused_by(reference["fs.decisions"], msgs[:half])
        assert first, "the first half must make decisions"
        wait_until(lambda: first <= ids_on(kafka_bootstrap, dec, "decision_id"), 120,
                   "the first half's decisions")
        wait_until(lambda: first <= set(_stream_ids(red.client, kp + "decisions")), 60,
                   "the first half's decisions in Redis")
        before = set(_stream_ids(red.client, kp + "decisions"))
        red.kill()
        eng.pause()
        publish(kafka_bootstrap, msgs[half:cut], prefix)
        eng.resume()
        upto_cut = caused_by(reference["fs.decisions"], msgs[:cut])
        wait_until(lambda: upto_cut <= ids_on(kafka_bootstrap, dec, "decision_id"), 120,
                   "the decisions taken while Redis is down")
        assert eng.alive(), eng.output()
        during = ids_on(kafka_bootstrap, dec, "decision_id") - before
        assert during, "the engine must have decided something while Redis was down"
        # Redis comes back (empty: no persistence); more input makes the engine write.
        red2 = ThrowawayRedis(str(tmp_path), password=secret, port=red.port)
        rest = msgs[cut:]
        chunk = max(1, len(rest) // 40)
        for i in range(0, len(rest), chunk):
            eng.pause()
            publish(kafka_bootstrap, rest[i:i + chunk], prefix)
            eng.resume()
            time.sleep(0.5)
            if red2.client.exists(kp + "decisions") and \
                    during <= set(_stream_ids(red2.client, kp + "decisions")):
                break
        wait_until(lambda: red2.client.exists(kp + "decisions")
                   and during <= set(_stream_ids(red2.client, kp + "decisions")),
                   60, "the backlog of decisions in the new Redis")
        eng.pause()
        publish(kafka_bootstrap, rest[i + chunk:], prefix)
        eng.resume()
        # The latest position of every vehicle that moved since the kill reaches the
        # new Redis (from the backlog or from later writes).
        latest = _last_pings(msgs)
        moved = {m.key for m in msgs[half:] if m.topic == "fs.telemetry"} & set(latest)
        assert moved

        def positions_caught_up() -> bool:
            for vid in moved:
                ts = red2.client.hget(kp + "v:" + vid, "pos_ts")
                if ts is None or float(ts) != float(latest[vid]["ts"]):
                    return False
            return True

        wait_until(positions_caught_up, 120, "the latest positions in the new Redis")
        # The engine decided everything an uninterrupted run decides.
        want = sorted(d["decision_id"] for d in reference["fs.decisions"])
        wait_until(lambda: len({d["decision_id"] for d in consume_all(
            kafka_bootstrap, prefix + "fs.decisions")}) >= len(want), 120, "all decisions")
        got = {d["decision_id"]: d for d in consume_all(kafka_bootstrap, prefix + "fs.decisions")}
        assert sorted(got) == want
        assert eng.alive(), eng.output()
    finally:
        eng.resume()
        eng.kill()
        red.kill()
        if red2 is not None:
            red2.kill()
    out = eng.output()
    assert "unavailable" in out, out[-3000:]
    assert secret not in out
