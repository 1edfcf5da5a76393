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

from models.base import LearnedSeat
from models.monitor import DriftWatch

HORIZON_EDGES = (600.0, 1800.0, 3600.0, 7200.0)  # seconds: bucket upper edges
# Tail levels: (lower 80, upper 80, lower 95, upper 95) miss targets per tail.
TAILS = (0.10, 0.10, 0.025, 0.025)
# Cold-start score quantiles before a bucket has data (normalized units).
PRIOR = (-1.2, 1.8, -2.0, 3.2)


def horizon_bucket(h: float) -> int:
    return bisect.bisect_right(HORIZON_EDGES, h)


def _quantile(sorted_xs: list, q: float) -> float:
    """Linear-interpolated quantile of a sorted list (q in [0, 1])."""
    n = len(sorted_xs)
    pos = q * (n - 1)
    i = int(pos)
    if i >= n - 1:
        return sorted_xs[-1]
    fr = pos - i
    return sorted_xs[i] * (1 - fr) + sorted_xs[i + 1] * fr


class ConformalIntervals(LearnedSeat):
    def __init__(self, window: int = 400, min_n: int = 40, gamma: float = 0.01,
                 base_s: float = 240.0, rel: float = 0.15):
        self.version = "interval-aci-1"
        self.n_learned = 0
        self.window, self.min_n, self.gamma = window, min_n, gamma
        self.base_s, self.rel = base_s, rel
        nb = len(HORIZON_EDGES) + 1
        self.scores: list[deque] = [deque(maxlen=window) for _ in range(nb)]
        self.levels: list[list[float]] = [list(TAILS) for _ in range(nb)]
        self._cache: list = [None] * nb
        self._pooled: deque = deque(maxlen=window)
        # progressive validation (the interval in force just before learning the label)
        self.mae = metrics.MAE()
        self.n_cov = [0, 0]
        self.width_sum = [0.0, 0.0]
        self.watch = DriftWatch("intervals", "abs_arrival_error_score")

    def scale(self, horizon_s: float) -> float:
        return self.base_s + self.rel * (horizon_s if horizon_s > 0 else 0.0)

    def _score_quantiles(self, b: int) -> tuple:
        q = self._cache[b]
        if q is not None:
            return q
        data = self.scores[b]
        if len(data) < self.min_n:
            data = self._pooled
        if len(data) < self.min_n:
            q = PRIOR
        else:
            s = sorted(data)
            lv = self.levels[b]
            q = (_quantile(s, lv[0]), _quantile(s, 1 - lv[1]),
                 _quantile(s, lv[2]), _quantile(s, 1 - lv[3]))
            # the 95 % interval contains the 80 % one
            q = (q[0], q[1], min(q[2], q[0]), max(q[3], q[1]))
        self._cache[b] = q
        return q

    def interval(self, x: dict) -> tuple[float, float, float, float]:
        h = x["horizon_s"]
        q = self._score_quantiles(horizon_bucket(h))
        s = self.scale(h)
        return (q[0] * s, q[1] * s, q[2] * s, q[3] * s)

    def update(self, x: dict, residual_s: float) -> None:
        if residual_s != residual_s or math.isinf(residual_s):
            return
        h = x["horizon_s"]
        b = horizon_bucket(h)
        lo80, hi80, lo95, hi95 = self.interval(x)
        r = residual_s
        # progressive metrics and drift, then adapt the tail levels (ACI), then learn
        self.mae.update(r, 0.0)
        self.n_cov[0] += 1 if lo80 <= r <= hi80 else 0
        self.n_cov[1] += 1 if lo95 <= r <= hi95 else 0
        self.width_sum[0] += hi80 - lo80
        self.width_sum[1] += hi95 - lo95
        s = self.scale(h)
        self.watch.update(abs(r) / s, {"zone": x.get("zone")})
        if len(self.scores[b]) >= self.min_n:
            lv = self.levels[b]
            misses = (r < lo80, r > hi80, r < lo95, r > hi95)
            for i in range(4):
                v = lv[i] + self.gamma * (TAILS[i] - (1.0 if misses[i] else 0.0))
                lv[i] = 0.001 if v < 0.001 else 0.45 if v > 0.45 else v
        score = r / s
        self.scores[b].append(score)
        self._pooled.append(score)
        self._cache = [None] * len(self._cache)
        self.n_learned += 1

    def metrics(self) -> dict:
        n = self.n_learned
        return {"scored": n, "eta_mae_s": self.mae.get(),
                "coverage80": self.n_cov[0] / n if n else None,
                "coverage95": self.n_cov[1] / n if n else None,
                "mean_width80_s": self.width_sum[0] / n if n else None,
                "mean_width95_s": self.width_sum[1] / n if n else None}
