"""Helpers: scrape the metrics endpoint of a running engine and read the families."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Callable

from prometheus_client.parser import text_string_to_metric_families

# Every family the issue names (docs/observability.md), present in replay and live.
FAMILIES = (
    "fleetstream_build_info", "fleetstream_ready",
    "fleetstream_events_in", "fleetstream_outputs", "fleetstream_dead_letters",
    "fleetstream_drops", "fleetstream_decisions", "fleetstream_alerts",
    "fleetstream_eta_scored", "fleetstream_eta_abs_error_seconds",
    "fleetstream_eta_interval_hits", "fleetstream_eta_mae_seconds",
    "fleetstream_eta_interval_coverage_ratio", "fleetstream_arrivals",
    "fleetstream_zone_event_time_seconds", "fleetstream_zone_lag_seconds", "fleetstream_zones",
    "fleetstream_solver_jobs_submitted", "fleetstream_solver_jobs_applied",
    "fleetstream_solver_jobs_pending", "fleetstream_solver_jobs_queued",
    "fleetstream_solver_jobs_running", "fleetstream_solver_job_duration_seconds",
    "fleetstream_solver_guard_hits", "fleetstream_solver_waits",
    "fleetstream_solver_wait_seconds", "fleetstream_solver_pool_resident_memory_bytes",
    "fleetstream_redis_up", "fleetstream_redis_outages", "fleetstream_redis_backlog_records",
    "fleetstream_kafka_consumer_errors", "fleetstream_kafka_produced_records",
    "fleetstream_kafka_up", "fleetstream_kafka_consumer_lag_messages",
    "process_resident_memory_bytes",
)


def get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def status(url: str) -> int | None:
    try:
        return get(url, 2.0)[0]
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return None


def scrape(port: int) -> dict[str, dict]:
    """family name -> {"type": ..., "samples": {(sample name, sorted labels): value}}."""
    code, body = get(f"http://127.0.0.1:{port}/metrics")
    assert code == 200
    out: dict[str, dict] = {}
    for fam in text_string_to_metric_families(body.decode()):
        out[fam.name] = {"type": fam.type, "samples": {
            (s.name, tuple(sorted(s.labels.items()))): s.value for s in fam.samples}}
    return out


def total(fams: dict, family: str, sample: str | None = None, **labels: str) -> float:
    """Sum of a family's samples (``sample``: e.g. ``..._total``) matching ``labels``."""
    f = fams.get(family)
    if f is None:
        return 0.0
    want = set(labels.items())
    return sum(v for (name, lab), v in f["samples"].items()
               if (sample is None or name == sample) and want <= set(lab))


def readyz(port: int) -> tuple[int, dict]:
    code, body = get(f"http://127.0.0.1:{port}/readyz")
    return code, json.loads(body)


def wait_for(cond: Callable[[], bool], timeout_s: float, what: str, every_s: float = 0.1) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
