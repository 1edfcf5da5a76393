"""The scorecard's hours are the zone's local hours (``engine.timezone``), the hours the
engine's seats saw: coverage "in every hour" means the local clock's hours."""

from __future__ import annotations

from fleetstream.contract.settings import EngineSettings, Settings
from fleetstream.evaluate import score_replay


def test_the_hours_of_the_scorecard_follow_the_engine_timezone(tiny):
    utc, _ = score_replay(tiny.path, Settings(), progress=False)
    india, _ = score_replay(tiny.path, Settings(engine=EngineSettings(timezone="Asia/Kolkata")),
                            progress=False)
    hours_utc = {int(h) for h in utc["by_hour"]}
    hours_in = {int(h) for h in india["by_hour"]}
    assert hours_utc and hours_in
    # UTC+5:30: every local hour is five or six hours after a UTC one, none is the same
    assert all((h - 5) % 24 in hours_utc or (h - 6) % 24 in hours_utc for h in hours_in)
    assert not hours_in & hours_utc or min(hours_in) >= max(hours_utc) + 5
    # (the counts differ: the engine's hour features, and so its predictions, moved too)
