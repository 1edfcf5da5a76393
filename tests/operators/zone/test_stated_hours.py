"""Planning in the customer's stated hours (``engine.plan_stated_hours_s``,
models/availability.py ``stated_window``; docs/governance.md, "Contact ahead")."""

from __future__ import annotations

from fleetstream.contract.settings import EngineSettings
from fleetstream.models.availability import stated_window
from tests.operators.zone.zone_scene import T0, Feed, engine, pt

DAY = T0 - 8 * 3600          # 00:00 UTC of the scene's day


def _created(hours: list[str], min_s: float, ws: float, we: float, tz: str = "UTC"):
    feed = Feed()
    eng = engine([], [], EngineSettings(plan_stated_hours_s=min_s, timezone=tz))
    eng.process(feed.ev("customer_profile", T0 - 7200, zone="Z", customer_id="c1", language="en",
                        building_type="house", available_hours=hours))
    eng.process(feed.order("o1", T0 - 3600, pt(0.01, 0.01), ws, we, customer="c1"))
    return eng, eng.state.orders["o1"]


def test_a_day_window_becomes_the_evening_the_customer_says_they_are_in():
    eng, o = _created(["06:00-08:00", "15:00-22:00"], 3600.0, DAY + 8.5 * 3600, DAY + 16.5 * 3600)
    assert (o.window_start, o.window_end) == (DAY + 15 * 3600, DAY + 16.5 * 3600)
    assert eng.state.stats["windows_in_stated_hours"] == 1


def test_too_little_inside_the_stated_hours_or_off_keeps_the_window():
    w = (DAY + 8.5 * 3600, DAY + 16.5 * 3600)
    _, o = _created(["06:00-08:00", "16:00-22:00"], 3600.0, *w)     # 30 min inside
    assert (o.window_start, o.window_end) == w
    _, o = _created(["06:00-08:00", "15:00-22:00"], 0.0, *w)        # off (the default)
    assert (o.window_start, o.window_end) == w
    _, o = _created(["08:00-20:00"], 3600.0, *w)                    # all inside
    assert (o.window_start, o.window_end) == w


def test_stated_hours_are_local_time():
    # 15:00-22:00 in Andorra (UTC+1 in March) is 14:00-21:00 UTC
    _, o = _created(["15:00-22:00"], 3600.0, DAY + 8.5 * 3600, DAY + 16.5 * 3600,
                    tz="Europe/Andorra")
    assert (o.window_start, o.window_end) == (DAY + 14 * 3600, DAY + 16.5 * 3600)


def test_the_longest_stretch_wins_and_no_hours_mean_no_change():
    w = (DAY + 8.5 * 3600, DAY + 16.5 * 3600)
    # a shop closed for lunch: 09-13 and 15-19
    assert stated_window(w, ["09:00-13:00", "15:00-19:00"]) == (DAY + 9 * 3600, DAY + 13 * 3600)
    assert stated_window(w, []) is None and stated_window(w, None) is None
