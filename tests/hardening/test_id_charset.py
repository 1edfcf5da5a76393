"""Ids are limited to a documented character set and length (issue 11): ASCII
letters, digits and ``_ - . : @ / + = ~``, 1 to 128 characters; free text may not
carry control characters.  A violation is a dead letter whose reason names the field.

Measured before the fix: a zone id containing ``\\n`` or ``\\r`` crashed output
finalisation after the run (half the files missing); with ``\\t`` an output line was
not JSON."""

from __future__ import annotations

import dataclasses
import glob
import os
import sys

import orjson
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "contract"))
from contract_cases import good_event  # noqa: E402  (tests/contract)

from fleetstream.contract import events as ev  # noqa: E402
from fleetstream.contract.message import InMsg  # noqa: E402
from fleetstream.operators.pipeline import decode  # noqa: E402

T0 = 1_795_507_200
ID_FIELDS = ("event_id", "vehicle_id", "driver_id", "zone", "order_id", "customer_id",
             "decision_id", "by")
BAD_IDS = [("newline", "Z\n1"), ("carriage-return", "Z\r1"), ("tab", "Z\t1"), ("space", "Z 1"),
           ("nul", "Z\x001"), ("del", "Z\x7f"), ("c1-control", "Z\x851"), ("non-ascii", "Zé"),
           ("zero-width-space", "Z\u200b1"), ("html", "<b>Z</b>"), ("quote", 'Z"1'),
           ("too-long", "Z" * 129), ("empty", "")]
GOOD_IDS = ["Z1", "V-12", "o_1.2", "acme:zone/7", "user@example.com", "a+b=c~d", "9" * 128]


def _good(cls: type[ev.Event]) -> dict:
    return good_event(cls)


def _id_fields() -> list[tuple[str, str]]:
    return [(t, f.name) for t, c in ev.EVENT_TYPES.items() for f in dataclasses.fields(c)
            if f.name in ID_FIELDS]


def test_every_id_field_is_covered():
    """Each event type's key field and every *_id / zone field is an id field here."""
    for t, c in ev.EVENT_TYPES.items():
        names = {f.name for f in dataclasses.fields(c)}
        assert c.KEY in names and c.KEY in ID_FIELDS, t
        assert {n for n in names if n.endswith("_id") or n == "zone"} <= set(ID_FIELDS), t


@pytest.mark.parametrize("label,bad", BAD_IDS, ids=[b[0] for b in BAD_IDS])
@pytest.mark.parametrize("etype,name", _id_fields(), ids=[f"{t}.{n}" for t, n in _id_fields()])
def test_bad_id_is_dead_lettered_naming_the_field(etype, name, label, bad):
    cls = ev.EVENT_TYPES[etype]
    obj = {**_good(cls), name: bad}
    raw = orjson.dumps(obj)
    with pytest.raises(ev.ValidationError) as err:
        ev.decode_event(raw, cls.TOPIC)
    assert err.value.field == name
    ok, rec = decode(InMsg(3, cls.TOPIC, "k", raw))
    assert not ok and rec["reason"].startswith(f"{name}: ") and rec["raw"].encode() == raw


@pytest.mark.parametrize("good", GOOD_IDS)
@pytest.mark.parametrize("etype,name", _id_fields(), ids=[f"{t}.{n}" for t, n in _id_fields()])
def test_documented_id_characters_are_accepted(etype, name, good):
    cls = ev.EVENT_TYPES[etype]
    e = ev.decode_event(orjson.dumps({**_good(cls), name: good}), cls.TOPIC)
    assert getattr(e, name) == good


@pytest.mark.parametrize("bad", ["hazmat\n", "age check", "", "x" * 129, "é"])
def test_list_items_are_ids_too(bad):
    obj = {**_good(ev.CustomerProfile), "service_requirements": ["call_ahead", bad]}
    with pytest.raises(ev.ValidationError) as err:
        ev.decode_event(orjson.dumps(obj), ev.TOPIC_CUSTOMERS)
    assert err.value.field == "service_requirements"


@pytest.mark.parametrize("name", ["notes", "access_instructions", "preferred_drop"])
def test_free_text_keeps_lines_and_unicode_but_not_other_controls(name):
    cls = ev.CustomerProfile
    text = "Gate 12 — code 4711\nFloor 3,\tflat «B»\r\n"
    e = ev.decode_event(orjson.dumps({**_good(cls), name: text}), cls.TOPIC)
    assert getattr(e, name) == text
    for bad in ("a\x00b", "bell\x07", "esc\x1b[31m", "del\x7f", "c1\x9b"):
        with pytest.raises(ev.ValidationError) as err:
            ev.decode_event(orjson.dumps({**_good(cls), name: bad}), cls.TOPIC)
        assert err.value.field == name and "control" in err.value.reason


@pytest.mark.parametrize("etype", ["order_cancelled", "vehicle_unavailable"])
def test_short_reasons_are_one_line(etype):
    cls = ev.EVENT_TYPES[etype]
    assert ev.decode_event(orjson.dumps({**_good(cls), "reason": "flat tyre, Süd"}), cls.TOPIC)
    with pytest.raises(ev.ValidationError) as err:
        ev.decode_event(orjson.dumps({**_good(cls), "reason": "flat\ntyre"}), cls.TOPIC)
    assert err.value.field == "reason"


@pytest.mark.parametrize("bad", ["en us", "de\n", "e", "english-language-tag", "1x"])
def test_language_is_a_bcp47_tag(bad):
    cls = ev.CustomerProfile
    for good in ("en", "de-CH", "zh-Hant-TW", "es-419"):
        assert ev.decode_event(orjson.dumps({**_good(cls), "language": good}), cls.TOPIC)
    with pytest.raises(ev.ValidationError) as err:
        ev.decode_event(orjson.dumps({**_good(cls), "language": bad}), cls.TOPIC)
    assert err.value.field == "language"


def test_id_rules_are_in_the_json_schema():
    """The schema files carry the same rule (a pattern), so producers can check."""
    import jsonschema
    from fleetstream import schemas
    s = schemas.input_schema(ev.TOPIC_FLEET)
    good = _good(ev.ShiftStart)
    jsonschema.validate(good, s)
    for _label, bad in BAD_IDS:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**good, "zone": bad}, s)


@pytest.mark.parametrize("zone", ["Z\n1", "Z\r1", "Z\t1"])
def test_replay_with_control_characters_in_a_zone_finishes_with_json_outputs(tmp_path, tiny,
                                                                              zone):
    """The measured crash: every output file is written and every line is JSON."""
    import gzip
    from fleetstream.replay import run_replay
    with gzip.open(os.path.join(tiny.path, "events.jsonl.gz"), "rb") as f:
        lines = f.read().splitlines()
    poisoned = []
    for i, line in enumerate(lines):
        env = orjson.loads(line)
        if '"shift_start"' in env.get("value", ""):
            v = orjson.loads(env["value"])
            v["zone"] = zone
            env["value"] = orjson.dumps(v).decode()
            poisoned.append(env["value"])
            lines[i] = orjson.dumps(env)
            break
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    out = str(tmp_path / "out")
    run_replay(str(path), out)
    files = sorted(glob.glob(os.path.join(out, "*.jsonl")))
    assert {os.path.basename(p) for p in files} >= {"fs.decisions.jsonl", "fs.dlq.jsonl",
                                                    "fs.eta.jsonl", "fs.alerts.jsonl"}
    for p in files:
        with open(p, "rb") as f:
            for line in f:
                orjson.loads(line)
    with open(os.path.join(out, "fs.dlq.jsonl"), "rb") as f:
        dlq = [orjson.loads(x) for x in f]
    assert any(d["raw"] == poisoned[0] and d["reason"].startswith("zone: ") for d in dlq)
