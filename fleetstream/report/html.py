"""HTML building blocks of the report: one self-contained page, no script, no
external resource.  Every piece of text that comes from data (zone names, paths,
ids, labels) goes through :func:`e` (``html.escape`` with quotes); charts are
matplotlib SVG, whose text matplotlib escapes.

>>> e('<script>alert("x")</script>')
'&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'
"""

from __future__ import annotations

from html import escape
from typing import Any

from fleetstream.report.fmt import fmt, fmt_sd, threshold
from fleetstream.report.metrics import is_num

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;max-width:1180px;margin:18px auto;
padding:0 16px;color:#222;line-height:1.4}
h1{margin-bottom:2px} h2{margin-top:34px;border-bottom:1px solid #ddd;padding-bottom:3px}
.sub{color:#555;margin-top:0}
table{border-collapse:collapse;font-size:12.5px;margin:8px 0}
td,th{border:1px solid #d4d4d4;padding:3px 7px;text-align:right;vertical-align:top}
td{white-space:nowrap} td.l{white-space:normal}
th{background:#f4f4f4} td.l,th.l{text-align:left}
.badge{display:inline-block;white-space:nowrap;padding:1px 8px;border-radius:9px;font-weight:600;font-size:12px;color:#fff}
.met{background:#2e7d32} .missed{background:#c62828} .indicative{background:#b26a00} .na{background:#757575}
p.na{color:#555;font-style:italic;background:none}
.box{border:1px solid #ccc;border-radius:6px;padding:10px 14px;background:#fafafa}
.summary{font-size:15px;font-weight:600}
figure.chart{margin:10px 0} figure.chart svg{max-width:100%;height:auto}
dl.meta{display:grid;grid-template-columns:max-content auto;gap:2px 14px;font-size:13px}
dl.meta dt{font-weight:600} dl.meta dd{margin:0;font-family:ui-monospace,monospace;word-break:break-all}
.how{color:#444;font-size:13px;max-width:980px}
"""


def e(x: Any) -> str:
    return escape(str(x), quote=True)


def page(title: str, subtitle: str, sections: list[str]) -> str:
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<link rel='icon' href='data:,'>"
        f"<title>{e(title)}</title><style>{CSS}</style></head><body>\n"
        f"<h1>{e(title)}</h1><p class='sub'>{e(subtitle)}</p>\n"
        + "\n".join(sections)
        + "\n</body></html>\n"
    )


def section(title: str, how: str, *body: str) -> str:
    return (
        f"<section><h2>{e(title)}</h2>"
        + (f"<p class='how'>{e(how)}</p>" if how else "")
        + "".join(body)
        + "</section>"
    )


def badge(status: str, ok: bool | None = None) -> str:
    cls = {"met": "met", "missed": "missed", "indicative": "indicative"}.get(status, "na")
    word = (
        f"{status}: {'met' if ok else 'missed'}"
        if status == "indicative" and ok is not None
        else status
    )
    return f"<span class='badge {cls}'>{e(word)}</span>"


def mean_sd(a: dict, signed: bool = False) -> str:
    m = fmt(a["mean"], a["unit"], signed)
    if is_num(a["mean"]) and is_num(a.get("sd")):
        return f"{m} ± {fmt_sd(a['sd'], a['unit'])}"
    if is_num(a["mean"]) and a.get("n_seeds", 0) == 1:
        return f"{m} (single seed)"
    return m


def per_seed(a: dict, signed: bool = False) -> str:
    return "; ".join(f"{e(s)}: {e(fmt(v, a['unit'], signed))}" for s, v in a["per_seed"].items())


def verdict_table(vs: list[dict], signed: bool = False) -> str:
    rows = []
    for v in vs:
        t = v["target"]
        rows.append(
            f"<tr><td class='l'>{e(t.text)}</td><td>{e(threshold(t.op, t.threshold, v['unit']))}</td>"
            f"<td>{e(mean_sd(v['agg'], signed))}</td><td class='l'>{per_seed(v['agg'], signed)}</td>"
            f"<td class='l'>{badge(v['status'], v['ok'])}</td><td class='l'>{e(v['note'])}</td></tr>"
        )
    return (
        "<table><tr><th class='l'>target</th><th>threshold</th><th>measured: mean ± sd</th>"
        "<th class='l'>per seed</th><th class='l'>verdict</th><th class='l'>note</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def kpi_table(agg: dict[str, dict], seeds: list[str], signed: bool = False) -> str:
    head = "".join(f"<th>seed {e(s)}</th>" for s in seeds)
    rows = []
    for key, a in agg.items():
        cells = "".join(f"<td>{e(fmt(a['per_seed'][s], a['unit'], signed))}</td>" for s in seeds)
        rows.append(
            f"<tr><th class='l' title='{e(key)}'>{e(a['label'])}</th>"
            f"<td>{e(fmt(a['mean'], a['unit'], signed))}</td><td>{e(fmt_sd(a['sd'], a['unit']))}</td>"
            f"{cells}</tr>"
        )
    return (
        f"<table><tr><th class='l'>KPI</th><th>mean</th><th>sd</th>{head}</tr>"
        + "".join(rows)
        + "</table>"
    )


def meta_list(meta: dict) -> str:
    rows = []
    for k, v in meta.items():
        val = ", ".join(str(x) for x in v) if isinstance(v, list) else str(v)
        rows.append(f"<dt>{e(k.replace('_', ' '))}</dt><dd>{e(val)}</dd>")
    return "<dl class='meta'>" + "".join(rows) + "</dl>"


BLOCK_COLS = [
    ("n", "n", "count"),
    ("model MAE", "eta_mae_s", "s"),
    ("provider MAE", "provider_mae_s", "s"),
    ("p90 |error|", "eta_p90_abs_s", "s"),
    ("coverage 80", "coverage80", "share"),
    ("coverage 95", "coverage95", "share"),
    ("median width 80", "median_width80_s", "s"),
    ("median width 95", "median_width95_s", "s"),
]


def block_table(title: str, first: str, blocks: dict[str, dict]) -> str:
    head = "".join(f"<th>{e(c[0])}</th>" for c in BLOCK_COLS)
    body = "".join(
        f"<tr><th class='l'>{e(k)}</th>"
        + "".join(f"<td>{e(fmt(g.get(c[1], 'n/a (missing)'), c[2]))}</td>" for c in BLOCK_COLS)
        + "</tr>"
        for k, g in blocks.items()
    )
    return f"<h3>{e(title)}</h3><table><tr><th class='l'>{e(first)}</th>{head}</tr>{body}</table>"


def workload_table(summary: dict[str, dict]) -> str:
    if not summary:
        return "<p class='na'>n/a (no shift in the recording)</p>"
    rows = "".join(
        f"<tr><th class='l'>{e(ft)}</th><td>{w['drivers']}</td><td>{e(fmt(w['stops_mean'], 'count'))}</td>"
        f"<td>{w['stops_min']} - {w['stops_max']}</td><td>{e(fmt(w.get('stops_cv', '-'), 'ratio'))}</td>"
        f"<td>{e(fmt(w['hours_mean'], 'h'))}</td><td>{e(fmt(w['hours_max'], 'h'))}</td>"
        f"<td>{e(fmt(w.get('work_h_mean', '-'), 'h'))}</td>"
        f"<td>{e(fmt(w.get('work_h_cv', '-'), 'ratio'))}</td></tr>"
        for ft, w in summary.items()
    )
    return (
        "<table><tr><th class='l'>fleet type</th><th>drivers</th><th>stops, mean</th><th>stops, range</th>"
        "<th>stops sd/mean (drivers with stops)</th>"
        "<th>shift h, mean (h:mm)</th><th>shift h, max</th><th>working h, mean</th>"
        "<th>working h sd/mean</th></tr>" + rows + "</table>"
    )


def policy_table(agg: dict[str, dict[str, dict]], policies: list[str]) -> str:
    keys = list(next(iter(agg.values())).keys()) if agg else []
    head = "".join(f"<th>{e(p)}</th>" for p in policies)
    rows = []
    for k in keys:
        a0 = agg[policies[0]][k]
        cells = "".join(
            f"<td>{e(mean_sd(agg[p][k]))}<br><small>{per_seed(agg[p][k])}</small></td>"
            for p in policies
        )
        rows.append(f"<tr><th class='l'>{e(a0['label'])}</th>{cells}</tr>")
    return (
        f"<table><tr><th class='l'>KPI: mean ± sd (per seed below)</th>{head}</tr>"
        + "".join(rows)
        + "</table>"
    )
