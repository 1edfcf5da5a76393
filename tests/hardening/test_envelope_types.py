"""Envelope hardening (issue 11): a message whose topic, key or value has the wrong
type, or that is larger than ``limits.max_message_bytes``, is dead-lettered with a
reason naming what is wrong and the message's bytes; it never raises.

Measured before the fix: ``{"topic":1,"key":"x","value":"{}"}`` in a replay killed
the run with a traceback (``int.startswith`` in operators/pipeline.py) and no output;
a 79 MB line was parsed and accepted."""

from __future__ import annotations

import base64
import gzip
import os

import jsonschema
import orjson
import pytest

from fleetstream.contract import events as ev
from fleetstream.contract.outputs import output_schema, TOPIC_DLQ
from fleetstream.contract.settings import LimitsSettings
from fleetstream.operators.pipeline import InMsg, decode

DLQ_SCHEMA = output_schema(TOPIC_DLQ)
PING = orjson.dumps({"type": "ping", "event_id": "p1", "ts": 1_795_507_200, "v": 1,
                     "vehicle_id": "V1", "lat": 52.5, "lon": 13.4, "speed_kmh": 20,
                     "heading": 90})


def _dead(msg: InMsg, limits: LimitsSettings | None = None) -> dict:
    ok, rec = decode(msg) if limits is None else decode(msg, limits)
    assert not ok, rec
    jsonschema.validate(rec, DLQ_SCHEMA)
    orjson.dumps(rec)  # plain JSON
    assert rec["stage"] == "decode"
    return rec


@pytest.mark.parametrize("topic", [1, 1.5, None, True, ["fs.telemetry"], {"t": 1}, b"fs.telemetry"])
def test_topic_of_the_wrong_type_is_a_dead_letter(topic):
    rec = _dead(InMsg(4, topic, "x", PING))  # type: ignore[arg-type]
    assert rec["reason"].startswith("topic: expected a string"), rec["reason"]
    assert rec["source_topic"] == "?"
    assert rec["raw"].encode() == PING and rec["seq"] == 4


@pytest.mark.parametrize("key", [1, 2.5, True, ["V1"], {"k": 1}])
def test_key_of_the_wrong_type_is_a_dead_letter_and_the_record_keeps_the_schema(key):
    rec = _dead(InMsg(5, "fs.telemetry", key, PING))  # type: ignore[arg-type]
    assert rec["reason"].startswith("key: expected a string or null"), rec["reason"]
    assert "key" not in rec  # the DLQ schema says key is a string
    assert rec["raw"].encode() == PING


@pytest.mark.parametrize("value,raw", [(None, ""), (12, "12"), ("text", "text"),
                                       (["a"], '["a"]'), ({"a": 1}, '{"a":1}')])
def test_value_of_the_wrong_type_is_a_dead_letter(value, raw):
    rec = _dead(InMsg(6, "fs.telemetry", "V1", value))  # type: ignore[arg-type]
    assert rec["reason"].startswith("value: expected bytes"), rec["reason"]
    assert rec["raw"] == raw


def test_bytearray_value_is_decoded_like_bytes():
    ok, e = decode(InMsg(0, "fs.telemetry", "V1", bytearray(PING)))  # type: ignore[arg-type]
    assert ok and e.vehicle_id == "V1"


def test_huge_topic_or_key_is_cut_in_the_dead_letter():
    rec = _dead(InMsg(1, "x" * 100_000, "k" * 100_000, PING))
    assert len(rec["source_topic"]) <= 256 and len(rec.get("key", "")) <= 256


# ---------------------------------------------------------------- message size


def test_message_over_the_limit_is_dead_lettered_before_parsing_with_truncated_bytes():
    lim = LimitsSettings(max_message_bytes=4096)
    big = b'{"type":"ping","pad":"' + b"a" * 10_000 + b'"}'
    rec = _dead(InMsg(9, "fs.telemetry", "V1", big), lim)
    assert "max_message_bytes" in rec["reason"] and "10" in rec["reason"]
    assert "truncated" in rec["reason"]
    assert rec["raw"].encode() == big[:4096]


def test_truncation_keeps_whole_utf8_characters():
    lim = LimitsSettings(max_message_bytes=1024)
    big = b"a" + "é".encode() * 2000  # the cut falls inside a character
    rec = _dead(InMsg(9, "fs.telemetry", None, big), lim)
    assert "raw_b64" not in rec and rec["raw"] == "a" + "é" * 511  # 1023 bytes


def test_message_at_the_limit_is_parsed():
    padded = PING[:-1] + b',"pad":"' + b"a" * 1200 + b'"}'  # unknown fields are ignored
    lim = LimitsSettings(max_message_bytes=len(padded) + len("fs.telemetry") + 2)
    ok, e = decode(InMsg(0, "fs.telemetry", "V1", padded), lim)
    assert ok and e.event_id == "p1"
    ok, rec = decode(InMsg(0, "fs.telemetry", "V12", padded), lim)
    assert not ok and "max_message_bytes" in rec["reason"]


def test_default_limit_rejects_a_multi_megabyte_message():
    big = PING[:-1] + b',"pad":"' + b"a" * 3_000_000 + b'"}'
    rec = _dead(InMsg(0, "fs.telemetry", "V1", big))
    assert "max_message_bytes" in rec["reason"]
    assert len(rec["raw"]) == LimitsSettings().max_message_bytes


# ---------------------------------------------------------------- end to end


def _replay(tmp_path, lines: list[bytes]) -> str:
    path = str(tmp_path / "events.jsonl.gz")
    with gzip.GzipFile(path, "wb", mtime=0) as f:
        for line in lines:
            f.write(line + b"\n")
    return path


def test_replay_with_a_non_string_topic_runs_to_the_end(tmp_path, tiny):
    """The measured crash: the run now completes and the line is a dead letter."""
    from fleetstream.replay import run_replay

    with gzip.open(os.path.join(tiny.path, "events.jsonl.gz"), "rb") as f:
        good = f.read().splitlines()
    bad = [b'{"topic":1,"key":"x","value":"{}"}',
           b'{"topic":"fs.orders","key":7,"value":"{}"}',
           b'{"topic":["fs.orders"],"key":null,"value_b64":"' + base64.b64encode(b"\xff") + b'"}']
    out = str(tmp_path / "out")
    run_replay(_replay(tmp_path, bad + good), out)
    with open(os.path.join(out, "fs.dlq.jsonl"), "rb") as f:
        dlq = {r["seq"]: r for r in map(orjson.loads, f)}
    assert dlq[0]["reason"].startswith("topic: expected a string, got int")
    assert dlq[0]["raw"] == "{}"
    assert dlq[1]["reason"].startswith("key: expected a string or null, got int")
    assert dlq[2]["reason"].startswith("topic: expected a string, got list")
    assert dlq[2]["raw_b64"] == base64.b64encode(b"\xff").decode()
    with open(os.path.join(out, "fs.decisions.jsonl"), "rb") as f:
        assert len(f.read().splitlines()) == len(tiny.closed_loop("fs.decisions"))

