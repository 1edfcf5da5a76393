"""The customer context store (CustomerContextStore, InProcessContextStore)
against a real redis-server: the local cache, outcome counters, outages, and the
in-process store giving the same answers as Redis.
"""

from __future__ import annotations

import random

import pytest

from fleetstream.connectors.files import read_replay
from fleetstream.connectors.redis_store import (CustomerContextStore, InProcessContextStore,
                                                load_customers_from_replay, profiles_from_replay)


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
