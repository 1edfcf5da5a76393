"""Ctrl-C during a replay (issue #11: "One Ctrl-C is ignored; three give a traceback
and no final files"; docs/operations.md).

The command runs in a subprocess in its own session; SIGINT goes to the whole
process group, as a terminal's Ctrl-C does (the solver pool included).  The replay
is paced (``--speed``) so that it is still reading when the signal comes; a paced
replay notices a stop request when its next batch is due (pacing sleeps in Bytewax)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import orjson
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SMALL = os.path.join(ROOT, "replay_data", "small")
with open(os.path.join(SMALL, "manifest.json"), "rb") as _f:
    TOTAL = orjson.loads(_f.read())["sizes"]["events"]   # every event of the recording

pytestmark = pytest.mark.slow


def start(tmp_path, *extra: str, speed: str = "1000") -> tuple[subprocess.Popen, str, str]:
    out = str(tmp_path / "out")
    err_path = str(tmp_path / "stderr.txt")
    with open(err_path, "wb") as err:
        p = subprocess.Popen([sys.executable, "-m", "fleetstream.cli", "replay", SMALL,
                              "--out", out, "--speed", speed, *extra],
                             stdout=subprocess.PIPE, stderr=err, start_new_session=True,
                             cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:  # running: the first events were read
        if "read " in open(err_path).read():
            break
        assert p.poll() is None, open(err_path).read()
        time.sleep(0.1)
    else:
        p.kill()
        pytest.fail("the replay did not start reading")
    return p, out, err_path


def ctrl_c(p: subprocess.Popen) -> None:
    os.killpg(p.pid, signal.SIGINT)  # the whole group, as a terminal does


def session_processes(sid: int) -> list[int]:
    """Processes still alive in the command's session (its children included)."""
    left = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":  # field 6 of stat: session id
            left.append(int(name))
    return left


def assert_valid_outputs(out: str) -> None:
    for name in os.listdir(out):
        if name.endswith(".jsonl"):
            with open(os.path.join(out, name), "rb") as f:
                for line in f:
                    orjson.loads(line)


def finish(p: subprocess.Popen, timeout: float) -> tuple[int, str]:
    try:
        stdout, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        pytest.fail("the replay did not stop after Ctrl-C")
    return p.returncode, stdout.decode()


def wait_gone(sid: int, seconds: float = 5.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while session_processes(sid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return session_processes(sid)


@pytest.mark.parametrize("procs", ["1", "2"])
def test_one_ctrl_c_stops_cleanly_with_consistent_outputs(tmp_path, procs):
    p, out, err_path = start(tmp_path, "-p", procs)
    ctrl_c(p)
    rc, stdout = finish(p, 90)
    err = open(err_path).read()
    assert rc == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert "INTERRUPTED" in stdout, stdout
    marker = orjson.loads(open(os.path.join(out, ".fleetstream-run.json"), "rb").read())
    assert marker["status"] == "interrupted"
    assert 0 < marker["events_read"] < TOTAL
    names = set(os.listdir(out))
    assert {"fs.decisions.jsonl", "fs.eta.jsonl", "fs.alerts.jsonl", "fs.dlq.jsonl"} <= names
    assert_valid_outputs(out)
    alerts = [orjson.loads(ln) for ln in open(os.path.join(out, "fs.alerts.jsonl"), "rb")]
    assert not [a for a in alerts if a["kind"] == "engine_error"], \
        "the Ctrl-C reached the solver pool and broke it"
    assert wait_gone(p.pid) == [], "child processes left running"


def test_a_second_ctrl_c_stops_at_once(tmp_path):
    """Paced slowly (100 x event time: the next batch is due tens of seconds later), the
    clean stop of the first Ctrl-C is still pending when the second comes."""
    p, out, err_path = start(tmp_path, speed="100")
    ctrl_c(p)
    time.sleep(0.5)
    ctrl_c(p)
    rc, _ = finish(p, 15)
    err = open(err_path).read()
    assert rc == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert "stopped at once" in err
    assert wait_gone(p.pid) == [], "child processes left running"
    assert_valid_outputs(out)
    marker = orjson.loads(open(os.path.join(out, ".fleetstream-run.json"), "rb").read())
    assert marker["status"] == "stopped at once"


def test_ctrl_c_during_simulate_is_one_line_and_130(tmp_path):
    """Other long commands stop at the first Ctrl-C with one line; the terminal's
    SIGINT does not reach their solver pool (whose processes printed tracebacks)."""
    err_path = str(tmp_path / "stderr.txt")
    with open(err_path, "wb") as err:
        p = subprocess.Popen([sys.executable, "-m", "fleetstream.cli", "simulate", "--scenario",
                              "small", "--out", str(tmp_path / "sim")],
                             stdout=subprocess.PIPE, stderr=err, start_new_session=True,
                             cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not re.search(r"decisions=[1-9]",
                                                        open(err_path).read()):
        assert p.poll() is None, open(err_path).read()
        time.sleep(0.1)
    ctrl_c(p)
    rc, _ = finish(p, 60)
    err = open(err_path).read()
    assert rc == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert err.strip().splitlines()[-1] == "fleetstream simulate: interrupted"
    assert wait_gone(p.pid) == [], "child processes left running"
