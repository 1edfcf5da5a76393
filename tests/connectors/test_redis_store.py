"""The Redis read model against a real redis-server: what the engine's outputs
build, expiry, caps, replays, outcomes, proposals, alert lifecycle, bad records.

Records come from the real engine: the ``tiny`` recording replayed through
``LocalEngine`` (and once with assignment proposals instead of auto-apply).
Outcome records (``fs.outcomes``) are the engine's own, one per order that ended.
Outages: test_redis_outages.py; the customer context store: test_redis_context.py.
"""

from __future__ import annotations

import random
from collections import Counter

import orjson
import pytest
from redis_helpers import Run, dump, engine_run, expected_routes, h, last_by_version, write_all

from fleetstream.connectors.redis_store import TOPIC_OUTCOMES, CustomerContextStore, RedisReadModel
from fleetstream.contract.outputs import (TOPIC_ALERTS, TOPIC_DECISIONS, TOPIC_DLQ, TOPIC_ETA,
                                          TOPIC_NOTIFICATIONS)
from fleetstream.contract.settings import EngineSettings


@pytest.fixture(scope="module")
def run(tiny) -> Run:
    return engine_run(tiny.path)


@pytest.fixture(scope="module")
def run_outcomes(tiny) -> Run:
    return engine_run(tiny.path)


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
    right after each expiry and at the end)."""
    run = engine_run(tiny.path, EngineSettings(autonomy_assign="propose"))
    statuses = Counter(d["status"] for d in run.of(TOPIC_DECISIONS))
    assert statuses["proposed"] > 0 and statuses["expired"] > 0
    r = redis_server.client()
    m = RedisReadModel(redis_server.url, key_prefix=prefix)
    # checked right after every expiry (the recording's drivers may pick an expired
    # order up soon after: what shows 'pending' depends on the recorded day) and at the end
    cuts = [i + 1 for i, (t, rec) in enumerate(run.outs)
            if t == TOPIC_DECISIONS and rec["status"] == "expired"] + [len(run.outs)]
    seen_pending = 0
    OPEN = ("pending", "unassigned")
    for start, end in zip([0] + cuts[:-1], cuts):
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
                    if rec["status"] == "proposed" and last.get(oid, "pending") in OPEN:
                        last[oid] = "proposed"
                    elif rec["status"] == "expired" and last.get(oid) == "proposed":
                        last[oid] = "pending"
            elif t == TOPIC_ALERTS and rec["kind"] == "unassigned" and "vehicle_id" not in rec:
                for oid in rec["order_ids"]:   # dispatch found no place: an open order
                    if last.get(oid, "pending") in OPEN:
                        last[oid] = "unassigned"
            elif t == TOPIC_OUTCOMES:
                last[rec["order_id"]] = rec["outcome"]
            elif t == TOPIC_ETA and last.get(rec["order_id"], "pending") in OPEN + ("proposed",):
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
