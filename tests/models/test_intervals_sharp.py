"""Sharp intervals under plan changes: most arrival errors are minutes, a few are an
hour late (the plan changed after the prediction).  The intervals keep their
coverage and do not stretch over that hour (models/intervals.py, ``_shortest``)."""

from __future__ import annotations

import random
import statistics

from fleetstream.models.intervals import ConformalIntervals, _shortest


def _mixture(rng: random.Random, h: float) -> float:
    if rng.random() < 0.035:                       # the plan changed: an hour late or so
        return rng.uniform(2400.0, 6000.0)
    return rng.gauss(0.0, 90.0 + 0.04 * h)         # the plan held: minutes


def test_intervals_keep_coverage_and_stay_sharp_when_a_few_arrivals_are_an_hour_late() -> None:
    rng = random.Random(11)
    iv = ConformalIntervals()
    hits80, hits95, w95 = [], [], []
    for i in range(12000):
        h = rng.uniform(60.0, 1800.0)
        x = {"horizon_s": h, "stops_ahead": 0, "zone": "Z1", "hour": 10.0}
        lo80, hi80, lo95, hi95 = iv.interval(x)
        r = _mixture(rng, h)
        if i >= 2000:
            hits80.append(lo80 <= r <= hi80)
            hits95.append(lo95 <= r <= hi95)
            w95.append(hi95 - lo95)
        iv.update(x, r)
    c80, c95 = sum(hits80) / len(hits80), sum(hits95) / len(hits95)
    assert abs(c80 - 0.80) < 0.02, c80
    assert abs(c95 - 0.95) < 0.015, c95
    # equal 2.5 % tails would reach into the late hour (about 40 minutes wide)
    assert statistics.median(w95) < 15 * 60, statistics.median(w95)


def test_shortest_interval_holds_its_share_and_is_the_shortest() -> None:
    xs = sorted([0.0] * 90 + [float(i) for i in range(1, 11)] + [100.0] * 5)
    lo, hi = _shortest(xs, 0.1)
    inside = sum(1 for x in xs if lo <= x <= hi)
    assert inside == 96 and (lo, hi) == (0.0, 6.0)   # ceil(0.9 x 106) = 96 scores
    lo, hi = _shortest(xs, 0.0)                    # more than the window: beyond its extremes
    assert lo <= 0.0 and hi > 100.0
