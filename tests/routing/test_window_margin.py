"""The window margin of the routing objective (``RoutingConfig.window_margin_s``,
``engine.routing_window_margin_s``, issue #9): lateness is costed from the window end
less the margin, never before the window start; a route that arrives just before a
window end is then worth changing for one with slack; the default (0) keeps every
problem as it was."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fleetstream.contract.engine_settings import EngineSettings
from fleetstream.operators.routing.engine_adapter import RoutingConfig, build_problem
from fleetstream.operators.routing.strategy import ORToolsStrategy
from fleetstream.operators.state import Order, Vehicle
from fleetstream.operators.zone.engine import routing_config
from fleetstream.policies import PREDICTIVE_ROUTING, policy_routing, policy_settings
from tests.routing.line_world import T0, at, dist, parcel, vehicle


def tt(a, b, ts: float) -> float:
    """100 s a km."""
    return dist(a, b) / 10.0


S, P1, P2, E = at(0), at(1), at(2), at(3)


def scene(o2_end: float = T0 + 300) -> tuple[Vehicle, dict[str, Order]]:
    """S -> P1 -> P2 -> E drives 3 km and reaches o2 at 260 s, 40 s before its window
    end; S -> P2 -> P1 -> E drives 5 km and reaches it at 200 s."""
    v = vehicle(S, E)
    orders = {"o1": parcel("o1", P1, T0 - 3600, T0 + 6 * 3600),
              "o2": parcel("o2", P2, T0 - 3600, o2_end)}
    v.route = [("o1", "delivery"), ("o2", "delivery")]
    v.onboard = ["o1", "o2"]
    return v, orders


def windows(margin: float, orders: dict[str, Order], v: Vehicle) -> dict[str, tuple]:
    b = build_problem([v], list(orders.values()), {"v": v.route}, T0, tt, dist,
                      RoutingConfig(window_margin_s=margin))
    return {j.id: j.window for j in b.problem.jobs}


def test_the_window_end_moves_earlier_by_the_margin_never_before_its_start() -> None:
    v, orders = scene()
    orders["o3"] = parcel("o3", P1, T0 + 1000, T0 + 1200)      # a 200 s window
    v.route.append(("o3", "delivery"))
    assert windows(0.0, orders, v) == {"o1": (0.0, 6 * 3600.0), "o2": (0.0, 300.0),
                                       "o3": (1000.0, 1200.0)}
    assert windows(300.0, orders, v) == {"o1": (0.0, 6 * 3600.0 - 300), "o2": (0.0, 0.0),
                                         "o3": (1000.0, 1000.0)}


@pytest.mark.parametrize("bad", [-1.0, float("inf"), float("nan")])
def test_a_negative_or_non_finite_margin_is_refused(bad: float) -> None:
    with pytest.raises(ValueError):
        RoutingConfig(window_margin_s=bad)
    with pytest.raises(ValueError):
        EngineSettings(routing_window_margin_s=bad)


def test_the_engine_setting_reaches_the_routing_configuration() -> None:
    assert routing_config(EngineSettings()).window_margin_s == 0.0
    assert routing_config(EngineSettings(routing_window_margin_s=120.0)).window_margin_s == 120.0


def test_the_predictive_policy_plans_with_its_margin_unless_the_settings_chose_one() -> None:
    margin = PREDICTIVE_ROUTING["routing_window_margin_s"]
    assert margin > 0
    assert policy_routing("predictive", policy_settings("predictive", EngineSettings())) \
        .window_margin_s == margin
    for p in ("static", "reactive"):
        assert policy_routing(p, policy_settings(p, EngineSettings())).window_margin_s == 0.0
    mine = EngineSettings(routing_window_margin_s=60.0)
    assert policy_settings("predictive", mine).routing_window_margin_s == 60.0


def test_a_route_arriving_just_before_a_window_end_is_changed_for_one_with_slack() -> None:
    v, orders = scene()
    cfg = RoutingConfig(lateness_cost_per_min=10.0)
    keep = ORToolsStrategy(cfg).reroute_result(v, orders, T0, tt, dist)
    assert keep is not None and not keep.changed              # on time, 3 km: keep it
    slack = ORToolsStrategy(replace(cfg, window_margin_s=300.0)).reroute_result(
        v, orders, T0, tt, dist)
    assert slack is not None and slack.changed
    assert [oid for oid, _k in slack.sequence] == ["o2", "o1"]
