"""The routing protocol's helpers: the pure ``inserted_route`` gives the route
``apply_insertion`` makes in place; the insertion baseline answers None to the verbs
it does not support (the rest of the protocol: test_strategy_conformance.py)."""

from __future__ import annotations

import pytest

from fleetstream.operators.dispatch import InsertionStrategy, apply_insertion, inserted_route
from engine_gen import T0, dist, scene, tt


def test_insertion_strategy_unsupported_verbs_answer_none():
    s, strat = scene(1), InsertionStrategy()
    assert strat.config is None
    assert strat.plan(s.depot, s.depot_orders, {}, T0, tt, dist) is None
    v = s.vehicles[0]
    assert strat.reroute_result(v, s.orders, T0, tt, dist) is None
    assert strat.redispatch(v, [v.route[0][0]], s.vehicles[1:], s.orders, T0, tt, dist) is None


@pytest.mark.parametrize("seed", range(6))
def test_inserted_route_is_pure_and_matches_apply(seed):
    s = scene(seed)
    strat = InsertionStrategy()
    for o in s.pending:
        ins, _rej = strat.insert(o, s.vehicles, s.orders, T0, tt, dist)
        assert ins is not None and ins.order_id == o.id
        v = next(w for w in s.vehicles if w.id == ins.vehicle_id)
        before = list(v.route)
        new = inserted_route(v.route, ins)
        assert v.route == before, "inserted_route mutated the route"
        assert len(new) == len(before) + len(ins.positions)
        apply_insertion(v, o, ins)
        assert v.route == new and o.vehicle_id == v.id
        # pickup (if any) before its delivery
        kinds = [k for oid, k in new if oid == o.id]
        assert kinds == (["pickup", "delivery"] if len(ins.positions) == 2 else ["delivery"])


def test_inserted_route_needs_the_order_id():
    s = scene(0)
    ins, _ = InsertionStrategy().insert(s.pending[0], s.vehicles, s.orders, T0, tt, dist)
    from dataclasses import replace
    with pytest.raises(ValueError):
        inserted_route([], replace(ins, order_id=""))
