"""A stalled input-lane clock (docs/limits.md, "Stalled clock"): stage 1 counts accepted
events that do not advance its lane watermark; at ``limits.clock_stall_events`` in a row
the event's zone emits one ``clock_stalled`` alert, per stall, counted in events."""

from __future__ import annotations

import pickle

import orjson
import pytest

from fleetstream.contract.message import InMsg
from fleetstream.contract.outputs import TOPIC_ALERTS
from fleetstream.contract.settings import EngineSettings, LimitsSettings
from fleetstream.flows.logic import TrackerLogic
from fleetstream.operators.pipeline import zone_step
from fleetstream.operators.tracker import PartitionTracker
from fleetstream.wiring import build_zone_engine

T0 = 1_772_400_000.0
N = 50


def _profile(seq: int, ts: float) -> InMsg:
    ev = {"type": "customer_profile", "event_id": f"c{seq}", "ts": ts, "v": 1,
          "customer_id": f"C{seq}", "zone": "Z1", "language": "en"}
    return InMsg(seq, "fs.customers", f"C{seq}", orjson.dumps(ev))


def _stream() -> list[InMsg]:
    """On time, then a backlog of old events (behind the watermark: accepted, they do
    not move it), on time again, a second backlog."""
    msgs, seq = [], 0
    for part, (start, step, n) in enumerate([(T0, 10, 100), (T0 - 10_000, 0, 120),
                                              (T0 + 2_000, 10, 100), (T0 - 8_000, 1, 3 * N)]):
        for i in range(n):
            msgs.append(_profile(seq, start + step * i))
            seq += 1
    return msgs


def _run(limits: LimitsSettings, chunk: int = 37) -> tuple[list[dict], TrackerLogic]:
    logic = TrackerLogic(None, True, limits)
    eng = build_zone_engine("Z1", EngineSettings(), limits=limits)
    msgs = _stream()
    alerts = []
    for i in range(0, len(msgs), chunk):
        out, _ = logic.on_batch([msgs[i:i + chunk]])
        for item in out:
            assert item[0] == "zone", item
            for msg, ev in item[2]:
                for topic, rec in zone_step(eng, msg, ev):
                    if topic == TOPIC_ALERTS and rec["kind"] == "clock_stalled":
                        alerts.append(rec)
        if i == 148:  # a snapshot mid-stall restores the count
            logic = TrackerLogic(pickle.loads(pickle.dumps(logic.snapshot())), True, limits)
    return alerts, logic


def test_one_alert_per_stall_counted_in_events():
    alerts, logic = _run(LimitsSettings(clock_stall_events=N))
    lane = [a for a in alerts if a["message"].startswith("Input lane")]
    assert len(lane) == 2, [a["message"] for a in alerts]
    assert [a["details"]["events"] for a in lane] == [N, N]
    # the alert is raised by the N-th accepted event that did not advance the watermark
    assert lane[0]["trigger_event_ids"] == [f"c{100 + N - 1}"]
    assert lane[0]["details"]["behind_s"] > 9_000
    assert logic.tracker.stalls == 2


def test_deterministic_and_off_at_zero():
    a1, _ = _run(LimitsSettings(clock_stall_events=N), chunk=37)
    a2, _ = _run(LimitsSettings(clock_stall_events=N), chunk=5)
    assert a1 == a2
    off, logic = _run(LimitsSettings(clock_stall_events=0))
    assert not [a for a in off if a["message"].startswith("Input lane")]
    assert logic.tracker.stalls == 0


def test_an_advancing_lane_never_stalls():
    t = PartitionTracker(clock_stall_events=3)
    from fleetstream.contract.events import validate
    for i in range(500):
        t.process(validate({"type": "customer_profile", "event_id": f"e{i}", "ts": T0 + i,
                            "v": 1, "customer_id": f"C{i}", "zone": "Z1", "language": "en"}))
        assert t.stall is None
    assert t.stalls == 0


def _stalls_in(path: str, k: int) -> int:
    """Stalls of ``k`` events that one lane's tracker counts over a recording's valid events."""
    import gzip

    from fleetstream.contract.events import validate
    t = PartitionTracker(clock_stall_events=k)
    with gzip.open(path) as f:
        for line in f:
            try:
                ev = validate(orjson.loads(orjson.loads(line)["value"]))
            except Exception:   # the recording's malformed messages: dead letters
                continue
            t.process(ev)
    return t.stalls


@pytest.mark.slow
def test_the_bytewax_flow_emits_it_on_any_lanes_and_workers(tmp_path):
    """End to end on ``small`` (events behind the lane watermark come one at a time, a
    few dozen times a day): at ``clock_stall_events=1`` the replay flow writes one lane
    alert per stall the tracker counts over the recording, the same bytes on one lane
    and worker as on two of each."""
    import os

    from fleetstream.replay import run_replay
    small = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), "replay_data", "small")
    expected = _stalls_in(os.path.join(small, "events.jsonl.gz"), 1)
    assert expected > 0, "the recording has no event behind its lane watermark"
    limits = LimitsSettings(clock_stall_events=1)
    one, two = str(tmp_path / "one"), str(tmp_path / "two")
    run_replay(small, one, limits=limits)
    run_replay(small, two, limits=limits, lanes=2, workers=2)
    alerts = open(os.path.join(one, "fs.alerts.jsonl"), "rb").read()
    assert alerts.count(b"Input lane clock stalled") == expected
    assert alerts == open(os.path.join(two, "fs.alerts.jsonl"), "rb").read()
