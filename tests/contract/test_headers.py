"""Kafka headers of output records (fleetstream.contract.headers): names, values,
determinism and the trace id rule documented in docs/topics.md."""

from __future__ import annotations

import pytest

from fleetstream.contract import headers as h
from fleetstream.contract.outputs import CONTRACT_VERSION, OUTPUT_SCHEMA_VERSION, OUTPUT_TOPICS


def _d(topic: str, rec: dict) -> dict[str, str]:
    return {k: v.decode() for k, v in h.output_headers(topic, rec)}


def test_every_output_topic_gets_every_header_as_bytes():
    rec = {"trigger_event_ids": ["e1"], "v": 1}
    for t in OUTPUT_TOPICS:
        hs = h.output_headers(t, rec)
        assert [k for k, _ in hs] == list(h.HEADER_NAMES)
        assert all(isinstance(k, str) and isinstance(v, bytes) for k, v in hs)
        d = _d(t, rec)
        assert d["content-type"] == "application/json"
        assert d["schema_version"] == CONTRACT_VERSION
        assert int(d["schema_version"].split(".")[0]) == OUTPUT_SCHEMA_VERSION
        assert d["schema_id"].endswith(":" + t)
        assert d["producer"].startswith("fleetstream/")


def test_trace_id_links_a_record_to_its_cause():
    # a decision answering a proposal: the proposal's id
    assert _d("fs.decisions", {"decision_id": "D-2", "refers_to": "D-1",
                               "trigger_event_ids": ["ap-D-1", "p9"]})["trace_id"] == "D-1"
    # otherwise the (first) triggering input event
    assert _d("fs.decisions", {"decision_id": "D-3",
                               "trigger_event_ids": ["p7", "p8"]})["trace_id"] == "p7"
    assert _d("fs.eta", {"eta_id": "E-1", "trigger_event_ids": ["p5"]})["trace_id"] == "p5"
    assert _d("fs.outcomes", {"outcome_id": "O-1", "trigger_event_ids": ["od3"]})[
        "trace_id"] == "od3"
    # a dead letter: its position in the input
    assert _d("fs.dlq", {"source_topic": "fs.orders", "seq": 41})["trace_id"] == "fs.orders@41"
    # no cause in the record: the record's own id
    assert _d("fs.notifications", {"notification_id": "N-Z1-1-2"})["trace_id"] == "N-Z1-1-2"
    assert _d("fs.alerts", {"alert_id": "A-1", "trigger_event_ids": []})["trace_id"] == "A-1"


def test_headers_are_deterministic_and_reject_unknown_topics():
    rec = {"decision_id": "D", "trigger_event_ids": ["x"]}
    assert h.output_headers("fs.decisions", rec) == h.output_headers("fs.decisions", dict(rec))
    with pytest.raises(KeyError, match="not an output topic"):
        h.output_headers("fs.telemetry", rec)


def test_every_header_is_documented():
    assert set(h.HEADER_DOCS) == set(h.HEADER_NAMES)
    assert all(len(v) > 20 for v in h.HEADER_DOCS.values())
