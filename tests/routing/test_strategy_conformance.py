"""Every routing strategy obeys the protocol's rules (operators/routing/protocol.py):
it pickles, every verb is deterministic, no verb mutates its inputs, every emitted
plan, re-route, redispatch and insertion passes the independent checker, and a verb
without an answer returns None."""

from __future__ import annotations

import copy
import pickle
from dataclasses import asdict, is_dataclass

import pytest

from fleetstream.operators.dispatch import InsertionStrategy, RoutingStrategy, inserted_route
from fleetstream.operators.routing.checker import check_plan, check_route
from fleetstream.operators.routing.engine_adapter import RoutingConfig, build_problem
from fleetstream.operators.routing.protocol import VERBS
from fleetstream.operators.routing.solver import Budget
from fleetstream.operators.routing.strategy import ORToolsStrategy, PyVRPStrategy
from fleetstream.operators.state import ASSIGNED
from engine_gen import T0, dist, make_late, scene, tt

STRATEGIES = [InsertionStrategy(), ORToolsStrategy(),
              ORToolsStrategy(RoutingConfig(learned_pace=True, redispatch_change_cost=0.0),
                              name="ortools-routing-1-eager"),
              PyVRPStrategy(),
              # Without the fairness term PyVRP expresses the zone plan: the PyVRP path.
              PyVRPStrategy(RoutingConfig(fairness_cost_per_stop=0.0,
                                          plan_budget=Budget(solution_limit=300, iterations=500)),
                            name="pyvrp-routing-1-nofair")]
SEEDS = (0, 1, 2)


def ids(s) -> str:
    return s.name


def state(sc) -> list:
    """Everything the verbs could touch: every slot of every vehicle and order."""
    objs = sc.vehicles + sc.depot + [sc.orders[k] for k in sorted(sc.orders)]
    return [(type(o).__name__, {k: copy.deepcopy(getattr(o, k, None)) for k in o.__slots__})
            for o in objs]


def norm(x):
    """A verb's answer as plain data (wall-clock figures dropped)."""
    if isinstance(x, tuple):
        return tuple(norm(y) for y in x)
    if is_dataclass(x):
        d = asdict(x)
        if isinstance(d.get("stats"), dict):
            d["stats"] = {k: v for k, v in d["stats"].items() if k != "seconds"}
        return d
    if hasattr(x, "jobs") and hasattr(x, "vehicles"):  # a routing Problem
        return ([asdict(v) for v in x.vehicles], [asdict(j) for j in x.jobs])
    return x


def calls(sc):
    """(verb, args builder) for every verb on scene ``sc``."""
    active = sc.vehicles
    src = active[1]
    moving = list(dict.fromkeys(oid for oid, _k in src.route if sc.orders[oid].status == ASSIGNED))[:1]
    return [
        ("insert", lambda s: (s.pending[0], s.vehicles, s.orders, T0, tt, dist)),
        ("plan", lambda s: (s.depot, s.depot_orders, {}, T0, tt, dist)),
        ("reroute_result", lambda s: (s.vehicles[1], s.orders, T0, tt, dist)),
        ("redispatch", lambda s: (s.vehicles[1], list(moving), [w for w in s.vehicles if w.id != src.id],
                                  s.orders, T0, tt, dist)),
        ("reroute", lambda s: (s.vehicles[1], s.orders, T0, tt)),
    ]


def call(strat, verb, build, sc):
    return getattr(strat, verb)(*build(sc))


@pytest.mark.parametrize("strat", STRATEGIES, ids=ids)
def test_protocol_and_pickle_round_trip(strat):
    assert isinstance(strat, RoutingStrategy)
    assert all(callable(getattr(strat, v)) for v in VERBS)
    back = pickle.loads(pickle.dumps(strat))
    assert back == strat and type(back) is type(strat)
    sc = scene(0)
    for verb, build in calls(sc):
        assert norm(call(back, verb, build, sc.copy())) == norm(call(strat, verb, build, sc.copy())), verb


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("strat", STRATEGIES, ids=ids)
def test_deterministic_and_inputs_untouched(strat, seed):
    """Each verb twice on equal inputs gives equal answers, and leaves its inputs as
    they were (vehicles, routes, orders: every slot)."""
    sc = scene(seed)
    make_late(sc, 1)
    for verb, build in calls(sc):
        before = state(sc)
        first = norm(call(strat, verb, build, sc))
        assert state(sc) == before, f"{verb} mutated its inputs"
        assert norm(call(strat, verb, build, sc)) == first, f"{verb} twice"
        assert norm(call(strat, verb, build, sc.copy())) == first, f"{verb} on a copy"


def _problem(sc, vehicles):
    orders = {oid for v in vehicles for oid, _k in v.route}
    built = build_problem(vehicles, [sc.orders[o] for o in sorted(orders)],
                          {v.id: list(v.route) for v in vehicles}, T0, tt, dist, RoutingConfig())
    return built.problem


def _assert_route_ok(sc, v, seq, what):
    w = copy.copy(v)
    w.route = list(seq)
    rep = check_route(_problem(sc, [w]), v.id, [(oid, k) for oid, k in seq])
    assert rep.feasible, (what, [r.text for r in rep.violations][:3])


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("strat", STRATEGIES, ids=ids)
def test_emitted_routes_pass_the_checker(strat, seed):
    sc = scene(seed)
    make_late(sc, 0)
    for v in sc.vehicles:  # the scene itself is sound
        _assert_route_ok(sc, v, v.route, "scene")
    # insertion
    ins, rej = strat.insert(sc.pending[0], sc.vehicles, sc.orders, T0, tt, dist)
    assert ins is not None or rej.counts
    if ins is not None:
        v = next(w for w in sc.vehicles if w.id == ins.vehicle_id)
        _assert_route_ok(sc, v, inserted_route(v.route, ins), "insert")
    # zone plan
    out = strat.plan(sc.depot, sc.depot_orders, {}, T0, tt, dist)
    if out is not None:
        res, p = out
        rep = check_plan(p, res.routes, [u.job_id for u in res.unassigned])
        assert rep.feasible, [r.text for r in rep.violations][:3]
        assert res.stats["guard_hit"] is False
        routed = {s[0] for st in res.routes.values() for s in st}
        assert routed | {u.job_id for u in res.unassigned} == {o.id for o in sc.depot_orders}
    # re-routes
    for v in sc.vehicles:
        r = strat.reroute_result(v, sc.orders, T0, tt, dist)
        if r is not None:
            assert sorted(r.sequence) == sorted(v.route) and not r.guard_hit
            _assert_route_ok(sc, v, r.sequence, "reroute_result")
        seq = strat.reroute(v, sc.orders, T0, tt)
        if seq is not None:
            assert sorted(seq) == sorted(v.route)
            _assert_route_ok(sc, v, seq, "reroute")
    # redispatch
    src = sc.vehicles[1]
    movable = list(dict.fromkeys(oid for oid, _k in src.route if sc.orders[oid].status == ASSIGNED))
    res = strat.redispatch(src, movable, [w for w in sc.vehicles if w.id != src.id], sc.orders,
                           T0, tt, dist)
    if res is not None:
        assert res.action in ("move", "kept", "none") and not res.guard_hit
        by_id = {w.id: w for w in sc.vehicles}
        for vid, seq in res.routes.items():
            _assert_route_ok(sc, by_id[vid], seq, "redispatch")
        moved = {m.job_id for m in res.moves}
        assert moved <= set(movable)
        for m in res.moves:
            assert m.job_id not in {o for o, _k in res.routes[src.id]}
            assert m.job_id in {o for o, _k in res.routes[m.to_vehicle]}


@pytest.mark.parametrize("strat", STRATEGIES, ids=ids)
def test_no_answer_is_none(strat):
    """Unsupported verbs, and supported verbs with nothing to do, answer None."""
    sc = scene(4)
    short = sc.vehicles[-1]
    short.route = short.route[:1]
    assert strat.reroute_result(short, sc.orders, T0, tt, dist) is None
    assert strat.reroute(short, sc.orders, T0, tt) is None
    assert strat.plan([], sc.depot_orders, {}, T0, tt, dist) is None
    assert strat.redispatch(sc.vehicles[0], [], sc.vehicles[1:], sc.orders, T0, tt, dist) is None
    if strat.config is None:  # the insertion baseline: no plan, no re-route result, no redispatch
        assert strat.plan(sc.depot, sc.depot_orders, {}, T0, tt, dist) is None
        assert strat.reroute_result(sc.vehicles[1], sc.orders, T0, tt, dist) is None
        v = sc.vehicles[1]
        assert strat.redispatch(v, [v.route[0][0]], sc.vehicles[2:], sc.orders, T0, tt, dist) is None
