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

import sys
import time
from dataclasses import replace

from fleetstream.contract.settings import EngineSettings, Settings
from fleetstream.engine import LocalEngine
from fleetstream.operators.routing.engine_adapter import RoutingConfig
from fleetstream.operators.routing.strategy import ORToolsStrategy
from fleetstream.operators.zone.engine import routing_config
from fleetstream.sim.loop import Simulation
from fleetstream.sim.world import Scenario
from fleetstream.wiring import build_zone_engine

POLICIES = ("static", "reactive", "predictive")
KPI_COLUMNS = (
    "on_time_rate",
    "failed_attempts",
    "not_served",
    "stranded",
    "km",
    "cost",
    "overtime_h",
    "decisions",
    "stops_per_driver_spread",
)


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


def run_policy(
    scenario: str, policy: str, settings: Settings, seed: int | None = None, progress: bool = False
) -> dict:
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
        print(
            f"  {policy:<11} on-time {100 * k['on_time_rate']:.1f} %  km {k['km']:,.0f}  "
            f"({k['seconds']} s)",
            file=sys.stderr,
            flush=True,
        )
    return k


def compare_seeds(
    scenario: str,
    policies: list[str],
    seeds: list[int],
    settings: Settings | None = None,
    progress: bool = True,
) -> dict[int, dict[str, dict]]:
    """The closed loop of every policy on every seed: ``{seed: {policy: kpis}}``.

    Each seed is a different world (orders, customers, incidents, breakdowns,
    driver pace); within a seed every policy faces the same world.  Aggregation
    over seeds (mean, sd, per seed, differences) and the report are in
    ``fleetstream.report`` (``fleetstream evaluate --policies ... --seeds ...``)."""
    settings = settings or Settings()
    for p in policies:
        policy_settings(p, settings.engine)  # unknown policy: ValueError before any run
    out: dict[int, dict[str, dict]] = {}
    for i, sd in enumerate(seeds):
        if progress:
            print(f"  seed {sd} ({i + 1}/{len(seeds)})", file=sys.stderr, flush=True)
        out[sd] = {p: run_policy(scenario, p, settings, sd, progress) for p in policies}
    return out
