"""Run the doctests of every fleetstream module, imported under its installed name."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import fleetstream


def _modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(fleetstream.__path__, "fleetstream."):
        names.append(info.name)
    for sub in ("operators", "models", "connectors", "flows", "contract"):
        pkg = importlib.import_module(f"fleetstream.{sub}")
        names.append(pkg.__name__)
        names += [i.name for i in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + ".")]
    return sorted(set(names))


MODULES = _modules()


def test_every_layer_is_found() -> None:
    for m in ("fleetstream.operators.zone.engine", "fleetstream.models.eta",
              "fleetstream.connectors.files", "fleetstream.flows.engine",
              "fleetstream.contract.events"):
        assert m in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    mod = importlib.import_module(name)
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                          verbose=False)
    assert res.failed == 0, f"{res.failed} doctest(s) failed in {name}"
