"""Several seeds' chart data as one (the report's pooled charts and tables)."""

from __future__ import annotations

from fleetstream.report.scorecard import HORIZONS, _cov_block


def pool(raws: list[dict]) -> dict:
    """The chart data of several seeds as one."""
    if len(raws) == 1:
        return raws[0]
    out: dict = {
        "late": {m: {k: [] for k in ("p", "y", "slack")} for m in ("30", "60")},
        "fail": {m: {k: [] for k in ("p", "y")} for m in ("30", "60")},
        "pred": {k: [] for k in raws[0]["pred"]},
        "leads_min": [],
        "false_alerts": 0,
        "legs": {k: [] for k in raws[0]["legs"]},
        "workload": [],
    }
    for r in raws:
        for g in ("late", "fail"):
            for m, d in r[g].items():
                for k, v in d.items():
                    out[g][m][k].extend(v)
        for g in ("pred", "legs"):
            for k, v in r[g].items():
                out[g][k].extend(v)
        out["leads_min"].extend(r["leads_min"])
        out["false_alerts"] += r["false_alerts"]
        out["workload"].extend(r["workload"])
    return out


def pooled_blocks(raw: dict, by: str) -> dict[str, dict]:
    """Error, coverage and width per zone / hour / horizon from (pooled) chart data."""
    p = raw["pred"]
    groups: dict[str, dict] = {}
    for i, key in enumerate(p[by]):
        g = groups.setdefault(key, {k: [] for k in ("err", "perr", "c80", "c95", "w80", "w95")})
        for k in g:
            g[k].append(p[k][i])
    keys = [k for k in HORIZONS if k in groups] if by == "horizon" else sorted(groups)
    return {k: _cov_block(groups[k]) for k in keys}
