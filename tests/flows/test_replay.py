"""The Bytewax flow over replay files: same decisions as the closed loop,
byte-identical across runs and worker counts, dead letters for bad input,
recovery that loses and changes nothing."""

from __future__ import annotations

import os

import orjson
import pytest

from fleetstream.connectors.files import SimulatedCrash, read_replay, write_replay
from fleetstream.contract.outputs import OUTPUT_TOPICS
from fleetstream.replay import FILE_TOPICS, run_replay
from fleetstream.operators.pipeline import InMsg

TOPICS = list(OUTPUT_TOPICS)


def _read(out: str, topic: str) -> list[dict]:
    with open(os.path.join(out, topic + ".jsonl"), "rb") as f:
        return [orjson.loads(x) for x in f]


def _files(out: str) -> dict[str, bytes]:
    return {t: open(os.path.join(out, t + ".jsonl"), "rb").read() for t in FILE_TOPICS}


@pytest.fixture(scope="module")
def one_worker(tiny, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("w1"))
    run_replay(tiny.path, out, workers=1)
    return out


def test_flow_reproduces_the_closed_loop(tiny, one_worker):
    """The flow's decisions, ETAs, alerts and notifications equal what the engine
    decided in closed loop with the simulator (canonical order: time, zone, sequence)."""
    for topic in ("fs.decisions", "fs.eta", "fs.alerts", "fs.notifications"):
        got = _read(one_worker, topic)
        want = tiny.closed_loop(topic)
        assert sorted(orjson.dumps(x) for x in got) == sorted(orjson.dumps(x) for x in want), topic
    assert any(d["kind"] == "assign" for d in _read(one_worker, "fs.decisions"))
    assert _read(one_worker, "fs.eta")


def test_twice_and_two_workers_are_byte_identical(tiny, one_worker, tmp_path):
    """Running again, and with two workers, writes byte-identical output files."""
    again = str(tmp_path / "again")
    run_replay(tiny.path, again, workers=1)
    assert _files(again) == _files(one_worker)
    two = str(tmp_path / "two")
    run_replay(tiny.path, two, workers=2)
    assert _files(two) == _files(one_worker)


BAD = [
    ("fs.telemetry", b'{"type":"ping","event_id":"x",', "malformed JSON"),
    ("fs.telemetry", b"\xff\xfe\x00 not utf-8", "malformed JSON"),
    ("fs.telemetry", b'[1, 2]', "expected a JSON object"),
    ("fs.telemetry", b'{"type":"teleport","event_id":"x","ts":1,"v":1}', "unknown event type"),
    ("fs.orders", b'{"type":"ping","event_id":"x","ts":1,"v":1}', "belongs on fs.telemetry"),
    ("fs.telemetry", b'{"type":"ping","event_id":"x","ts":1,"v":1,"lat":1,"lon":1,'
                     b'"speed_kmh":1,"heading":1}', "vehicle_id: required"),
    ("fs.telemetry", b'{"type":"ping","event_id":"x","ts":1,"v":1,"vehicle_id":"V","lat":91,'
                     b'"lon":1,"speed_kmh":1,"heading":1}', "lat: must be <= 90"),
    ("fs.telemetry", b'{"type":"ping","event_id":"x","ts":"2026-03-02T07:00:00","v":1,'
                     b'"vehicle_id":"V","lat":1,"lon":1,"speed_kmh":1,"heading":1}', "ts: timestamp needs a UTC offset"),
    ("fs.telemetry", b'{"type":"ping","event_id":"x","ts":1,"v":2,"vehicle_id":"V","lat":1,'
                     b'"lon":1,"speed_kmh":1,"heading":1}', "v: must be between 1 and 1"),
    ("fs.telemetry", b'{"type":"ping","event_id":"ghost","ts":5,"v":1,"vehicle_id":"GHOST",'
                     b'"lat":1,"lon":1,"speed_kmh":1,"heading":1}', "unknown vehicle"),
    ("fs.orders", b'{"type":"order_delivered","event_id":"g2","ts":5,"v":1,"order_id":"NOPE",'
                  b'"vehicle_id":"V"}', "unknown order"),
]


def test_each_kind_of_bad_input_is_dead_lettered_with_reason_and_bytes(tiny, tmp_path):
    """Every malformed or invalid message lands in fs.dlq with a reason naming the
    problem and its original bytes; the rest of the stream is processed as before."""
    good = list(read_replay(tiny.path))
    msgs = [InMsg(0, t, "k", raw) for t, raw, _ in BAD] + good
    msgs = [InMsg(i, m.topic, m.key, m.value) for i, m in enumerate(msgs)]
    path = str(tmp_path / "bad.jsonl")
    write_replay(path, msgs)
    with open(path, "ab") as f:
        f.write(b"this line is not an envelope\n")
    out = str(tmp_path / "out")
    run_replay(path, out)
    dlq = {d["seq"]: d for d in _read(out, "fs.dlq")}
    for i, (_topic, raw, reason) in enumerate(BAD):
        assert i in dlq, f"bad message {i} ({reason}) not dead-lettered"
        assert reason in dlq[i]["reason"], (reason, dlq[i]["reason"])
        if "raw_b64" in dlq[i]:
            import base64
            assert base64.b64decode(dlq[i]["raw_b64"]) == raw
        else:
            assert dlq[i]["raw"].encode() == raw
    corrupt = dlq[len(msgs)]
    assert corrupt["raw"] == "this line is not an envelope"
    # The good part of the stream decided as much as without the bad prefix.
    assert len(_read(out, "fs.decisions")) == len(tiny.closed_loop("fs.decisions"))


def test_duplicates_and_out_of_order_pings_are_dropped_not_errors(tiny, tmp_path):
    """A repeated event id is a no-op and a ping older than the vehicle's last is
    dropped; both are counted in _drops, neither is a dead letter."""
    msgs = list(read_replay(tiny.path))
    pings = [m for m in msgs if m.topic == "fs.telemetry" and b'"type":"ping"' in m.value]
    later = pings[-1]
    earlier = pings[-40]
    # the latest fleet or order event: inside the dedupe window (event time) at the end
    dup = [m for m in msgs if m.topic in ("fs.orders", "fs.fleet")][-1]
    extra = msgs + [InMsg(0, dup.topic, dup.key, dup.value), InMsg(0, later.topic, later.key, later.value)]
    # an out-of-order ping: a vehicle's older fix with a new id, after its newer ones
    old = orjson.loads(earlier.value)
    old["event_id"] = "late-fix"
    extra.append(InMsg(0, earlier.topic, earlier.key, orjson.dumps(old)))
    extra = [InMsg(i, m.topic, m.key, m.value) for i, m in enumerate(extra)]
    path = str(tmp_path / "dups.jsonl")
    write_replay(path, extra)
    out = str(tmp_path / "out")
    run_replay(path, out)
    drops = {d["seq"]: d["reason"] for d in _read(out, "_drops")}
    n = len(msgs)
    assert drops[n].startswith("duplicate event_id")
    assert drops[n + 1].startswith("duplicate event_id")
    assert drops[n + 2].startswith("stale ping")
    assert not [d for d in _read(out, "fs.dlq") if d["seq"] >= n]
    base = str(tmp_path / "base")
    run_replay(tiny.path, base)
    assert _read(out, "fs.decisions") == _read(base, "fs.decisions")


def test_an_exception_in_decision_code_is_reported_and_the_flow_goes_on(tiny, tmp_path, monkeypatch):
    """If the zone engine raises on one event, that event goes to fs.dlq (stage engine)
    with an engine_error alert, and the following events are still processed."""
    from fleetstream.operators.zone.world import World as ZoneEngine  # owner of on_condition
    original = ZoneEngine.on_condition

    def boom(self, ev, out):
        raise RuntimeError("injected failure")

    monkeypatch.setattr(ZoneEngine, "on_condition", boom)
    out = str(tmp_path / "out")
    run_replay(tiny.path, out)
    monkeypatch.setattr(ZoneEngine, "on_condition", original)
    engine_dlq = [d for d in _read(out, "fs.dlq") if d["stage"] == "engine"]
    assert engine_dlq and all("injected failure" in d["reason"] for d in engine_dlq)
    assert any(a["kind"] == "engine_error" for a in _read(out, "fs.alerts"))
    assert _read(out, "fs.decisions"), "the flow stopped deciding after the error"


def test_recovery_resume_after_a_crash_loses_and_changes_nothing(tiny, tmp_path):
    """A run killed mid-way and resumed from its Bytewax recovery store writes the same
    files as an uninterrupted run: no decision lost, none changed or duplicated."""
    ref = str(tmp_path / "ref")
    run_replay(tiny.path, ref, epoch_interval_s=0.01, batch_size=100)
    out, db = str(tmp_path / "out"), str(tmp_path / "db")
    n = sum(1 for _ in read_replay(tiny.path))
    with pytest.raises(Exception) as err:
        run_replay(tiny.path, out, recovery_dir=db, epoch_interval_s=0.01, batch_size=100,
                   crash_at=n // 2)
    assert isinstance(err.value.__cause__, SimulatedCrash)
    partial = sum(os.path.getsize(os.path.join(out, "raw", f)) for f in os.listdir(os.path.join(out, "raw")))
    assert partial > 0, "the crashed run should have written part of its output"
    run_replay(tiny.path, out, recovery_dir=db, epoch_interval_s=0.01, batch_size=100, fresh=False)
    assert _files(out) == _files(ref)
