"""Join the captured predictions with ``replay/truth`` into a scorecard.

:func:`scorecard` returns

- ``card``: the figures (written as ``scorecard.json``), every missing figure an
  ``n/a (reason)`` string;
- ``raw``: the per-prediction data the charts need (pooled over seeds by the
  report with :func:`pool`), never written on its own.
"""

from __future__ import annotations

import bisect
import gzip
import os
from typing import Any

import numpy as np
import orjson

from fleetstream.report.metrics import (
    NA,
    decile_index,
    deciles,
    is_num,
    log_loss,
    mae,
    mean,
    na,
    quantile,
    ratio,
    rnd,
    roc_auc,
    share,
)
from fleetstream.report.scoring import Collector

HORIZONS = ("<10min", "10-30min", "30-60min", "1-2h", ">=2h")


def horizon_key(hz: float) -> str:
    return (
        "<10min"
        if hz < 600
        else "10-30min"
        if hz < 1800
        else "30-60min"
        if hz < 3600
        else "1-2h"
        if hz < 7200
        else ">=2h"
    )


def _truth(replay: str, name: str) -> list[dict]:
    with gzip.open(os.path.join(replay, "truth", name), "rb") as f:
        return [orjson.loads(x) for x in f if x.strip()]


def _cov_block(g: dict) -> dict:
    n = len(g["err"])
    return {
        "n": n,
        "eta_mae_s": rnd(mae(g["err"]), 1),
        "eta_p90_abs_s": rnd(quantile([abs(x) for x in g["err"]], 0.9), 1),
        "provider_mae_s": rnd(mae(g["perr"]), 1),
        "coverage80": rnd(share(g["c80"])),
        "coverage95": rnd(share(g["c95"])),
        "mean_width80_s": rnd(mean(g["w80"]), 1),
        "mean_width95_s": rnd(mean(g["w95"]), 1),
        "median_width80_s": rnd(quantile(g["w80"], 0.5), 1),
        "median_width95_s": rnd(quantile(g["w95"], 0.5), 1),
    }


def _risk_block(p: list, y: list, slack: list | None = None) -> dict:
    b = {
        "roc_auc": rnd(roc_auc(p, y)),
        "log_loss": rnd(log_loss(p, y)),
        "n": len(p),
        "positives": sum(1 for v in y if v),
        "mean_p": rnd(mean(p)),
        "base_rate": rnd(share(y)),
    }
    if slack is not None:
        b["slack_roc_auc"] = rnd(roc_auc(slack, y))
    return b


def _eta_block(errs: list[float]) -> dict:
    return {
        "mae_s": rnd(mae(errs), 1),
        "p90_abs_s": rnd(quantile([abs(x) for x in errs], 0.9), 1),
        "bias_s": rnd(mean(errs), 1),
    }


def _worst_gap(blocks: dict[str, dict], key: str, nominal: float, min_n: int) -> dict:
    """Largest |coverage - nominal| (points) over the buckets with at least ``min_n``."""
    gaps = [
        (abs(g[key] - nominal) * 100, k)
        for k, g in blocks.items()
        if g["n"] >= min_n and is_num(g[key])
    ]
    if not gaps:
        return {
            "points": na(f"no bucket with {min_n}+ predictions"),
            "bucket": na("none"),
            "buckets": 0,
            "outside_2_points": 0,
        }
    pts, k = max(gaps)
    return {
        "points": round(pts, 2),
        "bucket": k,
        "buckets": len(gaps),
        "outside_2_points": sum(1 for p, _ in gaps if p > 2.0),
    }


NOISE_DRAWS = 50
"""Draws of a perfectly calibrated interval behind the coverage targets' noise floor."""

NOISE_Z = 2.0
"""Standard errors by which a leg-length decile's paired difference (model minus
provider absolute error) must exceed zero to count as worse beyond chance: about one
decile in 44 of a model no worse than the provider passes it by chance."""


def noise_floor(keys: list[tuple[str, ...]], nominal: float, min_n: int,
                draws: int = NOISE_DRAWS) -> float | NA:
    """The worst bucket gap (points) a *perfectly calibrated* interval would show on
    the same predictions by chance alone: each prediction inside with probability
    ``nominal``, its buckets ``keys`` (zone, hour, horizon), buckets of ``min_n``
    predictions or more; mean over ``draws`` draws of a fixed seed (the same figure on
    every run).  With 100-500 predictions a bucket it is several points: a day's
    "within 2 points in every bucket" is below it.

    >>> ks = [("z",)] * 400
    >>> 1.0 < noise_floor(ks, 0.8, 100) < 3.0
    True
    >>> noise_floor(ks, 0.8, 1000)
    'n/a (no bucket with 1000+ predictions)'
    """
    index: dict[str, list[int]] = {}
    for i, row in enumerate(keys):
        for k in row:
            index.setdefault(k, []).append(i)
    cols = [np.array(ix) for ix in index.values() if len(ix) >= min_n]
    if not cols:
        return na(f"no bucket with {min_n}+ predictions")
    hits = np.random.default_rng(0).random((draws, len(keys))) < nominal
    worst = np.zeros(draws)
    for ix in cols:
        worst = np.maximum(worst, np.abs(hits[:, ix].mean(axis=1) - nominal) * 100)
    return round(float(worst.mean()), 2)


def attempt_of(truth_att: dict[str, list[dict]], order_id: str, arrival_ts: float) -> dict | None:
    """The simulator's attempt of ``order_id`` that an arrival the engine saw at
    ``arrival_ts`` belongs to: the one whose true arrival is nearest (a retried order has
    one attempt per arrival; scoring the first attempt's predictions against the
    retry's arrival, hours later, would count them as misses).

    >>> att = {"o": [{"arrived_ts": 100.0}, {"arrived_ts": 9000.0}]}
    >>> attempt_of(att, "o", 130.0), attempt_of(att, "o", 8990.0), attempt_of(att, "x", 1.0)
    ({'arrived_ts': 100.0}, {'arrived_ts': 9000.0}, None)
    """
    tries = [t for t in truth_att.get(order_id, ()) if t.get("arrived_ts") is not None]
    return min(tries, key=lambda t: abs(t["arrived_ts"] - arrival_ts)) if tries else None


def attempt_after(truth_att: dict[str, list[dict]], order_id: str,
                  ts: float | None) -> dict | None:
    """The simulator's first attempt of ``order_id`` at or after ``ts`` (a failure-risk
    prediction's attempt: a retried order's first prediction is about its first
    attempt, not about whether the retry hours later rescued the order).

    >>> att = {"o": [{"ts": 100.0, "home": False}, {"ts": 9000.0, "home": True}]}
    >>> attempt_after(att, "o", 50.0)["home"], attempt_after(att, "o", 200.0)["home"]
    (False, True)
    >>> attempt_after(att, "o", 9500.0), attempt_after(att, "x", 1.0)
    (None, None)
    """
    after = [t for t in truth_att.get(order_id, ())
             if t.get("ts") is not None and (ts is None or t["ts"] >= ts)]
    return min(after, key=lambda t: t["ts"]) if after else None


def scorecard(
    replay: str,
    col: Collector,
    outputs: list[tuple],
    seats: dict | None = None,
    workload: list[dict] | None = None,
    min_bucket_n: int = 100,
) -> tuple[dict, dict]:
    """Join the collected predictions with ``replay/truth``: (card, raw chart data)."""
    # every attempt of an order: a retried order's first attempt is scored against its
    # own arrival, not the retry's hours later
    truth_att: dict[str, list[dict]] = {}
    for a in _truth(replay, "attempts.jsonl.gz"):
        truth_att.setdefault(a["order_id"], []).append(a)
    truth_ord = {o["order_id"]: o for o in _truth(replay, "orders.jsonl.gz")}
    stops: dict[str, list[float]] = {}
    who: dict[str, str] = {}
    for leg in _truth(replay, "legs.jsonl.gz"):
        stops.setdefault(leg["vehicle_id"], []).append(leg["arrive_ts"])
        if leg.get("stop") == "delivery":
            who[leg["order_id"]] = leg["vehicle_id"]
    for v in stops.values():
        v.sort()
    eta: dict[str, list] = {"model": [], "provider": [], "hist": []}
    stable: dict[str, list] = {"model": [], "provider": [], "hist": []}
    groups: dict[str, dict] = {"zone": {}, "hour": {}, "horizon": {}}
    pred: dict[str, list] = {
        "horizon": [],
        "hour": [],
        "zone": [],
        "err": [],
        "perr": [],
        "c80": [],
        "c95": [],
        "w80": [],
        "w95": [],
    }
    late = {m: {"p": [], "y": [], "slack": []} for m in ("30", "60")}
    fail = {m: {"p": [], "y": []} for m in ("30", "60")}
    late_truth: dict[str, bool] = {}
    for a in col.arrivals:
        t = attempt_of(truth_att, a["order_id"], a["ts"])
        actual = t["arrived_ts"] if t else a["ts"]
        is_late = actual > a["window_end"]
        late_truth[a["order_id"]] = is_late
        vstops = stops.get(who.get(a["order_id"], ""), [])
        for s in a["snaps"]:
            e, ep, eh = actual - s["eta"], actual - s["eta_p"], actual - s["eta_h"]
            eta["model"].append(e)
            eta["provider"].append(ep)
            eta["hist"].append(eh)
            xi = s.get("xi") or {}
            ahead = xi.get("stops_ahead")
            if ahead is not None and vstops:
                done = bisect.bisect_right(vstops, actual + 1e-3) - bisect.bisect_right(
                    vstops, s["ts"]
                )
                if done == ahead + 1:  # the plan held: exactly the stops planned ahead were made
                    stable["model"].append(e)
                    stable["provider"].append(ep)
                    stable["hist"].append(eh)
            in80, in95 = s["lo80"] <= e <= s["hi80"], s["lo95"] <= e <= s["hi95"]
            w80, w95 = s["hi80"] - s["lo80"], s["hi95"] - s["lo95"]
            hk = horizon_key(xi.get("horizon_s", s["eta"] - s["ts"]))
            # the zone's local hour of the prediction, as the engine saw it
            # (engine.timezone); snapshots without one: the UTC hour
            hr = xi.get("hour")
            hour = f"{int(hr) % 24:02d}" if is_num(hr) else f"{int(s['ts'] // 3600) % 24:02d}"
            for kind, key in (("zone", a["zone"]), ("hour", hour), ("horizon", hk)):
                g = groups[kind].setdefault(
                    key, {"err": [], "perr": [], "c80": [], "c95": [], "w80": [], "w95": []}
                )
                for k2, v2 in (
                    ("err", e),
                    ("perr", ep),
                    ("c80", in80),
                    ("c95", in95),
                    ("w80", w80),
                    ("w95", w95),
                ):
                    g[k2].append(v2)
            for k2, v2 in (
                ("horizon", hk),
                ("hour", hour),
                ("zone", a["zone"]),
                ("err", e),
                ("perr", ep),
                ("c80", in80),
                ("c95", in95),
                ("w80", w80),
                ("w95", w95),
            ):
                pred[k2].append(v2)
        for mark, ws in a["wsnaps"].items():
            m = "60" if float(mark) >= 3600 else "30"
            if ws.get("p_late") is not None:
                late[m]["p"].append(ws["p_late"])
                late[m]["y"].append(is_late)
                late[m]["slack"].append(ws.get("eta", a["window_end"]) - a["window_end"])
    for o in col.outcomes:
        tr = truth_ord.get(o["order_id"])
        failed = tr["outcome"] == "failed" if tr else o["failed"]
        for mark, ws in o["wsnaps"].items():
            m = "60" if float(mark) >= 3600 else "30"
            if ws.get("p_fail") is None:
                continue
            if truth_att:   # the attempt the prediction was about: the next one after it
                nxt = attempt_after(truth_att, o["order_id"], ws.get("ts"))
                if nxt is None:
                    continue   # no attempt followed (not served, cancelled): no label
                y = not (nxt.get("home", True) and nxt.get("access_ok", True))
            else:           # a recording without attempts: the order's outcome
                y = failed
            fail[m]["p"].append(ws["p_fail"])
            fail[m]["y"].append(y)

    # alerts: the first late-risk alert of each order, scored against the truth
    alerts = [r for t, _k, r in outputs if t == "fs.alerts" and r.get("kind") == "late_risk"]
    drift_alerts = [r for t, _k, r in outputs if t == "fs.alerts" and r.get("kind") == "drift"]
    alerted: dict[str, float] = {}
    for al in alerts:
        for oid in al.get("order_ids", []):
            alerted.setdefault(oid, al["ts"])
    true_pos = [oid for oid in alerted if late_truth.get(oid)]
    leads = [
        (truth_ord[oid]["window_end"] - alerted[oid]) / 60 for oid in true_pos if oid in truth_ord
    ]
    n_late = sum(1 for v in late_truth.values() if v)

    # legs: the ETA model's own error in seconds, by decile of leg length
    legs = [lg for lg in col.legs if is_num(lg.get("provider_s")) and is_num(lg.get("dist_km"))]
    lerr_m = [(lg["ratio"] - lg["pred"]) * lg["provider_s"] for lg in legs]
    lerr_p = [(lg["ratio"] - 1.0) * lg["provider_s"] for lg in legs]
    dec_out = length_deciles([lg["dist_km"] for lg in legs], lerr_m, lerr_p)
    n_worse, n_beyond = worse_deciles(dec_out)

    by = {k: {key: _cov_block(g) for key, g in sorted(groups[k].items())} for k in ("zone", "hour")}
    by["horizon"] = {
        k: _cov_block(groups["horizon"][k]) for k in HORIZONS if k in groups["horizon"]
    }
    near = [w for h, w in zip(pred["horizon"], pred["w95"]) if h in ("<10min", "10-30min")]
    mid = [w for h, w in zip(pred["horizon"], pred["w95"]) if h == "30-60min"]
    buckets = {f"{k}={b}": g for k in ("zone", "hour", "horizon") for b, g in by[k].items()}
    bucket_keys = [(f"zone={z}", f"hour={h}", f"horizon={hz}")
                   for z, h, hz in zip(pred["zone"], pred["hour"], pred["horizon"])]

    def reduction(d: dict) -> Any:
        return rnd(
            1 - ratio(mae(d["model"]), mae(d["provider"]))
            if d["provider"]
            else na("no predictions")
        )

    card: dict[str, Any] = {
        "replay": replay,
        "predictions_scored": len(eta["model"]),
        "eta": {
            "model": _eta_block(eta["model"]),
            "provider": _eta_block(eta["provider"]),
            "historical_mean": _eta_block(eta["hist"]),
            "mae_reduction_vs_provider": reduction(eta),
            "plan_held": {
                "n": len(stable["model"]),
                "share": rnd(ratio(len(stable["model"]), len(eta["model"]))),
                "model": _eta_block(stable["model"]),
                "provider": _eta_block(stable["provider"]),
                "historical_mean": _eta_block(stable["hist"]),
                "mae_reduction_vs_provider": reduction(stable),
            },
        },
        "intervals": {
            lvl: {
                "nominal": int(lvl) / 100,
                "coverage": rnd(share(pred[f"c{lvl}"])),
                "mean_width_s": rnd(mean(pred[f"w{lvl}"]), 1),
                "median_width_s": rnd(quantile(pred[f"w{lvl}"], 0.5), 1),
                "worst_bucket_gap": {
                    **_worst_gap(buckets, f"coverage{lvl}", int(lvl) / 100, min_bucket_n),
                    "noise_floor_points": noise_floor(bucket_keys, int(lvl) / 100,
                                                      min_bucket_n),
                },
            }
            for lvl in ("80", "95")
        },
        "width95_median_s": {
            "lt30min": rnd(quantile(near, 0.5), 1),
            "30-60min": rnd(quantile(mid, 0.5), 1),
        },
        "by_zone": by["zone"],
        "by_hour": by["hour"],
        "by_horizon": by["horizon"],
        "late_risk": {
            f"{m}min_before_window_end": _risk_block(v["p"], v["y"], v["slack"])
            for m, v in late.items()
        },
        "failure_risk": {
            f"{m}min_before_window_end": _risk_block(v["p"], v["y"]) for m, v in fail.items()
        },
        "alerts": {
            "late_risk_alerts": len(alerts),
            "orders_alerted": len(alerted),
            "true_late_among_alerted": len(true_pos),
            "false_alerts": len(alerted) - len(true_pos),
            "precision": rnd(ratio(len(true_pos), len(alerted), "no alert raised")),
            "late_orders": n_late,
            "recall": rnd(ratio(len(true_pos), n_late, "no late order")),
            "median_lead_before_window_end_min": rnd(quantile(leads, 0.5), 1)
            if leads
            else na("no true alert"),
            "model_drift_alerts": len(drift_alerts),
        },
        "legs": {
            "n": len(legs),
            "model_mae_s": rnd(mae(lerr_m), 1),
            "provider_mae_s": rnd(mae(lerr_p), 1),
            "mae_reduction_vs_provider": rnd(1 - ratio(mae(lerr_m), mae(lerr_p)))
            if legs
            else na("no legs"),
            "deciles_worse_than_provider": n_worse if legs else na("no legs"),
            "deciles_worse_beyond_noise": n_beyond if legs else na("no legs"),
            "by_length_decile": dec_out,
            "ratio_mae_model": rnd(mae([lg["ratio"] - lg["pred"] for lg in col.legs])),
            "ratio_mae_provider": rnd(mae([lg["ratio"] - 1.0 for lg in col.legs])),
            "ratio_mae_hist": rnd(mae([lg["ratio"] - lg["hist"] for lg in col.legs])),
        },
        "workload": _workload_summary(workload or []),
        "workload_drivers": [
            {k: rnd(r[k], 2) if isinstance(r[k], float) else r[k]
             for k in ("vehicle", "driver", "fleet_type", "stops", "hours", "work_h") if k in r}
            for r in workload or []
        ],
    }
    if seats:
        from fleetstream.models.seats import seat_metrics

        online, drift = {}, {}
        for z, st in sorted(seats.items()):
            online[z] = {
                k: {m: rnd(v, 4) if isinstance(v, float) else v for m, v in d.items()}
                for k, d in seat_metrics(st).items()
            }
            n = 0
            for name in ("eta", "intervals", "late_risk", "failure_risk"):
                h = getattr(getattr(st, name), "drift_history", None)
                n += len(h()) if h else 0
            drift[z] = n
        card["online_metrics"] = online
        card["drift_detections"] = drift
    raw = {
        "late": late,
        "fail": fail,
        "pred": pred,
        "leads_min": leads,
        "false_alerts": len(alerted) - len(true_pos),
        "legs": {
            "dist_km": [lg["dist_km"] for lg in legs],
            "err_model_s": lerr_m,
            "err_provider_s": lerr_p,
        },
        "workload": workload or [],
    }
    return card, raw


def length_deciles(dist_km: list[float], err_m: list[float], err_p: list[float]) -> list[dict]:
    """Leg travel-time MAE of the model and the provider per decile of leg length, with
    the paired difference of their absolute errors (model minus provider, s per leg):
    its mean ``diff_s`` and standard error ``diff_se_s``.  A decile whose difference is
    above zero is worse than the provider; one more than :data:`NOISE_Z` standard errors
    above (``beyond_noise``) is worse by more than the chance of a few dozen legs.

    >>> d = length_deciles([1.0] * 40, [10.0, 30.0] * 20, [20.0] * 40)[0]
    >>> d["model_mae_s"], d["provider_mae_s"], d["diff_s"], d["diff_se_s"], d["beyond_noise"]
    (20.0, 20.0, 0.0, 1.6, False)
    """
    edges = deciles(dist_km)
    dec = [{"lo_km": round(lo, 3), "hi_km": round(hi, 3), "m": [], "p": []} for lo, hi in edges]
    for d_km, em, ep in zip(dist_km, err_m, err_p):
        d = dec[decile_index(edges, d_km)]
        d["m"].append(em)
        d["p"].append(ep)
    out = []
    for d in dec:
        diff = np.abs(np.asarray(d["m"], dtype=float)) - np.abs(np.asarray(d["p"], dtype=float))
        n = len(diff)
        se = float(diff.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
        mean_d = float(diff.mean()) if n else float("nan")
        out.append({
            "lo_km": d["lo_km"],
            "hi_km": d["hi_km"],
            "n": n,
            "model_mae_s": rnd(mae(d["m"]), 1),
            "provider_mae_s": rnd(mae(d["p"]), 1),
            "diff_s": rnd(mean_d, 1),
            "diff_se_s": rnd(se, 1),
            "beyond_noise": bool(n > 1 and mean_d > NOISE_Z * se),
        })
    return out


def worse_deciles(dec: list[dict]) -> tuple[int, int]:
    """(deciles where the model's leg MAE is above the provider's, of those the ones
    :func:`length_deciles` marks ``beyond_noise``)."""
    worse = [d for d in dec if d["n"] and is_num(d["model_mae_s"])
             and d["model_mae_s"] > d["provider_mae_s"]]
    return len(worse), sum(1 for d in worse if d["beyond_noise"])


def _cv(xs: list[float]) -> Any:
    """Standard deviation / mean (population), or n/a."""
    if len(xs) < 2 or sum(xs) <= 0:
        return na("fewer than 2 drivers with work")
    m = sum(xs) / len(xs)
    return rnd((sum((x - m) ** 2 for x in xs) / len(xs)) ** 0.5 / m, 3)


def _workload_summary(rows: list[dict]) -> dict:
    """Per fleet type: drivers, stops and hours, and the spread of stops and working
    hours over its *active* drivers (at least one stop): ``stops_cv``, ``work_h_cv``
    (sd / mean; the workload-balance target is ``stops_cv`` <= 0.25 for captive
    drivers, docs/routing.md "Workload balance")."""
    out: dict[str, dict] = {}
    for ft in sorted({r["fleet_type"] for r in rows}):
        rs = [r for r in rows if r["fleet_type"] == ft]
        act = [r for r in rs if r["stops"] > 0]
        work = [r.get("work_h", r["hours"]) for r in act]
        out[ft] = {
            "drivers": len(rs),
            "active": len(act),
            "stops_mean": rnd(mean([r["stops"] for r in rs]), 1),
            "stops_min": min(r["stops"] for r in rs),
            "stops_max": max(r["stops"] for r in rs),
            "stops_cv": _cv([float(r["stops"]) for r in act]),
            "hours_mean": rnd(mean([r["hours"] for r in rs]), 2),
            "hours_max": rnd(max(r["hours"] for r in rs), 2),
            "work_h_mean": rnd(mean(work), 2) if work else na("no driver with work"),
            "work_h_cv": _cv(work),
        }
    return out


def workload_text(summary: dict[str, dict]) -> list[str]:
    """The per-fleet-type workload summary as terminal lines."""
    out = []
    for ft, w in summary.items():
        out.append(f"  workload {ft}: {w['drivers']} drivers ({w['active']} with stops), stops "
                   f"{w['stops_min']}-{w['stops_max']} mean {w['stops_mean']} cv {w['stops_cv']}, "
                   f"working h mean {w['work_h_mean']} cv {w['work_h_cv']}")
    return out
