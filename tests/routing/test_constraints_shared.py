"""One constraint implementation: insertion and plans ask operators/routing/constraints.py,
and the independent checker agrees with every insertion the engine makes.

- on seeded engine scenes (tests/routing/engine_gen.py) and on seeded routing problems
  (routing_gen.py), every (order, vehicle) pair: the insertion's static verdict is the
  first reason the checker reports for the same pair built by the engine adapter;
- every feasible insertion, applied, adds no violation the checker finds (hard
  windows, no overtime; same travel times rounded to the second: a tolerance of 1 s
  per leg); a stop already late before it stays no later;
- the same on the first 400 insertions the engine evaluates in a replay of
  replay_data/small (each asked again with the travel time frozen at its ``now``),
  and every zone plan of that replay carries the checker's verdict "feasible".
"""

from __future__ import annotations

import os
import random
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from fleetstream.operators import dispatch  # noqa: E402
from fleetstream.operators.routing import constraints as RC  # noqa: E402
from fleetstream.operators.routing.checker import check_route  # noqa: E402
from fleetstream.operators.routing.engine_adapter import RoutingConfig, build_problem  # noqa: E402
from fleetstream.operators.state import ACTIVE, AT_DEPOT, ONBOARD, PENDING  # noqa: E402
from engine_gen import dist, scene, tt  # noqa: E402
from routing_gen import random_problem  # noqa: E402

STRICT = RoutingConfig(lateness_cost_per_min=0.0, overtime_allowance_s=0.0)


def _verify(o, v, orders, now, travel, distance, ins, why) -> list[str]:
    """Disagreements between one insertion verdict and the checker (empty: agree)."""
    route = dispatch.inserted_route(v.route, ins) if ins is not None else list(v.route)
    ids = {oid for oid, _k in route} | {o.id} | set(v.onboard)
    b = build_problem([v], [orders[i] for i in sorted(ids) if i in orders], {v.id: route}, now,
                      travel, distance, STRICT)
    p = b.problem
    j, spec = p.job(o.id), p.vehicle(v.id)
    static = RC.static_reasons(j, spec, dispatch.HIGH_VALUE)
    out = []
    if ins is None and why in (RC.C_WINDOW, RC.C_SHIFT) or ins is not None:
        if static:
            out.append(f"{o.id}->{v.id}: insertion passed the static checks, checker says "
                       f"{static[0].constraint}")
    elif why and not why.startswith(RC.C_CAPACITY) and why != RC.C_COUNT:
        if not static or static[0].constraint != why:
            out.append(f"{o.id}->{v.id}: insertion says {why}, checker "
                       f"{[r.constraint for r in static]}")
    if ins is not None:
        # Insertion never makes a route worse: every violation after it was there
        # before (an already-late stop ahead of the insertion point stays as late).
        rep = check_route(p, v.id, route)
        legs = len(route) + 1
        before = {(r.constraint, r.job_id): r.amount or 0.0
                  for r in check_route(p, v.id, list(v.route)).violations}
        bad = [r for r in rep.violations
               if r.amount is None or (r.constraint, r.job_id) not in before and r.amount > legs
               or r.amount > before.get((r.constraint, r.job_id), 0.0) + legs]
        if bad:
            out.append(f"{o.id}->{v.id}: feasible insertion, checker: {[r.as_dict() for r in bad]}")
    return out


@pytest.mark.parametrize("seed", range(8))
def test_insertion_agrees_with_checker_on_engine_scenes(seed):
    sc = scene(seed, n_vehicles=4, stops=6, n_pending=4)
    rng = random.Random(seed)
    # Parcels too (only a vehicle still at the depot can take one).
    sc.pending += sc.depot_orders[:4]
    now = min(o.created_ts for o in sc.orders.values())
    # Requirements the scenes rarely have: skills, types, fleets, values.
    for o in sc.pending:
        if rng.random() < 0.4:
            o.skills = ["age_check"]
        if rng.random() < 0.2:
            o.vehicle_types = ["cargo_bike"]
        if rng.random() < 0.2:
            o.value = 900.0
    bad, feasible = [], 0
    for o in sc.pending:
        for v in sc.vehicles + sc.depot:
            ins, why = dispatch.best_insertion(o, v, sc.orders, now, tt, dist)
            feasible += ins is not None
            bad += _verify(o, v, sc.orders, now, tt, dist, ins, why)
    assert not bad, bad[:5]
    assert feasible  # the comparison is not vacuous


@pytest.mark.parametrize("seed", range(6))
def test_static_reasons_agree_on_generated_problems(seed):
    """The insertion's engine view and the plan's Job/VehicleSpec give the same first
    reason (the one implementation, two views of the same order)."""
    p = random_problem(seed, n_jobs=30, n_vehicles=6)
    from types import SimpleNamespace
    n = 0
    rng = random.Random(seed)
    for j in p.jobs:
        status = rng.choice([PENDING, PENDING, ONBOARD])
        o = SimpleNamespace(id=j.id, skills=list(j.skills), vehicle_types=list(j.vehicle_types),
                            fleet_types=list(j.fleet_types), value=j.value, size=j.size,
                            kind="parcel", status=status,
                            vehicle_id=rng.choice(p.vehicles).id if status == ONBOARD else None)
        j.depot_loaded = status != ONBOARD
        j.onboard_vehicle = o.vehicle_id
        req = RC.CustomerRequirements(max_vehicle_size=j.max_vehicle_size)
        for s in p.vehicles:
            s.at_depot = rng.random() < 0.7
            v = SimpleNamespace(id=s.id, skills=list(s.skills), vehicle_type=s.vehicle_type,
                                fleet_type=s.fleet_type, capacity=s.capacity,
                                status=AT_DEPOT if s.at_depot else ACTIVE, available=True)
            got = dispatch.static_reject(o, v, req)
            want = RC.static_reasons(j, s, p.high_value, p.gig_forbidden_age_check)
            assert got == (want[0].constraint if want else None), (j, s)
            n += got is not None
    assert n  # some pairs are rejected


@pytest.mark.slow
def test_checker_agrees_on_every_insertion_of_a_replay(tmp_path, monkeypatch):
    """Every insertion the engine evaluates while replaying replay_data/small."""
    from fleetstream.replay import run_replay
    seen: list = []
    real = dispatch.best_insertion

    def spy(o, v, orders, now, tt_, dist_, timing=None, *a, **kw):
        if len(seen) < 400:
            # The same question on the replay's real state, with the travel time frozen
            # at ``now`` (the checker's matrices are not time-dependent).
            import copy
            snap = copy.deepcopy((o, v, {k: orders[k] for k in {s[0] for s in v.route} | set(v.onboard)
                                         | {o.id} if k in orders}))

            def frozen(a_, b_, _t, now=now, f=tt_):
                return f(a_, b_, now)
            ins, why = real(o, v, orders, now, frozen, dist_, None, *a, **kw)
            seen.append((snap, now, frozen, dist_, ins, why))
        return real(o, v, orders, now, tt_, dist_, timing, *a, **kw)

    monkeypatch.setattr(dispatch, "best_insertion", spy)
    root = os.path.dirname(os.path.dirname(HERE))
    run_replay(os.path.join(root, "replay_data", "small"), str(tmp_path / "out"), force=True)
    assert len(seen) > 20
    bad = []
    for (o, v, orders), now, tt_, dist_, ins, why in seen:
        bad += _verify(o, v, orders, now, tt_, dist_, ins, why)
    assert not bad, bad[:5]
    assert any(s[4] is not None for s in seen)
    # Every zone plan the replay emitted was passed by the checker.
    import orjson
    checks = []
    with open(tmp_path / "out" / "fs.decisions.jsonl", "rb") as fh:
        for line in fh:
            plan = orjson.loads(line).get("explanation", {}).get("plan")
            if plan:
                checks.append(plan.get("independent_check"))
    assert checks and set(checks) == {"feasible"}, checks
