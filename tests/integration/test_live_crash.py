"""Crashes of a live engine (SIGKILL of a real ``fleetstream run`` process) against
the real broker: with ``--recovery`` it resumes from its last snapshot and loses
no decision; outputs after that snapshot come again, with the same ids, so a
consumer that dedupes on ``decision_id`` sees exactly the uninterrupted run."""

from __future__ import annotations

import os
import time

import pytest
from live_helpers import Engine, caused_by, consume_all, ids_on, read_jsonl, wait_until

from fleetstream.connectors.files import read_replay
from fleetstream.connectors.kafka import ensure_topics, publish
from fleetstream.replay import run_replay

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def reference(tiny, tmp_path_factory) -> dict[str, list[dict]]:
    """The file replay of the same recording: what an uninterrupted run decides."""
    out = str(tmp_path_factory.mktemp("ref"))
    run_replay(tiny.path, out)
    return {t: read_jsonl(os.path.join(out, t + ".jsonl")) for t in ("fs.decisions", "fs.eta")}


def _dedupe(records: list[dict], id_field: str) -> dict[str, dict]:
    by_id: dict[str, dict] = {}
    for r in records:
        rid = r[id_field]
        if rid in by_id:
            assert by_id[rid] == r, f"two different records share {id_field} {rid}"
        by_id[rid] = r
    return by_id


def test_kill_before_any_snapshot_redelivers_with_the_same_decision_ids(
        tiny, reference, kafka_bootstrap, prefix, tmp_path):
    """At-least-once: the engine is killed after it published its decisions but
    before any snapshot (epochs of 10 min).  The restart resumes from the start
    of the input and publishes them again: the topic then holds duplicates, each
    byte-identical to its first copy, and deduping on decision_id gives exactly
    the decisions of the file replay."""
    ensure_topics(kafka_bootstrap, prefix, partitions=1)
    publish(kafka_bootstrap, read_replay(tiny.path), prefix)
    want = reference["fs.decisions"]
    assert want, "the tiny scenario must make decisions"
    db = str(tmp_path / "recovery")
    log = str(tmp_path / "engine.log")
    eng = Engine(kafka_bootstrap, prefix, log, "--recovery", db, "--epoch-interval", "600")
    try:
        wait_until(lambda: len(consume_all(kafka_bootstrap, prefix + "fs.decisions")) >= len(want),
                   120, "the first run's decisions on fs.decisions", every_s=0.5)
        assert eng.alive(), eng.output()
    finally:
        eng.kill()
    first = consume_all(kafka_bootstrap, prefix + "fs.decisions")
    # Client properties pass through from the settings; secret ones are never logged.
    secret = "pw-" + os.urandom(6).hex()
    client = '{"client.id": "it-engine", "sasl.password": "%s"}' % secret
    eng2 = Engine(kafka_bootstrap, prefix, log, "--recovery", db, "--stop-at-end",
                  "--set", f"kafka.config={client}")
    assert eng2.wait(180) == 0, eng2.output()
    assert "it-engine" in eng2.output() and secret not in eng2.output()
    live = consume_all(kafka_bootstrap, prefix + "fs.decisions")
    # The restart must redeliver: no snapshot covered the first run's outputs.
    assert len(live) > len(first) >= len(want)
    by_id = _dedupe(live, "decision_id")
    assert len(by_id) < len(live)  # duplicates really are on the topic ...
    assert sorted(by_id) == sorted(d["decision_id"] for d in want)  # ... and dedupe removes them
    assert all(by_id[d["decision_id"]] == d for d in want)
    etas = _dedupe(consume_all(kafka_bootstrap, prefix + "fs.eta"), "eta_id")
    assert sorted(etas) == sorted(e["eta_id"] for e in reference["fs.eta"])


def test_kill_mid_stream_resumes_from_the_snapshot_without_losing_decisions(
        tiny, reference, kafka_bootstrap, prefix, tmp_path):
    """The engine tails the first half of the input, snapshots (epochs of 0.3 s),
    is killed; the second half is published while it is down; the restart with
    the same recovery dir resumes from the snapshotted offsets and state: every
    decision of an uninterrupted run is on the topic, duplicates (if any) are
    identical, and the first half was not processed a second time."""
    ensure_topics(kafka_bootstrap, prefix, partitions=1)
    msgs = list(read_replay(tiny.path))
    half = len(msgs) // 2
    publish(kafka_bootstrap, msgs[:half], prefix)
    db = str(tmp_path / "recovery")
    log = str(tmp_path / "engine.log")
    eng = Engine(kafka_bootstrap, prefix, log, "--recovery", db, "--epoch-interval", "0.3")
    try:
        first = caused_by(reference["fs.eta"], msgs[:half])
        assert first
        wait_until(lambda: first <= ids_on(kafka_bootstrap, prefix + "fs.eta", "eta_id"), 120,
                   "the first half's outputs", every_s=0.5)
        time.sleep(1.5)  # several epochs: a snapshot covers the first half
        assert eng.alive(), eng.output()
    finally:
        eng.kill()
    first_etas = len(consume_all(kafka_bootstrap, prefix + "fs.eta"))
    publish(kafka_bootstrap, msgs[half:], prefix)
    eng2 = Engine(kafka_bootstrap, prefix, log, "--recovery", db, "--epoch-interval", "0.3",
                  "--stop-at-end")
    assert eng2.wait(180) == 0, eng2.output()
    decisions = _dedupe(consume_all(kafka_bootstrap, prefix + "fs.decisions"), "decision_id")
    want = reference["fs.decisions"]
    assert sorted(decisions) == sorted(d["decision_id"] for d in want)
    assert all(decisions[d["decision_id"]] == d for d in want)
    etas = consume_all(kafka_bootstrap, prefix + "fs.eta")
    assert sorted(_dedupe(etas, "eta_id")) == sorted(e["eta_id"] for e in reference["fs.eta"])
    # Resumed, not restarted: a restart from scratch would have repeated every
    # ETA of the first half.
    assert len(etas) < len(reference["fs.eta"]) + first_etas
