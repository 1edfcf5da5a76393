"""Replay mode's answers are re-playable: approvals written by the console into
approvals.jsonl, merged into the replay input (``fleetstream console merge``),
make the engine apply the approved proposal and record the rejection."""

from __future__ import annotations

import os
import subprocess
import sys

import orjson
import pytest
from conftest import ROOT
from fleetstream.connectors.files import read_replay, write_replay
from test_console_live import _first_plan_prefix

from fleetstream.console.replay_source import ReplaySource

pytestmark = pytest.mark.slow


def _replay(src: str, out: str) -> list[dict]:
    r = subprocess.run([sys.executable, "-m", "fleetstream.cli", "replay", src, "--out", out, "-q",
                        "--set", "engine.autonomy_assign=propose"],
                       check=False, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    with open(os.path.join(out, "fs.decisions.jsonl"), "rb") as f:
        return [orjson.loads(x) for x in f if x.strip()]


def test_answers_merged_into_the_replay_are_obeyed(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    write_replay(str(src / "events.jsonl.gz"), _first_plan_prefix())
    first = _replay(str(src), str(tmp_path / "out1"))
    props = [d for d in first if d["status"] == "proposed"]
    assert len(props) >= 2
    assert not any(d.get("refers_to") for d in first if d["status"] == "applied")
    console = ReplaySource(str(tmp_path / "out1"))
    yes, no = props[0], props[1]
    console.answer(yes["decision_id"], True, "tester", None, yes["ts"] + 30)
    console.answer(no["decision_id"], False, "tester", "driver sick", no["ts"] + 30)
    merged = tmp_path / "merged"
    r = subprocess.run([sys.executable, "-m", "fleetstream.cli", "console", "merge", str(src),
                        str(tmp_path / "out1" / "approvals.jsonl"), "--out", str(merged)],
                       check=False, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    n_in = sum(1 for _ in read_replay(str(src)))
    assert sum(1 for _ in read_replay(str(merged))) == n_in + 2
    second = _replay(str(merged), str(tmp_path / "out2"))
    answers = {d["refers_to"]: d for d in second if d.get("refers_to")}
    assert answers[yes["decision_id"]]["status"] == "applied"
    assert answers[yes["decision_id"]]["explanation"]["approved_by"] == "tester"
    assert answers[no["decision_id"]]["status"] == "rejected"
    # everything before the first answer is the same decision for decision
    t_ans = min(answers[yes["decision_id"]]["ts"], answers[no["decision_id"]]["ts"])
    assert [d for d in first if d["ts"] < t_ans] == [d for d in second if d["ts"] < t_ans]
