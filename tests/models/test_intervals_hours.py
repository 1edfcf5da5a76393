"""``interval-aci-5``: each local hour of prediction keeps a multiplier per level on the
interval the windows give, adapted on what that hour published (models/intervals.py),
so an hour whose arrivals are harder than the pooled windows say widens and an easy
hour narrows, and the next day starts from what each hour learned."""

from __future__ import annotations

import math
import random

import pytest

from fleetstream.models.intervals import HOUR_LOG_MAX, VERSION, ConformalIntervals, cell_of

HARD, EASY = (10, 11), (7,)


def _sigma(hour: int, h: float) -> float:
    s = 60.0 + 0.08 * h
    return s * (3.0 if hour in HARD else 0.5 if hour in EASY else 1.0)


def _days(iv: ConformalIntervals, seed: int, days: int, score_from: int):
    """Days of predictions at hours 7-15, labelled at once; per hour of the scored days:
    [n, hits 80, hits 95, sum of 95 % widths]."""
    rng = random.Random(seed)
    per_hour: dict[int, list] = {}
    for day in range(days):
        for hour in range(7, 16):
            for _ in range(150):
                h = rng.uniform(300.0, 3000.0)
                x = {"horizon_s": h, "stops_ahead": rng.randrange(5),
                     "hour": hour + rng.random()}
                lo80, hi80, lo95, hi95 = iv.interval(x)
                r = rng.gauss(0.0, _sigma(hour, h))
                if day >= score_from:
                    c = per_hour.setdefault(hour, [0, 0, 0, 0.0])
                    c[0] += 1
                    c[1] += lo80 <= r <= hi80
                    c[2] += lo95 <= r <= hi95
                    c[3] += hi95 - lo95
                iv.update(x, r)
    return per_hour


def test_every_hour_is_calibrated_once_the_hours_have_days_behind_them():
    on = _days(ConformalIntervals(), 1, 7, 3)
    off = _days(ConformalIntervals(hour_gamma=0.0), 1, 7, 3)
    for hour, (n, h80, h95, _w) in on.items():
        assert abs(h80 / n - 0.80) < 0.05, (hour, h80 / n)
        assert abs(h95 / n - 0.95) < 0.03, (hour, h95 / n)
    # without the hours (interval-aci-4) the hard hours miss and the easy one over-covers
    for hour in HARD:
        n, h80, h95, _w = off[hour]
        assert h80 / n < 0.65 and h95 / n < 0.88, (hour, h80 / n, h95 / n)
    n, h80, _h95, _w = off[EASY[0]]
    assert h80 / n > 0.93
    # and the easy hour's intervals are narrower with them
    assert on[EASY[0]][3] / on[EASY[0]][0] < 0.6 * off[EASY[0]][3] / off[EASY[0]][0]


def test_an_aci4_snapshot_restores_with_its_windows_and_levels():
    rng = random.Random(3)
    iv = ConformalIntervals(hour_gamma=0.0)
    xs = [{"horizon_s": rng.uniform(300, 3000), "stops_ahead": rng.randrange(5),
           "hour": rng.uniform(7, 16)} for _ in range(600)]
    for x in xs:
        iv.update(x, rng.gauss(0.0, 200.0))
    iv.version = "interval-aci-4"
    del iv.hour_m, iv.hour_gamma          # an interval-aci-4 seat had neither
    got = ConformalIntervals.restore(iv.snapshot())
    assert got.version == VERSION and got.n_learned == 600
    c = cell_of(xs[0]["horizon_s"], xs[0]["stops_ahead"])
    assert list(got.cells[c].scores) == list(iv.cells[c].scores)
    assert got.cells[c].alpha == iv.cells[c].alpha
    assert got.hour_m == [[0.0, 0.0]] * 24 and got.hour_gamma > 0
    iv.hour_m, iv.hour_gamma = [[0.0, 0.0] for _ in range(24)], 0.0
    assert all(got.interval(x) == iv.interval(x) for x in xs[:50])


def test_the_same_labels_give_the_same_seat_bit_for_bit():
    a, b = ConformalIntervals(), ConformalIntervals()
    _days(a, 4, 2, 9)
    _days(b, 4, 2, 9)
    assert a.snapshot() == b.snapshot() and a.hour_m == b.hour_m


def test_the_multipliers_are_bounded_and_the_lower_bound_never_before_now():
    iv = ConformalIntervals()
    x = {"horizon_s": 600.0, "stops_ahead": 0, "hour": 12.5}
    for _ in range(400):                   # the first labels teach small errors ...
        iv.update(x, 5.0)
    for _ in range(3000):                  # ... then every arrival is hours off
        iv.update(x, 20000.0)
    assert max(abs(v) for v in iv.hour_m[12]) <= HOUR_LOG_MAX + 1e-12
    lo80, _hi80, lo95, _hi95 = iv.interval(x)
    assert lo80 >= -600.0 and lo95 >= -600.0


def test_hours_that_are_missing_or_not_finite_count_as_midnight_and_bad_settings_refused():
    iv = ConformalIntervals()
    for hr in (None, float("nan"), float("inf"), "10"):
        x = {"horizon_s": 900.0, "stops_ahead": 1, "hour": hr}
        assert all(math.isfinite(v) for v in iv.interval(x))
        iv.update(x, 30.0)
    assert iv.n_learned == 4
    for bad in (-0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="hour_gamma"):
            ConformalIntervals(hour_gamma=bad)
