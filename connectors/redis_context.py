"""Customer context: profiles and outcome counters for downstream apps (docs/redis.md).

:class:`CustomerContextStore` keeps them in Redis (``{prefix}c:{customer_id}``),
read through a local LRU cache; :class:`InProcessContextStore` keeps them in a
dict (the embedded default and the reference for tests, same answers).  The
zone engine does **not** read them: its customer context comes from
``customer_profile`` events on ``fs.customers``, so replays stay deterministic.
This module also loads the profiles of a replay folder
(:func:`load_customers_from_replay`) and holds the ``fleetstream customers``
command (:func:`main`).

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
import logging
import sys
import time
from collections import OrderedDict
from typing import Any, Callable, Iterable, Iterator

import orjson

from fleetstream.connectors.redaction import redact_url
from fleetstream.connectors.redis_records import (OUTCOME_FIELDS, PROFILE_TEXT, _client,
                                                  _is_outage, _num, _redact, key_part)
from fleetstream.contract.events import (FAIL_REASONS, MAX_ID_LEN, MAX_TEXT_LEN, TOPIC_CUSTOMERS,
                                ValidationError, decode_event)

log = logging.getLogger("fleetstream.redis")


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
