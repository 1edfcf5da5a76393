"""The zone engine with the OR-Tools strategy in closed loop (tiny scenario): a zone
plan at shift start whose routes pass the independent checker, decisions that carry
sequences, expected effects and explanations, and autonomy respected."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fleetstream.engine import LocalEngine
from fleetstream.contract.settings import EngineSettings
from fleetstream.sim.loop import Simulation
from fleetstream.sim.world import Scenario
from fleetstream.wiring import build_zone_engine
from fleetstream.operators.routing import strategy as strategy_mod
from fleetstream.operators.zone import engine as engine_mod
from fleetstream.operators.routing.checker import check_plan


def run(settings: EngineSettings, capture: list | None = None) -> Simulation:
    sim = Simulation(Scenario.preset("tiny"), LocalEngine(
        settings, zone_factory=lambda z: build_zone_engine(z, settings, kind="baseline")))
    sim.run()
    return sim


@pytest.fixture(scope="module")
def auto_run(monkeypatch_module):
    plans: list = []
    original = strategy_mod.ORToolsStrategy.plan

    def spy(self, *a, **k):
        res, p = original(self, *a, **k)
        plans.append((res, p))
        return res, p

    monkeypatch_module.setattr(strategy_mod.ORToolsStrategy, "plan", spy)
    # the default strategy balances its zone plans (balance_weight > 0): its own plan verb
    balanced = engine_mod._PlanBalance.plan

    def spy_balanced(self, *a, **k):
        res, p = balanced(self, *a, **k)
        plans.append((res, p))
        return res, p

    monkeypatch_module.setattr(engine_mod._PlanBalance, "plan", spy_balanced)
    sim = run(EngineSettings(solver_workers=0))  # solved in this process, where the spy is
    return sim, plans


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def decisions(sim: Simulation) -> list[dict]:
    return [r for t, _k, r in sim.outputs if t == "fs.decisions"]


def test_zone_plan_at_shift_start_passes_the_checker(auto_run):
    """One plan per wave of shift starts; its routes (as solved) pass the independent
    checker, and each vehicle's plan decision says so with the plan's figures."""
    sim, plans = auto_run
    assert plans, "no zone plan was made"
    res, p = plans[0]
    rep = check_plan(p, res.routes, [u.job_id for u in res.unassigned])
    assert rep.feasible, [v.text for v in rep.violations]
    plan_decisions = [d for d in decisions(sim) if d["explanation"].get("plan")]
    assert plan_decisions
    d = plan_decisions[0]
    assert d["kind"] == "assign" and d["status"] == "applied"
    assert d["explanation"]["plan"]["independent_check"] == "feasible"
    eff = d["explanation"]["expected_effect"]
    assert {"lateness_min", "km", "cost"} <= set(eff) and eff["km"] > 0
    vid, stops = next(iter(d["routes"].items()))
    assert [s["order_id"] for s in stops if s["stop"] == "delivery"] == d["order_ids"]


def test_decisions_carry_sequences_effects_and_explanations(auto_run):
    """Every re-route and redispatch decision names its rule and expected effect."""
    sim, _ = auto_run
    for d in decisions(sim):
        if d["kind"] in ("reroute", "redispatch") and d["status"] == "applied":
            ex = d["explanation"]
            assert ex["summary"] and ex["reasons"][0]["rule"]
            assert "expected_effect" in ex and d["routes"]


def test_reroute_off_means_no_reoptimization_decisions():
    """With re-routing off (the static policy) no periodic re-optimization is decided,
    and risk re-routes are alerts only."""
    sim = run(replace(EngineSettings(), autonomy_reroute="off", autonomy_redispatch="off"))
    ds = decisions(sim)
    assert not [d for d in ds if d["explanation"].get("reasons", [{}])[0].get("rule")
                == "periodic_reoptimization"]
    assert all(d["status"] == "alert_only" for d in ds if d["kind"] in ("reroute", "redispatch"))


def test_closed_loop_is_deterministic():
    """The same scenario twice: identical decision records."""
    a = decisions(run(EngineSettings()))
    b = decisions(run(EngineSettings()))
    assert a == b
