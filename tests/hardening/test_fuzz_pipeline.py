"""Property-based fuzz of decode + track + a zone engine step (issue 11): whatever
the message (bytes, JSON, event time, envelope types), nothing raises, every message
ends routed, dead-lettered or dropped, every dead letter fits the fs.dlq schema, and
no output holds a non-finite number.  Bounded and seeded (``derandomize``) so CI is
deterministic; ``benchmarks/fuzz.py`` runs the same pipeline on 10^6 messages."""

from __future__ import annotations

import copy
import os
import sys

import jsonschema
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
from fuzz import IDS, TS_SHIFTS, FuzzPipeline, run  # noqa: E402

from fleetstream.connectors.files import read_replay  # noqa: E402
from fleetstream.contract.events import INPUT_TOPICS  # noqa: E402
from fleetstream.contract.message import InMsg  # noqa: E402
from fleetstream.contract.outputs import TOPIC_DLQ, output_schema  # noqa: E402
from fleetstream.operators.pipeline import decode  # noqa: E402

WARM = 700          # tiny messages processed before fuzzing: vehicles and orders exist
CORPUS = (WARM, WARM + 400)
DLQ = jsonschema.Draft202012Validator(output_schema(TOPIC_DLQ))

json_leaf = (st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70)
             | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20)
             | st.sampled_from(["", "Z\n1", "\x00", "2026-11-24T08:00:00Z", "a" * 200]))
json_value = st.recursive(json_leaf, lambda c: st.lists(c, max_size=3)
                          | st.dictionaries(st.text(max_size=6), c, max_size=3), max_leaves=8)


@pytest.fixture(scope="module")
def warm(tiny):
    msgs = list(read_replay(tiny.path))
    pipe = FuzzPipeline()
    for m in msgs[:WARM]:
        pipe.process(m)
    assert pipe.zones and not pipe.crashes
    return pipe, msgs


def _set(obj: dict, key: str, value) -> bytes:
    obj = dict(obj)
    obj[key] = value
    try:
        return orjson.dumps(obj)
    except TypeError:  # e.g. an integer beyond 64 bits
        return repr(obj).encode()


@st.composite
def fuzzed(draw, corpus: list[InMsg]) -> InMsg:
    base = corpus[draw(st.integers(*CORPUS))]
    seq = draw(st.integers(10 ** 6, 10 ** 7))
    try:
        obj = orjson.loads(base.value)
    except orjson.JSONDecodeError:
        obj = {}
    obj = obj if isinstance(obj, dict) else {}
    keys = sorted(obj) + ["ts", "zone", "factor", "lat", "window_end", "capacity"]
    kind = draw(st.sampled_from(["field", "drop", "ts", "id", "bytes", "bitflip", "envelope",
                                 "new_id", "shift_bits"]))
    topic, key, value = base.topic, base.key, base.value
    if kind == "field":
        value = _set(obj, draw(st.sampled_from(keys)), draw(json_value))
    elif kind == "drop" and obj:
        obj.pop(draw(st.sampled_from(sorted(obj))))
        value = orjson.dumps(obj)
    elif kind == "ts" and isinstance(obj.get("ts"), (int, float)):
        shift = draw(st.sampled_from(TS_SHIFTS) | st.floats(-1e10, 1e10))
        value = _set({**obj, "event_id": f"h{seq}"}, "ts", obj["ts"] + shift)
    elif kind == "id":
        name = draw(st.sampled_from(IDS))
        old = str(obj.get(name, "x"))
        value = _set(obj, name, old + draw(st.characters(max_codepoint=0x3000,
                                                         exclude_categories=["Cs"])))
    elif kind == "bytes":
        value = draw(st.binary(max_size=300))
    elif kind == "bitflip" and value:
        b = bytearray(value)
        i = draw(st.integers(0, len(b) - 1))
        b[i] ^= 1 << draw(st.integers(0, 7))
        value = bytes(b)
    elif kind == "envelope":
        topic = draw(st.sampled_from(INPUT_TOPICS) | json_value)
        key = draw(st.none() | st.text(max_size=10) | json_value)
        value = draw(st.binary(max_size=50) | json_value | st.just(value))
    elif kind == "new_id":
        value = _set(obj, "event_id", f"h{seq}")
    elif kind == "shift_bits" and isinstance(obj.get("ts"), (int, float)):
        import struct
        (u,) = struct.unpack("<Q", struct.pack("<d", float(obj["ts"])))
        ts = struct.unpack("<d", struct.pack("<Q", u ^ (1 << draw(st.integers(0, 63)))))[0]
        value = _set({**obj, "event_id": f"h{seq}"}, "ts", ts)
    return InMsg(seq, topic, key, value)  # type: ignore[arg-type]


def _check(pipe: FuzzPipeline, msgs: list[InMsg]) -> None:
    before = pipe.total
    for m in msgs:
        ok, rec = decode(m)
        if not ok:
            DLQ.validate(rec)
        assert pipe.process(m) in ("routed", "dead_letter", "dropped", "held"), \
            pipe.crashes[-1:]
    pipe.finish()  # the end of the input: what stage 1 still holds is dead-lettered
    assert pipe.fate["held"] == 0
    assert pipe.total - before == len(msgs)  # every message accounted for, once
    assert not pipe.crashes, pipe.crashes[0][1]
    assert not pipe.engine_errors, pipe.engine_errors[:3]
    assert not pipe.nonfinite, pipe.nonfinite[:3]


@settings(max_examples=120, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.filter_too_much])
@given(data=st.data())
def test_fuzzed_messages_never_crash_and_are_all_accounted_for(warm, data):
    pipe0, msgs = warm
    pipe = copy.deepcopy(pipe0)
    batch = data.draw(st.lists(fuzzed(msgs), min_size=1, max_size=6))
    # the fuzzed messages, then the real stream goes on: the engine still works
    _check(pipe, batch + msgs[CORPUS[1]:CORPUS[1] + 30])
    assert pipe.fate["routed"] > 0


def test_seeded_mutation_run_of_the_benchmark(tiny):
    """The benchmark's own mutators (every kind) on tiny: 3,000 mutants, no crash."""
    pipe, mut, _secs = run(3000, seed=7, replay=tiny.path, progress=False)
    assert set(mut.kinds) == set(__import__("fuzz").KINDS)
    s = pipe.summary()
    assert s["crashes"] == 0 and s["engine_errors"] == 0 and s["nonfinite_outputs"] == 0
    assert sum(s["fate"].values()) == s["messages"] == 3000 + len(list(read_replay(tiny.path)))
    assert s["fate"]["dead_letter"] > 1000 and s["fate"]["routed"] > 1000
