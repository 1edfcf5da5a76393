"""Collectors read at scrape time: solver jobs, the live connectors, solver memory.

Each reads counters that their owners keep anyway (``operators/jobs.py``'s
``METRICS``, the zone engines' pending jobs, the Kafka and Redis sinks' counters,
the Kafka source partitions' error counts) and never writes to them.

Solver-job durations and the queued/running split need to see each job start and
end: :class:`TimedExecutor` wraps a zone's solver executor (metrics on only) and
records submit -> done per job.  It hands the same futures back, so the zone gets
the same results.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import Future
from typing import Any, Callable, Iterable

from prometheus_client import Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from fleetstream.operators import jobs as solver_jobs

DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)


class InFlight:
    """Solver jobs submitted and not yet finished, across every zone of the process."""

    def __init__(self, duration: Histogram):
        self.lock = threading.Lock()
        self.futures: dict[int, tuple[str, Future]] = {}
        self.duration = duration

    def track(self, kind: str, fut: Future) -> None:
        t0 = time.monotonic()
        key = id(fut)
        with self.lock:
            self.futures[key] = (kind, fut)

        def done(_f: Future) -> None:
            self.duration.labels(kind).observe(time.monotonic() - t0)
            with self.lock:
                self.futures.pop(key, None)

        fut.add_done_callback(done)  # runs at once if already done (inline solves)

    def counts(self) -> tuple[int, int]:
        """``(queued, running)``: running = a solver process has taken the job."""
        with self.lock:
            futs = [f for _k, f in self.futures.values()]
        running = sum(1 for f in futs if f.running())
        return len(futs) - running, running


class TimedExecutor:
    """Wraps a zone's solver executor: same futures, plus timing (metrics only)."""

    def __init__(self, inner: Any, inflight: InFlight):
        self.inner = inner
        self.inflight = inflight

    def submit(self, fn: Callable, *args: Any) -> Future:
        fut = self.inner.submit(fn, *args)
        kind = getattr(fn, "__name__", "job").removeprefix("solve_")
        self.inflight.track(kind, fut)
        return fut

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def time_solver_jobs(engine: Any, inflight: InFlight) -> None:
    """Wrap ``engine.jobs``'s executor (once).  Engines without solver jobs: nothing."""
    sj = getattr(engine, "jobs", None)
    if sj is None or not hasattr(sj, "executor"):
        return
    inner = sj.executor  # the executor it would use anyway (created on first use)
    if not isinstance(inner, TimedExecutor):
        sj._executor = TimedExecutor(inner, inflight)


def _rss_of(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class SolverCollector(Collector):
    def __init__(self, inflight: InFlight, zones: Callable[[], Iterable[Any]]):
        self.inflight = inflight
        self.zones = zones

    def collect(self):
        m = dict(solver_jobs.METRICS)
        for name, key, doc in (
                ("fleetstream_solver_jobs_submitted", "submitted", "Solver jobs submitted."),
                ("fleetstream_solver_jobs_applied", "applied",
                 "Solver job results applied at their due event time."),
                ("fleetstream_solver_jobs_resubmitted", "resubmitted",
                 "Solver jobs submitted again after a restore from recovery."),
                ("fleetstream_solver_waits", "waits",
                 "Results not ready at their due event time: the event path waited."),
                ("fleetstream_solver_wait_seconds", "wait_s",
                 "Wall seconds the event path spent waiting for late solver results.")):
            c = CounterMetricFamily(name, doc)
            c.add_metric([], float(m.get(key, 0)))
            yield c
        g = GaugeMetricFamily("fleetstream_solver_max_wait_seconds",
                              "Longest single wait for a late solver result.")
        g.add_metric([], float(m.get("max_wait_s", 0.0)))
        yield g
        pending: dict[str, int] = {}
        for eng in list(self.zones()):
            for job in list(getattr(getattr(eng, "jobs", None), "pending", ()) or ()):
                pending[job.kind] = pending.get(job.kind, 0) + 1
        g = GaugeMetricFamily("fleetstream_solver_jobs_pending",
                              "Solver jobs submitted and not yet applied (solving, or solved "
                              "and waiting for their due event time), by kind.", labels=["kind"])
        for k in ("plan", "reopt", "risk", *sorted(set(pending) - {"plan", "reopt", "risk"})):
            g.add_metric([k], pending.get(k, 0))
        yield g
        queued, running = self.inflight.counts()
        g = GaugeMetricFamily("fleetstream_solver_jobs_queued",
                              "Solver jobs waiting for a free solver process.")
        g.add_metric([], queued)
        yield g
        g = GaugeMetricFamily("fleetstream_solver_jobs_running",
                              "Solver jobs handed to a solver process (the process pool "
                              "counts a job running once it enters its call queue: at most "
                              "one more than the processes).")
        g.add_metric([], running)
        yield g
        pool = solver_jobs._POOL  # read only: the process pool of this process, if any
        procs = getattr(pool, "_processes", None) or {}
        g = GaugeMetricFamily("fleetstream_solver_pool_processes", "Solver processes alive.")
        g.add_metric([], len(procs))
        yield g
        g = GaugeMetricFamily("fleetstream_solver_pool_resident_memory_bytes",
                              "Resident memory of the solver processes, summed.")
        g.add_metric([], sum(_rss_of(pid) for pid in list(procs)))
        yield g


class LiveCollector(Collector):
    """Kafka and Redis connector health of a live run.  Families are exported (without
    samples) in a replay too, so dashboards and alert rules see the same names."""

    def __init__(self) -> None:
        self.live: Any = None  # fleetstream.live.LiveFlow
        self.partitions: list[Any] = []  # the Kafka source partitions built

    def collect(self):
        lf = self.live
        redis = None
        if lf is not None and getattr(lf, "redis_sink", None) is not None:
            try:
                redis = lf.redis_sink.stats.metrics()
            except Exception:  # noqa: BLE001 - a scrape never fails on a connector
                redis = None
        g = GaugeMetricFamily("fleetstream_redis_up",
                              "1 when the last Redis read-model write succeeded.")
        if redis is not None:
            g.add_metric([], 1.0 if redis.get("connected", True) else 0.0)
        yield g
        for name, key, doc in (
                ("fleetstream_redis_outages", "outages", "Times Redis went away."),
                ("fleetstream_redis_failed_batches", "failed_batches",
                 "Read-model pipelines that hit an outage."),
                ("fleetstream_redis_dropped_records", "dropped",
                 "Read-model records dropped from a full backlog during an outage."),
                ("fleetstream_redis_written_records", "written", "Read-model records applied."),
                ("fleetstream_redis_sink_errors", "sink_errors",
                 "Read-model writes that raised (never stops the engine).")):
            c = CounterMetricFamily(name, doc)
            if redis is not None:
                c.add_metric([], float(redis.get(key, 0)))
            yield c
        g = GaugeMetricFamily("fleetstream_redis_backlog_records",
                              "Read-model records waiting for Redis to come back.")
        if redis is not None:
            g.add_metric([], float(redis.get("backlog", 0)))
        yield g
        kafka = lf is not None
        reach = [getattr(p, "reachable", None) for p in self.partitions]
        reach = [r for r in reach if isinstance(r, bool)]
        g = GaugeMetricFamily("fleetstream_kafka_up", "1 when the broker answered the input "
                              "source's last request, 0 during an outage.")
        if kafka and reach:
            g.add_metric([], 1.0 if all(reach) else 0.0)
        yield g
        for name, attr, doc in (
                ("fleetstream_kafka_offset_commits", "committed",
                 "Consumer-group offset commits (for lag tools; recovery stays the source "
                 "of truth)."),
                ("fleetstream_kafka_merge_holds_expired", "gave_up",
                 "Times the timestamp merge stopped waiting for a lagging input partition "
                 "(the order may then differ from a replay).")):
            c = CounterMetricFamily(name, doc)
            vals = [getattr(p, attr, None) for p in self.partitions]
            vals = [v for v in vals if isinstance(v, (int, float))]
            if kafka and vals:
                c.add_metric([], float(sum(vals)))
            yield c
        c = CounterMetricFamily("fleetstream_kafka_consumer_errors",
                                "Kafka client-level consumer errors (broker down, "
                                "connection refused...; librdkafka reconnects by itself).")
        if kafka:
            c.add_metric([], float(sum(getattr(p, "errors", 0) for p in self.partitions)))
        yield c
        g = GaugeMetricFamily("fleetstream_kafka_seconds_since_last_fetch",
                              "Seconds since a Kafka fetch last brought messages "
                              "(idle input or an outage).")
        arrivals = [getattr(p, "last_arrival", -1.0) for p in self.partitions]
        arrivals = [a for a in arrivals if isinstance(a, (int, float)) and a >= 0]
        if kafka and arrivals:
            g.add_metric([], time.monotonic() - max(arrivals))
        yield g
        g = GaugeMetricFamily("fleetstream_kafka_consumer_lag_messages",
                              "Input messages on the broker not yet read by the engine, by "
                              "topic (the client's cached high watermark minus the next "
                              "offset to read).", labels=["topic"])
        if kafka:
            for topic, lag in sorted(consumer_lag(self.partitions).items()):
                g.add_metric([topic], float(lag))
        yield g
        c = CounterMetricFamily("fleetstream_kafka_produced_records",
                                "Records acknowledged by Kafka, by output topic.",
                                labels=["topic"])
        sink = getattr(lf, "kafka_sink", None) if kafka else None
        if sink is not None:
            for t, n in sorted(sink.counters.snapshot().items()):
                c.add_metric([t], float(n))
        yield c
        c = CounterMetricFamily("fleetstream_kafka_output_skipped",
                                "Output records skipped by Kafka as permanently too large.")
        if sink is not None:
            c.add_metric([], float(sink.counters.skipped))
        yield c


def consumer_lag(partitions: list[Any]) -> dict[str, int]:
    """Per input topic: cached high watermark minus the next offset to read, summed
    over its partitions.  Reads the client's cache only (no broker round trip)."""
    out: dict[str, int] = {}
    for p in partitions:
        consumer, nxt = getattr(p, "consumer", None), getattr(p, "next", None)
        streams = getattr(p, "topics", None)
        if consumer is None or not isinstance(nxt, dict) or not streams:
            continue
        try:
            from confluent_kafka import TopicPartition
            pos = dict(nxt)
            for topic, part in list(streams):
                lo, hi = consumer.get_watermark_offsets(TopicPartition(topic, part),
                                                        cached=True)
                if hi is None or hi < 0:
                    continue
                start = pos.get((topic, part), lo if lo is not None and lo >= 0 else 0)
                out[topic] = out.get(topic, 0) + max(0, hi - start)
        except Exception:  # noqa: BLE001 - a scrape never fails on a connector
            continue
    return out
