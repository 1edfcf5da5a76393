"""/healthz, /readyz and /metrics of the endpoint, driven through the flow observer."""

from __future__ import annotations

import json

from fleetstream.observe.metrics import EngineMetrics
from fleetstream.observe.server import MetricsServer
from .scrape import get, scrape, total


def test_readiness_follows_the_source_partitions_and_the_end_of_the_run() -> None:
    m = EngineMetrics(run_id="h1", mode="live")
    srv = MetricsServer(m.registry, m.readiness, "127.0.0.1", 0, info=lambda: {"run_id": "h1"})
    base = f"http://127.0.0.1:{srv.port}"
    try:
        code, body = get(base + "/healthz")
        assert code == 200 and json.loads(body)["status"] == "ok"
        code, body = get(base + "/readyz")
        rep = json.loads(body)
        assert code == 503 and rep["ready"] is False and rep["run_id"] == "h1"
        assert rep["conditions"]["sources_assigned"] is False
        assert total(scrape(srv.port), "fleetstream_ready") == 0

        m.on_source_listed(["p0", "p1"])
        m.on_source_built("p0", resumed=True, partition=object())
        assert get(base + "/readyz")[0] == 503  # one of two partitions: not yet
        m.on_source_built("p1", resumed=True, partition=object())
        code, body = get(base + "/readyz")
        rep = json.loads(body)
        assert code == 200 and rep["ready"] and rep["resumed_from_recovery"] is True
        assert total(scrape(srv.port), "fleetstream_ready") == 1

        m.readiness.finish()
        code, body = get(base + "/readyz")
        assert code == 503 and json.loads(body)["conditions"]["running"] is False
        assert get(base + "/healthz")[0] == 200  # finished is not dead

        code, body = get(base + "/metrics")
        assert code == 200 and b"# TYPE fleetstream_events_in_total counter" in body
        assert get(base + "/nope")[0] == 404
    finally:
        srv.close()


def test_zone_counters_count_this_process_only() -> None:
    """A zone restored from recovery brings its lifetime counters: the metrics count
    from there (a restart is a counter reset, not a jump), the ratios use the lifetime."""
    class Eng:
        zone = "Z9"
        stats = {"eta_scored": 100, "eta_abs_err_s": 30000.0, "cov80": 80, "cov95": 95,
                 "plan_time_guard_hit": 2}

    m = EngineMetrics()
    eng = Eng()
    m.on_zone("Z9", eng, resumed=True)
    m.on_zone_stats("Z9", eng.stats)
    fams = {k: v for k, v in _families(m).items()}
    assert _v(fams, "fleetstream_eta_scored_total", zone="Z9") == 0
    eng.stats = {**eng.stats, "eta_scored": 110, "eta_abs_err_s": 31000.0, "cov80": 88,
                 "cov95": 105, "plan_time_guard_hit": 3}
    m.on_zone_stats("Z9", eng.stats)
    fams = _families(m)
    assert _v(fams, "fleetstream_eta_scored_total", zone="Z9") == 10
    assert _v(fams, "fleetstream_eta_abs_error_seconds_total", zone="Z9") == 1000
    assert _v(fams, "fleetstream_eta_interval_hits_total", zone="Z9", level="80") == 8
    assert _v(fams, "fleetstream_solver_guard_hits_total", kind="plan") == 1
    assert abs(_v(fams, "fleetstream_eta_mae_seconds", zone="Z9") - 31000 / 110) < 1e-9
    assert abs(_v(fams, "fleetstream_eta_interval_coverage_ratio", zone="Z9", level="95")
               - 105 / 110) < 1e-9


def _families(m: EngineMetrics) -> dict:
    from prometheus_client import generate_latest
    from prometheus_client.parser import text_string_to_metric_families
    out = {}
    for f in text_string_to_metric_families(generate_latest(m.registry).decode()):
        for s in f.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _v(fams: dict, name: str, **labels: str) -> float:
    return fams.get((name, tuple(sorted(labels.items()))), 0.0)


def test_connector_health_is_read_from_the_live_flow_and_the_source_partitions() -> None:
    """The counters the Kafka source partitions and the sinks keep reach /metrics."""
    class Consumer:
        def get_watermark_offsets(self, tp, cached=False):
            assert cached  # the scrape never asks the broker
            return (0, 100) if tp.partition == 0 else (0, -1001)  # -1001: not known yet

    class Part:
        reachable, errors, committed, gave_up, last_arrival = False, 3, 7, 1, -1.0
        consumer = Consumer()
        topics = [("fs.telemetry", 0), ("fs.telemetry", 1)]
        next = {("fs.telemetry", 0): 60}

    class Counters:
        skipped = 2

        def snapshot(self) -> dict:
            return {"fs.decisions": 5}

    class Sink:
        counters = Counters()

    class Stats:
        def metrics(self) -> dict:
            return {"connected": False, "outages": 2, "backlog": 40, "dropped": 0,
                    "written": 9, "failed_batches": 3, "sink_errors": 0}

    class RedisSink:
        stats = Stats()

    class Live:
        kafka_sink, redis_sink = Sink(), RedisSink()

    m = EngineMetrics(mode="live")
    fams = _families(m)
    assert ("fleetstream_kafka_up", ()) not in fams  # no live flow: declared, no sample
    m.live.live = Live()
    m.on_source_built("all", resumed=False, partition=Part())
    fams = _families(m)
    assert _v(fams, "fleetstream_kafka_up") == 0
    assert _v(fams, "fleetstream_kafka_consumer_errors_total") == 3
    assert _v(fams, "fleetstream_kafka_offset_commits_total") == 7
    assert _v(fams, "fleetstream_kafka_consumer_lag_messages", topic="fs.telemetry") == 40
    assert _v(fams, "fleetstream_kafka_produced_records_total", topic="fs.decisions") == 5
    assert _v(fams, "fleetstream_kafka_output_skipped_total") == 2
    assert _v(fams, "fleetstream_redis_up") == 0
    assert _v(fams, "fleetstream_redis_outages_total") == 2
    assert _v(fams, "fleetstream_redis_backlog_records") == 40
    Part.reachable = True
    assert _v(_families(m), "fleetstream_kafka_up") == 1


def test_healthz_reports_a_stalled_flow_only_when_input_waits() -> None:
    import time as _time
    m = EngineMetrics(mode="live")
    srv = MetricsServer(m.registry, m.readiness, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{srv.port}/healthz"
    waiting = [0]
    m.readiness.backlog = lambda: waiting[0]
    try:
        m.readiness.stall_s = 0.2
        m.readiness.activity()
        _time.sleep(0.4)
        assert get(url)[0] == 200  # idle, but nothing waits: a quiet input
        waiting[0] = 12
        code, body = get(url)
        rep = json.loads(body)
        assert code == 503 and rep["status"] == "stalled" and rep["input_waiting"] == 12
        m.on_inputs({"fs.telemetry": 1})  # the flow takes input again
        assert get(url)[0] == 200
        m.readiness.stall_s = 0.0  # off (the default)
        _time.sleep(0.4)
        assert get(url)[0] == 200
    finally:
        srv.close()
