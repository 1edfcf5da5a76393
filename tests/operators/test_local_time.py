"""Local time per zone (issue #9 item 3): every hour of the day and day of the week a
decision reads follows ``engine.timezone``, daylight saving included; UTC (the default)
decides exactly as before."""

from __future__ import annotations

import math
import os
import pickle
import random
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "zone"))

from zone_scene import Feed, order, pt, vehicle

from fleetstream.contract.settings import EngineSettings
from fleetstream.operators.estimators import ModelSeats
from fleetstream.operators.localtime import LocalClock, utc_offset_s
from fleetstream.operators.state import DELIVERY
from fleetstream.operators.traveltime import HaversineProvider
from fleetstream.operators.zone.engine import ZoneEngine
from fleetstream.operators.zone.forecasting import Forecasting
from fleetstream.operators.zone.records import Emitter
from fleetstream.operators.zone.state import ZoneState
from fleetstream.operators.zone.world import LegTimes, TravelModel, World
from fleetstream.wiring import build_provider

MON_2026_03_30 = 1774828800.0        # Monday 2026-03-30 00:00 UTC (EU summer time since the 29th)
EU_SPRING = 1774746000.0             # 2026-03-29 01:00 UTC: Europe goes from +1 to +2
H = 3600.0


def test_utc_is_the_identity_and_the_hours_of_before():
    c = LocalClock("UTC")
    for ts in (0.0, 1.5e9, MON_2026_03_30 + 12345.6):
        assert c.local(ts) == ts
        assert c.hour(ts) == (ts % 86400) / 3600.0
        assert c.weekday(ts) == int(ts // 86400 + 3) % 7


def test_offsets_follow_daylight_saving_at_the_instant_it_changes():
    c = LocalClock("Europe/Berlin")
    assert c.local(EU_SPRING - 1) == EU_SPRING - 1 + H          # 01:59:59 winter time
    assert c.local(EU_SPRING) == EU_SPRING + 2 * H              # 03:00:00 summer time
    assert c.hour(EU_SPRING - 1800) == pytest.approx(1.5)
    assert c.hour(EU_SPRING + 1800) == pytest.approx(3.5)


@pytest.mark.parametrize("tz", ["Europe/Berlin", "America/New_York", "Asia/Kolkata",
                                "America/St_Johns", "Australia/Lord_Howe", "Pacific/Chatham"])
def test_the_cached_offsets_agree_with_the_time_zone_database(tz):
    """Half-hour and 45-minute offsets, half-hour daylight saving (Lord Howe): the
    quarter-hour cache answers what ``zoneinfo`` says for every instant tried."""
    rng = random.Random(7)
    c = LocalClock(tz)
    year = [1767225600.0 + rng.uniform(0, 365 * 86400) for _ in range(3000)]
    # the EU spring change, the US spring change, the EU autumn change
    year += [t + d for t in (EU_SPRING, 1772953200.0, 1792890000.0) for d in (-1, 0, 1, 899, 900)]
    for ts in sorted(year) + year[::-1]:
        assert c.local(ts) == ts + utc_offset_s(ts, tz), (tz, ts)


def test_bad_times_and_bad_zones():
    c = LocalClock("Europe/Berlin")
    assert math.isnan(c.local(float("nan")))
    assert c.local(float("inf")) == float("inf")
    with pytest.raises(Exception):
        LocalClock("Mars/Olympus_Mons")
    with pytest.raises(ValueError, match="timezone"):
        EngineSettings(timezone="Mars/Olympus_Mons")


def test_clocks_and_providers_survive_a_snapshot():
    c = pickle.loads(pickle.dumps(LocalClock("Asia/Kolkata")))
    assert c.tz == "Asia/Kolkata" and c.local(MON_2026_03_30) == MON_2026_03_30 + 5.5 * H
    p = HaversineProvider(tz="Asia/Kolkata")
    q = pickle.loads(pickle.dumps(p))
    assert q == p and hash(q) == hash(p) and q.clock.tz == "Asia/Kolkata"


def test_the_haversine_profile_is_read_at_the_local_hour():
    a, b = pt(0.0, 0.0), pt(0.01, 0.02)
    utc, ny = HaversineProvider(), HaversineProvider(tz="America/New_York")
    # 12:00 UTC on a summer Monday is 08:00 in New York (UTC-4): its morning peak
    assert ny.travel_s(a, b, MON_2026_03_30 + 12 * H) == utc.travel_s(a, b, MON_2026_03_30 + 8 * H)
    assert ny.speed_kmh(MON_2026_03_30 + 12 * H) == utc.speed_kmh(MON_2026_03_30 + 8 * H)
    assert ny.travel_s(a, b, MON_2026_03_30 + 12 * H) != utc.travel_s(a, b, MON_2026_03_30 + 12 * H)


def test_leg_times_cache_per_local_hour_where_the_offset_has_half_hours():
    """India is UTC+5:30: 03:20 and 03:40 UTC are 08:50 and 09:10 local, two hours of
    the profile that a cache keyed on the UTC hour would mix up."""
    a, b = pt(0.0, 0.0), pt(0.01, 0.02)
    p = HaversineProvider(tz="Asia/Kolkata")
    legs = LegTimes(TravelModel(p, 1.0))
    for ts in (MON_2026_03_30 + 3 * H + 1200, MON_2026_03_30 + 3 * H + 2400,
               MON_2026_03_30 + 3 * H + 1200):
        assert legs.leg_s(a, b, ts)[0] == p.travel_s(a, b, ts)
    assert legs.leg_s(a, b, MON_2026_03_30 + 3 * H + 1200) != \
        legs.leg_s(a, b, MON_2026_03_30 + 3 * H + 2400)


def _forecasting(tz: str) -> tuple[Forecasting, World]:
    s = EngineSettings(timezone=tz)
    st = ZoneState("Z")
    world = World(st, s, HaversineProvider(tz=tz))
    seats = ModelSeats()
    return Forecasting(st, s, seats, world, Emitter(st, seats)), world


def test_the_eta_features_the_hourly_ratios_and_the_stop_bands_are_local():
    fc, world = _forecasting("America/New_York")
    f = Feed()
    v = vehicle(f, "v1", active=True)
    ts = MON_2026_03_30 + 2 * H          # Monday 02:00 UTC = Sunday 22:00 in New York
    x = world.leg_x(v, pt(0, 0), pt(0.01, 0.01), ts, 300.0, 1.0, 0)
    assert x["hour"] == pytest.approx(22.0) and x["dow"] == 6
    fc.state.hist[22] = [3.0, 2]         # the hourly mean ratio is kept per local hour
    assert fc.hist_ratio(ts) == 1.5
    o = order(f, "o1", pt(0.01, 0.01), ts, ts + H)
    band_ny = fc.stop_key(v, o, DELIVERY, ts)[2]
    utc_fc, _ = _forecasting("UTC")
    assert band_ny == utc_fc.stop_key(v, o, DELIVERY, ts - 4 * H)[2] != \
        utc_fc.stop_key(v, o, DELIVERY, ts)[2]


def test_an_engine_reads_the_zone_timezone_everywhere():
    s = EngineSettings(timezone="Europe/Andorra")
    eng = ZoneEngine("Z", s)
    assert eng.provider.tz == "Europe/Andorra" and eng.world.clock.tz == "Europe/Andorra"
    m = build_provider(EngineSettings(timezone="Europe/Andorra", travel_provider="map"))
    assert m.fallback.tz == "Europe/Andorra"
    assert ZoneEngine("Z").provider == HaversineProvider()      # UTC: as before
