"""docs/observability.md documents every metric family the engine exports, and the
Grafana dashboard uses only metrics that exist."""

from __future__ import annotations

import json
import os
import re

from prometheus_client import generate_latest

from fleetstream.observe.metrics import EngineMetrics

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _exported() -> set[str]:
    text = generate_latest(EngineMetrics().registry).decode()
    return {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}


def test_every_exported_fleetstream_family_is_documented_and_vice_versa() -> None:
    with open(os.path.join(ROOT, "docs", "observability.md")) as f:
        doc = f.read()
    documented = set(re.findall(r"^\| `(fleetstream_\w+)`", doc, re.M))
    exported = {n for n in _exported() if n.startswith("fleetstream_")}
    assert exported - documented == set(), "exported but not documented"
    assert documented - exported == set(), "documented but not exported"


def test_dashboard_uses_only_exported_metrics() -> None:
    with open(os.path.join(ROOT, "docs", "grafana", "fleetstream.json")) as f:
        dash = json.load(f)
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    assert len(exprs) >= 20
    used = {re.sub(r"_(bucket|count|sum)$", "", m)
            for e in exprs for m in re.findall(r"\b((?:fleetstream|process)_\w+)", e)}
    exported = _exported()
    assert used - exported == set()
    # The dashboard covers every area the issue names.
    for name in ("fleetstream_events_in_total", "fleetstream_dead_letters_total",
                 "fleetstream_decisions_total", "fleetstream_alerts_total",
                 "fleetstream_eta_interval_hits_total", "fleetstream_zone_lag_seconds",
                 "fleetstream_solver_job_duration_seconds", "fleetstream_solver_guard_hits_total",
                 "fleetstream_redis_up", "fleetstream_kafka_consumer_errors_total",
                 "process_resident_memory_bytes"):
        assert name in used, name


def test_example_alert_rules_parse_and_use_exported_metrics() -> None:
    import yaml
    with open(os.path.join(ROOT, "docs", "observability.md")) as f:
        doc = f.read()
    block = doc.split("## Example alert rules", 1)[1].split("```yaml", 1)[1].split("```", 1)[0]
    rules = yaml.safe_load(block)["groups"][0]["rules"]
    assert len(rules) >= 10
    exported = _exported()
    for r in rules:
        assert r["alert"].startswith("Fleetstream") and r["expr"].strip()
        used = {re.sub(r"_(bucket|count|sum)$", "", m)
                for m in re.findall(r"\b((?:fleetstream|process)_\w+)", r["expr"])}
        assert used and used <= exported, (r["alert"], used - exported)
