"""Charts of operations: alert lead times, per-driver workload, and the policy
comparison over seeds (mean ± sd error bars, a dot per seed)."""

from __future__ import annotations

import textwrap
from collections.abc import Callable

import matplotlib
from matplotlib.ticker import FuncFormatter, MaxNLocator

from fleetstream.report.charts import RC, C, _fig, _label_bars, none, to_svg
from fleetstream.report.fmt import hmm
from fleetstream.report.metrics import quantile
from fleetstream.report.targets import MODEL_TARGETS, POLICY_TARGETS


def lead_chart(raw: dict) -> str:
    """Distribution of the lead time of true late-risk alerts."""
    leads = raw["leads_min"]
    if not leads:
        return none("Alert lead time", "no late-risk alert on an order that was late")
    with matplotlib.rc_context(RC):
        fig = _fig(9.5, 3.2)
        ax = fig.subplots()
        top = max(60.0, max(leads))
        step = 10 if top <= 240 else 30
        bins = [min(0.0, min(leads) // step * step) + i * step for i in range(int(top // step) + 3)]
        n, edges, bars = ax.hist(leads, bins=bins, color=C["model"], edgecolor="white")
        _label_bars(ax, bars, [str(int(v)) if v else "" for v in n])
        lead_t = next((t.threshold for t in MODEL_TARGETS if t.kpi == "alert_lead"), None)
        if lead_t is not None:
            ax.axvline(lead_t, c="k", ls="--", lw=1, label=f"target: median lead {lead_t:.0f} min")
        med = quantile(leads, 0.5)
        ax.axvline(med, c=C["provider"], lw=1.4, label=f"median {med:.1f} min")
        ax.set(
            xlabel="alert lead before window end (min)",
            ylabel="true alerts",
            title=f"Late-risk alert lead time ({len(leads):,} true alert{'s' if len(leads) != 1 else ''}, "
            f"{raw['false_alerts']:,} false)",
        )
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.margins(y=0.15)
        ax.legend(loc="upper right")
    return to_svg(fig, "leads")


def _strip(ax, groups: list[list[float]], color: str) -> None:
    for i, g in enumerate(groups):
        xs = [i + ((k * 0.618) % 1 - 0.5) * 0.35 for k in range(len(g))]  # deterministic jitter
        ax.scatter(xs, g, s=10, alpha=0.6, color=color, zorder=3)


def workload_chart(rows: list[dict]) -> str:
    """Stops and hours per driver, by fleet type."""
    if not rows:
        return none("Per-driver workload", "no shift in the recording")
    fts = sorted({r["fleet_type"] for r in rows})
    stops = [[r["stops"] for r in rows if r["fleet_type"] == f] for f in fts]
    hours = [[r["hours"] for r in rows if r["fleet_type"] == f] for f in fts]
    labels = [f"{f}\n(n={len(s)})" for f, s in zip(fts, stops)]
    with matplotlib.rc_context(RC):
        fig = _fig(9.5, 3.4)
        ax, ax2 = fig.subplots(1, 2)
        for a, data, c in ((ax, stops, C["model"]), (ax2, hours, C["95"])):
            a.boxplot(data, positions=list(range(len(fts))), widths=0.5, showfliers=False)
            _strip(a, data, c)
            a.set_xticks(list(range(len(fts))), labels)
        ax.set(ylabel="stops reached per driver", xlabel="fleet type", title="Stops per driver")
        ax2.set(ylabel="shift length (h:mm)", xlabel="fleet type", title="Hours per driver")
        ax2.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: hmm(v)))
        ax.set_ylim(bottom=0)
        ax2.set_ylim(bottom=0)
    return to_svg(fig, "workload")


def policy_chart(
    agg: dict[str, dict[str, dict]], diffs: dict[str, dict], policies: list[str], seeds: list[str]
) -> str:
    """Per policy mean ± sd over seeds (error bars) with each seed's value, and the
    differences between policies per seed."""
    if not agg:
        return none("Policy comparison", "no policy run")
    panels: list[tuple[str, str, Callable[[float], float]]] = [
        ("on_time_rate", "on time (%)", lambda v: 100 * v),
        ("failed_attempts", "failed attempts", float),
        ("km", "km driven", float),
    ]
    dkeys = [
        k
        for k in ("on_time_pred_minus_reactive", "on_time_pred_minus_static")
        if k in diffs and diffs[k]["n_seeds"]
    ]
    with matplotlib.rc_context(RC):
        fig = _fig(11, 3.4)
        axes = fig.subplots(1, len(panels) + (1 if dkeys else 0))
        for ax, (key, ylabel, f) in zip(axes, panels):
            for i, p in enumerate(policies):
                a = agg[p][key]
                vals = [f(v) for v in a["per_seed"].values() if isinstance(v, (int, float))]
                if not vals:
                    continue
                m = sum(vals) / len(vals)
                sd = f(a["sd"]) - f(0) if isinstance(a["sd"], float) else 0.0
                ax.bar(i, m, color=C.get(p, "#777"), alpha=0.75, yerr=sd, capsize=4)
                ax.scatter(
                    [i + ((k * 0.618) % 1 - 0.5) * 0.3 for k in range(len(vals))],
                    vals,
                    s=12,
                    c="k",
                    zorder=3,
                )
            ax.set_xticks(list(range(len(policies))), policies)
            ax.set(ylabel=ylabel, title=ylabel)
            if key == "on_time_rate":
                lo = min(
                    [
                        f(v)
                        for p in policies
                        for v in agg[p][key]["per_seed"].values()
                        if isinstance(v, (int, float))
                    ]
                    or [0.0]
                )
                ax.set_ylim(max(0.0, lo - 10), 100)
        if dkeys:
            ax = axes[-1]
            for i, k in enumerate(dkeys):
                vals = [v for v in diffs[k]["per_seed"].values() if isinstance(v, (int, float))]
                m = sum(vals) / len(vals)
                sd = diffs[k]["sd"] if isinstance(diffs[k]["sd"], float) else 0.0
                ax.errorbar([i], [m], yerr=[sd], fmt="s", c="k", capsize=5, ms=6)
                ax.scatter(
                    [i + ((j * 0.618) % 1 - 0.5) * 0.3 for j in range(len(vals))],
                    vals,
                    s=12,
                    c=C["predictive"],
                    zorder=3,
                )
            ax.axhline(0, c="#999", lw=1)
            thr = {t.kpi: t.threshold for t in POLICY_TARGETS}
            for i, k in enumerate(dkeys):
                if k in thr:
                    ax.hlines(thr[k], i - 0.35, i + 0.35, colors="r", linestyles="--", lw=1)
            ax.set_xticks(
                list(range(len(dkeys))),
                ["pred. - reactive" if "reactive" in k else "pred. - static" for k in dkeys],
            )
            ax.set(ylabel="on-time points", title="Differences (red: target)")
        fig.suptitle(
            f"Closed loop over {len(seeds)} seed{'s' if len(seeds) != 1 else ''} "
            f"({', '.join(seeds)}): mean ± sd, dots = seeds",
            fontsize=10,
        )
    return to_svg(fig, "policies")


_SCALE = {
    "share": (100.0, "%"),
    "s": (1 / 60, "min"),
    "min": (1.0, "min"),
    "points": (1.0, "points"),
    "auc": (1.0, "AUC"),
    "count": (1.0, "count"),
}


def seeds_chart(verdicts: list[dict], seeds: list[str]) -> str:
    """Each target's KPI per seed (dots), mean ± sd (error bar) and threshold (red)."""
    vs = [v for v in verdicts if v["agg"]["n_seeds"] >= 2]
    if len(seeds) < 2 or not vs:
        return none("Targets per seed", "needs two or more seeds with a value")
    cols = 4
    rows = (len(vs) + cols - 1) // cols
    with matplotlib.rc_context(RC):
        fig = _fig(11, 2.3 * rows)
        axes = fig.subplots(rows, cols, squeeze=False).ravel()
        for ax, v in zip(axes, vs):
            k, unit = _SCALE.get(v["unit"], (1.0, v["unit"]))
            vals = [k * x for x in v["agg"]["per_seed"].values() if isinstance(x, (int, float))]
            m = sum(vals) / len(vals)
            sd = k * v["agg"]["sd"] if isinstance(v["agg"]["sd"], float) else 0.0
            ax.errorbar([0], [m], yerr=[sd], fmt="s", c="k", capsize=5, ms=5)
            ax.scatter(
                [((j * 0.618) % 1 - 0.5) * 0.4 for j in range(len(vals))],
                vals,
                s=12,
                c=C["model"],
                zorder=3,
            )
            thr = k * v["target"].threshold
            ax.axhline(thr, c="r", ls="--", lw=1)
            lo, hi = min([*vals, m - sd, thr]), max([*vals, m + sd, thr])
            pad = 0.1 * (hi - lo) or 1.0
            ax.set_ylim(lo - pad, hi + pad)
            ax.set_xlim(-0.6, 0.6)
            ax.set_xticks([])
            ax.set_ylabel(unit)
            ax.set_title("\n".join(textwrap.wrap(v["label"], 34)), fontsize=7.5)
        for ax in axes[len(vs) :]:
            ax.set_visible(False)
        fig.suptitle(
            f"Targets over {len(seeds)} seeds: mean ± sd (black), seeds (dots), "
            "threshold (red dashes)",
            fontsize=10,
        )
    return to_svg(fig, "seeds")


__all__ = ["Callable", "lead_chart", "policy_chart", "seeds_chart", "workload_chart"]
