"""Assemble the report pages: models over one or more seeds, and the closed-loop
policy comparison over seeds.  Each returns the HTML and a plain summary (the
verdicts and aggregated KPIs) for ``summary.json`` and the terminal."""

from __future__ import annotations

from typing import Any

from fleetstream.report import charts, charts_ops
from fleetstream.report.fmt import fmt, threshold
from fleetstream.report.html import (
    block_table,
    e,
    kpi_table,
    meta_list,
    page,
    policy_table,
    section,
    verdict_table,
    workload_table,
)
from fleetstream.report.kpis import MODEL_KPIS, POLICY_DIFFS, POLICY_KPIS, aggregate
from fleetstream.report.metrics import is_num
from fleetstream.report.pooled import pool, pooled_blocks, pooled_deciles, pooled_gaps
from fleetstream.report.scorecard import _workload_summary
from fleetstream.report.targets import (MIN_BUCKET_N, MODEL_TARGETS, POLICY_TARGETS, summary,
                                       verdicts)


def _seed_note(seeds: list[str]) -> str:
    if len(seeds) == 1:
        return "single seed: every figure below is from one seed and is not a claim"
    return f"{len(seeds)} seeds: figures are mean ± sd over seeds, with each seed's value"


def _plain_verdicts(vs: list[dict], signed: bool = False) -> list[dict]:
    return [
        {
            "kpi": v["kpi"],
            "target": v["target"].text,
            "threshold": threshold(v["target"].op, v["target"].threshold, v["unit"]),
            "status": v["status"],
            "ok": v["ok"] if v["ok"] is not None else "n/a (not judged)",
            "note": v["note"],
            "mean": v["agg"]["mean"],
            "sd": v["agg"]["sd"],
            "per_seed": v["agg"]["per_seed"],
            "shown": fmt(v["agg"]["mean"], v["unit"], signed),
        }
        for v in vs
    ]


def model_report(
    cards: list[dict], raws: list[dict], seeds: list[str], meta: dict
) -> tuple[str, dict]:
    agg = aggregate(cards, seeds, MODEL_KPIS)
    vs = verdicts(MODEL_TARGETS, agg)
    raw = pool(raws)
    pooled = "pooled over seeds" if len(seeds) > 1 else "one seed"
    gaps = _pooled_gaps(raw, len(seeds))
    gaps_text = pooled_text(gaps)
    pdec = pooled_deciles(raw) if len(seeds) > 1 and raw["legs"]["dist_km"] else {}
    pdec_text = pooled_deciles_text(pdec, len(seeds))
    sections = [
        section(
            "Verdict against the targets",
            "Each target is judged on the mean over seeds; it is claimed (met or missed) only with "
            "enough seeds, otherwise it is indicative. Targets: issue #9, docs/evaluate.md.",
            f"<div class='box'><p class='summary'>{e(summary(vs))}</p>{verdict_table(vs)}</div>",
        ),
        section(
            "KPIs",
            f"{_seed_note(seeds)}. Times in minutes.",
            kpi_table(agg, seeds),
            charts_ops.seeds_chart(vs, seeds) if len(seeds) > 1 else "",
        ),
        section("Run", "", meta_list(meta)),
        section(
            "Risk models: reliability",
            f"Predicted probability against the observed frequency per 0.1 bin ({pooled}); bars: "
            "predictions per bin (numbers on the bars); error bars: 95 % Wilson intervals. "
            "Points on the diagonal are calibrated.",
            charts.reliability_chart(raw),
        ),
        section(
            "Risk models: ROC and precision-recall",
            "Late risk 30 min before the window end against the plain ETA-slack ranking (ETA minus "
            "window end), and failure risk; AUC, average precision and counts in the legends.",
            charts.roc_pr_chart(raw),
        ),
        section(
            "Intervals by horizon",
            "Share of arrivals inside the 80 % and 95 % intervals, and interval widths (median, "
            "inter-quartile range), by how far ahead the prediction was; n under each bucket.",
            charts.coverage_chart(raw, "horizon"),
        ),
        section(
            "Intervals by hour of the day",
            "The same by hour of the prediction (UTC); n under each hour.",
            charts.coverage_chart(raw, "hour"),
        ),
        section(
            "ETA error by leg length",
            "Travel-time error of each driven leg (seconds, shown in minutes) by decile of its length: "
            "the learned correction against the travel-time provider alone."
            + (f" {pdec_text}" if pdec_text else ""),
            charts.leg_error_chart(raw),
        ),
        section(
            "Alert lead time",
            "How long before the window end each late-risk alert on an order that was then late "
            "came; false alerts are counted in the title.",
            charts_ops.lead_chart(raw),
        ),
        section(
            "Per-driver workload",
            "Stops reached and shift length per driver in the recording, by fleet type "
            f"({pooled}).",
            charts_ops.workload_chart(raw["workload"]),
            workload_table(_workload_summary(raw["workload"])),
        ),
        section(
            "Tables",
            f"Arrival predictions ({pooled}): error, coverage and median width."
            + (f" {gaps_text}" if gaps_text else ""),
            block_table("By zone", "zone", pooled_blocks(raw, "zone")),
            block_table("By hour of prediction (UTC)", "hour", pooled_blocks(raw, "hour")),
            block_table("By horizon", "horizon", pooled_blocks(raw, "horizon")),
        ),
    ]
    scen = ", ".join(str(x) for x in meta.get("scenarios", []))
    html = page("fleetstream evaluation: models", f"{scen} · {_seed_note(seeds)}", sections)
    return html, {
        "mode": "models",
        "seeds": seeds,
        "verdict": summary(vs),
        "targets": _plain_verdicts(vs),
        "kpis": agg,
        **({"pooled_coverage": gaps} if gaps else {}),
        **({"pooled_deciles": {"seeds": len(seeds), **pdec}} if pdec else {}),
    }


def _pooled_gaps(raw: dict, n_seeds: int) -> dict:
    """The coverage targets' worst bucket gap on the predictions of all seeds pooled
    (buckets of ``MIN_BUCKET_N`` x seeds predictions or more), with its noise floor;
    empty for one seed (docs/evaluate.md, ``pooled_coverage``; :func:`pooled_text`
    says it in a sentence)."""
    if n_seeds < 2:
        return {}
    min_n = MIN_BUCKET_N * n_seeds
    return {"seeds": n_seeds, "min_bucket_n": min_n, **pooled_gaps(raw, min_n)}


def pooled_text(pc: dict) -> str:
    """The pooled coverage gap (``summary.json`` ``pooled_coverage``) in one sentence for
    the report and the terminal; empty when there is none."""
    parts = [f"{lvl} %: {pc[lvl]['points']} points ({pc[lvl]['bucket']}; noise floor "
             f"{pc[lvl]['noise_floor_points']})" for lvl in ("80", "95")
             if lvl in pc and isinstance(pc[lvl]["points"], (int, float))]
    if not parts:
        return ""
    return (f"Pooled over the {pc['seeds']} seeds (buckets of {pc['min_bucket_n']}+ "
            "predictions), the worst coverage gap is " + ", ".join(parts) + ": a gap well "
            "above its floor is the intervals', not chance's.")


def pooled_deciles_text(pd: dict, n_seeds: int) -> str:
    """The pooled leg-length deciles (``summary.json`` ``pooled_deciles``) in one sentence
    for the report and the terminal; empty when there are none."""
    if not pd:
        return ""
    worst = max(pd["deciles"], key=lambda d: d["model_mae_s"] / d["provider_mae_s"]
                if is_num(d["model_mae_s"]) and is_num(d["provider_mae_s"])
                and d["provider_mae_s"] > 0 else -1.0)
    return (f"Pooled over the {n_seeds} seeds ({pd['legs']} legs), the ETA is worse than the "
            f"provider in {pd['worse']} leg-length decile(s), {pd['worse_beyond_noise']} by more "
            f"than two standard errors; the least favourable decile ({worst['lo_km']}-{worst['hi_km']} km, "
            f"the highest ratio of the two MAEs) {worst['model_mae_s']} s against "
            f"{worst['provider_mae_s']} s.")


def policy_report(
    results: dict[str, dict[str, dict]], policies: list[str], seeds: list[str], meta: dict
) -> tuple[str, dict]:
    """``results``: seed -> policy -> closed-loop KPIs."""
    agg = {p: aggregate([results[s][p] for s in seeds], seeds, POLICY_KPIS) for p in policies}
    diffs = aggregate([results[s] for s in seeds], seeds, POLICY_DIFFS)
    diffs = {k: a for k, a in diffs.items() if a["n_seeds"]}
    vs = verdicts(POLICY_TARGETS, diffs)
    sections = [
        section(
            "Verdict against the closed-loop targets",
            "Differences between policies on the same seeds (same world, only decisions differ), "
            "judged on the mean over seeds; claimed only with 10 or more seeds.",
            f"<div class='box'><p class='summary'>{e(summary(vs))}</p>"
            f"{verdict_table(vs, signed=True) if vs else '<p class=na>n/a (run static, reactive and predictive)</p>'}"
            "</div>",
        ),
        section(
            "Policies",
            f"{_seed_note(seeds)}.",
            charts_ops.policy_chart(agg, diffs, policies, seeds),
            policy_table(agg, policies),
        ),
        section(
            "Differences between policies",
            "Per seed, then mean and sd over seeds.",
            kpi_table(diffs, seeds, signed=True) if diffs else "<p class='na'>n/a (one policy)</p>",
        ),
        section("Run", "", meta_list(meta)),
    ]
    scen = ", ".join(str(x) for x in meta.get("scenarios", []))
    html = page(
        "fleetstream evaluation: policy comparison", f"{scen} · {_seed_note(seeds)}", sections
    )
    return html, {
        "mode": "policies",
        "seeds": seeds,
        "policies": policies,
        "verdict": summary(vs),
        "targets": _plain_verdicts(vs, signed=True),
        "kpis": agg,
        "differences": diffs,
        "per_seed": results,
    }


def summary_text(summ: dict, limit: int = 40) -> str:
    """The verdict as terminal lines."""
    lines = [
        f"verdict ({len(summ['seeds'])} seed{'s' if len(summ['seeds']) != 1 else ''}): {summ['verdict']}"
    ]
    for t in summ["targets"][:limit]:
        st = (
            f"indicative: {'met' if t['ok'] is True else 'missed'}"
            if t["status"] == "indicative"
            else t["status"]
        )
        lines.append(f"  [{st:>18}] {t['target']}: {t['shown']} ({t['threshold']}); {t['note']}")
    return "\n".join(lines)


__all__ = ["Any", "model_report", "policy_report", "summary_text"]
