"""Calibrated 80 % and 95 % arrival intervals: online, normalized, adaptive conformal.

For each prediction the engine captured ``xi`` (horizon, stops ahead, hour ...)
and, when the stop is reached, hands back the residual ``actual - predicted``
arrival in seconds.  The residual is divided by a scale that grows with the
horizon, ``scale = base_s + rel x horizon_s``, giving a *score*.  Scores are
kept per horizon bucket in a sliding window of the most recent ``window``; an
interval is the empirical lower and upper tail quantiles of the bucket's scores
times the scale.  Both tails are calibrated separately (arrivals are skewed
late), each with adaptive conformal inference (Gibbs & Candes 2021): every
label nudges the tail level by ``gamma x (target - missed)``, so if recent
intervals missed more often than promised they widen, and vice versa.  That is
what makes coverage hold over time (by hour), not just on average.

One instance serves one zone (the engine builds seats per zone), so coverage is
calibrated per zone by construction.

Promise: of the deliveries predicted with this model, about 80 % (95 %) arrive
inside the 80 % (95 %) interval, in every zone and every hour, as long as
tomorrow resembles the last few hundred stops.
"""

from __future__ import annotations

import bisect
import math
from collections import deque

from river import metrics

from fleetstream.models.base import LearnedSeat
from fleetstream.models.monitor import DriftWatch

HORIZON_EDGES = (600.0, 1800.0, 3600.0, 7200.0)  # seconds: bucket upper edges
# Tail miss targets: (below lo80, above hi80, below lo95, above hi95).
TAILS = (0.10, 0.10, 0.025, 0.025)
LEVEL_MIN = -0.5   # below 0: extrapolate past the window's extreme (see _quantile)
# Cold-start score thresholds per horizon bucket (normalized units, see ``scale``):
# conservative (wide) guesses of where the tails of arrival error lie when routes
# keep changing; used until a bucket has ``min_n`` labels.
PRIOR = (
    (-1.2, 1.2, -2.0, 3.0),
    (-1.5, 2.0, -2.5, 6.0),
    (-1.5, 4.0, -2.5, 11.0),
    (-1.5, 7.0, -2.5, 18.0),
    (-1.5, 8.0, -2.5, 20.0),
)


def horizon_bucket(h: float) -> int:
    return bisect.bisect_right(HORIZON_EDGES, h)


def _quantile(sorted_xs: list, q: float) -> float:
    """Linear-interpolated quantile of a sorted list.  Beyond the sample (q < 0 or
    q > 1, where adaptive conformal can push a level after many misses) the
    quantile function is extended linearly with the slope of its outer 5 %."""
    n = len(sorted_xs)
    if q < 0.0:
        q0, q5 = sorted_xs[0], _quantile(sorted_xs, 0.05)
        return q0 + q * (q5 - q0) / 0.05
    if q > 1.0:
        q100, q95 = sorted_xs[-1], _quantile(sorted_xs, 0.95)
        return q100 + (q - 1.0) * (q100 - q95) / 0.05
    pos = q * (n - 1)
    i = int(pos)
    if i >= n - 1:
        return sorted_xs[-1]
    fr = pos - i
    return sorted_xs[i] * (1 - fr) + sorted_xs[i + 1] * fr


class ConformalIntervals(LearnedSeat):
    def __init__(self, window: int = 400, min_n: int = 200, gamma: float = 0.015,
                 base_s: float = 240.0, rel: float = 0.15):
        self.version = "interval-aci-1"
        self.n_learned = 0
        self.window, self.min_n, self.gamma = window, min_n, gamma
        self.base_s, self.rel = base_s, rel
        nb = len(HORIZON_EDGES) + 1
        self.scores: list[deque] = [deque(maxlen=window) for _ in range(nb)]
        self.levels: list[list[float]] = [list(TAILS) for _ in range(nb)]
        self._cache: list = [None] * nb
        # progressive validation (the interval in force just before learning the label)
        self.mae = metrics.MAE()
        self.n_cov = [0, 0]
        self.width_sum = [0.0, 0.0]
        self.watch = DriftWatch("intervals", "abs_arrival_error_score")

    def scale(self, horizon_s: float) -> float:
        return self.base_s + self.rel * (horizon_s if horizon_s > 0 else 0.0)

    def _thresholds(self, b: int) -> tuple:
        q = self._cache[b]
        if q is not None:
            return q
        data = self.scores[b]
        if len(data) < self.min_n:
            q = PRIOR[b]
        else:
            srt = sorted(data)
            lv = self.levels[b]
            q = (_quantile(srt, lv[0]), _quantile(srt, 1 - lv[1]),
                 _quantile(srt, lv[2]), _quantile(srt, 1 - lv[3]))
        # the interval holds the point ETA, and the 95 % interval holds the 80 % one
        lo, hi = min(q[0], 0.0), max(q[1], 0.0)
        q = (lo, hi, min(q[2], lo), max(q[3], hi))
        self._cache[b] = q
        return q

    def interval(self, x: dict) -> tuple[float, float, float, float]:
        h = x["horizon_s"]
        q = self._thresholds(horizon_bucket(h))
        s = self.scale(h)
        return (q[0] * s, q[1] * s, q[2] * s, q[3] * s)

    def update(self, x: dict, residual_s: float) -> None:
        r = residual_s
        if r != r or math.isinf(r):
            return
        h = x["horizon_s"]
        b = horizon_bucket(h)
        lo80, hi80, lo95, hi95 = self.interval(x)
        # progressive metrics and drift, on the interval in force before this label
        self.mae.update(r, 0.0)
        self.n_cov[0] += 1 if lo80 <= r <= hi80 else 0
        self.n_cov[1] += 1 if lo95 <= r <= hi95 else 0
        self.width_sum[0] += hi80 - lo80
        self.width_sum[1] += hi95 - lo95
        s = self.scale(h)
        score = r / s
        self.watch.update(abs(score), {"zone": x.get("zone")})
        # adaptive conformal: every label moves each tail's level by
        # gamma x (target - missed), so the running miss rate tracks the target
        lv = self.levels[b]
        misses = (r < lo80, r > hi80, r < lo95, r > hi95)
        for i in range(4):
            v = lv[i] + self.gamma * (TAILS[i] - (1.0 if misses[i] else 0.0))
            lv[i] = LEVEL_MIN if v < LEVEL_MIN else 0.45 if v > 0.45 else v
        self.scores[b].append(score)
        self._cache[b] = None
        self.n_learned += 1

    def metrics(self) -> dict:
        n = self.n_learned
        return {"scored": n, "eta_mae_s": float(self.mae.get()),
                "coverage80": self.n_cov[0] / n if n else None,
                "coverage95": self.n_cov[1] / n if n else None,
                "mean_width80_s": self.width_sum[0] / n if n else None,
                "mean_width95_s": self.width_sum[1] / n if n else None}
