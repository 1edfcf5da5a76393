"""Logistic regression refitted on a window of recent labels: the failure-risk seat's
learner since ``failure-logreg-3`` (docs/models-risk.md "Failure risk: the refitted
learner").

Online SGD takes one small step per label, so a few thousand labels (a zone's few
days) leave the weights of the sparse building-by-hour features far from what
those labels say; refitting the whole regression on them does not.  Every
``every`` labels, once ``min_n`` have been seen, the maximum a posteriori weights
over the last ``window`` labels are found by Newton's method: log loss plus a
Gaussian prior of precision ``precision`` centred on the seat's stated priors (so
with few labels the model stays near what a dispatcher would state, and a
feature it has never seen keeps its prior weight), the intercept nearly free.

Each Newton step is halved until the objective does not rise (labels a feature
separates, or values far outside the usual, cannot throw the weights off), and a fit
that still gives non-finite weights is dropped (``bad_fits``; the last good weights
answer).

Deterministic: the labels' order and values alone decide the weights (a fixed
number of Newton steps from the previous weights, no randomness, no clock), so
replays repeat exactly.  Pure numpy; no River.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

Z_CLIP = 30.0
HALVINGS = 8          # step halvings a Newton step may take before the fit stops
INTERCEPT_PRECISION = 1e-3


def _sigmoid(z: float) -> float:
    z = -Z_CLIP if z < -Z_CLIP else (Z_CLIP if z > Z_CLIP else z)
    return 1.0 / (1.0 + math.exp(-z))


class MapLogistic:
    """L2 logistic regression towards prior weights, refitted every ``every`` labels.

    >>> m = MapLogistic({"a": 1.0}, intercept=-2.0, min_n=20, every=10, window=100)
    >>> m.predict({"a": 1.0}) is None        # not fitted yet: the caller's model answers
    True
    >>> for i in range(40):
    ...     m.add({"a": float(i % 2)}, i % 4 == 1)
    >>> m.fits, round(m.predict({"a": 0.0}), 3) < 0.1 < round(m.predict({"a": 1.0}), 3)
    (3, True)
    """

    def __init__(self, prior: dict[str, float], intercept: float, *, precision: float = 2.0,
                 window: int = 8000, every: int = 40, min_n: int = 1000, steps: int = 4):
        if not (precision > 0 and window >= 1 and every >= 1 and min_n >= 1 and steps >= 1):
            raise ValueError("MapLogistic: precision > 0 and window, every, min_n, steps >= 1")
        self.prior = dict(prior)
        self.intercept = float(intercept)
        self.precision = float(precision)
        self.every, self.min_n, self.steps = int(every), int(min_n), int(steps)
        self.cols: dict[str, int] = {}         # feature name -> column (0 is the intercept)
        self.rows: deque = deque(maxlen=int(window))   # (columns, values, y)
        self.w: np.ndarray | None = None       # weights of the last fit (column order)
        self.seen = 0
        self.fits = 0
        self.bad_fits = 0                      # fits that gave non-finite weights (kept none)

    def _prior_of(self, name: str) -> float:
        return self.prior.get(name, 0.0)

    def add(self, f: dict[str, float], y: bool) -> None:
        """One label; refits when due."""
        cols, vals = [], []
        for k in sorted(f):
            v = f[k]
            if not v or not math.isfinite(v):
                continue
            c = self.cols.get(k)
            if c is None:
                c = self.cols[k] = len(self.cols) + 1
            cols.append(c)
            vals.append(float(v))
        self.rows.append((tuple(cols), tuple(vals), 1.0 if y else 0.0))
        self.seen += 1
        if self.seen >= self.min_n and self.seen % self.every == 0:
            self.fit()

    def fit(self) -> None:
        """MAP weights over the window by Newton's method (``steps`` steps from the last
        fit's weights, or from the priors at the first fit)."""
        d = len(self.cols) + 1
        names = [""] * d
        for k, c in self.cols.items():
            names[c] = k
        w0 = np.array([self.intercept] + [self._prior_of(names[c]) for c in range(1, d)])
        lam = np.full(d, self.precision)
        lam[0] = INTERCEPT_PRECISION
        n = len(self.rows)
        x = np.zeros((n, d))
        x[:, 0] = 1.0
        y = np.empty(n)
        for i, (cols, vals, yi) in enumerate(self.rows):
            x[i, list(cols)] = vals
            y[i] = yi
        w = w0.copy()
        if self.w is not None:
            w[:len(self.w)] = self.w
        steps = self.steps if self.w is not None else 2 * self.steps

        def loss(v: np.ndarray) -> float:
            z = x @ v
            return float(np.sum(np.logaddexp(0.0, z) - y * z)
                         + 0.5 * np.sum(lam * (v - w0) ** 2))

        cur = loss(w)
        for _ in range(steps):
            z = np.clip(x @ w, -Z_CLIP, Z_CLIP)
            p = 1.0 / (1.0 + np.exp(-z))
            g = x.T @ (p - y) + lam * (w - w0)
            h = (x.T * (p * (1.0 - p))) @ x
            h[np.diag_indices(d)] += lam
            try:
                step = np.linalg.solve(h, g)
            except np.linalg.LinAlgError:
                break
            # damped: halve the step until the objective does not rise (a full Newton
            # step can overshoot on extreme or separable labels)
            for _half in range(HALVINGS):
                cand = w - step
                new = loss(cand)
                if np.isfinite(new) and new <= cur:
                    w, cur = cand, new
                    break
                step = step * 0.5
            else:
                break
        if not np.all(np.isfinite(w)):
            self.bad_fits = getattr(self, "bad_fits", 0) + 1   # keep the last good weights
            return
        self.w = w
        self.fits += 1

    def predict(self, f: dict[str, float]) -> float | None:
        """P(y) by the last fit, or None before the first one."""
        w = self.w
        if w is None:
            return None
        z = float(w[0])
        nw = len(w)
        for k, v in f.items():
            if not v or not math.isfinite(v):
                continue
            c = self.cols.get(k)
            z += v * (float(w[c]) if c is not None and c < nw else self._prior_of(k))
        return _sigmoid(z)

    def weights(self) -> dict[str, float]:
        """The last fit's weights by feature name (``"intercept"`` too); empty before."""
        if self.w is None:
            return {}
        out = {"intercept": float(self.w[0])}
        for k, c in self.cols.items():
            if c < len(self.w):
                out[k] = float(self.w[c])
        return out
