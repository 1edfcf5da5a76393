"""``fleetstream replay --metrics-port``: scrape /metrics, /healthz and /readyz of a
real replay (a subprocess, paced with --speed so it lives long enough to be scraped
mid-run), then the final values during --metrics-linger, checked against the files."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import orjson
import pytest

from .scrape import FAMILIES, get, readyz, scrape, status, total, wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SMALL = os.path.join(ROOT, "replay_data", "small")
with open(os.path.join(SMALL, "manifest.json"), "rb") as _f:
    EVENTS = orjson.loads(_f.read())["sizes"]["events"]   # every event of the recording


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lines(path: str) -> list[dict]:
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        return [orjson.loads(x) for x in f if x.strip()]


@pytest.mark.slow
def test_replay_serves_every_metric_family_during_and_after_the_run(tmp_path) -> None:
    port = free_port()
    out = str(tmp_path / "out")
    log = open(tmp_path / "stderr.log", "wb")
    # small spans ~8 h of event time: at 4000x the run lasts ~7 s plus start-up.
    cmd = [sys.executable, "-m", "fleetstream.cli", "replay", SMALL, "--out", out, "-q",
           "--speed", "4000", "--metrics-port", str(port), "--metrics-host", "127.0.0.1",
           "--metrics-linger", "60", "--log-format", "json", "--run-id", "it-observe"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log)
    try:
        def up() -> bool:
            assert proc.poll() is None, (tmp_path / "stderr.log").read_text()[-3000:]
            return status(f"http://127.0.0.1:{port}/healthz") == 200
        wait_for(up, 120, "/healthz")
        code, body = get(f"http://127.0.0.1:{port}/healthz")
        assert code == 200 and orjson.loads(body)["status"] == "ok"
        wait_for(lambda: readyz(port)[0] == 200, 120, "/readyz ready")
        rep = readyz(port)[1]
        assert rep["conditions"] == {"sources_assigned": True, "state_restored": True,
                                     "running": True}
        assert rep["run_id"] == "it-observe"

        # Mid-run: decisions made and ETAs scored while the flow still runs.
        def busy() -> bool:
            f = scrape(port)
            return all(total(f, n) > 0 for n in ("fleetstream_decisions", "fleetstream_eta_scored",
                                                 "fleetstream_solver_jobs_submitted"))
        wait_for(busy, 120, "decisions and scored ETAs", every_s=0.2)
        mid = scrape(port)
        assert readyz(port)[0] == 200, "the mid-run scrape should land while the replay runs"
        missing = [f for f in FAMILIES if f not in mid]
        assert not missing, f"families missing from /metrics during the run: {missing}"
        assert 0 < total(mid, "fleetstream_events_in") <= EVENTS
        assert total(mid, "fleetstream_zone_lag_seconds", zone="Z1") > 0
        assert 0 < total(mid, "fleetstream_eta_interval_coverage_ratio", level="80") <= 1
        assert total(mid, "process_resident_memory_bytes") > 50e6
        assert total(mid, "fleetstream_ready") == 1

        # The end: not ready any more (the flow finished), the endpoint still serves.
        wait_for(lambda: readyz(port)[0] == 503, 240, "/readyz not ready after the end",
                 every_s=0.3)
        assert readyz(port)[1]["conditions"]["running"] is False
        assert status(f"http://127.0.0.1:{port}/healthz") == 200
        fams = scrape(port)
        # Ctrl-C ends the linger at once (not after its 60 s).
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
        assert time.monotonic() - t0 < 15
        assert status(f"http://127.0.0.1:{port}/healthz") is None  # the endpoint is closed
    finally:
        proc.kill()  # our own subprocess, by its handle
        proc.wait(30)
        log.close()

    missing = [f for f in FAMILIES if f not in fams]
    assert not missing, f"families missing from /metrics: {missing}"

    # Values match the output files of the same run.
    assert total(fams, "fleetstream_events_in") == EVENTS
    assert total(fams, "fleetstream_events_in", topic="fs.telemetry") > 10_000
    decisions = lines(os.path.join(out, "fs.decisions.jsonl"))
    assert decisions and total(fams, "fleetstream_decisions") == len(decisions)
    for d in decisions[:5]:
        assert total(fams, "fleetstream_decisions", kind=d["kind"], status=d["status"]) >= 1
    alerts = lines(os.path.join(out, "fs.alerts.jsonl"))
    assert total(fams, "fleetstream_alerts") == len(alerts)
    dlq = lines(os.path.join(out, "fs.dlq.jsonl"))
    assert dlq and total(fams, "fleetstream_dead_letters") == len(dlq)
    assert total(fams, "fleetstream_dead_letters", stage="decode", reason="malformed_json") >= 1
    assert total(fams, "fleetstream_outputs", topic="fs.eta") == len(
        lines(os.path.join(out, "fs.eta.jsonl")))
    assert total(fams, "fleetstream_drops") == len(lines(os.path.join(out, "_drops.jsonl")))

    # ETA error and coverage as learned: scored predictions, a mean error in a
    # plausible range (seconds) and coverages between 0 and 1, 95 % >= 80 %.
    scored = total(fams, "fleetstream_eta_scored", zone="Z1")
    assert scored > 100
    mae = total(fams, "fleetstream_eta_mae_seconds", zone="Z1")
    assert 1 < mae < 3600
    assert total(fams, "fleetstream_eta_abs_error_seconds") == pytest.approx(mae * scored,
                                                                            rel=1e-6)
    c80 = total(fams, "fleetstream_eta_interval_coverage_ratio", zone="Z1", level="80")
    c95 = total(fams, "fleetstream_eta_interval_coverage_ratio", zone="Z1", level="95")
    assert 0.3 < c80 <= c95 <= 1.0

    # Lag: event time of the latest output vs the wall clock (recorded data: days old).
    ev_ts = total(fams, "fleetstream_zone_event_time_seconds", zone="Z1")
    assert ev_ts == max(r["ts"] for r in decisions + alerts + lines(
        os.path.join(out, "fs.eta.jsonl")) + lines(os.path.join(out, "fs.outcomes.jsonl"))
        + lines(os.path.join(out, "fs.notifications.jsonl")) if r.get("zone") == "Z1")
    assert total(fams, "fleetstream_zone_lag_seconds", zone="Z1") > 3600

    # Solver jobs: every submitted job applied, one duration observation each.
    sub = total(fams, "fleetstream_solver_jobs_submitted")
    assert sub > 0 and total(fams, "fleetstream_solver_jobs_applied") == sub
    assert total(fams, "fleetstream_solver_job_duration_seconds",
                 "fleetstream_solver_job_duration_seconds_count") == sub
    assert total(fams, "fleetstream_solver_jobs_pending") == 0
    assert total(fams, "fleetstream_solver_jobs_running") == 0
    assert total(fams, "fleetstream_solver_guard_hits", kind="plan") == 0

    assert total(fams, "process_resident_memory_bytes") > 50e6
    assert total(fams, "fleetstream_build_info", run_id="it-observe", mode="replay") == 1
    assert total(fams, "fleetstream_ready") == 0
    # Live-only connector families are declared but carry no sample in a replay.
    assert fams["fleetstream_redis_up"]["samples"] == {}

    # The logs are JSON lines with the run id.
    with open(tmp_path / "stderr.log", "rb") as f:
        logged = [orjson.loads(x) for x in f if x.startswith(b"{")]
    assert logged and all(r["run_id"] == "it-observe" for r in logged)
    assert any(r["msg"].startswith("dead letter") for r in logged)


def test_metrics_port_in_use_is_one_clear_line(tmp_path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        r = subprocess.run([sys.executable, "-m", "fleetstream.cli", "replay", SMALL, "--out",
                            str(tmp_path / "o"), "-q", "--metrics-port", str(port),
                            "--metrics-host", "127.0.0.1"],
                           cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert "address already in use" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow
def test_replay_with_several_processes_serves_all_their_metrics_on_one_port(tmp_path) -> None:
    """replay -p 2 --metrics-port: one endpoint; every family, each sample labelled with
    its process; the totals over processes equal the output files; the cluster's
    readiness; the processes log JSON lines like the command."""
    port = free_port()
    out = str(tmp_path / "out")
    log = open(tmp_path / "stderr.log", "wb")
    cmd = [sys.executable, "-m", "fleetstream.cli", "replay", SMALL, "--out", out, "-q",
           "-p", "2", "--speed", "4000", "--metrics-port", str(port), "--metrics-host",
           "127.0.0.1", "--metrics-linger", "60", "--log-format", "json", "--run-id", "it-p2"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log)
    try:
        def up() -> bool:
            assert proc.poll() is None, (tmp_path / "stderr.log").read_text()[-3000:]
            return status(f"http://127.0.0.1:{port}/healthz") == 200
        wait_for(up, 120, "/healthz")
        wait_for(lambda: readyz(port)[0] == 200, 120, "/readyz ready (the whole cluster)")
        rep = readyz(port)[1]
        assert rep["processes_reporting"] == 2 and rep["partitions"]["built"]
        wait_for(lambda: total(scrape(port), "fleetstream_decisions") > 0, 120,
                 "decisions mid-run", every_s=0.2)
        mid = scrape(port)
        assert readyz(port)[0] == 200, "the mid-run scrape should land while the replay runs"
        assert total(mid, "fleetstream_ready") == 1
        wait_for(lambda: readyz(port)[0] == 503, 240, "/readyz not ready after the end",
                 every_s=0.3)
        fams = scrape(port)
        proc.send_signal(signal.SIGINT)  # ends the linger
        proc.wait(30)
    finally:
        proc.kill()  # our own subprocess, by its handle
        proc.wait(30)
        log.close()
    missing = [f for f in FAMILIES if f not in fams]
    assert not missing, f"families missing from /metrics: {missing}"
    procs = {dict(lab).get("process") for f in fams.values() for (_, lab) in f["samples"]}
    assert {"0", "1", "main"} <= procs
    assert total(fams, "fleetstream_build_info", run_id="it-p2", process="1") == 1
    assert total(fams, "fleetstream_events_in") == EVENTS
    decisions = lines(os.path.join(out, "fs.decisions.jsonl"))
    assert decisions and total(fams, "fleetstream_decisions") == len(decisions)
    assert total(fams, "fleetstream_alerts") == len(lines(os.path.join(out, "fs.alerts.jsonl")))
    assert total(fams, "fleetstream_outputs", topic="fs.eta") == len(
        lines(os.path.join(out, "fs.eta.jsonl")))
    assert total(fams, "fleetstream_zones") == 1  # small has one zone, in one process
    assert total(fams, "fleetstream_ready") == 0
    with open(tmp_path / "stderr.log", "rb") as f:
        text = [x for x in f.read().splitlines() if x.strip()]
    other = [x for x in text if not x.startswith((b"{", b"fleetstream replay"))]  # + the banner
    assert other == [], other[:5]
    logged = [orjson.loads(x) for x in text if x.startswith(b"{")]
    assert any(r["msg"].startswith("dead letter") for r in logged)
    assert all(r["run_id"] == "it-p2" for r in logged)
