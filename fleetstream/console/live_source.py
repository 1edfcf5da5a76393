"""Live mode: the console over the Redis read model of ``fleetstream run``
(docs/redis.md), approvals published to ``fs.approvals``.

Updates: ``poll()`` waits on the decision stream (``XREAD BLOCK``, so a new
decision is seen within milliseconds of its write) and rebuilds the snapshot at
once; without new decisions it rebuilds every ``refresh_s`` for positions and
ETAs, and the version only grows when the snapshot changed.  Depots and fleet
types are not in the read model: they come from the ``shift_start`` events of
``fs.fleet`` (read from the beginning on a consumer of the console's own, never
committing), when Kafka is reachable.  Vehicle headings are the bearing between
the last two positions the console saw.

The console's own keys (``--console-prefix``, default ``fs-console:``):
``acks`` (hash: alert id -> ``{"by", "at"}``) and ``answers`` (hash: decision id
-> the answer: ``approved``, ``by``, ``reason``, ``ts``, ``event_id``, ``at``).
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections import OrderedDict, deque
from typing import Any

import orjson

from fleetstream.connectors.redis_store import ORDER_STATUSES, VEHICLE_STATUSES, key_part
from fleetstream.console.model import (
    FINAL,
    STALE_S,
    alert_order,
    answer_record,
    answer_ts,
    approval_event,
    decision_row,
    kpis,
    override_event,
    proposal_row,
)
from fleetstream.contract.events import TOPIC_APPROVALS, TOPIC_FLEET

log = logging.getLogger("fleetstream.console")
ORDER_FIELDS = ("status", "vehicle_id", "eta", "lo80", "hi80", "p_late", "window_end",
                "outcome_ts", "eta_vehicle_id", "stop")
OPEN_STATUSES = ("pending", "unassigned", "proposed", "stranded")


def _f(x: Any) -> float | None:
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def _s(b: Any) -> str | None:
    return b.decode() if isinstance(b, bytes) else b


def bearing(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Initial bearing from point 1 to point 2, degrees clockwise from north."""
    p1, p2, dl = math.radians(lat1), math.radians(lat2), math.radians(lon2 - lon1)
    y = math.sin(dl) * math.cos(p2)
    x = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return round((math.degrees(math.atan2(y, x)) + 360.0) % 360.0, 1)


class LiveSource:
    mode = "live"
    blocking_poll = True

    def __init__(self, url: str, prefix: str = "fs:", console_prefix: str = "fs-console:",
                 bootstrap: str | None = None, topic_prefix: str = "",
                 kafka_extra: dict | None = None, stale_s: float = STALE_S,
                 poll_s: float = 0.1, refresh_s: float = 1.0, read_fleet: bool = True):
        import redis

        from fleetstream.connectors.redaction import redact_url
        self.r = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=3)
        try:
            self.r.ping()
        except redis.RedisError as e:
            raise ValueError(f"--redis {redact_url(url)}: {type(e).__name__}: {e}") from None
        self.P, self.C = prefix, console_prefix
        self.bootstrap, self.topic_prefix = bootstrap, topic_prefix
        self.kafka_extra = dict(kafka_extra or {})
        self.stale_s, self.poll_s, self.refresh_s = stale_s, poll_s, refresh_s
        self.lock = threading.RLock()
        self.version = 0
        self.t_min = self.t_max = None
        self.snapshot: dict = {}
        self.digest = b""
        self.zones: list[str] = []
        self.vkeys: list[str] = []
        self.zones_at = 0.0
        self.refreshed_at = 0.0
        self.fleet: dict[str, dict] = {}
        self.depots: dict[str, set] = {}
        self.pos: dict[str, tuple] = {}  # vid -> (lat, lon, pos_ts, heading)
        self.recent: deque = deque(maxlen=200)
        self.records: OrderedDict[str, dict] = OrderedDict()
        self.stream = prefix + "decisions"
        self.last_id = "0-0"
        self._producer = None
        self.stop = threading.Event()
        tail = self.r.xrevrange(self.stream, count=200)
        for _sid, fields in reversed(tail):
            self._remember(fields)
        if tail:
            self.last_id = _s(tail[0][0])
        if bootstrap and read_fleet:
            threading.Thread(target=self._read_fleet, name="console-fleet", daemon=True).start()
        self.refresh()

    # ------------------------------------------------------------------ reading

    def _remember(self, fields: dict) -> None:
        try:
            rec = orjson.loads(fields[b"record"])
        except (KeyError, ValueError):
            return
        self.records[rec["decision_id"]] = rec
        while len(self.records) > 5000:
            self.records.popitem(last=False)
        self.recent.append(decision_row(rec))

    def poll(self) -> bool:
        got = self.r.xread({self.stream: self.last_id}, count=500,
                           block=max(1, int(self.poll_s * 1000)))
        new = False
        for _key, entries in got or ():
            for sid, fields in entries:
                self.last_id = _s(sid)
                with self.lock:
                    self._remember(fields)
                new = True
        if new or time.monotonic() - self.refreshed_at >= self.refresh_s:
            self.refresh(force=new)
        return new

    def _scan_zones(self) -> list[str]:
        base = self.P + "z:"
        zones = set()
        for k in self.r.scan_iter(match=base + "*", count=1000):
            rest = _s(k)[len(base):]
            if ":" not in rest:
                zones.add(rest)
        return sorted(zones)

    def refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or not self.zones or now - self.zones_at > 3.0:
            # vehicles by key: a vehicle whose fixes came before any decision about it
            # has no zone yet in the read model, so it is in no zone index
            self.zones, self.zones_at = self._scan_zones(), now
            self.vkeys = sorted(_s(k) for k in self.r.scan_iter(match=self.P + "v:*",
                                                                count=1000))
        P = self.P
        pipe = self.r.pipeline(transaction=False)
        for z in self.zones:
            zk = P + "z:" + z  # already escaped: the key's own text
            pipe.hgetall(zk)
            for st in VEHICLE_STATUSES:
                pipe.zrange(f"{zk}:vehicles:{st}", 0, -1)
            for st in ORDER_STATUSES:
                pipe.zrange(f"{zk}:orders:{st}", 0, -1)
            pipe.hgetall(zk + ":alert")
            pipe.hgetall(zk + ":proposals")
        pipe.hgetall(self.C + "acks")
        pipe.hgetall(self.C + "answers")
        res = pipe.execute()
        acks = {_s(k): orjson.loads(v) for k, v in res[-2].items()}
        answers = {_s(k): orjson.loads(v) for k, v in res[-1].items()}
        per = 2 + len(VEHICLE_STATUSES) + len(ORDER_STATUSES) + 1
        zones_out, oids, alerts, props = [], [], [], []
        clocks = {}
        for i, z in enumerate(self.zones):
            chunk = res[i * per:(i + 1) * per]
            summary = {_s(k): _s(v) for k, v in chunk[0].items()}
            zname = summary.get("zone") or z
            clocks[zname] = _f(summary.get("ts"))
            for ids in chunk[1 + len(VEHICLE_STATUSES):-2]:
                oids += [(_s(x), zname) for x in ids]
            alerts += [orjson.loads(v) for v in chunk[-2].values()]
            props += [orjson.loads(v) for v in chunk[-1].values()]
            zones_out.append(zname)
        pipe = self.r.pipeline(transaction=False)
        for k in self.vkeys:
            pipe.hgetall(k)
        for oid, _z in oids:
            pipe.hmget(P + "o:" + key_part(oid), *ORDER_FIELDS)
        res = pipe.execute()
        vh = res[:len(self.vkeys)]
        orders = {oid: dict(zip(ORDER_FIELDS, map(_s, vals)), zone=z)
                  for (oid, z), vals in zip(oids, res[len(self.vkeys):])}
        vehicles = []
        for h in vh:
            h = {_s(k): _s(v) for k, v in h.items()}
            if h.get("vehicle_id"):
                vehicles.append(self._vehicle(h["vehicle_id"], h, orders, clocks))
        rows = []
        for o in orders.values():
            st = o["status"] or "pending"
            fleet = self.fleet.get(o.get("vehicle_id") or "", {}).get("fleet_type")
            we, ot = _f(o.get("window_end")), _f(o.get("outcome_ts"))
            rows.append({"status": st if st in FINAL else ("open" if st in OPEN_STATUSES
                                                            else "routed"),
                         "on_time": st == "delivered" and we is not None and ot is not None
                         and ot <= we,
                         "p_late": None if st in FINAL else _f(o.get("p_late")),
                         "fleet_type": fleet, "zone": o["zone"]})
        known = [c for c in clocks.values() if c is not None]
        t = max(known) if known else None
        snap = {"mode": self.mode, "t": t, "t_min": t, "t_max": t,
                "zones": [{"zone": z, "depots": [{"lat": a, "lon": b} for a, b in
                                                 sorted(self.depots.get(z, ()))]}
                          for z in zones_out],
                "vehicles": vehicles,
                "alerts": [dict(a, ack=acks.get(a.get("alert_id"))) for a in alerts],
                "proposals": [proposal_row(d, answers.get(d["decision_id"]))
                              for d in sorted(props, key=lambda d: (d["ts"], d["decision_id"]))],
                "kpi_rows": rows}
        digest = orjson.dumps(snap, option=orjson.OPT_NON_STR_KEYS)
        with self.lock:
            self.refreshed_at = time.monotonic()
            if force or digest != self.digest:
                self.digest = digest
                self.snapshot = snap
                self.t_min = self.t_max = t
                self.version += 1

    def _vehicle(self, vid: str, h: dict, orders: dict, clocks: dict) -> dict:
        lat, lon, pos_ts = _f(h.get("lat")), _f(h.get("lon")), _f(h.get("pos_ts"))
        prev = self.pos.get(vid)
        heading = prev[3] if prev else None
        if prev and lat is not None and (prev[0], prev[1]) != (lat, lon):
            heading = bearing(prev[0], prev[1], lat, lon)
        if lat is not None:
            self.pos[vid] = (lat, lon, pos_ts, heading)
        route = []
        try:
            stops = orjson.loads(h.get("route") or "[]")
        except ValueError:
            stops = []
        for s in stops:
            o = orders.get(s.get("order_id")) or {}
            mine = o.get("eta_vehicle_id") == vid and o.get("stop") in (None, s.get("stop"))
            loc = s.get("location") or {}
            route.append({"order_id": s.get("order_id"), "stop": s.get("stop"),
                          "lat": loc.get("lat"), "lon": loc.get("lon"),
                          "eta": _f(o.get("eta")) if mine else s.get("eta"),
                          "lo80": _f(o.get("lo80")) if mine else None,
                          "hi80": _f(o.get("hi80")) if mine else None,
                          "window_end": s.get("window_end"),
                          "p_late": _f(o.get("p_late")) if mine else None})
        info = self.fleet.get(vid, {})
        zone = h.get("zone") or info.get("zone")
        clock = clocks.get(zone) or max((c for c in clocks.values() if c), default=None)
        return {"id": vid, "zone": zone, "lat": lat, "lon": lon, "heading": heading,
                "pos_ts": pos_ts, "stale_s": round(clock - pos_ts, 1) if clock and pos_ts else 0.0,
                "status": h.get("status") or "idle", "fleet_type": info.get("fleet_type"),
                "vehicle_type": info.get("vehicle_type"), "route": route}

    def state(self, t: float | None = None, zone: str | None = None) -> dict:
        with self.lock:
            s = self.snapshot
            version = self.version
            recent = list(self.recent)[::-1][:100]
        vehicles = [v for v in s["vehicles"] if zone in (None, v["zone"]) and v["lat"] is not None]
        return {"mode": self.mode, "t": s["t"], "t_min": s["t_min"], "t_max": s["t_max"],
                "version": version,
                "zones": [z for z in s["zones"] if zone in (None, z["zone"])] if zone else s["zones"],
                "vehicles": vehicles,
                "alerts": alert_order(a for a in s["alerts"] if zone in (None, a.get("zone"))),
                "proposals": [p for p in s["proposals"] if zone in (None, p["zone"])],
                "decisions": [d for d in recent if zone in (None, d["zone"])],
                "kpi": kpis(r for r in s["kpi_rows"] if zone in (None, r["zone"]))}

    def decision(self, decision_id: str) -> dict | None:
        with self.lock:
            rec = self.records.get(decision_id)
        if rec is None:
            for _sid, fields in self.r.xrevrange(self.stream, count=5000):
                if _s(fields.get(b"decision_id")) == decision_id:
                    rec = orjson.loads(fields[b"record"])
                    break
        if rec is None:
            return None
        answers = [r for r in list(self.records.values()) if r.get("refers_to") == decision_id]
        return {"record": rec, "answers": answers,
                "triggers": [{"event_id": e, "type": None, "note": "input events are not in "
                              "the read model"} for e in rec.get("trigger_event_ids", [])]}

    # ------------------------------------------------------------------ actions

    def ack(self, alert_id: str, by: str) -> dict:
        with self.lock:
            alerts = self.snapshot.get("alerts", [])
        if not any(a.get("alert_id") == alert_id for a in alerts):
            raise KeyError(alert_id)
        rec = {"by": by, "at": round(time.time(), 3)}
        self.r.hset(self.C + "acks", alert_id, orjson.dumps(rec))
        self.refresh(force=True)
        return rec

    def _proposal(self, decision_id: str) -> dict:
        with self.lock:
            zones = list(self.zones)
        for z in zones:
            raw = self.r.hget(self.P + "z:" + z + ":proposals", decision_id)
            if raw:
                return orjson.loads(raw)
        raise KeyError(decision_id)

    def producer(self) -> Any:
        if self._producer is None:
            from confluent_kafka import Producer

            from fleetstream.connectors.kafka import IDEMPOTENT, _client, client_config
            if not self.bootstrap:
                raise RuntimeError("no Kafka bootstrap (--bootstrap) to publish approvals to")
            self._producer = _client(Producer, client_config(self.bootstrap, {
                **self.kafka_extra, "linger.ms": 0, "message.timeout.ms": 10000, **IDEMPOTENT}))
        return self._producer

    def answer(self, decision_id: str, approved: bool, by: str, reason: str | None,
               t: float | None) -> dict:
        """Publish an approval event for an open proposal to ``fs.approvals``, at
        the zone's event-time clock (at least ANSWER_AFTER_S after the proposal)."""
        d = self._proposal(decision_id)
        if self.r.hexists(self.C + "answers", decision_id):
            raise KeyError(decision_id)  # answered already (by this or another console)
        clock = _f(self.r.hget(self.P + "z:" + key_part(d["zone"]), "ts"))
        ev = approval_event(decision_id, d["zone"], approved, by, answer_ts(d["ts"], clock),
                            reason)
        errors: list[str] = []
        p = self.producer()
        p.produce(self.topic_prefix + TOPIC_APPROVALS, key=decision_id.encode(),
                  value=orjson.dumps(ev),
                  on_delivery=lambda err, _m: errors.append(str(err)) if err else None)
        left = p.flush(15)
        if left or errors:
            raise RuntimeError(f"approval not delivered to Kafka: {errors[:1] or 'timeout'}")
        rec = answer_record(ev, reason)
        self.r.hset(self.C + "answers", decision_id, orjson.dumps(rec))
        self.refresh(force=True)
        return {"event": ev, "answer": rec}

    def override(self, action: str, by: str, fields_: dict, t: float | None) -> dict:
        """Publish a dispatcher override (order_pin, route_lock, ...) to ``fs.approvals``,
        keyed by its zone (given by the page: the vehicle's or the order's), at the
        zone's event-time clock."""
        zone = str(fields_.get("zone") or "")
        if not zone:
            raise KeyError(fields_.get("vehicle_id") or fields_.get("order_id"))
        clock = _f(self.r.hget(self.P + "z:" + key_part(zone), "ts"))
        if clock is None:
            raise KeyError(zone)
        ev = override_event(action, zone, by, clock, fields_)
        errors: list[str] = []
        p = self.producer()
        p.produce(self.topic_prefix + TOPIC_APPROVALS, key=zone.encode(), value=orjson.dumps(ev),
                  on_delivery=lambda err, _m: errors.append(str(err)) if err else None)
        left = p.flush(15)
        if left or errors:
            raise RuntimeError(f"override not delivered to Kafka: {errors[:1] or 'timeout'}")
        self.refresh(force=True)
        return {"event": ev}

    def _read_fleet(self) -> None:
        """Depots and fleet types from the shift_start events of fs.fleet."""
        try:
            from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

            from fleetstream.connectors.kafka import _client, client_config
            topic = self.topic_prefix + TOPIC_FLEET
            c = _client(Consumer, client_config(self.bootstrap, {
                **self.kafka_extra, "group.id": f"fleetstream-console-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False}))
            md = c.list_topics(topic, timeout=10)
            parts = sorted(md.topics[topic].partitions) if topic in md.topics else []
            if not parts:
                log.warning("console: no topic %s: no depots or fleet types", topic)
                return
            c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
            while not self.stop.is_set():
                for m in c.consume(500, 0.5):
                    if m.error():
                        continue
                    try:
                        ev = orjson.loads(m.value())
                    except ValueError:
                        continue
                    if ev.get("type") == "shift_start" and ev.get("vehicle_id"):
                        info = {k: ev.get(k) for k in ("fleet_type", "vehicle_type", "zone")}
                        st = ev.get("start") or {}
                        with self.lock:
                            self.fleet[ev["vehicle_id"]] = info
                            if "lat" in st and "lon" in st:
                                self.depots.setdefault(info["zone"], set()).add(
                                    (st["lat"], st["lon"]))
            c.close()
        except Exception as e:  # noqa: BLE001 - the map works without depots
            log.warning("console: reading %s failed (%s): no depots or fleet types",
                        TOPIC_FLEET, e)

    def close(self) -> None:
        self.stop.set()
        if self._producer is not None:
            self._producer.flush(5)
