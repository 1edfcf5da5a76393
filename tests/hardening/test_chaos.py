"""Kill -9 chaos in CI (issue 11, item 8): ``fleetstream replay small --recovery``
killed with SIGKILL at 3 seeded points and resumed with ``--resume`` each time ends
with the outputs of an uninterrupted replay: zero records lost, changed or extra
after dedupe by record id, in the final files and in everything the raw files ever
held.  ``benchmarks/chaos.py`` runs the same on metro at 20 points.

The command is the real CLI; only its epoch (snapshot) interval and source batch
are made finer (0.5 s, 200 events) so that a 15,000-event replay snapshots, and
resumes from a snapshot, several times."""

from __future__ import annotations

import os
import shutil
import sys

import orjson
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import chaos

SMALL = os.path.join(ROOT, "replay_data", "small")
KNOBS = {"epoch_interval_s": 0.5, "batch_size": 200}


@pytest.mark.slow
def test_kill_9_at_three_points_loses_changes_and_adds_nothing(tmp_path):
    res = chaos.run_chaos(SMALL, k=3, seed=11, work=str(tmp_path), knobs=KNOBS, progress=False)
    report = res.render()
    assert res.killed == 3, report             # every point was a real kill -9
    assert any(p.resumed_from_bytes > 0 for p in res.points), (
        "no resume started from a snapshot: the test would not exercise recovery\n" + report)
    for view in (res.final, res.delivered):
        assert view["total"]["ref"] > 4000, report
        assert (view["total"]["lost"], view["total"]["changed"], view["total"]["extra"]) == (
            0, 0, 0), report
    assert res.final_duplicate_ids == 0 and res.final_byte_identical, report
    assert res.ok


def test_the_comparison_finds_lost_changed_and_extra_records(tmp_path):
    """The checker itself can fail: a copy of an output folder with one record removed,
    one changed and one added is reported as exactly that, per topic."""
    ref = tmp_path / "ref"
    ref.mkdir()
    recs = [{"decision_id": f"D-{i}", "ts": 100.0 + i, "v": 1} for i in range(5)]
    (ref / "fs.decisions.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in recs))
    (ref / "_drops.jsonl").write_bytes(b'{"seq":1,"reason":"duplicate event_id x"}\n')
    got = tmp_path / "got"
    shutil.copytree(ref, got)
    bad = recs[:1] + [dict(recs[1], ts=999.0)] + recs[2:4] + [{"decision_id": "D-new", "v": 1}]
    (got / "fs.decisions.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in bad))
    a, _, _ = chaos.read_dir(str(ref), raw=False)
    b, dups, _ = chaos.read_dir(str(got), raw=False)
    cmp = chaos.compare(a, b)
    assert cmp["per_topic"]["fs.decisions"] == {"ref": 5, "lost": 1, "changed": 1, "extra": 1}
    assert cmp["total"] == {"ref": 6, "lost": 1, "changed": 1, "extra": 1}
    assert chaos.compare(a, a)["total"] == {"ref": 6, "lost": 0, "changed": 0, "extra": 0}
    # a repeated id is a duplicate (the final files must have none)
    (got / "fs.decisions.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n"
                                                      for r in recs + recs[:2]))
    _, dups, _ = chaos.read_dir(str(got), raw=False)
    assert dups == 2


def test_record_ids_are_the_documented_ones():
    """Each output topic is deduped by the id field docs/topics.md names for it."""
    from fleetstream.contract.outputs import FIELDS, OUTPUT_TOPICS
    for topic in OUTPUT_TOPICS:
        if topic == "fs.dlq":
            continue
        assert chaos.ID_FIELDS[topic] in [f[0] for f in FIELDS[topic]], topic
        assert FIELDS[topic][0][0] == chaos.ID_FIELDS[topic]
    assert set(chaos.ID_FIELDS) | {"fs.dlq"} == set(OUTPUT_TOPICS)
    assert chaos.record_id("fs.dlq", {"source_topic": "fs.orders", "seq": 7,
                                      "stage": "decode"}) == "fs.orders|7|decode"


def test_kill_points_are_seeded_and_spread():
    a = chaos.kill_targets(20, seed=1)
    assert a == chaos.kill_targets(20, seed=1) != chaos.kill_targets(20, seed=2)
    assert a == sorted(a) and 0.02 <= a[0] and a[-1] <= 0.98
    assert all(0.02 + 0.96 * i / 20 <= x <= 0.02 + 0.96 * (i + 1) / 20 for i, x in enumerate(a))
