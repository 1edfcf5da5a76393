"""The time at a stop, per stop (models/dwell.py): learned by building, vehicle type,
hour band and customer, shrunk to the zone's mean; robust, deterministic, snapshot-safe;
and used by the arrival forecast for each stop."""

from __future__ import annotations

import math
import pickle
import random
import sys
from pathlib import Path

import pytest

from fleetstream.contract.settings import EngineSettings
from fleetstream.models.dwell import MAX_S, StopTimes, stop_key
from fleetstream.models.eta import RiverEta
from fleetstream.wiring import build_seats

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "operators" / "zone"))
from zone_scene import T0, Feed, engine, order, pt, put_on, vehicle  # noqa: E402

NOON = 12 * 3600.0


def _key(building: str, vt: str = "van", ts: float = NOON, customer: str | None = None,
         coded: bool = False) -> tuple:
    return stop_key("delivery", building, coded, vt, ts, customer)


def _stream(rng: random.Random, n: int = 2000) -> list[tuple[tuple, float]]:
    """Stops of a made-up world: apartments take long by van, houses little, bikes park
    at the door; customer c7 always takes 4 minutes more than its group."""
    out = []
    for _ in range(n):
        b = rng.choice(("house", "apartment"))
        vt = rng.choice(("van", "bike"))
        c = f"c{rng.randrange(40)}"
        base = {"house": 40.0, "apartment": 240.0}[b] * (0.3 if vt == "bike" else 1.0)
        y = base + (240.0 if c == "c7" else 0.0) + rng.gauss(0.0, 30.0)
        out.append((_key(b, vt, NOON + rng.uniform(0, 7200), c), y))
    return out


def test_each_stop_gets_its_own_time_not_the_zone_mean() -> None:
    m = StopTimes()
    for k, y in _stream(random.Random(3)):
        m.learn(k, y)
    assert m.extra_s(_key("apartment", "van")) == pytest.approx(240.0, abs=25.0)
    assert m.extra_s(_key("house", "van")) == pytest.approx(40.0, abs=25.0)
    assert m.extra_s(_key("apartment", "bike")) == pytest.approx(72.0, abs=25.0)
    zone = m.zone_s()
    assert 60.0 < zone < 200.0      # one number for all: wrong for every group
    # the customer's own stops: c7 takes 4 minutes more than its group
    assert m.extra_s(_key("house", "van", customer="c7")) == pytest.approx(280.0, abs=40.0)
    # a group never seen takes the zone's mean; an hour band never seen, its group's
    assert m.extra_s(_key("office", "van")) == pytest.approx(zone, abs=1e-9)
    assert m.extra_s(_key("apartment", "van", ts=3 * 3600.0)) == pytest.approx(
        m.extra_s(_key("apartment", "van")), abs=25.0)


def test_a_new_group_is_shrunk_to_the_zone_until_it_has_stops() -> None:
    m = StopTimes()
    for _ in range(100):
        m.learn(_key("house"), 60.0)
    m.learn(_key("shop"), 600.0)          # one long stop at a shop
    shop = m.extra_s(_key("shop"))
    assert 60.0 < shop < 300.0            # moved, not jumped to 600
    for _ in range(60):
        m.learn(_key("shop"), 600.0)
    assert m.extra_s(_key("shop")) > 500.0


def test_bad_values_are_ignored_and_absurd_ones_clipped() -> None:
    m = StopTimes()
    for _ in range(50):
        m.learn(_key("house"), 60.0)
    before = pickle.dumps(m.__dict__)
    for bad in (float("nan"), float("inf"), -float("inf"), None, "60"):
        m.learn(_key("house"), bad)   # type: ignore[arg-type]
    assert pickle.dumps(m.__dict__) == before
    m.learn(_key("house", customer="lunch"), 5 * 3600.0)     # a driver's lunch at a stop
    assert m.extra_s(_key("house", customer="lunch")) <= MAX_S
    assert m.extra_s(_key("house")) < 90.0
    assert stop_key("delivery", None, False, None, float("nan"), None)[2] == 0


def test_the_same_events_give_the_same_bytes() -> None:
    a, b = RiverEta(), RiverEta()
    for m in (a, b):
        t = 0.0
        for i, (k, y) in enumerate(_stream(random.Random(11), 400)):
            m.observe_stop(f"V{i % 3}", t, 120.0, t - 200.0 if i > 2 else None, k)
            t += 120.0 + y + 300.0
    assert a.snapshot() == b.snapshot()
    assert a.stops.n > 300


def test_the_eta_seat_learns_the_stop_it_left() -> None:
    m = RiverEta()
    t = 0.0
    apt, house = _key("apartment"), _key("house")
    for i in range(300):   # apartments take 120 + 300 s, houses 120 + 30 s; 300 s legs
        k = apt if i % 2 else house
        m.observe_stop("V1", t, 120.0, None if i == 0 else t - 300.0, k)
        t += 120.0 + (300.0 if k is apt else 30.0) + 300.0
    assert m.stop_extra_s(apt) == pytest.approx(300.0, abs=20.0)
    assert m.stop_extra_s(house) == pytest.approx(30.0, abs=20.0)
    assert m.stop_extra_s() == pytest.approx(m.dwell_extra_s())   # no key: the zone's mean
    assert 100.0 < m.dwell_extra_s() < 230.0


def test_a_snapshot_without_per_stop_times_restores() -> None:
    m = RiverEta()
    t = 0.0
    for i in range(50):
        m.observe_stop("V1", t, 120.0, None if i == 0 else t - 300.0)
        t += 120.0 + 90.0 + 300.0
    del m.stops                                   # written before per-stop times existed
    m.version = "eta-linear-2"
    m.last_stop = {"V1": (t - 510.0, 120.0)}      # and its (arrival, nominal) pairs
    back = RiverEta.restore(m.snapshot())
    assert back.version == "eta-linear-10"
    assert back.stop_extra_s(_key("house")) == pytest.approx(back.dwell_extra_s())
    back.observe_stop("V1", t + 300.0, 120.0, t, _key("house"))   # an old pair: no key, no crash
    back.observe_stop("V1", t + 900.0, 120.0, t + 600.0, _key("house"))
    assert back.stops.n == 1 and math.isfinite(back.stop_extra_s(_key("house")))


def test_the_arrival_forecast_adds_each_stops_own_time() -> None:
    """Two stops, the first at an apartment block: the second's ETA carries the
    apartment's time, not the zone's mean; a house first, the house's."""
    feed = Feed()
    seats = build_seats("Z", EngineSettings(), kind="learned")
    st = seats.eta.stops
    for _ in range(200):
        st.learn(_key("apartment", ts=T0), 400.0)
        st.learn(_key("house", ts=T0), 20.0)
    etas = {}
    for first in ("apartment", "house"):
        v = vehicle(feed, "V1", active=True)
        a = order(feed, "A", pt(0.004, 0.0), T0, T0 + 7200)
        b = order(feed, "B", pt(0.008, 0.0), T0, T0 + 7200)
        put_on(v, [a, b])
        eng = engine([v], [a, b], seats=seats)
        eng.state.customers[a.customer_id]["building_type"] = first
        eng.forecasting.refresh(v, T0, ["e"], [])
        etas[first] = v.etas[1] - v.etas[0]
    assert etas["apartment"] - etas["house"] == pytest.approx(380.0, abs=30.0)


def test_a_few_very_long_stops_do_not_drag_the_estimate() -> None:
    """A break taken at a stop (1 stop in 20 lasts 15 minutes more) moves a winsorized
    estimate a little; a plain mean would move by 40 s."""
    m = StopTimes()
    for i in range(400):
        m.learn(_key("house"), 900.0 if i % 20 == 7 else 60.0)
    assert 60.0 <= m.extra_s(_key("house")) < 80.0


# ---------------------------------------------------------------- riders' own speed

def _ride(vt: str, km: float, prov_s: float) -> dict:
    return {"dist_km": km, "provider_s": prov_s, "hour": 10.0, "dow": 1, "zone": "Z1",
            "vehicle_type": vt, "fleet_type": "gig", "driver_pace": 1.0,
            "condition_factor": 1.0, "stops_ahead": 0, "speed_kmh": 0.0}


def test_a_riders_leg_starts_from_the_prior_speed_not_the_cars() -> None:
    from fleetstream.models.eta import PROFILE_KMH
    m = RiverEta()
    # 10 km that a car does in 10 minutes: a cold seat answers 10 km at the rider's
    # prior speed; a van's leg is the provider's; a short town leg where the car is
    # slower than the rider keeps the provider's time
    assert m.predict_ratio(_ride("bike", 10.0, 600.0)) * 600.0 == pytest.approx(
        10.0 * 3600.0 / PROFILE_KMH["bike"])
    assert m.predict_ratio(_ride("van", 10.0, 600.0)) == 1.0
    assert m.predict_ratio(_ride("bike", 0.5, 300.0)) == 1.0
    assert m.metrics()["rider_kmh_bike"] == PROFILE_KMH["bike"]


def test_a_riders_pace_is_learned_from_long_legs_only() -> None:
    m = RiverEta()
    for i in range(60):      # riders at 20 km/h on 4 km legs; 0.3 km legs at 5 km/h
        m.learn(_ride("cargo_bike", 4.0, 300.0), 4.0 * 180.0 / 300.0)
        m.learn(_ride("cargo_bike", 0.3, 60.0), 0.3 * 720.0 / 60.0)
    assert m.metrics()["rider_kmh_cargo_bike"] == pytest.approx(20.0, abs=1.0)
    assert m.metrics()["rider_kmh_bike"] == 15.0           # no bike leg: the prior
    # the whole answer is close to the truth after learning (baseline x model)
    assert m.predict_ratio(_ride("cargo_bike", 4.0, 300.0)) == pytest.approx(2.4, rel=0.1)


def test_an_eta_4_snapshot_restores_with_prior_rider_speeds() -> None:
    m = RiverEta()
    m.learn(_ride("van", 2.0, 200.0), 1.3)
    del m.profiles
    m.version = "eta-linear-4"
    back = RiverEta.restore(m.snapshot())
    assert back.version == "eta-linear-10" and back.profiles == {}
    assert back.n_learned == 1
    back.learn(_ride("bike", 3.0, 200.0), 3.0)
    assert set(back.profiles) == {"bike"}
