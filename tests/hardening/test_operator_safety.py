"""Operator mistakes (issue #11, "Operator mistakes"; docs/operations.md).

No operator mistake deletes data the program did not write; every mistake is
caught before anything starts and ends with one clear line on stderr and exit
code 2, never a traceback; an unexpected error is one line and exit code 1.
Everything runs in-process through ``fleetstream.cli.main`` (fast)."""

from __future__ import annotations

import os
import shutil

import orjson
import pytest

from fleetstream import replay_cmd
from fleetstream.cli import main
from fleetstream.replay import FILE_TOPICS

MARKER = ".fleetstream-run.json"
INLINE = ("--set", "engine.solver_workers=0")  # same decisions, no solver pool to start


def run(capsys, *argv: str):
    """``(exit code, stdout, stderr)``; an exception escaping ``main`` is a failure
    of the rule (the user would see a traceback)."""
    try:
        rc = main(list(argv))
    except SystemExit as e:  # argparse
        rc = e.code
    except Exception as e:  # noqa: BLE001 - reported as the test's failure
        out, err = capsys.readouterr()
        pytest.fail(f"main raised {type(e).__name__}: {e} (a traceback for the user)")
    out, err = capsys.readouterr()
    return rc, out, err


def one_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{err}"
    assert "Traceback" not in err
    return lines[0]


def tree(d: str) -> dict[str, bytes]:
    out = {}
    for root, _dirs, files in os.walk(d):
        for f in files:
            p = os.path.join(root, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, d)] = fh.read()
    return out


def outputs(d: str) -> dict[str, bytes]:
    return {t: open(os.path.join(d, t + ".jsonl"), "rb").read() for t in FILE_TOPICS}


@pytest.fixture(scope="module")
def earlier(tiny, tmp_path_factory):
    """One finished replay of `tiny` with recovery (into a missing nested --out); tests
    copy it rather than replaying again."""
    base = tmp_path_factory.mktemp("earlier")
    out, db = str(base / "new" / "deeper"), str(base / "db")
    assert main(["replay", tiny.path, "--out", out, "-q", "--recovery", db, *INLINE]) == 0
    return out, db


def copy_of(earlier, tmp_path) -> tuple[str, str]:
    out, db = str(tmp_path / "out"), str(tmp_path / "db")
    shutil.copytree(earlier[0], out)
    shutil.copytree(earlier[1], db)
    return out, db


@pytest.fixture
def precious(tmp_path):
    """A folder of the user's own files, which no replay may delete."""
    d = tmp_path / "precious"
    (d / "sub").mkdir(parents=True)
    (d / "notes.txt").write_text("mine\n")
    (d / "sub" / "data.csv").write_text("a,b\n1,2\n")
    return str(d)


# ------------------------------------------------------------------ --out


def test_a_non_empty_out_of_someone_else_is_refused_and_left_intact(tiny, precious, capsys):
    """Issue #11: `replay --out DIR` deleted DIR recursively before checking anything."""
    before = tree(precious)
    for extra in ([], ["--force"]):
        rc, _, err = run(capsys, "replay", tiny.path, "--out", precious, "-q", *extra)
        assert rc == 2
        line = one_line(err)
        assert "--out" in line and precious in line
        assert tree(precious) == before


def test_a_mistyped_replay_path_leaves_out_alone(tmp_path, precious, capsys):
    before = tree(precious)
    rc, _, err = run(capsys, "replay", str(tmp_path / "no-such-replay"), "--out", precious, "-q")
    assert rc == 2
    assert "no-such-replay" in one_line(err)
    assert tree(precious) == before


def test_a_missing_or_empty_out_is_created_and_marked(earlier, tiny, tmp_path):
    from fleetstream.replay import prepare_replay
    marker = orjson.loads(open(os.path.join(earlier[0], MARKER), "rb").read())
    assert marker["kind"] == "fleetstream replay" and marker["status"] == "complete"
    assert outputs(earlier[0])["fs.decisions"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert prepare_replay(tiny.path, str(empty)).out.action == "create"


def test_force_replaces_only_what_a_replay_writes(earlier, tiny, tmp_path, capsys):
    out, _ = copy_of(earlier, tmp_path)
    first = outputs(out)
    # the user adds files of their own next to the outputs
    with open(os.path.join(out, "my-analysis.txt"), "w") as f:
        f.write("keep me\n")
    with open(os.path.join(out, "raw", "my-extra.jsonl"), "w") as f:
        f.write("{}\n")
    rc, _, err = run(capsys, "replay", tiny.path, "--out", out, "-q")
    assert rc == 2 and "--force" in one_line(err)
    rc, _, _ = run(capsys, "replay", tiny.path, "--out", out, "-q", "--force", *INLINE)
    assert rc == 0
    assert outputs(out) == first
    assert open(os.path.join(out, "my-analysis.txt")).read() == "keep me\n"
    assert os.path.exists(os.path.join(out, "raw", "my-extra.jsonl"))


def test_an_unwritable_out_is_one_line(tiny, tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    rc, _, err = run(capsys, "replay", tiny.path, "--out", str(afile / "out"), "-q")
    assert rc == 2 and "--out" in one_line(err)
    rc, _, err = run(capsys, "replay", tiny.path, "--out", str(afile), "-q")
    assert rc == 2 and "--out" in one_line(err)
    assert afile.read_text() == "x"


# ------------------------------------------------------------------ --recovery / --resume


def test_a_recovery_dir_holding_data_needs_resume(tiny, precious, tmp_path, capsys):
    """Issue #11: `--recovery DIR` without `--resume` deleted DIR."""
    before = tree(precious)
    rc, _, err = run(capsys, "replay", tiny.path, "--out", str(tmp_path / "o"), "-q",
                     "--recovery", precious)
    assert rc == 2
    line = one_line(err)
    assert "--resume" in line and "--force" in line
    assert tree(precious) == before
    assert not os.path.exists(tmp_path / "o"), "out was created before the check"


def test_force_on_a_recovery_dir_clears_only_the_engine_files(earlier, tiny, tmp_path, capsys):
    out, db = copy_of(earlier, tmp_path)
    assert any(f.startswith("part-") for f in os.listdir(db))
    with open(os.path.join(db, "README"), "w") as f:
        f.write("mine")
    rc, _, err = run(capsys, "replay", tiny.path, "--out", out, "-q", "--recovery", db)
    assert rc == 2 and "--resume" in one_line(err)
    rc, _, _ = run(capsys, "replay", tiny.path, "--out", out, "-q", "--recovery", db, "--force",
                   *INLINE)
    assert rc == 0
    assert open(os.path.join(db, "README")).read() == "mine"


@pytest.mark.parametrize("case", ["missing", "empty", "not-recovery", "no-recovery-flag"])
def test_resume_without_a_usable_recovery_dir_is_an_error(earlier, tiny, tmp_path, precious,
                                                          case, capsys):
    """Issue #11: `--resume` with no usable recovery dir silently started fresh."""
    out, _ = copy_of(earlier, tmp_path)
    before = tree(out)
    db = {"missing": str(tmp_path / "nodb"), "empty": str(tmp_path / "emptydb"),
          "not-recovery": precious, "no-recovery-flag": None}[case]
    if case == "empty":
        os.mkdir(db)
    flags = ["--recovery", db] if db else []
    rc, _, err = run(capsys, "replay", tiny.path, "--out", out, "-q", "--resume", *flags)
    assert rc == 2
    assert "--re" in one_line(err)
    assert tree(out) == before


def test_resume_needs_the_out_of_the_run_it_resumes(earlier, tiny, tmp_path, precious, capsys):
    _, db = copy_of(earlier, tmp_path)
    before = tree(precious)
    rc, _, err = run(capsys, "replay", tiny.path, "--out", precious, "-q", "--recovery", db,
                     "--resume")
    assert rc == 2 and "--out" in one_line(err)
    assert tree(precious) == before


# ------------------------------------------------------------------ validation, one line each


def _truncated(tmp_path, tiny) -> str:
    raw = open(os.path.join(tiny.path, "events.jsonl.gz"), "rb").read()
    p = tmp_path / "truncated.jsonl.gz"
    p.write_bytes(raw[: len(raw) * 2 // 3])
    return str(p)


def _corrupt(tmp_path, tiny) -> str:
    raw = bytearray(open(os.path.join(tiny.path, "events.jsonl.gz"), "rb").read())
    mid = len(raw) // 2
    raw[mid:mid + 64] = bytes(64)
    p = tmp_path / "corrupt.jsonl.gz"
    p.write_bytes(bytes(raw))
    return str(p)


def _not_gzip(tmp_path, tiny) -> str:
    p = tmp_path / "plain.jsonl.gz"
    p.write_text('{"topic": "fs.orders", "key": "x", "value": "{}"}\n')
    return str(p)


def _models(tmp_path, kind: str) -> str:
    d = tmp_path / f"models-{kind}"
    d.mkdir()
    if kind == "corrupt-manifest":
        (d / "manifest.json").write_text("{not json")
    elif kind == "list-manifest":
        (d / "manifest.json").write_text("[1, 2]")
    elif kind == "escaping-file":
        from fleetstream.models.store import library_versions
        (d / "manifest.json").write_bytes(orjson.dumps({
            "schema_version": 1, **library_versions(),
            "zones": {"Z1": {"file": "../../etc/passwd", "sha256": "0", "bytes": 1}}}))
    return str(d)


BAD = {
    "missing-folder": lambda t, tiny: ["replay", str(t / "nowhere")],
    "folder-without-events": lambda t, tiny: ["replay", str(t)],
    "truncated-gzip": lambda t, tiny: ["replay", _truncated(t, tiny)],
    "corrupt-gzip": lambda t, tiny: ["replay", _corrupt(t, tiny)],
    "not-gzip": lambda t, tiny: ["replay", _not_gzip(t, tiny)],
    "config-is-a-dir": lambda t, tiny: ["replay", tiny.path, "--config", str(t)],
    "config-missing": lambda t, tiny: ["replay", tiny.path, "--config", str(t / "no.toml")],
    "workers-0": lambda t, tiny: ["replay", tiny.path, "-w", "0"],
    "workers-neg": lambda t, tiny: ["replay", tiny.path, "-w", "-1"],
    "processes-0": lambda t, tiny: ["replay", tiny.path, "-p", "0"],
    "lanes-0": lambda t, tiny: ["replay", tiny.path, "--lanes", "0"],
    "speed-nan": lambda t, tiny: ["replay", tiny.path, "--speed", "nan"],
    "speed-inf": lambda t, tiny: ["replay", tiny.path, "--speed", "inf"],
    "speed-0": lambda t, tiny: ["replay", tiny.path, "--speed", "0"],
    "speed-neg": lambda t, tiny: ["replay", tiny.path, "--speed", "-5"],
    "alerts-neg": lambda t, tiny: ["replay", tiny.path, "--alerts", "-1"],
    "models-missing": lambda t, tiny: ["replay", tiny.path, "--models", str(t / "nomodels")],
    "models-not-snapshot": lambda t, tiny: ["replay", tiny.path, "--models", _models(t, "empty")],
    "models-bad-manifest": lambda t, tiny: ["replay", tiny.path, "--models",
                                            _models(t, "corrupt-manifest")],
    "models-list-manifest": lambda t, tiny: ["replay", tiny.path, "--models",
                                             _models(t, "list-manifest")],
    "models-file-outside": lambda t, tiny: ["replay", tiny.path, "--models",
                                            _models(t, "escaping-file")],
    "set-without-equals": lambda t, tiny: ["replay", tiny.path, "--set", "engine.sweep_interval_s"],
    "set-unknown-key": lambda t, tiny: ["replay", tiny.path, "--set", "engine.bogus=1"],
    "set-bad-value": lambda t, tiny: ["replay", tiny.path, "--set", "engine.interval_z95=-3"],
}
NEEDLE = {"missing-folder": "nowhere", "config-is-a-dir": "--config",
          "config-missing": "--config", "workers-0": "--workers", "workers-neg": "--workers",
          "processes-0": "--processes", "lanes-0": "--lanes", "speed-nan": "--speed",
          "speed-inf": "--speed", "speed-0": "--speed", "speed-neg": "--speed",
          "alerts-neg": "--alerts", "set-without-equals": "--set", "set-unknown-key": "--set",
          "set-bad-value": "interval_z95", "truncated-gzip": "gzip", "corrupt-gzip": "gzip",
          "not-gzip": "gzip"}


@pytest.mark.parametrize("case", sorted(BAD))
def test_every_mistake_is_one_line_exit_2_and_nothing_started(case, tiny, tmp_path, capsys):
    work = tmp_path / "work"
    work.mkdir()
    out = str(tmp_path / "out")
    argv = BAD[case](work, tiny) + ["--out", out, "-q"]
    rc, stdout, err = run(capsys, *argv)
    assert rc == 2, (rc, err)
    line = one_line(err)
    assert line.startswith("fleetstream replay: "), line
    assert NEEDLE.get(case, "--models" if case.startswith("models") else "replay") in line
    assert not os.path.exists(out), "out was created although the input was refused"
    assert "events in" not in stdout


def test_a_read_error_met_mid_run_ends_with_one_line(tiny, tmp_path, capsys, monkeypatch):
    """The input is checked before the start; should it change under the run (the
    check skipped here), the read error still ends with one line, not a traceback,
    and what was decided before it is written."""
    from fleetstream import replay
    monkeypatch.setattr(replay, "check_events_file", lambda path: None)
    bad = _truncated(tmp_path, tiny)
    out = str(tmp_path / "out")
    rc, stdout, err = run(capsys, "replay", bad, "--out", out, "-q", *INLINE)
    assert rc == 2
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("fleetstream replay ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert "gzip" in lines[0] or "compressed" in lines[0]
    for t in FILE_TOPICS:  # consistent partial outputs
        for ln in open(os.path.join(out, t + ".jsonl"), "rb"):
            orjson.loads(ln)


# ------------------------------------------------------------------ last-resort net


def test_an_unexpected_error_is_one_line_and_exit_1(monkeypatch, tiny, tmp_path, capsys):
    def boom(args):
        raise KeyError("the bug")
    monkeypatch.setattr(replay_cmd, "cmd_replay", boom)
    monkeypatch.delenv("FLEETSTREAM_DEBUG", raising=False)
    rc, _, err = run(capsys, "replay", tiny.path, "--out", str(tmp_path / "o"))
    assert rc == 1
    line = one_line(err)
    assert line.startswith("fleetstream replay: internal error: KeyError: ")
    assert "FLEETSTREAM_DEBUG=1" in line
    monkeypatch.setenv("FLEETSTREAM_DEBUG", "1")
    with pytest.raises(KeyError):
        main(["replay", tiny.path, "--out", str(tmp_path / "o")])


# ------------------------------------------------------------------ simulate, plan, models


def test_simulate_honours_every_autonomy_setting(tmp_path, capsys):
    """Issue #12: `fleetstream simulate` silently reset autonomy_redispatch=propose."""
    out = str(tmp_path / "sim")
    rc, _, err = run(capsys, "simulate", "--scenario", "tiny", "--out", out, "-q",
                     "--set", "engine.autonomy_redispatch=propose",
                     "--set", "engine.autonomy_reroute=off")
    assert rc == 0, err
    m = orjson.loads(open(os.path.join(out, "manifest.json"), "rb").read())
    assert m["engine_settings"]["autonomy_redispatch"] == "propose"
    assert m["engine_settings"]["autonomy_reroute"] == "off"


@pytest.mark.parametrize("case", ["out-under-a-file", "out-of-someone-else", "config-dir"])
def test_simulate_mistakes_are_one_line_before_the_simulation(case, tmp_path, precious, capsys,
                                                              monkeypatch):
    import fleetstream.sim.record as rec
    monkeypatch.setattr(rec, "Simulation", None)  # the simulation must not even start
    afile = tmp_path / "afile"
    afile.write_text("x")
    before = tree(precious)
    argv = {"out-under-a-file": ["--out", str(afile / "sim")],
            "out-of-someone-else": ["--out", precious],
            "config-dir": ["--out", str(tmp_path / "s"), "--config", str(tmp_path)]}[case]
    rc, _, err = run(capsys, "simulate", "--scenario", "tiny", "-q", *argv)
    assert rc == 2
    assert one_line(err).startswith("fleetstream simulate: ")
    assert tree(precious) == before


@pytest.mark.parametrize("argv,needle", [
    (["plan", "C101", "--iterations", "10", "--out", "{afile}/x.json", "-q"], "--out"),
    (["plan", "C101", "--time-limit", "nan", "--backend", "ortools", "-q"], "--time-limit"),
    (["models", "info", "{models_list}"], "manifest"),
    (["models", "export", "{tiny}", "--out", "{tmp}/m", "--config", "{tmp}"], "--config"),
    (["models", "export", "{tiny}", "--out", "{afile}/m"], "--out"),
    (["models", "export", "{tmp}/nothing", "--out", "{tmp}/m"], "nothing"),
])
def test_plan_and_models_mistakes_are_one_line(argv, needle, tiny, tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    subs = {"afile": str(afile), "tmp": str(tmp_path), "tiny": tiny.path,
            "models_list": _models(tmp_path, "list-manifest")}
    argv = [a.format(**subs) for a in argv]
    rc, _, err = run(capsys, *argv)
    assert rc == 2, err
    assert needle in one_line(err)


class _StopAfter:
    """A stop request that comes after ``n`` looks (a Ctrl-C mid-run, in-process)."""

    def __init__(self, n: int):
        self.n = n

    def is_set(self) -> bool:
        self.n -= 1
        return self.n < 0


def test_a_clean_stop_then_resume_writes_the_uninterrupted_outputs(earlier, tiny, tmp_path):
    """The first Ctrl-C stops the input (here after a few batches of 100 lines); the outputs
    are consistent and marked interrupted; `--resume` with the same --recovery then
    ends with the files of an uninterrupted run, byte for byte."""
    from fleetstream.contract.settings import EngineSettings
    from fleetstream.replay import run_replay
    out, db = str(tmp_path / "out"), str(tmp_path / "db")
    st = EngineSettings(solver_workers=0)
    s = run_replay(tiny.path, out, st, recovery_dir=db, batch_size=100, stop=_StopAfter(8))
    assert s.interrupted and 0 < s.events_in < s.events_total and "INTERRUPTED" in s.render()
    assert orjson.loads(open(os.path.join(out, MARKER), "rb").read())["status"] == "interrupted"
    for t in FILE_TOPICS:
        for line in open(os.path.join(out, t + ".jsonl"), "rb"):
            orjson.loads(line)
    s = run_replay(tiny.path, out, st, recovery_dir=db, batch_size=100, fresh=False)
    assert not s.interrupted
    assert outputs(out) == outputs(earlier[0])
