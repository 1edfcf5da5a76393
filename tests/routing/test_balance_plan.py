"""The zone plan pursues the same balance as insertion (docs/routing.md, "Workload
balance"): ``routing_config`` derives the plan's balance from ``engine.balance_weight``
(0: none), as a cap of each depot vehicle's orders at ``PLAN_SHARE_SLACK`` x its peers'
fair share (``RoutingConfig.plan_share_slack``), with no per-stop fairness cost."""

from __future__ import annotations

import math
import random

from engine_gen import T0, dist, order, tt, vehicle
from fleetstream.contract.settings import EngineSettings
from fleetstream.operators.routing.engine_adapter import build_problem, share_caps
from fleetstream.operators.routing.strategy import ORToolsStrategy
from fleetstream.operators.state import ACTIVE, PENDING
from fleetstream.operators.zone.engine import PLAN_SHARE_SLACK, routing_config

N_VANS, N_ORDERS = 4, 24


def _depot_day(seed: int = 3):
    """Four captive vans at the depot, 24 parcels with all-day windows."""
    rng = random.Random(seed)
    vans = [vehicle(f"d{i}", rng, active=False) for i in range(N_VANS)]
    orders = []
    for k in range(N_ORDERS):
        o = order(f"p{k:02d}", rng, "parcel", k)
        o.window_start, o.window_end, o.status = T0 - 3600, T0 + 8 * 3600, PENDING
        orders.append(o)
    return vans, orders


def _plan_loads(weight: float) -> list[int]:
    vans, orders = _depot_day()
    strat = ORToolsStrategy(routing_config(EngineSettings(balance_weight=weight)))
    res, _p = strat.plan(vans, orders, {}, T0 - 1800, tt, dist)
    assert not res.unassigned
    return sorted(sum(1 for _o, k in res.routes.get(v.id, []) if k == "delivery") for v in vans)


def test_the_plan_balance_follows_the_weight() -> None:
    off = routing_config(EngineSettings(balance_weight=0.0))
    on = routing_config(EngineSettings(balance_weight=60.0))
    assert off.plan_share_slack == 0.0 and off.fairness_cost_per_stop == 0.0
    assert on.plan_share_slack == PLAN_SHARE_SLACK > 1.0 and on.fairness_cost_per_stop == 0.0


def test_a_depot_vehicle_is_capped_at_its_peers_fair_share() -> None:
    vans, orders = _depot_day()
    cfg = routing_config(EngineSettings(balance_weight=60.0))
    built = build_problem(vans, orders, {}, T0 - 1800, tt, dist, cfg)
    cap = math.ceil(PLAN_SHARE_SLACK * N_ORDERS / N_VANS)
    assert [v.capacity["count"] for v in built.problem.vehicles] == [cap] * N_VANS
    # a vehicle already holding more keeps room for what it has; an active vehicle
    # (re-route, redispatch) and a one-vehicle problem are never capped
    vans[0].route = [(o.id, "delivery") for o in orders[:10]]
    caps = share_caps(vans, N_ORDERS, {vans[0].id: vans[0].route}, PLAN_SHARE_SLACK)
    assert caps[vans[0].id] == 10 and caps[vans[1].id] == cap
    vans[1].status = ACTIVE
    assert vans[1].id not in share_caps(vans, N_ORDERS, {}, PLAN_SHARE_SLACK)
    assert share_caps(vans[:1], N_ORDERS, {}, PLAN_SHARE_SLACK) == {}
    assert share_caps(vans, N_ORDERS, {}, 0.0) == {}


def test_with_the_weight_the_plan_spreads_the_orders() -> None:
    unbalanced = _plan_loads(0.0)
    balanced = _plan_loads(60.0)
    cap = math.ceil(PLAN_SHARE_SLACK * N_ORDERS / N_VANS)
    assert max(unbalanced) > cap          # the cheapest plan loads a few vans
    assert max(balanced) <= cap and min(balanced) >= N_ORDERS - 3 * cap
