"""The local Bytewax cluster of ``fleetstream replay -p N``: starting, watching and stopping it.

This module holds how a replay runs as several processes on 127.0.0.1:
:func:`_run_cluster` starts the processes (``python -m fleetstream.replay
--proc``, each in its own process group), forwards a Ctrl-C to them by pid, reaps
them and collects their CPU time and what their input saw; the start-up helpers
pick free ports (:func:`_free_ports`), let process ``i`` wait until processes
``0..i-1`` listen (:func:`_wait_for_lower`, :func:`_listening_ports`) and have a
process die with its parent (:func:`_die_with_parent`).  What one process runs
(the flow) stays in fleetstream/replay.py.
"""

from __future__ import annotations

import os
import pickle
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import orjson

from fleetstream import interrupt
from fleetstream.run_dirs import OperatorError


def _free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _run_cluster(spec: dict, processes: int,
                 stop: threading.Event) -> tuple[list[float], dict]:
    """Start ``processes`` Bytewax processes (this interpreter, ``--proc``) and wait
    for all; if one fails, stop the others and raise.  Returns each one's CPU seconds
    and what the replay source reported (where it stopped, a read error).
    ``stop``: the replay's stop request (set by the first Ctrl-C), forwarded to them.

    The processes run in their own process group, so a Ctrl-C at the terminal reaches
    this process only; it forwards each one to them by pid (the first: they stop
    reading and finish; the second: they stop at once)."""
    addresses = [f"127.0.0.1:{p}" for p in _free_ports(processes)]
    running: dict[int, int] = {}  # pid -> process index
    cpu = [0.0] * processes
    status_dir = tempfile.mkdtemp(prefix="fleetstream-replay-")
    # --metrics-port: each process exports its metrics there, this one serves them all
    from fleetstream.observe import runtime as observe
    served = getattr(observe.active(), "collector", None)
    if served is not None:
        served.attach(status_dir)
    spec = {**spec, "status_dir": status_dir, "parent_pid": os.getpid(),
            "observe": {"log": dict(observe.LOG_CONFIG), "export": served is not None}}

    def forward_and_reap() -> None:  # second Ctrl-C: children stop at once, by pid
        for pid in list(running):
            try:
                os.kill(pid, signal.SIGINT)
            except OSError:
                pass
        deadline = time.monotonic() + 2.0
        while running and time.monotonic() < deadline:
            for pid in list(running):
                try:
                    if os.waitpid(pid, os.WNOHANG)[0]:
                        running.pop(pid, None)
                except ChildProcessError:
                    running.pop(pid, None)
            time.sleep(0.02)
        for pid in list(running):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    unregister = interrupt.on_hard_stop(forward_and_reap)
    forwarded = False
    try:
        for i in range(processes):
            p = subprocess.Popen([sys.executable, "-m", "fleetstream.replay", "--proc"],
                                 stdin=subprocess.PIPE, process_group=0)
            assert p.stdin is not None
            p.stdin.write(pickle.dumps((spec, addresses, i)))
            p.stdin.close()
            running[p.pid] = i
        while running:
            if stop.is_set() and not forwarded:
                forwarded = True
                for pid in list(running):
                    os.kill(pid, signal.SIGINT)
            for pid, i in list(running.items()):
                done, status, ru = os.wait4(pid, os.WNOHANG)
                if done == 0:
                    continue
                del running[pid]
                cpu[i] = ru.ru_utime + ru.ru_stime
                code = os.waitstatus_to_exitcode(status)
                if code == 2 and os.path.exists(os.path.join(status_dir, f"error-{i}.txt")):
                    with open(os.path.join(status_dir, f"error-{i}.txt")) as f:
                        raise OperatorError(f.read().strip())
                if code != 0:
                    raise RuntimeError(f"replay process {i} of {processes} exited with "
                                       f"code {code}")
            time.sleep(0.05)
        report: dict = {}
        for i in range(processes):
            p = os.path.join(status_dir, f"input-{i}.json")
            if os.path.exists(p):
                with open(p, "rb") as f:
                    got = orjson.loads(f.read())
                if any(v is not None for v in got.values()):
                    report = got
        return cpu, report
    finally:
        unregister()
        for pid in running:  # only our own children, by pid
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        if served is not None:
            served.freeze()  # the endpoint keeps the final values (--metrics-linger)
        shutil.rmtree(status_dir, ignore_errors=True)  # our own temporary folder


def _listening_ports() -> set[int] | None:
    """Local TCP ports in LISTEN state (Linux /proc), or None where unknown."""
    ports: set[int] = set()
    try:
        for name in ("/proc/net/tcp", "/proc/net/tcp6"):
            if os.path.exists(name):
                with open(name) as f:
                    for line in f.readlines()[1:]:
                        cols = line.split()
                        if len(cols) > 3 and cols[3] == "0A":
                            ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    except (OSError, ValueError):
        return None
    return ports


def _wait_for_lower(addresses: list[str], proc_id: int, timeout_s: float = 60.0) -> None:
    """Process i connects to processes 0..i-1: wait until they listen, so that Bytewax
    does not start with a failed connection and a retry delay (start-up only)."""
    want = {int(a.rsplit(":", 1)[1]) for a in addresses[:proc_id]}
    deadline = time.monotonic() + timeout_s
    while want and time.monotonic() < deadline:
        ports = _listening_ports()
        if ports is None or want <= ports:
            return
        time.sleep(0.02)


def _die_with_parent(parent_pid: int) -> None:
    """This process runs in its own process group (a terminal's Ctrl-C reaches only the
    parent): have the kernel stop it when the parent dies, as a kill of the parent's
    group did (Linux ``PR_SET_PDEATHSIG``; elsewhere a no-op)."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent_pid:  # the parent died before the call
        os._exit(1)
