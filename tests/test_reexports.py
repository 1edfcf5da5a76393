"""Modules split by responsibility keep their old import path: every public name
defined in a part is importable from the module it was split out of (the facade).

A name added to a part later (a new event type, reason or alert detail...) must be
added to the facade's re-export list too, else ``from <facade> import Name`` fails
for callers that used the old path; this test names what is missing.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# facade module -> the parts split out of it (installed name, source path)
SPLITS = {
    "fleetstream.contract.events": [("fleetstream.contract.event_types",
                                     "fleetstream/contract/event_types.py"),
                                    ("fleetstream.contract.fields",
                                     "fleetstream/contract/fields.py")],
    "fleetstream.contract.settings": [("fleetstream.contract.engine_settings",
                                       "fleetstream/contract/engine_settings.py"),
                                      ("fleetstream.contract.limits_settings",
                                       "fleetstream/contract/limits_settings.py"),
                                      ("fleetstream.contract.connection_settings",
                                       "fleetstream/contract/connection_settings.py"),
                                      ("fleetstream.contract.settings_env",
                                       "fleetstream/contract/settings_env.py")],
    "fleetstream.contract.details": [("fleetstream.contract.explanations",
                                      "fleetstream/contract/explanations.py"),
                                     ("fleetstream.contract.alert_details",
                                      "fleetstream/contract/alert_details.py"),
                                     ("fleetstream.contract.markers",
                                      "fleetstream/contract/markers.py")],
    "fleetstream.connectors.kafka": [("fleetstream.connectors.kafka_clients",
                                      "connectors/kafka_clients.py"),
                                     ("fleetstream.connectors.kafka_source",
                                      "connectors/kafka_source.py")],
    "fleetstream.connectors.redis_store": [("fleetstream.connectors.redis_records",
                                            "connectors/redis_records.py"),
                                           ("fleetstream.connectors.redis_context",
                                            "connectors/redis_context.py")],
    "fleetstream.sim.loop": [("fleetstream.sim.decisions", "fleetstream/sim/decisions.py"),
                             ("fleetstream.sim.disruptions", "fleetstream/sim/disruptions.py"),
                             ("fleetstream.sim.outputs", "fleetstream/sim/outputs.py")],
    "fleetstream.operators.routing.bounds": [("fleetstream.operators.routing.move_bounds",
                                              "operators/routing/move_bounds.py"),
                                             ("fleetstream.operators.routing.route_bounds",
                                              "operators/routing/route_bounds.py")],
    "fleetstream.operators.zone.assignment": [("fleetstream.operators.zone.solver_requests",
                                               "operators/zone/solver_requests.py"),
                                              ("fleetstream.operators.zone.zone_plan",
                                               "operators/zone/zone_plan.py"),
                                              ("fleetstream.operators.zone.reoptimization",
                                               "operators/zone/reoptimization.py")],
    "fleetstream.operators.tracker": [("fleetstream.operators.watermark",
                                       "operators/watermark.py"),
                                      ("fleetstream.operators.entity_tracker",
                                       "operators/entity_tracker.py")],
}


def defined_names(path: Path) -> list[str]:
    """The public names a module defines at top level (not the ones it imports)."""
    names: list[str] = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                elts = t.elts if isinstance(t, ast.Tuple) else [t]
                names += [e.id for e in elts if isinstance(e, ast.Name)]
    return [n for n in names if not n.startswith("_")]


@pytest.mark.parametrize("facade", sorted(SPLITS))
def test_every_public_name_of_a_part_is_importable_from_the_facade(facade: str) -> None:
    mod = importlib.import_module(facade)
    missing = []
    for part, path in SPLITS[facade]:
        importlib.import_module(part)
        missing += [f"{part}.{n}" for n in defined_names(ROOT / path) if not hasattr(mod, n)]
    assert not missing, f"add to the re-exports of {facade}: {', '.join(missing)}"


def test_the_name_scan_sees_tuple_assignments_and_skips_imports(tmp_path: Path) -> None:
    p = tmp_path / "m.py"
    p.write_text("import os\nfrom x import y\nA, B = 1, 2\nC: int = 3\n_D = 4\n"
                 "def f(): pass\nclass K: pass\n")
    assert defined_names(p) == ["A", "B", "C", "f", "K"]
