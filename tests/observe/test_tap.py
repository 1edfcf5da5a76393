"""The flow tap counts without changing anything: outputs are the same bytes with the
metrics observer installed or not, and the counts match the output files."""

from __future__ import annotations

import gzip
import os

import orjson
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from fleetstream.flows import tap
from fleetstream.flows.tap import OutputAggregate, reason_label
from fleetstream.observe.metrics import EngineMetrics, LabelCap
from fleetstream.replay import run_replay

BAD = [  # inputs that must become dead letters (decode and track stages)
    {"topic": "fs.telemetry", "key": "VZ1-000", "value": "{\"type\":\"ping\",\"event_id\":\"x"},
    {"topic": "fs.telemetry", "key": "V-NOBODY", "value": orjson.dumps(
        {"type": "ping", "event_id": "ghost-1", "ts": 1772420000.0, "vehicle_id": "V-NOBODY",
         "lat": 52.5, "lon": 13.4, "v": 1}).decode()},
    {"topic": "fs.orders", "key": "O1", "value": "[1, 2, 3]"},
]


def _with_bad_lines(src: str, dst: str) -> int:
    with gzip.open(os.path.join(src, "events.jsonl.gz"), "rb") as f:
        lines = f.read().splitlines()
    at = len(lines) // 2
    lines[at:at] = [orjson.dumps(b) for b in BAD]
    os.makedirs(dst, exist_ok=True)
    with gzip.open(os.path.join(dst, "events.jsonl.gz"), "wb") as f:
        f.write(b"\n".join(lines) + b"\n")
    return len(lines)


def _files(d: str) -> dict[str, bytes]:
    out = {}
    for name in sorted(os.listdir(d)):
        p = os.path.join(d, name)
        if os.path.isfile(p):
            with open(p, "rb") as f:
                out[name] = f.read()
    return out


@pytest.mark.slow
def test_outputs_are_the_same_bytes_with_the_tap_and_counts_match(tiny, tmp_path) -> None:
    replay = str(tmp_path / "replay")
    n_in = _with_bad_lines(tiny.path, replay)
    off, on = str(tmp_path / "off"), str(tmp_path / "on")
    assert tap.current() is None
    run_replay(replay, off)
    m = EngineMetrics(run_id="t", mode="replay")
    tap.install(m)
    try:
        run_replay(replay, on)
    finally:
        tap.install(None)
    a, b = _files(off), _files(on)
    assert a.keys() == b.keys() and "fs.decisions.jsonl" in a
    for name in a:
        assert a[name] == b[name], f"{name} differs with the tap on"

    fams = {f.name: f for f in text_string_to_metric_families(
        generate_latest(m.registry).decode())}

    def tot(name: str, **labels: str) -> float:
        return sum(s.value for s in fams[name].samples
                   if s.name.endswith("_total") and labels.items() <= s.labels.items())

    assert tot("fleetstream_events_in") == n_in
    by_topic: dict[str, int] = {}
    for name, data in a.items():
        if name.endswith(".jsonl"):
            by_topic[name[:-6]] = len(data.splitlines())
    for topic, n in by_topic.items():
        assert tot("fleetstream_outputs", topic=topic) == n, topic
    assert by_topic["fs.dlq"] >= len(BAD)
    assert tot("fleetstream_dead_letters") == by_topic["fs.dlq"]
    assert tot("fleetstream_dead_letters", stage="decode", reason="malformed_json") >= 1
    assert tot("fleetstream_dead_letters", stage="decode", reason="expected_a_json_object") >= 1
    assert tot("fleetstream_dead_letters", stage="track", reason="unknown_vehicle") >= 1
    decisions = [orjson.loads(x) for x in a["fs.decisions.jsonl"].splitlines()]
    assert tot("fleetstream_decisions") == len(decisions)
    kinds = {(d["kind"], d["status"]) for d in decisions}
    for k, s in kinds:
        assert tot("fleetstream_decisions", kind=k, status=s) == sum(
            1 for d in decisions if (d["kind"], d["status"]) == (k, s))
    assert m.readiness.conditions["sources_assigned"]


def test_the_tap_adds_steps_only_when_an_observer_is_installed(tmp_path) -> None:
    from fleetstream.replay import make_flow
    from fleetstream.contract.settings import EngineSettings

    def steps(flow) -> set[str]:
        return {s.step_id for s in flow.substeps}

    plain = steps(make_flow("replay_data/small", str(tmp_path / "a"), EngineSettings()))
    tap.install(EngineMetrics())
    try:
        tapped = steps(make_flow("replay_data/small", str(tmp_path / "b"), EngineSettings()))
    finally:
        tap.install(None)
    assert not any("tap_" in s for s in plain)
    assert {s for s in tapped if "tap_" in s} and plain < tapped


def test_output_aggregate_counts_a_chunk() -> None:
    chunk = [
        ("fs.decisions", "p", {"kind": "assign", "status": "applied", "zone": "Z1", "ts": 10.0}),
        ("fs.decisions", "p", {"kind": "assign", "status": "applied", "zone": "Z2", "ts": 30.0}),
        ("fs.alerts", "p", {"kind": "engine_error", "severity": "critical", "zone": "Z1",
                            "ts": 20.0, "trigger_event_ids": ["e1"], "message": "boom"}),
        ("fs.dlq", "p", {"stage": "decode", "reason": "lat: must be <= 90, got 123"}),
        ("_drops", "p", {"reason": "duplicate event_id e5"}),
    ]
    a = OutputAggregate.of(chunk)
    assert a.topics == {"fs.decisions": 2, "fs.alerts": 1, "fs.dlq": 1, "_drops": 1}
    assert a.decisions == {("assign", "applied"): 2}
    assert a.alerts == {("engine_error", "critical"): 1}
    assert a.dead_letters == {("decode", "lat"): 1}
    assert a.drops == {"duplicate": 1}
    assert a.zone_ts == {"Z1": 20.0, "Z2": 30.0}
    assert [e["message"] for e in a.errors] == ["boom"]


def test_data_derived_labels_are_bounded() -> None:
    cap = LabelCap(3)
    assert [cap(x) for x in "abcda"] == ["a", "b", "c", "other", "a"]
    assert reason_label("x" * 500) == "x" * 40
    assert reason_label("") == "unknown"
    assert reason_label("Ünïcode: ?") == "n_code"


@pytest.mark.slow
def test_a_resumed_replay_with_metrics_reports_recovery_and_counts_only_its_work(
        tiny, tmp_path) -> None:
    """Crash a replay with recovery, resume it with the metrics on: the outputs are those
    of an uninterrupted run, /readyz reports the resume, and the zone counters start from
    the restored totals (no jump by the lifetime of the zone)."""
    from fleetstream.connectors.files import read_replay
    ref, out, db = str(tmp_path / "ref"), str(tmp_path / "out"), str(tmp_path / "db")
    run_replay(tiny.path, ref)
    n = sum(1 for _ in read_replay(tiny.path))
    try:
        run_replay(tiny.path, out, recovery_dir=db, epoch_interval_s=0.01, batch_size=100,
                   crash_at=n // 2)
    except Exception:  # noqa: BLE001 - the simulated crash
        pass
    else:
        raise AssertionError("the replay should have crashed")
    m = EngineMetrics(run_id="resume", mode="replay")
    tap.install(m)
    try:
        run_replay(tiny.path, out, recovery_dir=db, epoch_interval_s=0.01, batch_size=100,
                   fresh=False)
    finally:
        tap.install(None)
    assert _files(out) == _files(ref)
    assert m.readiness.report()["resumed_from_recovery"] is True
    fams = {f.name: f for f in text_string_to_metric_families(
        generate_latest(m.registry).decode())}
    scored_now = sum(s.value for s in fams["fleetstream_eta_scored"].samples
                     if s.name.endswith("_total"))
    lifetime = {z: e.stats.get("eta_scored", 0) for z, e in m.engines.items()}
    assert 0 < scored_now < sum(lifetime.values()), (scored_now, lifetime)
    assert sum(s.value for s in fams["fleetstream_events_in"].samples
               if s.name.endswith("_total")) < n  # only what this run read
