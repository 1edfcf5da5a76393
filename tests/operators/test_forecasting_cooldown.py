"""No late-risk flag is dropped by a trigger cooldown (issue #9 item 5): a stop that
crosses ``late_risk_on`` while its vehicle is in its cooldown is queued and answered
at the first refresh after the cooldown, unless its risk falls to ``late_risk_off``
meanwhile."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "zone"))

from zone_scene import T0, Feed, ScriptedLateRisk, order, pt, put_on, vehicle

from fleetstream.contract.settings import EngineSettings
from fleetstream.operators.estimators import ModelSeats
from fleetstream.operators.state import Order
from fleetstream.operators.traveltime import HaversineProvider
from fleetstream.operators.zone.forecasting import Forecasting
from fleetstream.operators.zone.records import Emitter
from fleetstream.operators.zone.state import ZoneState
from fleetstream.operators.zone.world import World

S = EngineSettings(late_risk_on=0.6, late_risk_off=0.3, trigger_cooldown_s=900.0)


def _zone():
    f = Feed()
    st = ZoneState("Z")
    risk = {"o1": 0.0, "o2": 0.0}

    class PerOrder(ScriptedLateRisk):
        def predict_proba(self, x: dict) -> float:   # o1 is due first, o2 much later
            return risk["o1" if x["slack_s"] < 3 * 3600 else "o2"]

    seats = ModelSeats(late_risk=PerOrder())
    fc = Forecasting(st, S, seats, World(st, S, HaversineProvider()), Emitter(st, seats))
    v = vehicle(f, "v1", active=True, pos=pt(0.002, 0.0))
    o1 = order(f, "o1", pt(0.02, 0.01), T0, T0 + 3600)
    o2 = order(f, "o2", pt(0.021, 0.01), T0, T0 + 6 * 3600)
    put_on(v, [o1, o2])
    st.vehicles["v1"], st.orders["o1"], st.orders["o2"] = v, o1, o2
    return st, fc, v, risk


def test_a_flag_raised_in_the_cooldown_is_answered_after_it() -> None:
    st, fc, v, risk = _zone()
    risk["o1"] = 0.7
    assert fc.refresh(v, T0, ["e"], []) == ["o1"]          # trigger: the cooldown starts
    risk["o2"] = 0.8
    assert fc.refresh(v, T0 + 300, ["e"], []) == []        # o2 crosses in the cooldown
    assert fc.refresh(v, T0 + 600, ["e"], []) == []        # still in the cooldown
    # the first refresh after the cooldown answers o2 (the old engine dropped it: its
    # flag stayed set, so it never crossed again while its risk stayed high)
    assert fc.refresh(v, T0 + 960, ["e"], []) == ["o2"]
    assert v.last_trigger_ts == T0 + 960
    assert st.orders["o2"].late_flag is True                # answered: flagged, not queued
    assert fc.refresh(v, T0 + 2000, ["e"], []) == []       # answered once, not again
    assert st.stats["risk_flags_queued"] == 1 and st.stats["risk_flags_released"] == 1


def test_a_queued_flag_still_at_risk_between_the_thresholds_is_answered() -> None:
    st, fc, v, risk = _zone()
    risk["o1"] = 0.7
    fc.refresh(v, T0, ["e"], [])
    risk["o2"] = 0.9
    fc.refresh(v, T0 + 300, ["e"], [])
    risk["o2"] = 0.45                                       # between off and on: still flagged
    assert fc.refresh(v, T0 + 950, ["e"], []) == ["o2"]


def test_a_queued_flag_whose_risk_falls_is_dropped_with_reason() -> None:
    st, fc, v, risk = _zone()
    risk["o1"] = 0.7
    fc.refresh(v, T0, ["e"], [])
    risk["o2"] = 0.9
    fc.refresh(v, T0 + 300, ["e"], [])
    risk["o2"] = 0.1                                        # no longer at risk
    assert fc.refresh(v, T0 + 600, ["e"], []) == []
    assert fc.refresh(v, T0 + 960, ["e"], []) == []
    assert st.orders["o2"].late_flag is False
    assert st.stats["risk_flags_cleared_in_queue"] == 1


def test_the_queue_survives_a_snapshot() -> None:
    st, fc, v, risk = _zone()
    risk["o1"] = 0.7
    fc.refresh(v, T0, ["e"], [])
    risk["o2"] = 0.9
    fc.refresh(v, T0 + 300, ["e"], [])
    o2 = Order.load(Order.dump(st.orders["o2"]))            # what recovery restores
    st.orders["o2"] = o2
    assert fc.refresh(v, T0 + 960, ["e"], []) == ["o2"]
