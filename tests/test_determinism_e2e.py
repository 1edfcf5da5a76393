"""A replay decides the same however fast the machine is.

The whole flow on replay_data/small is run (a) plainly with plans solved inline,
(b) with the zone plans solved in a pool of solver processes, (c) while every
Python clock the process can read jumps by days at each call, and (d) with the
solver pool competing with busy processes for the CPU: the output files are
byte-identical.  Any decision that depended on elapsed wall time would differ.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import time
from pathlib import Path

import pytest

from fleetstream.contract.settings import EngineSettings
from fleetstream.replay import run_replay

ROOT = Path(__file__).resolve().parents[1]
SMALL = str(ROOT / "replay_data" / "small")


def _outputs(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.glob("*.jsonl"))}


def _run(out: Path, **settings) -> dict[str, bytes]:
    run_replay(SMALL, str(out), EngineSettings(**settings))
    res = _outputs(out)
    assert res["fs.decisions.jsonl"], "the replay decided nothing"
    return res


def _burn(stop_at: float) -> None:
    x = 0
    while time.time() < stop_at:
        x += 1


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, bytes]:
    return _run(tmp_path_factory.mktemp("ref"), solver_workers=0)


def test_a_solver_pool_decides_as_inline_solving(reference, tmp_path) -> None:
    assert _run(tmp_path, solver_workers=2) == reference


def test_jumping_clocks_change_nothing(reference, tmp_path, monkeypatch) -> None:
    jumps = itertools.count(1)
    for name in ("time", "monotonic", "perf_counter"):
        real = getattr(time, name)
        monkeypatch.setattr(time, name, lambda real=real: real() + 86400.0 * next(jumps))
    for name in ("time_ns", "monotonic_ns", "perf_counter_ns"):
        real = getattr(time, name)
        monkeypatch.setattr(time, name,
                            lambda real=real: real() + 86_400_000_000_000 * next(jumps))
    assert _run(tmp_path, solver_workers=0) == reference


def test_a_busy_cpu_changes_nothing(reference, tmp_path) -> None:
    ctx = multiprocessing.get_context("spawn")
    stop_at = time.time() + 120.0  # bounded: the burners stop by themselves
    burners = [ctx.Process(target=_burn, args=(stop_at,), daemon=True)
               for _ in range(max(2, os.cpu_count() or 2))]
    for b in burners:
        b.start()
    try:
        assert _run(tmp_path, solver_workers=2) == reference
    finally:
        for b in burners:
            b.terminate()
            b.join(5)
