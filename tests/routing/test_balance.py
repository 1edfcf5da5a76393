"""Workload balance (operators/balance.py; docs/routing.md, "Workload balance"): the
weight at 0 is plain cheapest insertion, with a weight a light driver wins what a
loaded one would take, and the term is deterministic and exact."""

from __future__ import annotations

import random

import pytest
from engine_gen import CENTER, T0, dist, order, tt, vehicle
from fleetstream.operators.balance import Balance, peer_key, penalty, zone_balance
from fleetstream.operators.dispatch import InsertionStrategy, best_insertion, route_timing
from fleetstream.operators.state import DELIVERED, DELIVERY, ONBOARD


def _east(km: float) -> tuple[float, float]:
    return (CENTER[0], round(CENTER[1] + km / 68.0, 6))


def _scene(n_loaded: int = 12):
    """Two captive vans at the same spot: ``loaded`` with ``n_loaded`` orders done today
    and two on board, ``light`` with none; one pending on-demand order next to them."""
    rng = random.Random(5)
    loaded, light = vehicle("a_loaded", rng), vehicle("b_light", rng)
    for v in (loaded, light):
        v.pos = _east(1.0)
    orders = {}
    for i in range(n_loaded + 2):
        o = order(f"d{i:02d}", rng)
        o.window_start, o.window_end = T0 - 3600, T0 + 8 * 3600
        o.location = _east(1.0 + 0.1 * (i % 3))
        o.vehicle_id = loaded.id
        o.status = DELIVERED if i < n_loaded else ONBOARD
        orders[o.id] = o
    loaded.route = [(f"d{i:02d}", DELIVERY) for i in range(n_loaded, n_loaded + 2)]
    loaded.onboard = [oid for oid, _k in loaded.route]
    new = order("new", rng, kind="on_demand")
    new.window_start, new.window_end = T0, T0 + 6 * 3600
    new.pickup, new.location = _east(1.3), _east(1.5)
    orders[new.id] = new
    return loaded, light, orders, new


def _balance(weight: float, vehicles, orders) -> Balance:
    return zone_balance(weight, vehicles, orders, T0, lambda v: route_timing(
        v, v.route, orders, v.pos, T0, tt).end_ts)


def test_weight_zero_is_plain_cheapest_insertion() -> None:
    loaded, light, orders, new = _scene()
    plain, _ = InsertionStrategy().insert(new, [loaded, light], orders, T0, tt, dist)
    zero, _ = InsertionStrategy().insert(new, [loaded, light], orders, T0, tt, dist, None,
                                         _balance(0.0, [loaded, light], orders))
    assert plain is not None and zero == plain
    for v in (loaded, light):  # position by position, the same costs
        assert best_insertion(new, v, orders, T0, tt, dist,
                              balance=_balance(0.0, [loaded, light], orders)) == \
            best_insertion(new, v, orders, T0, tt, dist)


def test_a_light_driver_wins_a_tie_the_loaded_one_would_take() -> None:
    loaded, light, orders, new = _scene()
    # unbalanced: the loaded van's route passes by the order, so it is (a little) cheaper
    plain, _ = InsertionStrategy().insert(new, [loaded, light], orders, T0, tt, dist)
    assert plain is not None and plain.vehicle_id == loaded.id
    ins, rej = InsertionStrategy().insert(new, [loaded, light], orders, T0, tt, dist, None,
                                          _balance(10.0, [loaded, light], orders))
    assert ins is not None and ins.vehicle_id == light.id
    # the balance term is part of the costed alternatives: the loaded van costs more
    costs = {i.vehicle_id: i.cost for i in rej.costed}
    assert costs[loaded.id] > costs[light.id]


def test_a_far_light_driver_does_not_win_at_any_detour() -> None:
    """The weight trades against detour cost: a light van 30 km away stays unused."""
    loaded, light, orders, new = _scene()
    light.pos = light.end = _east(31.0)   # a real detour (not on its way home)
    ins, _ = InsertionStrategy().insert(new, [loaded, light], orders, T0, tt, dist, None,
                                        _balance(10.0, [loaded, light], orders))
    assert ins is not None and ins.vehicle_id == loaded.id


def test_peers_are_the_same_fleet_type_and_shift() -> None:
    loaded, light, orders, _new = _scene()
    rng = random.Random(1)
    gig = vehicle("c_gig", rng, fleet="gig")
    b = _balance(10.0, [loaded, light, gig], orders)
    assert peer_key(loaded) == peer_key(light) != peer_key(gig)
    # the gig courier alone in its group is its own mean (floored at 1 order); active
    # with an empty route, it has worked since its shift start (an hour)
    assert b.means(peer_key(gig)) == (1.0, 3600.0)
    assert b.means(peer_key(loaded))[0] == pytest.approx(7.0)   # (12 done + 2 on route) / 2


def test_term_is_the_exact_penalty_difference_and_convex() -> None:
    loaded, light, orders, _ = _scene()
    b = _balance(10.0, [loaded, light], orders)
    for vid in (loaded.id, light.id):
        a, bb, c = b.coefficients(vid)
        for dh in (0.0, 300.0, 1800.0):
            assert a + bb * dh + c * dh * dh == pytest.approx(b.cost(vid, 1.0, dh))
    assert b.cost(light.id, 1.0, 600.0) < 0 < b.cost(loaded.id, 1.0, 600.0)
    assert penalty(10.0, 5.0, 3600.0, 5.0, 3600.0) == 0.0
    # convex: at fixed peer means each further order costs a driver more than the last
    steps = [penalty(10.0, s + 1, 3600.0, 7.0, 3600.0) - penalty(10.0, s, 3600.0, 7.0, 3600.0)
             for s in range(0, 15)]
    assert all(b2 > b1 for b1, b2 in zip(steps, steps[1:]))
    # an insertion the sweep made is seen by the next order: the loaded van's load grows
    before = list(b.loads[loaded.id])
    b.add(loaded.id, 1.0, 300.0)
    assert b.loads[loaded.id] == [before[0] + 1, before[1] + 300.0]


def test_balance_is_deterministic_and_order_independent() -> None:
    loaded, light, orders, new = _scene()
    b1 = _balance(10.0, [loaded, light], orders)
    b2 = _balance(10.0, [light, loaded], dict(reversed(list(orders.items()))))
    assert b1.loads == b2.loads and b1.groups == b2.groups
    r1 = InsertionStrategy().insert(new, [loaded, light], orders, T0, tt, dist, None, b1)
    r2 = InsertionStrategy().insert(new, [loaded, light], orders, T0, tt, dist, None, b2)
    assert r1[0] == r2[0]
