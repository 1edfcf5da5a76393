"""The summary of a replay run: counts per topic, decisions, alerts and drops by kind,
CPU and solver-job figures, and whether the run was interrupted."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import orjson

from fleetstream.connectors.files import count_lines
from fleetstream.contract.outputs import OUTPUT_TOPICS
from fleetstream.flows.engine import DROPS


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
    interrupted: bool = False
    """The input was stopped early (Ctrl-C): the outputs cover the first ``events_in``
    lines of the ``events_total``."""
    events_total: int | None = None
    read_error: str | None = None
    """The input could not be read past line ``events_in`` (the outputs cover the
    events before it)."""

    @property
    def events_per_s(self) -> float:
        return self.events_in / self.seconds if self.seconds > 0 else 0.0

    def render(self) -> str:
        lines = [f"events in      {self.events_in:>10,}   ({self.events_per_s:,.0f} events/s, "
                 f"{self.seconds:.1f} s)"]
        of = f" of {self.events_total:,}" if self.events_total is not None else ""
        if self.interrupted:
            lines.insert(0, f"INTERRUPTED (Ctrl-C) after {self.events_in:,}{of} events: the "
                         "outputs cover the events read so far")
        if self.read_error:
            lines.insert(0, f"STOPPED by an input error after {self.events_in:,}{of} events: "
                         "the outputs cover the events read so far")
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
