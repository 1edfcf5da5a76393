"""The Redis read model and customer context store against a real redis-server.

Records come from the real engine: the ``tiny`` recording replayed through
``LocalEngine`` (and once with assignment proposals instead of auto-apply).
Outcome records (``fs.outcomes``) are the engine's own, one per order that ended.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter

import orjson
import pytest

from fleetstream.connectors.files import read_replay
from fleetstream.connectors.redis_store import (TOPIC_OUTCOMES, CustomerContextStore, key_part,
                                    InProcessContextStore, RedisReadModel,
                                    load_customers_from_replay, profiles_from_replay)
from fleetstream.engine import LocalEngine
from fleetstream.contract.events import ValidationError, decode_event
from fleetstream.contract.outputs import (TOPIC_ALERTS, TOPIC_DECISIONS, TOPIC_DLQ, TOPIC_ETA,
                                 TOPIC_NOTIFICATIONS)
from fleetstream.contract.settings import EngineSettings


# ---------------------------------------------------------------- engine runs


class Run:
    def __init__(self, outs: list, positions: list):
        self.outs = outs            # [(topic, record)] in emission order
        self.positions = positions  # [(vehicle_id, lat, lon, ts, zone)]

    def of(self, topic: str) -> list[dict]:
        return [r for t, r in self.outs if t == topic]


def engine_run(path: str, settings: EngineSettings | None = None) -> Run:
    """Replay a recording through the engine; positions are the pings of vehicles
    with a shift (what the live flow hands the read model)."""
    eng = LocalEngine(settings or EngineSettings())
    outs, positions = [], []
    vzone: dict[str, str] = {}
    for msg in read_replay(path):
        res = eng.process(msg)
        outs += [(t, r) for t, _k, r in res]
        try:
            ev = decode_event(msg.value, msg.topic)
        except ValidationError:
            continue
        if ev.TYPE == "shift_start":
            vzone[ev.vehicle_id] = ev.zone
        elif ev.TYPE == "ping" and ev.vehicle_id in vzone:
            positions.append((ev.vehicle_id, ev.lat, ev.lon, ev.ts, vzone[ev.vehicle_id]))
    return Run(outs, positions)


@pytest.fixture(scope="module")
def run(tiny) -> Run:
    return engine_run(tiny.path)


@pytest.fixture(scope="module")
def run_outcomes(tiny) -> Run:
    return engine_run(tiny.path)


def write_all(model: RedisReadModel, run: Run, batch: int = 200) -> None:
    """Interleave outputs and positions in batches, as the live sink does."""
    outs, pos = run.outs, run.positions
    step_o = max(1, len(outs) // max(1, len(pos) // batch))
    i = j = 0
    while i < len(outs) or j < len(pos):
        model.write(outs[i:i + step_o], pos[j:j + batch])
        i += step_o
        j += batch


def dump(r, prefix: str) -> dict:
    """Everything under a prefix, without the prefix (stream ids are wall-clock: left out)."""
    out = {}
    for k in r.scan_iter(match=prefix + "*", count=1000):
        t = r.type(k)
        if t == b"hash":
            v = r.hgetall(k)
        elif t == b"zset":
            v = r.zrange(k, 0, -1, withscores=True)
        elif t == b"stream":
            v = [f for _id, f in r.xrange(k)]
        else:
            v = r.get(k)
        out[k.decode()[len(prefix):]] = (t, v)
    return out


def h(r, key: str) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in r.hgetall(key).items()}


def last_by_version(records: list[dict], key: str, id_field: str) -> dict[str, dict]:
    best: dict[str, dict] = {}
    for rec in records:
        k = rec[key]
        ver = (rec["ts"], int(rec[id_field].rsplit("-", 1)[1]))
        if k not in best or ver >= (best[k]["ts"], int(best[k][id_field].rsplit("-", 1)[1])):
            best[k] = rec
    return best


def expected_routes(run: Run) -> dict[str, list[dict]]:
    """Per vehicle: the route of its last applied decision, minus the stops that
    later records took off (parcels left at the depot, outcomes)."""
    routes: dict[str, list[dict]] = {}
    for t, rec in run.outs:
        if t == TOPIC_DECISIONS and rec["status"] == "applied":
            routes.update(rec["routes"])
        elif t == TOPIC_ALERTS and rec["kind"] == "unassigned" and rec.get("vehicle_id"):
            vid = rec["vehicle_id"]
            routes[vid] = [s for s in routes.get(vid, []) if s["order_id"] not in rec["order_ids"]]
        elif t == TOPIC_OUTCOMES and rec.get("vehicle_id") in routes:
            routes[rec["vehicle_id"]] = [s for s in routes[rec["vehicle_id"]]
                                         if s["order_id"] != rec["order_id"]]
    return routes


# ---------------------------------------------------------------- read model


def test_engine_outputs_build_the_read_model(redis_server, prefix, run):
    """Vehicles, routes, orders with their latest ETA and intervals, zone counts and
    the decision stream match what the engine emitted."""
    r = redis_server.client()
    m = RedisReadModel(redis_server.url, key_prefix=prefix)
    write_all(m, run)
    met = m.metrics()
    assert met["connected"] and met["backlog"] == 0 and met["rejected"] == 0
    assert met["invalid"] == 0 and met["outages"] == 0
    n_ops = len(run.positions) + sum(1 for t, _ in run.outs if t != TOPIC_DLQ)
    assert met["written"] + met["coalesced"] == n_ops

    # positions: the latest fix of each vehicle
    last_pos: dict[str, tuple] = {}
    for p in run.positions:
        if p[0] not in last_pos or p[3] >= last_pos[p[0]][3]:
            last_pos[p[0]] = p
    for vid, (_, lat, lon, ts, zone) in last_pos.items():
        v = h(r, f"{prefix}v:{vid}")
        assert (float(v["lat"]), float(v["lon"]), float(v["pos_ts"])) == (lat, lon, ts)
        assert v["zone"] == zone

    # routes: whole remaining route of the last applied decision
    routes = expected_routes(run)
    assert routes, "tiny has assignment decisions"
    for vid, stops in routes.items():
        v = h(r, f"{prefix}v:{vid}")
        assert orjson.loads(v["route"]) == stops
        assert int(v["stops"]) == len(stops)
        assert v["status"] == ("en_route" if stops else "idle")

    # orders: latest ETA (by event time and per-zone sequence) with both intervals
    etas = last_by_version(run.of(TOPIC_ETA), "order_id", "eta_id")
    ended = {rec["order_id"]: rec["outcome"] for rec in run.of(TOPIC_OUTCOMES)}
    assert etas and ended
    for oid, e in etas.items():
        o = h(r, f"{prefix}o:{oid}")
        for f in ("eta", "lo80", "hi80", "lo95", "hi95", "window_end", "p_late"):
            assert float(o[f]) == e[f], (oid, f)
        assert o["eta_id"] == e["eta_id"] and o["eta_vehicle_id"] == e["vehicle_id"]
        assert o["status"] == ended.get(oid, "assigned")
    for n in run.of(TOPIC_NOTIFICATIONS):
        assert h(r, f"{prefix}o:{n['order_id']}")["customer_id"] == n["customer_id"]

    # zone summary: counts agree with the order and vehicle hashes
    zones = {rec["zone"] for _, rec in run.outs if "zone" in rec}
    for zone in zones:
        z = h(r, f"{prefix}z:{zone}")
        by_status = Counter()
        for k in r.scan_iter(match=f"{prefix}o:*"):
            o = h(r, k.decode())
            if o["zone"] == zone:
                by_status[o["status"]] += 1
        assert sum(by_status.values()) > 0
        for st in ("pending", "unassigned", "proposed", "assigned", "delivered"):
            assert int(z.get(f"orders_{st}", 0)) == by_status[st], st
        en_route = sum(1 for vid, s in routes.items() if s)
        assert int(z["vehicles_en_route"]) == en_route
        assert float(z["ts"]) == max([rec["ts"] for _, rec in run.outs if rec.get("zone") == zone]
                                     + [p[3] for p in run.positions if p[4] == zone])
        assert int(z["alerts_open"]) == r.zcard(f"{prefix}z:{zone}:alerts")

    # decision stream: every decision once, in order, with the whole record
    entries = r.xrange(f"{prefix}decisions")
    decisions = run.of(TOPIC_DECISIONS)
    assert [e[1][b"decision_id"].decode() for e in entries] == [d["decision_id"] for d in decisions]
    assert [orjson.loads(e[1][b"record"]) for e in entries] == decisions


def test_every_key_expires(redis_server, prefix, run):
    """Every key the read model writes carries a TTL of at most ttl_s."""
    r = redis_server.client()
    m = RedisReadModel(redis_server.url, key_prefix=prefix, ttl_s=3600)
    write_all(m, run)
    keys = list(r.scan_iter(match=prefix + "*"))
    assert len(keys) > 20
    types = {r.type(k) for k in keys}
    assert {b"hash", b"zset", b"stream"} <= types
    for k in keys:
        if k.decode().startswith(prefix + "c:"):  # customer profiles/history: kept
            assert r.ttl(k) == -1, k
        else:
            assert 0 < r.ttl(k) <= 3600, k


def test_decision_stream_is_capped(redis_server, prefix):
    """XADD MAXLEN ~: the stream stays near the cap and keeps the newest entries."""
    r = redis_server.client()
    m = RedisReadModel(redis_server.url, key_prefix=prefix, stream_maxlen=50)
    recs = [(TOPIC_DECISIONS, {"decision_id": f"D-Z9-{1000 + i}-{i + 1}", "ts": 1000.0 + i,
                               "v": 1, "zone": "Z9", "kind": "hold", "status": "alert_only",
                               "autonomy": "off", "order_ids": [], "routes": {},
                               "trigger_event_ids": [], "models": {}, "explanation": {}})
            for i in range(1000)]
    m.write_batch(recs)
    n = r.xlen(f"{prefix}decisions")
    assert 50 <= n <= 150  # "~" trims whole radix-tree nodes (100 entries by default)
    last = r.xrevrange(f"{prefix}decisions", count=1)[0][1]
    assert last[b"decision_id"] == b"D-Z9-1999-1000"


def test_replays_give_the_same_state(redis_server, prefix, run_outcomes):
    """Replaying all records, a suffix, or all of them shuffled changes nothing
    (no duplicate stream entries, no double-counted outcomes)."""
    r = redis_server.client()
    m = RedisReadModel(redis_server.url, key_prefix=prefix)
    write_all(m, run_outcomes)
    before = dump(r, prefix)
    n_dec = len(run_outcomes.of(TOPIC_DECISIONS))

    write_all(m, run_outcomes)
    assert dump(r, prefix) == before
    assert m.metrics()["duplicates"] == n_dec + len(run_outcomes.of(TOPIC_OUTCOMES))

    half = len(run_outcomes.outs) // 2
    m.write(run_outcomes.outs[half:], run_outcomes.positions[len(run_outcomes.positions) // 2:])
    assert dump(r, prefix) == before

    outs, pos = list(run_outcomes.outs), list(run_outcomes.positions)
    random.Random(7).shuffle(outs)
    random.Random(8).shuffle(pos)
    m.write(outs, pos)
    assert dump(r, prefix) == before
    assert r.xlen(f"{prefix}decisions") == n_dec


def test_outcomes_finish_orders_and_count_for_customers(redis_server, prefix, run_outcomes):
    """fs.outcomes records: order status delivered/failed, stop leaves the route,
    customer counters (HINCRBY) readable through the customer context store."""
    r = redis_server.client()
    m = RedisReadModel(redis_server.url, key_prefix=prefix)
    write_all(m, run_outcomes)
    outcomes = run_outcomes.of(TOPIC_OUTCOMES)
    assert len(outcomes) > 10
    for o in outcomes:
        rec = h(r, f"{prefix}o:{o['order_id']}")
        assert rec["status"] == o["outcome"]
        assert rec.get("outcome_reason") == o.get("reason")
    for vid, stops in expected_routes(run_outcomes).items():
        assert orjson.loads(h(r, f"{prefix}v:{vid}")["route"]) == stops
    done = {o["order_id"] for o in outcomes}
    for k in r.scan_iter(match=f"{prefix}v:*"):
        assert not done & {s["order_id"] for s in orjson.loads(h(r, k.decode()).get("route", "[]"))}

    want: dict[str, Counter] = {}
    for o in outcomes:
        if o["outcome"] in ("cancelled", "expired", "not_served"):  # not the customer's doing
            continue
        c = want.setdefault(o["customer_id"], Counter())
        if o["outcome"] == "delivered":
            c["deliveries"] += 1
        else:
            c["failures"] += 1
            c[f"{o['reason']}_failures"] += 1
    store = CustomerContextStore(redis_server.url, key_prefix=prefix)
    for cid, c in want.items():
        assert store.get(cid)["history"] == dict(c)
    zone = outcomes[0]["zone"]
    z = h(r, f"{prefix}z:{zone}")
    by_outcome = Counter(o["outcome"] for o in outcomes)
    assert by_outcome["delivered"] > 0
    for outcome, n in by_outcome.items():
        assert int(z[f"orders_{outcome}"]) == n, outcome
    assert len(done) == len(outcomes)

    # the orders still open are exactly those without an outcome (never served)
    still_open = {k.decode()[len(prefix) + 2:] for k in r.scan_iter(match=f"{prefix}o:*")
                  if h(r, k.decode())["status"] not in ("delivered", "failed", "cancelled",
                                                        "expired", "not_served")}
    all_orders = {k.decode()[len(prefix) + 2:] for k in r.scan_iter(match=f"{prefix}o:*")}
    assert still_open == all_orders - done
    assert sum(int(z.get(f"orders_{st}", 0)) for st in ("pending", "unassigned", "proposed",
                                                         "assigned", "stranded")) == len(still_open)
    # a cancellation outcome: final status, no customer counter
    oid, cid = "oX", outcomes[0]["customer_id"]
    hist = store.get(cid)["history"]
    m.write_batch([_decision(f"D-{zone}-9999999990-1", 9999999990.0, "assign", "applied",
                             {"VX": [oid]}, [oid], zone=zone),
                   (TOPIC_OUTCOMES, {"outcome_id": f"O-{zone}-9999999999-2", "v": 1,
                                     "ts": 9999999999.0, "zone": zone, "order_id": oid,
                                     "customer_id": cid, "outcome": "cancelled"})])
    assert h(r, f"{prefix}o:{oid}")["status"] == "cancelled"
    assert int(h(r, f"{prefix}z:{zone}")["orders_cancelled"]) == by_outcome["cancelled"] + 1
    store.cache.d.clear()
    assert store.get(cid)["history"] == hist


def test_proposals_and_expiry(redis_server, prefix, tiny):
    """With assignment proposals (no approvals arrive): open proposals are listed,
    their orders are 'proposed', and expiry returns them to 'pending' (checked
    right after the first expiry and at the end)."""
    run = engine_run(tiny.path, EngineSettings(autonomy_assign="propose"))
    statuses = Counter(d["status"] for d in run.of(TOPIC_DECISIONS))
    assert statuses["proposed"] > 0 and statuses["expired"] > 0
    r = redis_server.client()
    m = RedisReadModel(redis_server.url, key_prefix=prefix)
    cut = next(i for i, (t, rec) in enumerate(run.outs)
               if t == TOPIC_DECISIONS and rec["status"] == "expired") + 1
    seen_pending = 0
    for start, end in ((0, cut), (cut, len(run.outs))):
        m.write_batch(run.outs[start:end])
        done = run.outs[:end]
        decs = [rec for t, rec in done if t == TOPIC_DECISIONS]
        open_ids = {d["decision_id"] for d in decs if d["status"] == "proposed"}
        open_ids -= {d.get("refers_to") for d in decs if d["status"] != "proposed"}
        zone = decs[0]["zone"]
        assert {k.decode() for k in r.hkeys(f"{prefix}z:{zone}:proposals")} == open_ids
        assert int(h(r, f"{prefix}z:{zone}")["proposals_open"]) == len(open_ids)
        # each order: proposed, back to pending on expiry, assigned once an ETA shows
        # it on a route (the recording's drivers picked some orders up anyway)
        last: dict[str, str] = {}
        for t, rec in done:
            if t == TOPIC_DECISIONS and rec["status"] == "applied":
                for stops in rec["routes"].values():
                    for s in stops:
                        last[s["order_id"]] = "assigned"
            elif t == TOPIC_DECISIONS:
                for oid in rec["order_ids"]:
                    if rec["status"] == "proposed" and last.get(oid, "pending") == "pending":
                        last[oid] = "proposed"
                    elif rec["status"] == "expired" and last.get(oid) == "proposed":
                        last[oid] = "pending"
            elif t == TOPIC_OUTCOMES:
                last[rec["order_id"]] = rec["outcome"]
            elif t == TOPIC_ETA and last.get(rec["order_id"], "pending") in ("pending",
                                                                              "proposed"):
                last[rec["order_id"]] = "assigned"
        for oid, st in last.items():
            assert h(r, f"{prefix}o:{oid}")["status"] == st, oid
        seen_pending += Counter(last.values())["pending"]
        assert int(h(r, f"{prefix}z:{zone}").get("orders_proposed", 0)) == \
            Counter(last.values())["proposed"]
    assert seen_pending > 0


def _alert(aid, ts, kind, vid=None, oids=(), zone="Z1"):
    rec = {"alert_id": aid, "ts": ts, "v": 1, "zone": zone, "kind": kind, "severity": "warning",
           "message": kind, "order_ids": list(oids), "details": {}, "trigger_event_ids": []}
    if vid:
        rec["vehicle_id"] = vid
    return (TOPIC_ALERTS, rec)


def _decision(did, ts, kind, status, routes, oids, refers_to=None, zone="Z1"):
    rec = {"decision_id": did, "ts": ts, "v": 1, "zone": zone, "kind": kind, "status": status,
           "autonomy": "auto", "order_ids": list(oids),
           "routes": {v: [{"order_id": o, "stop": "delivery", "eta": ts + 600,
                           "window_end": ts + 3600} for o in s] for v, s in routes.items()},
           "trigger_event_ids": [], "models": {}, "explanation": {}}
    if refers_to:
        rec["refers_to"] = refers_to
    return (TOPIC_DECISIONS, rec)


def test_alert_lifecycle_and_vehicle_states(redis_server, prefix):
    """Open alerts close when the situation is over (a fix from a stale vehicle, an
    unassigned order assigned), are replaced per subject, and age out; vehicle and
    order states follow stale/unavailable/stranded alerts and cancellations."""
    r = redis_server.client()
    m = RedisReadModel(redis_server.url, key_prefix=prefix, alert_open_s=3600)
    z = f"{prefix}z:Z1"
    m.write([_decision("D-Z1-100-1", 100.0, "assign", "applied",
                       {"V1": ["o1", "o2"], "V2": ["o3"]}, ["o1", "o2", "o3"]),
             _alert("A-Z1-110-2", 110.0, "unassigned", oids=["o4"]),
             _alert("A-Z1-120-3", 120.0, "stale_vehicle", vid="V1", oids=["o1"])],
            [("V1", 52.5, 13.4, 105.0, "Z1")])
    assert h(r, f"{prefix}v:V1")["status"] == "stale"
    assert h(r, f"{prefix}o:o4")["status"] == "unassigned"
    assert int(h(r, z)["alerts_open"]) == 2 and int(h(r, z)["vehicles_stale"]) == 1

    m.write([_decision("D-Z1-130-4", 130.0, "assign", "applied", {"V2": ["o3", "o4"]}, ["o4"])],
            [("V1", 52.51, 13.41, 125.0, "Z1")])
    assert h(r, f"{prefix}v:V1")["status"] == "en_route"
    assert h(r, f"{prefix}o:o4")["status"] == "assigned"
    assert int(h(r, z)["alerts_open"]) == 0

    # unavailable vehicle: its orders go back to the pool, except those on board
    m.write_batch([_alert("A-Z1-200-5", 200.0, "vehicle_unavailable", vid="V2",
                          oids=["o3", "o4"]),
                   _alert("A-Z1-200-6", 200.0, "stranded_orders", vid="V2", oids=["o3"])])
    assert h(r, f"{prefix}v:V2")["status"] == "unavailable"
    assert (h(r, f"{prefix}o:o3")["status"], h(r, f"{prefix}o:o4")["status"]) == \
        ("stranded", "pending")
    zz = h(r, z)
    assert (zz["orders_stranded"], zz["orders_pending"], zz["vehicles_unavailable"]) == \
        ("1", "1", "1")

    # a newer late-risk alert on the same vehicle replaces the older one
    m.write_batch([_alert("A-Z1-300-7", 300.0, "late_risk", vid="V1", oids=["o1"]),
                   _alert("A-Z1-310-8", 310.0, "late_risk", vid="V1", oids=["o1", "o2"])])
    open_ids = [x.decode() for x in r.zrange(f"{z}:alerts", 0, -1)]
    assert "A-Z1-310-8" in open_ids and "A-Z1-300-7" not in open_ids
    assert orjson.loads(r.hget(f"{z}:alert", "A-Z1-310-8"))["order_ids"] == ["o1", "o2"]

    # cancellation: unassign removes o2 from V1 and cancels it
    m.write_batch([_decision("D-Z1-400-9", 400.0, "unassign", "applied", {"V1": ["o1"]},
                             ["o2"])])
    assert h(r, f"{prefix}o:o2")["status"] == "cancelled"
    assert [s["order_id"] for s in orjson.loads(h(r, f"{prefix}v:V1")["route"])] == ["o1"]

    # event time moves on by more than alert_open_s: everything open ages out
    m.write([], [("V1", 52.52, 13.42, 5000.0, "Z1")])
    assert r.zcard(f"{z}:alerts") == 0 and h(r, z)["alerts_open"] == "0"
    assert metrics_clean(m)


def metrics_clean(m: RedisReadModel) -> bool:
    met = m.metrics()
    return met["rejected"] == 0 and met["invalid"] == 0 and met["backlog"] == 0


def test_bad_records_are_counted_not_raised(redis_server, prefix):
    """The read model never raises on records that break the contract."""
    m = RedisReadModel(redis_server.url, key_prefix=prefix)
    m.write([(TOPIC_DECISIONS, {"junk": 1}), (TOPIC_ETA, "not a dict"),
             (TOPIC_ALERTS, {"alert_id": "A-Z1-1-1", "zone": "Z1", "kind": "x", "ts": "soon"}),
             (TOPIC_DLQ, {"v": 1, "reason": "bad"}), ("bogus",)],
            [("V1", "north", 13.4, 1.0), ("V1",), (None, 1.0, 2.0, 3.0),
             ("V1", float("nan"), 13.4, 1.0)])
    met = m.metrics()
    assert met["invalid"] == 8 and met["written"] == 0 and met["backlog"] == 0


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


# ---------------------------------------------------------------- customer context


PROFILES = [
    {"customer_id": "c1", "zone": "Z1", "language": "de", "preferred_drop": "garage",
     "access_instructions": "gate code 4711", "notes": "dog", "service_requirements": ["call_ahead"]},
    {"customer_id": "c2", "zone": "Z1", "language": "en"},
    {"customer_id": "c3", "zone": "Z2", "language": "es", "notes": "3rd floor", "ts": 1000.5},
]


def test_context_cache_hits_ttl_and_lru(redis_server, prefix):
    """Reads go through a local LRU cache: hits, expiry after cache_ttl_s (injected
    clock), eviction beyond cache_size, invalidation on own writes."""
    now = [0.0]
    s = CustomerContextStore(redis_server.url, key_prefix=prefix, cache_size=2,
                             cache_ttl_s=10.0, monotonic=lambda: now[0])
    assert s.load_profiles(PROFILES) == 3
    assert s.get("c1")["access_instructions"] == "gate code 4711"
    assert s.get("c1")["service_requirements"] == ["call_ahead"]
    assert s.metrics()["hits"] == 1 and s.metrics()["misses"] == 1
    other = CustomerContextStore(redis_server.url, key_prefix=prefix)
    other.put_profile({**PROFILES[0], "notes": "no dog any more"})
    assert s.get("c1")["notes"] == "dog"             # cached
    now[0] = 10.5
    assert s.get("c1")["notes"] == "no dog any more"  # expired -> re-read
    s.get("c2")
    s.get("c3")                                       # evicts c1 (size 2)
    misses = s.metrics()["misses"]
    s.get("c1")
    assert s.metrics()["misses"] == misses + 1
    s.put_profile({**PROFILES[1], "language": "fr"})  # own write invalidates
    assert s.get("c2")["language"] == "fr"
    assert s.get("nobody") is None


def test_outcomes_count_by_reason_once(redis_server, prefix):
    """record_outcome: HINCRBY per outcome and failure reason; a repeated outcome id
    counts once; profile updates keep the counters."""
    s = CustomerContextStore(redis_server.url, key_prefix=prefix)
    s.put_profile(PROFILES[0])
    assert s.record_outcome("c1", "failed", "access", outcome_id="o1", ts=10.0)
    assert not s.record_outcome("c1", "failed", "access", outcome_id="o1", ts=10.0)
    assert s.record_outcome("c1", "failed", "not_home", ts=11.0)
    assert s.record_outcome("c1", "delivered", ts=12.0)
    s.put_profile({**PROFILES[0], "notes": None})
    c = s.get("c1")
    assert c["history"] == {"access_failures": 1, "deliveries": 1, "failures": 2,
                            "not_home_failures": 1}
    assert "notes" not in c and c["last_outcome"] == "delivered"
    with pytest.raises(ValueError):
        s.record_outcome("c1", "lost")
    with pytest.raises(ValueError):
        s.put_profile({"language": "de"})


def test_context_reads_survive_an_outage(own_redis):
    """get() answers from the cache (even expired) while Redis is down, else None."""
    now = [0.0]
    s = CustomerContextStore(own_redis.url, cache_ttl_s=1.0, monotonic=lambda: now[0])
    s.put_profile(PROFILES[0])
    assert s.get("c1")["language"] == "de"
    own_redis.kill()
    now[0] = 5.0
    assert s.get("c1")["language"] == "de"
    assert s.get("c2") is None
    assert s.metrics()["errors"] == 2


def test_in_process_store_matches_redis(redis_server, prefix, tiny):
    """Same operations, same answers: InProcessContextStore vs CustomerContextStore,
    including the profiles loaded from a replay folder."""
    red = CustomerContextStore(redis_server.url, key_prefix=prefix, cache_size=0)
    mem = InProcessContextStore()
    stats = [load_customers_from_replay(tiny.path, st) for st in (red, mem)]
    n_events = sum(1 for msg in read_replay(tiny.path) if msg.topic == "fs.customers")
    assert stats[0] == stats[1] and stats[0]["loaded"] + stats[0]["invalid"] == n_events
    assert stats[0]["loaded"] > 10
    ids = sorted({p["customer_id"] for p in profiles_from_replay(tiny.path)})
    rng = random.Random(3)
    for i in range(300):
        cid = rng.choice(ids[:20] + ["new1", "new2"])
        op = rng.random()
        outcome = rng.choice(["delivered", "failed"])
        for st in (red, mem):
            if op < 0.6:
                st.record_outcome(cid, outcome, ["access", "not_home", "refused", None][i % 4],
                                  outcome_id=f"x{i % 250}", ts=float(i))
            elif op < 0.8:
                st.put_profile(PROFILES[i % 3] | {"customer_id": cid})
    for cid in ids + ["new1", "new2", "nobody"]:
        assert red.get(cid) == mem.get(cid), cid
    assert red.get(ids[0])["language"]


@pytest.mark.parametrize("outcome", ["expired", "not_served"])
def test_an_expired_or_not_served_outcome_finishes_the_order_without_counting_for_the_customer(
        redis_server, prefix, outcome):
    """fs.outcomes `expired` (limits.order_grace_s, docs/limits.md) and `not_served`
    (recovery of work, docs/routing.md) are final order statuses in the read model,
    never invalid records, and not the customer's failure."""
    r = redis_server.client()
    m = RedisReadModel(redis_server.url, key_prefix=prefix)
    rec = {"outcome_id": "O-Z1-1772400000-5", "ts": 1772400000.0, "v": 1, "zone": "Z1",
           "order_id": "o-exp", "customer_id": "c-exp", "outcome": outcome,
           "reason": f"{outcome}: the engine's reason", "trigger_event_ids": []}
    m.write([(TOPIC_OUTCOMES, rec)])
    assert h(r, f"{prefix}o:o-exp")["status"] == outcome
    assert "failures" not in h(r, f"{prefix}c:c-exp")
