"""The click command tree: help on every command and flag, ``--version``, one-line
mistakes with exit 2, the wrappers of module parsers kept in step."""

from __future__ import annotations

import re
from importlib.metadata import version

import click
import pytest

from fleetstream import cli
from fleetstream.cli import main
from fleetstream.clidocs_cmd import root_context, walk


def run(capsys, *argv: str):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_version_names_the_package_and_the_contract(capsys):
    from fleetstream.contract.outputs import CONTRACT_VERSION
    rc, out, err = run(capsys, "--version")
    assert rc == 0 and err == ""
    assert out.startswith(f"fleetstream {version('fleetstream')} ")
    assert f"contract {CONTRACT_VERSION}" in out


def commands():
    return [(ctx.command_path, cmd) for cmd, ctx in walk(cli.cli, root_context())]


@pytest.mark.parametrize("path", [p for p, _ in commands()])
def test_every_command_has_help(path, capsys):
    argv = path.split()[1:] + ["--help"]
    rc, out, err = run(capsys, *argv)
    assert rc == 0, err
    assert out.startswith(f"Usage: {path} ")
    assert ">>>" not in out, "doctests in --help"
    assert "python -m" not in out


def test_every_flag_has_help_and_shows_its_default():
    missing = []
    for path, cmd in commands():
        for p in cmd.params:
            name = f"{path} {p.opts[0] if p.opts else p.name}"
            if not (getattr(p, "help", None) or "").strip():
                missing.append(f"{name}: no help")
            if isinstance(p, click.Option) and not p.is_flag and not p.required \
                    and p.name != "help":
                shown = p.show_default if p.show_default is not None else True
                said = "default" in (p.help or "").lower()
                if p.default is None and not isinstance(shown, str) and not said:
                    missing.append(f"{name}: default not shown")
                if p.default is not None and shown is False and not said:
                    missing.append(f"{name}: default hidden")
    assert missing == []


def test_customers_help_names_the_command_not_a_module(capsys):
    rc, out, _ = run(capsys, "customers", "--help")
    assert rc == 0 and "fleetstream customers" in out and "load" in out
    assert "connectors.redis_store" not in out and "load-customers" not in out


@pytest.mark.parametrize("argv,needle", [
    (["replay"], "Missing argument"),
    (["replay", "x", "--no-such-flag"], "--no-such-flag"),
    (["replay", "x", "-w", "two"], "'two'"),
    (["simulate", "--scenario", "nowhere", "--out", "x"], "nowhere"),
    (["plan", "C101", "--backend", "gurobi"], "gurobi"),
    (["nosuchcommand"], "nosuchcommand"),
    (["schemas", "--write", "--check"], "cannot be used together"),
    (["console", "--replay", "a", "--redis", "redis://x"], "cannot be used together"),
    (["evaluate"], "Missing argument"),
    (["models", "info"], "Missing argument"),
    (["customers", "load"], "Missing argument"),
])
def test_a_usage_mistake_is_one_line_and_exit_2(argv, needle, capsys):
    rc, out, err = run(capsys, *argv)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("fleetstream") and needle in lines[0], lines[0]
    assert "--help" in lines[0]


def test_no_command_shows_the_commands_and_exits_2(capsys):
    rc, _, err = run(capsys)
    assert rc == 2 and "replay" in err and "Commands" in err


def test_a_module_main_keeps_argparse_exits():
    """``python -m fleetstream.plan_cmd`` and friends: --help and usage errors exit
    through SystemExit, as with argparse."""
    from fleetstream.plan_cmd import main as plan_main
    with pytest.raises(SystemExit) as e:
        plan_main(["--help"])
    assert e.value.code == 0
    with pytest.raises(SystemExit) as e:
        plan_main(["C101", "--iterations", "many"])
    assert e.value.code == 2


def test_the_schemas_wrapper_has_exactly_the_flags_of_schemas_main(capsys):
    from fleetstream import schemas
    with pytest.raises(SystemExit):
        schemas.main(["--help"])
    theirs = set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", capsys.readouterr().out)) - {"--help"}
    ours = {o for p in cli.cli.get_command(root_context(), "schemas").params
            for o in p.opts if o.startswith("--")} - {"--help"}
    assert ours == theirs


def test_wrapped_commands_hand_on_the_arguments_unchanged(monkeypatch):
    import fleetstream.evaluate as ev
    seen = []
    monkeypatch.setattr(ev, "main", lambda argv: seen.append(argv) or 0)
    assert main(["evaluate", "a", "b", "--seeds", "1,2", "-q"]) == 0
    assert seen == [["a", "b", "--seeds", "1,2", "-q"]]


@pytest.mark.parametrize("var,value,needle", [
    ("FLEETSTREAM_METRICS_PORT", "abc", "$FLEETSTREAM_METRICS_PORT must be an integer"),
    ("FLEETSTREAM_HEALTH_STALL_S", "soon", "$FLEETSTREAM_HEALTH_STALL_S must be a number"),
    ("FLEETSTREAM_LOG_FORMAT", "xml", "'xml' is not one of"),
])
def test_a_bad_flag_default_from_the_environment_is_one_line(var, value, needle, monkeypatch,
                                                             capsys):
    monkeypatch.setenv(var, value)
    rc, _, err = run(capsys, "replay", "nowhere")
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 2 and len(lines) == 1 and needle in lines[0], err
