"""The layering of the code base, checked statically (a lint that fails CI).

- The design card's folders install under the product's namespace
  (``fleetstream.operators`` and so on): a bare ``import models`` or
  ``from operators import ...`` anywhere in the repository is an error.
- ``fleetstream.contract`` is the ground floor: it imports nothing else of fleetstream.
- operators, models, connectors and flows never import the CLI package (any
  ``fleetstream.*`` module other than the contract and the lower layers).
- ``operators/`` and ``models/`` have no Bytewax import (decision logic is plain Python).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BARE = {"models", "operators", "flows", "connectors", "contract"}
LOWER = {"fleetstream.contract", "fleetstream.operators", "fleetstream.models",
         "fleetstream.connectors", "fleetstream.flows"}
LAYER_DIRS = {"operators": LOWER - {"fleetstream.flows", "fleetstream.connectors"},
              "models": {"fleetstream.contract", "fleetstream.models", "fleetstream.operators"},
              "connectors": LOWER - {"fleetstream.flows"},
              "flows": LOWER,
              "fleetstream/contract": {"fleetstream.contract"}}


def _sources() -> list[Path]:
    out = []
    for top in ("fleetstream", "operators", "models", "connectors", "flows", "tests",
                "benchmarks", "scripts"):
        out.extend(p for p in (ROOT / top).rglob("*.py") if ".venv" not in p.parts)
    return sorted(out)


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append((node.lineno, node.module))
    return names


def _doctest_imports(path: Path) -> list[tuple[int, str]]:
    out = []
    for i, line in enumerate(path.read_text().splitlines(), 1):
        s = line.strip()
        if s.startswith(">>> from ") or s.startswith(">>> import "):
            out.append((i, s.split()[2].rstrip(",")))
    return out


def test_no_bare_imports_of_the_design_card_folders() -> None:
    bad = [f"{p.relative_to(ROOT)}:{n}: {m}" for p in _sources()
           for n, m in _imports(p) + _doctest_imports(p) if m.split(".")[0] in BARE]
    assert not bad, "import these under the fleetstream namespace:\n" + "\n".join(bad)


@pytest.mark.parametrize("layer", sorted(LAYER_DIRS))
def test_lower_layers_do_not_import_upward(layer: str) -> None:
    allowed = LAYER_DIRS[layer]
    bad = []
    for p in sorted((ROOT / layer).rglob("*.py")):
        for n, m in _imports(p):
            if m.startswith("fleetstream") and not any(m == a or m.startswith(a + ".")
                                                        for a in allowed):
                bad.append(f"{p.relative_to(ROOT)}:{n}: {m}")
    assert not bad, f"{layer} may import only {sorted(allowed)}:\n" + "\n".join(bad)


@pytest.mark.parametrize("layer", ["operators", "models", "fleetstream/contract"])
def test_decision_logic_has_no_bytewax_import(layer: str) -> None:
    bad = [f"{p.relative_to(ROOT)}:{n}: {m}" for p in sorted((ROOT / layer).rglob("*.py"))
           for n, m in _imports(p) if m.split(".")[0] == "bytewax"]
    assert not bad, "\n".join(bad)


def test_the_lint_catches_a_bare_import(tmp_path: Path) -> None:
    p = tmp_path / "x.py"
    p.write_text("import models.eta\nfrom operators import dispatch\n")
    assert [m for _n, m in _imports(p) if m.split(".")[0] in BARE] == ["models.eta", "operators"]
