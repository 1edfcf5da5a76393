"""decode_event on bytes that are not an event: malformed JSON, non-UTF-8, non-object
values, unknown or wrong-topic types, unknown topics.  Each gives a ValidationError
with a reason (never another exception), and the pipeline's decode step turns it
into a dead letter carrying that reason and the original bytes."""

from __future__ import annotations

import orjson
import pytest

from contract_cases import good_event
from fleetstream.contract import events as ev
from fleetstream.operators.pipeline import InMsg, decode

PING = good_event(ev.Ping)

MALFORMED = [
    ("truncated", b'{"type":"ping","event_id":"x",'),
    ("empty", b""),
    ("whitespace", b"  \n"),
    ("not-utf8", b"\xff\xfe\x00 not utf-8"),
    ("trailing-garbage", orjson.dumps(PING) + b"}"),
    ("nan-literal", b'{"type":"ping","lat":NaN}'),
    ("number-overflow", b'{"type":"ping","lat":1e400}'),
    ("deep-nesting", b"[" * 5000 + b"]" * 5000),
    ("single-quotes", b"{'type': 'ping'}"),
]
NON_OBJECT = [("null", b"null"), ("array", b"[1, 2]"), ("string", b'"ping"'),
              ("number", b"42"), ("bool", b"true")]


@pytest.mark.parametrize("raw", [m[1] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed_bytes_give_a_reason(raw):
    with pytest.raises(ev.ValidationError) as err:
        ev.decode_event(raw, "fs.telemetry")
    assert err.value.field == ""
    assert str(err.value).startswith("malformed JSON: ")


@pytest.mark.parametrize("raw", [m[1] for m in NON_OBJECT], ids=[m[0] for m in NON_OBJECT])
def test_non_object_gives_a_reason(raw):
    with pytest.raises(ev.ValidationError) as err:
        ev.decode_event(raw, "fs.telemetry")
    assert err.value.field == ""
    assert str(err.value).startswith("expected a JSON object, got ")


@pytest.mark.parametrize("type_value", [None, "", "pong", 5, ["ping"], {"t": "ping"}, "PING"])
def test_unknown_or_missing_type_names_the_type_field(type_value):
    obj = dict(PING)
    if type_value is None:
        del obj["type"]
    else:
        obj["type"] = type_value
    with pytest.raises(ev.ValidationError) as err:
        ev.decode_event(orjson.dumps(obj), "fs.telemetry")
    assert err.value.field == "type"
    assert "unknown event type" in err.value.reason


@pytest.mark.parametrize("topic", ["fs.orders", "fs.nowhere", "", "fs.telemetry.dlq"])
def test_event_on_a_topic_it_does_not_belong_to(topic):
    """A ping on another topic (known or not) is rejected, naming where it belongs."""
    with pytest.raises(ev.ValidationError) as err:
        ev.decode_event(orjson.dumps(PING), topic)
    assert err.value.field == "type"
    assert err.value.reason == f"ping belongs on fs.telemetry, not {topic}"


def test_every_type_is_accepted_only_on_its_own_topic():
    for cls in ev.EVENT_TYPES.values():
        raw = orjson.dumps(good_event(cls))
        assert type(ev.decode_event(raw, cls.TOPIC)) is cls
        assert type(ev.decode_event(raw)) is cls  # no topic: any
        for other in ev.INPUT_TOPICS:
            if other != cls.TOPIC:
                with pytest.raises(ev.ValidationError, match="belongs on"):
                    ev.decode_event(raw, other)


def test_unknown_fields_are_ignored():
    obj = {**PING, "firmware": "1.2.3", "extra": {"nested": [1, 2]}}
    e = ev.decode_event(orjson.dumps(obj), "fs.telemetry")
    assert e == ev.decode_event(orjson.dumps(PING), "fs.telemetry")
    assert "firmware" not in ev.encode_event(e).decode()


def test_str_input_is_accepted_like_bytes():
    raw = orjson.dumps(PING)
    assert ev.decode_event(raw.decode(), "fs.telemetry") == ev.decode_event(raw, "fs.telemetry")


def test_first_bad_field_is_reported_in_declaration_order():
    """Several bad fields: the reason names the first declared one, deterministically."""
    obj = {**PING, "lat": 100, "speed_kmh": -1}
    with pytest.raises(ev.ValidationError) as err:
        ev.decode_event(orjson.dumps(obj), "fs.telemetry")
    assert err.value.field == "lat"


CASES = MALFORMED + NON_OBJECT + [
    ("unknown-type", orjson.dumps({**PING, "type": "pong"})),
    ("bad-field", orjson.dumps({**PING, "heading": 400})),
]


@pytest.mark.parametrize("raw", [m[1] for m in CASES], ids=[m[0] for m in CASES])
def test_pipeline_decode_dead_letters_with_reason_and_bytes(raw):
    msg = InMsg(7, "fs.telemetry", "v1", raw, 2, 99)
    ok, rec = decode(msg)
    assert not ok
    with pytest.raises(ev.ValidationError) as err:
        ev.decode_event(raw, "fs.telemetry")
    assert rec["reason"] == str(err.value)
    assert rec["stage"] == "decode" and rec["seq"] == 7 and rec["source_topic"] == "fs.telemetry"
    assert (rec["partition"], rec["offset"], rec["key"]) == (2, 99, "v1")
    try:
        assert rec["raw"] == raw.decode("utf-8") and "raw_b64" not in rec
    except UnicodeDecodeError:
        import base64
        assert base64.b64decode(rec["raw_b64"]) == raw


def test_pipeline_decode_unknown_topic_gives_a_reason():
    ok, rec = decode(InMsg(3, "fs.nowhere", None, orjson.dumps(PING)))
    assert not ok
    assert "not an input topic" in rec["reason"] and "fs.nowhere" in rec["reason"]
