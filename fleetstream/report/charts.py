"""The report's charts, drawn with matplotlib and inlined as SVG.

No pyplot (no global figure state, no interactive backend): each chart is a
:class:`matplotlib.figure.Figure` saved to SVG with text kept as text
(``svg.fonttype: none``, escaped by matplotlib), mathtext off (a ``$`` in a zone
name stays a dollar), a fixed hash salt per chart and no date, so the same data
gives the same bytes.  A chart with no data is an ``n/a (reason)`` paragraph.
"""

from __future__ import annotations

import io
import re
from html import escape

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from fleetstream.report.metrics import pr_curve, quantile, reliability, roc_auc, roc_curve
from fleetstream.report.scorecard import HORIZONS, length_deciles
from fleetstream.report.targets import MODEL_TARGETS

C = {
    "model": "#1f77b4",
    "provider": "#d62728",
    "slack": "#7f7f7f",
    "fail": "#2ca02c",
    "80": "#1f77b4",
    "95": "#ff7f0e",
    "static": "#8c564b",
    "reactive": "#9467bd",
    "predictive": "#2ca02c",
}
RC = {
    "svg.fonttype": "none",
    "text.parse_math": False,
    "font.size": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.fontsize": 8,
    "legend.framealpha": 0.9,
}
_HEAD = re.compile(r"^.*?(?=<svg)", re.DOTALL)


def to_svg(fig: Figure, name: str) -> str:
    with matplotlib.rc_context({**RC, "svg.hashsalt": name}):
        buf = io.StringIO()
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    svg = _HEAD.sub("", buf.getvalue(), count=1)
    return f'<figure class="chart" id="fig-{escape(name)}">{svg}</figure>'


def none(title: str, reason: str) -> str:
    return f'<p class="na">{escape(title)}: n/a ({escape(reason)})</p>'


def _fig(w: float, h: float) -> Figure:
    with matplotlib.rc_context(RC):
        return Figure(figsize=(w, h), layout="constrained")


def _label_bars(ax, bars, labels: list[str]) -> None:
    for b, t in zip(bars, labels):
        ax.annotate(
            t,
            (b.get_x() + b.get_width() / 2, b.get_height()),
            xytext=(0, 2),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=7,
        )


def reliability_chart(raw: dict) -> str:
    """Reliability diagrams of the late and failure risks, with counts per bin."""
    panels = [
        ("Late risk", raw["late"], (("30", "30 min before window end"), ("60", "60 min before"))),
        (
            "Failure risk",
            raw["fail"],
            (("30", "30 min before window end"), ("60", "60 min before")),
        ),
    ]
    if not any(d[m]["p"] for _t, d, ms in panels for m, _ in ms):
        return none("Reliability diagrams", "no risk prediction scored")
    with matplotlib.rc_context(RC):
        fig = _fig(9.5, 4.6)
        gs = fig.add_gridspec(2, 2, height_ratios=[3, 1])
        for col, (title, data, marks) in enumerate(panels):
            ax, axn = fig.add_subplot(gs[0, col]), fig.add_subplot(gs[1, col])
            ax.plot([0, 1], [0, 1], ls="--", c="#999", lw=1, label="perfect calibration")
            for i, (m, lab) in enumerate(marks):
                rel = reliability(data[m]["p"], data[m]["y"])
                if not rel:
                    continue
                xs = [r["mean_p"] for r in rel]
                ys = [r["observed"] for r in rel]
                err = [
                    [max(0.0, y - r["ci"][0]) for y, r in zip(ys, rel)],
                    [max(0.0, r["ci"][1] - y) for y, r in zip(ys, rel)],
                ]
                ax.errorbar(
                    xs,
                    ys,
                    yerr=err,
                    marker="o",
                    ms=4,
                    capsize=2,
                    lw=1.4,
                    label=f"{lab} (n={len(data[m]['p']):,})",
                )
                off = (i - 0.5) * 0.04
                bars = axn.bar(
                    [(r["lo"] + r["hi"]) / 2 + off for r in rel],
                    [r["n"] for r in rel],
                    width=0.04,
                    label=lab,
                )
                _label_bars(axn, bars, [str(r["n"]) for r in rel])
            ax.set(
                xlim=(0, 1),
                ylim=(0, 1.32),
                title=f"{title}: reliability (95 % intervals)",
                ylabel="observed frequency",
                yticks=[0, 0.2, 0.4, 0.6, 0.8, 1.0],
            )
            ax.legend(loc="upper left", ncol=2, fontsize=7)
            axn.set(xlim=(0, 1), xlabel="predicted probability", ylabel="predictions per bin")
            axn.margins(y=0.35)
            axn.yaxis.set_major_locator(MaxNLocator(nbins=3, integer=True))
    return to_svg(fig, "reliability")


def roc_pr_chart(raw: dict) -> str:
    """ROC and precision-recall curves: late risk vs the ETA-slack ranking, failure risk."""
    lt, ft = raw["late"]["30"], raw["fail"]["30"]
    curves = [
        ("late risk", lt["p"], lt["y"], C["model"]),
        ("ETA-slack ranking", lt["slack"], lt["y"], C["slack"]),
        ("failure risk", ft["p"], ft["y"], C["fail"]),
    ]
    curves = [c for c in curves if c[1] and 0 < sum(c[2]) < len(c[2])]
    if not curves:
        return none(
            "ROC and PR curves", "no positive and negative outcomes 30 min before window end"
        )
    with matplotlib.rc_context(RC):
        fig = _fig(9.5, 4.0)
        ax, ax2 = fig.subplots(1, 2)
        ax.plot([0, 1], [0, 1], ls="--", c="#999", lw=1, label="chance")
        for name, s, y, c in curves:
            fpr, tpr = roc_curve(s, y)
            ax.plot(
                fpr,
                tpr,
                c=c,
                lw=1.6,
                label=f"{name}: AUC {roc_auc(s, y):.3f} (n={len(s):,}, {sum(y):,} pos.)",
            )
            rec, prec, ap = pr_curve(s, y)
            ax2.plot(rec, prec, c=c, lw=1.6, drawstyle="steps-post", label=f"{name}: AP {ap:.3f}")
            ax2.axhline(sum(y) / len(y), c=c, ls=":", lw=1)
        ax.set(
            xlim=(0, 1),
            ylim=(0, 1.02),
            xlabel="false positive rate",
            ylabel="true positive rate",
            title="ROC, 30 min before window end",
        )
        ax.legend(loc="lower right")
        ax2.set(
            xlim=(0, 1),
            ylim=(0, 1.02),
            xlabel="recall",
            ylabel="precision",
            title="Precision-recall (dotted: base rates)",
        )
        ax2.legend(loc="upper right")
    return to_svg(fig, "roc-pr")


def coverage_chart(raw: dict, by: str) -> str:
    """Coverage at 80/95 % (bars, nominal lines, +-2 points band) and median widths
    (IQR error bars) by horizon or by hour, predictions per bucket shown."""
    p = raw["pred"]
    keys = (
        [k for k in HORIZONS if k in set(p["horizon"])]
        if by == "horizon"
        else sorted(set(p["hour"]))
    )
    if not keys:
        return none(f"Coverage and width by {by}", "no prediction scored")
    idx = {k: [i for i, v in enumerate(p[by]) if v == k] for k in keys}
    if by == "horizon":
        labels = [f"{k}\nn={len(idx[k]):,}" for k in keys]
    else:  # hours: "07h" over the count, small enough for 24 hours side by side
        labels = [f"{k}h\n{len(idx[k]):,}" for k in keys]
    with matplotlib.rc_context(RC):
        fig = _fig(9.5, 3.8)
        ax, ax2 = fig.subplots(1, 2)
        x = list(range(len(keys)))
        for j, lvl in enumerate(("80", "95")):
            cov = [100 * sum(p[f"c{lvl}"][i] for i in idx[k]) / len(idx[k]) for k in keys]
            ax.axhspan(int(lvl) - 2, int(lvl) + 2, color=C[lvl], alpha=0.12, lw=0)
            ax.axhline(int(lvl), color=C[lvl], ls="--", lw=1)
            ax.bar(
                [v + (j - 0.5) * 0.4 for v in x],
                cov,
                width=0.4,
                color=C[lvl],
                label=f"{lvl} % interval",
            )
            med = [quantile([p[f"w{lvl}"][i] / 60 for i in idx[k]], 0.5) for k in keys]
            lo = [
                m - quantile([p[f"w{lvl}"][i] / 60 for i in idx[k]], 0.25)
                for m, k in zip(med, keys)
            ]
            hi = [
                quantile([p[f"w{lvl}"][i] / 60 for i in idx[k]], 0.75) - m
                for m, k in zip(med, keys)
            ]
            ax2.errorbar(
                [v + (j - 0.5) * 0.2 for v in x],
                med,
                yerr=[lo, hi],
                fmt="o",
                capsize=3,
                color=C[lvl],
                label=f"{lvl} %: median, IQR",
            )
        if by == "horizon":
            wt = {t.kpi: t.threshold / 60 for t in MODEL_TARGETS}
            tgt = {
                "<10min": wt.get("w95_lt30"),
                "10-30min": wt.get("w95_lt30"),
                "30-60min": wt.get("w95_30_60"),
            }
            tgt = {k: v for k, v in tgt.items() if v is not None}
            tx = [v for v, k in zip(x, keys) if k in tgt]
            ax2.scatter(
                tx,
                [tgt[keys[v]] for v in tx],
                marker="_",
                s=400,
                c="k",
                zorder=3,
                label="target: 95 % median width",
            )
        for a in (ax, ax2):
            a.set_xticks(x, labels, fontsize=8 if len(keys) <= 8 else 6 if len(keys) <= 14 else 5)
        where = (
            "arrival horizon" if by == "horizon" else "hour of prediction (UTC), predictions below"
        )
        ax.set(
            ylim=(0, 118),
            ylabel="coverage (%)",
            xlabel=where,
            yticks=[0, 20, 40, 60, 80, 100],
            title=f"Coverage by {by} (dashed: nominal, band: ±2 points)",
        )
        ax.legend(loc="upper center", ncol=2)
        ax2.set(ylabel="interval width (min)", xlabel=where, title=f"Width by {by}")
        ax2.set_ylim(0, ax2.get_ylim()[1] * 1.3)
        ax2.legend(loc="upper left", ncol=2 if by == "hour" else 1)
    return to_svg(fig, f"coverage-{by}")


def leg_error_chart(raw: dict) -> str:
    """Leg travel-time MAE of the model and the provider by decile of leg length."""
    lg = raw["legs"]
    dec = [
        d for d in length_deciles(lg["dist_km"], lg["err_model_s"], lg["err_provider_s"]) if d["n"]
    ]
    if not dec:
        return none("Error by leg length", "no driven leg scored")
    with matplotlib.rc_context(RC):
        fig = _fig(9.5, 3.4)
        ax = fig.subplots()
        x = list(range(len(dec)))
        for j, (name, key) in enumerate(
            (("ETA model", "model_mae_s"), ("provider alone", "provider_mae_s"))
        ):
            bars = ax.bar(
                [v + (j - 0.5) * 0.4 for v in x],
                [d[key] / 60 for d in dec],
                width=0.4,
                color=C["model" if j == 0 else "provider"],
                label=name,
            )
            if j == 0:
                _label_bars(ax, bars, [f"n={d['n']:,}" for d in dec])
        ax.set_xticks(x, [f"{d['lo_km']:.2f}-{d['hi_km']:.2f}" for d in dec], rotation=30)
        ax.set(
            xlabel="leg length decile (km)",
            ylabel="travel-time MAE (min)",
            title="Leg travel-time error by leg length",
        )
        ax.margins(y=0.15)
        ax.legend(loc="upper left")
    return to_svg(fig, "leg-error")


__all__ = ["coverage_chart", "leg_error_chart", "reliability_chart", "roc_pr_chart"]
