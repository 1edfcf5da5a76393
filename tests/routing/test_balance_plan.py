"""Workload balance of the zone plan (docs/routing.md, "Workload balance";
``operators.balance.balanced_plan``): the unbalanced plan decides the fleet-type split;
within each peer group every depot vehicle is capped at ``ceil(PLAN_SLACK x N_g / n_g)``
orders and the plan is solved again; the balanced plan is kept only if it has no more
late stops, no more orders left out and at most ``PLAN_KM_TOLERANCE`` more distance."""

from __future__ import annotations

import math
import random

from engine_gen import CENTER, T0, dist, order, tt, vehicle
from fleetstream.contract.settings import EngineSettings
from fleetstream.operators.balance import PLAN_SLACK, balanced_plan, late_stops, split_caps
from fleetstream.operators.routing.engine_adapter import RoutingConfig
from fleetstream.operators.routing.solver import Budget
from fleetstream.operators.routing.strategy import ORToolsStrategy, PyVRPStrategy
from fleetstream.operators.state import ACTIVE, PENDING
from fleetstream.operators.zone.engine import default_strategy

# fairness cost 0: the cheapest plan puts every parcel on one van (a star around the depot)
CHEAPEST = ORToolsStrategy(RoutingConfig(fairness_cost_per_stop=0.0,
                                          plan_budget=Budget(solution_limit=60)))
N = 20


def _depot_day(seed: int = 1, n_cap: int = 4, n_3pl: int = 2, n: int = N):
    """Captive and 3PL vans at the depot, ``n`` parcels with all-day windows."""
    rng = random.Random(seed)
    vans = ([vehicle(f"c{i}", rng, active=False) for i in range(n_cap)]
            + [vehicle(f"t{i}", rng, "3pl", active=False) for i in range(n_3pl)])
    for v in vans[n_cap:]:
        v.cost_per_km, v.cost_per_hour = 0.45, 24.0
    orders = []
    for k in range(n):
        o = order(f"p{k:02d}", rng, "parcel", k)
        o.window_start, o.window_end, o.status = T0 - 3600, T0 + 8 * 3600, PENDING
        orders.append(o)
    return vans, orders


def _loads(res, vans) -> dict[str, int]:
    return {v.id: len({oid for oid, _k in res.routes.get(v.id, [])}) for v in vans}


def test_caps_follow_the_unbalanced_split_within_each_peer_group() -> None:
    vans, _orders = _depot_day()
    routes = {"c0": [(f"p{k:02d}", "delivery") for k in range(20)],
              "c1": [("p20", "delivery")], "t0": [(f"p{k}", "delivery") for k in range(21, 30)]}
    caps = split_caps(vans, routes, {})
    # captive: 21 orders over 4 vans; 3PL: 9 over 2 (never pooled with the captive ones)
    assert [caps[f"c{i}"] for i in range(4)] == [math.ceil(PLAN_SLACK * 21 / 4)] * 4
    assert caps["t0"] == caps["t1"] == math.ceil(PLAN_SLACK * 9 / 2)
    # a van holding more keeps room for it; an active van and a lone group are not capped
    caps = split_caps(vans, routes, {"c2": [(f"p{k:02d}", "delivery") for k in range(8)]})
    assert caps["c2"] == 8 and caps["c3"] == math.ceil(PLAN_SLACK * 21 / 4)
    vans[5].status = ACTIVE
    assert "t0" not in split_caps(vans, routes, {}) and "t1" not in split_caps(vans, routes, {})
    assert split_caps(vans, routes, {}, slack=0.0) == {}


def test_the_balanced_plan_spreads_the_orders_and_keeps_the_split() -> None:
    vans, orders = _depot_day()
    base, _p = CHEAPEST.plan(vans, orders, {}, T0 - 1800, tt, dist)
    before = _loads(base, vans)
    assert max(before.values()) == N           # the cheapest plan: one van takes all
    res, p = balanced_plan(CHEAPEST, vans, orders, {}, T0 - 1800, tt, dist, km_tolerance=1.0)
    after = _loads(res, vans)
    assert res.stats["plan_balance"]["kept"] == "balanced"
    assert not res.unassigned and sum(after.values()) == N
    cap = math.ceil(PLAN_SLACK * N / 4)
    assert max(after[f"c{i}"] for i in range(4)) <= cap and min(after.values()) == 0
    assert after["t0"] == after["t1"] == 0     # the 3PL share stays the unbalanced plan's
    assert late_stops(p, res.routes) <= late_stops(p, base.routes)


def test_a_balanced_plan_longer_than_the_tolerance_is_not_kept() -> None:
    vans, orders = _depot_day(2)
    base, _p = CHEAPEST.plan(vans, orders, {}, T0 - 1800, tt, dist)
    res, _p = balanced_plan(CHEAPEST, vans, orders, {}, T0 - 1800, tt, dist)
    info = res.stats["plan_balance"]
    assert info["kept"] == "unbalanced" and info["reason"] == "more distance than the tolerance"
    assert info["km"][1] > 1.03 * info["km"][0]
    assert res.routes == base.routes


def test_a_balanced_plan_with_more_late_stops_is_not_kept() -> None:
    """Two peers, one starting 33 km away: the parcels near the depot are due within
    the hour, so capping the near van would make the far one late."""
    rng = random.Random(5)
    vans = [vehicle(f"c{i}", rng, active=False) for i in range(2)]
    vans[1].start = (CENTER[0] + 0.3, CENTER[1])
    orders = []
    for k in range(10):
        o = order(f"p{k:02d}", rng, "parcel", k)
        o.location = (CENTER[0] + rng.uniform(-0.01, 0.01), CENTER[1] + rng.uniform(-0.01, 0.01))
        o.window_start, o.window_end, o.status = T0 - 3600, T0 + 3600, PENDING
        orders.append(o)
    res, p = balanced_plan(CHEAPEST, vans, orders, {}, T0 - 1800, tt, dist, km_tolerance=10.0)
    info = res.stats["plan_balance"]
    assert info["kept"] == "unbalanced" and info["reason"] == "more late stops"
    assert info["late_stops"][1] > info["late_stops"][0] == late_stops(p, res.routes)
    assert _loads(res, vans) == {"c0": 10, "c1": 0}


def test_the_balanced_plan_is_deterministic() -> None:
    vans, orders = _depot_day(3)
    a, _ = balanced_plan(CHEAPEST, vans, orders, {}, T0 - 1800, tt, dist, km_tolerance=1.0)
    b, _ = balanced_plan(CHEAPEST, vans, orders, {}, T0 - 1800, tt, dist, km_tolerance=1.0)
    assert a.routes == b.routes and a.stats["plan_balance"] == b.stats["plan_balance"]


def test_the_engine_balances_its_plans_with_a_balance_weight() -> None:
    on = default_strategy(EngineSettings(balance_weight=60.0))
    off = default_strategy(EngineSettings(balance_weight=0.0))
    vans, orders = _depot_day(n=12)
    res, _p = on.plan(vans, orders, {}, T0 - 1800, tt, dist)
    assert "plan_balance" in res.stats
    res, _p = off.plan(vans, orders, {}, T0 - 1800, tt, dist)
    assert "plan_balance" not in res.stats
    assert isinstance(default_strategy(EngineSettings(routing_plan_backend="pyvrp")), PyVRPStrategy)
