"""Plain metric functions of the evaluation report (no plotting, no I/O).

A metric that cannot be computed is never ``nan`` or ``None``: it is an
:class:`NA`, a string ``"n/a (reason)"`` that serialises as such in JSON and
prints as such in text and HTML.

>>> mae([1.0, -3.0])
2.0
>>> mae([])
'n/a (no data)'
>>> roc_auc([0.1, 0.4, 0.35, 0.8], [False, False, True, True])
0.75
>>> roc_auc([0.2, 0.3], [True, True])
'n/a (no negatives)'
>>> mean_sd([1.0, 2.0, 3.0])
(2.0, 1.0)
>>> mean_sd([4.0])[1]
'n/a (one seed)'
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np


class NA(str):
    """A missing metric: ``n/a (reason)``."""

    def __new__(cls, reason: str) -> NA:
        return super().__new__(cls, f"n/a ({reason})")


def na(reason: str) -> NA:
    return NA(reason)


def is_num(x: Any) -> bool:
    """A usable number (not NA, None, nan or inf; bools are not numbers here)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(float(x))


def rnd(x: Any, n: int = 3) -> Any:
    """Round a number; pass NA through; turn None / nan / inf into NA."""
    if isinstance(x, NA):
        return x
    if not is_num(x):
        return na("not finite" if isinstance(x, float) else "no data")
    return round(float(x), n)


def mae(errs: Sequence[float]) -> float | NA:
    return sum(abs(e) for e in errs) / len(errs) if len(errs) else na("no data")


def mean(xs: Sequence[float]) -> float | NA:
    return sum(xs) / len(xs) if len(xs) else na("no data")


def quantile(xs: Sequence[float], q: float) -> float | NA:
    """Empirical quantile (linear interpolation)."""
    if not len(xs):
        return na("no data")
    return float(np.quantile(np.asarray(xs, dtype=float), q))


def share(flags: Sequence[bool], reason: str = "no data") -> float | NA:
    return sum(1 for f in flags if f) / len(flags) if len(flags) else na(reason)


def ratio(a: Any, b: Any, reason: str = "nothing to compare") -> float | NA:
    if not (is_num(a) and is_num(b)) or b == 0:
        return na(reason)
    return a / b


def roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> float | NA:
    """Mann-Whitney AUC with ties counted half."""
    pos = sum(1 for y in labels if y)
    neg = len(labels) - pos
    if not len(labels):
        return na("no predictions")
    if pos == 0:
        return na("no positives")
    if neg == 0:
        return na("no negatives")
    s = np.asarray(scores, dtype=float)
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    sorted_s = s[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    y = np.asarray(labels, dtype=bool)
    return float((ranks[y].sum() - pos * (pos + 1) / 2) / (pos * neg))


def roc_curve(scores: Sequence[float], labels: Sequence[bool]) -> tuple[list[float], list[float]]:
    """(false positive rates, true positive rates), one point per distinct threshold."""
    y = np.asarray(labels, dtype=bool)
    pos, neg = int(y.sum()), int((~y).sum())
    if pos == 0 or neg == 0:
        return [], []
    s = np.asarray(scores, dtype=float)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    tp = np.cumsum(y)[last]
    fp = (last + 1) - tp
    return [0.0, *(fp / neg).tolist()], [0.0, *(tp / pos).tolist()]


def pr_curve(
    scores: Sequence[float], labels: Sequence[bool]
) -> tuple[list[float], list[float], float | NA]:
    """(recalls, precisions, average precision)."""
    y = np.asarray(labels, dtype=bool)
    pos = int(y.sum())
    if pos == 0 or not len(y):
        return [], [], na("no positives")
    s = np.asarray(scores, dtype=float)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    tp = np.cumsum(y)[last]
    prec = tp / (last + 1)
    rec = tp / pos
    ap = float(np.sum(np.diff(np.r_[0.0, rec]) * prec))
    return rec.tolist(), prec.tolist(), ap


def log_loss(ps: Sequence[float], labels: Sequence[bool]) -> float | NA:
    if not len(ps):
        return na("no predictions")
    eps = 1e-6
    tot = 0.0
    for p, y in zip(ps, labels):
        p = min(1 - eps, max(eps, p))
        tot -= math.log(p if y else 1 - p)
    return tot / len(ps)


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion k/n."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, c - h), min(1.0, c + h)


def reliability(ps: Sequence[float], labels: Sequence[bool], bins: int = 10) -> list[dict]:
    """Per probability bin: mean predicted, observed frequency, its 95 % interval, count."""
    out = []
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        idx = [i for i, p in enumerate(ps) if lo <= p < hi or (b == bins - 1 and p >= 1.0)]
        if idx:
            k = sum(1 for i in idx if labels[i])
            out.append(
                {
                    "lo": lo,
                    "hi": hi,
                    "mean_p": sum(ps[i] for i in idx) / len(idx),
                    "observed": k / len(idx),
                    "ci": wilson(k, len(idx)),
                    "n": len(idx),
                }
            )
    return out


def deciles(keys: Sequence[float]) -> list[tuple[float, float]]:
    """Edges of the ten quantile bins of ``keys`` (lower, upper)."""
    if not len(keys):
        return []
    qs = np.quantile(np.asarray(keys, dtype=float), np.linspace(0, 1, 11))
    return [(float(qs[i]), float(qs[i + 1])) for i in range(10)]


def decile_index(edges: list[tuple[float, float]], x: float) -> int:
    for i, (_lo, hi) in enumerate(edges):
        if x <= hi:
            return i
    return len(edges) - 1


def mean_sd(xs: Iterable[Any]) -> tuple[float | NA, float | NA]:
    """Mean and sample standard deviation of the usable numbers of ``xs``."""
    v = [float(x) for x in xs if is_num(x)]
    if not v:
        return na("no seed has it"), na("no seed has it")
    m = sum(v) / len(v)
    if len(v) < 2:
        return m, na("one seed")
    return m, math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1))


def clean(obj: Any) -> Any:
    """Deep copy of ``obj`` where every None / nan / inf became an NA (for output)."""
    if isinstance(obj, dict):
        return {k: clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    if obj is None:
        return na("not available")
    if isinstance(obj, float) and not math.isfinite(obj):
        return na("not finite")
    return obj
