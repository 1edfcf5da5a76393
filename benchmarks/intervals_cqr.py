"""How sharp could a *conditional* 95 % interval be on the same predictions?  A bound
for the width targets of issue #9 item 4, from the predictions the engine made.

``benchmarks/intervals.py --dump DIR`` writes, per simulated day, every prediction
the interval seat learnt from (its features and the arrival residual).  This script
fits, leaving one day out, **conformalized quantile regression** (Romano et al.
2019) on them: gradient-boosted 2.5 % and 97.5 % quantile models of the residual
(scikit-learn's HistGradientBoostingRegressor, fixed seed), fitted on every other
prediction of the other days, widened by the conformal correction of the remaining
half per horizon bucket (under 10, 10-30, 30-60 minutes, beyond), lower bound never
before the prediction time, then scored on the held-out day: coverage of the 95 %
interval and its median width under 30 minutes and at 30-60 minutes ahead, next to
the engine's published intervals on the same predictions.

Feature sets: ``horizon`` (horizon, stops ahead: what the engine's seat conditions
on), ``xi`` (and hour, pace variance), ``all`` (and the slack to the window end, the
80 % width, priority, the customer's failures, access instructions known, the late
risk, time to the window end).  A flexible model on everything the engine knows
about a prediction is the sharpest interval these features allow: if it cannot
reach the target widths, conditioning the seat on them will not either.

Needs scikit-learn (not a dependency of fleetstream: ``pip install scikit-learn``).
Usage::

    .venv/bin/python benchmarks/intervals.py --seeds 5,6,7 --dump /tmp/ivdump
    .venv/bin/python benchmarks/intervals_cqr.py /tmp/ivdump
"""

from __future__ import annotations

import argparse
import glob
import gzip
import os
import statistics
import sys

import numpy as np

FEATURES = {
    "horizon": (0, 1),
    "xi": (0, 1, 2, 3),
    "all": tuple(range(11)),
}
BUCKETS = ((0.0, 600.0), (600.0, 1800.0), (1800.0, 3600.0), (3600.0, float("inf")))


def features(p: dict) -> list[float]:
    """One prediction's features (``--dump`` line): horizon, stops ahead, hour, pace
    variance, slack, 80 % width, priority, customer failures, access instructions
    known, late risk, time to the window end.

    >>> features({"xi": {"horizon_s": 60.0, "stops_ahead": 1, "hour": 9.5}, "xr": None,
    ...           "pred_ts": 100.0, "window_end": 1000.0})
    [60.0, 1.0, 9.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 900.0]
    """
    xi, xr = p["xi"], p.get("xr") or {}
    return [float(xi["horizon_s"]), float(xi.get("stops_ahead") or 0), float(xi.get("hour") or 0),
            float(xi.get("pace_var") or 0), float(xr.get("slack_s") or 0),
            float(xr.get("width80_s") or 0), float(xr.get("priority") or 0),
            float(xr.get("cust_failures") or 0), float(xr.get("access_difficulty_known") or 0),
            float(p.get("p_late") or 0), float(p["window_end"] - p["pred_ts"])]


def cqr_day(X: np.ndarray, r: np.ndarray, h: np.ndarray, train: np.ndarray,
            test: np.ndarray, cols: tuple, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Conformalized quantile regression: fit on every other training row, calibrate
    per horizon bucket on the rest; the intervals (lo, hi) of the ``test`` rows."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    idx = np.where(train)[0]
    fit, cal = idx[::2], idx[1::2]
    a = (1.0 - level) / 2.0
    models = [HistGradientBoostingRegressor(loss="quantile", quantile=q, max_iter=200,
                                            learning_rate=0.05, max_leaf_nodes=15,
                                            random_state=0).fit(X[fit][:, cols], r[fit])
              for q in (a, 1.0 - a)]
    c = list(cols)
    err = np.maximum(models[0].predict(X[cal][:, c]) - r[cal],
                     r[cal] - models[1].predict(X[cal][:, c]))
    lo, hi = models[0].predict(X[test][:, c]), models[1].predict(X[test][:, c])
    for b0, b1 in BUCKETS:
        gc = (h[cal] >= b0) & (h[cal] < b1)
        gt = (h[test] >= b0) & (h[test] < b1)
        if gc.sum() == 0 or gt.sum() == 0:
            continue
        qhat = np.quantile(err[gc], min(1.0, level * (1 + 1 / gc.sum())))
        lo[gt] -= qhat
        hi[gt] += qhat
    return np.maximum(lo, -h[test]), hi


def score(lo, hi, r, h) -> dict:
    near, mid = h < 1800, (h >= 1800) & (h < 3600)
    inside = (lo <= r) & (r <= hi)
    w = (hi - lo) / 60.0
    return {"coverage95": float(inside.mean()),
            "median_width95_lt30_min": float(np.median(w[near])) if near.any() else None,
            "median_width95_30_60_min": float(np.median(w[mid])) if mid.any() else None}


def _col(per: list[dict], key: str) -> str:
    v = [p[key] for p in per if p[key] is not None]
    return (f"{statistics.fmean(v):.1f} ({' '.join(f'{x:.1f}' for x in v)})"
            if "width" in key else f"{statistics.fmean(v):.3f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dump", help="directory of benchmarks/intervals.py --dump files (one per day)")
    a = ap.parse_args(argv)
    try:
        import sklearn  # noqa: F401
    except ImportError:
        print("intervals_cqr: needs scikit-learn (pip install scikit-learn)", file=sys.stderr)
        return 2
    import orjson
    files = sorted(glob.glob(os.path.join(a.dump, "*.jsonl.gz")))
    if len(files) < 2:
        print(f"intervals_cqr: {a.dump!r} holds {len(files)} dump file(s); give at least two "
              "days (benchmarks/intervals.py --seeds 5,6,7 --dump DIR)", file=sys.stderr)
        return 2
    rows, day = [], []
    for k, f in enumerate(files):
        with gzip.open(f, "rb") as fh:
            for line in fh:
                if line.strip():
                    rows.append(orjson.loads(line))
                    day.append(k)
    X = np.array([features(p) for p in rows])
    r = np.array([p["residual_s"] for p in rows])
    pub = np.array([p["published"] for p in rows])
    d, h = np.array(day), X[:, 0]
    print(f"{len(rows)} predictions on {len(files)} days; median 95 % width (min) under 30 "
          "min / 30-60 min, coverage of the 95 % interval")
    res: dict[str, list[dict]] = {"published": []}
    for k, f in enumerate(files):
        te = d == k
        res["published"].append(score(pub[te, 2], pub[te, 3], r[te], h[te]))
        for name, cols in FEATURES.items():
            lo, hi = cqr_day(X, r, h, ~te, te, cols)
            res.setdefault(name, []).append(score(lo, hi, r[te], h[te]))
    for name, per in res.items():
        print(f"  {name:>9}: < 30 min {_col(per, 'median_width95_lt30_min')}  30-60 min "
              f"{_col(per, 'median_width95_30_60_min')}  coverage {_col(per, 'coverage95')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
