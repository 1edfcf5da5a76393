"""Promise keeping in the cheapest insertion (operators/dispatch.py ``best_insertion``
and, for a driver with a break still to take, operators/dispatch_breaks.py):
``Timing.delay_price`` (engine.insertion_delay_price) prices how much later the stops
after a new one arrive, and ``Timing.min_pos`` (the frozen head) holds on both paths."""

from __future__ import annotations

from fleetstream.operators import dispatch
from fleetstream.operators.state import DELIVERY, PICKUP

from tests.routing.test_breaks import DEPOT, T0, dist, north, order, tt, van

DAY = T0 + 8 * 3600


def _loaded(brk=None):
    """A van just east of the depot with five stops 10, 20, ..., 50 minutes north, then
    back to the depot: a new stop beside the first leg is as near the way back."""
    v = van(brk)
    v.pos, v.pos_ts = (DEPOT[0], DEPOT[1] + 0.004), T0
    stops = {f"s{i}": order(f"s{i}", north(10 * i), T0, DAY) for i in range(1, 6)}
    for o in stops.values():
        o.status, o.vehicle_id = "assigned", v.id
    v.route = [(oid, DELIVERY) for oid in stops]
    return v, stops


def _insert(v, orders, o, price=0.0, min_pos=0):
    timing = dispatch.route_timing(v, v.route, orders, v.pos, T0, tt)
    timing.delay_price, timing.min_pos = price, min_pos
    ins, why = dispatch.best_insertion(o, v, orders, T0, tt, dist, timing)
    assert ins is not None, why
    return ins


def test_without_a_price_a_new_order_goes_where_the_detour_is_least_ahead_of_everyone():
    v, orders = _loaded()
    new = order("n", (north(5)[0], DEPOT[1] + 0.01), T0, DAY)   # beside the first leg
    orders["n"] = new
    assert _insert(v, orders, new).positions == (0,)


def test_a_delay_price_sends_it_where_the_customers_already_promised_wait_least():
    v, orders = _loaded()
    new = order("n", (north(5)[0], DEPOT[1] + 0.01), T0, DAY)
    orders["n"] = new
    cheap = _insert(v, orders, new)
    priced = _insert(v, orders, new, price=28.0 / 3600)
    assert cheap.positions == (0,) and priced.positions == (5,), "nobody arrives later"
    assert priced.added_km > cheap.added_km           # it pays in km for the promises
    # after the last stop the price adds nothing; ahead of k stops, added seconds x k
    assert abs(priced.cost - _insert(v, orders, new, min_pos=5).cost) < 1e-9
    p = 28.0 / 3600
    soon = order("m", (north(15)[0], DEPOT[1] + 0.004), T0, T0 + 1200)   # only after s1
    orders["m"] = soon
    plain = _insert(v, orders, soon, min_pos=1)
    four = _insert(v, orders, soon, price=p, min_pos=1)       # 4 stops behind it
    assert four.positions == plain.positions == (1,)
    assert abs(four.cost - (plain.cost + plain.added_s * 4 * p)) < 1e-9


def test_a_pickup_and_delivery_pair_pays_for_the_stops_between_and_after_it():
    v, orders = _loaded()
    new = order("p", (north(15)[0], DEPOT[1] + 0.01), T0, DAY)
    new.kind, new.pickup, new.pickup_service_s = "on_demand", (north(5)[0], DEPOT[1] + 0.01), 60.0
    orders["p"] = new
    cheap = _insert(v, orders, new)
    priced = _insert(v, orders, new, price=200.0 / 3600)
    assert cheap.positions[1] < 5
    assert priced.positions == (5, 5)
    assert dispatch.pair_delay(0, 0, 5, 100.0, 0.0, DEPOT, T0, DEPOT, [], tt) == 500.0


def test_the_frozen_head_and_the_price_hold_for_a_driver_with_a_break_to_take():
    brk = (T0 + 2 * 3600, T0 + 4 * 3600, 1800.0)     # not yet taken: the re-timed path
    v, orders = _loaded(brk)
    new = order("n", (north(5)[0], DEPOT[1] + 0.01), T0, DAY)
    orders["n"] = new
    assert _insert(v, orders, new).positions == (0,)
    assert _insert(v, orders, new, min_pos=2).positions[0] >= 2, "inside the frozen head"
    assert _insert(v, orders, new, price=28.0 / 3600).positions == (5,)
    new = order("p", (north(15)[0], DEPOT[1] + 0.01), T0, DAY)
    new.kind, new.pickup, new.pickup_service_s = "on_demand", (north(5)[0], DEPOT[1] + 0.01), 60.0
    orders["p"] = new
    assert _insert(v, orders, new).positions[0] < 3
    assert _insert(v, orders, new, min_pos=3).positions[0] >= 3
    assert _insert(v, orders, new, price=200.0 / 3600).positions == (5, 5)


def test_promise_delay_sums_how_much_later_each_stop_arrives_with_a_new_sequence():
    from fleetstream.operators.zone.reoptimization import promise_delay
    v, orders = _loaded()
    same = promise_delay(v, list(v.route), orders, T0, tt)
    assert same == 0.0
    swapped = [v.route[4]] + v.route[:4]          # the farthest stop first
    old = dispatch.route_timing(v, v.route, orders, v.pos, T0, tt).arrive
    new = dispatch.route_timing(v, swapped, orders, v.pos, T0, tt).arrive
    want = sum(max(0.0, a - old[v.route.index(s)]) for s, a in zip(swapped, new))
    assert want > 0 and abs(promise_delay(v, swapped, orders, T0, tt) - want) < 1e-6


def test_a_re_optimization_that_breaks_promises_for_little_gain_is_not_made():
    """Closed loop (tiny): with a promise price no periodic re-optimization pays for the
    delays it would cause to customers already promised an ETA at a price this high."""
    from dataclasses import replace

    from fleetstream.contract.settings import EngineSettings
    from tests.routing.test_engine_routing import decisions, run

    def reopts(sim):
        return [d for d in decisions(sim) if d["status"] == "applied" and
                d["explanation"]["reasons"][0]["rule"] == "periodic_reoptimization"]

    unfrozen = EngineSettings(solver_workers=0, plan_frozen_s=0, plan_frozen_stops=0)
    base = run(unfrozen)
    assert reopts(base), "the scene must re-optimize without the price"
    priced = run(replace(unfrozen, promise_delay_price=1e6))
    assert not reopts(priced)
