"""``fleetstream plan INSTANCE``: solve a routing instance and check it independently.

INSTANCE is a Solomon or Gehring-Homberger VRPTW ``.txt`` file (for example
``../shared/data/solomon/instances/C101.txt``; a bare name such as ``C101`` is
looked up there) or a fleetstream JSON instance (docs/routing.md).  Writes the
routes, vehicles used, distance, cost and the verdict of the independent checker
(``operators/routing/checker.py``) as JSON (``--out``) and a short text summary.

The backend is chosen per instance by the documented rule (``--backend auto``):
PyVRP when it expresses the instance exactly, OR-Tools otherwise (breaks, soft
windows, fairness, cost per stop).  PyVRP is bounded by ``--iterations`` (with
``--seed``): the same plan on any machine.  A customer no vehicle can reach is left
out with its reason and the rest is planned.

Exit codes:
  0  every customer served, the independent check passes;
  2  bad input: no such file, an empty or non-Solomon file, a malformed row (its
     line number is printed), invalid JSON, a bad option;
  3  infeasible: some mandatory customers are left out (each printed with its
     reason) or the check finds a violation;
  1  an unexpected error (a bug: rerun with FLEETSTREAM_DEBUG=1 and report the
     traceback).

    fleetstream plan C101
    fleetstream plan R205 --backend ortools --time-limit 5
    fleetstream plan instance.json --out plan.json
"""

from __future__ import annotations

import argparse
import os
import sys

import click
import orjson

from fleetstream import cli

from fleetstream.operators.routing.checker import check_plan
from fleetstream.operators.routing.constraints import C_MISSING
from fleetstream.operators.routing.io import SOLOMON_DIR, InstanceError, read_bks, read_instance
from fleetstream.operators.routing.solver import BACKENDS, Budget, plan

EXIT_OK, EXIT_BAD_INPUT, EXIT_INFEASIBLE = 0, 2, 3


def _resolve(name: str) -> str:
    if os.path.exists(name):
        if os.path.isdir(name):
            raise InstanceError(f"{name}: is a directory, not an instance file")
        return name
    cand = os.path.join(SOLOMON_DIR, "instances", f"{name.upper()}.txt")
    if os.path.exists(cand):
        return cand
    raise InstanceError(f"no instance {name!r} (not a file, not in {SOLOMON_DIR}/instances)")


def _check_options(a: argparse.Namespace) -> None:
    """Bad options, before any solving: one line naming the flag (exit 2)."""
    from fleetstream.preflight import check_number
    from fleetstream.run_dirs import OperatorError
    check_number("--iterations", a.iterations, minimum=1)
    check_number("--guard", a.guard, positive=True)
    check_number("--time-limit", a.time_limit, positive=True)
    check_number("--solution-limit", a.solution_limit, minimum=0)
    if a.out:
        parent = os.path.dirname(os.path.abspath(a.out))
        if os.path.isdir(a.out):
            raise OperatorError(f"--out {a.out}: is a folder, not a file name")
        if not os.path.isdir(parent) or not os.access(parent, os.W_OK):
            raise OperatorError(f"--out {a.out}: cannot write there ({parent} is not a "
                                "writable folder)")


@click.command("plan", cls=cli.Command, help=cli.help_text(__doc__), context_settings=cli.CONTEXT)
@click.argument("instance", cls=cli.Arg,
                help="Solomon/Gehring-Homberger .txt, fleetstream .json, or a Solomon name (C101)")
@click.option("--backend", type=click.Choice(BACKENDS), default="auto",
              help="auto: PyVRP where it expresses the instance exactly, else OR-Tools; "
              "pyvrp; ortools")
@click.option("--iterations", type=int, default=12_000, metavar="N", help="PyVRP iterations")
@click.option("--seed", type=int, default=0, metavar="N", help="PyVRP seed")
@click.option("--guard", type=float, default=600.0, metavar="S",
              help="wall-clock guard of a PyVRP solve, seconds (reported when hit)")
@click.option("--time-limit", type=float, default=10.0, metavar="S", help="OR-Tools seconds")
@click.option("--solution-limit", type=int, default=0, metavar="N",
              help="OR-Tools: stop after N solutions instead (deterministic; the time limit "
              "guards); 0: off")
@click.option("--first-solution", default="savings", metavar="NAME",
              help="OR-Tools first-solution strategy (savings, path_cheapest_arc, ...)")
@click.option("--convention", type=click.Choice(["cvrplib", "exact"]), default="cvrplib",
              help="Solomon distances: truncated to 0.1 (CVRPLIB) or exact doubles (then "
              "vehicles first, then distance)")
@click.option("--out", metavar="FILE", default=None, show_default="not written",
              help="write routes and the check as JSON here")
@click.option("-q", "--quiet", is_flag=True, help="no routes and summary on stdout")
def command(**kw) -> int:
    return _plan(argparse.Namespace(**kw))


def main(argv: list[str] | None = None) -> int:
    return cli.run(command, argv, "fleetstream plan", guarded=True, usage_exits=True)


def _plan(a: argparse.Namespace) -> int:
    try:
        _check_options(a)
        path = _resolve(a.instance)
        p = read_instance(path, a.convention)
        budget = Budget(time_limit_s=a.time_limit, solution_limit=a.solution_limit or 1,
                        deterministic=bool(a.solution_limit), first_solution=a.first_solution,
                        guard_s=a.guard if a.backend != "ortools" and not a.solution_limit else a.time_limit,
                        iterations=a.iterations, seed=a.seed)
    except (InstanceError, OSError, UnicodeDecodeError) as e:
        print(f"fleetstream plan: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ValueError as e:  # a budget or instance value out of range
        print(f"fleetstream plan: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    solomon = not path.endswith(".json")
    try:
        res = plan(p, budget, scale=10.0 if solomon and a.convention == "cvrplib" else
                   (100.0 if solomon else 1.0), backend=a.backend)
    except ValueError as e:  # --backend pyvrp on an instance it cannot express
        print(f"fleetstream plan: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    rep = check_plan(p, res.routes, [u.job_id for u in res.unassigned])
    left_out = [v.job_id for v in rep.violations if v.constraint == C_MISSING]
    route_bad = [v for v in rep.violations if v.constraint != C_MISSING]
    code = EXIT_OK if rep.feasible else EXIT_INFEASIBLE
    out = {"instance": os.path.basename(path), "status": res.status, "backend": res.stats.get("backend"),
           "backend_reasons": res.stats.get("backend_reasons", []), "vehicles_used": rep.vehicles_used,
           "distance": round(rep.distance, 3), "cost": round(rep.cost, 2), "stops_spread": rep.stops_spread,
           "hours_spread": round(rep.hours_spread, 2), "seconds": res.stats.get("seconds"),
           "iterations_or_solutions": res.stats.get("solutions"), "guard_hit": res.stats.get("guard_hit"),
           "routes": {vid: [s[0] if solomon else list(s) for s in stops]
                      for vid, stops in res.routes.items() if stops},
           "unassigned": [u.as_dict() for u in res.unassigned],
           "left_out_mandatory": left_out, "check": rep.summary(), "exit_code": code}
    name = os.path.splitext(os.path.basename(path))[0].upper()
    if solomon:
        bks_file = os.path.join(SOLOMON_DIR, "bks_solomon_cvrplib.csv")
        if os.path.exists(bks_file) and a.convention == "cvrplib":
            b = read_bks(bks_file).get(name)
            if b and not left_out:
                out["bks"] = {"distance": b["distance"], "vehicles": b["vehicles"],
                              "gap_pct": round(100 * (rep.distance / b["distance"] - 1), 2)}
    if a.out:
        with open(a.out, "wb") as f:
            f.write(orjson.dumps(out, option=orjson.OPT_INDENT_2))
    if not a.quiet:
        for vid, stops in out["routes"].items():
            names = stops if solomon else [s[0] + (":pickup" if s[1] == "pickup" else "") for s in stops]
            print(f"{vid}: {' '.join(map(str, names))}")
        cost = f"cost {rep.cost:.2f}, " if p.objective == "cost" else ""
        verdict = ("feasible" if rep.feasible else
                   "routes feasible, " + f"{len(left_out)} mandatory customer(s) left out" if not route_bad
                   else "INFEASIBLE")
        line = (f"{out['instance']}: {out['backend']}, {rep.vehicles_used} vehicles, distance {rep.distance:.1f}, "
                f"{cost}{len(res.unassigned)} unassigned, independent check: {verdict}")
        if "bks" in out:
            line += f", gap to best known {out['bks']['gap_pct']:+.2f} %"
        if res.stats.get("guard_hit"):
            line += " (wall-clock guard hit: the search was cut)"
        print(line)
        for v in route_bad[:10]:
            print(f"  violation {v.constraint}: {v.text}")
        for u in res.unassigned[:10]:
            print(f"  unassigned {u.job_id}: " + "; ".join(
                f"{r['constraint']} ({r['vehicles']} vehicles{': ' + r['text'] if r.get('text') else ''})"
                for r in u.reasons))
    return code


if __name__ == "__main__":
    sys.exit(main())
