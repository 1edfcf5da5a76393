"""The engine's Prometheus metrics (docs/observability.md lists every family).

:class:`EngineMetrics` owns a registry and is the flow's observer (flows/tap.py):
the flow hands it counts of inputs, outputs and dead letters and the zone
engines' cumulative counters; it turns them into metric families.  Solver jobs,
connectors and memory are read at scrape time (fleetstream/observe/collectors.py,
prometheus-client's process collector).

Nothing here feeds back into the engine: the wall clock read here (lag gauges)
is for people and alert rules only.

Label values that come from input data are capped (:class:`LabelCap`): past
``MAX_LABEL_VALUES`` distinct values of a family, new values count as ``other``,
so a hostile input cannot blow up the time-series count.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import GCCollector, PlatformCollector, ProcessCollector
from prometheus_client import disable_created_metrics

from fleetstream.flows.tap import OutputAggregate
from fleetstream.observe.collectors import (DURATION_BUCKETS, InFlight, LiveCollector,
                                            SolverCollector, consumer_lag, time_solver_jobs)
from fleetstream.observe.health import Readiness

log = logging.getLogger("fleetstream.observe")

MAX_LABEL_VALUES = 200
"""Distinct values per data-derived label of one family (topics, reasons, zones)."""

DLQ_LOG_FIRST = 20
DLQ_LOG_EVERY = 1000
"""Dead letters are logged one line each for the first ``DLQ_LOG_FIRST`` of each
reason, then one line per ``DLQ_LOG_EVERY`` (the fs.dlq topic has them all)."""

ZONE_COUNTERS = {
    # zone engine stats key -> (family, labels)
    "eta_scored": ("eta_scored", ()),
    "eta_abs_err_s": ("eta_abs_err", ()),
    "cov80": ("eta_hits", ("80",)),
    "cov95": ("eta_hits", ("95",)),
    "plan_time_guard_hit": ("guard", ("plan",)),
    "reroute_guard_hit": ("guard", ("reroute",)),
    "arrivals": ("arrivals", ()),
    "arrivals_late": ("arrivals_late", ()),
}


class LabelCap:
    def __init__(self, cap: int = MAX_LABEL_VALUES):
        self.cap = cap
        self.seen: set[str] = set()
        self.lock = threading.Lock()

    def __call__(self, value: str) -> str:
        if value in self.seen:
            return value
        with self.lock:
            if len(self.seen) < self.cap:
                self.seen.add(value)
                return value
        return "other"


class EngineMetrics:
    """Registry + flow observer of one engine process (replay or live)."""

    def __init__(self, run_id: str = "", mode: str = "replay", version: str = ""):
        disable_created_metrics()  # no *_created series: half the samples, no use here
        self.registry = r = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=r)   # process_resident_memory_bytes, cpu, fds, start time
        PlatformCollector(registry=r)
        GCCollector(registry=r)
        self.readiness = Readiness()
        self.run_id, self.mode = run_id, mode
        Gauge("fleetstream_build_info", "Always 1: the version, mode and run id of the process.",
              ["version", "mode", "run_id"], registry=r).labels(version, mode, run_id).set(1)
        self.ready_g = Gauge("fleetstream_ready", "1 when /readyz says ready.", registry=r)
        self.ready_g.set_function(lambda: 1.0 if self.readiness.ready else 0.0)
        self.events_in = Counter("fleetstream_events_in", "Input messages read, by topic "
                                 "(before decoding: dead letters included).", ["topic"],
                                 registry=r)
        self.outputs = Counter("fleetstream_outputs", "Output records, by topic (_drops: "
                               "duplicate or stale inputs, not errors).", ["topic"], registry=r)
        self.dead_letters = Counter("fleetstream_dead_letters", "Inputs rejected to fs.dlq, by "
                                    "stage (decode, track, engine) and reason (the field or "
                                    "the kind of problem).", ["stage", "reason"], registry=r)
        self.drops = Counter("fleetstream_drops", "Inputs dropped as duplicate or stale "
                             "(not errors), by reason.", ["reason"], registry=r)
        self.decisions = Counter("fleetstream_decisions", "Decisions, by kind and status.",
                                 ["kind", "status"], registry=r)
        self.alerts = Counter("fleetstream_alerts", "Alerts, by kind and severity.",
                              ["kind", "severity"], registry=r)
        self.eta_scored = Counter("fleetstream_eta_scored", "ETA predictions scored against "
                                  "the actual arrival as the models learn it, by zone.",
                                  ["zone"], registry=r)
        self.eta_abs_err = Counter("fleetstream_eta_abs_error_seconds", "Sum of the absolute "
                                   "ETA errors of the scored predictions, by zone (divide by "
                                   "fleetstream_eta_scored_total for the mean).", ["zone"],
                                   registry=r)
        self.eta_hits = Counter("fleetstream_eta_interval_hits", "Scored predictions whose "
                                "80 % / 95 % interval held the actual arrival, by zone and "
                                "level.", ["zone", "level"], registry=r)
        self.eta_mae = Gauge("fleetstream_eta_mae_seconds", "Mean absolute ETA error of the "
                             "zone's state so far (recovery included).", ["zone"], registry=r)
        self.eta_cov = Gauge("fleetstream_eta_interval_coverage_ratio", "Share of scored "
                             "predictions inside their interval, zone's state so far.",
                             ["zone", "level"], registry=r)
        self.arrivals = Counter("fleetstream_arrivals", "Delivery arrivals the engine learned "
                                "from, by zone.", ["zone"], registry=r)
        self.arrivals_late = Counter("fleetstream_arrivals_late", "Arrivals after the window "
                                     "end, by zone.", ["zone"], registry=r)
        self.guard = Counter("fleetstream_solver_guard_hits", "Solves cut by the wall-clock "
                             "safety guard (routing_guard_s), by kind (plan, reroute).",
                             ["kind"], registry=r)
        for k in ("plan", "reroute"):
            self.guard.labels(k)
        self.zone_ts = Gauge("fleetstream_zone_event_time_seconds", "Latest event time output "
                             "by the zone, epoch seconds.", ["zone"], registry=r)
        self.zone_lag = Gauge("fleetstream_zone_lag_seconds", "Wall time minus event time of "
                              "the zone's latest output, measured when it is output "
                              "(observability only: never a decision input).", ["zone"],
                              registry=r)
        self.zones_g = Gauge("fleetstream_zones", "Zone engines in this process.", registry=r)
        self.duration = Histogram("fleetstream_solver_job_duration_seconds", "Wall seconds "
                                  "from submission to result of each solver job, by kind.",
                                  ["kind"], buckets=DURATION_BUCKETS, registry=r)
        self.inflight = InFlight(self.duration)
        self.engines: dict[str, Any] = {}
        self.zones_g.set_function(lambda: len(self.engines))
        self.base: dict[str, dict[str, float]] = {}
        self._lock = threading.Lock()
        self.cap_topic, self.cap_reason, self.cap_zone = LabelCap(), LabelCap(), LabelCap()
        self.dlq_seen: dict[str, int] = {}
        r.register(SolverCollector(self.inflight, lambda: list(self.engines.values())))
        self.live = LiveCollector()
        r.register(self.live)
        self.readiness.backlog = self._backlog

    def _backlog(self) -> int | None:
        """Input messages waiting on the broker (live), None when unknown (a replay)."""
        if self.live.live is None:
            return None
        lag = consumer_lag(self.live.partitions)
        return sum(lag.values()) if lag else None

    # ------------------------------------------------------------ FlowObserver

    def on_inputs(self, by_topic: dict[str, int]) -> None:
        self.readiness.activity()
        for t, n in by_topic.items():
            self.events_in.labels(self.cap_topic(t)).inc(n)

    def on_outputs(self, agg: OutputAggregate) -> None:
        self.readiness.activity()
        for t, n in agg.topics.items():
            self.outputs.labels(self.cap_topic(t)).inc(n)
        for (kind, status), n in agg.decisions.items():
            self.decisions.labels(kind, status).inc(n)
        for (kind, sev), n in agg.alerts.items():
            self.alerts.labels(kind, sev).inc(n)
        for (stage, reason), n in agg.dead_letters.items():
            self.dead_letters.labels(stage, self.cap_reason(reason)).inc(n)
        for reason, n in agg.drops.items():
            self.drops.labels(self.cap_reason(reason)).inc(n)
        if agg.zone_ts:
            now = time.time()
            for zone, ts in agg.zone_ts.items():
                z = self.cap_zone(zone)
                self.zone_ts.labels(z).set(ts)
                self.zone_lag.labels(z).set(now - ts)
        for rec in agg.errors:
            ids = rec.get("trigger_event_ids") or [None]
            log.error("%s", rec.get("message", "engine error"),
                      extra={"zone": rec.get("zone"), "event_id": ids[0],
                             "alert_id": rec.get("alert_id")})
        for rec in agg.dlq:
            self._log_dead_letter(rec)

    def _log_dead_letter(self, rec: dict) -> None:
        stage = str(rec.get("stage"))
        if stage == "engine":
            return  # logged as an engine error, with its zone and event
        from fleetstream.flows.tap import reason_label
        key = stage + "/" + reason_label(rec.get("reason", ""))
        n = self.dlq_seen[key] = self.dlq_seen.get(key, 0) + 1
        if n <= DLQ_LOG_FIRST or n % DLQ_LOG_EVERY == 0:
            log.warning("dead letter (%s): %s", stage, rec.get("reason"),
                        extra={"source_topic": rec.get("source_topic"), "seq": rec.get("seq"),
                               "count_for_reason": n})

    def on_zone(self, zone: str, engine: Any, resumed: bool) -> None:
        with self._lock:
            self.engines[zone] = engine
            # Counters count this process's work: a restored zone's totals are the baseline.
            self.base[zone] = {k: float(engine.stats.get(k, 0)) for k in ZONE_COUNTERS}
        time_solver_jobs(engine, self.inflight)
        log.debug("zone engine %s", "restored" if resumed else "created", extra={"zone": zone})

    def on_zone_stats(self, zone: str, stats: dict[str, float]) -> None:
        base = self.base.get(zone)
        if base is None:
            return
        z = self.cap_zone(zone)
        for key, (fam, labels) in ZONE_COUNTERS.items():
            v = float(stats.get(key, 0))
            d = v - base[key]
            if d <= 0:
                continue
            base[key] = v
            if fam == "guard":
                self.guard.labels(*labels).inc(d)
            else:
                getattr(self, fam).labels(z, *labels).inc(d)
        scored = float(stats.get("eta_scored", 0))
        if scored > 0:
            self.eta_mae.labels(z).set(float(stats.get("eta_abs_err_s", 0)) / scored)
            self.eta_cov.labels(z, "80").set(float(stats.get("cov80", 0)) / scored)
            self.eta_cov.labels(z, "95").set(float(stats.get("cov95", 0)) / scored)

    def on_source_listed(self, parts: list[str]) -> None:
        self.readiness.sources_listed(parts)

    def on_source_built(self, part: str, resumed: bool, partition: Any) -> None:
        self.live.partitions.append(partition)
        self.readiness.source_built(part, resumed)
        log.info("input partition %s assigned%s", part,
                 " (resumed from recovery)" if resumed else "")
