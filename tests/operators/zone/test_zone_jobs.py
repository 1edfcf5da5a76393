"""The zone plan as a solver job: solved off the event path, applied at request time
+ ``plan_solve_allowance_s`` (event time), reconciled with what happened meanwhile,
and the same on any solver pool size and across a snapshot."""

from __future__ import annotations

import pickle
from dataclasses import replace

import orjson

from fleetstream.contract.settings import EngineSettings
from fleetstream.operators.state import ASSIGNED, AT_DEPOT, PENDING
from fleetstream.operators.zone.engine import ZoneEngine
from zone_scene import T0, Feed, pt

JOBS = EngineSettings(routing_plan_solutions=40, plan_solve_allowance_s=120, solver_workers=0)


def _events(f: Feed) -> list:
    evs = [f.shift("v1"), f.shift("v2", fleet="3pl")]
    evs += [f.order(f"o{i}", T0 + 1 + i, pt(0.004 * i - 0.012, 0.003 * (i % 4)), T0, T0 + 3 * 3600)
            for i in range(7)]
    return evs


def _run(settings: EngineSettings, extra=lambda f: [], until: float = T0 + 600) -> tuple:
    """The depot scene, then a ping every 30 s of event time (sweeps run), until ``until``."""
    f = Feed()
    eng = ZoneEngine("Z", settings)
    out: list = []
    evs = _events(f) + extra(f)
    t = T0 + 30
    while t <= until:
        evs.append(f.ping("v1", t, pt(0.0, 0.0)))
        t += 30
    evs.sort(key=lambda e: e.ts)
    for ev in evs:
        out += eng.process(ev)
    return eng, out


def _plan_decisions(out: list) -> list[dict]:
    return [r for _t, r in out if r.get("kind") == "assign" and "plan" in r["explanation"]]


def test_a_plan_job_applies_at_its_due_event_time_with_the_inline_routes() -> None:
    inline, out_i = _run(replace(JOBS, plan_solve_allowance_s=0))
    job, out_j = _run(JOBS)
    pi, pj = _plan_decisions(out_i), _plan_decisions(out_j)
    assert pi and len(pi) == len(pj)
    t_req = pi[0]["ts"]
    def stops(r: dict) -> dict:
        return {vid: [s["order_id"] for s in st] for vid, st in r["routes"].items()}

    for a, b in zip(pi, pj):
        assert b["ts"] == t_req + 120.0           # request time + allowance, in event time
        assert stops(a) == stops(b)
        info = b["explanation"]["plan"]["solver_job"]
        assert info["requested_ts"] == t_req and info["applied_ts"] == t_req + 120.0
        assert "solver_job" not in a["explanation"]["plan"]
    assert job.state.plan_orders == set() and job.state.plan_vehicles == set()
    assert sorted(o.status for o in job.orders.values()) == [ASSIGNED] * 7


def test_orders_and_vehicles_of_a_pending_plan_are_reserved() -> None:
    """While the plan is solved, sweeps neither insert its orders nor insert into its
    vehicles; an order created meanwhile waits (its only vehicles are reserved)."""
    def late_order(f: Feed) -> list:
        return [f.order("late", T0 + 150, pt(0.001, 0.001), T0, T0 + 3 * 3600)]

    eng, out = _run(JOBS, late_order, until=T0 + 210)
    assert eng.jobs.pending_count("plan") == 1
    assert eng.state.plan_vehicles == {"v1", "v2"}
    assert "late" not in eng.state.plan_orders
    assert eng.orders["late"].status == PENDING           # no vehicle outside the plan
    assert not [r for _t, r in out if r.get("kind") == "assign"]
    eng2, out2 = _run(JOBS, late_order, until=T0 + 600)
    assert eng2.orders["late"].status == ASSIGNED          # inserted after the plan applied
    assert eng2.jobs.pending_count() == 0


def test_a_vehicle_that_left_the_depot_meanwhile_keeps_its_route() -> None:
    f = Feed()
    eng = ZoneEngine("Z", JOBS)
    for ev in _events(f):
        eng.process(ev)
    t = T0 + 30
    while t <= T0 + 210:
        eng.process(f.ping("v1", t, pt(0.0, 0.0)))
        t += 30
    assert eng.jobs.pending_count("plan") == 1   # requested at T0 + 120, due at T0 + 240
    eng.vehicles["v2"].status = "active"      # left the depot while the plan was solved
    out: list = []
    while t <= T0 + 600:
        out += eng.process(f.ping("v1", t, pt(0.0, 0.0)))
        t += 30
    plans = _plan_decisions(out)
    assert plans and all("v2" not in r["routes"] for r in plans)
    assert all(r["explanation"]["plan"]["solver_job"]["reconciled_vehicles"] == 1 for r in plans)
    assert eng.vehicles["v2"].route == []


def test_a_snapshot_with_a_pending_plan_restores_and_decides_the_same() -> None:
    f = Feed()
    evs = _events(f)
    t = T0 + 30
    while t <= T0 + 600:
        evs.append(f.ping("v1", t, pt(0.0, 0.0)))
        t += 30
    evs.sort(key=lambda e: e.ts)
    whole = ZoneEngine("Z", JOBS)
    out_whole = [r for ev in evs for r in whole.process(ev)]
    cut = next(i for i, ev in enumerate(evs) if ev.ts >= T0 + 200)
    first = ZoneEngine("Z", JOBS)
    out = [r for ev in evs[:cut] for r in first.process(ev)]
    assert first.jobs.pending_count("plan") == 1
    again = ZoneEngine.restore(first.snapshot(), JOBS)
    out += [r for ev in evs[cut:] for r in again.process(ev)]
    assert orjson.dumps(out) == orjson.dumps(out_whole)
    assert pickle.loads(again.snapshot()) == pickle.loads(whole.snapshot())


def test_solver_pool_size_does_not_change_a_decision() -> None:
    _e0, out0 = _run(JOBS)
    _e2, out2 = _run(replace(JOBS, solver_workers=2))
    assert _plan_decisions(out0) and orjson.dumps(out0) == orjson.dumps(out2)


def _reopt_zone(settings: EngineSettings) -> ZoneEngine:
    """Three active vans with zig-zag routes worth re-sequencing, every bucket due."""
    from zone_scene import engine, order, put_on, vehicle
    f = Feed()
    vs, os_ = [], []
    for k, vid in enumerate(("v1", "v2", "v3")):
        v = vehicle(f, vid, active=True, pos=pt(0.0, 0.01 * k))
        mine = [order(f, f"{vid}o{i}", pt(d, 0.01 * k), T0, T0 + 5 * 3600)
                for i, d in enumerate([0.03, 0.0, 0.025, 0.005, 0.02, 0.01])]
        put_on(v, mine)
        vs.append(v)
        os_ += mine
    eng = engine(vs, os_, settings)
    eng.state.next_reopt_ts = int(T0 // settings.sweep_interval_s) - 100
    return eng


def test_a_reoptimization_job_applies_at_the_next_sweep_as_inline() -> None:
    inline, job = _reopt_zone(replace(JOBS, plan_solve_allowance_s=0)), _reopt_zone(JOBS)
    out_i: list = []
    inline.assignment.maybe_reoptimize(T0 + 30, ["e"], out_i)
    out_j: list = []
    job.assignment.maybe_reoptimize(T0 + 30, ["e"], out_j)
    assert out_j == [] and job.jobs.pending_count("reopt") == 1
    job.apply_due_jobs(T0 + 30 + JOBS.sweep_interval_s, out_j)
    assert [r["kind"] for _t, r in out_i] == ["reroute"] * 3
    def seqs(out: list) -> list:  # stop order per decision (ETAs differ: later start)
        return [{vid: [(s["order_id"], s["stop"]) for s in st] for vid, st in r["routes"].items()}
                for _t, r in out]

    assert seqs(out_j) == seqs(out_i)
    assert [r["ts"] for _t, r in out_j] == [T0 + 90.0] * 3
    assert {vid: v.route for vid, v in job.vehicles.items()} == \
        {vid: v.route for vid, v in inline.vehicles.items()}


def test_a_reoptimization_of_a_route_changed_meanwhile_is_discarded() -> None:
    eng = _reopt_zone(JOBS)
    eng.assignment.maybe_reoptimize(T0 + 30, ["e"], [])
    v2 = eng.vehicles["v2"]
    v2.route = list(reversed(v2.route))          # re-routed by another decision meanwhile
    served = eng.vehicles["v3"].route.pop(0)      # v3 served its first stop meanwhile
    out: list = []
    eng.apply_due_jobs(T0 + 90, out)
    assert sorted(next(iter(r["routes"])) for _t, r in out) == ["v1", "v3"]
    assert eng.stats["reopt_stale"] == 1
    assert served not in eng.vehicles["v3"].route
    assert sorted(eng.vehicles["v3"].route) == sorted(
        s for s in _reopt_zone(JOBS).vehicles["v3"].route if s != served)


def test_the_settings_choose_the_plan_backend() -> None:
    from fleetstream.operators.routing.strategy import ORToolsStrategy, PyVRPStrategy
    from fleetstream.operators.zone.engine import BalancedORToolsStrategy, default_strategy
    # the default balances its zone plans (balance_weight > 0); weight 0: the plain strategy
    assert type(default_strategy(EngineSettings())) is BalancedORToolsStrategy
    assert type(default_strategy(EngineSettings(balance_weight=0.0))) is ORToolsStrategy
    s = default_strategy(EngineSettings(routing_plan_backend="pyvrp", routing_plan_iterations=50))
    assert isinstance(s, PyVRPStrategy) and s.config.fairness_cost_per_stop == 0.0
    assert s.config.plan_budget.iterations == 50
    eng, out = _run(replace(JOBS, routing_plan_backend="pyvrp", routing_plan_iterations=200))
    plans = _plan_decisions(out)
    assert plans and {r["explanation"]["reasons"][0]["solver"] for r in plans} == {"pyvrp"}
    assert sorted(o.status for o in eng.orders.values()) == [ASSIGNED] * 7
