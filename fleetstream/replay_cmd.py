"""``fleetstream replay``: the engine over a recorded replay folder (click command).

The work is in :mod:`fleetstream.replay`; this module is the command line: the flags,
the checks made before anything starts (docs/operations.md) and what is printed.
"""

from __future__ import annotations

import os
import sys
from types import SimpleNamespace

import click

from fleetstream import cli
from fleetstream.cli import Arg, config_options
from fleetstream.observe.runtime import options as observe_options

from fleetstream.contract.outputs import OUTPUT_TOPICS  # noqa: E402 (light: the contract)

HELP = f"""\
Replay recorded input events through the Bytewax flow and write one JSON Lines
file per topic into --out: {", ".join(t + ".jsonl" for t in OUTPUT_TOPICS)} (the
published topics, docs/topics.md; fs.dlq holds dead letters with reason and bytes)
and _drops.jsonl (events the engine dropped, with the reason).

--out also gets raw/ (the per-worker files the final ones are merged from; it can be
large, and is safe to delete after the run) and .fleetstream-run.json (what
ran, and whether it completed: docs/operations.md).

Everything is checked before anything starts; a mistake is one line and exit 2.
Ctrl-C once stops reading and still writes consistent outputs and the summary;
twice stops at once.  Exit codes: 0 ok, 1 internal error, 2 bad usage or input,
130 interrupted.
"""


@click.command("replay", cls=cli.Command, help=HELP, context_settings=cli.CONTEXT)
@click.argument("replay", cls=Arg, help="replay folder (with events.jsonl.gz) or events file")
@click.option("--out", default="out", metavar="DIR",
              help="output folder: created if missing; an existing one must be empty or, "
              "with --force, an earlier replay's output")
@click.option("-w", "--workers", type=int, default=None, metavar="N",
              show_default="1, or `workers` in --config",
              help="Bytewax workers per process, >= 1")
@click.option("-p", "--processes", type=int, default=1, metavar="N",
              help="run the flow as a Bytewax cluster of N processes on this host (started "
              "by this command on free 127.0.0.1 ports); zones are spread over all workers; "
              "the output files are the same bytes as with 1")
@click.option("--lanes", type=int, default=1, metavar="N",
              help="spread decoding and tracking (stage 1) over N lanes, a lane per zone "
              "group, each in input order. Outputs are the same bytes for any -p/-w at a "
              "given N, and those of 1 lane on recorded data; they can differ from 1 lane "
              "where the event-time watermark or the dedupe of a lane matters "
              "(flows/lanes.py). --resume needs the N of the run it resumes")
@click.option("--speed", type=float, default=None, metavar="N",
              show_default="as fast as possible",
              help="pace the replay at N x event time, N > 0")
@click.option("--recovery", metavar="DIR", default=None, show_default="off",
              help="enable Bytewax recovery in DIR (missing or empty; one holding data needs "
              "--resume, or --force to clear its recovery files)")
@click.option("--resume", is_flag=True,
              help="resume from --recovery instead of starting fresh (the --out and "
              "--recovery of the interrupted run; docs/operations.md)")
@click.option("--force", is_flag=True,
              help="replace the outputs of an earlier replay in --out (only the files a "
              "replay writes; a folder with other content is always refused) and clear the "
              "recovery files in --recovery")
@click.option("--models", metavar="DIR", default=None, show_default="cold start",
              help="warm-start the models from a snapshot folder (fleetstream models export)")
@click.option("--alerts", type=int, default=0, metavar="N",
              help="print the first N alerts in a readable form")
@click.option("-q", "--quiet", is_flag=True, help="no progress lines")
@config_options
@observe_options
def command(**kw) -> int:
    return cmd_replay(SimpleNamespace(**kw))


def cmd_replay(args: SimpleNamespace) -> int:
    from fleetstream.interrupt import EXIT_INTERRUPTED, CtrlC
    from fleetstream.preflight import check_number
    # Everything is checked before anything starts (docs/operations.md).
    check_number("--workers", args.workers, minimum=1)
    check_number("--processes", args.processes, minimum=1)
    check_number("--lanes", args.lanes, minimum=1)
    check_number("--speed", args.speed, positive=True)
    check_number("--alerts", args.alerts, minimum=0)
    s = cli.load_settings(args.config, args.sets)
    workers = args.workers if args.workers is not None else s.workers
    procs = args.processes
    lanes = args.lanes
    with CtrlC("fleetstream replay", keep_until_exit=cli._OWNS_PROCESS[0]) as ctrl_c:
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


def main(argv: list[str] | None = None) -> int:
    return cli.run(command, argv, "fleetstream replay", usage_exits=True)


if __name__ == "__main__":
    sys.exit(main())
