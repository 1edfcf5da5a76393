"""Progress keeps coming while the flow is busy between input batches (a long solve):
fleetstream/observe/progress.py ``Heartbeat``."""

from __future__ import annotations

import io
import time
from types import SimpleNamespace

from fleetstream.observe import progress
from fleetstream.operators import jobs


class Fast(progress.Heartbeat):
    EVERY_S = 0.2


def beat(part, monkeypatch, submitted=0, applied=0, wait_s=0.7) -> list[str]:
    monkeypatch.setitem(jobs.METRICS, "submitted", submitted)
    monkeypatch.setitem(jobs.METRICS, "applied", applied)
    out = io.StringIO()
    hb = Fast(part, out)
    time.sleep(wait_s)
    hb.close()
    hb.thread.join(2)
    return [ln for ln in out.getvalue().splitlines() if ln.strip()]


def test_a_line_keeps_coming_while_the_source_is_not_asked(monkeypatch):
    part = SimpleNamespace(seq=500, total=1000, next_report=time.perf_counter() - 60)
    lines = beat(part, monkeypatch, submitted=5, applied=3)
    assert len(lines) >= 2, lines
    assert lines[0].startswith("  read 500 events (50%); working for ")
    assert lines[0].endswith(": 2 solver jobs pending")


def test_quiet_while_the_source_reports(monkeypatch):
    part = SimpleNamespace(seq=10, total=None, next_report=time.perf_counter() + 3600)
    assert beat(part, monkeypatch) == []


def test_after_the_input_ends_it_says_finishing(monkeypatch):
    part = SimpleNamespace(seq=7, total=7, next_report=0.0, ended=True)
    lines = beat(part, monkeypatch, submitted=1, applied=0)
    assert lines and lines[0].startswith("  all 7 events read, finishing; working for ")
    assert lines[0].endswith(": 1 solver job pending")


def test_a_replay_with_progress_runs_a_heartbeat_and_stops_it(tiny, tmp_path, monkeypatch, capsys):
    import fleetstream.replay as replay_mod
    from fleetstream.cli import main
    made = []

    class Spy(progress.Heartbeat):
        def __init__(self, part, out=None):
            super().__init__(part, out)
            made.append(self)
    monkeypatch.setattr(replay_mod, "Heartbeat", Spy)
    assert main(["replay", tiny.path, "--out", str(tmp_path / "o"),
                 "--set", "engine.solver_workers=0"]) == 0
    assert len(made) == 1 and made[0].stop.is_set()
    made[0].thread.join(5)
    assert not made[0].thread.is_alive()
    assert main(["replay", tiny.path, "--out", str(tmp_path / "q"), "-q",
                 "--set", "engine.solver_workers=0"]) == 0
    assert len(made) == 1  # -q: no progress, no heartbeat
