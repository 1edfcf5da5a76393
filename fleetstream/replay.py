"""Run the dataflow over a replay folder and write one JSON Lines file per topic.

Operator safety (docs/operations.md): every path and the input file are checked
before anything starts (:func:`prepare_replay`); ``--out`` is created or, with
``force``, only the files a replay writes are replaced (``fleetstream.run_dirs``);
a stop request (the first Ctrl-C, ``fleetstream.interrupt``) ends the input early
and the run still writes consistent outputs and its summary, marked as interrupted.
Several processes (``processes`` > 1) are started and watched by
fleetstream/replay_cluster.py.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import resource
import signal
import sys
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

import orjson
import bytewax.operators as op
from bytewax.inputs import StatefulSourcePartition
from bytewax.recovery import RecoveryConfig
from bytewax.testing import cluster_main, run_main

from fleetstream import interrupt
from fleetstream.connectors.files import RAW_DIR, OutputFiles, ReplaySource, finalize
from fleetstream.contract.outputs import OUTPUT_TOPICS
from fleetstream.contract.settings import EngineSettings, LimitsSettings
from fleetstream.observe.progress import Heartbeat
from fleetstream.operators import jobs
from fleetstream.wiring import build_zone_engine, restore_zone_engine
from fleetstream.flows.engine import DROPS, build_flow
from fleetstream.preflight import (READ_ERRORS, check_events_file, check_models_dir,
                                   events_file, read_error_text)
from fleetstream.replay_cluster import _die_with_parent, _run_cluster, _wait_for_lower
from fleetstream.replay_summary import ReplaySummary, summarize
from fleetstream.run_dirs import (OperatorError, OutFolder, RecoveryFolder, check_out,
                                  check_recovery)

FILE_TOPICS = list(OUTPUT_TOPICS) + [DROPS]
REPLAY_KIND = "fleetstream replay"


def replay_files() -> tuple[list[str], list[str]]:
    """The files and folders a replay writes in ``--out`` (all it may ever replace)."""
    files = [t + ".jsonl" for t in FILE_TOPICS]
    return files + [os.path.join(RAW_DIR, f) for f in files], [RAW_DIR]


def _lines(chunk: list) -> list[tuple[str, str]]:
    """A chunk of outputs -> one ``(topic, lines)`` per topic (the raw file format)."""
    by_topic: dict[str, list[str]] = {}
    for topic, prefix, rec in chunk:
        by_topic.setdefault(topic, []).append(prefix + "\t" + orjson.dumps(rec).decode("utf-8"))
    return [(t, "\n".join(lines)) for t, lines in by_topic.items()]


class _InputReport:
    """What the replay source saw: where it stopped and why (one per process)."""

    def __init__(self) -> None:
        self.stopped_at: int | None = None
        self.read_error: str | None = None
        self.read: int | None = None

    def as_dict(self) -> dict:
        return {"stopped_at": self.stopped_at, "read_error": self.read_error,
                "read": self.read}


_STOP = threading.Event()
"""Set by the first Ctrl-C (``fleetstream.interrupt.CtrlC``): the source stops reading."""
_REPORT = _InputReport()


class _StoppablePartition(StatefulSourcePartition):
    """The replay file's partition, stopping early on a stop request (the flow then
    ends as at the end of the file) or on a read error (the same, with the error
    kept for the summary: no traceback, the events before it are all decided)."""

    def __init__(self, inner: Any, path: str, stop: threading.Event, report: _InputReport):
        self.inner, self.path, self.stop, self.report = inner, path, stop, report
        self.handed = inner.seq
        """Lines handed to the flow so far."""
        self.heartbeat: Heartbeat | None = None

    def next_batch(self) -> list:
        if self.stop.is_set():
            self.report.stopped_at = self.inner.seq
            raise StopIteration()
        try:
            batch = self.inner.next_batch()
        except StopIteration:
            self.report.read = self.inner.seq
            self.inner.ended = True  # the heartbeat says "finishing"
            raise
        except READ_ERRORS as e:
            # the lines of the failed batch never reach the flow: count what did
            self.report.stopped_at = self.handed
            self.report.read_error = read_error_text(self.path, e, self.inner.seq)
            raise StopIteration() from None
        self.handed = self.inner.seq
        return batch

    def next_awake(self) -> Any:
        return None if self.stop.is_set() else self.inner.next_awake()

    def snapshot(self) -> Any:
        return self.inner.snapshot()

    def close(self) -> None:
        if self.heartbeat is not None:
            self.heartbeat.close()
        self.inner.close()


class _StoppableSource(ReplaySource):
    def build_part(self, step_id: str, for_part: str, resume_state: Any) -> _StoppablePartition:
        try:
            inner = super().build_part(step_id, for_part, resume_state)
        except READ_ERRORS as e:
            raise OperatorError(read_error_text(self.path, e)) from None
        part = _StoppablePartition(inner, self.path, _STOP, _REPORT)
        if getattr(inner, "progress", False):
            part.heartbeat = Heartbeat(inner)
        return part


def make_flow(replay: str, out_dir: str, settings: EngineSettings, speed: float | None = None,
              progress: bool = False, total: int | None = None, batch_size: int = 2000,
              models_dir: str | None = None, crash_at: int | None = None, lanes: int = 1,
              limits: LimitsSettings | None = None):
    source = _StoppableSource(replay, batch_size=batch_size, speed=speed, progress=progress,
                              total=total, crash_at=crash_at, chunked=True)

    def attach(chunks: Any) -> None:
        op.output("files", op.flat_map("to_lines", chunks, _lines),
                  OutputFiles(out_dir, FILE_TOPICS))

    return build_flow("fleetstream_replay", source, attach,
                      partial(build_zone_engine, settings=settings, models_dir=models_dir,
                              limits=limits),
                      partial(restore_zone_engine, settings=settings, limits=limits), lanes=lanes,
                      limits=limits, chunked_input=True, chunked_outputs=True,
                      interrupted=_STOP.is_set)


@dataclass
class PreparedReplay:
    """A replay whose paths and input were checked (:func:`prepare_replay`); nothing
    has been created or removed yet."""

    replay: str
    events: str
    total: int | None
    out: OutFolder
    recovery: RecoveryFolder | None
    models_dir: str | None


def prepare_replay(replay: str, out_dir: str, recovery_dir: str | None = None,
                   fresh: bool = True, force: bool = False, models_dir: str | None = None,
                   lanes: int = 1, check_input: bool = True) -> PreparedReplay:
    """Check everything a replay needs before it starts; :class:`OperatorError` (one
    line) on the first problem, with nothing changed on disk."""
    if not fresh and not recovery_dir:
        raise OperatorError("--resume needs --recovery DIR (the recovery folder of the "
                            "run to resume)")
    if not fresh and force:
        raise OperatorError("--resume continues a run and --force replaces its outputs: "
                            "give one of them")
    path = events_file(replay)
    check_models_dir(models_dir)
    files, dirs = replay_files()
    rec = check_recovery(recovery_dir, resume=not fresh, force=force, lanes=lanes) \
        if recovery_dir else None
    out = check_out(out_dir, REPLAY_KIND, files, dirs, force=force, resume=not fresh)
    if recovery_dir and os.path.abspath(recovery_dir) == os.path.abspath(out_dir):
        raise OperatorError(f"--recovery {recovery_dir}: must not be the --out folder")
    total = check_events_file(path) if check_input else None
    return PreparedReplay(replay, path, total, out, rec, models_dir)


def run_replay(replay: str, out_dir: str, settings: EngineSettings | None = None,
               workers: int = 1, recovery_dir: str | None = None, speed: float | None = None,
               progress: bool = False, fresh: bool = True,
               epoch_interval_s: float = 5.0, models_dir: str | None = None,
               batch_size: int = 2000, crash_at: int | None = None, processes: int = 1,
               lanes: int = 1, limits: LimitsSettings | None = None, force: bool = False,
               prepared: PreparedReplay | None = None,
               stop: threading.Event | None = None) -> ReplaySummary:
    """Replay ``replay`` through the flow into ``out_dir``.

    With ``recovery_dir`` the run snapshots its state there; calling again with
    ``fresh=False`` after an abort resumes where the last snapshot left off.
    ``processes`` > 1 runs the flow as a Bytewax cluster of that many processes of
    ``workers`` workers each (subprocesses on 127.0.0.1); the output files are the
    same bytes for any ``workers`` and ``processes``.  ``lanes`` > 1 spreads decoding
    and tracking over lanes, a lane per zone group (flows/lanes.py): the same bytes
    for any workers and processes at that lane count, and the bytes of one lane
    unless the input needs the one-lane watermark or dedupe across zone groups.

    ``out_dir`` must be missing, empty, or (with ``force``) the output of an earlier
    replay, of which only the replay's own files are replaced (docs/operations.md);
    ``prepared`` is the result of :func:`prepare_replay` when the caller checked
    first.  ``stop`` (set by the first Ctrl-C) ends the input early: the outputs of the
    events read so far are written and the summary says ``interrupted``.
    """
    settings = settings or EngineSettings()
    if processes < 1 or workers < 1 or lanes < 1:
        raise OperatorError("processes, workers and lanes must be >= 1")
    if speed is not None and not (speed > 0 and speed != float("inf")):
        raise OperatorError(f"speed must be a finite number > 0, got {speed}")
    if processes > 1 and settings.solver_workers == -1:
        # Every process has its own solver pool: share the cores among them.
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        settings = dataclasses.replace(settings, solver_workers=max(1, cores // processes))
    prep = prepared or prepare_replay(replay, out_dir, recovery_dir, fresh, force, models_dir,
                                      lanes)
    prep.out.apply(replay=os.path.abspath(prep.events), lanes=lanes, events_total=prep.total)
    if prep.recovery is not None:
        prep.recovery.apply(processes * workers, lanes)
    total = prep.total
    global _STOP, _REPORT
    _STOP = stop if stop is not None else threading.Event()
    _REPORT = _InputReport()
    spec = dict(replay=prep.events, out_dir=out_dir, settings=settings, speed=speed,
                progress=progress, total=total, batch_size=batch_size, models_dir=models_dir,
                crash_at=crash_at, lanes=lanes, workers=workers, recovery_dir=recovery_dir,
                epoch_interval_s=epoch_interval_s, limits=limits)
    t0 = time.perf_counter()
    jobs0 = dict(jobs.METRICS)
    unregister = interrupt.on_hard_stop(lambda: prep.out.mark("stopped at once"))
    try:
        if processes == 1:
            ru0 = resource.getrusage(resource.RUSAGE_SELF)
            try:
                _run_process(spec, [], 0)
            except Exception as e:
                _raise_operator_error(e)
                raise
            ru1 = resource.getrusage(resource.RUSAGE_SELF)
            cpu = [ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime]
            report = _REPORT.as_dict()
        else:
            cpu, report = _run_cluster(spec, processes, _STOP)
        secs = time.perf_counter() - t0
        counts = _finalize(out_dir)
    except BaseException:
        prep.out.mark("failed")  # the marker never says "running" for a dead run
        raise
    finally:
        unregister()
    stopped = report.get("stopped_at")
    summary = summarize(replay, out_dir, counts, secs,
                        stopped if stopped is not None else (report.get("read") or total))
    summary.process_cpu_s = cpu
    summary.events_total = total
    summary.interrupted = stopped is not None and not report.get("read_error")
    summary.read_error = report.get("read_error")
    status = "interrupted" if summary.interrupted else (
        "stopped by an input error" if summary.read_error else "complete")
    prep.out.mark(status, events_read=summary.events_in)
    if processes == 1:
        summary.solver_jobs = {k: jobs.METRICS[k] - jobs0.get(k, 0) for k in jobs.METRICS}
    return summary


def _raise_operator_error(e: BaseException) -> None:
    """A Bytewax error caused by an :class:`OperatorError` -> that error, alone."""
    seen = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, OperatorError):
            raise OperatorError(str(cur)) from None
        cur = cur.__cause__ or cur.__context__


def _finalize(out_dir: str) -> dict[str, int]:
    """Write the final files one topic at a time; should a second Ctrl-C stop the
    process meanwhile, the file being written is removed (never left half-written)."""
    counts: dict[str, int] = {}
    current: list[str] = []

    def remove_partial() -> None:
        for t in current:
            try:
                os.remove(os.path.join(out_dir, t + ".jsonl"))
            except OSError:
                pass
    unregister = interrupt.on_hard_stop(remove_partial)
    try:
        for t in FILE_TOPICS:
            current[:] = [t]
            counts.update(finalize(out_dir, [t]))
        current.clear()
    finally:
        unregister()
    return counts


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
    unregister = interrupt.on_hard_stop(interrupt.kill_solver_pool)
    try:
        if spec["workers"] == 1 and not addresses:
            run_main(flow, epoch_interval=ei, recovery_config=rc)
        else:
            cluster_main(flow, addresses, proc_id, epoch_interval=ei, recovery_config=rc,
                         worker_count_per_proc=spec["workers"])
    finally:
        unregister()


def _proc_main() -> None:
    """One process of a cluster: its first SIGINT (forwarded by the parent) stops the
    input if this process reads it, the second stops it at once; what the input saw
    goes to the parent in ``status_dir``."""
    global _STOP
    spec, addresses, proc_id = pickle.loads(sys.stdin.buffer.read())
    _die_with_parent(spec["parent_pid"])
    status = spec["status_dir"]
    from fleetstream.observe import runtime as observe  # the command's logs; its metrics
    obs = spec.get("observe") or {}
    observe.LOG_CONFIG.update(obs.get("log") or {})
    export = observe.start_cluster_process(status, proc_id, bool(obs.get("export")))
    with interrupt.CtrlC("fleetstream replay", quiet=True) as ctrl_c:
        _STOP = ctrl_c.stop
        try:
            _run_process(spec, addresses, proc_id)
        except Exception as e:  # noqa: BLE001 - an operator error is one line, exit 2
            try:
                _raise_operator_error(e)
            except OperatorError as oe:
                with open(os.path.join(status, f"error-{proc_id}.txt"), "w") as f:
                    f.write(str(oe))
                sys.exit(2)
            raise
        finally:
            if export is not None:
                export.close()  # the final values, for the command's endpoint
    # The flow is done: a Ctrl-C forwarded now has nothing left to stop (it must not
    # kill the process before it reports what its input saw).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with open(os.path.join(status, f"input-{proc_id}.json"), "wb") as f:
        f.write(orjson.dumps(_REPORT.as_dict()))


if __name__ == "__main__":  # pragma: no cover
    if sys.argv[1:] == ["--proc"]:  # one process of a cluster started by _run_cluster
        _proc_main()
    else:
        print(run_replay(sys.argv[1], sys.argv[2], progress=True).render())
