"""Solver jobs: heavy solves off the zone's event path, applied at a deterministic event time.

A zone that wants a plan does not solve it inline.  It builds a *request* (plain,
picklable data: the vehicles and orders involved, copied, the current routes, the
event time, the travel model and the strategy) and submits it with a **due time**
in event time (request time + ``plan_solve_allowance_s``).  The solve runs in a
process pool (``solver_workers``), so several zones plan in parallel and the zone
keeps processing pings, orders and insertions meanwhile.  When the zone's event
clock reaches the due time, the zone takes the result and applies it, stamped with
the due time.  The solve is a pure function of the request, so the decision is the
same on any machine, under any CPU load, with any worker or process count, and
solved inline (``solver_workers = 0``) or in another process.

If the result is not ready when its due time comes, the zone **waits** for it:
a replay always does (correctness first), live mode does too and reports the wait
(a log line and the ``waits``/``wait_s`` counters of :data:`METRICS`).  Nothing here
reads a clock: the wiring may inject one (``wall``) to measure waits for that report;
it never enters a decision or an output record.

Pending jobs are part of the zone's snapshot: on restore, their requests are
submitted again and give the same results.

>>> jobs = SolverJobs(executor=InlineExecutor())
>>> jid = jobs.submit("plan", _square, 7, due_ts=100.0, now=40.0)
>>> jobs.next_due_ts
100.0
>>> jobs.due(99.0)
[]
>>> [(j.job_id, j.kind, jobs.result(j)) for j in jobs.due(100.0)]
[('plan-1', 'plan', 49)]
>>> jobs.pending_count()
0
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

log = logging.getLogger("fleetstream.jobs")

METRICS: dict[str, float] = {"submitted": 0, "applied": 0, "waits": 0, "wait_s": 0.0,
                             "max_wait_s": 0.0, "resubmitted": 0}
"""Process-wide counters of solver jobs (for progress lines and metrics; never for
decisions).  ``waits``: results not ready at their due event time; ``wait_s``:
wall seconds the event path spent waiting for them."""

_LOCK = threading.Lock()

LOG_WAITS = [False]
"""Live mode sets this: every wait for a late solver result is then logged as a warning
(a replay waits routinely and only counts)."""

WALL: list[Callable[[], float] | None] = [None]
"""The clock that measures waits for reports, set by the CLI (``WALL[0] = time.monotonic``);
operators never read a clock themselves."""


def _count(key: str, n: float = 1) -> None:
    with _LOCK:
        METRICS[key] = METRICS.get(key, 0) + n


def _square(x: int) -> int:  # doctest helper
    return x * x


class InlineExecutor:
    """Solves at submission, in the calling thread (``solver_workers = 0``, tests)."""

    def submit(self, fn: Callable, *args: Any) -> Future:
        f: Future = Future()
        try:
            f.set_result(fn(*args))
        except BaseException as e:  # handed to the zone when it takes the result
            f.set_exception(e)
        return f


_POOL: ProcessPoolExecutor | None = None
_POOL_SIZE = 0
_POOL_PID = 0


def _pool_size(workers: int) -> int:
    if workers < 0:
        return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                   else (os.cpu_count() or 1))
    return workers


def process_executor(workers: int) -> ProcessPoolExecutor:
    """The process-wide solver pool (created on first use, shut down at exit).  Uses the
    ``forkserver`` start method: the engine runs Rust threads (Bytewax), and forking a
    threaded process is unsafe."""
    global _POOL, _POOL_SIZE, _POOL_PID
    size = _pool_size(workers)
    with _LOCK:
        if _POOL is None or _POOL_PID != os.getpid() or _POOL_SIZE != size:
            if _POOL is not None and _POOL_PID == os.getpid():
                _POOL.shutdown(wait=False, cancel_futures=True)
            method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
            _POOL = ProcessPoolExecutor(max_workers=size,
                                        mp_context=multiprocessing.get_context(method))
            _POOL_SIZE, _POOL_PID = size, os.getpid()
        return _POOL


def shutdown_pool() -> None:
    """Stop the solver processes (idempotent).  Registered at exit."""
    global _POOL
    with _LOCK:
        pool, _POOL = _POOL, None
    if pool is not None and _POOL_PID == os.getpid():
        pool.shutdown(wait=True, cancel_futures=True)


atexit.register(shutdown_pool)


def executor_for(workers: int) -> Any:
    """``workers``: -1 one process per core, 0 inline, N processes."""
    return InlineExecutor() if workers == 0 else process_executor(workers)


@dataclass
class Job:
    """One solve in flight: ``fn(request)`` applied at event time ``due_ts``."""

    job_id: str
    kind: str
    fn: Callable[[Any], Any]
    request: Any
    due_ts: float
    submitted_ts: float
    meta: Any = None
    """What the zone needs to apply the result (for example the triggering event ids)."""
    future: Future | None = None

    def __getstate__(self) -> dict:  # futures do not pickle; restore resubmits
        return {k: getattr(self, k) for k in ("job_id", "kind", "fn", "request", "due_ts",
                                             "submitted_ts", "meta")}

    def __setstate__(self, st: dict) -> None:
        self.__dict__.update(st)
        self.future = None


class SolverJobs:
    """The pending solver jobs of one zone, in (due time, submission) order.

    ``fn`` must be a module-level function (it is pickled to the solver process) and
    a pure function of ``request``."""

    def __init__(self, executor: Any = None, workers: int = 0,
                 wall: Callable[[], float] | None = None):
        self.workers = workers
        # A clock to measure waits for the report only: injected by the wiring (the CLI
        # sets :data:`WALL`), never read by a decision.
        self.wall = wall
        self._executor = executor
        self.pending: list[Job] = []
        self.n = 0

    @property
    def executor(self) -> Any:
        if self._executor is None:
            self._executor = executor_for(self.workers)
        return self._executor

    def submit(self, kind: str, fn: Callable[[Any], Any], request: Any, due_ts: float,
               now: float, meta: Any = None) -> str:
        self.n += 1
        job = Job(f"{kind}-{self.n}", kind, fn, request, float(due_ts), float(now), meta)
        job.future = self.executor.submit(fn, request)
        self.pending.append(job)
        self.pending.sort(key=lambda j: (j.due_ts, int(j.job_id.rsplit("-", 1)[1])))
        _count("submitted")
        return job.job_id

    @property
    def next_due_ts(self) -> float | None:
        return self.pending[0].due_ts if self.pending else None

    def pending_count(self, kind: str | None = None) -> int:
        return sum(1 for j in self.pending if kind is None or j.kind == kind)

    def due(self, clock: float) -> list[Job]:
        """Remove and return the jobs whose due time is at or before ``clock``."""
        out = []
        while self.pending and self.pending[0].due_ts <= clock:
            out.append(self.pending.pop(0))
        return out

    def result(self, job: Job) -> Any:
        """The job's result, waiting for it if the solve is still running.  A solve
        that raised re-raises here (the zone turns it into an engine error)."""
        if job.future is None:  # restored from a snapshot: solve again (same result)
            job.future = self.executor.submit(job.fn, job.request)
            _count("resubmitted")
        if not job.future.done():
            # Wall time is measured (by the injected clock) for the report only.
            wall = self.wall or WALL[0]
            t0 = wall() if wall else 0.0
            res = job.future.result()
            waited = (wall() - t0) if wall else 0.0
            _count("waits")
            _count("wait_s", waited)
            with _LOCK:
                METRICS["max_wait_s"] = max(METRICS["max_wait_s"], waited)
            (log.warning if LOG_WAITS[0] else log.debug)(
                "solver job %s (%s) was not ready at its due event time: the event path waited "
                "%.3f s (raise engine.plan_solve_allowance_s or solver_workers if this repeats)",
                job.job_id, job.kind, waited)
        else:
            res = job.future.result()
        _count("applied")
        return res

    # ------------------------------------------------------------------ state

    def snapshot(self) -> tuple[int, list[Job]]:
        return (self.n, list(self.pending))

    def restore(self, st: tuple[int, list[Job]]) -> None:
        self.n, self.pending = st[0], list(st[1])
        for job in self.pending:
            job.future = None

    def resubmit_all(self) -> None:
        """Start solving every restored job again (results are the same)."""
        for job in self.pending:
            if job.future is None:
                job.future = self.executor.submit(job.fn, job.request)
                _count("resubmitted")


def summary() -> str:
    """One line for the replay footer and live progress."""
    m = dict(METRICS)
    return (f"solver jobs: {int(m['submitted'])} submitted, {int(m['applied'])} applied, "
            f"{int(m['waits'])} waited for ({m['wait_s']:.1f} s, max {m['max_wait_s']:.1f} s)")
