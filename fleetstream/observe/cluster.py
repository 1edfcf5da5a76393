"""Metrics of ``fleetstream replay -p N``: one endpoint for all worker processes.

Each process of the cluster runs its own :class:`~fleetstream.observe.metrics.EngineMetrics`
(the flow's observer in that process) and, every :data:`WRITE_EVERY_S` and once at
its end, writes its registry in the Prometheus text format and its readiness to the
run's private status folder (:class:`ProcessExport`).  The command's process serves
the one endpoint (:class:`ClusterMetrics`): at each scrape it reads those files and
exposes every family once, each sample labelled ``process="<i>"`` (sum over
``process`` for the totals; the counters of a zone come from the one process that
owns it); its own process metrics carry ``process="main"``.  ``fleetstream_ready``
is the cluster's: ready when every process has reported and every listed input
partition is built somewhere, and the run is on.

Why files and not prometheus-client's multiprocess mode: that mode keeps only plain
counters, gauges and histograms in memory-mapped files, not the collectors read at
scrape time (solver jobs, memory, readiness) that the families need, and it must be
set up before prometheus-client is imported in every process.  A scrape sees each
process's values as of its last write (at most :data:`WRITE_EVERY_S` old); after the
run, the final values of every process.
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any, Iterator

from prometheus_client import CollectorRegistry, Gauge, ProcessCollector, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from fleetstream.observe.health import Readiness

WRITE_EVERY_S = 0.5
SKIP = {"fleetstream_ready"}
"""Per-process families replaced by the cluster's own."""


def _write(path: str, data: bytes) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)  # a reader sees the old file or the new one, never half


class ProcessExport:
    """In a cluster process: write this process's metrics and readiness to
    ``status_dir`` now and then, and a last time at :meth:`close`."""

    def __init__(self, metrics: Any, status_dir: str, index: int) -> None:
        self.metrics, self.index = metrics, index
        self.prom = os.path.join(status_dir, f"metrics-{index}.prom")
        self.ready = os.path.join(status_dir, f"ready-{index}.json")
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="fleetstream-metrics-export",
                                       daemon=True)
        self.thread.start()

    def write(self) -> None:
        r = self.metrics.readiness
        with r._lock:
            state = {"listed": sorted(r.listed), "built": sorted(r.built),
                     "listed_once": r.listed_once, "running": r.running}
        _write(self.prom, generate_latest(self.metrics.registry))
        _write(self.ready, json.dumps(state).encode())

    def _loop(self) -> None:
        while not self.stop.wait(WRITE_EVERY_S):
            try:
                self.write()
            except OSError:  # the folder went away: the run is over
                return

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.metrics.readiness.finish()
        self.write()


class ClusterReadiness(Readiness):
    """Readiness of the whole cluster, from what its processes wrote."""

    def __init__(self, source: "ClusterCollector") -> None:
        super().__init__()
        self.source = source

    def _sync(self) -> list[dict]:
        states = self.source.states()
        with self._lock:
            self.listed = set().union(*(s["listed"] for s in states)) if states else set()
            self.built = set().union(*(s["built"] for s in states)) if states else set()
        return states

    def report(self) -> dict[str, Any]:
        self._sync()
        return {**super().report(), "processes_reporting": len(self.source.states()),
                "processes": self.source.processes}

    @property
    def conditions(self) -> dict[str, bool]:
        states = self._sync()
        listed, built = self.listed, self.built
        assigned = (len(states) == self.source.processes and all(s["listed_once"] for s in states)
                    and bool(built) and listed <= built)
        # running until the command's run ends (outputs merged, like one process)
        return {"sources_assigned": assigned, "state_restored": assigned,
                "running": self.running}


class ClusterCollector:
    """Collects the families the processes wrote, each sample labelled ``process``."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self.folder: str | None = None
        self.frozen: dict[int, tuple[str, dict]] | None = None
        self.lock = threading.Lock()
        self.own = ProcessCollector(registry=None)

    def attach(self, status_dir: str) -> None:
        with self.lock:
            self.folder, self.frozen = status_dir, None

    def freeze(self) -> None:
        """Keep the processes' last values (their folder is about to be removed)."""
        snap = self._read()
        with self.lock:
            self.frozen, self.folder = snap, None

    def _read(self) -> dict[int, tuple[str, dict]]:
        with self.lock:
            if self.frozen is not None:
                return self.frozen
            folder = self.folder
        out: dict[int, tuple[str, dict]] = {}
        if folder is None:
            return out
        for i in range(self.processes):
            try:
                with open(os.path.join(folder, f"metrics-{i}.prom"), encoding="utf-8") as f:
                    text = f.read()
                with open(os.path.join(folder, f"ready-{i}.json"), encoding="utf-8") as f:
                    state = json.load(f)
            except (OSError, ValueError):
                continue
            out[i] = (text, state)
        return out

    def states(self) -> list[dict]:
        return [s for _, s in self._read().values()]

    def collect(self) -> Iterator[Metric]:
        fams: dict[str, Metric] = {}

        def add(fam: Any, process: str) -> None:
            if fam.name in SKIP:
                return
            m = fams.get(fam.name)
            if m is None:
                m = fams[fam.name] = Metric(fam.name, fam.documentation, fam.type, fam.unit)
            for s in fam.samples:
                m.add_sample(s.name, {**s.labels, "process": process}, s.value, s.timestamp,
                             s.exemplar)

        for i, (text, _) in sorted(self._read().items()):
            for fam in text_string_to_metric_families(text):
                add(fam, str(i))
        for fam in self.own.collect():
            add(fam, "main")
        yield from fams.values()


class ClusterMetrics:
    """The command process's side of ``replay -p N --metrics-port``: a registry for the
    endpoint (:class:`~fleetstream.observe.server.MetricsServer`) and its readiness."""

    def __init__(self, processes: int, run_id: str = "", mode: str = "replay") -> None:
        self.processes, self.run_id, self.mode = processes, run_id, mode
        self.collector = ClusterCollector(processes)
        self.readiness = ClusterReadiness(self.collector)
        self.registry = r = CollectorRegistry(auto_describe=False)
        r.register(self.collector)
        g = Gauge("fleetstream_ready", "1 when /readyz says ready (the whole cluster).",
                  registry=r)
        g.set_function(lambda: 1.0 if self.readiness.ready else 0.0)
        Gauge("fleetstream_cluster_processes", "Processes of this run (replay -p N).",
              registry=r).set(processes)
        self.started = time.time()
