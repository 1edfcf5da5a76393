"""Hard-access stops to drivers who know them: does the price change outcomes?

For each seed, ``--days`` consecutive weekdays of one world with drivers who know
hard doors (``Scenario.driver_knowledge``: at an address with access instructions a
driver who delivered there before fails for access 0.15 times as often and finds
the entrance at once; fleetstream/sim/availability.py).  The simulated world
remembers who delivered where from one day to the next, and so does the engine: its
customer records (who delivered at each door, operators/knowledge.py) are carried
over, as an engine that runs on would keep them.  The engine runs the ``predictive``
policy (its settings, fleetstream/policies.py) with ``engine.access_knowledge_price``
set to each of ``--prices`` (0: off); every price faces the same world (common random
numbers at the doors).

The engine keeps its failure-risk seat from day to day too.  Per seed and price, days
1..N-1 pooled (day 0: nobody's knowledge is on record yet): attempts at hard-access
doors and the share made by a driver who knew the door, access failures (someone was
in, the door did not open), all failed attempts, the on-time rate, km, and the
failure-risk seat's AUC (each attempt's last snapshot scored before its outcome is
learnt, as benchmarks/failure_risk.py).  Then per price, the difference to price 0: mean, sd and per
seed.  Usage::

    .venv/bin/python benchmarks/access_knowledge.py --scenario andorra --seeds 1,2,3,4,5 \\
        --days 4 --prices 0,10,30 --contact-reply 0.6 --json out.json

Runs one process per seed (``--jobs``, default 2).  Progress on stderr.
"""

from __future__ import annotations

import argparse
import copy
import multiprocessing
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

import orjson


def run_days(scenario: str, seed: int, days: int, price: float,
             contact_reply: float) -> dict:
    """``days`` consecutive days of one world at one price: per day figures."""
    from fleetstream.contract.settings import EngineSettings
    from fleetstream.engine import LocalEngine
    from fleetstream.models.risk import RiverRisk
    from fleetstream.operators.zone.engine import BalancedORToolsStrategy
    from fleetstream.policies import policy_routing, policy_settings
    from fleetstream.sim.loop import Simulation
    from fleetstream.sim.world import Scenario
    from fleetstream.wiring import build_zone_engine

    es = policy_settings("predictive", replace(EngineSettings(), access_knowledge_price=price))
    routing = policy_routing("predictive", es)
    carry: dict = {}
    known: set = set()
    per_day = []
    for day in range(days):
        engines: dict = {}
        traces: dict = {}
        last: list = []

        def factory(zone: str, _engines=engines):
            eng = build_zone_engine(zone, es, kind="learned")
            eng.strategy = BalancedORToolsStrategy(routing)
            if zone in carry:
                snap, customers = carry[zone]
                eng.seats.failure_risk = RiverRisk.restore(snap)
                eng.state.customers.update(copy.deepcopy(customers))
            seat = eng.seats.failure_risk
            seat.trace = traces.setdefault(zone, [])
            learn = eng.forecasting.learn_outcome

            def learn_outcome(o, failed, _learn=learn, _seat=seat, _zone=zone):
                if o.snaps:   # the last snapshot's prediction, before anything is learnt
                    last.append((_seat.predict_proba(o.snaps[-1]["xr"]), bool(failed)))
                _learn(o, failed)
            eng.forecasting.learn_outcome = learn_outcome
            _engines[zone] = eng
            return eng

        sc = replace(Scenario.preset(scenario, seed), day=day, driver_knowledge=True,
                     contact_reply=contact_reply)
        sim = Simulation(sc, LocalEngine(es, zone_factory=factory))
        sim.known_access |= known
        sim.run()
        k = sim.kpis()
        known = set(sim.known_access)
        for z, eng in engines.items():   # what an engine that runs on keeps
            seat = eng.seats.failure_risk
            seat.trace = None
            carry[z] = (seat.snapshot(), copy.deepcopy(eng.state.customers))
        att = sim.truth_attempts
        hard = [a for a in att if "driver_knew" in a]
        stats: dict = {}
        for eng in engines.values():
            for key, n in eng.state.stats.items():
                if key.startswith("knowledge_"):
                    stats[key] = stats.get(key, 0) + n
        per_day.append({
            "day": day, "on_time_rate": k["on_time_rate"], "km": k["km"],
            "failed_attempts": k["failed_attempts"], "attempts": len(att),
            "access_failures": sum(1 for a in att if a["home"] and not a["access_ok"]),
            "hard_attempts": len(hard), "hard_knew": sum(1 for a in hard if a["driver_knew"]),
            "hard_access_failures": sum(1 for a in hard if a["home"] and not a["access_ok"]),
            "failure_auc": roc_auc([p for p, _ in last], [y for _, y in last]),
            "_pairs": last, **stats})
    return {"seed": seed, "price": price, "days": per_day}


def roc_auc(scores: list[float], labels: list[bool]) -> float:
    """ROC-AUC (ties count half), nan without both classes (benchmarks/failure_risk.py)."""
    from failure_risk import roc_auc as auc
    return auc(scores, labels)


def warm(r: dict) -> dict:
    """Days 1..N-1 of one run pooled (rates over the days' deliveries)."""
    ds = r["days"][1:] or r["days"]
    tot = {k: sum(d.get(k, 0) for d in ds) for k in
           ("km", "failed_attempts", "attempts", "access_failures", "hard_attempts",
            "hard_knew", "hard_access_failures", "knowledge_plan_moves",
            "knowledge_insertions")}
    tot["on_time_rate"] = statistics.fmean(d["on_time_rate"] for d in ds)
    pairs = [p for d in ds for p in d.get("_pairs", ())]
    tot["failure_auc"] = (roc_auc([p for p, _ in pairs], [y for _, y in pairs]) if pairs
                          else statistics.fmean(d["failure_auc"] for d in ds))
    tot["knew_share"] = tot["hard_knew"] / max(1, tot["hard_attempts"])
    return tot


def _job(a: tuple) -> dict:
    from fleetstream.operators.jobs import shutdown_pool
    try:
        return run_days(*a)
    finally:
        shutdown_pool()   # the engine's solver pool, so that this worker can exit


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="andorra", help="scenario preset (default andorra)")
    ap.add_argument("--seeds", default="1,2,3,4,5", help="comma-separated seeds (default 1-5)")
    ap.add_argument("--days", type=int, default=4, help="consecutive days per seed (>= 2; default 4)")
    ap.add_argument("--prices", default="0,30",
                    help="engine.access_knowledge_price values, comma-separated; 0 is the "
                         "baseline and is added when missing (default 0,30)")
    ap.add_argument("--contact-reply", type=float, default=0.6,
                    help="share of contacted customers who reply (default 0.6)")
    ap.add_argument("--jobs", type=int, default=2, help="processes (default 2)")
    ap.add_argument("--json", help="write per seed, per price and the summary here")
    a = ap.parse_args(argv)
    try:
        seeds = [int(s) for s in a.seeds.split(",") if s.strip()]
        prices = sorted({0.0, *(float(p) for p in a.prices.split(",") if p.strip())})
    except ValueError as e:
        print(f"access_knowledge: bad --seeds or --prices: {e}", file=sys.stderr)
        return 2
    if a.days < 2 or not seeds or any(p < 0 for p in prices):
        print("access_knowledge: needs --days >= 2, at least one seed, prices >= 0",
              file=sys.stderr)
        return 2
    work = [(a.scenario, s, a.days, p, a.contact_reply) for s in seeds for p in prices]
    t0 = time.perf_counter()
    runs: dict = {}
    ctx = multiprocessing.get_context("spawn")   # the engine's solver pool forks its own
    with ProcessPoolExecutor(max_workers=max(1, a.jobs), mp_context=ctx) as ex:
        for i, r in enumerate(ex.map(_job, work)):
            runs[(r["seed"], r["price"])] = r
            w = warm(r)
            print(f"  [{i + 1}/{len(work)}] seed {r['seed']} price {r['price']:g}: hard "
                  f"attempts {w['hard_attempts']} (knew {w['knew_share']:.0%})  access "
                  f"failures {w['access_failures']} (hard {w['hard_access_failures']})  failed {w['failed_attempts']}  on time "
                  f"{w['on_time_rate']:.2%}  km {w['km']:,.0f}  failure AUC "
                  f"{w['failure_auc']:.3f}  "
                  f"[{time.perf_counter() - t0:.0f} s]", file=sys.stderr, flush=True)
    summary = {}
    for p in prices:
        if p == 0.0:
            continue
        rows = []
        for s in seeds:
            b, x = warm(runs[(s, 0.0)]), warm(runs[(s, p)])
            rows.append({
                "seed": s,
                "knew_share": (b["knew_share"], x["knew_share"]),
                "access_failures_pct": 100.0 * (x["access_failures"] - b["access_failures"])
                / max(1, b["access_failures"]),
                "hard_access_failures_pct": 100.0 * (x["hard_access_failures"]
                                                     - b["hard_access_failures"])
                / max(1, b["hard_access_failures"]),
                "failed_attempts_pct": 100.0 * (x["failed_attempts"] - b["failed_attempts"])
                / max(1, b["failed_attempts"]),
                "on_time_points": 100.0 * (x["on_time_rate"] - b["on_time_rate"]),
                "km_pct": 100.0 * (x["km"] - b["km"]) / max(1e-9, b["km"]),
                "failure_auc": (b["failure_auc"], x["failure_auc"])})
        agg = {}
        for key in ("access_failures_pct", "hard_access_failures_pct", "failed_attempts_pct",
                    "on_time_points", "km_pct"):
            vals = [r[key] for r in rows]
            agg[key] = {"mean": round(statistics.fmean(vals), 2),
                        "sd": round(statistics.stdev(vals), 2) if len(vals) > 1 else 0.0,
                        "per_seed": [round(v, 2) for v in vals]}
        agg["knew_share"] = {"off": round(statistics.fmean(r["knew_share"][0] for r in rows), 3),
                             "on": round(statistics.fmean(r["knew_share"][1] for r in rows), 3)}
        agg["failure_auc"] = {"off": [round(r["failure_auc"][0], 4) for r in rows],
                              "on": [round(r["failure_auc"][1], 4) for r in rows]}
        summary[f"{p:g}"] = agg
        print(f"price {p:g} vs 0 ({len(seeds)} seeds, days 1-{a.days - 1}): hard attempts by a "
              f"knowing driver {agg['knew_share']['off']:.0%} -> {agg['knew_share']['on']:.0%}; "
              f"access failures {agg['access_failures_pct']['mean']:+.1f} % (sd "
              f"{agg['access_failures_pct']['sd']:.1f}; at hard doors "
              f"{agg['hard_access_failures_pct']['mean']:+.1f} %); failed attempts "
              f"{agg['failed_attempts_pct']['mean']:+.1f} %; on time "
              f"{agg['on_time_points']['mean']:+.2f} points (sd {agg['on_time_points']['sd']:.2f}); "
              f"km {agg['km_pct']['mean']:+.2f} % (sd {agg['km_pct']['sd']:.2f})")
        print(f"    failure-risk AUC (days 1-{a.days - 1} pooled, per seed): price 0 "
              + " ".join(f"{v:.3f}" for v in agg["failure_auc"]["off"]) + f"; price {p:g} "
              + " ".join(f"{v:.3f}" for v in agg["failure_auc"]["on"]))
        for key in ("access_failures_pct", "hard_access_failures_pct", "failed_attempts_pct",
                    "on_time_points", "km_pct"):
            print(f"    {key:<22} " + " ".join(f"{v:+.1f}" for v in agg[key]["per_seed"]))
    for r in runs.values():
        for d in r["days"]:
            d.pop("_pairs", None)
    if a.json:
        with open(a.json, "wb") as f:
            f.write(orjson.dumps({"args": vars(a), "runs": [runs[k] for k in sorted(runs)],
                                  "summary": summary}, option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
