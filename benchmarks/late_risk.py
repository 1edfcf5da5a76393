"""Late risk over several simulated days: does the learned late-risk model rank late
arrivals better than the plain ETA slack, do its alerts come true and early, and is
any flag dropped by a trigger cooldown (issue #9 item 5)?

For each scenario and seed, one closed-loop day (engine in process, cold-start
models, the settings' defaults) with the evaluation observer on every zone engine
(the one ``fleetstream evaluate`` uses), scored against the simulator's truth
(``truth_attempts``: the real arrival time of each delivery):

- **AUC 30 / 60**: ROC-AUC of the late-risk seat's probability captured 30 and 60
  minutes before each delivery's window end (``Order.wsnaps``, progressive: the
  model had not yet learned that order's outcome) against "arrived after the window
  end"; **slack AUC**: the same with the plain ETA slack (ETA minus window end) as
  the score, the ranking the learned model must beat;
- **alerts**: the engine's ``late_risk`` alerts (first alert of each order):
  precision (alerted orders that arrived late), recall (late orders alerted),
  median lead (minutes from the alert to the window end, true alerts), as in the
  scorecard (fleetstream/report/scorecard.py);
- **dropped**: late arrivals whose late-risk flag was raised (``Order.late_flag``
  set by a refresh) but never answered (never among the orders a refresh returned
  to the risk response), e.g. a flag raised during the vehicle's trigger cooldown
  and never raised again; ``flags`` / ``answered`` / ``queued``: orders flagged,
  answered, and flags queued during a cooldown (``risk_flags_queued``); ``rearmed``:
  answered flags cleared when their risk fell halfway to ``late_risk_off``
  (``risk_flags_rearmed``); ``still``: stops alerted as still at risk a cooldown
  after their answer (``risk_flags_still_at_risk``, operators/zone/forecasting.py).

Prints one line per seed and mean (sd) per scenario; ``--json`` writes every figure.
Usage::

    nice -n 10 .venv/bin/python benchmarks/late_risk.py --scenario small,andorra --seeds 1,2,3
    nice -n 10 .venv/bin/python benchmarks/late_risk.py --scenario andorra --seeds 4,5,6,7,8 \
        --json /tmp/late_risk.json
    nice -n 10 .venv/bin/python benchmarks/late_risk.py --seats baseline --seeds 1,2,3
    nice -n 10 .venv/bin/python benchmarks/late_risk.py --late-model 1 --seeds 1,2,3

CI variant: ``--scenario tiny --seeds 3`` (a few seconds).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))   # late_risk_missed, by path

KEYS = ("auc30", "slack_auc30", "auc60", "slack_auc60", "precision", "recall",
        "median_lead_min", "late", "deliveries", "dropped")


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and x == x else None


def run_day(scenario: str, seed: int, seats: str = "learned", collect: Any = None,
            settings_kw: dict | None = None, why_missed: bool = False) -> dict:
    """One closed-loop day; the figures of the module docstring.  ``collect``, if
    given, is called with (zone engines, collector, simulation) before scoring;
    ``why_missed`` adds ``missed`` (each late arrival without an alert and its cause,
    benchmarks/late_risk_missed.py) and ``why`` (their count per cause)."""
    from contextlib import nullcontext

    from fleetstream.operators.zone.forecasting import Forecasting
    from late_risk_missed import Tracer, breakdown, classify, still_level

    from fleetstream.contract.settings import EngineSettings
    from fleetstream.engine import LocalEngine
    from fleetstream.report.metrics import quantile, roc_auc
    from fleetstream.report.scoring import Collector
    from fleetstream.sim.loop import Simulation
    from fleetstream.sim.world import Scenario
    from fleetstream.wiring import build_zone_engine

    settings = EngineSettings(**(settings_kw or {}))
    col = Collector()
    engines: dict[str, Any] = {}
    flagged: set = set()
    answered: set = set()

    def factory(zone: str):
        eng = build_zone_engine(zone, settings, kind=seats)
        eng.observer = col
        engines[zone] = eng
        return eng

    original = Forecasting.refresh

    def refresh(self, v, now, triggers, out):   # which flags are raised, which answered
        got = original(self, v, now, triggers, out)
        orders, zone = self.state.orders, self.state.zone
        for oid, _kind in v.route:
            if orders[oid].late_flag:
                flagged.add((zone, oid))
        answered.update((zone, oid) for oid in got)
        return got

    Forecasting.refresh = refresh
    tracer = Tracer() if why_missed else None
    try:
        sim = Simulation(Scenario.preset(scenario, seed), LocalEngine(settings, zone_factory=factory))
        with tracer if tracer is not None else nullcontext():
            sim.run()
    finally:
        Forecasting.refresh = original
    if collect is not None:
        collect(engines, col, sim)
    truth = {a["order_id"]: a for a in sim.truth_attempts}
    wend: dict[str, float] = {}
    late_of: dict[str, bool] = {}
    marks: dict[str, dict[str, list]] = {m: {"p": [], "s": [], "y": []} for m in ("30", "60")}
    zone_of: dict[str, str] = {}
    for a in col.arrivals:
        t = truth.get(a["order_id"])
        actual = t["arrived_ts"] if t else a["ts"]
        y = actual > a["window_end"]
        late_of[a["order_id"]] = y
        wend[a["order_id"]] = a["window_end"]
        zone_of[a["order_id"]] = a["zone"]
        for mark, ws in a["wsnaps"].items():
            if ws.get("p_late") is None:
                continue
            m = marks["60" if float(mark) >= 3600 else "30"]
            m["p"].append(ws["p_late"])
            m["s"].append(ws["eta"] - a["window_end"])
            m["y"].append(y)
    alerted: dict[str, float] = {}
    for topic, _key, rec in sim.outputs:
        if topic == "fs.alerts" and rec.get("kind") == "late_risk":
            for oid in rec.get("order_ids", ()):
                alerted.setdefault(oid, rec["ts"])
    n_late = sum(late_of.values())
    tp = [oid for oid in alerted if late_of.get(oid)]
    leads = [(wend[oid] - alerted[oid]) / 60.0 for oid in tp]
    dropped = [oid for oid, y in late_of.items()
               if y and (zone_of[oid], oid) in flagged and (zone_of[oid], oid) not in answered]
    stats: dict[str, float] = {}
    for eng in engines.values():
        for k, v in eng.state.stats.items():
            stats[k] = stats.get(k, 0) + v
    r = {"scenario": scenario, "seed": seed, "deliveries": len(late_of), "late": n_late,
         "n30": len(marks["30"]["y"]), "late30": sum(marks["30"]["y"]),
         "n60": len(marks["60"]["y"]), "late60": sum(marks["60"]["y"]),
         "alerted": len(alerted), "true_alerts": len(tp),
         "precision": len(tp) / len(alerted) if alerted else None,
         "recall": len(tp) / n_late if n_late else None,
         "median_lead_min": quantile(leads, 0.5) if leads else None,
         "flags": len(flagged), "answered": len(answered & flagged),
         "queued": int(stats.get("risk_flags_queued", 0)),
         "triggers_in_cooldown": int(stats.get("risk_triggers_in_cooldown", 0)),
         "dropped": len(dropped),
         "rearmed": int(stats.get("risk_flags_rearmed", 0)),
         "still_at_risk": int(stats.get("risk_flags_still_at_risk", 0))}
    for m in ("30", "60"):
        g = marks[m]
        r[f"auc{m}"] = _num(roc_auc(g["p"], g["y"]))
        r[f"slack_auc{m}"] = _num(roc_auc(g["s"], g["y"]))
    r["versions"] = next(iter(engines.values())).seats.versions() if engines else {}
    if tracer is not None:
        tries: dict[str, int] = {}
        for t in sim.truth_attempts:
            tries[t["order_id"]] = tries.get(t["order_id"], 0) + 1
        missed = [{"order_id": oid, "window_end": wend[oid],
                   "arrived": truth[oid]["arrived_ts"] if oid in truth else wend[oid],
                   "attempts": tries.get(oid, 1)}
                  for oid, y in late_of.items() if y and oid not in alerted]
        r["missed"] = classify(tracer, missed, settings.late_risk_on, settings.late_risk_off,
                               settings.trigger_cooldown_s, still_level(settings))
        r["why"] = breakdown(r["missed"])
    return r


def summary(rows: list[dict], key: str) -> tuple[float | None, float | None]:
    v = [r[key] for r in rows if r.get(key) is not None]
    if not v:
        return None, None
    return statistics.fmean(v), (statistics.stdev(v) if len(v) > 1 else 0.0)


def _f(x: Any, nd: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{nd}f}" if isinstance(x, float) else str(x)


def line(r: dict) -> str:
    return (f"{r['scenario']:>8} seed {r['seed']:>3}: AUC30 {_f(r['auc30'])} (slack "
            f"{_f(r['slack_auc30'])}, n {r['n30']}, late {r['late30']})  AUC60 {_f(r['auc60'])} "
            f"(slack {_f(r['slack_auc60'])})  alerts P {_f(r['precision'], 2)} R "
            f"{_f(r['recall'], 2)} lead {_f(r['median_lead_min'], 1)} min  late "
            f"{r['late']}/{r['deliveries']}  dropped {r['dropped']} (flags {r['flags']}, "
            f"queued {r['queued']}, rearmed {r.get('rearmed', 0)}, still {r.get('still_at_risk', 0)})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="small,andorra",
                    help="comma-separated simulated scenarios (tiny, small, metro, disrupted, "
                         "zones8, andorra); default small,andorra")
    ap.add_argument("--seeds", default="1,2,3",
                    help="comma-separated seeds, one closed-loop day each (default 1,2,3)")
    ap.add_argument("--seats", choices=("learned", "baseline"), default="learned",
                    help="which model seats the engine uses (default learned)")
    ap.add_argument("--late-model", type=int, choices=(1, 2, 3), default=None,
                    help="which learned late-risk model (models/risk.py LATE_MODEL): 2 "
                         "(late-logreg-2, the default), 1 (late-logreg-1, the previous "
                         "one, for comparison) or 3 (late-logreg-3: its start's spread "
                         "scales with the square root of the horizon; under measurement)")
    ap.add_argument("--late-risk-on", type=float, default=None,
                    help="engine setting late_risk_on (the late-risk flag threshold; default: "
                         "the setting's default)")
    ap.add_argument("--late-risk-off", type=float, default=None,
                    help="engine setting late_risk_off (the flag clears at or below it)")
    ap.add_argument("--why-missed", action="store_true",
                    help="classify every late arrival that got no late_risk alert by cause "
                         "(never predicted, never flagged, flagged but left unalerted by the "
                         "plan filter / a re-route / a move, queued, a retry, ...; "
                         "benchmarks/late_risk_missed.py) and print the count per cause for "
                         "each seed and scenario; --json adds each missed arrival")
    ap.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    ap.add_argument("--json", default=None, help="also write every figure to this JSON file")
    a = ap.parse_args(argv)
    try:
        seeds = [int(s) for s in a.seeds.split(",") if s.strip()]
    except ValueError:
        print(f"late_risk: --seeds must be integers separated by commas, got {a.seeds!r}",
              file=sys.stderr)
        return 2
    from fleetstream.sim.world import SCENARIOS
    scenarios = [s.strip() for s in a.scenario.split(",") if s.strip()]
    bad = [s for s in scenarios if s not in SCENARIOS]
    if bad or not seeds or not scenarios:
        print(f"late_risk: unknown scenario {bad[0]!r} (one of {', '.join(SCENARIOS)})"
              if bad else "late_risk: give at least one scenario and one seed", file=sys.stderr)
        return 2
    if a.late_model is not None:
        from fleetstream.models import risk
        risk.LATE_MODEL = a.late_model
    kw = {k: v for k, v in (("late_risk_on", a.late_risk_on),
                                ("late_risk_off", a.late_risk_off)) if v is not None}
    out: dict[str, Any] = {"seats": a.seats, "rows": [], "summary": {}}
    for sc in scenarios:
        rows = []
        for seed in seeds:
            t0 = time.perf_counter()
            r = run_day(sc, seed, a.seats, settings_kw=kw, why_missed=a.why_missed)
            rows.append(r)
            print(line(r), flush=True)
            if a.why_missed:
                print(f"{'':>8} missed {len(r['missed'])}: "
                      + ", ".join(f"{k} {n}" for k, n in r["why"].items()), flush=True)
            if not a.quiet:
                print(f"  [{time.perf_counter() - t0:.0f} s]", file=sys.stderr, flush=True)
        summ = {k: summary(rows, k) for k in KEYS}
        beats = sum(1 for r in rows if r["auc30"] is not None and r["slack_auc30"] is not None
                    and r["auc30"] > r["slack_auc30"])
        summ["beats_slack_at_30"] = f"{beats}/{len(rows)}"
        out["rows"] += rows
        out["summary"][sc] = summ
        if a.why_missed:
            why: dict[str, int] = {}
            for r in rows:
                for k, n in r["why"].items():
                    why[k] = why.get(k, 0) + n
            summ["why_missed"] = dict(sorted(why.items(), key=lambda kv: (-kv[1], kv[0])))
            print(f"{sc:>8} missed late arrivals over {len(rows)} seeds, per cause: "
                  + ", ".join(f"{k} {n}" for k, n in summ["why_missed"].items()), flush=True)
        print(f"{sc:>8} mean (sd) over {len(rows)} seeds: "
              + "  ".join(f"{k} {_f(m)} ({_f(s)})" for k, (m, s) in
                          ((k, summ[k]) for k in KEYS))
              + f"  learned > slack at 30 min on {summ['beats_slack_at_30']}", flush=True)
    if a.json:
        import orjson
        with open(a.json, "wb") as f:
            f.write(orjson.dumps(out, option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
