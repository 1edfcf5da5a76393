"""Solver jobs (operators/jobs.py): due-time order, inline == process pool, snapshot."""

from __future__ import annotations

import pickle

import pytest

from fleetstream.operators import jobs as J


def _solve(req: tuple[int, int]) -> list[int]:
    a, n = req
    x, out = a, []
    for _ in range(n):
        x = (x * 1103515245 + 12345) % 2 ** 31
        out.append(x)
    return out


def _slow(req: int) -> int:
    import time
    time.sleep(0.5)  # a solve still running when the zone reaches its due time
    return req * 2


def _boom(req: object) -> None:
    raise ValueError(f"bad request {req!r}")


def test_due_order_is_due_time_then_submission() -> None:
    jobs = J.SolverJobs(executor=J.InlineExecutor())
    jobs.submit("plan", _solve, (1, 3), due_ts=200.0, now=80.0)
    jobs.submit("plan", _solve, (2, 3), due_ts=150.0, now=90.0)
    jobs.submit("reopt", _solve, (3, 3), due_ts=200.0, now=95.0)
    assert jobs.next_due_ts == 150.0
    assert [j.job_id for j in jobs.due(149.9)] == []
    assert [j.job_id for j in jobs.due(200.0)] == ["plan-2", "plan-1", "reopt-3"]
    assert jobs.pending_count() == 0 and jobs.next_due_ts is None


def test_process_pool_gives_the_inline_result() -> None:
    inline = J.SolverJobs(executor=J.InlineExecutor())
    pooled = J.SolverJobs(workers=2)
    for s in (inline, pooled):
        for i in range(4):
            s.submit("plan", _solve, (i, 2000), due_ts=100.0 + i, now=0.0)
    a = [inline.result(j) for j in inline.due(1e9)]
    b = [pooled.result(j) for j in pooled.due(1e9)]
    assert a == b and len(a) == 4


def test_snapshot_with_pending_jobs_resubmits_and_gives_the_same_result() -> None:
    jobs = J.SolverJobs(executor=J.InlineExecutor())
    jobs.submit("plan", _solve, (5, 50), due_ts=100.0, now=0.0)
    expected = _solve((5, 50))
    blob = pickle.dumps(jobs.snapshot())
    again = J.SolverJobs(executor=J.InlineExecutor())
    again.restore(pickle.loads(blob))
    assert again.pending[0].future is None
    before = J.METRICS["resubmitted"]
    [job] = again.due(100.0)
    assert again.result(job) == expected
    assert J.METRICS["resubmitted"] == before + 1
    again.submit("plan", _solve, (1, 1), due_ts=300.0, now=100.0)
    assert again.pending[-1].job_id == "plan-2"  # ids continue after a restore


def test_a_failing_solve_raises_when_its_result_is_taken() -> None:
    jobs = J.SolverJobs(executor=J.InlineExecutor())
    jobs.submit("plan", _boom, "x", due_ts=1.0, now=0.0)
    [job] = jobs.due(1.0)
    with pytest.raises(ValueError, match="bad request"):
        jobs.result(job)


def test_a_result_not_ready_at_its_due_time_is_waited_for_and_counted() -> None:
    import time
    jobs = J.SolverJobs(workers=1, wall=time.monotonic)
    jobs.submit("plan", _slow, 21, due_ts=1.0, now=0.0)
    before = J.METRICS["waits"]
    [job] = jobs.due(1.0)
    assert jobs.result(job) == 42
    assert J.METRICS["waits"] == before + 1
    assert J.METRICS["max_wait_s"] > 0.1
    assert "waited for" in J.summary()


def test_pool_size() -> None:
    assert J._pool_size(3) == 3
    assert J._pool_size(-1) >= 1
    assert isinstance(J.executor_for(0), J.InlineExecutor)
