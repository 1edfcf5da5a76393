"""Late-risk alert recall on small (issue #9): a flagged stop the response left
unalerted because its plan timed it on time (``Response.late_by_plan``) is looked at
again a cooldown later, and alerted as still at risk when its late risk is still at
even odds or worse (``response_rules.still_at_risk_level``), not only when it is back
at ``late_risk_on``.  On small most late arrivals the engine had flagged and left
unalerted settled at a risk of 0.5-0.6 as their arrival neared and arrived a few
minutes late (benchmarks/late_risk.py --why-missed: plan_filtered/risk_fell,
reroute_fixed/risk_fell)."""

from __future__ import annotations

from zone_scene import T0, Feed, ScriptedLateRisk, engine, order, pt, put_on, vehicle

from fleetstream.contract.outputs import TOPIC_ALERTS, TOPIC_NOTIFICATIONS
from fleetstream.contract.settings import EngineSettings
from fleetstream.operators.estimators import ModelSeats
from fleetstream.operators.zone.forecasting import ALERTED

S = EngineSettings(late_risk_on=0.6, late_risk_off=0.3, trigger_cooldown_s=900.0)


def _scene():
    """A driving vehicle with one stop its plan times well inside the window."""
    f = Feed()
    v = vehicle(f, "v1", active=True, pos=pt(0.002, 0.0))
    o1 = order(f, "o1", pt(0.01, 0.0), T0, T0 + 4 * 3600)
    put_on(v, [o1])
    o1.status = "onboard"                       # on board: cannot move
    v.onboard = ["o1"]
    seat = ScriptedLateRisk()
    eng = engine([v], [o1], S, seats=ModelSeats(late_risk=seat))
    return eng, v, seat


def _ping(eng, v, ts: float) -> list:
    """What a ping of ``v`` at ``ts`` does (operators/zone/fleet.py on_ping): refresh,
    then answer the stops that crossed ``late_risk_on``."""
    out: list = []
    at_risk = eng.forecasting.refresh(v, ts, ["e"], out)
    if at_risk:
        eng.response.handle_risk(v, at_risk, ts, ["e"], out)
    return out


def _late_alerts(out: list) -> list[dict]:
    return [r for t, r in out if t == TOPIC_ALERTS and r["kind"] == "late_risk"]


def test_a_stop_the_plan_filter_left_unalerted_is_alerted_when_still_at_even_odds() -> None:
    eng, v, seat = _scene()
    seat.p = 0.7
    out = _ping(eng, v, T0)                              # flagged; the plan: on time
    assert [t for t, _r in out if t in (TOPIC_ALERTS, TOPIC_NOTIFICATIONS)] == []
    assert eng.stats["risk_alerts_plan_on_time"] == 1
    assert eng.state.orders["o1"].late_flag is True      # answered, flag kept
    seat.p = 0.55                                        # the arrival nears; still risky
    assert _late_alerts(_ping(eng, v, T0 + 600)) == []   # in the cooldown: not yet
    out = _ping(eng, v, T0 + 950)
    # before: nothing, ever (0.55 never reaches late_risk_on again), and the stop
    # arrived a few minutes late unannounced
    alerts = _late_alerts(out)
    assert [a["order_ids"] for a in alerts] == [["o1"]]
    assert "still at risk" in alerts[0]["message"]
    assert alerts[0]["details"]["threshold"] == 0.5      # the level that alerted it
    assert eng.state.orders["o1"].late_flag == ALERTED
    assert eng.stats["risk_flags_still_at_risk"] == 1
    assert _late_alerts(_ping(eng, v, T0 + 2000)) == []  # once per flag


def test_under_even_odds_the_flag_waits_and_under_the_rearm_level_it_rearms() -> None:
    eng, v, seat = _scene()
    seat.p = 0.7
    _ping(eng, v, T0)
    seat.p = 0.48                                        # between re-arm (0.45) and 0.5
    assert _late_alerts(_ping(eng, v, T0 + 950)) == []
    assert eng.state.orders["o1"].late_flag is True      # still flagged, not alerted
    seat.p = 0.52                                        # back at even odds or worse
    assert [a["order_ids"] for a in _late_alerts(_ping(eng, v, T0 + 1000))] == [["o1"]]
    eng, v, seat = _scene()
    seat.p = 0.7
    _ping(eng, v, T0)
    seat.p = 0.4                                         # the answer worked: re-armed
    assert _late_alerts(_ping(eng, v, T0 + 950)) == []
    assert eng.state.orders["o1"].late_flag is False
