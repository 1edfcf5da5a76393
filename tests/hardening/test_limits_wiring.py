"""The run's ``[limits]`` reach the zone engines, fresh and restored (not only stage 1)."""

from __future__ import annotations

import orjson
import pytest

from fleetstream.contract.settings import EngineSettings, LimitsSettings
from fleetstream.wiring import build_zone_engine, restore_zone_engine


def test_build_and_restore_pass_the_limits():
    lim = LimitsSettings(order_grace_s=60.0, clock_stall_events=7)
    eng = build_zone_engine("Z1", EngineSettings(), limits=lim)
    assert eng.limits.order_grace_s == 60.0 and eng.limits.clock_stall_events == 7
    back = restore_zone_engine(eng.snapshot(), EngineSettings(), limits=lim)
    assert back.limits.clock_stall_events == 7
    assert build_zone_engine("Z1", EngineSettings()).limits == LimitsSettings()


@pytest.mark.slow
def test_replay_set_limits_changes_expiry(tmp_path):
    from fleetstream.cli import main
    out = tmp_path / "o"
    rc = main(["replay", "replay_data/small", "--out", str(out), "-q",
               "--set", "limits.order_grace_s=0"])
    assert rc == 0
    outcomes = [orjson.loads(x) for x in (out / "fs.outcomes.jsonl").read_bytes().splitlines()]
    # small has no expired order with the default grace (6 h); with none, orders still
    # open at their window end expire.
    assert any(o.get("outcome") == "expired" or o.get("status") == "expired" for o in outcomes)


def test_local_engine_zones_get_the_limits():
    from fleetstream.engine import LocalEngine
    eng = LocalEngine(limits=LimitsSettings(retention_s=100.0))
    assert eng.zone_factory("Z1").limits.retention_s == 100.0


def test_local_engine_raises_the_lane_stall_alert_like_the_flow():
    """LocalEngine (simulator, scoring) follows the flow's lane stall rule: accepted
    events dated behind the lane watermark, ``clock_stall_events`` in a row."""
    from fleetstream.contract.message import InMsg
    from fleetstream.engine import LocalEngine

    def profile(seq, ts):
        return InMsg(seq, "fs.customers", f"C{seq}", orjson.dumps(
            {"type": "customer_profile", "event_id": f"c{seq}", "ts": ts, "v": 1,
             "customer_id": f"C{seq}", "zone": "Z1", "language": "en"}))
    t0 = 1_772_400_000.0
    msgs = [profile(i, t0 + 10 * i) for i in range(20)]
    msgs += [profile(100 + i, t0 - 5_000 + i) for i in range(6)]  # a backlog, behind
    out = []
    for lim, want in ((LimitsSettings(clock_stall_events=5), 1),
                      (LimitsSettings(clock_stall_events=0), 0)):
        eng = LocalEngine(limits=lim)
        out = [r for m in msgs for t, _k, r in eng.process(m) if t == "fs.alerts"]
        lane = [r for r in out if r["kind"] == "clock_stalled"
                and r["message"].startswith("Input lane clock stalled")]
        assert len(lane) == want, [r["message"] for r in out]
