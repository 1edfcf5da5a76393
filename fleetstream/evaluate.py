"""``fleetstream evaluate``: score the engine's models against ground truth.

Runs the replay through the engine in process (same steps as the flow), with an
observer on each zone engine that captures every prediction when its label
arrives (progressive validation: each prediction was made before the outcome
was known, and the model learned from it only afterwards).  Predictions are
joined with the simulator's ground truth in ``truth/`` and scored:

- ETA: MAE and p90 absolute error of predicted arrival, for the product model,
  the travel-time provider alone and an hourly historical-mean correction;
- intervals: coverage and mean width at 80 % and 95 %, overall, by zone, by hour;
- late risk and failure risk: ROC-AUC and log loss of the predictions made 60
  and 30 minutes before the window end;
- alerts: how many late-risk alerts, how early, how many were false; model-drift
  alerts and the models' own drift detections;
- the models' own progressive metrics per zone (``online_metrics``).

ETA error is also reported on the predictions whose plan held (the vehicle made
exactly the stops it had planned before this one): there the error is the
model's; elsewhere it is dominated by later insertions and re-sequencing.

Writes ``scorecard.json`` and ``report.html`` (inline SVG plots: calibration
curves, error and coverage over the day, error by hour; tables by zone, hour and
horizon) into ``--out``.  ``--seats baseline`` scores the rule-based seats.

``fleetstream evaluate --policies static,reactive,predictive REPLAY_OR_SCENARIO``
instead runs the closed-loop policy comparison (see ``fleetstream.policies``).
"""

from __future__ import annotations

import argparse
import bisect
import gzip
import math
import os
import sys
import time
from html import escape
from typing import Any, Callable

import orjson

from fleetstream.connectors.files import read_replay
from fleetstream.engine import LocalEngine
from fleetstream.report_svg import line_chart
from fleetstream.contract.settings import Settings
from fleetstream.wiring import build_zone_engine


# ---------------------------------------------------------------- metrics


def mae(errs: list[float]) -> float:
    return sum(abs(e) for e in errs) / len(errs) if errs else float("nan")


def quantile(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def roc_auc(scores: list[float], labels: list[bool]) -> float:
    """Mann-Whitney AUC with ties counted half.

    >>> roc_auc([0.1, 0.4, 0.35, 0.8], [False, False, True, True])
    0.75
    """
    pos = sum(labels)
    neg = len(labels) - pos
    if pos == 0 or neg == 0:
        return float("nan")
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    rpos = sum(r for r, y in zip(ranks, labels) if y)
    return (rpos - pos * (pos + 1) / 2) / (pos * neg)


def log_loss(ps: list[float], labels: list[bool]) -> float:
    if not ps:
        return float("nan")
    eps = 1e-6
    return -sum(math.log(min(1 - eps, max(eps, p)) if y else 1 - min(1 - eps, max(eps, p)))
                for p, y in zip(ps, labels)) / len(ps)


def calibration(ps: list[float], labels: list[bool], bins: int = 10) -> list[tuple[float, float, int]]:
    out = []
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        idx = [i for i, p in enumerate(ps) if lo <= p < hi or (b == bins - 1 and p == 1.0)]
        if idx:
            out.append((sum(ps[i] for i in idx) / len(idx),
                        sum(1 for i in idx if labels[i]) / len(idx), len(idx)))
    return out


def _r(x: float, n: int = 3) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), n)


# ---------------------------------------------------------------- collection


class Collector:
    """Observer attached to every zone engine during the evaluation run."""

    def __init__(self) -> None:
        self.arrivals: list[dict] = []
        self.outcomes: list[dict] = []
        self.legs: list[dict] = []

    def __call__(self, kind: str, payload: dict) -> None:
        if kind == "arrival":
            self.arrivals.append({**payload, "snaps": [dict(s) for s in payload["snaps"]],
                                  "wsnaps": {k: dict(v) for k, v in payload["wsnaps"].items()}})
        elif kind == "outcome":
            self.outcomes.append({**payload, "wsnaps": {k: dict(v) for k, v in payload["wsnaps"].items()},
                                  "snaps": []})
        elif kind == "leg":
            self.legs.append({"zone": payload["zone"], "ratio": payload["ratio"],
                              "pred": payload["pred"], "hist": payload["hist"]})


def _truth(replay: str, name: str) -> list[dict]:
    path = os.path.join(replay, "truth", name)
    if not os.path.exists(path):
        return []
    with gzip.open(path, "rb") as f:
        return [orjson.loads(x) for x in f]


def run_engine(replay: str, settings: Settings, models_dir: str | None = None,
               progress: bool = True, seats: str = "learned") -> tuple[Collector, LocalEngine, list[tuple], float]:
    col = Collector()

    def factory(zone: str):
        eng = build_zone_engine(zone, settings.engine, models_dir=models_dir, kind=seats)
        eng.observer = col
        return eng

    engine = LocalEngine(settings.engine, zone_factory=factory)
    outputs: list[tuple] = []
    t0 = time.perf_counter()
    n = 0
    for msg in read_replay(replay):
        outputs.extend(engine.process(msg))
        n += 1
        if progress and n % 50000 == 0:
            print(f"  evaluated {n:,} events", file=sys.stderr, flush=True)
    return col, engine, outputs, time.perf_counter() - t0


# ---------------------------------------------------------------- scoring


def _truth_stops(replay: str) -> dict[str, list[float]]:
    """Per vehicle: sorted arrival times of every stop it reached (ground truth)."""
    per: dict[str, list[float]] = {}
    for leg in _truth(replay, "legs.jsonl.gz"):
        per.setdefault(leg["vehicle_id"], []).append(leg["arrive_ts"])
    for v in per.values():
        v.sort()
    return per


def _deliverer(replay: str) -> dict[str, str]:
    return {leg["order_id"]: leg["vehicle_id"] for leg in _truth(replay, "legs.jsonl.gz")
            if leg.get("stop") == "delivery"}


def _cov_block(g: dict) -> dict:
    n = len(g["err"])
    return {"n": n, "eta_mae_s": _r(mae(g["err"]), 1), "eta_p90_abs_s": _r(quantile([abs(x) for x in g["err"]], 0.9), 1),
            "provider_mae_s": _r(mae(g["perr"]), 1),
            "coverage80": _r(sum(g["c80"]) / n), "coverage95": _r(sum(g["c95"]) / n),
            "mean_width80_s": _r(sum(g["w80"]) / n, 1), "mean_width95_s": _r(sum(g["w95"]) / n, 1)}


def _risk_block(v: tuple[list, list]) -> dict:
    return {"roc_auc": _r(roc_auc(*v)), "log_loss": _r(log_loss(*v)), "n": len(v[0]),
            "positives": sum(v[1]),
            "mean_p": _r(sum(v[0]) / len(v[0]) if v[0] else float("nan")),
            "base_rate": _r(sum(v[1]) / len(v[1]) if v[1] else float("nan"))}


TIME_BIN_S = 1800.0


def scorecard(replay: str, col: Collector, outputs: list[tuple], seats: dict | None = None) -> dict:
    """Join the collected predictions with the ground truth in ``replay/truth``.

    ``seats``: zone -> ModelSeats after the run, for the models' own progressive
    metrics and drift history (optional)."""
    truth_att = {a["order_id"]: a for a in _truth(replay, "attempts.jsonl.gz")}
    truth_ord = {o["order_id"]: o for o in _truth(replay, "orders.jsonl.gz")}
    stops = _truth_stops(replay)
    who = _deliverer(replay)
    eta = {"model": [], "provider": [], "hist": []}
    stable = {"model": [], "provider": [], "hist": []}
    by_zone: dict[str, dict] = {}
    by_hour: dict[int, dict] = {}
    by_time: dict[int, dict] = {}
    by_horizon: dict[str, dict] = {}
    cov = {"80": [], "95": []}
    width = {"80": [], "95": []}
    late_at: dict[str, tuple[list, list]] = {"60": ([], []), "30": ([], [])}
    fail_at: dict[str, tuple[list, list]] = {"60": ([], []), "30": ([], [])}
    late_truth: dict[str, bool] = {}
    t0 = None
    for a in col.arrivals:
        t = truth_att.get(a["order_id"])
        actual = t["arrived_ts"] if t else a["ts"]
        late = actual > a["window_end"]
        late_truth[a["order_id"]] = late
        vstops = stops.get(who.get(a["order_id"], ""), [])
        for s in a["snaps"]:
            e = actual - s["eta"]
            ep, eh = actual - s["eta_p"], actual - s["eta_h"]
            eta["model"].append(e)
            eta["provider"].append(ep)
            eta["hist"].append(eh)
            # the plan held: the vehicle made exactly the stops ahead it had planned
            ahead = s.get("xi", {}).get("stops_ahead")
            if ahead is not None and vstops:
                done = bisect.bisect_right(vstops, actual + 1e-3) - bisect.bisect_right(vstops, s["ts"])
                if done == ahead + 1:
                    stable["model"].append(e)
                    stable["provider"].append(ep)
                    stable["hist"].append(eh)
            in80 = s["lo80"] <= e <= s["hi80"]
            in95 = s["lo95"] <= e <= s["hi95"]
            cov["80"].append(in80)
            cov["95"].append(in95)
            width["80"].append(s["hi80"] - s["lo80"])
            width["95"].append(s["hi95"] - s["lo95"])
            hz = s.get("xi", {}).get("horizon_s", s["eta"] - s["ts"])
            hkey = ("<10min" if hz < 600 else "10-30min" if hz < 1800 else "30-60min" if hz < 3600
                    else "1-2h" if hz < 7200 else ">=2h")
            t0 = s["ts"] if t0 is None or s["ts"] < t0 else t0
            for key, group in ((a["zone"], by_zone), (int(s["ts"] // 3600) % 24, by_hour),
                               (int(s["ts"] // TIME_BIN_S), by_time), (hkey, by_horizon)):
                g = group.setdefault(key, {"err": [], "perr": [], "c80": [], "c95": [], "w80": [], "w95": []})
                g["err"].append(e)
                g["perr"].append(ep)
                g["c80"].append(in80)
                g["c95"].append(in95)
                g["w80"].append(s["hi80"] - s["lo80"])
                g["w95"].append(s["hi95"] - s["lo95"])
        for mark, ws in a["wsnaps"].items():
            key = "60" if float(mark) >= 3600 else "30"
            if ws.get("p_late") is not None:
                late_at[key][0].append(ws["p_late"])
                late_at[key][1].append(late)
    for o in col.outcomes:
        tr = truth_ord.get(o["order_id"])
        failed = tr["outcome"] == "failed" if tr else o["failed"]
        for mark, ws in o["wsnaps"].items():
            key = "60" if float(mark) >= 3600 else "30"
            fail_at[key][0].append(ws["p_fail"])
            fail_at[key][1].append(failed)

    def eta_block(errs: list[float]) -> dict:
        return {"mae_s": _r(mae(errs), 1), "p90_abs_s": _r(quantile([abs(x) for x in errs], 0.9), 1),
                "bias_s": _r(sum(errs) / len(errs) if errs else float("nan"), 1)}

    def reduction(d: dict) -> float | None:
        return _r(1 - mae(d["model"]) / mae(d["provider"]) if d["provider"] else float("nan"))

    alerts = [r for t, _k, r in outputs if t == "fs.alerts" and r["kind"] == "late_risk"]
    drift_alerts = [r for t, _k, r in outputs if t == "fs.alerts" and r["kind"] == "drift"]
    alerted: dict[str, float] = {}
    for al in alerts:
        for oid in al["order_ids"]:
            alerted.setdefault(oid, al["ts"])
    true_pos = [oid for oid in alerted if late_truth.get(oid)]
    leads = [truth_ord[oid]["window_end"] - alerted[oid] for oid in true_pos if oid in truth_ord]
    n_late = sum(1 for v in late_truth.values() if v)
    card: dict[str, Any] = {
        "replay": replay,
        "predictions_scored": len(eta["model"]),
        "eta": {"model": eta_block(eta["model"]), "provider": eta_block(eta["provider"]),
                "historical_mean": eta_block(eta["hist"]),
                "mae_reduction_vs_provider": reduction(eta),
                "plan_held": {"n": len(stable["model"]),
                              "share": _r(len(stable["model"]) / len(eta["model"]) if eta["model"] else float("nan")),
                              "model": eta_block(stable["model"]), "provider": eta_block(stable["provider"]),
                              "historical_mean": eta_block(stable["hist"]),
                              "mae_reduction_vs_provider": reduction(stable)}},
        "intervals": {
            lvl: {"nominal": int(lvl) / 100, "coverage": _r(sum(cov[lvl]) / len(cov[lvl]) if cov[lvl] else float("nan")),
                  "mean_width_s": _r(sum(width[lvl]) / len(width[lvl]) if width[lvl] else float("nan"), 1)}
            for lvl in ("80", "95")},
        "by_zone": {z: _cov_block(g) for z, g in sorted(by_zone.items())},
        "by_hour": {f"{h:02d}": _cov_block(g) for h, g in sorted(by_hour.items())},
        "by_horizon": {k: _cov_block(by_horizon[k]) for k in ("<10min", "10-30min", "30-60min", "1-2h", ">=2h")
                       if k in by_horizon},
        "late_risk": {f"{k}min_before_window_end": _risk_block(v) for k, v in late_at.items()},
        "failure_risk": {f"{k}min_before_window_end": _risk_block(v) for k, v in fail_at.items()},
        "alerts": {"late_risk_alerts": len(alerts), "orders_alerted": len(alerted),
                   "true_late_among_alerted": len(true_pos),
                   "false_alerts": len(alerted) - len(true_pos),
                   "precision": _r(len(true_pos) / len(alerted) if alerted else float("nan")),
                   "late_orders": n_late,
                   "recall": _r(len(true_pos) / n_late if n_late else float("nan")),
                   "median_lead_before_window_end_min": _r(quantile(leads, 0.5) / 60 if leads else float("nan"), 1),
                   "model_drift_alerts": len(drift_alerts)},
        "legs": {"n": len(col.legs),
                 "ratio_mae_model": _r(mae([leg["ratio"] - leg["pred"] for leg in col.legs])),
                 "ratio_mae_provider": _r(mae([leg["ratio"] - 1.0 for leg in col.legs])),
                 "ratio_mae_hist": _r(mae([leg["ratio"] - leg["hist"] for leg in col.legs]))},
    }
    if seats:
        from fleetstream.models.seats import seat_metrics
        online, drift = {}, {}
        for z, st in sorted(seats.items()):
            online[z] = {k: {m: _r(v, 4) if isinstance(v, float) else v for m, v in d.items()}
                         for k, d in seat_metrics(st).items()}
            hist = []
            for name in ("eta", "intervals", "late_risk", "failure_risk"):
                h = getattr(getattr(st, name), "drift_history", None)
                hist.extend(h() if h else [])
            drift[z] = hist
        card["online_metrics"] = online
        card["drift_detections"] = {z: len(h) for z, h in drift.items()}
    bt = sorted(by_time.items())
    card["_plots"] = {
        "calibration_late_30": calibration(*late_at["30"]),
        "calibration_late_60": calibration(*late_at["60"]),
        "calibration_fail_30": calibration(*fail_at["30"]),
        "hour_err": [(int(h), g["eta_mae_s"] / 60) for h, g in card["by_hour"].items() if g["eta_mae_s"] is not None],
        "hour_perr": [(int(h), g["provider_mae_s"] / 60) for h, g in card["by_hour"].items()
                      if g["provider_mae_s"] is not None],
        "hour_cov80": [(int(h), g["coverage80"]) for h, g in card["by_hour"].items()],
        "hour_cov95": [(int(h), g["coverage95"]) for h, g in card["by_hour"].items()],
        "time_err": [((k * TIME_BIN_S % 86400) / 3600, mae(g["err"]) / 60) for k, g in bt],
        "time_perr": [((k * TIME_BIN_S % 86400) / 3600, mae(g["perr"]) / 60) for k, g in bt],
        "time_cov80": [((k * TIME_BIN_S % 86400) / 3600, sum(g["c80"]) / len(g["c80"])) for k, g in bt],
        "time_cov95": [((k * TIME_BIN_S % 86400) / 3600, sum(g["c95"]) / len(g["c95"])) for k, g in bt],
    }
    return card


def _n(x: Any) -> float:
    return float("nan") if x is None else x


def _pct(x: Any) -> str:
    return "  n/a" if x is None else f"{100 * x:5.1f}"


def _min(x: Any) -> str:
    return "  n/a" if x is None else f"{x / 60:5.1f}"


def render_text(card: dict) -> str:
    e, iv = card["eta"], card["intervals"]
    ph = e["plan_held"]
    lines = [f"scorecard for {card['replay']}  ({card['predictions_scored']:,} ETA predictions scored"
             + (f", seats: {card['seats']}" if card.get("seats") else "") + ")",
             "ETA (arrival) error          MAE        p90 |abs|   | plan held: MAE",
             *(f"  {name:<24}{_n(e[k]['mae_s']) / 60:>6.1f} min "
               f"{_n(e[k]['p90_abs_s']) / 60:>7.1f} min   | {_n(ph[k]['mae_s']) / 60:>6.1f} min"
               for name, k in (("product model", "model"), ("provider alone", "provider"),
                               ("historical mean", "historical_mean"))),
             f"  MAE reduction vs provider: {100 * _n(e['mae_reduction_vs_provider']):.1f} %  "
             f"(plan held, {100 * _n(ph['share']):.0f} % of predictions: "
             f"{100 * _n(ph['mae_reduction_vs_provider']):.1f} %)",
             "intervals                    coverage   mean width",
             *(f"  {lvl} %{'':<22}{100 * _n(iv[lvl]['coverage']):>6.1f} %  "
               f"{_n(iv[lvl]['mean_width_s']) / 60:>7.1f} min" for lvl in ("80", "95")),
             "by zone      n      MAE  prov MAE  cov80  cov95  width80  width95 (min, %)",
             *(f"  {z:<6}{g['n']:>7,} {_min(g['eta_mae_s'])}    {_min(g['provider_mae_s'])}  "
               f"{_pct(g['coverage80'])}  {_pct(g['coverage95'])}  {_min(g['mean_width80_s'])}    "
               f"{_min(g['mean_width95_s'])}" for z, g in card["by_zone"].items()),
             "by hour of prediction (UTC): " + ", ".join(
                 f"{h}h {_pct(g['coverage80']).strip()}/{_pct(g['coverage95']).strip()}%"
                 for h, g in card["by_hour"].items()),
             "by horizon: " + ", ".join(
                 f"{k} MAE {_min(g['eta_mae_s']).strip()}m cov {_pct(g['coverage80']).strip()}/"
                 f"{_pct(g['coverage95']).strip()}%" for k, g in card.get("by_horizon", {}).items()),
             "late risk:    " + ", ".join(f"{k}: AUC {v['roc_auc']} logloss {v['log_loss']} (n={v['n']})"
                                          for k, v in card["late_risk"].items()),
             "failure risk: " + ", ".join(f"{k}: AUC {v['roc_auc']} logloss {v['log_loss']} (n={v['n']})"
                                          for k, v in card["failure_risk"].items()),
             "alerts: {late_risk_alerts} late-risk alerts on {orders_alerted} orders, {true_late_among_alerted} "
             "truly late, {false_alerts} false; recall {recall}; median lead {median_lead_before_window_end_min} "
             "min before window end; {model_drift_alerts} model-drift alerts".format(**card["alerts"])]
    if card.get("drift_detections") is not None:
        lines.append("drift detections (ADWIN, worsening) by zone: " + ", ".join(
            f"{z} {n}" for z, n in card["drift_detections"].items()))
    if card.get("engine"):
        lines.append(f"engine: {card['engine'].get('events_per_s', 0):,} events/s in process")
    return "\n".join(lines)


def _table(title: str, rows: dict, cols: list[tuple[str, str, str]]) -> str:
    head = "".join(f"<th>{c[0]}</th>" for c in cols)
    body = []
    for k, g in rows.items():
        cells = []
        for _, key, fmt in cols:
            v = g.get(key)
            cells.append("<td>n/a</td>" if v is None else
                         f"<td>{(100 * v if fmt == '%' else v / 60 if fmt == 'min' else v):.1f}</td>"
                         if fmt in ("%", "min") else f"<td>{v}</td>")
        body.append(f"<tr><th>{k}</th>{''.join(cells)}</tr>")
    return f"<h2>{title}</h2><table><tr><th></th>{head}</tr>{''.join(body)}</table>"


def render_html(card: dict) -> str:
    p = card["_plots"]
    cols = [("n", "n", ""), ("model MAE (min)", "eta_mae_s", "min"),
            ("provider MAE (min)", "provider_mae_s", "min"), ("p90 |err| (min)", "eta_p90_abs_s", "min"),
            ("cov 80 (%)", "coverage80", "%"), ("cov 95 (%)", "coverage95", "%"),
            ("width 80 (min)", "mean_width80_s", "min"), ("width 95 (min)", "mean_width95_s", "min")]
    hours = [h for h, _ in p["time_cov80"]] or [0.0]
    body = [
        "<h1>fleetstream evaluation</h1>",
        f"<pre>{escape(render_text(card))}</pre>",
        line_chart("Late-risk calibration", [("30 min before window end", [(x, y) for x, y, _ in p["calibration_late_30"]]),
                                            ("60 min before", [(x, y) for x, y, _ in p["calibration_late_60"]]),
                                            ("failure risk, 30 min", [(x, y) for x, y, _ in p["calibration_fail_30"]])],
                   "predicted probability", "observed frequency", ref=[(0, 0), (1, 1)]),
        line_chart("ETA error over the day (30-min bins of prediction time)",
                   [("model MAE (min)", p["time_err"]), ("provider MAE (min)", p["time_perr"])],
                   "hour of day (UTC)", "minutes"),
        line_chart("Interval coverage over the day (30-min bins)",
                   [("80 %", p["time_cov80"]), ("95 %", p["time_cov95"])], "hour of day (UTC)", "coverage",
                   ref=[(min(hours), 0.8), (max(hours), 0.8)],
                   refs=[[(min(hours), 0.95), (max(hours), 0.95)]]),
        line_chart("ETA error by hour of prediction", [("model MAE (min)", p["hour_err"]),
                                                       ("provider MAE (min)", p["hour_perr"])],
                   "hour (UTC)", "minutes"),
        _table("By zone", card["by_zone"], cols),
        _table("By hour of prediction (UTC)", card["by_hour"], cols),
        _table("By horizon", card.get("by_horizon", {}), cols),
    ]
    return ("<!doctype html><html><head><meta charset='utf-8'><title>fleetstream evaluation</title>"
            "<style>body{font-family:sans-serif;max-width:1100px;margin:20px} svg{margin:8px}"
            "table{border-collapse:collapse;font-size:12px} td,th{border:1px solid #ccc;padding:2px 6px;"
            "text-align:right}</style></head><body>" + "\n".join(body) + "</body></html>\n")


def evaluate(replay: str, out: str, settings: Settings | None = None, models_dir: str | None = None,
             progress: bool = True, seats: str = "learned") -> dict:
    settings = settings or Settings()
    col, engine, outputs, secs = run_engine(replay, settings, models_dir, progress, seats)
    card = scorecard(replay, col, outputs, {z: e.seats for z, e in engine.zones.items()})
    card["seats"] = seats + (f" (warm start {models_dir})" if models_dir else "")
    card["engine"] = {"events_per_s": round(sum(1 for _ in read_replay(replay)) / secs),
                      "models": next(iter(engine.zones.values())).seats.versions() if engine.zones else {}}
    os.makedirs(out, exist_ok=True)
    plots = card.pop("_plots")
    with open(os.path.join(out, "scorecard.json"), "wb") as f:
        f.write(orjson.dumps(card, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS) + b"\n")
    card["_plots"] = plots
    with open(os.path.join(out, "report.html"), "w", encoding="utf-8") as f:
        f.write(render_html(card))
    card.pop("_plots")
    return card


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="fleetstream evaluate", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("replay", help="replay folder with truth/ (e.g. replay_data/metro), or with "
                    "--policies a scenario name (tiny, small, metro, disrupted)")
    ap.add_argument("--out", default="out/evaluate", help="where scorecard.json and report.html go")
    ap.add_argument("--models", metavar="DIR", help="warm-start models from a snapshot dir")
    ap.add_argument("--seats", default="learned", choices=["learned", "baseline"],
                    help="which model seats to score (default: learned River models)")
    ap.add_argument("--policies", help="comma list of static,reactive,predictive: closed-loop comparison")
    ap.add_argument("--config")
    ap.add_argument("-q", "--quiet", action="store_true")
    a = ap.parse_args(argv)
    settings = Settings.load(a.config)
    if a.policies:
        from fleetstream.policies import compare
        return compare(a.replay, a.policies.split(","), a.out, settings, progress=not a.quiet)
    card = evaluate(a.replay, a.out, settings, a.models, progress=not a.quiet, seats=a.seats)
    print(render_text(card))
    print(f"written: {a.out}/scorecard.json, {a.out}/report.html")
    return 0


Hook = Callable[[str, dict], None]
__all__ = ["evaluate", "scorecard", "roc_auc", "log_loss", "Collector", "main", "Any"]
