"""The ``fleetstream`` command.

Subcommands (``fleetstream <cmd> --help`` for each):

  replay     run the engine over a recorded replay folder, write one file per topic
  simulate   run a simulated day in closed loop with the engine and record it
  evaluate   score the engine's models against a replay's ground truth
  plan       solve a routing instance (Solomon or fleetstream JSON) and check it
  schemas    write or check docs/schemas/*.json and docs/topics.md
  models     export or inspect model snapshots
  run        live: consume Kafka, publish decisions, keep the Redis read model
  topics     create the Kafka topics
  publish    produce a replay folder into the Kafka input topics
  record     capture the Kafka input topics into a replay folder
  customers  load a replay folder's customer profiles into the Redis context store
  console    the operations console in a browser: map, alerts, approvals (replay or live)
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Callable

import orjson

from fleetstream.contract.settings import Settings
from fleetstream.sim.world import SCENARIOS


def _settings(args: argparse.Namespace) -> Settings:
    """``--config``, the environment and ``--set``, checked (one line naming the
    source at fault on an error)."""
    from fleetstream.preflight import load_settings
    return load_settings(getattr(args, "config", None), getattr(args, "set", None))


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="TOML settings file (see docs/configuration.md)")
    p.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE",
                   help="override one setting, e.g. --set engine.autonomy_reroute=propose")


def cmd_replay(args: argparse.Namespace) -> int:
    from fleetstream.interrupt import EXIT_INTERRUPTED, CtrlC
    from fleetstream.preflight import check_number
    # Everything is checked before anything starts (docs/operations.md).
    check_number("--workers", args.workers, minimum=1)
    check_number("--processes", args.processes, minimum=1)
    check_number("--lanes", args.lanes, minimum=1)
    check_number("--speed", args.speed, positive=True)
    check_number("--alerts", args.alerts, minimum=0)
    s = _settings(args)
    workers = args.workers if args.workers is not None else s.workers
    procs = args.processes
    lanes = args.lanes
    with CtrlC("fleetstream replay", keep_until_exit=_OWNS_PROCESS[0]) as ctrl_c:
        # imported under the Ctrl-C guard: threads started by imports (numpy's BLAS
        # pool...) then inherit the blocked SIGINT and cannot take a Ctrl-C themselves
        from fleetstream.replay import prepare_replay, run_replay
        prepared = prepare_replay(args.replay, args.out, args.recovery, fresh=not args.resume,
                                  force=args.force, models_dir=args.models, lanes=lanes)
        if ctrl_c.stop.is_set():
            return EXIT_INTERRUPTED
        print(f"fleetstream replay {args.replay} -> {args.out}  ({procs} process"
              f"{'es' if procs > 1 else ''} x {workers} worker{'s' if workers > 1 else ''}, "
              f"{lanes} lane{'s' if lanes > 1 else ''})", file=sys.stderr)
        from fleetstream.observe import runtime as observe  # metrics, health, logs
        observe.start(args, "replay", s)
        summary = run_replay(args.replay, args.out, s.engine, workers=workers,
                             recovery_dir=args.recovery, speed=args.speed,
                             progress=not args.quiet, fresh=not args.resume,
                             models_dir=args.models, processes=procs, lanes=lanes,
                             limits=s.limits, prepared=prepared, stop=ctrl_c.stop)
        print(summary.render())
        if args.alerts:
            from fleetstream.connectors.console import print_alerts
            print_alerts(os.path.join(args.out, "fs.alerts.jsonl"), limit=args.alerts)
        print(f"outputs in {args.out}/ (one JSON Lines file per topic)")
        observe.stop(args, ctrl_c.stop)  # not ready; --metrics-linger (Ctrl-C ends it)
        sys.stdout.flush()
        if summary.read_error:
            print(f"fleetstream replay: {summary.read_error}", file=sys.stderr)
            return 2
        return EXIT_INTERRUPTED if ctrl_c.count else 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from fleetstream.sim.record import check_sim_out, simulate_to
    s = _settings(args)
    out = check_sim_out(args.out, force=args.force)  # before the simulation starts
    out.apply()
    manifest = simulate_to(args.scenario, args.out, seed=args.seed, settings=s.engine,
                           progress=not args.quiet)
    out.mark("complete", scenario=manifest["name"], seed=manifest["seed"])
    print(orjson.dumps({k: manifest[k] for k in ("name", "seed", "sizes", "closed_loop_kpis")},
                       option=orjson.OPT_INDENT_2).decode())
    return 0


def _delegate(module: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        mod = importlib.import_module(module)
        return int(mod.main(args.rest) or 0)
    return run


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fleetstream", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    r = sub.add_parser("replay", help="run the engine over a replay folder",
                       description="Replay recorded input events through the Bytewax flow "
                       "and write fs.decisions.jsonl, fs.eta.jsonl, fs.alerts.jsonl, "
                       "fs.notifications.jsonl and fs.dlq.jsonl into --out.")
    r.add_argument("replay", help="replay folder (with events.jsonl.gz) or events file")
    r.add_argument("--out", default="out",
                   help="output folder (default: out): created if missing; an existing "
                   "one must be empty or, with --force, an earlier replay's output")
    r.add_argument("-w", "--workers", type=int, default=None,
                   help="Bytewax workers per process, >= 1 (default 1, or `workers` in "
                   "--config)")
    r.add_argument("-p", "--processes", type=int, default=1, metavar="N",
                   help="run the flow as a Bytewax cluster of N processes on this host "
                   "(started by this command on free 127.0.0.1 ports); zones are spread "
                   "over all workers; the output files are the same bytes as with 1 "
                   "(default 1)")
    r.add_argument("--lanes", type=int, default=1, metavar="N",
                   help="spread decoding and tracking (stage 1) over N lanes, a lane per "
                   "zone group, each in input order. Outputs are the same bytes for any "
                   "-p/-w at a given N, and those of 1 lane on recorded data; they can "
                   "differ from 1 lane where the event-time watermark or the dedupe of a "
                   "lane matters (flows/lanes.py). --resume needs the N of the run it "
                   "resumes (default 1)")
    r.add_argument("--speed", type=float, default=None,
                   help="pace the replay at N x event time, N > 0 (default: as fast as "
                   "possible)")
    r.add_argument("--recovery", metavar="DIR",
                   help="enable Bytewax recovery in DIR (missing or empty; one holding "
                   "data needs --resume, or --force to clear its recovery files)")
    r.add_argument("--resume", action="store_true",
                   help="resume from --recovery instead of starting fresh (the --out and "
                   "--recovery of the interrupted run; docs/operations.md)")
    r.add_argument("--force", action="store_true",
                   help="replace the outputs of an earlier replay in --out (only the files "
                   "a replay writes; a folder with other content is always refused) and "
                   "clear the recovery files in --recovery")
    r.add_argument("--models", metavar="DIR", help="warm-start the models from a snapshot dir")
    r.add_argument("--alerts", type=int, default=0, metavar="N",
                   help="print the first N alerts in a readable form")
    r.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    _common(r)
    from fleetstream.observe.runtime import add_arguments as observe_flags
    observe_flags(r)
    r.set_defaults(fn=cmd_replay)

    s = sub.add_parser("simulate", help="simulate a day in closed loop and record it",
                       description="Run the world simulator in closed loop with the engine; "
                       "write events.jsonl.gz, truth/*.jsonl.gz and manifest.json into --out.")
    s.add_argument("--scenario", default="small",
                   choices=list(SCENARIOS))
    s.add_argument("--seed", type=int, default=None, help="override the scenario's seed")
    s.add_argument("--out", required=True,
                   help="replay folder to write: missing or empty, or with --force an "
                   "earlier simulation's folder")
    s.add_argument("--force", action="store_true",
                   help="overwrite the files of an earlier simulation in --out")
    s.add_argument("-q", "--quiet", action="store_true")
    _common(s)
    s.set_defaults(fn=cmd_simulate)

    for name, module, help_ in DELEGATED:
        d = sub.add_parser(name, help=help_, add_help=False)
        d.add_argument("rest", nargs=argparse.REMAINDER)
        d.set_defaults(fn=_delegate(module))
    return p


DELEGATED = (
        ("evaluate", "fleetstream.evaluate", "score models / compare policies on a replay"),
        ("plan", "fleetstream.plan_cmd", "solve and check a routing instance"),
        ("schemas", "fleetstream.schemas", "write or check the JSON Schemas and topic docs"),
        ("models", "fleetstream.models_cmd", "export or inspect model snapshots"),
        ("run", "fleetstream.live", "live engine on Kafka (+ Redis read model)"),
        ("topics", "fleetstream.topics_cmd", "create the Kafka topics"),
        ("publish", "fleetstream.publish_cmd", "produce a replay folder into Kafka"),
        ("record", "fleetstream.record_cmd", "capture Kafka input topics to a replay folder"),
        ("customers", "fleetstream.customers_cmd", "load customer profiles into Redis"),
        # console: helper I (docs/console.md)
        ("console", "fleetstream.console.cmd", "operations console in a browser"),
)


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand.  Exit codes (docs/operations.md): 0 ok, 1 internal error,
    2 bad usage or input, 3 infeasible plan (``plan``), 130 interrupted (Ctrl-C).

    The last-resort net: an operator mistake is one line and 2; any other exception is
    one line naming it and 1 (``FLEETSTREAM_DEBUG=1`` shows the traceback instead)."""
    _OWNS_PROCESS[0] = argv is None  # the console command, not a call from Python
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in {d[0] for d in DELEGATED}:
        # Delegated subcommands parse their own arguments (and --help).
        argv = [argv[0], "--", *argv[1:]]
    args = build_parser().parse_args(argv)
    if getattr(args, "rest", None) and args.rest[:1] == ["--"]:
        args.rest = args.rest[1:]
    debug = os.environ.get("FLEETSTREAM_DEBUG", "") not in ("", "0")
    try:
        if args.cmd in CTRL_C_GUARDED:
            return _guarded(args)
        return args.fn(args)
    except ModuleNotFoundError as e:
        if e.name and e.name.startswith("fleetstream."):
            print(f"fleetstream {args.cmd}: not available in this build ({e.name})", file=sys.stderr)
            return 2
        if debug:
            raise
        return _internal_error(args.cmd, e)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError,
            ValueError) as e:
        if debug:
            raise
        print(f"fleetstream {args.cmd}: {_one_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"fleetstream {args.cmd}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `fleetstream ... | head`: the reader went away
        return 1
    except Exception as e:  # noqa: BLE001 - the last-resort net
        if debug:
            raise
        return _internal_error(args.cmd, e)


_OWNS_PROCESS = [False]
"""``main`` runs as the ``fleetstream`` command (its own process): Ctrl-C handling then
lasts until the process exits (fleetstream/interrupt.py, ``keep_until_exit``)."""

CTRL_C_GUARDED = {"simulate", "plan", "models", "evaluate"}
"""Commands whose first Ctrl-C stops them with one line (exit 130) while their solver
pool is spared the terminal's SIGINT (no traceback from its processes); ``replay``
has its own clean stop (fleetstream/interrupt.py)."""


def _guarded(args: argparse.Namespace) -> int:
    from fleetstream.interrupt import CtrlC, kill_solver_pool
    with CtrlC(f"fleetstream {args.cmd}", first_raises=True, keep_until_exit=_OWNS_PROCESS[0]):
        try:
            return args.fn(args)
        except KeyboardInterrupt:
            kill_solver_pool()  # by pid: nothing left for the exit to wait for
            raise


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def _internal_error(cmd: str, e: BaseException) -> int:
    print(f"fleetstream {cmd}: internal error: {type(e).__name__}: {_one_line(e)} "
          "(set FLEETSTREAM_DEBUG=1 for the traceback)", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
