"""``interval-aci-6``: the work that may be inserted before a stop (``xi["inserts"]``:
new orders per vehicle expected between the end of the frozen head and the arrival)
multiplies the seat's scale, for the score a label is learned as and for the interval
(models/intervals.py), so the windows hold the errors of a steady plan and an interval
grows with the inflow as soon as the inflow is seen, not one to two hours later when
its labels arrive."""

from __future__ import annotations

import math
import random

import pytest

from fleetstream.models.intervals import INSERT_K, VERSION, ConformalIntervals, cell_of


def _xs(rng: random.Random, n: int, inserts: float | None = None) -> list[dict]:
    out = []
    for _ in range(n):
        x = {"horizon_s": rng.uniform(2000.0, 5000.0), "stops_ahead": rng.randrange(5),
             "hour": 10.5}
        if inserts is not None:
            x["inserts"] = inserts
        out.append(x)
    return out


def _trained(seed: int, n: int, mean: float, sd: float) -> tuple[ConformalIntervals, list[dict]]:
    """A seat that learned ``n`` labels without inserts, and their predictions."""
    rng = random.Random(seed)
    iv = ConformalIntervals()
    xs = _xs(rng, n)
    for x in xs:
        iv.update(x, rng.gauss(mean, sd))
    return iv, xs


def test_without_inserts_the_seat_is_the_one_before() -> None:
    rng = random.Random(1)
    a, b = ConformalIntervals(), ConformalIntervals(insert_k=0.0)
    xs = _xs(rng, 800)
    for x in xs:
        r = rng.gauss(300.0, 600.0)
        a.update(x, r)
        b.update(dict(x, inserts=0.7), r)   # insert_k 0: the inserts change nothing
    assert all(a.interval(x) == b.interval(dict(x, inserts=0.7)) for x in xs[:100])


def test_the_interval_grows_by_the_factor_and_labels_are_learned_on_the_steady_scale() -> None:
    iv, xs = _trained(2, 800, 200.0, 500.0)
    rng = random.Random(4)
    for x in xs[:50]:
        lo80, hi80, lo95, hi95 = iv.interval(x)
        glo80, ghi80, glo95, ghi95 = iv.interval(dict(x, inserts=0.5))
        f = 1.0 + INSERT_K * 0.5
        assert ghi80 == pytest.approx(hi80 * f) and ghi95 == pytest.approx(hi95 * f)
        floor = -x["horizon_s"]
        assert glo95 == pytest.approx(max(floor, lo95 * f)) and glo95 >= floor
    # a label seen with inserts e is learned as the same score as the residual / (1 + k e)
    # seen without: the windows hold the same scores
    p, q = ConformalIntervals(), ConformalIntervals()
    for x in _xs(rng, 300):
        r = rng.gauss(0.0, 400.0)
        p.update(dict(x, inserts=1.5), r * (1.0 + INSERT_K * 1.5))
        q.update(x, r)
    c = cell_of(3000.0, 2)
    assert list(p.cells[c].scores) == pytest.approx(list(q.cells[c].scores))


def test_an_inflow_that_spreads_the_arrivals_is_covered_from_its_first_predictions() -> None:
    """A morning without inflow, then a midday with it: the arrivals after insertions
    spread with the inserted work.  With the factor, the first midday predictions are
    about as well covered as the morning's; without it they miss."""
    def day(k: float) -> float:
        rng = random.Random(5)
        iv = ConformalIntervals(insert_k=k, hour_gamma=0.0)
        for x in _xs(rng, 1500):                       # the morning: a steady plan
            iv.update(x, rng.gauss(0.0, 0.3 * (240.0 + 0.15 * x["horizon_s"])))
        hits = n = 0
        for x in _xs(rng, 300, inserts=1.0):           # midday, before any label of it
            r = rng.gauss(0.0, 0.3 * (240.0 + 0.15 * x["horizon_s"]) * (1.0 + 2.0 * 1.0))
            lo80, hi80, _lo95, _hi95 = iv.interval(x)
            hits += lo80 <= r <= hi80
            n += 1
        return hits / n
    with_k, without = day(INSERT_K), day(0.0)
    assert abs(with_k - 0.80) < 0.06, with_k
    assert without < 0.45, without


def test_an_aci5_snapshot_restores_with_everything_and_bad_values_are_refused() -> None:
    iv, xs = _trained(3, 600, 0.0, 300.0)
    iv.version = "interval-aci-5"
    del iv.insert_k                       # an interval-aci-5 seat had none
    got = ConformalIntervals.restore(iv.snapshot())
    assert got.version == VERSION == "interval-aci-6" and got.insert_k == INSERT_K
    assert got.hour_m == iv.hour_m and got.n_learned == 600
    iv.insert_k = INSERT_K
    assert all(got.interval(x) == iv.interval(x) for x in xs[:50])
    for bad in (-1.0, math.nan, math.inf):
        with pytest.raises(ValueError):
            ConformalIntervals(insert_k=bad)
    # inserts that are not a finite number >= 0 count as none
    for odd in (-2.0, math.nan, math.inf, "3", None):
        assert got.interval(dict(xs[0], inserts=odd)) == got.interval(xs[0])
