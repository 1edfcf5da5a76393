"""docs/cli.md is generated from the click command tree (``fleetstream cli-docs``):
the committed file must be what the tree generates, and every flag has help."""

from __future__ import annotations

import os

from fleetstream.cli import main
from fleetstream.clidocs_cmd import render, undocumented

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLI_MD = os.path.join(ROOT, "docs", "cli.md")


def test_committed_cli_reference_is_what_the_command_tree_generates():
    with open(CLI_MD, encoding="utf-8") as f:
        committed = f.read()
    assert committed == render(), "docs/cli.md is stale: run `fleetstream cli-docs --write`"


def test_every_command_and_flag_has_help():
    assert undocumented() == []


def test_the_reference_holds_every_command_and_flag():
    text = render()
    for cmd in ("replay", "simulate", "evaluate", "plan", "schemas", "models export", "run",
                "topics", "publish", "record", "customers load", "console merge"):
        assert f"## `fleetstream {cmd}`" in text
    for flag in ("--metrics-port", "--lanes", "--seeds", "--no-replay", "--stop-at-end",
                 "--version"):
        assert flag in text


def test_check_fails_on_a_stale_file_and_write_fixes_it(tmp_path, capsys):
    p = tmp_path / "cli.md"
    p.write_text("# old\n")
    assert main(["cli-docs", "--check", "--out", str(p)]) == 1
    assert "out of date" in capsys.readouterr().err
    assert main(["cli-docs", "--write", "--out", str(p)]) == 0
    assert main(["cli-docs", "--check", "--out", str(p)]) == 0
