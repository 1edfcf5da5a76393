"""``fleetstream console`` as an operator meets it: one line and exit 2 for a
mistake, a busy port refused before loading, Ctrl-C stops it at once (open event
streams included) with one line and exit 130, no traceback."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

from conftest import ROOT
from test_console_roads import _andorra_day

from fleetstream.console.headless import ConsoleProcess


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fleetstream.cli", "console", *args],
                          check=False, capture_output=True, text=True, timeout=60, cwd=ROOT,
                          env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"})


def test_mistakes_are_one_line_and_exit_2(tmp_path):
    for args, says in ((("--replay", str(tmp_path / "nope")), "no such folder"),
                       (("--replay", str(tmp_path)), "no fs.decisions.jsonl"),
                       (("--replay", str(tmp_path), "--port", "70000"), "--port 70000"),
                       ((), "give --replay OUT_DIR, or --redis URL")):
        r = _run(*args)
        assert r.returncode == 2, (args, r.stderr)
        assert says in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        r = _run("--replay", _andorra_day(tmp_path), "--port", str(s.getsockname()[1]))
    assert r.returncode == 2 and "cannot listen on 127.0.0.1" in r.stderr, r.stderr


def test_ctrl_c_stops_at_once_with_streams_open(tmp_path):
    log = tmp_path / "console.log"
    c = ConsoleProcess("--replay", _andorra_day(tmp_path), log_path=str(log))
    got = []

    def listen():
        with urllib.request.urlopen(c.url + "api/events", timeout=30) as r:
            got.append(r.readline())
            r.read()  # until the server ends the stream
    t = threading.Thread(target=listen, daemon=True)
    t.start()
    time.sleep(1.0)
    t0 = time.monotonic()
    c.proc.send_signal(signal.SIGINT)
    rc = c.proc.wait(15)
    took = time.monotonic() - t0
    c.stop()
    out = log.read_text()
    assert got, "the event stream never opened"
    assert rc == 130 and took < 3.0, (rc, took, out)
    assert "Traceback" not in out and "ERROR" not in out, out
