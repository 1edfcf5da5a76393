"""The km price of the routing objective (``RoutingConfig.km_surcharge``, issue #9):
a re-sequencing that saves a little time or lateness by driving more km is not
worth deciding once a km costs more than the vehicle's own price; a worthwhile one
still is; the default (0) keeps every decision as it was."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from fleetstream.operators.routing.engine_adapter import RoutingConfig, build_problem
from fleetstream.operators.routing.strategy import ORToolsStrategy
from fleetstream.operators.state import Order, Vehicle
from fleetstream.operators.zone.response import reroute_pays
from tests.routing.line_world import T0, at, dist, parcel, vehicle

S, P1, P2, E = at(0), at(1), at(2), at(3)
FAST = {(S, P2), (P2, P1), (P1, E)}


def tt(a, b, ts: float) -> float:
    """A world where S -> P2 -> P1 -> E is quick (60 s a leg) and every other leg takes
    150 s: the longer sequence (5 km against 3) saves 270 s of driving."""
    if a == b:
        return 0.0
    return 60.0 if (a, b) in FAST else 150.0


def scene() -> tuple[Vehicle, dict[str, Order]]:
    v = vehicle(S, E)
    orders = {"o1": parcel("o1", P1), "o2": parcel("o2", P2)}
    v.route = [("o1", "delivery"), ("o2", "delivery")]   # 3 km, 450 s of driving
    v.onboard = ["o1", "o2"]
    return v, orders


def test_the_surcharge_is_added_to_every_vehicles_cost_per_km() -> None:
    v, orders = scene()
    for extra in (0.0, 0.5):
        b = build_problem([v], list(orders.values()), {"v": v.route}, T0, tt, dist,
                          RoutingConfig(km_surcharge=extra))
        assert b.problem.vehicles[0].cost_per_km == pytest.approx(0.35 + extra)
    with pytest.raises(ValueError):
        RoutingConfig(km_surcharge=-1.0)


def test_a_reroute_that_buys_a_little_time_with_km_is_not_taken_at_a_km_price() -> None:
    v, orders = scene()
    # Default: 270 s saved (2.10 at 28/h) beats 2 km more at 0.35 (0.70): re-sequenced.
    r = ORToolsStrategy(RoutingConfig()).reroute_result(v, orders, T0, tt, dist)
    assert r is not None and r.changed
    assert [s[0] for s in r.sequence] == ["o2", "o1"]
    assert r.cost_before - r.cost_after == pytest.approx(2.10 - 0.70, abs=0.01)
    # At a km price of 0.35 + 1.0 the 2 km cost 2.70 > 2.10: the sequence stays.
    r = ORToolsStrategy(RoutingConfig(km_surcharge=1.0)).reroute_result(v, orders, T0, tt, dist)
    assert r is not None and not r.changed


def timing(lateness_s: float) -> SimpleNamespace:
    return SimpleNamespace(lateness_s=lateness_s)


TRAVEL = SimpleNamespace(dist=dist)


def test_a_late_risk_reroute_must_save_more_lateness_than_its_km_cost() -> None:
    v, orders = scene()
    cur, longer = list(v.route), [("o2", "delivery"), ("o1", "delivery")]   # +2 km
    priced = RoutingConfig(km_surcharge=1.0)   # 2 km x (0.35 + 1.0) = 2.70
    # 30 s less lateness (1.00 at 2 per minute) is not worth 2.70 of km ...
    assert not reroute_pays(v, cur, longer, timing(90.0), timing(60.0), orders, TRAVEL, priced)
    # ... 10 minutes (20.00) are
    assert reroute_pays(v, cur, longer, timing(900.0), timing(300.0), orders, TRAVEL, priced)
    # the default (no km price) takes any lateness saved, as before
    assert reroute_pays(v, cur, longer, timing(90.0), timing(60.0), orders, TRAVEL,
                        RoutingConfig())
    assert reroute_pays(v, cur, longer, timing(90.0), timing(60.0), orders, TRAVEL, None)
    # no lateness saved: never; fewer km: the lateness alone decides
    assert not reroute_pays(v, cur, longer, timing(60.0), timing(60.0), orders, TRAVEL, priced)
    assert reroute_pays(v, longer, cur, timing(90.0), timing(89.0), orders, TRAVEL, priced)
