"""``fleetstream plan INSTANCE``: solve a routing instance and check it independently.

INSTANCE is a Solomon VRPTW ``.txt`` file (for example
``../shared/data/solomon/instances/C101.txt``; a bare name such as ``C101`` is
looked up there) or a fleetstream JSON instance (docs/routing.md).  Writes the
routes, vehicles used, distance, cost and the verdict of the independent checker
(``operators/routing/checker.py``) as JSON (``--out``) and a short text summary.

    fleetstream plan C101 --time-limit 5
    fleetstream plan instance.json --out plan.json
"""

from __future__ import annotations

import argparse
import os
import sys

import orjson

from fleetstream.operators.routing.checker import check_plan
from fleetstream.operators.routing.io import SOLOMON_DIR, read_bks, read_instance
from fleetstream.operators.routing.solver import Budget, plan


def _resolve(name: str) -> str:
    if os.path.exists(name):
        return name
    cand = os.path.join(SOLOMON_DIR, "instances", f"{name.upper()}.txt")
    if os.path.exists(cand):
        return cand
    raise FileNotFoundError(f"no instance {name!r} (not a file, not in {SOLOMON_DIR}/instances)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="fleetstream plan", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("instance", help="Solomon .txt, fleetstream .json, or a Solomon name (C101)")
    ap.add_argument("--time-limit", type=float, default=10.0, help="seconds (default 10)")
    ap.add_argument("--solution-limit", type=int, default=0,
                    help="stop after N solutions instead (deterministic; time limit still guards)")
    ap.add_argument("--first-solution", default="savings")
    ap.add_argument("--convention", default="cvrplib", choices=["cvrplib", "exact"],
                    help="Solomon distances: truncated to 0.1 (CVRPLIB) or exact doubles "
                    "(then vehicles first, then distance)")
    ap.add_argument("--out", help="write routes and the check as JSON here")
    ap.add_argument("-q", "--quiet", action="store_true")
    a = ap.parse_args(argv)
    path = _resolve(a.instance)
    p = read_instance(path, a.convention)
    solomon = not path.endswith(".json")
    # With --solution-limit the result is bounded by solutions (deterministic) and
    # --time-limit is only the wall-clock guard, whose hit is reported.
    budget = Budget(time_limit_s=a.time_limit, solution_limit=a.solution_limit or 1,
                    deterministic=bool(a.solution_limit), first_solution=a.first_solution,
                    guard_s=a.time_limit)
    res = plan(p, budget, scale=10.0 if solomon and a.convention == "cvrplib" else
               (100.0 if solomon else 1.0))
    rep = check_plan(p, res.routes, [u.job_id for u in res.unassigned])
    out = {"instance": os.path.basename(path), "status": res.status,
           "vehicles_used": rep.vehicles_used, "distance": round(rep.distance, 3),
           "cost": round(rep.cost, 2), "stops_spread": rep.stops_spread,
           "hours_spread": round(rep.hours_spread, 2), "seconds": res.stats.get("seconds"),
           "routes": {vid: [s[0] if solomon else list(s) for s in stops]
                      for vid, stops in res.routes.items() if stops},
           "unassigned": [u.as_dict() for u in res.unassigned],
           "check": rep.summary()}
    name = os.path.splitext(os.path.basename(path))[0].upper()
    if solomon:
        bks_file = os.path.join(SOLOMON_DIR, "bks_solomon_cvrplib.csv")
        if os.path.exists(bks_file) and a.convention == "cvrplib":
            b = read_bks(bks_file).get(name)
            if b:
                out["bks"] = {"distance": b["distance"], "vehicles": b["vehicles"],
                              "gap_pct": round(100 * (rep.distance / b["distance"] - 1), 2)}
    if a.out:
        with open(a.out, "wb") as f:
            f.write(orjson.dumps(out, option=orjson.OPT_INDENT_2))
    if not a.quiet:
        for vid, stops in out["routes"].items():
            print(f"{vid}: {' '.join(map(str, stops if solomon else [s[0] + (':pickup' if s[1] == 'pickup' else '') for s in stops]))}")
        cost = f"cost {rep.cost:.2f}, " if p.objective == "cost" else ""
        line = (f"{out['instance']}: {rep.vehicles_used} vehicles, distance {rep.distance:.1f}, "
                f"{cost}{len(res.unassigned)} unassigned, "
                f"independent check: {'feasible' if rep.feasible else 'INFEASIBLE'}")
        if "bks" in out:
            line += f", gap to best known {out['bks']['gap_pct']:+.2f} %"
        print(line)
        for v in rep.violations[:10]:
            print(f"  violation {v.constraint}: {v.text}")
        for u in res.unassigned[:10]:
            print(f"  unassigned {u.job_id}: " + ", ".join(
                f"{r['constraint']} ({r['vehicles']} vehicles)" for r in u.reasons))
    return 0 if rep.feasible else 1


if __name__ == "__main__":
    sys.exit(main())
