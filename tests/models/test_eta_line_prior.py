"""``eta-*-9``: the length line's prior (the provider: m = 1, k = 0) is worth one leg,
not five, so a small day's few dozen driving legs tell the line (models/eta.py
``LINE_PRIOR_N``; docs/models-eta.md, "A small day").  Measured on the `tiny` days (60
legs a day, a fresh seat each): 33.5 -> 40.3 % below the provider, every one of eight
days higher."""

from __future__ import annotations

import math
import random

import pytest

from fleetstream.models import eta as E


def _day(seed: int, n: int = 60) -> list[dict]:
    """A small day of one van: mostly short legs, a few long ones; the truth is a fixed
    time plus a share of the provider's time (the shape of real trips), with noise."""
    rng = random.Random(seed)
    legs = []
    for i in range(n):
        prov = rng.uniform(900.0, 1500.0) if rng.random() < 0.12 else rng.uniform(60.0, 400.0)
        true = (0.75 * prov + 100.0) * math.exp(rng.gauss(0.0, 0.08))
        legs.append({"x": {"dist_km": prov / 90.0, "provider_s": prov, "hour": 8.0 + i / 8.0,
                           "dow": 1, "zone": "z", "vehicle_type": "van", "fleet_type": "captive",
                           "driver_pace": 1.0, "condition_factor": 1.0, "stops_ahead": 0,
                           "speed_kmh": 0.0},
                     "ratio": true / prov})
    return legs


def _slope_after(legs: list[dict]) -> float:
    seat = E.RiverEta()
    for lg in legs:
        seat.learn(lg["x"], lg["ratio"])
    return seat.length_line()[0]


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_a_small_day_learns_the_slope(seed):
    """After one small day the line's slope is within 0.04 of the truth's 0.75 (0.74-0.78);
    with the prior worth five legs it was pulled towards the provider's 1 (0.77-0.82:
    four of these five days fail)."""
    m = _slope_after(_day(seed))
    assert abs(m - 0.75) < 0.04, m


def test_the_prior_is_what_holds_the_slope(monkeypatch):
    """The same days with the old prior (five legs): the slope stays further from the
    truth on every one of them (the test above would fail)."""
    new = [abs(_slope_after(_day(s)) - 0.75) for s in range(1, 6)]
    monkeypatch.setattr(E, "LINE_PRIOR_N", 5.0)
    old = [abs(_slope_after(_day(s)) - 0.75) for s in range(1, 6)]
    assert all(o > n for o, n in zip(old, new)), (old, new)


def test_an_eta8_seat_restores_with_its_line():
    seat = E.RiverEta()
    for lg in _day(7):
        seat.learn(lg["x"], lg["ratio"])
    snap = seat.snapshot()
    # what an eta-*-8 seat would have written: the same state, the old version
    old = E.RiverEta.restore(snap)
    old.version = "eta-linear-8"
    back = E.RiverEta.restore(old.snapshot())
    assert back.version == "eta-linear-10"
    assert back.line == seat.line
    assert back.length_line() == seat.length_line()
