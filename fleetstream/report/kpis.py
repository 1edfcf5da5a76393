"""The report's KPIs: what each one is, how it is read from a scorecard, and its
aggregation over seeds (mean, sample standard deviation, per-seed values).

Every KPI is data (:data:`MODEL_KPIS`, :data:`POLICY_KPIS`, :data:`POLICY_DIFFS`);
docs/evaluate.md defines each one under the same key.

>>> agg = aggregate([{"a": 0.5}, {"a": 0.7}], ["31", "32"], [Kpi("a", "A", "share", lambda c: c["a"])])
>>> round(agg["a"]["mean"], 3), round(agg["a"]["sd"], 3), agg["a"]["per_seed"]
(0.6, 0.141, {'31': 0.5, '32': 0.7})
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fleetstream.report.metrics import is_num, mean_sd, na


@dataclass(frozen=True)
class Kpi:
    key: str
    label: str
    unit: str  # share (0-1, shown in %), points, s (shown in min), min, auc, count, km, h, ratio
    get: Callable[[dict], Any]
    help: str = ""


def _g(*path: str) -> Callable[[dict], Any]:
    def get(c: dict) -> Any:
        for p in path:
            if not isinstance(c, dict) or p not in c:
                return na("not in scorecard")
            c = c[p]
        return c

    return get


def _diff(a: Callable, b: Callable, reason: str) -> Callable[[dict], Any]:
    def get(c: dict) -> Any:
        x, y = a(c), b(c)
        return x - y if is_num(x) and is_num(y) else na(reason)

    return get


L30, L60 = "30min_before_window_end", "60min_before_window_end"

MODEL_KPIS: list[Kpi] = [
    Kpi(
        "leg_mae_reduction",
        "ETA leg error below the provider (MAE, s)",
        "share",
        _g("legs", "mae_reduction_vs_provider"),
        "1 - MAE(model) / MAE(provider) of every driven leg's travel time, in seconds",
    ),
    Kpi(
        "leg_worse_deciles",
        "Leg-length deciles where the ETA model is worse than the provider",
        "count",
        _g("legs", "deciles_worse_than_provider"),
    ),
    Kpi(
        "leg_worse_deciles_beyond_noise",
        "Of those, deciles worse by more than two standard errors",
        "count",
        _g("legs", "deciles_worse_beyond_noise"),
        "deciles whose mean paired difference of absolute leg errors (model minus provider) "
        "is more than two standard errors above zero: worse by more than a day's chance",
    ),
    Kpi(
        "arrival_mae_reduction",
        "Arrival ETA error below the provider (all predictions)",
        "share",
        _g("eta", "mae_reduction_vs_provider"),
    ),
    Kpi("arrival_mae_model", "Arrival ETA MAE, model", "s", _g("eta", "model", "mae_s")),
    Kpi(
        "arrival_mae_provider",
        "Arrival ETA MAE, provider alone",
        "s",
        _g("eta", "provider", "mae_s"),
    ),
    Kpi(
        "plan_held_mae_reduction",
        "Arrival error below the provider where the plan held",
        "share",
        _g("eta", "plan_held", "mae_reduction_vs_provider"),
    ),
    Kpi(
        "coverage80", "80 % interval coverage, overall", "share", _g("intervals", "80", "coverage")
    ),
    Kpi(
        "coverage95", "95 % interval coverage, overall", "share", _g("intervals", "95", "coverage")
    ),
    Kpi(
        "cov80_worst_gap",
        "80 % coverage: worst gap to nominal over zone/horizon/hour buckets",
        "points",
        _g("intervals", "80", "worst_bucket_gap", "points"),
    ),
    Kpi(
        "cov95_worst_gap",
        "95 % coverage: worst gap to nominal over zone/horizon/hour buckets",
        "points",
        _g("intervals", "95", "worst_bucket_gap", "points"),
    ),
    Kpi(
        "cov80_noise_floor",
        "80 % coverage: worst gap a perfectly calibrated interval shows by chance",
        "points",
        _g("intervals", "80", "worst_bucket_gap", "noise_floor_points"),
    ),
    Kpi(
        "cov95_noise_floor",
        "95 % coverage: worst gap a perfectly calibrated interval shows by chance",
        "points",
        _g("intervals", "95", "worst_bucket_gap", "noise_floor_points"),
    ),
    Kpi(
        "w95_lt30",
        "Median 95 % width, arrivals < 30 min ahead",
        "s",
        _g("width95_median_s", "lt30min"),
    ),
    Kpi(
        "w95_30_60",
        "Median 95 % width, arrivals 30-60 min ahead",
        "s",
        _g("width95_median_s", "30-60min"),
    ),
    Kpi(
        "late_auc_30",
        "Late-risk ROC-AUC, 30 min before window end",
        "auc",
        _g("late_risk", L30, "roc_auc"),
    ),
    Kpi(
        "slack_auc_30",
        "ETA-slack ranking ROC-AUC, 30 min before window end",
        "auc",
        _g("late_risk", L30, "slack_roc_auc"),
    ),
    Kpi(
        "late_minus_slack_30",
        "Late-risk AUC minus ETA-slack AUC, 30 min",
        "auc",
        _diff(
            _g("late_risk", L30, "roc_auc"),
            _g("late_risk", L30, "slack_roc_auc"),
            "an AUC is missing",
        ),
    ),
    Kpi(
        "late_auc_60",
        "Late-risk ROC-AUC, 60 min before window end",
        "auc",
        _g("late_risk", L60, "roc_auc"),
    ),
    Kpi(
        "fail_auc_30",
        "Failure-risk ROC-AUC, 30 min before window end",
        "auc",
        _g("failure_risk", L30, "roc_auc"),
    ),
    Kpi(
        "fail_auc_60",
        "Failure-risk ROC-AUC, 60 min before window end",
        "auc",
        _g("failure_risk", L60, "roc_auc"),
    ),
    Kpi("alert_precision", "Late-risk alert precision", "share", _g("alerts", "precision")),
    Kpi("alert_recall", "Late-risk alert recall", "share", _g("alerts", "recall")),
    Kpi(
        "alert_lead",
        "Median alert lead before window end (true alerts)",
        "min",
        _g("alerts", "median_lead_before_window_end_min"),
    ),
    Kpi("predictions", "ETA predictions scored", "count", _g("predictions_scored")),
]

POLICY_KPIS: list[Kpi] = [
    Kpi("on_time_rate", "On time", "share", _g("on_time_rate")),
    Kpi("delivered_on_time_rate", "Delivered on time (a failed attempt is not)", "share",
        _g("delivered_on_time_rate")),
    Kpi("failed_attempts", "Failed attempts (at the door, retries included)", "count",
        _g("failed_attempts")),
    Kpi("orders_failed", "Orders ended failed", "count", _g("orders_failed")),
    Kpi("not_served", "Not served", "count", _g("not_served")),
    Kpi("contacted", "Customers contacted ahead", "count", _g("contacted")),
    Kpi("stranded", "Stranded on a broken-down vehicle", "count", _g("stranded")),
    Kpi("km", "Distance driven", "km", _g("km")),
    Kpi("cost", "Cost", "ratio", _g("cost")),
    Kpi("overtime_h", "Overtime", "h", _g("overtime_h")),
    Kpi("decisions", "Decisions", "count", _g("decisions")),
    Kpi(
        "stops_per_driver_spread",
        "Stops per driver: max - min (captive fleets)",
        "count",
        _g("stops_per_driver_spread"),
    ),
]


def _pct_change(a: str, b: str, key: str) -> Callable[[dict], Any]:
    def get(c: dict) -> Any:
        x, y = c.get(a, {}).get(key), c.get(b, {}).get(key)
        if not (is_num(x) and is_num(y)):
            return na(f"{a} or {b} not run")
        return x / y - 1 if y else na(f"{b} has zero {key}")

    return get


def _points(a: str, b: str) -> Callable[[dict], Any]:
    def get(c: dict) -> Any:
        x, y = c.get(a, {}).get("on_time_rate"), c.get(b, {}).get("on_time_rate")
        return 100 * (x - y) if is_num(x) and is_num(y) else na(f"{a} or {b} not run")

    return get


# Differences between policies, per seed ("c" is {policy: kpis} of one seed).
POLICY_DIFFS: list[Kpi] = [
    Kpi(
        "on_time_pred_minus_reactive",
        "On time: predictive minus reactive",
        "points",
        _points("predictive", "reactive"),
    ),
    Kpi(
        "on_time_pred_minus_static",
        "On time: predictive minus static",
        "points",
        _points("predictive", "static"),
    ),
    Kpi(
        "on_time_reactive_minus_static",
        "On time: reactive minus static",
        "points",
        _points("reactive", "static"),
    ),
    Kpi(
        "failed_pred_vs_reactive",
        "Failed attempts: predictive vs reactive",
        "share",
        _pct_change("predictive", "reactive", "failed_attempts"),
    ),
    Kpi(
        "km_pred_vs_static",
        "Distance: predictive vs static",
        "share",
        _pct_change("predictive", "static", "km"),
    ),
    Kpi(
        "km_pred_vs_reactive",
        "Distance: predictive vs reactive",
        "share",
        _pct_change("predictive", "reactive", "km"),
    ),
]


def aggregate(cards: list[dict], seeds: list[str], kpis: list[Kpi]) -> dict[str, dict]:
    """Per KPI: ``mean``, ``sd`` (sample), ``per_seed`` {seed: value}, ``n_seeds``
    (seeds where it is a number); an NA wherever a figure cannot be given."""
    out = {}
    for k in kpis:
        per = {s: k.get(c) for s, c in zip(seeds, cards)}
        m, sd = mean_sd(per.values())
        out[k.key] = {
            "label": k.label,
            "unit": k.unit,
            "mean": m,
            "sd": sd,
            "per_seed": per,
            "n_seeds": sum(1 for v in per.values() if is_num(v)),
        }
    return out


def share_positive(per_seed: dict[str, Any]) -> tuple[int, int]:
    """(seeds where the value is > 0, seeds with a value)."""
    v = [x for x in per_seed.values() if is_num(x)]
    return sum(1 for x in v if x > 0), len(v)
