"""Closed-loop policy comparison: the same simulated day under different engines.

- ``static``: the OR-Tools zone plan at shift start, then cheapest insertion for new
  orders; re-route, periodic re-optimization and redispatch off (alerts only);
- ``reactive``: plus re-route, periodic re-optimization sweeps (every 30 min) and
  redispatch, triggered by the rule-based seats (provider ETAs, slack rule) at the
  default thresholds;
- ``predictive``: the same routing driven by the learned models (River ETA, risk and
  interval seats), re-optimization sweeps every 15 min, and re-routes that scale
  each driver's travel times by the pace learned from its finished legs.  (Lower
  late-risk thresholds were tried and did worse on the disrupted day.)

Orders stranded on a broken-down vehicle count as not on time in every policy: they
bound the on-time rate from above (see ``stranded`` in the table).

Each policy runs the scenario from the same seed, so the world (orders,
customers, incidents, breakdowns, driver pace) is identical; only the decisions
differ, and so what the world does next.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import replace

import orjson

from fleetstream.engine import LocalEngine
from fleetstream.contract.settings import EngineSettings, Settings
from fleetstream.sim.loop import Simulation
from fleetstream.sim.world import Scenario
from fleetstream.wiring import build_zone_engine
from fleetstream.operators.routing.engine_adapter import RoutingConfig
from fleetstream.operators.zone.engine import routing_config
from fleetstream.operators.routing.strategy import ORToolsStrategy

POLICIES = ("static", "reactive", "predictive")
KPI_COLUMNS = ("on_time_rate", "failed_attempts", "not_served", "stranded", "km", "cost",
               "overtime_h", "decisions", "stops_per_driver_spread")


def policy_settings(policy: str, base: EngineSettings) -> EngineSettings:
    if policy == "static":
        return replace(base, autonomy_reroute="off", autonomy_redispatch="off")
    if policy == "reactive":
        return replace(base, autonomy_reroute="auto", autonomy_redispatch="auto")
    if policy == "predictive":
        return replace(base, autonomy_reroute="auto", autonomy_redispatch="auto")
    raise ValueError(f"unknown policy {policy!r} (known: {', '.join(POLICIES)})")


def policy_routing(policy: str, es: EngineSettings | None = None) -> RoutingConfig:
    """The routing configuration of each policy, from the engine's ``routing_*``
    settings (static never re-optimizes: its reroute autonomy is off)."""
    base = routing_config(es or EngineSettings())
    if policy == "predictive":
        return replace(base, reopt_interval_s=900.0, learned_pace=True)
    return base


def run_policy(scenario: str, policy: str, settings: Settings, seed: int | None = None,
               progress: bool = False) -> dict:
    es = policy_settings(policy, settings.engine)
    models = "baseline" if policy in ("static", "reactive") else "learned"

    routing = policy_routing(policy, es)

    def factory(zone: str):
        eng = build_zone_engine(zone, es, kind=models)
        eng.strategy = ORToolsStrategy(routing)
        return eng

    sc = Scenario.preset(scenario, seed)
    sim = Simulation(sc, LocalEngine(es, zone_factory=factory))
    t0 = time.perf_counter()
    sim.run()
    k = sim.kpis()
    k["seconds"] = round(time.perf_counter() - t0, 1)
    if progress:
        print(f"  {policy:<11} on-time {100 * k['on_time_rate']:.1f} %  km {k['km']:,.0f}  "
              f"({k['seconds']} s)", file=sys.stderr, flush=True)
    return k


def table(results: dict[str, dict]) -> str:
    head = "| policy | " + " | ".join(KPI_COLUMNS) + " |"
    sep = "|---" * (len(KPI_COLUMNS) + 1) + "|"
    rows = [f"| {p} | " + " | ".join(str(r[c]) for c in KPI_COLUMNS) + " |" for p, r in results.items()]
    return "\n".join([head, sep, *rows])


def compare(scenario: str, policies: list[str], out: str, settings: Settings | None = None,
            seed: int | None = None, progress: bool = True) -> int:
    settings = settings or Settings()
    if os.path.isdir(scenario):  # a replay folder: use the scenario it was recorded from
        with open(os.path.join(scenario, "manifest.json"), "rb") as f:
            m = orjson.loads(f.read())
        scenario, seed = m["name"], m["seed"] if seed is None else seed
    results = {p: run_policy(scenario, p, settings, seed, progress) for p in policies}
    md = table(results)
    print(md)
    if "static" in results and "predictive" in results:
        s, p = results["static"], results["predictive"]
        print(f"predictive vs static: on-time {100 * (p['on_time_rate'] - s['on_time_rate']):+.1f} points, "
              f"km {100 * (p['km'] / s['km'] - 1):+.1f} %")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "policies.json"), "wb") as f:
        f.write(orjson.dumps({"scenario": scenario, "seed": seed, "results": results},
                             option=orjson.OPT_INDENT_2) + b"\n")
    with open(os.path.join(out, "policies.md"), "w") as f:
        f.write(f"# Policy comparison on `{scenario}`\n\n{md}\n")
    return 0


def compare_seeds(scenario: str, policies: list[str], seeds: list[int], out: str,
                  settings: Settings | None = None) -> dict:
    """The comparison over several seeds (different worlds, same disruptions per seed):
    one row per policy and seed, and the mean per policy."""
    settings = settings or Settings()
    rows = {(p, sd): run_policy(scenario, p, settings, sd) for sd in seeds for p in policies}
    mean = {p: {c: round(sum(rows[(p, sd)][c] for sd in seeds) / len(seeds), 4) for c in KPI_COLUMNS}
            for p in policies}
    lines = [f"| policy | seed | {' | '.join(KPI_COLUMNS)} |", "|---" * (len(KPI_COLUMNS) + 2) + "|"]
    for (p, sd), r in rows.items():
        lines.append(f"| {p} | {sd} | " + " | ".join(str(r[c]) for c in KPI_COLUMNS) + " |")
    for p, r in mean.items():
        lines.append(f"| {p} | mean | " + " | ".join(str(r[c]) for c in KPI_COLUMNS) + " |")
    md = "\n".join(lines)
    print(md)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "policies_seeds.json"), "wb") as f:
        f.write(orjson.dumps({"scenario": scenario, "seeds": seeds, "mean": mean,
                              "rows": [{"policy": p, "seed": sd, **r} for (p, sd), r in rows.items()]},
                             option=orjson.OPT_INDENT_2) + b"\n")
    with open(os.path.join(out, "policies_seeds.md"), "w") as f:
        f.write(f"# Policy comparison on `{scenario}`, seeds {seeds}\n\n{md}\n")
    return mean
