"""Arrival intervals: what made a prediction's error, split by what happened to its
vehicle's plan between the prediction and the arrival (``benchmarks/intervals.py
--decompose``): ``held`` (exactly the planned stops, in order), ``inserted``,
``removed``, ``resequenced``, ``mixed``, ``reassigned``; for plans that held, the
error split into first leg, later legs, time at stops and waiting."""

from __future__ import annotations

import bisect
import gzip
import os
import statistics

import orjson

from fleetstream.report.scorecard import HORIZONS, horizon_key

CATS = ("held", "inserted", "removed", "resequenced", "mixed", "reassigned")


def _q(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = p * (len(xs) - 1)
    i = int(k)
    if i + 1 >= len(xs):
        return xs[-1]
    return xs[i] + (xs[i + 1] - xs[i]) * (k - i)


def _capture_plans() -> None:
    """Analysis only: make each new prediction snapshot carry the vehicle and its planned
    stops ahead (``_plan``), so the decomposition can tell whether the plan held."""
    from fleetstream.operators.state import DELIVERY
    from fleetstream.operators.zone import forecasting as F
    if getattr(F.Forecasting.refresh, "_captures", False):
        return
    orig = F.Forecasting.refresh

    def refresh(self, v, now, triggers, out):   # type: ignore[no-untyped-def]
        orders = self.state.orders
        before = {oid: len(orders[oid].snaps) for oid, _k in v.route if oid in orders}
        dx = getattr(self.seats.eta, "dwell_extra_s", None)
        dwell = dx() if dx else 0.0
        res = orig(self, v, now, triggers, out)
        for i, (oid, kind) in enumerate(v.route):
            o = orders[oid]
            if kind == DELIVERY and len(o.snaps) > before.get(oid, 0):
                plan = []
                for j in range(i + 1):
                    q, kj = orders[v.route[j][0]], v.route[j][1]
                    w0, svc = ((q.window_start, q.service_s) if kj == DELIVERY
                               else (q.created_ts, q.pickup_service_s))
                    plan.append((q.id, kj, v.etas[j], w0, svc))
                behind = [q for q, _k in v.route[i + 1:]]
                o.snaps[-1]["_plan"] = {"vid": v.id, "plan": plan, "dwell": dwell,
                                        "behind": behind}
        return res

    refresh._captures = True  # type: ignore[attr-defined]
    F.Forecasting.refresh = refresh


def decompose(replay: str, col) -> list[dict]:   # type: ignore[no-untyped-def]
    """One row per scored snapshot: horizon bucket, error (s), plan category, and for
    plans that held the error components (s)."""
    with gzip.open(os.path.join(replay, "truth", "legs.jsonl.gz"), "rb") as f:
        legs = [orjson.loads(x) for x in f if x.strip()]
    byv: dict[str, list] = {}
    for lg in legs:
        byv.setdefault(lg["vehicle_id"], []).append(lg)
    for vl in byv.values():
        vl.sort(key=lambda lg: lg["arrive_ts"])
    who = {lg["order_id"]: lg["vehicle_id"] for lg in legs if lg["stop"] == "delivery"}
    rows = []
    for a in col.arrivals:
        actual = a["ts"]
        for s in a["snaps"]:
            an = s.get("_plan")
            if an is None:
                continue
            r = {"h": horizon_key(s["xi"]["horizon_s"]), "e": actual - s["eta"]}
            vid = an["vid"]
            if who.get(a["order_id"]) != vid:
                r["cat"] = "reassigned"
                rows.append(r)
                continue
            vl = byv[vid]
            ts_ = [lg["arrive_ts"] for lg in vl]
            made_legs = vl[bisect.bisect_right(ts_, s["ts"]):bisect.bisect_right(ts_, actual + 1e-3)]
            made = [(lg["order_id"], lg["stop"]) for lg in made_legs]
            planned = [(p[0], p[1]) for p in an["plan"]]
            if made == planned:
                r["cat"] = "held"
                r.update(_components(s["ts"], an["plan"], made_legs, an["dwell"]))
            elif set(planned) < set(made):
                r["cat"] = "inserted"
                extra = {q for q, _k in set(made) - set(planned)}
                behind = set(an.get("behind", ()))
                r["ins"] = ("behind" if extra <= behind else
                            "other" if not extra & behind else "both")
            elif set(made) < set(planned):
                r["cat"] = "removed"
            elif set(made) == set(planned):
                r["cat"] = "resequenced"
            else:
                r["cat"] = "mixed"
            rows.append(r)
    return rows


def _components(ts: float, plan: list, made: list, dwell: float) -> dict:
    """Error of a held plan = first leg + later legs + service + waiting (s)."""
    leg0 = made[0]["arrive_ts"] - plan[0][2]
    later = wait = svc = 0.0
    for j in range(1, len(plan)):
        pa, w0, sv = plan[j - 1][2], plan[j - 1][3], plan[j - 1][4]
        pdep = max(pa, w0) + sv + dwell
        later += (made[j]["arrive_ts"] - made[j]["depart_ts"]) - (plan[j][2] - pdep)
        ta = made[j - 1]["arrive_ts"]
        tw, pw = max(0.0, w0 - ta), max(0.0, w0 - pa)
        wait += tw - pw
        svc += (made[j]["depart_ts"] - ta - tw) - (pdep - pa - pw)
    return {"leg0": leg0, "legs": later, "svc": svc, "wait": wait}


def print_decomposition(rows: list[dict]) -> None:
    print("\nerror by plan outcome (min; all seeds pooled): n, share, q2.5 q50 q97.5")
    for hk in HORIZONS:
        rs = [r for r in rows if r["h"] == hk]
        if not rs:
            continue
        es = [r["e"] / 60 for r in rs]
        print(f"  {hk:<9} all        n {len(rs):5d}        {_q(es, .025):7.1f} {_q(es, .5):6.1f} "
              f"{_q(es, .975):7.1f}")
        for cat in CATS:
            sub = [r["e"] / 60 for r in rs if r["cat"] == cat]
            if sub:
                print(f"  {'':<9} {cat:<10} n {len(sub):5d} {len(sub) / len(rs):5.2f} "
                      f"{_q(sub, .025):7.1f} {_q(sub, .5):6.1f} {_q(sub, .975):7.1f}")
        ins = [r["ins"] for r in rs if r.get("ins")]
        if ins:
            print(f"  {'':<9} inserted: stops that were behind it on the same route "
                  f"{ins.count('behind') / len(ins):.2f}, stops new to the route "
                  f"{ins.count('other') / len(ins):.2f}, both {ins.count('both') / len(ins):.2f}")
        held = [r for r in rs if r["cat"] == "held"]
        if held:
            parts = []
            for comp in ("leg0", "legs", "svc", "wait"):
                xs = [r[comp] / 60 for r in held]
                parts.append(f"{comp} sd {statistics.pstdev(xs):.1f} [{_q(xs, .025):.1f}, {_q(xs, .975):.1f}]")
            print(f"  {'':<9} held parts: " + "; ".join(parts))
