"""Calibrated 80 % and 95 % arrival intervals: online, normalized, adaptive conformal,
conditional on the horizon and on the number of stops ahead.

For each prediction the engine captured ``xi`` (horizon, stops ahead, hour ...)
and, when the stop is reached, hands back the residual ``actual - predicted``
arrival in seconds.  The residual is divided by a scale that grows with the
horizon, ``scale = base_s + rel x horizon_s``, giving a *score*.

Scores are kept in sliding windows per **cell**: a fine horizon bucket
(``CELL_EDGES``: 5, 10, 20, 30, 45, 60, 90, 120 min) crossed with the stops
ahead (0, 1, 2-3, 4+).  The next stop's error is one leg's; the fifth stop's
adds four legs, four services and any re-planning, so pooling them gives the
near stops intervals several times too wide and the far ones too narrow.  A
cell answers once it holds ``min_cell`` scores; until then its coarse horizon
bucket (``HORIZON_EDGES``, ``min_n`` scores) answers, and before that the
conservative ``PRIOR``.  Each level (80 %, 95 %) is answered on its own: a window
answers a level as soon as that level's split-conformal rank exists in it
(``N_RANK``: 4 scores for 80 %, 19 for 95 %), so a young bucket gives its 80 %
interval long before its 95 % one.  An interval is the shortest interval holding the nominal share of the answering window's scores,
times the scale (``_shortest``: arrival errors are skewed and heavy-tailed on the
late side, so the miss budget is not split into fixed equal tails).  Each
interval's miss level is adaptive conformal inference (Gibbs & Candes 2021):
every label nudges the level of its cell (and of its coarse bucket) by ``gamma x
(target - missed)``, so if recent intervals missed more often than promised they
widen, and vice versa.  That is what makes coverage hold over time (by hour), not
just on average.  A window's level is adapted only once the window *answers* that
level: the misses of a window too young to answer (judged on an interval nobody
published, extrapolated from a handful of scores) used to drive its 95 % level
below zero before it answered, and it then covered 97-98 % all day.  A cell
starts answering at the miss levels its coarse bucket has adapted to so far.  Everything is learned in event order from labels only: no clock,
no randomness.

**The hour of the day** (``interval-aci-5``): the same residual is not equally
likely at every hour (a morning plan made at the depot holds; at midday new orders
are inserted into routes), and the windows above pool the hours.  Each local hour of
prediction (``xi["hour"]``, the zone's ``engine.timezone``) keeps a multiplier per
level on the interval the windows give; every label moves its hour's log multiplier
by ``hour_gamma x (missed - miss budget)``, judged on the whole interval (windows
and multiplier) the seat gives that prediction when its label arrives, so an hour that missed more than its budget widens and one that covered
more narrows, and what an hour learned one day holds the next (the daily pattern).
The multipliers stay within ``[1/4, 4]``; ``hour_gamma = 0`` turns them off.

**Inserted work ahead** (``interval-aci-6``): when orders arrive while the routes are
running, the engine inserts them behind each vehicle's frozen head, and a stop beyond
the head may find new stops put before it.  The windows learn that only from labels,
one to two hours after the day's inflow starts; the inflow itself is seen at once.  The
engine passes ``xi["inserts"]``: the new orders per vehicle expected to arrive between
the end of the frozen head and this arrival (the zone's orders created in the last
hour while vehicles were on shift, per vehicle on shift, times the hours from the head's
end to the arrival; operators/zone/forecasting.py).  The scale is multiplied by
``1 + insert_k x inserts`` for the score a label is learned as and for the interval, so
the windows hold the errors of a steady plan and an interval grows with the work that
may be put in front of it.  Absent (or ``insert_k = 0``): the seat of ``interval-aci-5``.

The lower bound is never before the moment of prediction (an arrival cannot
precede ``now``): ``lo >= -horizon``.

One instance serves one zone (the engine builds seats per zone), so coverage is
calibrated per zone by construction.

Promise: of the deliveries predicted with this model, about 80 % (95 %) arrive
inside the 80 % (95 %) interval, in every zone, horizon bucket and hour, as long
as tomorrow resembles the last few hundred stops.
"""

from __future__ import annotations

import bisect
import math
from collections import deque

from river import metrics

from fleetstream.models.base import LearnedSeat
from fleetstream.models.monitor import DriftWatch

VERSION = "interval-aci-6"
OLD_VERSIONS = ("interval-aci-3",)   # same windows; restored with fresh miss levels
SAME_RULE = ("interval-aci-4",)       # windows and miss levels kept; hour multipliers at 1
SAME_HOURS = ("interval-aci-5",)      # everything kept; the inserted work ahead joins the scale
INSERT_K = 2.0      # scale x (1 + INSERT_K x inserts ahead): see the module text
HOUR_GAMMA = 0.05   # step of an hour's log multiplier per label (see the module text)
HOUR_LOG_MAX = math.log(4.0)

HORIZON_EDGES = (600.0, 1800.0, 3600.0, 7200.0)  # seconds: bucket upper edges
# Miss budgets of the two intervals: 20 % outside the 80 % one, 5 % outside the 95 % one.
# How a budget splits between the two tails is not fixed: each interval is the
# *shortest* one holding its share of the recent scores (see ``_shortest``).
MISS = (0.20, 0.05)
ALPHA_MIN = -0.05  # below 1/(n+1): cover the whole window and more (see ``_shortest``)
# Cold-start score thresholds (lo80, hi80, lo95, hi95) per horizon bucket (normalized
# units, see ``scale``): conservative (wide) guesses of where the tails of arrival
# error lie when routes keep changing; used until a bucket has ``min_n`` labels.
PRIOR = (
    (-1.2, 1.2, -2.0, 3.0),
    (-1.5, 2.0, -2.5, 6.0),
    (-1.5, 4.0, -2.5, 11.0),
    (-1.5, 7.0, -2.5, 18.0),
    (-1.5, 8.0, -2.5, 20.0),
)


CELL_EDGES = (300.0, 600.0, 1200.0, 1800.0, 2700.0, 3600.0, 5400.0, 7200.0)
AHEAD_EDGES = (1, 2, 4)   # stops ahead: 0 | 1 | 2-3 | 4+
N_AHEAD = len(AHEAD_EDGES) + 1
# The fewest scores in which the split-conformal rank ceil((1 - miss)(n + 1)) exists
# (is <= n) at the nominal miss: 4 for the 80 % interval, 19 for the 95 % one.
N_RANK = tuple(math.ceil((1.0 - m) / m - 1e-9) for m in MISS)


def horizon_bucket(h: float) -> int:
    return bisect.bisect_right(HORIZON_EDGES, h)


def cell_of(h: float, ahead: int) -> int:
    """The fine cell (horizon x stops ahead) of a prediction."""
    return bisect.bisect_right(CELL_EDGES, h) * N_AHEAD + bisect.bisect_right(AHEAD_EDGES, ahead)


def _quantile(sorted_xs: list, q: float) -> float:
    """Linear-interpolated quantile of a sorted list.  Beyond the sample (q < 0 or
    q > 1) the quantile function is extended linearly with the slope of its outer 5 %."""
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


def _shortest(srt: list, alpha: float) -> tuple[float, float]:
    """The shortest interval ``[srt[i], srt[i + m - 1]]`` holding ``m =
    ceil((1 - alpha)(n + 1))`` of the ``n`` sorted scores (the split conformal rank:
    a new exchangeable score falls inside with probability >= 1 - alpha).  Arrival
    errors are a mixture: most predictions come true within minutes, a few (the
    plan changed after them) are late by an hour; equal tails would spend half of
    the miss budget on the early side, where nothing is far, and stretch the late
    side into that hour.  The shortest interval spends the budget where it buys the
    most width, so each interval keeps its coverage and is as sharp as the data
    allow.  ``m > n`` (``alpha`` below ``1 / (n + 1)``, where adaptive conformal
    pushes it after many misses): the whole window, extended linearly beyond both
    extremes."""
    n = len(srt)
    m = math.ceil((1.0 - alpha) * (n + 1) - 1e-9)
    if m >= n:
        e = (m - n) / (n + 1.0)
        return _quantile(srt, -e), _quantile(srt, 1.0 + e)
    if m < 1:
        m = 1
    best, at = srt[m - 1] - srt[0], 0
    for i in range(1, n - m + 1):
        w = srt[i + m - 1] - srt[i]
        if w < best:
            best, at = w, i
    return srt[at], srt[at + m - 1]


class _Window:
    """Scores of one bucket or cell, with the adaptive miss level of each interval."""

    __slots__ = ("scores", "alpha", "cache")

    def __init__(self, window: int):
        self.scores: deque = deque(maxlen=window)
        self.alpha = list(MISS)
        self.cache = None

    def thresholds(self) -> tuple:
        if self.cache is None:
            srt = sorted(self.scores)
            lo80, hi80 = _shortest(srt, self.alpha[0])
            lo95, hi95 = _shortest(srt, self.alpha[1])
            self.cache = (lo80, hi80, lo95, hi95)
        return self.cache

    def learn(self, score: float, gamma: float, need: int) -> None:
        """Adaptive conformal step (Gibbs & Candes 2021) on each level this window
        answers (``need`` scores and the level's rank, see ``N_RANK``), judged on
        the interval it gives now; then remember ``score``."""
        n = len(self.scores)
        if n >= need and n >= N_RANK[0]:
            q = self.thresholds()
            misses = (not q[0] <= score <= q[1], not q[2] <= score <= q[3])
            a = self.alpha
            for i in range(2):
                if n < N_RANK[i]:
                    continue
                v = a[i] + gamma * (MISS[i] - (1.0 if misses[i] else 0.0))
                a[i] = ALPHA_MIN if v < ALPHA_MIN else 0.9 if v > 0.9 else v
        self.scores.append(score)
        self.cache = None


class ConformalIntervals(LearnedSeat):
    def __init__(self, window: int = 400, min_n: int = 1, gamma: float = 0.015,
                 base_s: float = 240.0, rel: float = 0.15, cell_window: int = 250,
                 min_cell: int = 40, hour_gamma: float = HOUR_GAMMA,
                 insert_k: float = INSERT_K):
        if not (hour_gamma >= 0 and math.isfinite(hour_gamma)):
            raise ValueError("hour_gamma must be a finite number >= 0")
        if not (insert_k >= 0 and math.isfinite(insert_k)):
            raise ValueError("insert_k must be a finite number >= 0")
        self.version = VERSION
        self.hour_gamma = float(hour_gamma)
        self.insert_k = float(insert_k)
        # per local hour of prediction: log multipliers of the 80 % and 95 % intervals
        self.hour_m = [[0.0, 0.0] for _ in range(24)]
        self.n_learned = 0
        self.window, self.min_n, self.gamma = window, min_n, gamma
        self.cell_window, self.min_cell = cell_window, min_cell
        self.base_s, self.rel = base_s, rel
        self.buckets = [_Window(window) for _ in range(len(HORIZON_EDGES) + 1)]
        self.cells = [_Window(cell_window) for _ in range((len(CELL_EDGES) + 1) * N_AHEAD)]
        # progressive validation (the interval in force just before learning the label)
        self.mae = metrics.MAE()
        self.n_cov = [0, 0]
        self.width_sum = [0.0, 0.0]
        self.watch = DriftWatch("intervals", "abs_arrival_error_score")

    @classmethod
    def restore(cls, snap: bytes):
        obj = super().restore(snap)
        version = getattr(obj, "version", None)
        if version in OLD_VERSIONS:
            return cls._migrate(obj)
        if version in SAME_RULE:   # interval-aci-4: the same windows and levels, no hours yet
            obj.version, obj.hour_gamma, obj.insert_k = VERSION, HOUR_GAMMA, INSERT_K
            obj.hour_m = [[0.0, 0.0] for _ in range(24)]
            return obj
        if version in SAME_HOURS:   # interval-aci-5: all kept; the work ahead joins the scale
            obj.version, obj.insert_k = VERSION, INSERT_K
            return obj
        if version != VERSION:
            return cls()   # an older layout: start cold (its windows are not comparable)
        return obj

    @classmethod
    def _migrate(cls, old: ConformalIntervals) -> ConformalIntervals:
        """An ``interval-aci-3`` seat: the same scores in the same buckets and cells
        (kept), but miss levels adapted under the old rule (restarted at nominal)."""
        new = cls()
        for name in ("window", "min_n", "gamma", "cell_window", "min_cell", "base_s", "rel"):
            if hasattr(old, name):
                setattr(new, name, getattr(old, name))
        new.min_n = min(new.min_n, 1)
        for mine, theirs, size in ((new.buckets, getattr(old, "buckets", []), new.window),
                                   (new.cells, getattr(old, "cells", []), new.cell_window)):
            for i, w in enumerate(theirs[:len(mine)]):
                mine[i] = _Window(size)
                mine[i].scores.extend(getattr(w, "scores", ()))
        for name in ("n_learned", "mae", "n_cov", "width_sum", "watch"):
            if hasattr(old, name):
                setattr(new, name, getattr(old, name))
        return new

    def scale(self, horizon_s: float) -> float:
        return self.base_s + self.rel * (horizon_s if horizon_s > 0 else 0.0)

    def _ahead(self, x: dict) -> float:
        """The scale's factor for the work that may be inserted ahead: ``1 + insert_k x
        inserts`` (1 without ``xi["inserts"]``, or for a value that is not a finite
        number >= 0)."""
        e = x.get("inserts")
        if not isinstance(e, (int, float)) or not e > 0.0 or math.isinf(e):
            return 1.0
        return 1.0 + self.insert_k * e

    def _thresholds(self, h: float, ahead: int) -> tuple:
        """Score thresholds (lo80, hi80, lo95, hi95): per level, from the finest window
        that answers it (its cell, then its horizon bucket), else ``PRIOR``."""
        b = horizon_bucket(h)
        c, w = self.cells[cell_of(h, ahead)], self.buckets[b]
        nc, nw = len(c.scores), len(w.scores)
        q = PRIOR[b]
        n80, n95 = N_RANK
        if nc >= self.min_cell and nc >= n95:
            q = c.thresholds()
        else:
            lo80 = hi80 = lo95 = hi95 = None
            if nc >= self.min_cell and nc >= n80:
                lo80, hi80 = c.thresholds()[0:2]
            elif nw >= self.min_n and nw >= n80:
                lo80, hi80 = w.thresholds()[0:2]
            if nw >= self.min_n and nw >= n95:
                lo95, hi95 = w.thresholds()[2:4]
            q = ((q[0], q[1]) if lo80 is None else (lo80, hi80)) + \
                ((q[2], q[3]) if lo95 is None else (lo95, hi95))
        # the interval holds the point ETA, and the 95 % interval holds the 80 % one
        lo, hi = min(q[0], 0.0), max(q[1], 0.0)
        return (lo, hi, min(q[2], lo), max(q[3], hi))

    @staticmethod
    def _hour(x: dict) -> int:
        hr = x.get("hour")
        return int(hr) % 24 if isinstance(hr, (int, float)) and math.isfinite(hr) else 0

    def interval(self, x: dict) -> tuple[float, float, float, float]:
        return self._interval(x, self._ahead(x))

    def _interval(self, x: dict, ahead: float) -> tuple[float, float, float, float]:
        """:meth:`interval` with the factor of the work ahead (``_ahead(x)``) given."""
        h = x["horizon_s"]
        q = self._thresholds(h, int(x.get("stops_ahead") or 0))
        s = self.scale(h) * ahead
        m = self.hour_m[self._hour(x)]
        s80 = s if m[0] == 0.0 else s * math.exp(m[0])
        s95 = s if m[1] == 0.0 else s * math.exp(m[1])
        lo80, hi80 = q[0] * s80, q[1] * s80
        lo95, hi95 = q[2] * s95, q[3] * s95
        if lo95 > lo80:   # the 95 % interval holds the 80 % one
            lo95 = lo80
        if hi95 < hi80:
            hi95 = hi80
        floor = -h if h > 0 else 0.0   # never an arrival before now
        return (lo80 if lo80 > floor else floor, hi80,
                lo95 if lo95 > floor else floor, hi95)

    def update(self, x: dict, residual_s: float) -> None:
        r = residual_s
        h = x.get("horizon_s")
        if r != r or math.isinf(r) or h is None or h != h or math.isinf(h):
            return
        ahead = self._ahead(x)
        lo80, hi80, lo95, hi95 = self._interval(x, ahead)
        # progressive metrics and drift, on the interval in force before this label
        self.mae.update(r, 0.0)
        self.n_cov[0] += 1 if lo80 <= r <= hi80 else 0
        self.n_cov[1] += 1 if lo95 <= r <= hi95 else 0
        self.width_sum[0] += hi80 - lo80
        self.width_sum[1] += hi95 - lo95
        if self.hour_gamma > 0.0:
            # the hour's multipliers, judged on the whole interval the seat gives this
            # prediction now, for each level the data answers (not the cold-start priors)
            m, g = self.hour_m[self._hour(x)], self.hour_gamma
            nb = len(self.buckets[horizon_bucket(h)].scores)
            for i, (lo, hi) in enumerate(((lo80, hi80), (lo95, hi95))):
                if nb < self.min_n or nb < N_RANK[i]:
                    continue
                v = m[i] + g * ((0.0 if lo <= r <= hi else 1.0) - MISS[i])
                m[i] = -HOUR_LOG_MAX if v < -HOUR_LOG_MAX else HOUR_LOG_MAX if v > HOUR_LOG_MAX else v
        score = r / (self.scale(h) * ahead)
        self.watch.update(abs(score), {"zone": x.get("zone")})
        bucket = self.buckets[horizon_bucket(h)]
        bucket.learn(score, self.gamma, self.min_n)
        cell = self.cells[cell_of(h, int(x.get("stops_ahead") or 0))]
        if len(cell.scores) == self.min_cell - 1:
            # the cell answers from its next label on: it starts at the miss levels its
            # bucket has adapted to so far (this zone's coverage), not at nominal
            cell.alpha = list(bucket.alpha)
        cell.learn(score, self.gamma, self.min_cell)
        self.n_learned += 1

    def metrics(self) -> dict:
        n = self.n_learned
        return {"scored": n, "eta_mae_s": float(self.mae.get()),
                "coverage80": self.n_cov[0] / n if n else None,
                "coverage95": self.n_cov[1] / n if n else None,
                "mean_width80_s": self.width_sum[0] / n if n else None,
                "mean_width95_s": self.width_sum[1] / n if n else None}
