"""An answered late-risk flag is not a dead end (issue #9 item 5): once the engine
answered a stop (re-route, redispatch or alert), the flag used to stay set until the
risk fell to ``late_risk_off``, so a stop whose fix did not take was never answered
or alerted again, however late it turned (on andorra most late arrivals without an
alert).  Now an answered flag is re-armed when its risk falls halfway to
``late_risk_off``, and a stop still at ``late_risk_on`` a cooldown after its answer
is alerted once as still at risk."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "zone"))

from zone_scene import T0, Feed, ScriptedLateRisk, order, pt, put_on, vehicle

from fleetstream.contract.settings import EngineSettings
from fleetstream.contract.outputs import TOPIC_ALERTS
from fleetstream.operators.estimators import ModelSeats
from fleetstream.operators.state import Order
from fleetstream.operators.traveltime import HaversineProvider
from fleetstream.operators.zone.forecasting import ALERTED, Forecasting, thresholds
from fleetstream.operators.zone.records import Emitter
from fleetstream.operators.zone.state import ZoneState
from fleetstream.operators.zone.world import World

S = EngineSettings(late_risk_on=0.6, late_risk_off=0.3, trigger_cooldown_s=900.0)


def _zone():
    f = Feed()
    st = ZoneState("Z")
    seat = ScriptedLateRisk()
    seats = ModelSeats(late_risk=seat)
    fc = Forecasting(st, S, seats, World(st, S, HaversineProvider()), Emitter(st, seats))
    v = vehicle(f, "v1", active=True, pos=pt(0.002, 0.0))
    o1 = order(f, "o1", pt(0.02, 0.01), T0, T0 + 3600)
    put_on(v, [o1])
    st.vehicles["v1"], st.orders["o1"] = v, o1
    return st, fc, v, seat


def _alerts(out: list) -> list[dict]:
    return [rec for topic, rec in out if topic == TOPIC_ALERTS and rec["kind"] == "late_risk"]


def test_the_rearm_level_is_halfway() -> None:
    assert thresholds(S) == (0.6, 0.3, 0.45)


def test_an_answered_flag_whose_risk_rises_again_is_answered_again() -> None:
    st, fc, v, seat = _zone()
    seat.p = 0.7
    assert fc.refresh(v, T0, ["e"], []) == ["o1"]            # answered (re-route)
    seat.p = 0.4                                              # the fix worked, for now
    assert fc.refresh(v, T0 + 600, ["e"], []) == []
    assert st.orders["o1"].late_flag is False                 # re-armed
    assert st.stats["risk_flags_rearmed"] == 1
    seat.p = 0.7                                              # and it turns risky again
    # the old engine kept the flag set (0.4 is above late_risk_off): never answered again
    assert fc.refresh(v, T0 + 1000, ["e"], []) == ["o1"]


def test_a_risk_between_the_rearm_level_and_on_keeps_the_flag() -> None:
    st, fc, v, seat = _zone()
    seat.p = 0.7
    fc.refresh(v, T0, ["e"], [])
    seat.p = 0.5                                              # hysteresis: no flapping
    assert fc.refresh(v, T0 + 600, ["e"], []) == []
    assert st.orders["o1"].late_flag is True
    seat.p = 0.65
    assert fc.refresh(v, T0 + 700, ["e"], []) == []          # not a new crossing


def test_a_stop_still_at_risk_a_cooldown_after_its_answer_is_alerted_once() -> None:
    st, fc, v, seat = _zone()
    seat.p = 0.7
    assert fc.refresh(v, T0, ["e"], []) == ["o1"]
    out: list = []
    assert fc.refresh(v, T0 + 600, ["e"], out) == []         # in the cooldown: nothing yet
    assert _alerts(out) == []
    out = []
    assert fc.refresh(v, T0 + 950, ["e"], out) == []         # no new re-route...
    alerts = _alerts(out)                                     # ...but an alert
    assert len(alerts) == 1 and alerts[0]["order_ids"] == ["o1"]
    assert set(alerts[0]["details"]) == {"threshold", "etas"}   # the contract's late_risk details
    assert alerts[0]["details"]["etas"]["o1"] is not None
    assert st.orders["o1"].late_flag == ALERTED
    assert st.stats["risk_flags_still_at_risk"] == 1
    out = []
    fc.refresh(v, T0 + 2000, ["e"], out)                      # once per flag
    assert _alerts(out) == []
    o1 = Order.load(Order.dump(st.orders["o1"]))              # survives a snapshot
    assert o1.late_flag == ALERTED


def test_an_alerted_stop_is_rearmed_and_flagged_anew() -> None:
    st, fc, v, seat = _zone()
    seat.p = 0.7
    fc.refresh(v, T0, ["e"], [])
    fc.refresh(v, T0 + 950, ["e"], [])
    assert st.orders["o1"].late_flag == ALERTED
    seat.p = 0.2
    fc.refresh(v, T0 + 1200, ["e"], [])
    assert st.orders["o1"].late_flag is False
    seat.p = 0.8
    assert fc.refresh(v, T0 + 2000, ["e"], []) == ["o1"]
