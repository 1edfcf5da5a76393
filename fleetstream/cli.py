"""The ``fleetstream`` command, on click (docs/cli.md, generated from this tree).

Every subcommand lives in its own module and is loaded only when it runs (or when
its help is shown): ``fleetstream --help`` imports no engine code.  Exit codes
(docs/operations.md): 0 ok, 1 internal error, 2 bad usage or input, 3 infeasible
plan (``plan``), 130 interrupted (Ctrl-C).  Every mistake is one line on stderr,
never a traceback (``FLEETSTREAM_DEBUG=1`` shows the traceback of an internal
error instead).
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any, Callable, Sequence

import click

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_INFEASIBLE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

CONTEXT = {"help_option_names": ["-h", "--help"], "show_default": True,
           "max_content_width": 100}
"""Every command: ``-h``/``--help`` and the default of every option shown."""

COMMANDS: dict[str, tuple[str, str]] = {
    "replay": ("fleetstream.replay_cmd:command",
               "run the engine over a recorded replay folder, one file per topic"),
    "simulate": ("fleetstream.simulate_cmd:command",
                 "simulate a day in closed loop with the engine and record it"),
    "evaluate": ("fleetstream.external_cmd:evaluate",
                 "score models / compare policies on replays; HTML report"),
    "plan": ("fleetstream.plan_cmd:command",
             "solve a routing instance (Solomon or fleetstream JSON) and check it"),
    "schemas": ("fleetstream.external_cmd:schemas",
                "write or check the JSON Schemas, topic docs, AsyncAPI and examples"),
    "models": ("fleetstream.models_cmd:command", "export, import or inspect model snapshots"),
    "run": ("fleetstream.live:command",
            "live: consume Kafka, publish decisions, keep the Redis read model"),
    "topics": ("fleetstream.topics_cmd:command", "create the Kafka topics"),
    "publish": ("fleetstream.publish_cmd:command",
                "produce a replay folder into the Kafka input topics"),
    "record": ("fleetstream.record_cmd:command",
               "capture the Kafka input topics into a replay folder"),
    "customers": ("fleetstream.customers_cmd:command",
                  "load a replay folder's customer profiles into Redis"),
    "console": ("fleetstream.external_cmd:console",
                "the operations console in a browser: map, alerts, approvals"),
    "cli-docs": ("fleetstream.clidocs_cmd:command",
                 "write or check docs/cli.md (generated from this command tree)"),
}
"""name -> (``module:attribute`` of its click command, one-line summary)."""

CTRL_C_GUARDED = {"simulate", "plan", "models", "evaluate"}
"""Commands whose first Ctrl-C stops them with one line (exit 130) while their solver
pool is spared the terminal's SIGINT (no traceback from its processes); ``replay``
has its own clean stop (fleetstream/interrupt.py)."""

_OWNS_PROCESS = [False]
"""``main`` runs as the ``fleetstream`` command (its own process): Ctrl-C handling then
lasts until the process exits (fleetstream/interrupt.py, ``keep_until_exit``)."""


# ------------------------------------------------------------------ building blocks


Arg = click.Argument
"""Positional arguments carry a help text (click >= 8.5: shown under "Positional
arguments" in ``--help`` and in docs/cli.md)."""


class _Passthrough(Exception):
    """Carries a KeyboardInterrupt or EOFError raised by a command past click (which
    would turn it into ``Abort`` after a blank line): :func:`run` handles the original."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(repr(original))
        self.original = original


def _invoke(super_invoke: Callable[[click.Context], Any], ctx: click.Context) -> Any:
    try:
        return super_invoke(ctx)
    except (KeyboardInterrupt, EOFError) as e:
        raise _Passthrough(e) from None


class Command(click.Command):
    """Keeps the raw arguments (for the commands that hand them on to a module's own
    parser, fleetstream/external_cmd.py); lets a Ctrl-C reach :func:`run` as itself."""

    def invoke(self, ctx: click.Context) -> Any:
        return _invoke(super().invoke, ctx)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["fleetstream.raw_args"] = list(args)
        return super().parse_args(ctx, args)


class Group(click.Group):
    command_class = Command

    def invoke(self, ctx: click.Context) -> Any:
        return _invoke(super().invoke, ctx)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["fleetstream.raw_args"] = list(args)
        return super().parse_args(ctx, args)


Group.group_class = Group


def help_text(doc: str | None) -> str:
    """A module docstring as click help: indented blocks (usage lines, tables) kept as
    written (click's ``\\b``), prose paragraphs rewrapped; doctests dropped."""
    if not doc:
        return ""
    paras, cur = [], []
    for line in doc.strip("\n").splitlines():
        if line.strip():
            cur.append(line.rstrip())
        elif cur:
            paras.append(cur)
            cur = []
    if cur:
        paras.append(cur)
    out = []
    for p in paras:
        if p[0].lstrip().startswith(">>>"):
            continue
        p = [ln.replace("``", "`") for ln in p]
        if any(ln[:1] == " " for ln in p):
            out.append("\b\n" + "\n".join(p))
        else:
            out.append("\n".join(p))
    return "\n\n".join(out)


def config_options(f: Callable) -> Callable:
    """``--config`` and ``--set`` (docs/configuration.md)."""
    f = click.option("--set", "sets", multiple=True, metavar="SECTION.KEY=VALUE",
                     help="override one setting, e.g. --set engine.autonomy_reroute=propose "
                     "(repeatable; beats the environment and --config)")(f)
    return click.option("--config", metavar="FILE", default=None,
                        help="TOML (or .json) settings file (docs/configuration.md; "
                        "default: built-in settings and the FLEETSTREAM_* environment)")(f)


def load_settings(config: str | None, sets: Sequence[str] | None) -> Any:
    """``--config``, the environment and ``--set``, checked (one line naming the
    source at fault on an error)."""
    from fleetstream.preflight import load_settings as load
    return load(config, list(sets) if sets else None)


def version_line() -> str:
    """``fleetstream 0.1.0 (contract 1.2.0, schema v1, python 3.11.9)``."""
    try:
        from importlib.metadata import version
        v = version("fleetstream")
    except Exception:  # noqa: BLE001 - running from a source tree without metadata
        v = "unknown"
    from fleetstream.contract.events import SCHEMA_VERSION
    from fleetstream.contract.outputs import CONTRACT_VERSION
    py = ".".join(map(str, sys.version_info[:3]))
    return f"fleetstream {v} (contract {CONTRACT_VERSION}, schema v{SCHEMA_VERSION}, python {py})"


def _show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(version_line())
        ctx.exit(0)


# ------------------------------------------------------------------ the tree


class LazyGroup(Group):
    """Subcommands imported on first use; the listing comes from :data:`COMMANDS`."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        mod, _, attr = COMMANDS[name][0].partition(":")
        cmd = getattr(importlib.import_module(mod), attr)
        cmd.name = name
        return cmd

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(n, h) for n, (_, h) in COMMANDS.items()])


GROUP_HELP = """\
fleetstream: the real-time streaming decision engine for last-mile delivery
(routing, ETA, risk and dispatch on Bytewax).  `fleetstream COMMAND --help` for
each command; every command and flag: docs/cli.md.

Settings: --config FILE, then FLEETSTREAM_<SECTION>__<KEY> environment variables,
then --set SECTION.KEY=VALUE (docs/configuration.md).  Exit codes: 0 ok, 1
internal error (FLEETSTREAM_DEBUG=1 shows the traceback), 2 bad usage or input
(one line on stderr), 3 infeasible plan (plan), 130 interrupted (Ctrl-C).
"""


@click.group("fleetstream", cls=LazyGroup, context_settings=CONTEXT, help=GROUP_HELP)
@click.option("--version", is_flag=True, expose_value=False, is_eager=True,
              callback=_show_version,
              help="print the version (package, contract, schema, python) and exit")
def cli() -> None:
    """The ``fleetstream`` command group."""


# ------------------------------------------------------------------ running


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; the exit code (docs/operations.md)."""
    _OWNS_PROCESS[0] = argv is None  # the console command, not a call from Python
    argv = sys.argv[1:] if argv is None else list(argv)
    name = argv[0] if argv and not argv[0].startswith("-") else None
    if name == "--":
        name = None
    return run(cli, argv, "fleetstream", name=name,
               guarded=name in CTRL_C_GUARDED)


def run(command: click.Command, argv: list[str] | None, prog: str, name: str | None = None,
        guarded: bool = False, usage_exits: bool = False) -> int:
    """Run ``command`` (the group, or one command as its module's ``main``) with the
    last-resort net: an operator mistake is one line and 2; any other exception is one
    line naming it and 1 (``FLEETSTREAM_DEBUG=1`` raises it instead).

    ``usage_exits``: usage errors and ``--help`` raise ``SystemExit`` (as argparse did
    for the modules' own ``main``)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    label = prog if name is None else f"{prog} {name}"
    debug = os.environ.get("FLEETSTREAM_DEBUG", "") not in ("", "0")
    try:
        def call() -> Any:
            try:
                return command.main(args=argv, prog_name=prog, standalone_mode=False)
            except _Passthrough as p:
                raise p.original from None
        rc = _guarded(label, call) if guarded else call()
        if usage_exits and any(a in ("-h", "--help") for a in argv):
            raise SystemExit(int(rc or 0))
        return int(rc or 0)
    except click.exceptions.NoArgsIsHelpError as e:
        click.echo(e.ctx.get_help() if e.ctx else "", err=True)
        if usage_exits:
            raise SystemExit(EXIT_USAGE) from None
        return EXIT_USAGE
    except click.UsageError as e:
        where = e.ctx.command_path if e.ctx is not None else label
        print(f"{where}: {' '.join(e.format_message().split())} (see {where} --help)",
              file=sys.stderr)
        if usage_exits:
            raise SystemExit(EXIT_USAGE) from None
        return EXIT_USAGE
    except click.exceptions.Abort:  # click's own form of a Ctrl-C (while parsing)
        if debug:
            raise
        print(f"{label}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except click.ClickException as e:
        print(f"{label}: {' '.join(e.format_message().split())}", file=sys.stderr)
        return e.exit_code
    except ModuleNotFoundError as e:
        if e.name and e.name.startswith("fleetstream."):
            print(f"{label}: not available in this build ({e.name})", file=sys.stderr)
            return EXIT_USAGE
        if debug:
            raise
        return _internal_error(label, e)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError,
            ValueError) as e:
        if debug:
            raise
        print(f"{label}: {_one_line(e)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"{label}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `fleetstream ... | head`: the reader went away
        return EXIT_INTERNAL
    except SystemExit:
        raise
    except Exception as e:  # noqa: BLE001 - the last-resort net
        if debug:
            raise
        return _internal_error(label, e)


def _guarded(label: str, fn: Callable[[], Any]) -> Any:
    from fleetstream.interrupt import CtrlC, kill_solver_pool
    with CtrlC(label, first_raises=True, keep_until_exit=_OWNS_PROCESS[0]):
        try:
            return fn()
        except KeyboardInterrupt:
            kill_solver_pool()  # by pid: nothing left for the exit to wait for
            raise


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def _internal_error(label: str, e: BaseException) -> int:
    print(f"{label}: internal error: {type(e).__name__}: {_one_line(e)} "
          "(set FLEETSTREAM_DEBUG=1 for the traceback)", file=sys.stderr)
    return EXIT_INTERNAL


if __name__ == "__main__":
    # ``python -m fleetstream.cli``: run the imported module, not this ``__main__`` copy
    # (the commands import ``fleetstream.cli``: one set of classes and process state)
    from fleetstream.cli import main as _main
    sys.exit(_main())
