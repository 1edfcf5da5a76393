"""Forecasting: the late-risk trigger's hysteresis and cooldown, ETA publication,
learning from a completed leg."""

from __future__ import annotations

from fleetstream.contract.settings import EngineSettings
from fleetstream.operators.estimators import ModelSeats
from fleetstream.operators.traveltime import HaversineProvider
from fleetstream.operators.zone.forecasting import QUEUED, Forecasting
from fleetstream.operators.zone.records import Emitter
from fleetstream.operators.zone.state import ZoneState
from fleetstream.operators.zone.world import World
from zone_scene import T0, Feed, ScriptedLateRisk, order, pt, put_on, vehicle


def _zone(settings: EngineSettings, risk: ScriptedLateRisk):
    f = Feed()
    st = ZoneState("Z")
    seats = ModelSeats(late_risk=risk)
    world = World(st, settings, HaversineProvider())
    fc = Forecasting(st, settings, seats, world, Emitter(st, seats))
    v = vehicle(f, "v1", active=True, pos=pt(0.002, 0.0))
    o = order(f, "o1", pt(0.02, 0.01), T0, T0 + 3600)
    put_on(v, [o])
    st.vehicles["v1"], st.orders["o1"] = v, o
    return st, fc, v, o


def test_late_risk_trigger_has_hysteresis_and_a_cooldown() -> None:
    s = EngineSettings(late_risk_on=0.6, late_risk_off=0.3, trigger_cooldown_s=900.0)
    risk = ScriptedLateRisk()
    st, fc, v, o = _zone(s, risk)
    steps = [  # (seconds after T0, p_late, triggered orders, late flag after)
        (0, 0.7, ["o1"], True),      # crosses on: trigger
        (60, 0.9, [], True),         # still on: no new trigger
        (120, 0.45, [], True),       # between off and on: stays flagged (hysteresis)
        (180, 0.2, [], False),       # below off: cleared
        (240, 0.7, [], QUEUED),      # on again, 240 s after the last trigger: queued
        (300, 0.1, [], False),       # below off while queued: cleared, nothing to answer
        (1000, 0.65, ["o1"], True),  # on again after the cooldown: trigger
    ]
    for dt, p, want, flag in steps:
        risk.p = p
        got = fc.refresh(v, T0 + dt, ["e"], [])
        assert (got, o.late_flag) == (want, flag), f"at +{dt}s with p_late {p}"
    assert st.stats["risk_triggers_in_cooldown"] == 1
    assert v.last_trigger_ts == T0 + 1000


def test_refresh_publishes_the_eta_once_until_it_moves() -> None:
    s = EngineSettings()
    st, fc, v, o = _zone(s, ScriptedLateRisk(0.0))
    out: list = []
    fc.refresh(v, T0, ["e1"], out)
    assert [t for t, _ in out] == ["fs.eta"]
    rec = out[0][1]
    assert rec["order_id"] == "o1" and rec["vehicle_id"] == "v1" and rec["trigger_event_ids"] == ["e1"]
    assert rec["lo80"] < rec["eta"] < rec["hi80"] and v.etas == [rec["eta"]]
    out.clear()
    fc.refresh(v, T0 + 60, ["e2"], out)   # same ETA, within the publish period
    assert out == []


def test_a_completed_leg_teaches_pace_and_the_hourly_ratio() -> None:
    s = EngineSettings()
    st, fc, v, o = _zone(s, ScriptedLateRisk(0.0))
    fc.world.start_leg(v, T0)
    prov = v.leg["provider_s"]
    fc.learn_leg(v, o, "delivery", T0 + 2 * prov)   # took twice the provider's time
    assert v.leg is None
    ratio, n = st.hist[int(T0 // 3600) % 24]
    assert abs(ratio - 2.0) < 1e-9 and n == 1
    assert abs(v.pace - (0.9 + 0.1 * 2.0)) < 1e-9
    assert fc.hist_ratio(T0 + 60) == ratio
