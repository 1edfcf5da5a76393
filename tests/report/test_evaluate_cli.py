"""``fleetstream evaluate`` refuses clearly: a replay without truth/, a missing
folder, bad seeds or policies give one line on stderr and exit 2, before any work;
every flag has help and a default."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from fleetstream.evaluate import main, parser

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SMALL = os.path.join(ROOT, "replay_data", "small")


@pytest.fixture()
def no_truth(tmp_path) -> str:
    d = tmp_path / "no-truth"
    d.mkdir()
    for f in ("events.jsonl.gz", "manifest.json"):
        shutil.copy(os.path.join(SMALL, f), d / f)
    return str(d)


def _one_line(err: str) -> str:
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_replay_without_truth_is_refused(no_truth, tmp_path, capsys):
    out = tmp_path / "out"
    assert main([no_truth, "--out", str(out), "-q"]) == 2
    cap = capsys.readouterr()
    line = _one_line(cap.err)
    assert "no ground truth" in line and "truth/" in line
    assert "nan" not in cap.out and "None" not in cap.out
    assert not out.exists(), "refused before writing anything"


def test_refusal_through_the_cli(no_truth, tmp_path):
    exe = os.path.join(os.path.dirname(sys.executable), "fleetstream")
    r = subprocess.run(
        [exe, "evaluate", no_truth, "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2, r
    assert "no ground truth" in _one_line(r.stderr)
    assert "nan" not in r.stdout and "None" not in r.stdout


@pytest.mark.parametrize(
    "argv, words",
    [
        (["/nonexistent/replay"], "no replay folder or scenario named"),
        ([SMALL, "/nonexistent/replay"], "does not exist"),
        (["tiny", "--seeds", "1,x"], "--seeds must be comma-separated integers"),
        (["tiny", "--seeds", "3,3"], "repeats a seed"),
        ([SMALL, "--seeds", "1,2"], "--seeds applies to a scenario name"),
        (["tiny", "--policies", "static,clairvoyant"], "unknown policy 'clairvoyant'"),
        (["tiny", "--models", "/nonexistent/models"], "is not a folder"),
        (["tiny", "--seats", "oracle"], "invalid choice"),
        ([], "required"),
    ],
)
def test_mistakes_give_one_line_and_exit_2(argv, words, capsys, tmp_path):
    try:
        rc = main([*argv, "--out", str(tmp_path / "o"), "-q"])
    except SystemExit as e:  # argparse errors
        rc = e.code
    assert rc == 2
    assert words in _one_line(capsys.readouterr().err)
    assert not (tmp_path / "o").exists()


def test_every_flag_has_help_and_a_default():
    for act in parser()._actions:
        if act.dest in ("help", "targets"):
            continue
        assert act.help and "default" in act.help, act.option_strings
