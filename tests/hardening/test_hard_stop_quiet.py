"""Stopping at once (a second Ctrl-C) is one line and exit 130 even when a thread fails
meanwhile: killing the solver pool's workers can make the pool's manager thread raise,
and its traceback used to print over the line (seen once in CI on
test_a_second_ctrl_c_stops_at_once)."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import threading
from fleetstream import interrupt

def boom():
    t = threading.Thread(target=lambda: 1 / 0)
    t.start()
    t.join()

interrupt.on_hard_stop(boom)
interrupt.CtrlC("fleetstream test").hard_stop()
"""


def test_a_thread_failing_while_stopping_at_once_prints_no_traceback():
    r = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=60)
    assert r.returncode == 130, r.stderr
    assert "Traceback" not in r.stderr and "ZeroDivisionError" not in r.stderr, r.stderr
    assert r.stderr.strip() == "fleetstream test: stopped at once: the outputs are incomplete"
