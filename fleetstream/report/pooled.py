"""Several seeds' chart data as one (the report's pooled charts and tables)."""

from __future__ import annotations

from fleetstream.report.scorecard import (
    HORIZONS,
    _cov_block,
    _worst_gap,
    length_deciles,
    noise_floor,
    worse_deciles,
)


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


def pooled_gaps(raw: dict, min_n: int) -> dict[str, dict]:
    """Per interval level (``"80"``, ``"95"``): the worst coverage gap over the zones, hours
    and horizon buckets of the pooled predictions with at least ``min_n`` each, and the
    noise floor of those buckets (what a perfectly calibrated interval would show by
    chance: ``scorecard.noise_floor``).  Pooling several seeds' days puts several times
    more predictions in each bucket, so a gap that stands well above this floor is the
    seat's, not chance's: it separates systematic miscalibration (an hour that is always
    over-covered) from one day's noise.

    >>> raw = {"pred": {"zone": ["Z"] * 400, "hour": ["09"] * 200 + ["10"] * 200,
    ...                 "horizon": ["<10min"] * 400, "err": [0.0] * 400, "perr": [0.0] * 400,
    ...                 "c80": [True] * 200 + [True, False] * 100, "c95": [True] * 400,
    ...                 "w80": [1.0] * 400, "w95": [2.0] * 400}}
    >>> g = pooled_gaps(raw, 150)["80"]
    >>> g["points"], g["bucket"], g["buckets"], 0.5 < g["noise_floor_points"] < 5
    (30.0, 'hour=10', 4, True)
    """
    p = raw["pred"]
    blocks = {f"{by}={k}": b for by in ("zone", "hour", "horizon")
              for k, b in pooled_blocks(raw, by).items()}
    keys = [(f"zone={z}", f"hour={h}", f"horizon={hz}")
            for z, h, hz in zip(p["zone"], p["hour"], p["horizon"])]
    return {lvl: {**_worst_gap(blocks, f"coverage{lvl}", int(lvl) / 100, min_n),
                  "noise_floor_points": noise_floor(keys, int(lvl) / 100, min_n)}
            for lvl in ("80", "95")}


def pooled_deciles(raw: dict) -> dict:
    """The leg-length deciles of the driven legs of all seeds pooled (``raw["legs"]``):
    ``legs``, ``worse`` (deciles where the model's MAE is above the provider's),
    ``worse_beyond_noise`` (of those, more than two standard errors of the paired
    difference above zero) and ``deciles`` (``scorecard.length_deciles``).  One day's
    decile holds a few dozen legs, so near the length where the true / provider ratio
    crosses 1 a decile can be worse by chance; several seeds pooled put several times
    more legs in each decile, so a decile still worse there is the model's.

    A decile of 8 km legs always 10 s worse, one of 9 km legs 1 s worse on average
    (0 or 42 s against 20 s), the rest better:

    >>> km = [float(i % 10) for i in range(400)]
    >>> em = [30.0 if k == 8 else (0.0, 42.0)[i % 20 < 10] if k == 9 else 10.0
    ...       for i, k in enumerate(km)]
    >>> d = pooled_deciles({"legs": {"dist_km": km, "err_model_s": em,
    ...                              "err_provider_s": [20.0] * 400}})
    >>> d["legs"], d["worse"], d["worse_beyond_noise"], d["deciles"][9]["diff_s"]
    (400, 2, 1, 1.0)
    """
    lg = raw["legs"]
    dec = length_deciles(lg["dist_km"], lg["err_model_s"], lg["err_provider_s"])
    worse, beyond = worse_deciles(dec)
    return {"legs": len(lg["dist_km"]), "worse": worse, "worse_beyond_noise": beyond,
            "deciles": dec}


def pooled_deciles_line(errors: list[dict], what: str = "legs") -> str:
    """One line on the deciles of several days' (or files') errors pooled: ``errors`` a
    list of ``{"dist_km", "err_model_s", "err_provider_s"}`` (benchmarks/eta_legs.py,
    benchmarks/eta_trips.py)."""
    pooled = {k: [v for e in errors for v in e[k]]
              for k in ("dist_km", "err_model_s", "err_provider_s")}
    pd = pooled_deciles({"legs": pooled})
    return (f"pooled over {len(errors)} ({pd['legs']:,} {what}): worse deciles {pd['worse']}, "
            f"{pd['worse_beyond_noise']} beyond noise; seat / provider s: " + "  ".join(
                f"{d['model_mae_s']:.0f}/{d['provider_mae_s']:.0f}" for d in pd["deciles"]))


def reduction_line(what: str, reductions: list[float], worse: list[int], beyond: list[int]) -> str:
    """One line on several days' (or files') leg MAE reductions below the provider (%)
    and their worse deciles: mean, sd and each value."""
    import statistics

    sd = statistics.stdev(reductions) if len(reductions) > 1 else float("nan")
    return (f"mean over {len(reductions)} {what}: {statistics.fmean(reductions):.1f} % below the "
            f"provider (sd {sd:.1f}; {' '.join(f'{v:.1f}' for v in reductions)}); worse deciles "
            f"{statistics.fmean(worse):.1f} ({' '.join(str(v) for v in worse)}), beyond noise "
            f"{' '.join(str(v) for v in beyond)}")
