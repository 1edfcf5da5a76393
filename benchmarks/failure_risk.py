"""Failure risk over several simulated days: how predictable failed attempts are
(the simulator's hidden truth) and how much of it the engine learns from events.

For each seed, ``--days`` consecutive weekdays of one world (same customers, new
fleet and orders each day; engine in process, closed loop).  The engine keeps its
failure-risk seat and its customer records from one day to the next, as an engine
that runs on would (everything else it has is the day's own):

- **hidden-truth AUC**: ROC-AUC of the simulator's own probability of a failed
  attempt (``truth/attempts`` ``p_fail``: availability schedule and access,
  fleetstream/sim/availability.py) against what happened, over every delivery
  attempt (mean of the days): the ceiling for any model;
- **engine AUC**: ROC-AUC of the engine's failure-risk seat (models/risk.py) by
  progressive validation, one score per attempt: the prediction of the order's
  last snapshot before the outcome (what a contact-ahead alert would use), made by
  the model as it is *before* it learns that outcome; pooled over days 1..N-1
  (warm), and for the last day and day 0 (cold start) alone;
- the failure rate (failed attempts / attempts, not home and access);
- the engine's ``failure_risk`` alerts on days 1..N-1: precision (alerted orders
  whose attempt after the alert failed) and recall (failed attempts alerted
  before), and precision / recall of flagging the last snapshot at p >= 0.2, 0.3,
  0.5; ``--failure-risk-on`` sets the alert threshold;
- with ``--contact-reply R``, each seed again with contact ahead (the simulated
  customers answer an alert with probability R and arrange for the delivery,
  fleetstream/sim/availability.py): failed attempts on days 1..N-1 without and
  with it, and the engine AUC of those days with and without the customers'
  replies (the same predictions, the seat's ``arranged`` feature removed: a paired
  ablation of what the reply tells the seat, models/availability.py ``arranged``), and
  the attempts the customer had arranged for: how many, how many failed, and their
  mean predicted risk with and without the reply (calibration).

Prints per seed and mean / sd; ``--json`` writes them.  Usage::

    .venv/bin/python benchmarks/failure_risk.py --scenario small --seeds 1,2,3,4,5
    .venv/bin/python benchmarks/failure_risk.py --scenario andorra --seeds 1,2,3 --days 3
    .venv/bin/python benchmarks/failure_risk.py --seeds 1,2,3,4,5 --contact-reply 0.6 \
        --failure-risk-on 0.3
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time

import orjson


def roc_auc(scores: list[float], labels: list[bool]) -> float:
    """Exact ROC-AUC (ties count half), or nan without both classes.

    >>> roc_auc([0.1, 0.4, 0.35, 0.8], [False, False, True, True])
    0.75
    """
    pairs = sorted(zip(scores, labels))
    n_pos = sum(1 for _, y in pairs if y)
    n_neg = len(pairs) - n_pos
    if not n_pos or not n_neg:
        return float("nan")
    rank_sum, i = 0.0, 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            j += 1
        avg_rank = (i + 1 + j) / 2.0
        rank_sum += avg_rank * sum(1 for k in range(i, j) if pairs[k][1])
        i = j
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


ATTEMPT_COST = 0.0
"""engine.failure_attempt_cost of the contact-ahead runs (--attempt-cost): the engine
also moves risky deliveries to when the customer is more likely in."""
WORLD_TZ: str | None = None
"""The simulated world's local clock (--world-timezone; Scenario.timezone)."""
ENGINE_TZ: str | None = None
"""engine.timezone of the run (--engine-timezone; default: the world's)."""
FIRST_DAY = 0
"""The world's first simulated day (--first-day; day N is DAY0 + N days, DAY0 Monday
2026-03-02)."""
DAY_START_H: float | None = None
"""The scenario's day_start_h (--day-start-h, UTC hour the shifts start; default: the
scenario's)."""


def run_day(scenario: str, seed: int, day: int = 0, carry: dict | None = None,
            xs: list | None = None, contact_reply: float = 0.0,
            failure_risk_on: float | None = None) -> dict:
    """One closed-loop day: hidden-truth and engine failure-risk figures.

    ``carry`` (zone -> what the engine kept of the previous day: its failure-risk
    seat and its customer records) is read, and replaced by this day's, so that
    consecutive days behave like an engine that runs on (models and customer history
    persist; vehicles and orders are the day's own).  ``xs``: filled with the
    (captured features, failed) of every attempt's last snapshot."""
    from fleetstream.models.risk import RiverRisk

    from fleetstream.contract.settings import EngineSettings
    from fleetstream.engine import LocalEngine
    from fleetstream.sim.loop import Simulation
    from fleetstream.sim.world import Scenario
    from fleetstream.wiring import build_zone_engine

    settings = EngineSettings()
    if failure_risk_on is not None:
        settings = EngineSettings(**{**settings.__dict__, "failure_risk_on": failure_risk_on})
    if ATTEMPT_COST and contact_reply:
        settings = EngineSettings(**{**settings.__dict__, "failure_attempt_cost": ATTEMPT_COST})
    if ENGINE_TZ is not None:
        settings = EngineSettings(**{**settings.__dict__, "timezone": ENGINE_TZ})
    traces: dict[str, list] = {}
    engines: dict = {}
    last: dict[str, list] = {}
    blind: dict[str, list] = {}
    n_arranged = [0]
    arranged_sums = [0.0, 0.0, 0]     # their predicted risk with / without the reply, failed

    def factory(zone: str):
        eng = build_zone_engine(zone, settings)
        if carry and zone in carry:
            snap, customers = carry[zone]
            eng.seats.failure_risk = RiverRisk.restore(snap)
            eng.state.customers.update(copy.deepcopy(customers))
        engines[zone] = eng
        seat = eng.seats.failure_risk
        seat.trace = traces.setdefault(zone, [])
        learn = eng.forecasting.learn_outcome

        def learn_outcome(o, failed, _learn=learn, _seat=seat):
            if o.snaps:   # the last snapshot's prediction, before anything is learnt
                xr = o.snaps[-1]["xr"]
                p = _seat.predict_proba(xr)
                last.setdefault(zone, []).append((p, bool(failed)))
                # the same prediction without the customer's reply (paired ablation)
                blind.setdefault(zone, []).append(
                    (_seat.predict_proba({k: v for k, v in xr.items() if k != "arranged"})
                     if "arranged" in xr else p, bool(failed)))
                if xr.get("arranged"):
                    n_arranged[0] += 1
                    arranged_sums[0] += p
                    arranged_sums[1] += blind[zone][-1][0]
                    arranged_sums[2] += bool(failed)
                if xs is not None:
                    xs.append((o.snaps[-1]["xr"], bool(failed)))
            _learn(o, failed)
        eng.forecasting.learn_outcome = learn_outcome
        return eng

    sc = Scenario.preset(scenario, seed)
    if day or contact_reply:
        sc = Scenario(**{**sc.__dict__, "day": day, "contact_reply": contact_reply})
    if WORLD_TZ is not None:
        sc = Scenario(**{**sc.__dict__, "timezone": WORLD_TZ})
    if DAY_START_H is not None:
        sc = Scenario(**{**sc.__dict__, "day_start_h": DAY_START_H})
    sim = Simulation(sc, LocalEngine(settings, zone_factory=factory))
    sim.run()
    att = sim.truth_attempts
    if carry is not None:
        for z, eng in engines.items():
            seat = eng.seats.failure_risk
            seat.trace = None
            carry[z] = (seat.snapshot(), copy.deepcopy(eng.state.customers))
    y_true = [not (a["home"] and a["access_ok"]) for a in att]
    alert_ts: dict[str, float] = {}
    for topic, _key, rec in sim.outputs:
        if topic == "fs.alerts" and rec.get("kind") == "failure_risk":
            for oid in rec.get("order_ids", ()):
                alert_ts.setdefault(oid, rec["ts"])
    flagged_fail, leads, hit_orders = 0, [], set()
    for a, y in zip(att, y_true):
        t = alert_ts.get(a["order_id"])
        if t is not None and t <= a["ts"]:
            leads.append((a["ts"] - t) / 60.0)
            flagged_fail += y
            hit_orders.add(a["order_id"]) if y else None
    all_pairs = [p for z in sorted(traces) for p in traces[z]]
    last_pairs = [p for z in sorted(last) for p in last[z]]
    blind_pairs = [p for z in sorted(blind) for p in blind[z]]
    return {
        "seed": seed, "day": day, "attempts": len(att),
        "failure_rate": round(sum(y_true) / max(1, len(att)), 4),
        "not_home": sum(1 for a in att if not a["home"]),
        "access": sum(1 for a in att if a["home"] and not a["access_ok"]),
        "truth_auc": round(roc_auc([a["p_fail"] for a in att], y_true), 4),
        "engine_auc": round(roc_auc([p for p, _ in last_pairs], [y for _, y in last_pairs]), 4),
        "engine_n": len(last_pairs), "_pairs": last_pairs,
        "engine_auc_without_reply": round(roc_auc([p for p, _ in blind_pairs],
                                                  [y for _, y in blind_pairs]), 4),
        "_blind": blind_pairs, "arranged_attempts": n_arranged[0],
        "_arranged_sums": list(arranged_sums),
        "failed": sum(y_true), "alerts": len(alert_ts),
        "alerts_on_failed_orders": len(hit_orders), "alerted_failed_attempts": flagged_fail,
        "alert_median_lead_min": round(statistics.median(leads), 1) if leads else None,
        "contacted": len(sim.contacted), "arranged": len(sim.arranged),
        "seat_auc_snapshots": round(roc_auc([p for p, _ in all_pairs],
                                            [y for _, y in all_pairs]), 4),
    }


def _arranged_figures(days: list[dict]) -> dict:
    """The attempts whose customer had arranged for them (contacted ahead): their
    failure rate and mean predicted risk, with and without the reply."""
    pw = sum(r["_arranged_sums"][0] for r in days)
    pb = sum(r["_arranged_sums"][1] for r in days)
    y = sum(r["_arranged_sums"][2] for r in days)
    n = sum(r["arranged_attempts"] for r in days)
    if not n:
        return {"arranged_failed": float("nan"), "arranged_p_with": float("nan"),
                "arranged_p_without": float("nan")}
    return {"arranged_failed": round(y / n, 4), "arranged_p_with": round(pw / n, 4),
            "arranged_p_without": round(pb / n, 4)}


def _pr_at(pairs: list, thr: float) -> tuple[float, float]:
    """Precision and recall of flagging p >= thr (per attempt, last snapshot)."""
    tp = sum(1 for p, y in pairs if p >= thr and y)
    fl = sum(1 for p, _ in pairs if p >= thr)
    pos = sum(1 for _, y in pairs if y)
    return (round(tp / fl, 3) if fl else float("nan")), (round(tp / pos, 3) if pos else float("nan"))


def run_seed(scenario: str, seed: int, days: int, say=None, contact_reply: float = 0.0,
             failure_risk_on: float | None = None) -> dict:
    """``days`` consecutive weekdays of one world (day 0 cold); the figures of each
    day, of days 1..N-1 pooled (warm) and of the last day and day 0."""
    carry: dict = {}
    per_day = []
    for d in range(days):
        t0 = time.perf_counter()
        r = run_day(scenario, seed, FIRST_DAY + d, carry, contact_reply=contact_reply,
                    failure_risk_on=failure_risk_on)
        per_day.append(r)
        if say:
            say(f"  seed {seed} day {FIRST_DAY + d}{' contact' if contact_reply else ''}: attempts "
                f"{r['attempts']}  failed {r['failure_rate']:.1%}  truth AUC "
                f"{r['truth_auc']:.3f}  engine AUC {r['engine_auc']:.3f} (n {r['engine_n']}"
                f"{', without replies %.3f' % r['engine_auc_without_reply'] if contact_reply else ''})  "
                f"alerts {r['alerts']}  [{time.perf_counter() - t0:.0f} s]")
    wd = per_day[1:] or per_day
    warm = [p for r in wd for p in r["_pairs"]]
    warm_blind = [p for r in wd for p in r["_blind"]]
    arranged = _arranged_figures(wd)
    for r in per_day:
        del r["_pairs"], r["_blind"], r["_arranged_sums"]
    alerts = sum(r["alerts"] for r in wd)
    failed = sum(r["failed"] for r in wd)
    out = {"seed": seed, "days": per_day,
           "failure_rate": round(statistics.fmean(r["failure_rate"] for r in per_day), 4),
           "truth_auc": round(statistics.fmean(r["truth_auc"] for r in per_day), 4),
           "engine_auc": round(roc_auc([p for p, _ in warm], [y for _, y in warm]), 4),
           "engine_auc_without_reply": round(roc_auc([p for p, _ in warm_blind],
                                                     [y for _, y in warm_blind]), 4),
           "arranged_attempts": sum(r["arranged_attempts"] for r in wd),
           **arranged,
           "engine_auc_last_day": per_day[-1]["engine_auc"],
           "engine_auc_day0": per_day[0]["engine_auc"],
           "warm_attempts": sum(r["attempts"] for r in wd), "warm_failed": failed,
           "alerts": alerts,
           "alert_precision": round(sum(r["alerts_on_failed_orders"] for r in wd) / alerts, 3)
           if alerts else float("nan"),
           "alert_recall": round(sum(r["alerted_failed_attempts"] for r in wd) / failed, 3)
           if failed else float("nan")}
    for thr in (0.2, 0.3, 0.5):
        out[f"precision_at_{thr}"], out[f"recall_at_{thr}"] = _pr_at(warm, thr)
    return out


def summary(rows: list[dict], key: str) -> dict:
    v = [r[key] for r in rows]
    return {"mean": round(statistics.fmean(v), 4),
            "sd": round(statistics.stdev(v), 4) if len(v) > 1 else 0.0,
            "min": min(v), "max": max(v)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="small",
                    help="simulated scenario (tiny, small, metro, disrupted, zones8, andorra); "
                         "default small")
    ap.add_argument("--seeds", default="1,2,3,4,5",
                    help="comma-separated seeds, one world each (default 1,2,3,4,5)")
    ap.add_argument("--days", type=int, default=5,
                    help="consecutive weekdays per seed (default 5): the engine keeps its "
                         "failure-risk model and customer history from day to day; figures "
                         "are those of days 1..N-1 pooled, the last day and day 0 (cold)")
    ap.add_argument("--failure-risk-on", type=float, default=None,
                    help="engine.failure_risk_on for the run (alert threshold; default: the "
                         "setting's default)")
    ap.add_argument("--contact-reply", type=float, default=0.0,
                    help="also run every seed with contact ahead: the simulated customers "
                         "answer a failure_risk alert with this probability and arrange for "
                         "the delivery (sim/availability.py); prints failed attempts before "
                         "and after")
    ap.add_argument("--attempt-cost", type=float, default=0.0,
                    help="engine.failure_attempt_cost in the --contact-reply runs: the engine "
                         "also moves deliveries with a failure-risk alert to when the "
                         "customer is more likely in (default 0: off)")
    ap.add_argument("--no-priors", action="store_true",
                    help="ablation: the failure-risk model starts without its stated priors "
                         "(models/risk.py FAILURE_PRIORS), from the base rate only")
    ap.add_argument("--failure-model", type=int, choices=(2, 3), default=None,
                    help="which failure-risk model the engine's seats are (models/risk.py "
                         "FAILURE_MODEL): 3, the refitted learner (the default), or 2, "
                         "online SGD only, for comparison")
    ap.add_argument("--world-timezone", default=None, metavar="ZONE",
                    help="the simulated world's local clock (an IANA zone; docs/simulator.md "
                         "'Local time'; default: customers on UTC hours)")
    ap.add_argument("--engine-timezone", default=None, metavar="ZONE",
                    help="engine.timezone of the run (default: --world-timezone, else the "
                         "setting's default UTC); a zone other than the world's measures a "
                         "misconfigured engine")
    ap.add_argument("--first-day", type=int, default=0, metavar="N",
                    help="the world's first simulated day, N days after Monday 2026-03-02 "
                         "(default 0); e.g. 24 with --days 6 crosses Europe's switch to "
                         "summer time (Sunday 2026-03-29, day 27)")
    ap.add_argument("--day-start-h", type=float, default=None, metavar="H",
                    help="the UTC hour the simulated day's shifts start, and its order windows "
                         "with them (default: the scenario's, 7): with --world-timezone, "
                         "compares worlds whose day sits at the same local hours")
    ap.add_argument("-q", "--quiet", action="store_true", help="no per-day progress lines")
    ap.add_argument("--json", default=None, help="also write the figures to this JSON file")
    a = ap.parse_args(argv)
    global ATTEMPT_COST, WORLD_TZ, ENGINE_TZ, DAY_START_H, FIRST_DAY
    ATTEMPT_COST = a.attempt_cost
    if a.day_start_h is not None and not 0.0 <= a.day_start_h <= 12.0:
        print(f"failure_risk: --day-start-h must be in [0, 12], got {a.day_start_h}",
              file=sys.stderr)
        return 2
    DAY_START_H = a.day_start_h
    if a.first_day < 0:
        print(f"failure_risk: --first-day must be >= 0, got {a.first_day}", file=sys.stderr)
        return 2
    FIRST_DAY = a.first_day
    from fleetstream.sim.clock import check
    try:
        WORLD_TZ = a.world_timezone and check(a.world_timezone)
        ENGINE_TZ = (a.engine_timezone and check(a.engine_timezone)) or WORLD_TZ
    except ValueError as e:
        print(f"failure_risk: {e}", file=sys.stderr)
        return 2
    try:
        seeds = [int(s) for s in a.seeds.split(",") if s.strip()]
    except ValueError:
        print(f"failure_risk: --seeds must be integers separated by commas, got {a.seeds!r}",
              file=sys.stderr)
        return 2
    if a.no_priors:
        from fleetstream.models import risk
        risk.FAILURE_PRIORS = {}
    if a.failure_model is not None:
        from fleetstream.models import risk
        risk.FAILURE_MODEL = a.failure_model
    say = (lambda m: print(m, file=sys.stderr, flush=True)) if not a.quiet else None
    rows = []
    for seed in seeds:
        r = run_seed(a.scenario, seed, a.days, say, failure_risk_on=a.failure_risk_on)
        if a.contact_reply > 0:
            c = run_seed(a.scenario, seed, a.days, say, a.contact_reply, a.failure_risk_on)
            r["contact"] = {k: c[k] for k in ("warm_attempts", "warm_failed", "alerts",
                                              "engine_auc", "engine_auc_without_reply",
                                              "arranged_attempts", "engine_auc_day0",
                                              "arranged_failed", "arranged_p_with",
                                              "arranged_p_without")}
            r["failed_reduction"] = round(1 - c["warm_failed"] / max(1, r["warm_failed"]), 4)
            print(f"seed {seed:>4}: contact ahead (reply {a.contact_reply:g}): failed attempts "
                  f"days 1-{a.days - 1} {r['warm_failed']} -> {c['warm_failed']} "
                  f"({-r['failed_reduction']:+.1%}); engine AUC days 1-{a.days - 1} "
                  f"{c['engine_auc']:.3f}, without the customers' replies "
                  f"{c['engine_auc_without_reply']:.3f}; {c['arranged_attempts']} attempts "
                  f"arranged: failed {c['arranged_failed']}, predicted {c['arranged_p_with']} "
                  f"({c['arranged_p_without']} without the reply)", flush=True)
        rows.append(r)
        print(f"seed {seed:>4}: alerts {r['alerts']} precision {r['alert_precision']} recall "
              f"{r['alert_recall']}; flag p>=0.2: P {r['precision_at_0.2']} R "
              f"{r['recall_at_0.2']}, p>=0.3: P {r['precision_at_0.3']} R "
              f"{r['recall_at_0.3']}, p>=0.5: P {r['precision_at_0.5']} R "
              f"{r['recall_at_0.5']}", flush=True)
        print(f"seed {seed:>4}: failed {r['failure_rate']:.1%}  truth AUC {r['truth_auc']:.3f}  "
              f"engine AUC days 1-{a.days - 1} {r['engine_auc']:.3f}  last day "
              f"{r['engine_auc_last_day']:.3f}  day 0 (cold) {r['engine_auc_day0']:.3f}",
              flush=True)
    keys = ("failure_rate", "truth_auc", "engine_auc", "engine_auc_last_day", "engine_auc_day0",
            "alert_precision", "alert_recall")
    if a.contact_reply > 0:
        keys += ("failed_reduction",)
    summ = {k: summary(rows, k) for k in keys}
    for k in keys:
        s = summ[k]
        print(f"{k:>18}: mean {s['mean']:.3f}  sd {s['sd']:.3f}  range "
              f"{s['min']:.3f}-{s['max']:.3f}")
    if a.json:
        with open(a.json, "wb") as f:
            f.write(orjson.dumps({"scenario": a.scenario, "seeds": seeds, "per_seed": rows,
                                  "summary": summ}, option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
