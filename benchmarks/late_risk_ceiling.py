"""Is there anything left to learn beyond the ETA slack?  The ceiling of the late-risk
target "above the ETA-slack ranking" (issue #9 item 5), measured.

The learned late-risk model ties the plain slack ranking (benchmarks/late_risk.py).
This asks whether *any* model, given what the engine knows 30 minutes before a
window end, ranks late arrivals better than the slack on days it did not see.  For
each seed, one closed-loop day exactly as benchmarks/late_risk.py runs it; for every
delivery captured 30 minutes before its window end (``Order.wsnaps``, the population
of the target) the features are:

- the risk features the engine's seat sees (``World.risk_x``: slack, horizon, stops
  ahead, 80 % width, hour, customer history, availability context, priority);
- the **route context** of that moment, which the seat does not see: the stop's
  position in its vehicle's route (stops ahead including pickups, stops behind),
  how many stops ahead of and behind it are themselves predicted late, the latest
  predicted lateness behind it, whether it and how many of the vehicle's stops
  carry a late-risk flag, and whether the refresh handed it to the risk response.

Then **leave one day out**: each model is fitted on the other days and scored (ROC-AUC,
as the scorecard) on the held-out day, against the slack's AUC on that day:

- ``logit slack``: logistic regression on the slack alone (a monotone map of it: it
  must tie, a check of the harness);
- ``logit all``: logistic regression on every feature (numpy, ridge 1e-3);
- ``gbm all``: gradient-boosted trees on every feature (scikit-learn's
  HistGradientBoostingClassifier, 150 rounds, 7 leaves, fixed seed), only when
  scikit-learn is installed (it is not a dependency of fleetstream:
  ``pip install scikit-learn`` to add this row).

A model that knows something the slack does not wins on most held-out days; one
that ties or loses says the slack is at the ceiling of what these features carry.
Printed per day, then mean (sd) of the AUC minus the slack's AUC and the number of
days above it.  ``--json`` writes every figure.

Usage::

    nice -n 10 .venv/bin/python benchmarks/late_risk_ceiling.py --scenario andorra --seeds 1,2,3,4,5,6,7,8
    nice -n 10 .venv/bin/python benchmarks/late_risk_ceiling.py --scenario small --seeds 1,2,3,4

CI variant: ``--scenario tiny --seeds 3,4`` (seconds).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))   # late_risk, by path

MARK = 1800.0
RISK_KEYS = ("slack_s", "horizon_s", "stops_ahead", "width80_s", "hour", "priority",
             "cust_failures", "cust_deliveries", "cust_access_failures",
             "access_difficulty_known", "arr_hour", "nh_near", "ok_near", "stated_in",
             "stated_out_h")
CTX_KEYS = ("position", "behind", "late_ahead", "late_behind", "max_late_behind_h",
            "flagged", "flags_in_vehicle", "answered")
FEATURES = RISK_KEYS + CTX_KEYS


def route_context(route: list[tuple], j: int, oid: str, answered: list[str]) -> dict:
    """The route context of the delivery at index ``j`` of ``route`` (tuples of order
    id, predicted arrival, window end, stop kind, late flag) at one refresh.

    >>> r = [("a", 100.0, 50.0, "delivery", True), ("p", 150.0, 0.0, "pickup", False),
    ...      ("b", 200.0, 900.0, "delivery", False), ("c", 400.0, 300.0, "delivery", True)]
    >>> ctx = route_context(r, 2, "b", ["c"])
    >>> ctx["position"], ctx["behind"], ctx["late_ahead"], ctx["late_behind"]
    (2, 1, 1, 1)
    >>> ctx["flagged"], ctx["flags_in_vehicle"], ctx["answered"], round(ctx["max_late_behind_h"], 4)
    (0, 2, 0, 0.0278)
    """
    late = [e is not None and kind == "delivery" and e > w for _, e, w, kind, _f in route]
    behind = [e - w for _, e, w, kind, _f in route[j + 1:] if e is not None and kind == "delivery"]
    return {"position": j, "behind": len(route) - j - 1,
            "late_ahead": sum(late[:j]), "late_behind": sum(late[j + 1:]),
            "max_late_behind_h": max(0.0, max(behind, default=0.0)) / 3600.0,
            "flagged": int(bool(route[j][4])),
            "flags_in_vehicle": sum(1 for *_x, f in route if f),
            "answered": int(oid in answered)}


def collect_day(scenario: str, seed: int) -> list[dict]:
    """One closed-loop day (benchmarks/late_risk.py ``run_day``, default settings):
    one row per delivery predicted 30 minutes before its window end, with its features
    (``FEATURES``), the slack (predicted arrival minus window end, s) and the label
    (the world's arrival after the window end)."""
    import late_risk

    from fleetstream.operators.zone.forecasting import Forecasting

    original = Forecasting.refresh

    def refresh(self, v, now, triggers, out):   # the route context of each new snapshot
        got = original(self, v, now, triggers, out)
        orders = self.state.orders
        route = [(oid, v.etas[k] if k < len(v.etas) else None, orders[oid].window_end, kind,
                  orders[oid].late_flag) for k, (oid, kind) in enumerate(v.route)]
        for j, (oid, _e, _w, kind, _f) in enumerate(route):
            ws = orders[oid].wsnaps.get(MARK)
            if kind == "delivery" and ws is not None and ws["ts"] == now and "ctx" not in ws:
                ws["ctx"] = route_context(route, j, oid, list(got))
        return got

    rows: list[dict] = []

    def collect(_engines, col, sim) -> None:
        arrived: dict[str, list[float]] = {}
        for t in sim.truth_attempts:
            if t.get("arrived_ts") is not None:
                arrived.setdefault(t["order_id"], []).append(t["arrived_ts"])
        for a in col.arrivals:
            ws = a["wsnaps"].get(MARK)
            if ws is None or ws.get("p_late") is None or "ctx" not in ws:
                continue
            tries = arrived.get(a["order_id"], [a["ts"]])
            actual = min(tries, key=lambda x: abs(x - a["ts"]))
            x = {k: float(ws["xr"].get(k) or 0.0) for k in RISK_KEYS}
            x.update({k: float(ws["ctx"][k]) for k in CTX_KEYS})
            rows.append({"seed": seed, "y": actual > a["window_end"],
                         "slack": ws["eta"] - a["window_end"], "p_late": ws["p_late"], "x": x})

    Forecasting.refresh = refresh
    try:
        late_risk.run_day(scenario, seed, collect=collect)
    finally:
        Forecasting.refresh = original
    return rows


def logit_fit(X: np.ndarray, y: np.ndarray, ridge: float = 1e-3, iters: int = 50) -> Callable:
    """Logistic regression by Newton's method on standardized columns (ridge on the
    weights, not the intercept); returns a scoring function (the linear predictor,
    which ranks as the probability does).

    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 2)); y = X[:, 0] + 0.1 * rng.normal(size=400) > 0
    >>> f = logit_fit(X, y)
    >>> bool(((f(X) > 0) == y).mean() > 0.9)
    True
    """
    mu, sd = X.mean(axis=0), X.std(axis=0)
    sd[sd == 0] = 1.0
    Z = np.c_[np.ones(len(X)), (X - mu) / sd]
    w = np.zeros(Z.shape[1])
    reg = np.full(Z.shape[1], ridge * len(X))
    reg[0] = 0.0
    t = y.astype(float)
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(Z @ w, -30, 30)))
        g = Z.T @ (p - t) + reg * w
        H = (Z * (p * (1 - p))[:, None]).T @ Z + np.diag(reg) + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(H, g)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return lambda Xn: np.c_[np.ones(len(Xn)), (Xn - mu) / sd] @ w


def gbm_fit(X: np.ndarray, y: np.ndarray) -> Callable | None:
    """Gradient-boosted trees (scikit-learn), or None when scikit-learn is missing."""
    try:
        from sklearn.ensemble import HistGradientBoostingClassifier
    except ImportError:
        return None
    m = HistGradientBoostingClassifier(max_iter=150, learning_rate=0.05, max_leaf_nodes=7,
                                       random_state=0).fit(X, y)
    return lambda Xn: m.predict_proba(Xn)[:, 1]


MODELS: dict[str, tuple[tuple[str, ...], Callable]] = {
    "logit slack": (("slack_s",), logit_fit),
    "logit all": (FEATURES, logit_fit),
    "gbm all": (FEATURES, gbm_fit),
}


def leave_one_day_out(rows: list[dict], models: dict = MODELS) -> dict[str, Any]:
    """Per held-out seed: the slack's AUC, the engine's (``p_late``) and each model's
    fitted on the other seeds; per model the AUC minus the slack's on each day.
    A model whose fit returns None (scikit-learn missing) is left out."""
    from fleetstream.report.metrics import roc_auc

    seeds = sorted({r["seed"] for r in rows})
    y = np.array([r["y"] for r in rows])
    seed = np.array([r["seed"] for r in rows])
    slack = np.array([r["slack"] for r in rows])
    p = np.array([r["p_late"] for r in rows])
    days = []
    for s in seeds:
        te = seed == s
        ys = y[te]
        if ys.all() or not ys.any() or (~te).sum() < 10:
            continue
        d: dict[str, Any] = {"seed": s, "n": int(te.sum()), "late": int(ys.sum()),
                             "slack": float(roc_auc(slack[te], ys)),
                             "engine": float(roc_auc(p[te], ys))}
        for name, (keys, fit) in models.items():
            X = np.array([[r["x"][k] for k in keys] for r in rows], dtype=float)
            f = fit(X[~te], y[~te])
            if f is not None:
                d[name] = float(roc_auc(f(X[te]), ys))
        days.append(d)
    names = ["engine"] + [m for m in models if days and m in days[0]]
    summ = {}
    for m in names:
        diff = [d[m] - d["slack"] for d in days]
        summ[m] = {"mean_minus_slack": statistics.fmean(diff) if diff else None,
                   "sd": statistics.stdev(diff) if len(diff) > 1 else 0.0,
                   "days_above": sum(1 for x in diff if x > 0), "days": len(diff)}
    return {"days": days, "summary": summ}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="andorra",
                    help="simulated scenario (tiny, small, metro, disrupted, zones8, andorra); "
                         "default andorra")
    ap.add_argument("--seeds", default="1,2,3,4",
                    help="comma-separated seeds, one closed-loop day each, at least two "
                         "(each is held out once; default 1,2,3,4)")
    ap.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    ap.add_argument("--json", default=None, help="also write every figure to this JSON file")
    a = ap.parse_args(argv)
    try:
        seeds = [int(s) for s in a.seeds.split(",") if s.strip()]
    except ValueError:
        print(f"late_risk_ceiling: --seeds must be integers separated by commas, got "
              f"{a.seeds!r}", file=sys.stderr)
        return 2
    from fleetstream.sim.world import SCENARIOS
    if a.scenario not in SCENARIOS:
        print(f"late_risk_ceiling: unknown scenario {a.scenario!r} (one of "
              f"{', '.join(SCENARIOS)})", file=sys.stderr)
        return 2
    if len(set(seeds)) < 2:
        print("late_risk_ceiling: give at least two seeds (each day is held out once)",
              file=sys.stderr)
        return 2
    rows: list[dict] = []
    for s in seeds:
        t0 = time.perf_counter()
        rows += collect_day(a.scenario, s)
        if not a.quiet:
            print(f"  seed {s}: {sum(1 for r in rows if r['seed'] == s)} deliveries 30 min "
                  f"before their window end [{time.perf_counter() - t0:.0f} s]",
                  file=sys.stderr, flush=True)
    res = leave_one_day_out(rows)
    if not res["days"]:
        print("late_risk_ceiling: no day with both late and on-time deliveries at 30 min",
              file=sys.stderr)
        return 1
    names = list(res["summary"])
    print(f"{a.scenario}: ROC-AUC 30 min before the window end, each day held out "
          f"({len(FEATURES)} features)")
    print("  seed     n  late   slack  " + "  ".join(f"{m:>12}" for m in names))
    for d in res["days"]:
        print(f"  {d['seed']:>4} {d['n']:>5} {d['late']:>5}  {d['slack']:.4f}  "
              + "  ".join(f"{d[m]:>12.4f}" for m in names))
    for m, s in res["summary"].items():
        print(f"  {m:>12} minus slack: mean {s['mean_minus_slack']:+.4f} (sd {s['sd']:.4f}), "
              f"above the slack on {s['days_above']} of {s['days']} days")
    if "gbm all" not in names:
        print("  gbm all: skipped, scikit-learn is not installed (pip install scikit-learn)")
    if a.json:
        import orjson
        with open(a.json, "wb") as f:
            f.write(orjson.dumps({"scenario": a.scenario, "features": list(FEATURES), **res},
                                 option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
