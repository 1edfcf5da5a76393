"""Redis: the live read model and the customer context store (docs/redis.md).

**Read model** (:class:`RedisReadModel`).  ``fleetstream run --redis URL`` feeds it
every output record (``fs.decisions``, ``fs.eta``, ``fs.alerts``,
``fs.notifications``) and every accepted GPS fix.  It keeps, under ``key_prefix``:
vehicles (position, status, current route), orders (status, vehicle, latest ETA
with its 80 % / 95 % intervals), a summary per zone (orders and vehicles per
status, open alerts, open proposals) and the decision stream (a Redis Stream
capped with ``MAXLEN ~``).  Each record is applied by one Lua script, atomically
and **idempotently**: every entity remembers the version ``(event time, per-zone
sequence)`` of the record that last changed it and ignores older ones, so
replaying records (a Kafka redelivery, a backlog flush after an outage) gives
the same state.  The two effects that are not naturally idempotent, the stream
entry of a decision and the outcome counters of a customer, are deduplicated by
record id in a per-zone sorted set of seen ids (``z:{zone}:seen``).

The engine never depends on Redis: :meth:`RedisReadModel.write` never raises.
When Redis cannot be reached the writes wait in a bounded backlog (the oldest
are dropped beyond ``backlog_max``, counted), the outage is logged once, and the
backlog is flushed, in order, when Redis answers again (retries back off
exponentially on a monotonic clock: I/O pacing, not decision logic).

**Customer context** (:class:`CustomerContextStore`, :class:`InProcessContextStore`):
profiles for downstream apps (driver app, customer service), read through a
local LRU cache.  The zone engine does **not** read it: its customer context
comes from ``customer_profile`` events on ``fs.customers``, so replays stay
deterministic.

>>> store = InProcessContextStore()
>>> store.put_profile({"customer_id": "c1", "zone": "Z1", "language": "de",
...                    "access_instructions": "code 4711"})
>>> store.record_outcome("c1", "failed", "access")
True
>>> ctx = store.get("c1")
>>> ctx["language"], ctx["history"]
('de', {'access_failures': 1, 'failures': 1})
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import math
import re
import sys
import threading
import time
from collections import OrderedDict, deque
from typing import Any, Callable, Iterable, Iterator

import orjson

from fleetstream.connectors.redaction import redact_url
from fleetstream.connectors.redis_script import APPLY_LUA  # the read-model script
from fleetstream.contract.events import (FAIL_REASONS, MAX_ID_LEN, MAX_TEXT_LEN, TOPIC_CUSTOMERS,
                                ValidationError, decode_event)
from fleetstream.contract.outputs import (TOPIC_ALERTS, TOPIC_DECISIONS, TOPIC_ETA, TOPIC_NOTIFICATIONS,
                                 TOPIC_OUTCOMES)

log = logging.getLogger("fleetstream.redis")


ORDER_STATUSES = ("pending", "unassigned", "proposed", "assigned", "stranded", "delivered",
                  "failed", "cancelled", "expired", "not_served")
OUTCOMES = ("delivered", "failed", "cancelled", "expired", "not_served")
"""The final outcomes of fs.outcomes (contract/outputs.py): each is a final order status."""
VEHICLE_STATUSES = ("idle", "en_route", "stale", "unavailable")
OUTCOME_FIELDS = ("deliveries", "failures") + tuple(f"{r}_failures" for r in FAIL_REASONS)
PROFILE_TEXT = ("zone", "language", "preferred_drop", "access_instructions", "notes")


# --------------------------------------------------------------------------
# Records -> script operations.


_KEY_ESC = re.compile(r"[%:{}]")


def key_part(s: str) -> str:
    """An id as a key part: ``%``, ``:``, ``{``, ``}`` written ``%XX`` (hex), the same
    escaping as the read-model script's ``esc``; other ids are unchanged.

    >>> key_part("Z1:orders:pending"), key_part("V1")
    ('Z1%3Aorders%3Apending', 'V1')
    """
    return _KEY_ESC.sub(lambda m: "%%%02X" % ord(m.group()), s)


class InvalidRecord(ValueError):
    pass


def _num(x: Any) -> str:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise InvalidRecord(f"expected a number, got {type(x).__name__}")
    if isinstance(x, int):
        return str(x)
    if not math.isfinite(x):
        raise InvalidRecord("expected a finite number")
    return repr(float(x))


def _str(rec: dict, name: str) -> str:
    v = rec.get(name)
    if not isinstance(v, str) or not v:
        raise InvalidRecord(f"{name}: expected a non-empty string")
    return v


def _seq(rid: str) -> int:
    """The per-zone sequence at the end of an engine id (``D-Z1-1772413260-42`` -> 42)."""
    tail = rid.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _ts(rec: dict) -> float:
    ts = rec.get("ts")
    if isinstance(ts, bool) or not isinstance(ts, (int, float)):
        raise InvalidRecord("ts: expected a number")
    return float(ts)


def route_json(stops: list[dict]) -> str:
    """A route as stored in ``v:{id}`` ``route``: a JSON array, one stop per line."""
    return "[" + ",\n".join(orjson.dumps(s).decode() for s in stops) + "]"


def _op(topic: str, rec: dict) -> dict | None:
    """One output record -> the operation the script applies (None: not for Redis)."""
    if not isinstance(rec, dict):
        raise InvalidRecord("record is not an object")
    if topic == TOPIC_DECISIONS:
        did = _str(rec, "decision_id")
        routes = []
        for vid, stops in (rec.get("routes") or {}).items():
            if not isinstance(stops, list) or not all(isinstance(s, dict) for s in stops):
                raise InvalidRecord(f"routes.{vid}: expected a list of stops")
            routes.append([vid, route_json(stops),
                           [[_str(s, "order_id"), s.get("stop", ""), _num(s.get("eta", 0))]
                            for s in stops]])
        op = {"t": "D", "id": did, "kind": _str(rec, "kind"), "status": _str(rec, "status"),
              "order_ids": [o for o in rec.get("order_ids") or [] if isinstance(o, str)],
              "routes": routes, "rec": orjson.dumps(rec).decode()}
        if isinstance(rec.get("refers_to"), str):
            op["refers_to"] = rec["refers_to"]
    elif topic == TOPIC_ETA:
        did = _str(rec, "eta_id")
        f: list[str] = []
        for name in ("eta", "lo80", "hi80", "lo95", "hi95", "window_start", "window_end",
                     "p_late", "stops_ahead"):
            if name in rec:
                f += [name, _num(rec[name])]
        f += ["stop", str(rec.get("stop", "delivery"))]
        op = {"t": "E", "id": did, "oid": _str(rec, "order_id"),
              "vid": _str(rec, "vehicle_id"), "f": f}
    elif topic == TOPIC_ALERTS:
        did = _str(rec, "alert_id")
        kind = _str(rec, "kind")
        vid = rec.get("vehicle_id") if isinstance(rec.get("vehicle_id"), str) else None
        oids = [o for o in rec.get("order_ids") or [] if isinstance(o, str)]
        op = {"t": "A", "id": did, "kind": kind, "order_ids": oids,
              "rec": orjson.dumps(rec).decode()}
        if vid and kind != "failure_risk":
            op["subj"] = f"{kind}|{vid}"
        elif oids:
            op["subj"] = f"{kind}|{oids[0]}"
            op["oid"] = oids[0]
        else:
            op["subj"] = f"{kind}|#{did}"
        if vid:
            op["vid"] = vid
    elif topic == TOPIC_NOTIFICATIONS:
        did = _str(rec, "notification_id")
        op = {"t": "N", "id": did, "oid": _str(rec, "order_id"),
              "cid": _str(rec, "customer_id"), "kind": str(rec.get("kind", ""))}
    elif topic == TOPIC_OUTCOMES:
        did = _str(rec, "outcome_id")
        outcome = _str(rec, "outcome")
        if outcome not in OUTCOMES:
            raise InvalidRecord(f"outcome: must be one of {', '.join(OUTCOMES)}, "
                                f"got {outcome!r}")
        op = {"t": "O", "id": did, "oid": _str(rec, "order_id"), "outcome": outcome}
        for k, name in (("vid", "vehicle_id"), ("cid", "customer_id")):
            if isinstance(rec.get(name), str) and rec[name]:
                op[k] = rec[name]
        r = rec.get("reason")
        if outcome == "failed":
            op["reason"] = r if r in FAIL_REASONS else "other"
        elif outcome in ("expired", "not_served") and isinstance(r, str) and r:
            op["reason"] = r[:MAX_TEXT_LEN]  # why the order ends unserved, for the console
    else:
        return None  # fs.dlq and anything else: not part of the read model
    ts = _ts(rec)
    op.update(zone=_str(rec, "zone"), ts=ts, ts_s=_num(rec["ts"]), seq=_seq(did))
    return op


_redact = redact_url  # user-info redacted whatever the password holds (connectors/redaction.py)


def _client(url: str, connect_timeout_s: float, socket_timeout_s: float) -> Any:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry
    # No client-side retries: a dead server must cost one refused connect, not a
    # backoff loop inside the engine's output step.
    return redis.Redis.from_url(url, socket_connect_timeout=connect_timeout_s,
                                socket_timeout=socket_timeout_s, retry=Retry(NoBackoff(), 0),
                                health_check_interval=0)


def _is_outage(e: BaseException) -> bool:
    import redis.exceptions as rx
    if isinstance(e, (rx.ConnectionError, rx.TimeoutError, OSError)):
        return True
    msg = str(e)
    return isinstance(e, rx.ResponseError) and msg.split(" ", 1)[0] in (
        "LOADING", "READONLY", "MASTERDOWN", "OOM", "BUSY", "CLUSTERDOWN", "TRYAGAIN")


# --------------------------------------------------------------------------
# The read model.


class RedisReadModel:
    """The live read model in Redis; see the module docstring and docs/redis.md.

    ``ttl_s``: every key expires this many seconds after its last write; the zone
    indexes also forget entities untouched for ``ttl_s`` of event time.
    ``stream_maxlen``: approximate cap of the decision stream (``XADD MAXLEN ~``).
    ``alert_open_s``: an alert not closed by then stops counting as open (event time).
    ``dedupe_window_s``: how long (event time) decision and outcome ids are remembered
    (default ``ttl_s``).  ``backlog_max``: writes kept while Redis is down.
    ``chunk``: records per pipeline (one round trip each).
    ``flush_every_s``: after an outage, a background thread retries the backlog at
    least this often (on the retry back-off), so held-back writes reach Redis when
    it returns even if no later write arrives (0: only on writes and ``flush``).
    ``close_timeout_s``: how long :meth:`close` keeps trying to write the backlog.
    """

    def __init__(self, url: str, key_prefix: str = "fs:", ttl_s: int = 86400,
                 stream_maxlen: int = 100000, *, alert_open_s: float = 7200.0,
                 dedupe_window_s: float | None = None, backlog_max: int = 100000,
                 chunk: int = 500, retry_base_s: float = 0.5, retry_max_s: float = 5.0,
                 connect_timeout_s: float = 1.0, socket_timeout_s: float = 2.0,
                 client: Any = None, monotonic: Callable[[], float] = time.monotonic,
                 flush_every_s: float = 1.0, close_timeout_s: float = 10.0):
        self.url = url
        self.prefix = key_prefix
        self.ttl_s = int(ttl_s)
        self.stream_maxlen = int(stream_maxlen)
        self.cfg = orjson.dumps([key_prefix, str(self.ttl_s), str(self.stream_maxlen),
                                 repr(float(alert_open_s)),
                                 repr(float(dedupe_window_s if dedupe_window_s is not None
                                            else ttl_s))])
        self.backlog_max = backlog_max
        self.chunk = chunk
        self.retry_base_s, self.retry_max_s = retry_base_s, retry_max_s
        self.monotonic = monotonic
        self.r = client if client is not None else _client(url, connect_timeout_s,
                                                           socket_timeout_s)
        self.sha = hashlib.sha1(APPLY_LUA.encode()).hexdigest()
        self.script_loaded = False
        self.backlog: deque[bytes] = deque()
        self.connected = True
        self.down_since = 0.0
        self.next_try = 0.0
        self.failures_in_row = 0
        self.counts = {"written": 0, "failed_batches": 0, "dropped": 0, "outages": 0,
                       "duplicates": 0, "stale": 0, "coalesced": 0, "invalid": 0,
                       "rejected": 0}
        self._warned: set[str] = set()
        # One lock for the backlog and the client: the engine's writes and the
        # catch-up thread never interleave.
        self.lock = threading.RLock()
        self.flush_every_s = flush_every_s
        self.close_timeout_s = close_timeout_s
        self._timer: threading.Thread | None = None
        self._closing = threading.Event()

    # ---------------------------------------------------------------- API

    def write_batch(self, records: Iterable[tuple[str, dict]]) -> None:
        """Apply output records ``(topic, record)``; never raises."""
        self.write(records, ())

    def vehicle_position(self, vehicle_id: str, lat: float, lon: float, ts: float,
                         zone: str | None = None) -> None:
        """One GPS fix (one round trip: prefer :meth:`write` with a list of positions)."""
        self.write((), [(vehicle_id, lat, lon, ts, zone)])

    def write(self, records: Iterable[tuple[str, dict]] = (),
              positions: Iterable[tuple] = ()) -> None:
        """Apply output records and positions ``(vehicle_id, lat, lon, ts[, zone])``
        in one pipeline.  Never raises: Redis trouble goes to the backlog and the
        counters in :meth:`metrics`."""
        with self.lock:
            self._write(records, positions)

    def _write(self, records: Iterable[tuple[str, dict]],
               positions: Iterable[tuple]) -> None:
        try:
            latest: dict[str, dict] = {}  # only the latest fix of each vehicle matters
            for pos in positions:
                try:
                    vid, lat, lon, ts, *rest = pos
                    if not isinstance(vid, str) or not vid:
                        raise InvalidRecord("vehicle_id")
                    op = {"t": "P", "vid": vid, "lat": _num(lat), "lon": _num(lon),
                          "ts": float(_num(ts)), "ts_s": _num(ts)}
                    if rest and isinstance(rest[0], str) and rest[0]:
                        op["zone"] = rest[0]
                    if vid in latest:
                        self.counts["coalesced"] += 1
                        if op["ts"] < latest[vid]["ts"]:
                            continue
                    latest[vid] = op
                except (InvalidRecord, TypeError, ValueError) as e:
                    self._invalid("position", e)
            for op in latest.values():
                self._enqueue(orjson.dumps(op))
            for item in records:
                try:
                    topic, rec = item
                    op = _op(topic, rec)
                    if op is not None:
                        self._enqueue(orjson.dumps(op))
                except (InvalidRecord, TypeError, ValueError, KeyError) as e:
                    self._invalid(str(item[0]) if isinstance(item, tuple) and item else "?", e)
            self._drain(force=False)
        except Exception as e:  # noqa: BLE001 - the read model must never stop the engine
            self.counts["rejected"] += 1
            self._warn_once("unexpected", "redis read model: unexpected error %s: %s",
                            type(e).__name__, e)

    def flush(self, force: bool = True) -> bool:
        """Write the backlog now (``force``: even before the next retry is due).
        True when the backlog is empty afterwards."""
        with self.lock:
            try:
                self._drain(force=force)
            except Exception as e:  # noqa: BLE001
                self._warn_once("unexpected", "redis read model: unexpected error %s: %s",
                                type(e).__name__, e)
            return not self.backlog

    def metrics(self) -> dict[str, Any]:
        """written: records applied; failed_batches: pipelines that hit an outage;
        backlog: records waiting; dropped: records dropped from a full backlog;
        outages: times Redis went away; connected: last attempt succeeded;
        duplicates/stale: records Redis already had or had newer (replays, late
        fixes); coalesced: fixes superseded by a later fix of the same vehicle in the
        same call (not sent); invalid: records that do not fit the output contract;
        rejected: records Redis refused."""
        return {**self.counts, "backlog": len(self.backlog), "connected": self.connected}

    def close(self) -> None:
        """Stop the catch-up thread and write the backlog, retrying for up to
        ``close_timeout_s`` while Redis is away; what still cannot be written is
        logged (count) before the client closes."""
        self._closing.set()
        deadline = time.monotonic() + self.close_timeout_s
        while not self.flush(force=True) and time.monotonic() < deadline:
            time.sleep(min(0.5, self.close_timeout_s))
        t = self._timer
        if t is not None and t is not threading.current_thread():
            t.join(timeout=5)
        if self.backlog:
            log.error("redis read model: %d records not written: Redis at %s still "
                      "unavailable after %.0f s at shutdown", len(self.backlog),
                      _redact(self.url), self.close_timeout_s)
        try:
            self.r.close()
        except Exception:  # noqa: BLE001
            pass

    def _start_timer(self) -> None:
        """The catch-up thread (see ``flush_every_s``), started at an outage; it ends
        when the backlog is written."""
        if self.flush_every_s <= 0 or self._closing.is_set():
            return
        if self._timer is not None and self._timer.is_alive():
            return
        self._timer = threading.Thread(target=self._catch_up, name="redis-catch-up",
                                       daemon=True)
        self._timer.start()

    def _catch_up(self) -> None:
        while not self._closing.is_set():
            with self.lock:
                wait = max(0.0, self.next_try - self.monotonic()) if not self.connected else 0.0
            if self._closing.wait(min(self.flush_every_s, wait) if wait else self.flush_every_s):
                return
            with self.lock:
                if self.backlog and (self.connected or self.monotonic() >= self.next_try):
                    self.flush(force=False)
                if not self.backlog and self.connected:
                    self._timer = None
                    return

    # ---------------------------------------------------------------- internals

    def _invalid(self, what: str, e: Exception) -> None:
        self.counts["invalid"] += 1
        self._warn_once("invalid:" + what, "redis read model: skipped an invalid %s record: %s",
                        what, e)

    def _warn_once(self, key: str, msg: str, *args: Any) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(msg, *args)

    def _enqueue(self, op: bytes) -> None:
        if len(self.backlog) >= self.backlog_max:
            self.backlog.popleft()
            self.counts["dropped"] += 1
        self.backlog.append(op)

    def _drain(self, force: bool) -> None:
        if not self.backlog:
            return
        if not self.connected and not force and self.monotonic() < self.next_try:
            return
        while self.backlog:
            n = min(self.chunk, len(self.backlog))
            ops = [self.backlog[i] for i in range(n)]
            try:
                results = self._apply(ops)
            except Exception as e:  # noqa: BLE001
                if not _is_outage(e):
                    raise
                self._outage(e)
                return
            for _ in range(n):
                self.backlog.popleft()
            for res in results:
                if isinstance(res, Exception):
                    self.counts["rejected"] += 1
                    self._warn_once("rejected:" + str(res)[:60],
                                    "redis read model: Redis refused a record: %s", res)
                else:
                    self.counts["written"] += 1
                    if res in (b"dup", "dup"):
                        self.counts["duplicates"] += 1
                    elif res in (b"old", "old"):
                        self.counts["stale"] += 1
            if not self.connected:
                log.warning("redis read model: Redis is back after %.1f s; flushing the backlog "
                            "(%d records dropped during the outage so far)",
                            self.monotonic() - self.down_since, self.counts["dropped"])
                self.connected = True
                self.failures_in_row = 0

    def _apply(self, ops: list[bytes]) -> list[Any]:
        import redis.exceptions as rx
        if not self.script_loaded:
            self.r.script_load(APPLY_LUA)
            self.script_loaded = True
        for attempt in (0, 1):
            pipe = self.r.pipeline(transaction=False)
            for op in ops:
                pipe.evalsha(self.sha, 0, self.cfg, op)
            results = pipe.execute(raise_on_error=False)
            errors = [r for r in results if isinstance(r, Exception)]
            if errors and _is_outage(errors[0]):
                raise errors[0]
            if attempt == 0 and any(isinstance(r, rx.NoScriptError) for r in errors):
                # SCRIPT FLUSH or a restarted server: load and apply again (idempotent).
                self.r.script_load(APPLY_LUA)
                continue
            return results
        return results

    def _outage(self, e: BaseException) -> None:
        self.counts["failed_batches"] += 1
        self.script_loaded = False
        now = self.monotonic()
        if self.connected:
            self.connected = False
            self.down_since = now
            self.counts["outages"] += 1
            log.warning("redis read model: Redis at %s unavailable (%s: %s); the engine goes "
                        "on, writes wait in a backlog of at most %d records",
                        _redact(self.url), type(e).__name__, e, self.backlog_max)
        delay = min(self.retry_max_s, self.retry_base_s * (2 ** min(self.failures_in_row, 16)))
        self.failures_in_row += 1
        self.next_try = now + delay
        self._start_timer()


# --------------------------------------------------------------------------
# Customer context.


def _check_profile(p: Any) -> tuple[str, dict[str, str], list[str]]:
    """A profile dict -> (customer_id, fields to set, fields to delete)."""
    if not isinstance(p, dict):
        raise ValueError("profile: expected an object")
    cid = p.get("customer_id")
    if not isinstance(cid, str) or not cid or len(cid) > MAX_ID_LEN:
        raise ValueError(f"customer_id: must be a string of 1 to {MAX_ID_LEN} characters")
    put: dict[str, str] = {"customer_id": cid}
    drop: list[str] = []
    for name in PROFILE_TEXT:
        v = p.get(name)
        if v is None or v == "":
            drop.append(name)
        elif not isinstance(v, str) or len(v) > MAX_TEXT_LEN:
            raise ValueError(f"{name}: must be a string of at most {MAX_TEXT_LEN} characters")
        else:
            put[name] = v
    reqs = p.get("service_requirements") or []
    if not isinstance(reqs, list) or not all(isinstance(x, str) and x for x in reqs):
        raise ValueError("service_requirements: must be a list of strings")
    if reqs:
        put["service_requirements"] = orjson.dumps(reqs).decode()
    else:
        drop.append("service_requirements")
    ts = p.get("ts")
    if isinstance(ts, (int, float)) and not isinstance(ts, bool):
        put["profile_ts"] = _num(ts)
    return cid, put, drop


def _outcome_fields(outcome: str, reason: str | None) -> list[str]:
    if outcome == "delivered":
        return ["deliveries"]
    if outcome == "failed":
        return ["failures", f"{reason if reason in FAIL_REASONS else 'other'}_failures"]
    raise ValueError(f"outcome: must be delivered or failed, got {outcome!r}")


def _profile_view(fields: dict[str, str]) -> dict | None:
    """Stored hash fields -> the context dict (the shape of a decision stop's ``customer``
    plus ``customer_id``, ``zone`` and the outcome history)."""
    if not fields:
        return None
    out: dict[str, Any] = {"customer_id": fields.get("customer_id", "")}
    for name in PROFILE_TEXT:
        if fields.get(name):
            out[name] = fields[name]
    out["service_requirements"] = (orjson.loads(fields["service_requirements"])
                                   if fields.get("service_requirements") else [])
    hist = {k: int(fields[k]) for k in sorted(fields) if k in OUTCOME_FIELDS and int(fields[k])}
    out["history"] = hist
    if fields.get("last_outcome"):
        out["last_outcome"] = fields["last_outcome"]
        out["last_outcome_ts"] = float(fields["last_outcome_ts"])
    if fields.get("profile_ts"):
        out["profile_ts"] = float(fields["profile_ts"])
    return out


class _LRU:
    def __init__(self, size: int, ttl_s: float, monotonic: Callable[[], float]):
        self.size, self.ttl_s, self.monotonic = size, ttl_s, monotonic
        self.d: OrderedDict[str, tuple[float, dict | None]] = OrderedDict()

    def get(self, k: str, allow_expired: bool = False) -> tuple[bool, dict | None]:
        hit = self.d.get(k)
        if hit is None or (not allow_expired and hit[0] < self.monotonic()):
            return False, None
        self.d.move_to_end(k)
        return True, hit[1]

    def put(self, k: str, v: dict | None) -> None:
        self.d[k] = (self.monotonic() + self.ttl_s, v)
        self.d.move_to_end(k)
        while len(self.d) > self.size:
            self.d.popitem(last=False)

    def drop(self, k: str) -> None:
        self.d.pop(k, None)


class InProcessContextStore:
    """Customer context in a dict: the embedded default and the reference for tests.
    Same interface and same answers as :class:`CustomerContextStore`."""

    def __init__(self, key_prefix: str = "fs:", cache_size: int = 10000,
                 cache_ttl_s: float = 60.0):
        self.data: dict[str, dict[str, str]] = {}
        self.seen: set[str] = set()
        self.counts = {"hits": 0, "misses": 0, "errors": 0}

    def put_profile(self, profile: dict) -> None:
        cid, put, drop = _check_profile(profile)
        h = self.data.setdefault(cid, {})
        for k in drop:
            h.pop(k, None)
        h.update(put)

    def load_profiles(self, profiles: Iterable[dict]) -> int:
        n = 0
        for p in profiles:
            self.put_profile(p)
            n += 1
        return n

    def get(self, customer_id: str) -> dict | None:
        self.counts["hits"] += 1
        return _profile_view(self.data.get(customer_id, {}))

    def record_outcome(self, customer_id: str, outcome: str, reason: str | None = None,
                       outcome_id: str | None = None, ts: float | None = None) -> bool:
        fields = _outcome_fields(outcome, reason)
        if outcome_id is not None:
            if outcome_id in self.seen:
                return False
            self.seen.add(outcome_id)
        h = self.data.setdefault(customer_id, {"customer_id": customer_id})
        h.setdefault("customer_id", customer_id)
        for f in fields:
            h[f] = str(int(h.get(f, "0")) + 1)
        h["last_outcome"] = outcome
        h["last_outcome_ts"] = _num(ts if ts is not None else 0.0)
        return True

    def metrics(self) -> dict[str, int]:
        return {**self.counts, "cached": len(self.data)}


OUTCOME_LUA = r"""
if ARGV[1] ~= '' and not redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[2]) then
  return 0
end
redis.call('HSET', KEYS[1], 'customer_id', ARGV[3], 'last_outcome', ARGV[4],
           'last_outcome_ts', ARGV[5])
for i = 6, #ARGV do redis.call('HINCRBY', KEYS[1], ARGV[i], 1) end
return 1
"""


class CustomerContextStore:
    """Customer profiles and outcome counters in Redis (``{prefix}c:{customer_id}``),
    read through a local LRU cache of ``cache_size`` entries kept ``cache_ttl_s``
    seconds (wall clock: other writers' changes show after at most that long).

    ``get`` never raises: when Redis is unreachable it answers from the cache, even
    an expired entry, else None (counted in ``errors``).  Writes raise redis errors.
    """

    def __init__(self, url: str, key_prefix: str = "fs:", cache_size: int = 10000,
                 cache_ttl_s: float = 60.0, *, dedupe_ttl_s: int = 7 * 86400,
                 client: Any = None, monotonic: Callable[[], float] = time.monotonic):
        self.url = url
        self.prefix = key_prefix
        self.dedupe_ttl_s = dedupe_ttl_s
        self.r = client if client is not None else _client(url, 1.0, 2.0)
        self.cache = _LRU(cache_size, cache_ttl_s, monotonic)
        self.counts = {"hits": 0, "misses": 0, "errors": 0}
        self._outcome = self.r.register_script(OUTCOME_LUA)
        self._down = False

    def key(self, customer_id: str) -> str:
        return f"{self.prefix}c:{key_part(customer_id)}"

    def _put(self, pipe: Any, profile: dict) -> str:
        cid, put, drop = _check_profile(profile)
        k = self.key(cid)
        if drop:
            pipe.hdel(k, *drop)
        pipe.hset(k, mapping=put)
        return cid

    def put_profile(self, profile: dict) -> None:
        pipe = self.r.pipeline(transaction=True)
        cid = self._put(pipe, profile)
        pipe.execute()
        self.cache.drop(cid)

    def load_profiles(self, profiles: Iterable[dict], chunk: int = 500) -> int:
        """Store many profiles, ``chunk`` per round trip; returns how many."""
        n = 0
        pipe = self.r.pipeline(transaction=False)
        pending: list[str] = []
        for p in profiles:
            pending.append(self._put(pipe, p))
            if len(pending) >= chunk:
                pipe.execute()
                n += len(pending)
                for cid in pending:
                    self.cache.drop(cid)
                pending = []
        if pending:
            pipe.execute()
            n += len(pending)
            for cid in pending:
                self.cache.drop(cid)
        return n

    def get(self, customer_id: str) -> dict | None:
        hit, v = self.cache.get(customer_id)
        if hit:
            self.counts["hits"] += 1
            return v
        self.counts["misses"] += 1
        try:
            raw = self.r.hgetall(self.key(customer_id))
        except Exception as e:  # noqa: BLE001
            if not _is_outage(e):
                raise
            self.counts["errors"] += 1
            if not self._down:
                self._down = True
                log.warning("customer context: Redis at %s unavailable (%s); answering from "
                            "the cache", _redact(self.url), type(e).__name__)
            return self.cache.get(customer_id, allow_expired=True)[1]
        self._down = False
        v = _profile_view({k.decode(): x.decode() for k, x in raw.items()})
        self.cache.put(customer_id, v)
        return v

    def record_outcome(self, customer_id: str, outcome: str, reason: str | None = None,
                       outcome_id: str | None = None, ts: float | None = None) -> bool:
        """Count a delivery or a failed attempt (``reason``: one of FAIL_REASONS, e.g.
        ``access`` increments ``access_failures``).  With ``outcome_id``, a repeat of
        the same id is ignored (remembered ``dedupe_ttl_s``).  True when counted."""
        fields = _outcome_fields(outcome, reason)
        keys = [self.key(customer_id), f"{self.prefix}seen:outcome:{key_part(outcome_id or '')}"]
        done = self._outcome(keys=keys, args=[outcome_id or "", self.dedupe_ttl_s, customer_id,
                                              outcome, _num(ts if ts is not None else 0.0),
                                              *fields])
        self.cache.drop(customer_id)
        return bool(done)

    def metrics(self) -> dict[str, int]:
        return {**self.counts, "cached": len(self.cache.d)}


ContextStore = CustomerContextStore | InProcessContextStore


def profiles_from_replay(replay_dir: str, stats: dict[str, int] | None = None) -> Iterator[dict]:
    """The ``customer_profile`` events of a replay folder, as profile dicts, in order."""
    from fleetstream.connectors.files import read_replay
    for msg in read_replay(replay_dir):
        if msg.topic != TOPIC_CUSTOMERS:
            continue
        try:
            ev = decode_event(msg.value, msg.topic)
        except ValidationError:
            if stats is not None:
                stats["invalid"] = stats.get("invalid", 0) + 1
            continue
        yield {"customer_id": ev.customer_id, "zone": ev.zone, "language": ev.language,
               "preferred_drop": ev.preferred_drop,
               "access_instructions": ev.access_instructions, "notes": ev.notes,
               "service_requirements": list(ev.service_requirements), "ts": ev.ts}


def load_customers_from_replay(replay_dir: str, store: ContextStore) -> dict[str, int]:
    """Load every valid ``customer_profile`` of a replay folder into ``store``
    (later profiles of a customer replace earlier ones).  Returns
    ``{"loaded": n, "invalid": m}``."""
    stats = {"invalid": 0}
    n = store.load_profiles(profiles_from_replay(replay_dir, stats))
    return {"loaded": n, "invalid": stats["invalid"]}


def main(argv: list[str] | None = None, prog: str = "fleetstream customers") -> int:
    """``fleetstream customers load REPLAY [--redis URL] [--prefix fs:]`` (also
    ``python -m fleetstream.connectors.redis_store load-customers ...``).  Mistakes
    and an unreachable Redis are one line and a non-zero exit."""
    import os
    ap = argparse.ArgumentParser(prog=prog)
    sub = ap.add_subparsers(dest="cmd", required=True)
    lc = sub.add_parser("load-customers", help="load a replay folder's customer profiles")
    lc.add_argument("replay", help="replay folder (or events file)")
    lc.add_argument("--redis", default=(os.environ.get("FLEETSTREAM_REDIS__URL")
                                         or os.environ.get("FLEETSTREAM_REDIS_URL", "")),
                    help="Redis URL (default $FLEETSTREAM_REDIS__URL)")
    lc.add_argument("--prefix", default="fs:", help="key prefix (default fs:)")
    a = ap.parse_args(argv)
    if not a.redis:
        print(f"{prog}: --redis URL or FLEETSTREAM_REDIS__URL is required", file=sys.stderr)
        return 2
    if not os.path.exists(a.replay):
        print(f"{prog}: no replay folder or file {a.replay}", file=sys.stderr)
        return 2
    try:
        store = CustomerContextStore(a.redis, a.prefix)
        stats = load_customers_from_replay(a.replay, store)
    except (FileNotFoundError, NotADirectoryError, PermissionError, ValueError, EOFError) as e:
        print(f"{prog}: {redact_url(' '.join(str(e).split()))}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - Redis unreachable, refused, bad URL...
        print(f"{prog}: Redis at {_redact(a.redis)}: {type(e).__name__}: "
              f"{redact_url(' '.join(str(e).split()))}", file=sys.stderr)
        return 1
    print(f"loaded {stats['loaded']} profiles into {_redact(a.redis)} "
          f"({stats['invalid']} invalid skipped)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
