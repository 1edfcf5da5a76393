"""Property-based fuzz (hypothesis) of the decoder and of the engine (issue 11, item 8).

Generated inputs: envelopes of any type (topic, key and value of the wrong type),
events built field by field from the real event types with, per field, a valid
value or a hostile one (another JSON type, numeric extremes, non-finite number
literals, huge strings, control characters, ids of existing or unknown entities,
timestamps from year 1970 to 2100+ and odd RFC 3339 strings).  Properties:

- the decoder never raises; a rejected message is a dead letter that fits the
  fs.dlq schema, names a reason and keeps the message's bytes;
- through decode, track and the zone engine, no exception escapes, every message
  ends exactly once as routed, dead-lettered (reason and bytes) or dropped, and no
  output holds a non-finite number or is an engine error;
- no zone freezes: after the fuzzed messages, a valid order later in time than
  anything seen is still decided by its zone (a decision or an ``unassigned`` alert
  naming it, within 15 minutes of event time; the probe starts a new vehicle first).

Bounded and deterministic: ``derandomize=True``, no example database, a fixed
``max_examples``; the whole file runs in well under a minute.
"""

from __future__ import annotations

import base64
import copy
import os
import sys

import jsonschema
import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
from fleetstream.connectors.files import read_replay
from fleetstream.operators.pipeline import decode
from fuzz import NASTY_NUM, NASTY_STR, FuzzPipeline, nonfinite_path, zone_decides

from fleetstream.contract.events import INPUT_TOPICS
from fleetstream.contract.message import InMsg
from fleetstream.contract.outputs import TOPIC_DLQ, output_schema
from fleetstream.contract.settings import LimitsSettings

WARM = 700           # tiny messages processed first: the zone has vehicles and orders
LIMITS = LimitsSettings()
DLQ = jsonschema.Draft202012Validator(output_schema(TOPIC_DLQ))
SETTINGS = dict(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])
TIME_FIELDS = ("ts", "window_start", "window_end", "start_ts", "end_ts", "shift_end_ts")
ID_FIELDS = ("event_id", "vehicle_id", "driver_id", "order_id", "customer_id", "zone",
             "decision_id")
YEAR = 365.25 * 86_400

json_leaf = (st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70)
             | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20))
json_value = st.recursive(json_leaf, lambda c: st.lists(c, max_size=3)
                          | st.dictionaries(st.text(max_size=6), c, max_size=3), max_leaves=8)
control_text = st.text(st.characters(max_codepoint=0x9f, exclude_categories=["Cs"]),
                       min_size=1, max_size=12)
# Non-finite and out-of-range number literals, written into the JSON text as is.
NUMBER_LITERALS = [b"1e999", b"-1e999", b"NaN", b"Infinity", b"1e308", b"-0.0",
                   b"123456789012345678901234567890", b"4.9e-324"]


# ---------------------------------------------------------------- fixtures


class Warm:
    """A pipeline warmed on the tiny recording, the real messages and, per event
    type, a real event to build generated ones from."""

    def __init__(self, pipe: FuzzPipeline, msgs: list[InMsg]):
        self.pipe = pipe
        self.msgs = msgs
        self.templates: dict[str, tuple[str, dict]] = {}
        for m in msgs:
            try:
                o = orjson.loads(m.value)
            except orjson.JSONDecodeError:
                continue
            if isinstance(o, dict) and isinstance(o.get("type"), str):
                self.templates.setdefault(o["type"], (m.topic, o))
        zone = next(iter(pipe.zones.values())).state
        self.zone = zone.zone
        self.ids = {"vehicle_id": sorted(zone.vehicles), "order_id": sorted(zone.orders),
                    "customer_id": sorted(zone.customers)[:50], "zone": [zone.zone],
                    "driver_id": ["D1"], "event_id": ["e1"], "decision_id": ["D-x-1-1"]}
        self.clock = zone.clock


@pytest.fixture(scope="module")
def warm(tiny) -> Warm:
    msgs = list(read_replay(tiny.path))
    pipe = FuzzPipeline(limits=LIMITS)
    for m in msgs[:WARM]:
        pipe.process(m)
    assert len(pipe.zones) == 1 and not pipe.crashes
    w = Warm(pipe, msgs)
    assert {"order_created", "ping", "shift_start", "customer_profile"} <= set(w.templates)
    return w


# ---------------------------------------------------------------- strategies


def _id_value(w: Warm, name: str):
    known = w.ids.get(name) or ["x"]
    return st.one_of(st.sampled_from(known), st.text("ABCXYZ0123456789-_", min_size=1,
                                                     max_size=12),
                     st.sampled_from(NASTY_STR), control_text, json_leaf)


def _time_value(w: Warm):
    near = st.floats(-7200, 7200).map(lambda d: w.clock + d)
    far = st.sampled_from([-30 * YEAR, -YEAR, -86_400.0, 6 * 3600.0, 6 * 3600 + 1.0,
                           86_400.0, YEAR, 30 * YEAR, 1e12]).map(lambda d: w.clock + d)
    odd = st.sampled_from([0, -1, 4_102_444_800, 32_503_680_000, "2026-11-24T08:00:00Z",
                           "2026-02-30T00:00:00Z", "9999-12-31T23:59:59Z", "now", "",
                           "2026-11-24T08:00:00", True, None, [], 1e308])
    return st.one_of(near, near, far, odd)


def _hostile(w: Warm, name: str, orig):
    if name in TIME_FIELDS:
        return _time_value(w)
    if name in ID_FIELDS:
        return _id_value(w, name)
    options = [json_value, st.sampled_from(NASTY_NUM), st.sampled_from(NASTY_STR),
               st.integers(1, 300_000).map(lambda n: "x" * n)]  # up to past the size limit
    if isinstance(orig, (int, float)) and not isinstance(orig, bool):
        options.append(st.floats(allow_nan=False, allow_infinity=False))
    return st.one_of(*options)


@st.composite
def event_message(draw, w: Warm, seq: int) -> InMsg:
    """A message built from a real event type, each field valid or hostile."""
    etype = draw(st.sampled_from(sorted(w.templates)))
    topic, tmpl = w.templates[etype]
    obj = dict(tmpl)
    obj["event_id"] = f"h{seq}"
    obj["ts"] = w.clock + draw(st.floats(1, 600))
    for name in sorted(tmpl):
        if name in ("type", "v"):
            continue
        choice = draw(st.integers(0, 5))
        if choice == 0:      # hostile value
            obj[name] = draw(_hostile(w, name, tmpl[name]))
        elif choice == 1 and name in ID_FIELDS:
            obj[name] = draw(st.sampled_from(w.ids.get(name) or ["x"]))
        elif choice == 2 and draw(st.booleans()):
            obj.pop(name)
    if draw(st.integers(0, 9)) == 0:
        obj[draw(st.text(max_size=8))] = draw(json_value)
    if draw(st.integers(0, 5)) == 0:
        topic = draw(st.sampled_from(INPUT_TOPICS))
    literal = None
    if obj and draw(st.integers(0, 7)) == 0:  # a non-finite or huge number literal
        field = draw(st.sampled_from(sorted(obj)))
        literal = orjson.dumps(field) + b":" + draw(st.sampled_from(NUMBER_LITERALS))
        obj[field] = "@LITERAL@"
    try:
        value = orjson.dumps(obj)
    except TypeError:   # an integer beyond 64 bits
        value = repr(obj).encode()
    if literal is not None:
        value = value.replace(orjson.dumps(field) + b':"@LITERAL@"', literal, 1)
    key = draw(st.one_of(st.just(obj.get("vehicle_id") or obj.get("order_id") or "k"),
                         st.none(), st.text(max_size=10)))
    return InMsg(seq, topic, key if isinstance(key, str) or key is None else str(key), value)


@st.composite
def any_envelope(draw, w: Warm, seq: int) -> InMsg:
    """An envelope of any shape: right or wrong types for topic, key and value."""
    topic = draw(st.one_of(st.sampled_from(INPUT_TOPICS), st.text(max_size=12), json_leaf))
    key = draw(st.one_of(st.none(), st.text(max_size=12), json_value))
    value = draw(st.one_of(st.binary(max_size=200), json_value, st.text(max_size=50),
                           event_message(w, seq).map(lambda m: m.value)))
    return InMsg(seq, topic, key, value)  # type: ignore[arg-type]


def any_message(w: Warm, seq: int):
    return st.one_of(event_message(w, seq), event_message(w, seq), any_envelope(w, seq))


# ---------------------------------------------------------------- checks


def _message_bytes(msg: InMsg) -> bytes:
    """The bytes a dead letter must keep: the value, or its text/JSON if not bytes."""
    v = msg.value
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v)
    if v is None:
        return b""
    if isinstance(v, str):
        return v.encode("utf-8", "surrogatepass")
    try:
        return orjson.dumps(v)
    except TypeError:
        return repr(v).encode("utf-8", "replace")


def check_dead_letter(msg: InMsg, rec: dict) -> None:
    DLQ.validate(rec)
    assert rec["seq"] == msg.seq
    assert rec["reason"].strip(), rec
    kept = base64.b64decode(rec["raw_b64"]) if "raw_b64" in rec else rec["raw"].encode()
    want = _message_bytes(msg)
    if len(want) > LIMITS.max_message_bytes:  # oversize: the first max_message_bytes kept
        assert want.startswith(kept) and len(kept) >= LIMITS.max_message_bytes - 3
    else:
        assert kept == want, (rec["reason"], kept[:80], want[:80])


def run_checked(pipe: FuzzPipeline, msg: InMsg) -> str:
    """Process one message and check the properties of its fate and records; a message
    stage 1 holds (too far ahead) is checked when it is released or refuted."""
    held = pipe.__dict__.setdefault("checked_held", {})
    before = pipe.total
    fate = pipe.process(msg)
    assert not pipe.crashes, pipe.crashes[-1][1]
    assert pipe.total == before + 1
    assert fate in ("routed", "dead_letter", "dropped", "held")
    dlq = [r for t, r in pipe.last if t == TOPIC_DLQ and r.get("seq") == msg.seq]
    if fate == "dead_letter":
        assert len(dlq) == 1, pipe.last
        check_dead_letter(msg, dlq[0])
    elif fate == "held":
        assert not dlq
        held[msg.seq] = msg
    for t, rec in pipe.last:
        assert nonfinite_path(rec) is None, (t, rec)
        orjson.dumps(rec)
        if t != TOPIC_DLQ:
            continue
        if rec.get("seq") != msg.seq and rec.get("seq") in held:  # a held one, refuted
            check_dead_letter(held.pop(rec["seq"]), rec)
        elif fate == "routed" and rec.get("seq") == msg.seq:  # stage engine: bytes kept
            check_dead_letter(msg, rec)
    assert not pipe.engine_errors, pipe.engine_errors[:3]
    assert not pipe.nonfinite, pipe.nonfinite[:3]
    return fate


def probe_zone_still_decides(w: Warm, pipe: FuzzPipeline, seq: int) -> None:
    """Valid events later than every clock (a new vehicle's shift, an order, its pings a
    minute apart, ``fuzz.zone_decides``), each checked: within 15 minutes of event time
    the zone decides about the order (a decision naming it, or an ``unassigned``
    alert)."""
    ok = zone_decides(pipe, w.zone, w.templates, seq, process=lambda m: run_checked(pipe, m))
    assert ok, f"zone {w.zone} did not decide order PROBE-{seq} (clock " \
               f"{pipe.zones[w.zone].state.clock})"


# ---------------------------------------------------------------- tests


@settings(max_examples=300, **SETTINGS)
@given(data=st.data())
def test_decoder_never_raises_and_dead_letters_keep_reason_and_bytes(warm, data):
    msg = data.draw(any_message(warm, 5_000_000))
    ok, out = decode(msg, LIMITS)  # must not raise
    event("event" if ok else "dead letter")
    if ok:
        assert out.TYPE and isinstance(out.event_id, str)
    else:
        check_dead_letter(msg, out)


@settings(max_examples=100, **SETTINGS)
@given(data=st.data())
def test_engine_accounts_for_every_message_and_no_zone_freezes(warm, data):
    pipe = copy.deepcopy(warm.pipe)
    for i in range(data.draw(st.integers(1, 8))):
        msg = data.draw(any_message(warm, 6_000_000 + i))
        fate = run_checked(pipe, msg)
        event(fate if fate != "dead_letter" else "dead_letter: " + pipe.last[-1][1]["reason"][:25])
    probe_zone_still_decides(warm, pipe, 7_000_000)


def test_the_probe_decides_on_the_warm_pipeline(warm):
    """The freeze probe itself works on an unfuzzed pipeline (else the property is void)."""
    probe_zone_still_decides(warm, copy.deepcopy(warm.pipe), 8_000_000)


# ------------------------------------------------- the checks can fail (sanity)


def test_the_checks_catch_a_lost_dead_letter_byte_and_a_frozen_zone(warm, monkeypatch):
    """Deliberately broken engines make the checks fail: a dead letter that drops the
    last byte of its message, an exception escaping the decoder, an engine error, a
    non-finite output, and a zone that no longer decides."""
    import fleetstream.operators.pipeline as pl
    import fuzz
    from fleetstream.operators.zone.engine import ZoneEngine

    ping = next(m for m in warm.msgs[WARM:] if b'"ping"' in m.value)
    good = ping._replace(value=ping.value.replace(b'"event_id":"', b'"event_id":"chk-'))

    def raising(*a, **k):
        raise RuntimeError("injected")

    monkeypatch.setattr(fuzz, "decode", raising)  # an exception escapes the pipeline
    with pytest.raises(AssertionError):
        run_checked(copy.deepcopy(warm.pipe), good)
    monkeypatch.undo()
    monkeypatch.setattr(ZoneEngine, "process", raising)  # the zone engine raises
    with pytest.raises(AssertionError):
        run_checked(copy.deepcopy(warm.pipe), good)
    monkeypatch.undo()
    monkeypatch.setattr(ZoneEngine, "process", lambda self, ev: [
        ("fs.eta", {"eta_id": "E-x", "eta": float("nan")})])  # a non-finite output
    with pytest.raises(AssertionError):
        run_checked(copy.deepcopy(warm.pipe), good)
    monkeypatch.undo()
    assert run_checked(copy.deepcopy(warm.pipe), good) == "routed"  # unbroken: passes

    msg = InMsg(1, "fs.telemetry", "k", b'{"type":"ping"')
    real = pl.dead_letter

    def lossy(m, *a, **k):
        rec = real(m, *a, **k)
        rec["raw"] = rec["raw"][:-1]
        return rec

    monkeypatch.setattr(pl, "dead_letter", lossy)
    with pytest.raises(AssertionError):
        run_checked(copy.deepcopy(warm.pipe), msg)
    monkeypatch.setattr(pl, "dead_letter", real)
    monkeypatch.setattr(ZoneEngine, "sweep", lambda self, *a, **k: None)  # never decides
    with pytest.raises(AssertionError, match="did not decide"):
        probe_zone_still_decides(warm, copy.deepcopy(warm.pipe), 9_000_000)
