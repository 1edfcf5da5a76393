"""Click commands for the subcommands whose parser lives in their own module
(``evaluate``, ``schemas``, ``console``): the click command is built from that
module's argparse parser (the same flags, help and defaults), checks the
arguments (one line and exit 2 on a mistake, like every command), then hands the
arguments exactly as given to the module's ``main``, which keeps its behaviour.

One source: a flag added to ``fleetstream/evaluate.py`` or
``fleetstream/console/cmd.py`` shows up in ``fleetstream evaluate --help`` and in
docs/cli.md (``fleetstream cli-docs --check`` fails until docs/cli.md is
regenerated).  ``schemas`` builds its parser inside ``main``; its flags are
declared here (:data:`SCHEMAS_FLAGS`) and a test checks them against
``fleetstream.schemas.main(["--help"])``.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any, Callable

import click

from fleetstream import cli

_TYPES = {int: click.INT, float: click.FLOAT, None: click.STRING, str: click.STRING}


def _help(act: argparse.Action, prog: str) -> str:
    text = act.help or ""
    if "%(" in text:
        text = text % {"default": act.default, "prog": prog, "dest": act.dest}
    return " ".join(text.split())


def params_of(parser: argparse.ArgumentParser) -> list[click.Parameter]:
    """The parser's arguments as click parameters (help and defaults kept)."""
    out: list[click.Parameter] = []
    for act in parser._actions:
        if isinstance(act, argparse._HelpAction):
            continue
        text = _help(act, parser.prog)
        if not act.option_strings:
            many = act.nargs in ("+", "*", argparse.REMAINDER)
            metavar = act.metavar or act.dest.upper()
            out.append(click.Argument([act.dest], nargs=-1 if many else 1,
                                      required=act.nargs not in ("*", "?"),
                                      metavar=metavar + ("..." if many else ""), help=text))
            continue
        kw: dict[str, Any] = {"help": text}
        if isinstance(act, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
            kw["is_flag"] = True
            kw["default"] = bool(act.default)
        else:
            kw["type"] = click.Choice(list(act.choices)) if act.choices else \
                _TYPES.get(act.type, click.STRING)
            kw["multiple"] = isinstance(act, argparse._AppendAction)
            kw["default"] = act.default if not kw["multiple"] else None
            kw["required"] = act.required
            if not act.choices:  # argparse's metavar: given, else the name in capitals
                kw["metavar"] = act.metavar or act.dest.upper()
            # the help already says the default in words: show it once
            kw["show_default"] = False if "default" in text else (
                True if act.default is not None else "none")
        out.append(click.Option(list(act.option_strings), **kw))
    return out


def _exclusive(parser: argparse.ArgumentParser) -> list[list[str]]:
    return [[a.option_strings[-1] for a in g._group_actions]
            for g in parser._mutually_exclusive_groups]


def _check_exclusive(ctx: click.Context, groups: list[list[str]]) -> None:
    for group in groups:
        given = [flag for flag in group
                 if ctx.get_parameter_source(flag.lstrip("-").replace("-", "_"))
                 not in (None, click.core.ParameterSource.DEFAULT)]
        if len(given) > 1:
            raise click.UsageError(f"{given[0]} and {given[1]} cannot be used together",
                                   ctx=ctx)


def wrap(name: str, parser: argparse.ArgumentParser, forward: Callable[[list[str]], int],
         help: str | None = None, short_help: str | None = None) -> click.Command:  # noqa: A002
    """A click command with ``parser``'s arguments that calls ``forward(raw args)``."""
    groups = _exclusive(parser)

    def callback(**_kw: Any) -> int:
        ctx = click.get_current_context()
        _check_exclusive(ctx, groups)
        return forward(list(ctx.meta["fleetstream.raw_args"]))

    return cli.Command(name, params=params_of(parser), callback=callback,
                       help=cli.help_text(help if help is not None else parser.description),
                       short_help=short_help, context_settings=cli.CONTEXT)


def _module_main(module: str) -> Callable[[list[str]], int]:
    def forward(argv: list[str]) -> int:
        return int(importlib.import_module(module).main(argv) or 0)
    return forward


# ------------------------------------------------------------------ evaluate


def _evaluate() -> click.Command:
    from fleetstream import evaluate as ev
    return wrap("evaluate", ev.parser(), _module_main("fleetstream.evaluate"))


evaluate = _evaluate()


# ------------------------------------------------------------------ schemas

SCHEMAS_FLAGS: list[tuple[list[str], dict[str, Any]]] = [
    (["--out"], dict(metavar="DIR", default="docs/schemas", help="schema folder")),
    (["--docs"], dict(metavar="FILE", default="docs/topics.md",
                      help="topic reference to write or check ('' to skip)")),
    (["--asyncapi"], dict(metavar="FILE", default="docs/asyncapi.yaml",
                          help="AsyncAPI document to write or check ('' to skip)")),
    (["--examples"], dict(metavar="DIR", default="docs/examples",
                          help="example message folder ('' to skip)")),
    (["--replay"], dict(metavar="DIR", default="replay_data/small",
                        help="replay folder the examples are taken from")),
    (["--no-replay"], dict(is_flag=True, help="do not replay: keep (write) or do not compare "
                           "(check) the examples; the AsyncAPI document embeds the committed "
                           "ones")),
    (["--write"], dict(is_flag=True, help="write the generated files (the default action)")),
    (["--check"], dict(is_flag=True, help="write nothing; exit 1 listing differences if files "
                       "are stale")),
]
"""``fleetstream schemas``'s flags (its parser is built inside ``schemas.main``)."""


def _schemas() -> click.Command:
    from fleetstream import schemas as sc
    if hasattr(sc, "parser"):  # a parser factory: one source
        return wrap("schemas", sc.parser(), _module_main("fleetstream.schemas"),
                    help=getattr(sc, "_HELP", None))
    ap = argparse.ArgumentParser(prog="fleetstream schemas", description=sc._HELP)
    for flags, kw in SCHEMAS_FLAGS:
        kw = dict(kw)
        if kw.pop("is_flag", False):
            kw["action"] = "store_true"
        ap.add_argument(*flags, **kw)
    ap._mutually_exclusive_groups.append(_Exclusive(ap, ["--write", "--check"]))
    return wrap("schemas", ap, _module_main("fleetstream.schemas"), help=sc._HELP)


class _Exclusive:
    def __init__(self, ap: argparse.ArgumentParser, flags: list[str]) -> None:
        self._group_actions = [a for a in ap._actions if a.option_strings[-1:] and
                               a.option_strings[-1] in flags]


schemas = _schemas()


# ------------------------------------------------------------------ console


def _console() -> click.Group:
    from fleetstream.console import cmd as cc
    parser, merge_parser = cc.build_parser(), cc.merge_parser()
    groups = _exclusive(parser)

    def run_console(**_kw: Any) -> int | None:
        ctx = click.get_current_context()
        if ctx.invoked_subcommand is not None:
            return None
        _check_exclusive(ctx, groups)
        return cc.main(list(ctx.meta["fleetstream.raw_args"]))

    group = cli.Group("console", params=params_of(parser), callback=run_console,
                      invoke_without_command=True, help=cli.help_text(parser.description),
                      context_settings=cli.CONTEXT)
    group.add_command(wrap("merge", merge_parser, lambda argv: cc.main(["merge", *argv]),
                           short_help="insert the console's approvals into a copy of a "
                           "replay folder"))
    return group


console = _console()
