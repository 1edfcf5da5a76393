"""``fleetstream simulate``: run a scenario in closed loop and write a replay folder."""

from __future__ import annotations

import os
import sys
from typing import Any

import orjson

from fleetstream.engine import LocalEngine
from fleetstream.contract.settings import EngineSettings
from fleetstream.sim.loop import Simulation
from fleetstream.sim.world import Scenario

WHAT_TO_SEE = {
    "tiny": "A few vehicles and orders: a quick smoke test.",
    "small": "One zone, one shift: assignments at shift start, on-demand orders from mid-"
             "morning, an incident that slows an area (condition event), a handful of "
             "malformed, duplicate and late messages (dead letters and drops).",
    "metro": "Four zones, a full day: shift-start planning per zone, gig couriers from "
             "mid-morning, on-demand orders, incidents and a weather period per zone, two "
             "vehicle breakdowns (redispatch of what can move, stranded-order alerts for what "
             "is on board), late-risk alerts and ETA updates, dead letters for each kind of "
             "malformed message.",
    "disrupted": "One zone with a major incident, weather and a breakdown: the day for "
                 "comparing dispatch policies.",
    "zones8": "Eight small zones, one shift each: the scale-out scenario (zones spread "
              "over Bytewax workers and processes; benchmarks/scaleout.py).",
    "andorra": "Two zones on the real roads of Andorra (OpenStreetMap, docs/roads.md): "
               "vehicles drive shortest paths with pings on the roads, true speeds from the "
               "world's own model (road class, local hour, bends, junctions, parking and "
               "walking at each door), incidents, weather and a breakdown.",
}


def simulate_to(scenario: str, out: str, seed: int | None = None,
                settings: EngineSettings | None = None, progress: bool = True,
                engine: object | None = None, driver_knowledge: bool = False,
                timezone: str | None = None, road_map: str | None = None) -> dict:
    """Simulate ``scenario`` and write the replay folder; returns the manifest.
    ``driver_knowledge``: the world's drivers know hard doors they delivered at
    (``Scenario.driver_knowledge``, docs/simulator.md); ``timezone``: the world's
    local clock (``Scenario.timezone``); ``road_map``: the road graph the world is
    placed on (``Scenario.road_map``)."""
    return record(scenario, out, seed, settings, progress, engine, driver_knowledge,
                  timezone=timezone, road_map=road_map)[1]


SIM_KIND = "fleetstream simulate"


def check_sim_out(out: str, force: bool = False) -> Any:
    """Check ``simulate --out`` before the simulation starts (docs/operations.md): a
    missing or empty folder is used; an earlier simulation's folder (our marker, or a
    simulator manifest) is overwritten only with ``force``; anything else is refused."""
    from fleetstream.run_dirs import MARKER, OperatorError, OutFolder, check_out, read_marker
    try:
        return check_out(out, SIM_KIND, [], force=force)
    except OperatorError:
        if read_marker(out) is not None or not os.path.isdir(out):
            raise
        m = read_marker(out, "manifest.json")  # a folder written before the marker existed
        if m is None or "closed_loop_kpis" not in m:
            raise
        if not force:
            raise OperatorError(f"--out {out}: holds an earlier simulation (no {MARKER}); "
                                "add --force to overwrite it, or choose a new or empty "
                                "folder") from None
        return OutFolder(out, SIM_KIND, "replace", [])


def record(scenario: str, out: str, seed: int | None = None,
           settings: EngineSettings | None = None, progress: bool = True,
           engine: object | None = None, driver_knowledge: bool = False,
           day: int = 0, warm: dict | None = None,
           timezone: str | None = None,
           road_map: str | None = None) -> tuple[Simulation, dict]:
    """Simulate and write.  The engine decides with ``settings`` as given, every
    autonomy level included (the simulated dispatcher answers proposals); a scenario's
    ``redispatch_autonomy`` applies only where the settings keep the default.
    ``day``: the world's day (same customers, the day's own fleet and orders);
    ``warm``: what the engine kept from the day before (fleetstream/carry.py);
    ``timezone``: the world's local clock (``Scenario.timezone``, sim/clock.py);
    ``road_map``: the road graph to place the world on, a shipped name or a ``.npz``
    path (``Scenario.road_map``; None: the scenario's own)."""
    sc = Scenario.preset(scenario, seed, road_map=road_map)
    from dataclasses import replace
    if driver_knowledge:
        sc = replace(sc, driver_knowledge=True)
    if day:
        sc = replace(sc, day=day)
    if timezone is not None:
        sc = replace(sc, timezone=timezone)
    settings = settings or EngineSettings()
    if (sc.redispatch_autonomy != settings.autonomy_redispatch
            and settings.autonomy_redispatch == EngineSettings.autonomy_redispatch):
        settings = EngineSettings(**{**settings.__dict__,
                                     "autonomy_redispatch": sc.redispatch_autonomy})
    if engine is None and warm:
        from fleetstream.carry import warm_factory
        from fleetstream.engine import default_zone_factory
        engine = LocalEngine(settings, zone_factory=warm_factory(
            default_zone_factory(settings), warm))
    eng = engine if engine is not None else LocalEngine(settings)
    say = (lambda m: print("  " + m, file=sys.stderr, flush=True)) if progress else None
    sim = Simulation(sc, eng, progress=say)
    sim.run()
    os.makedirs(out, exist_ok=True)
    manifest = sim.write(out)
    manifest["what_to_see"] = WHAT_TO_SEE.get(sc.name, "")
    manifest["engine_settings"] = settings.__dict__
    with open(os.path.join(out, "manifest.json"), "wb") as f:
        f.write(orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
    return sim, manifest
