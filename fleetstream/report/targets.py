"""The targets, as data, in one place (issue #9 "Targets"), and the verdict.

A target is judged on the mean over seeds of its KPI.  It is *claimed* (``met`` or
``missed``) only when the KPI has a value on at least ``min_seeds`` seeds; below
that the verdict is ``indicative`` and says how many seeds it rests on: a figure
from one seed is never a claim.

>>> t = Target("late_auc_30", ">=", 0.90, 5, "at least 0.90")
>>> verdict(t, {"mean": 0.93, "n_seeds": 1, "per_seed": {"7": 0.93}})["status"]
'indicative'
>>> verdict(t, {"mean": 0.93, "n_seeds": 5, "per_seed": {}})["status"]
'met'
>>> verdict(t, {"mean": "n/a (no positives)", "n_seeds": 0, "per_seed": {}})["status"]
'n/a'

A comparison ("above the slack") is met only when it is above on most seeds too: a
mean of +0.0004 made of one seed above and four ties is a tie.

>>> above = next(t for t in MODEL_TARGETS if t.kpi == "late_minus_slack_30")
>>> tie = {"mean": 0.0004, "n_seeds": 5,
...        "per_seed": {"10": 0.004, "11": 0.0, "12": 0.0, "13": -0.002, "14": 0.0}}
>>> verdict(above, tie)["status"], verdict(above, tie)["note"]
('missed', '1 of 5 seeds meet it; positive on 1 of 5')
>>> verdict(above, {**tie, "per_seed": {"1": 0.01, "2": 0.002, "3": 0.001, "4": 0.0, "5": -0.01}})["status"]
'met'
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any

from fleetstream.report.metrics import is_num

OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}

MIN_BUCKET_N = 100
"""A zone / horizon / hour bucket counts in the coverage targets from this many predictions."""


@dataclass(frozen=True)
class Target:
    kpi: str  # key of a KPI in kpis.MODEL_KPIS / POLICY_DIFFS
    op: str  # >=, <=, >, <
    threshold: float  # in the KPI's own unit (shares 0-1, seconds, points, minutes)
    min_seeds: int  # seeds needed before the target is claimed
    text: str  # the target in words
    per_seed_share: float | None = None  # also needs the KPI > 0 on this share of seeds
    floor_kpi: str | None = None  # a KPI the note quotes: the figure chance alone reaches
    beyond_kpi: str | None = None  # a KPI the note quotes: the count that is beyond chance


MODEL_TARGETS: list[Target] = [
    Target("leg_mae_reduction", ">=", 0.35, 5, "ETA leg MAE at least 35 % below the provider"),
    Target(
        "leg_worse_deciles",
        "<=",
        0,
        5,
        "ETA never worse than the provider in a decile of leg length",
        beyond_kpi="leg_worse_deciles_beyond_noise",
    ),
    Target(
        "cov80_worst_gap",
        "<=",
        2.0,
        5,
        f"80 % coverage within 2 points in every zone, horizon and hour ({MIN_BUCKET_N}+ predictions)",
        floor_kpi="cov80_noise_floor",
    ),
    Target(
        "cov95_worst_gap",
        "<=",
        2.0,
        5,
        f"95 % coverage within 2 points in every zone, horizon and hour ({MIN_BUCKET_N}+ predictions)",
        floor_kpi="cov95_noise_floor",
    ),
    Target("w95_lt30", "<=", 15 * 60, 5, "median 95 % width at most 15 min under 30 min ahead"),
    Target("w95_30_60", "<=", 30 * 60, 5, "median 95 % width at most 30 min 30-60 min ahead"),
    Target("late_auc_30", ">=", 0.90, 5, "late-risk AUC at 30 min at least 0.90"),
    Target(
        "late_minus_slack_30",
        ">",
        0.0,
        5,
        "late-risk AUC above the ETA-slack ranking, on most seeds",
        per_seed_share=0.5,   # a mean lifted by one seed over ties is not "above"
    ),
    Target("fail_auc_30", ">=", 0.75, 5, "failure-risk AUC at least 0.75"),
    Target("alert_precision", ">=", 0.70, 5, "alert precision at least 0.7"),
    Target("alert_recall", ">=", 0.70, 5, "alert recall at least 0.7"),
    Target("alert_lead", ">=", 30.0, 5, "median alert lead at least 30 min"),
]

POLICY_TARGETS: list[Target] = [
    Target(
        "on_time_pred_minus_reactive",
        ">=",
        3.0,
        10,
        "predictive minus reactive at least +3 points on time, positive on 8 of 10 seeds",
        per_seed_share=0.8,
    ),
    Target(
        "on_time_pred_minus_static",
        ">=",
        10.0,
        10,
        "predictive minus static at least +10 points on time",
    ),
    Target(
        "failed_pred_vs_reactive",
        "<=",
        -0.25,
        10,
        "failed attempts at least 25 % fewer than reactive",
    ),
    Target("km_pred_vs_static", "<=", 0.05, 10, "distance at most +5 % (predictive vs static)"),
]


def verdict(t: Target, agg: dict[str, Any]) -> dict[str, Any]:
    """``status``: met | missed | indicative | n/a; ``ok`` (bool, when judged);
    ``note``: why it is not a claim, or how many seeds met it."""
    m = agg.get("mean")
    n = agg.get("n_seeds", 0)
    if not is_num(m):
        return {"status": "n/a", "ok": None, "note": str(m)}
    ok = OPS[t.op](m, t.threshold)
    seeds_ok = sum(
        1 for v in agg.get("per_seed", {}).values() if is_num(v) and OPS[t.op](v, t.threshold)
    )
    note = f"{seeds_ok} of {n} seeds meet it"
    if t.per_seed_share is not None:
        pos = sum(1 for v in agg.get("per_seed", {}).values() if is_num(v) and v > 0)
        need = t.per_seed_share * n
        ok = ok and pos >= need
        note += f"; positive on {pos} of {n}"
    if n < t.min_seeds:
        word = "one seed" if n == 1 else f"{n} seeds"
        return {
            "status": "indicative",
            "ok": ok,
            "note": f"{word} only: not a claim (target needs {t.min_seeds}+); {note}",
        }
    return {"status": "met" if ok else "missed", "ok": ok, "note": note}


def verdicts(targets: list[Target], agg: dict[str, dict]) -> list[dict]:
    out = []
    for t in targets:
        a = agg.get(t.kpi)
        if a is None:
            continue
        v = verdict(t, a)
        floor = agg.get(t.floor_kpi or "", {}).get("mean")
        if is_num(floor):
            v["note"] += (f"; noise floor {floor:.1f} points (the worst gap a perfectly "
                          "calibrated interval shows on the same buckets by chance)")
        beyond = agg.get(t.beyond_kpi or "", {}).get("per_seed") or {}
        if beyond and all(is_num(b) for b in beyond.values()):
            v["note"] += (f"; by more than two standard errors of the paired difference: "
                          f"{' '.join(str(int(b)) for b in beyond.values())} per seed")
        out.append(
            {
                "target": t,
                "kpi": t.kpi,
                "label": a["label"],
                "unit": a["unit"],
                "agg": a,
                **v,
            }
        )
    return out


def summary(vs: list[dict]) -> str:
    """One line: how many targets met, missed, indicative, not available."""
    c = {k: sum(1 for v in vs if v["status"] == k) for k in ("met", "missed", "indicative", "n/a")}
    return (
        f"{c['met']} met, {c['missed']} missed, {c['indicative']} indicative "
        f"(too few seeds to claim), {c['n/a']} not available, of {len(vs)} targets"
    )
