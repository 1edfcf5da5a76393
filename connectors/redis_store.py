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

The customer context store lives in connectors/redis_context.py and the record
checks shared by both in connectors/redis_records.py; their public names are
re-exported here.
"""

from __future__ import annotations

import hashlib
import logging
import sys
import threading
import time
from collections import deque
from typing import Any, Callable, Iterable

import orjson

from fleetstream.connectors.redis_context import (  # noqa: F401 - re-exported
    OUTCOME_LUA, ContextStore, CustomerContextStore, InProcessContextStore,
    load_customers_from_replay, main, profiles_from_replay)
from fleetstream.connectors.redis_records import (  # noqa: F401 - re-exported
    ORDER_STATUSES, OUTCOME_FIELDS, OUTCOMES, PROFILE_TEXT, VEHICLE_STATUSES, InvalidRecord,
    _client, _is_outage, _num, _op, _redact, key_part, route_json)
from fleetstream.connectors.redis_script import APPLY_LUA  # the read-model script
from fleetstream.contract.outputs import TOPIC_OUTCOMES  # noqa: F401 - re-exported

log = logging.getLogger("fleetstream.redis")


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
            if not self.connected:   # before the backlog shrinks: metrics never read
                # "backlog empty" while still "disconnected" (another thread polls them)
                log.warning("redis read model: Redis is back after %.1f s; flushing the backlog "
                            "(%d records dropped during the outage so far)",
                            self.monotonic() - self.down_since, self.counts["dropped"])
                self.connected = True
                self.failures_in_row = 0
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


if __name__ == "__main__":
    sys.exit(main())
