"""Run the dataflow over a replay folder and write one JSON Lines file per topic."""

from __future__ import annotations

import os
import shutil
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
from fleetstream.contract.settings import EngineSettings
from fleetstream.wiring import build_zone_engine, restore_zone_engine
from fleetstream.flows.engine import DROPS, build_flow

FILE_TOPICS = list(OUTPUT_TOPICS) + [DROPS]


def _line(item: tuple) -> tuple[str, str]:
    topic, prefix, rec = item
    return (topic, prefix + "\t" + orjson.dumps(rec).decode("utf-8"))


@dataclass
class ReplaySummary:
    events_in: int
    seconds: float
    counts: dict[str, int]
    decisions: dict[str, int] = field(default_factory=dict)
    alerts: dict[str, int] = field(default_factory=dict)
    drops: dict[str, int] = field(default_factory=dict)

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
        return "\n".join(lines)


def make_flow(replay: str, out_dir: str, settings: EngineSettings, speed: float | None = None,
              progress: bool = False, total: int | None = None, batch_size: int = 2000,
              models_dir: str | None = None, crash_at: int | None = None):
    source = ReplaySource(replay, batch_size=batch_size, speed=speed, progress=progress,
                          total=total, crash_at=crash_at)

    def attach(stream: Any) -> None:
        op.output("files", op.map("to_lines", stream, _line), OutputFiles(out_dir, FILE_TOPICS))

    return build_flow("fleetstream_replay", source, attach,
                      partial(build_zone_engine, settings=settings, models_dir=models_dir),
                      partial(restore_zone_engine, settings=settings))


def run_replay(replay: str, out_dir: str, settings: EngineSettings | None = None,
               workers: int = 1, recovery_dir: str | None = None, speed: float | None = None,
               progress: bool = False, fresh: bool = True,
               epoch_interval_s: float = 5.0, models_dir: str | None = None,
               batch_size: int = 2000, crash_at: int | None = None) -> ReplaySummary:
    """Replay ``replay`` through the flow into ``out_dir``.

    With ``recovery_dir`` the run snapshots its state there; calling again with
    ``fresh=False`` after an abort resumes where the last snapshot left off.
    """
    settings = settings or EngineSettings()
    if fresh and os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    total = count_lines(replay) if progress else None
    flow = make_flow(replay, out_dir, settings, speed, progress, total, batch_size,
                     models_dir=models_dir, crash_at=crash_at)
    rc = None
    if recovery_dir:
        if fresh and os.path.isdir(recovery_dir):
            shutil.rmtree(recovery_dir)
        if not os.path.isdir(recovery_dir):
            os.makedirs(recovery_dir)
            init_db_dir(recovery_dir, 1)
        rc = RecoveryConfig(recovery_dir)
    t0 = time.perf_counter()
    ei = timedelta(seconds=epoch_interval_s)
    if workers == 1:
        run_main(flow, epoch_interval=ei, recovery_config=rc)
    else:
        cluster_main(flow, [], 0, epoch_interval=ei, recovery_config=rc,
                     worker_count_per_proc=workers)
    secs = time.perf_counter() - t0
    counts = finalize(out_dir, FILE_TOPICS)
    return summarize(replay, out_dir, counts, secs, total)


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
    print(run_replay(sys.argv[1], sys.argv[2], progress=True).render())
