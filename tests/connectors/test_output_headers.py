"""Every record the Kafka output sink produces carries the contract's headers
(docs/topics.md, "Headers"), built by fleetstream.contract.headers."""

from __future__ import annotations

from fleetstream.connectors import kafka
from fleetstream.contract.headers import HEADER_NAMES, output_headers


class _FakeProducer:
    def __init__(self) -> None:
        self.sent: list[tuple] = []

    def produce(self, topic, value, key, on_delivery=None, headers=None):
        self.sent.append((topic, key, value, headers))

    def poll(self, _t):
        return 0

    def flush(self, _t=None):
        return 0


def test_the_sink_sends_the_contract_headers():
    part = kafka._OutputPart.__new__(kafka._OutputPart)
    part.producer = _FakeProducer()
    part.prefix, part.skip = "p.", frozenset()
    part.counters = kafka.OutputCounters()
    part.flush_timeout_s, part.progress_s, part.failed = 5.0, 0.0, []
    rec = {"decision_id": "D-Z1-1-1", "trigger_event_ids": ["e1"], "v": 1}
    dlq = {"source_topic": "fs.orders", "seq": 7, "stage": "decode", "v": 1}
    part.write_batch([("fs.decisions", "Z1", rec), ("fs.dlq", "fs.orders", dlq)])
    (t1, k1, _v1, h1), (t2, _k2, _v2, h2) = part.producer.sent
    assert (t1, k1, t2) == ("p.fs.decisions", b"Z1", "p.fs.dlq")
    assert [n for n, _ in h1] == list(HEADER_NAMES) and h1 == output_headers("fs.decisions", rec)
    assert dict(h1)["trace_id"] == b"e1"
    assert dict(h2)["schema_id"].endswith(b"fs.dlq")
