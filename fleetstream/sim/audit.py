"""Audit of a closed-loop day: did every order end, and was every unserved customer told?

Reads only what the loop saw: the engine's output records (``Simulation.outputs``) and
the world's own truth (orders, attempts).  Used by tests/operators/test_recovery_day.py
and by the measurement in docs/routing.md, "Recovery of work".

- ``terminal``: outcome records per order with a terminal outcome (delivered, failed,
  cancelled, expired, not_served); every order must have exactly one;
- ``silent``: orders with none (the customer never learned how it ended);
- ``untold``: orders whose terminal outcome is not delivered or cancelled and whose
  customer got no ``order_not_served`` message;
- ``retryable_failed``: orders with a failed attempt for a retryable reason (the world's
  truth: not home or no access), of which ``re_attempted`` got another attempt and
  ``explained`` ended with an outcome and an order_not_served message;
- ``delivered_on_time``: orders delivered with their last arrival inside the window
  (the world's truth).
"""

from __future__ import annotations

from typing import Any

TERMINAL = ("delivered", "failed", "cancelled", "expired", "not_served")


def audit(sim: Any) -> dict:
    """Counts (and a few example order ids) for one closed-loop day."""
    outcomes: dict[str, list[str]] = {}
    told: set[str] = set()
    for topic, _key, rec in sim.outputs:
        if topic == "fs.outcomes" and rec.get("outcome") in TERMINAL:
            outcomes.setdefault(rec["order_id"], []).append(rec["outcome"])
        elif topic == "fs.notifications" and rec.get("kind") == "order_not_served":
            told.add(rec["order_id"])
    attempts: dict[str, list[dict]] = {}
    for a in sim.truth_attempts:
        attempts.setdefault(a["order_id"], []).append(a)
    ids = [o.id for o in sim.world.orders]
    silent = [oid for oid in ids if oid not in outcomes]
    double = [oid for oid in ids if len(outcomes.get(oid, ())) > 1]
    untold = [oid for oid in ids if outcomes.get(oid) and outcomes[oid][-1] not in
              ("delivered", "cancelled") and oid not in told]
    retryable = [oid for oid in ids
                 if any(not (a["home"] and a["access_ok"]) for a in attempts.get(oid, ()))]
    re_attempted = [oid for oid in retryable if len(attempts[oid]) > 1]
    explained = [oid for oid in retryable if oid not in re_attempted
                 and outcomes.get(oid) and oid in told]
    finals: dict[str, int] = {}
    for oid in ids:
        for x in outcomes.get(oid, ()):
            finals[x] = finals.get(x, 0) + 1
    return {
        "orders": len(ids), "outcomes": finals,
        "silent": len(silent), "multiple_terminal": len(double), "untold": len(untold),
        "retryable_failed": len(retryable), "re_attempted": len(re_attempted),
        "re_attempted_delivered": sum(1 for oid in re_attempted
                                      if outcomes.get(oid, [""])[-1] == "delivered"),
        "explained": len(explained),
        "neither": len(retryable) - len(re_attempted) - len(explained),
        "handed_over": sum(1 for o in sim.world.orders if getattr(o, "handovers", 0)),
        "delivered_on_time": sum(1 for t in sim.truth_orders()
                                 if t["outcome"] == "delivered" and t["on_time"]),
        "examples": {"silent": silent[:5], "untold": untold[:5], "double": double[:5]},
    }


def day(scenario: str, seed: int, breakdowns: int | None = None) -> dict:
    """Simulate one closed-loop day and audit it: the world's KPIs and :func:`audit`."""
    from fleetstream.engine import LocalEngine
    from fleetstream.sim.loop import Simulation
    from fleetstream.sim.world import Scenario
    sc = Scenario.preset(scenario, seed)
    if breakdowns is not None:
        sc = Scenario(**{**sc.__dict__, "breakdowns": breakdowns})
    sim = Simulation(sc, LocalEngine())
    sim.run()
    return {"scenario": scenario, "seed": seed, "breakdowns": sc.breakdowns,
            "kpis": sim.kpis(), "audit": audit(sim)}


def main(argv: list[str] | None = None) -> int:
    """``python -m fleetstream.sim.audit SCENARIO --seeds 101,102,103 [--breakdowns N]``:
    one JSON line per seed, then mean and standard deviation of the main figures."""
    import argparse
    import statistics

    import orjson

    p = argparse.ArgumentParser(prog="python -m fleetstream.sim.audit",
                                description="Audit closed-loop days: terminal outcomes, "
                                "customers told, failed attempts re-attempted or explained, "
                                "hand-overs (docs/routing.md, 'Recovery of work').")
    p.add_argument("scenario", help="scenario name (fleetstream simulate --scenario)")
    p.add_argument("--seeds", default="101,102,103", help="comma-separated seeds")
    p.add_argument("--breakdowns", type=int, default=None,
                   help="override the scenario's number of breakdowns")
    a = p.parse_args(argv)
    rows = []
    for s in (int(x) for x in a.seeds.split(",")):
        r = day(a.scenario, s, a.breakdowns)
        rows.append(r)
        print(orjson.dumps(r).decode(), flush=True)
    figs = {"on_time_rate": lambda r: r["kpis"]["on_time_rate"],
            "delivered": lambda r: r["kpis"]["delivered"],
            "delivered_on_time": lambda r: r["audit"]["delivered_on_time"],
            "km": lambda r: r["kpis"]["km"], "silent": lambda r: r["audit"]["silent"],
            "untold": lambda r: r["audit"]["untold"],
            "retryable_failed": lambda r: r["audit"]["retryable_failed"],
            "re_attempted": lambda r: r["audit"]["re_attempted"],
            "explained": lambda r: r["audit"]["explained"],
            "handed_over": lambda r: r["audit"]["handed_over"]}
    summary = {}
    for k, f in figs.items():
        xs = [f(r) for r in rows]
        summary[k] = {"mean": round(statistics.fmean(xs), 4),
                      "sd": round(statistics.stdev(xs), 4) if len(xs) > 1 else 0.0,
                      "per_seed": xs}
    print(orjson.dumps({"summary": summary}).decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
