"""Run the dataflow over a replay folder and write one JSON Lines file per topic."""

from __future__ import annotations

import dataclasses
import os
import pickle
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any

import orjson
import bytewax.operators as op
from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.testing import cluster_main, run_main

from fleetstream.connectors.files import OutputFiles, ReplaySource, count_lines, finalize
from fleetstream.contract.outputs import OUTPUT_TOPICS
from fleetstream.contract.settings import EngineSettings, LimitsSettings
from fleetstream.operators import jobs
from fleetstream.wiring import build_zone_engine, restore_zone_engine
from fleetstream.flows.engine import DROPS, build_flow

FILE_TOPICS = list(OUTPUT_TOPICS) + [DROPS]


def _lines(chunk: list) -> list[tuple[str, str]]:
    """A chunk of outputs -> one ``(topic, lines)`` per topic (the raw file format)."""
    by_topic: dict[str, list[str]] = {}
    for topic, prefix, rec in chunk:
        by_topic.setdefault(topic, []).append(prefix + "\t" + orjson.dumps(rec).decode("utf-8"))
    return [(t, "\n".join(lines)) for t, lines in by_topic.items()]


@dataclass
class ReplaySummary:
    events_in: int
    seconds: float
    counts: dict[str, int]
    decisions: dict[str, int] = field(default_factory=dict)
    alerts: dict[str, int] = field(default_factory=dict)
    drops: dict[str, int] = field(default_factory=dict)
    process_cpu_s: list[float] = field(default_factory=list)
    """CPU seconds (user + system) of each Bytewax process of the run."""
    solver_jobs: dict[str, float] = field(default_factory=dict)
    """Solver-job counters of the run (one process): submitted, applied, waits (results
    not ready at their due event time) and wait_s (wall seconds the event path waited)."""

    @property
    def events_per_s(self) -> float:
        return self.events_in / self.seconds if self.seconds > 0 else 0.0

    def render(self) -> str:
        lines = [f"events in      {self.events_in:>10,}   ({self.events_per_s:,.0f} events/s, "
                 f"{self.seconds:.1f} s)"]
        for t in OUTPUT_TOPICS:
            lines.append(f"{t:<15}{self.counts.get(t, 0):>10,}")
        if self.decisions:
            lines.append("decisions by kind/status: " + ", ".join(
                f"{k} {v:,}" for k, v in sorted(self.decisions.items())))
        if self.alerts:
            lines.append("alerts by kind: " + ", ".join(
                f"{k} {v:,}" for k, v in sorted(self.alerts.items())))
        if self.drops:
            lines.append("dropped (not errors): " + ", ".join(
                f"{k} {v:,}" for k, v in sorted(self.drops.items())))
        if self.solver_jobs.get("submitted"):
            j = self.solver_jobs
            lines.append(f"solver jobs: {int(j['submitted']):,} solved off the event path, "
                         f"{int(j['waits']):,} waited for at their due event time "
                         f"({j['wait_s']:.1f} s of waiting)")
        return "\n".join(lines)


def make_flow(replay: str, out_dir: str, settings: EngineSettings, speed: float | None = None,
              progress: bool = False, total: int | None = None, batch_size: int = 2000,
              models_dir: str | None = None, crash_at: int | None = None, lanes: int = 1,
              limits: LimitsSettings | None = None):
    source = ReplaySource(replay, batch_size=batch_size, speed=speed, progress=progress,
                          total=total, crash_at=crash_at, chunked=True)

    def attach(chunks: Any) -> None:
        op.output("files", op.flat_map("to_lines", chunks, _lines),
                  OutputFiles(out_dir, FILE_TOPICS))

    return build_flow("fleetstream_replay", source, attach,
                      partial(build_zone_engine, settings=settings, models_dir=models_dir),
                      partial(restore_zone_engine, settings=settings), lanes=lanes,
                      limits=limits, chunked_input=True, chunked_outputs=True)


def run_replay(replay: str, out_dir: str, settings: EngineSettings | None = None,
               workers: int = 1, recovery_dir: str | None = None, speed: float | None = None,
               progress: bool = False, fresh: bool = True,
               epoch_interval_s: float = 5.0, models_dir: str | None = None,
               batch_size: int = 2000, crash_at: int | None = None, processes: int = 1,
               lanes: int = 1, limits: LimitsSettings | None = None) -> ReplaySummary:
    """Replay ``replay`` through the flow into ``out_dir``.

    With ``recovery_dir`` the run snapshots its state there; calling again with
    ``fresh=False`` after an abort resumes where the last snapshot left off.
    ``processes`` > 1 runs the flow as a Bytewax cluster of that many processes of
    ``workers`` workers each (subprocesses on 127.0.0.1); the output files are the
    same bytes for any ``workers`` and ``processes``.  ``lanes`` > 1 spreads decoding
    and tracking over lanes, a lane per zone group (flows/lanes.py): the same bytes
    for any workers and processes at that lane count, and the bytes of one lane
    unless the input needs the one-lane watermark or dedupe across zone groups.
    """
    settings = settings or EngineSettings()
    if processes < 1 or workers < 1 or lanes < 1:
        raise ValueError("processes, workers and lanes must be >= 1")
    if processes > 1 and settings.solver_workers == -1:
        # Every process has its own solver pool: share the cores among them.
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        settings = dataclasses.replace(settings, solver_workers=max(1, cores // processes))
    if fresh and os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    total = count_lines(replay) if progress else None
    if recovery_dir:
        if fresh and os.path.isdir(recovery_dir):
            shutil.rmtree(recovery_dir)
        if not os.path.isdir(recovery_dir):
            os.makedirs(recovery_dir)
            init_db_dir(recovery_dir, processes * workers)
    spec = dict(replay=replay, out_dir=out_dir, settings=settings, speed=speed,
                progress=progress, total=total, batch_size=batch_size, models_dir=models_dir,
                crash_at=crash_at, lanes=lanes, workers=workers, recovery_dir=recovery_dir,
                epoch_interval_s=epoch_interval_s, limits=limits)
    t0 = time.perf_counter()
    jobs0 = dict(jobs.METRICS)
    if processes == 1:
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        _run_process(spec, [], 0)
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = [ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime]
    else:
        cpu = _run_cluster(spec, processes)
    secs = time.perf_counter() - t0
    counts = finalize(out_dir, FILE_TOPICS)
    summary = summarize(replay, out_dir, counts, secs, total)
    summary.process_cpu_s = cpu
    if processes == 1:
        summary.solver_jobs = {k: jobs.METRICS[k] - jobs0.get(k, 0) for k in jobs.METRICS}
    return summary


def _run_process(spec: dict, addresses: list[str], proc_id: int) -> None:
    """Build the flow and run this process's share of it (all of it if alone)."""
    flow = make_flow(spec["replay"], spec["out_dir"], spec["settings"], spec["speed"],
                     spec["progress"], spec["total"], spec["batch_size"],
                     models_dir=spec["models_dir"], crash_at=spec["crash_at"],
                     lanes=spec["lanes"], limits=spec["limits"])
    rc = RecoveryConfig(spec["recovery_dir"]) if spec["recovery_dir"] else None
    ei = timedelta(seconds=spec["epoch_interval_s"])
    if addresses:
        _wait_for_lower(addresses, proc_id)
    if spec["workers"] == 1 and not addresses:
        run_main(flow, epoch_interval=ei, recovery_config=rc)
    else:
        cluster_main(flow, addresses, proc_id, epoch_interval=ei, recovery_config=rc,
                     worker_count_per_proc=spec["workers"])


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


def _run_cluster(spec: dict, processes: int) -> list[float]:
    """Start ``processes`` Bytewax processes (this interpreter, ``--proc``) and wait
    for all; if one fails, stop the others and raise.  Returns each one's CPU seconds."""
    addresses = [f"127.0.0.1:{p}" for p in _free_ports(processes)]
    running: dict[int, int] = {}  # pid -> process index
    cpu = [0.0] * processes
    try:
        for i in range(processes):
            p = subprocess.Popen([sys.executable, "-m", "fleetstream.replay", "--proc"],
                                 stdin=subprocess.PIPE)
            assert p.stdin is not None
            p.stdin.write(pickle.dumps((spec, addresses, i)))
            p.stdin.close()
            running[p.pid] = i
        while running:
            for pid, i in list(running.items()):
                done, status, ru = os.wait4(pid, os.WNOHANG)
                if done == 0:
                    continue
                del running[pid]
                cpu[i] = ru.ru_utime + ru.ru_stime
                code = os.waitstatus_to_exitcode(status)
                if code != 0:
                    raise RuntimeError(f"replay process {i} of {processes} exited with "
                                       f"code {code}")
            time.sleep(0.05)
        return cpu
    finally:
        for pid in running:  # only our own children, by pid
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


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


def _proc_main() -> None:
    spec, addresses, proc_id = pickle.loads(sys.stdin.buffer.read())
    _run_process(spec, addresses, proc_id)


def summarize(replay: str, out_dir: str, counts: dict[str, int], secs: float,
              total: int | None = None) -> ReplaySummary:
    s = ReplaySummary(total if total is not None else count_lines(replay), secs, counts)
    for topic, target, field_ in (("fs.decisions", s.decisions, None), ("fs.alerts", s.alerts, None),
                                  (DROPS, s.drops, None)):
        path = os.path.join(out_dir, topic + ".jsonl")
        if not os.path.exists(path):
            continue
        with open(path, "rb") as f:
            for line in f:
                rec = orjson.loads(line)
                if topic == "fs.decisions":
                    k = f"{rec['kind']}/{rec['status']}"
                elif topic == "fs.alerts":
                    k = rec["kind"]
                else:
                    k = rec["reason"].split(":")[0].split(" event_id")[0]
                target[k] = target.get(k, 0) + 1
    return s


if __name__ == "__main__":  # pragma: no cover
    if sys.argv[1:] == ["--proc"]:  # one process of a cluster started by _run_cluster
        _proc_main()
    else:
        print(run_replay(sys.argv[1], sys.argv[2], progress=True).render())
