"""Closed-loop policy comparison: the same simulated day under different engines.

- ``static``: the OR-Tools zone plan at shift start, then cheapest insertion for new
  orders; re-route, periodic re-optimization and redispatch off (alerts only);
- ``reactive``: plus re-route, periodic re-optimization sweeps (every 30 min) and
  redispatch, triggered by the rule-based seats (provider ETAs, slack rule) at the
  default thresholds;
- ``predictive``: the same routing driven by the learned models (River ETA, risk and
  interval seats), re-optimization sweeps every 15 min, re-routes that scale each
  driver's travel times by the pace learned from its finished legs, and plans,
  insertions and re-routes on the travel times learned from the zone's finished legs
  (``engine.routing_learned_travel``) instead of the provider x the planning buffer;
  failure-risk alerts (customers contacted ahead) from 0.2, deliveries with an
  alert or a retry moved once to where they are less likely to fail, and windows
  planned in the customer's stated hours (:data:`PREDICTIVE_RISK`), and a km price
  on top of each vehicle's cost per km (:data:`PREDICTIVE_KM_SURCHARGE`), and routes
  planned to arrive 10 minutes before each window end (:data:`PREDICTIVE_ROUTING`).
  (Lower late-risk thresholds were tried and did worse on the disrupted day.)

Autonomy: every policy decides with the autonomy levels of the settings
(``engine.autonomy_assign``, ``_reroute``, ``_redispatch``; the simulated dispatcher
answers proposals, docs/governance.md).  ``static`` turns re-route and redispatch
``off`` only where the settings keep the default (``auto``): a level the settings chose
(``propose``) is kept, and said on stderr (:func:`policy_notes`).  Each run's levels
and its decisions per kind and status are in its KPIs (``autonomy``,
``decision_statuses``: ``policies.json`` ``per_seed``).

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

from fleetstream.contract.outputs import TOPIC_DECISIONS
from fleetstream.contract.settings import EngineSettings, Settings
from fleetstream.engine import LocalEngine
from fleetstream.operators.routing.engine_adapter import RoutingConfig
from fleetstream.operators.routing.strategy import ORToolsStrategy
from fleetstream.operators.zone.engine import BalancedORToolsStrategy, routing_config
from fleetstream.sim.loop import Simulation
from fleetstream.sim.world import Scenario
from fleetstream.wiring import build_zone_engine

POLICIES = ("static", "reactive", "predictive")
KPI_COLUMNS = (
    "on_time_rate",
    "delivered_on_time_rate",
    "failed_attempts",
    "orders_failed",
    "not_served",
    "contacted",
    "stranded",
    "km",
    "cost",
    "overtime_h",
    "decisions",
    "stops_per_driver_spread",
)


# What each policy changes in the settings' autonomy levels where they keep the default.
POLICY_AUTONOMY: dict[str, dict[str, str]] = {
    "static": {"reroute": "off", "redispatch": "off"},
    "reactive": {},
    "predictive": {},
}
AUTONOMY_KINDS = ("assign", "reroute", "redispatch")

# What the predictive policy does with the failure risk, where the settings keep the
# default: customers are contacted ahead from a predicted risk of 0.2 (the alert), a
# delivery with an alert or a retry moves once on its route to where risk x 30 +
# route cost is least, and a window reaching outside the customer's stated hours is
# planned in its longest stretch inside them when that is at least an hour
# (docs/governance.md, "Contact ahead", "Planning in the stated hours"; measured in
# docs/models-risk.md, "In the closed loop").
PREDICTIVE_RISK = {"failure_risk_on": 0.2, "failure_attempt_cost": 30.0,
                   "plan_stated_hours_s": 3600.0}

# The predictive policy's km price on top of each vehicle's own cost per km in the
# routing objective (RoutingConfig.km_surcharge; docs/routing-policies.md, "The km
# price"): plans, re-routes, re-optimizations and redispatch buy a km only for a larger
# saving of time or lateness.
PREDICTIVE_KM_SURCHARGE = 2.0

# The predictive policy's routing settings, where the settings keep the default: plans,
# insertions and re-routes on the travel times learned from the zone's finished legs,
# re-routes with each driver's learned pace, re-optimization every 15 minutes, the km
# price above, and lateness costed from 10 minutes before each window end
# (engine.routing_window_margin_s; docs/routing-policies.md, "The window margin"): a
# route keeps slack against legs that run longer than the learned times.  With
# PREDICTIVE_RISK these are the whole policy as engine settings: a settings file with
# them runs the policy live (docs/settings/predictive.toml).
PREDICTIVE_ROUTING = {"routing_learned_travel": True, "routing_learned_pace": True,
                      "routing_reopt_interval_s": 900.0,
                      "routing_km_surcharge": PREDICTIVE_KM_SURCHARGE,
                      "routing_window_margin_s": 600.0}


def _policy_changes(policy: str, base: EngineSettings) -> tuple[dict[str, str], list[str]]:
    """(settings the policy changes, notes on the levels the settings keep against it)."""
    if policy not in POLICY_AUTONOMY:
        raise ValueError(f"unknown policy {policy!r} (known: {', '.join(POLICIES)})")
    default = EngineSettings()
    changes: dict[str, str] = {}
    notes: list[str] = []
    for kind, level in POLICY_AUTONOMY[policy].items():
        name = f"autonomy_{kind}"
        mine = getattr(base, name)
        if mine == getattr(default, name):
            changes[name] = level
        elif mine != level:
            notes.append(f"policy {policy}: engine.{name}={mine} from the settings is kept "
                         f"(the policy alone would use {level})")
    return changes, notes


def policy_settings(policy: str, base: EngineSettings) -> EngineSettings:
    """The engine settings of ``policy``: ``base`` with the policy's autonomy levels
    where ``base`` keeps the default; every other setting, and every autonomy level
    ``base`` chose, as given.  ``predictive`` also acts on the failure risk
    (:data:`PREDICTIVE_RISK`) and routes with its own settings (:data:`PREDICTIVE_ROUTING`:
    learned travel times and pace, re-optimization every 15 minutes, the km price, the
    window margin), each where ``base`` keeps the default."""
    changes: dict = dict(_policy_changes(policy, base)[0])
    if policy == "predictive":
        default = EngineSettings()
        for name, value in {**PREDICTIVE_RISK, **PREDICTIVE_ROUTING}.items():
            # where the settings keep the default
            if getattr(base, name) == getattr(default, name):
                changes[name] = value
    return replace(base, **changes) if changes else base


def policy_notes(policy: str, base: EngineSettings) -> list[str]:
    """One line per autonomy level of ``base`` that differs from what ``policy`` would
    use on its own (kept: the settings win)."""
    return _policy_changes(policy, base)[1]


def autonomy_of(es: EngineSettings) -> dict[str, str]:
    return {k: es.autonomy(k) for k in AUTONOMY_KINDS}


def policy_routing(policy: str, es: EngineSettings | None = None) -> RoutingConfig:
    """The routing configuration of ``policy`` on the engine settings ``es`` (default:
    the defaults): the engine's own ``routing_*`` settings after :func:`policy_settings`
    (static never re-optimizes: its reroute autonomy is off)."""
    return routing_config(policy_settings(policy, es or EngineSettings()))


def run_policy(
    scenario: str, policy: str, settings: Settings, seed: int | None = None, progress: bool = False,
    contact_reply: float = 0.0, timezone: str | None = None, road_map: str | None = None,
) -> dict:
    es = policy_settings(policy, settings.engine)
    models = "baseline" if policy in ("static", "reactive") else "learned"

    routing = policy_routing(policy, es)

    # the engine's own plan strategy (balanced zone plans when balance_weight > 0,
    # operators/zone/engine.py default_strategy) with the policy's routing configuration
    strategy_cls = BalancedORToolsStrategy if es.balance_weight > 0 else ORToolsStrategy

    def factory(zone: str):
        eng = build_zone_engine(zone, es, kind=models)
        eng.strategy = strategy_cls(routing)
        return eng

    sc = Scenario.preset(scenario, seed, road_map=road_map)
    if contact_reply:
        sc = replace(sc, contact_reply=contact_reply)
    if timezone is not None:
        sc = replace(sc, timezone=timezone)
    sim = Simulation(sc, LocalEngine(es, zone_factory=factory))
    t0 = time.perf_counter()
    sim.run()
    k = sim.kpis()
    k["seconds"] = round(time.perf_counter() - t0, 1)
    k["autonomy"] = autonomy_of(es)
    statuses: dict[str, int] = {}
    for topic, _key, rec in sim.outputs:
        if topic == TOPIC_DECISIONS:
            ks = f"{rec['kind']}/{rec['status']}"
            statuses[ks] = statuses.get(ks, 0) + 1
    k["decision_statuses"] = dict(sorted(statuses.items()))
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
    contact_reply: float = 0.0,
    timezone: str | None = None,
    road_map: str | None = None,
) -> dict[int, dict[str, dict]]:
    """The closed loop of every policy on every seed: ``{seed: {policy: kpis}}``.

    Each seed is a different world (orders, customers, incidents, breakdowns,
    driver pace); within a seed every policy faces the same world.  Aggregation
    over seeds (mean, sd, per seed, differences) and the report are in
    ``fleetstream.report`` (``fleetstream evaluate --policies ... --seeds ...``)."""
    settings = settings or Settings()
    for p in policies:
        for note in policy_notes(p, settings.engine):  # unknown policy: ValueError first
            print(f"  {note}", file=sys.stderr, flush=True)
    out: dict[int, dict[str, dict]] = {}
    for i, sd in enumerate(seeds):
        if progress:
            print(f"  seed {sd} ({i + 1}/{len(seeds)})", file=sys.stderr, flush=True)
        out[sd] = {p: run_policy(scenario, p, settings, sd, progress, contact_reply, timezone,
                                 road_map)
                   for p in policies}
    return out
