"""``fleetstream simulate`` and ``fleetstream evaluate --policies`` honour every autonomy
setting (issue 12): each of ``engine.autonomy_assign``, ``_reroute``, ``_redispatch`` at
``auto``, ``propose`` and ``off`` reaches the engine of the closed loop (the decisions'
statuses and ``autonomy`` show it) and nothing resets it on the way."""

from __future__ import annotations

import os

import orjson
import pytest

from fleetstream import cli
from fleetstream.contract.settings import EngineSettings
from fleetstream.policies import policy_notes, policy_settings

pytestmark = pytest.mark.slow

FAST = ["--set", "engine.solver_workers=0"]  # plans solved inline: same decisions, no pool
SEED = 4   # a tiny day with late risks that both re-route and redispatch (tiny's own seed
#            3, then 6, stopped redispatching at reroute=off as the engine changed; with the
#            frozen head on by default seeds 2, 4, 11, 13 do: checked 2026-11-30)


def _check(decisions: list[dict], kind: str, level: str, expect_some: bool = True) -> None:
    """The decisions of ``kind`` are what autonomy ``level`` makes."""
    mine = [d for d in decisions if d["kind"] == kind]
    statuses = {d["status"] for d in mine}
    assert all(d["autonomy"] == level for d in mine), (kind, level, statuses)
    if level == "auto":
        assert statuses <= {"applied"} and not any(d.get("refers_to") for d in mine)
        assert mine or not expect_some, (kind, level)
    elif level == "propose":
        assert statuses <= {"proposed", "applied", "rejected", "expired"}, statuses
        assert "proposed" in statuses or not expect_some, (kind, level, statuses)
        assert all(d.get("refers_to") for d in mine if d["status"] != "proposed")
    else:
        assert statuses <= {"alert_only"}, (kind, level, statuses)


def _simulate(tmp_path, monkeypatch, name: str, **levels: str) -> tuple[list[dict], dict]:
    """``fleetstream simulate --scenario tiny`` with ``--set engine.autonomy_<kind>=...``;
    the closed loop's decisions (read from the simulation the command ran) and the
    manifest."""
    import fleetstream.sim.record as rec
    runs: list = []

    class Recorded(rec.Simulation):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            runs.append(self)
    monkeypatch.setattr(rec, "Simulation", Recorded)
    out = str(tmp_path / name)
    sets = [x for k, v in levels.items() for x in ("--set", f"engine.autonomy_{k}={v}")]
    assert cli.main(["simulate", "--scenario", "tiny", "--seed", str(SEED), "--out", out, "-q",
                     *FAST, *sets]) == 0
    (sim,) = runs
    with open(os.path.join(out, "manifest.json"), "rb") as f:
        manifest = orjson.loads(f.read())
    return [r for t, _k, r in sim.outputs if t == "fs.decisions"], manifest


# Each kind at each level; assign=off leaves nothing to re-route or redispatch, so the
# other kinds are varied with assign at auto.
RUNS = [
    {},
    {"reroute": "propose", "redispatch": "off"},
    {"reroute": "off", "redispatch": "propose"},
    {"assign": "propose"},
    {"assign": "off"},
]


@pytest.mark.parametrize("levels", RUNS, ids=lambda x: ",".join(f"{k}={v}" for k, v in
                                                                   x.items()) or "defaults")
def test_simulate_honours_every_autonomy_setting(tmp_path, monkeypatch, levels) -> None:
    decisions, manifest = _simulate(tmp_path, monkeypatch, "sim", **levels)
    want = {k: levels.get(k, "auto") for k in ("assign", "reroute", "redispatch")}
    assert {k: manifest["engine_settings"][f"autonomy_{k}"] for k in want} == want
    _check(decisions, "assign", want["assign"])
    if want["assign"] == "off":
        assert {d["kind"] for d in decisions} == {"assign"}
        return
    # tiny re-routes when assignments are applied at once, and redispatches when a run
    # varies it (whether the defaults also redispatch depends on the day: not asked);
    # a late risk to alert at reroute=off does not always come
    for kind in ("reroute", "redispatch"):
        varied = kind in levels or (not levels and kind == "reroute")
        _check(decisions, kind, want[kind],
               expect_some=varied and not (kind == "reroute" and want[kind] == "off"))
    if want["redispatch"] == "off":
        assert [d for d in decisions if d["kind"] == "redispatch"]  # said, not applied


def test_policies_keep_the_autonomy_the_settings_chose() -> None:
    base = EngineSettings()
    assert (policy_settings("static", base).autonomy_reroute,
            policy_settings("static", base).autonomy_redispatch) == ("off", "off")
    assert policy_settings("reactive", base) == base
    chosen = EngineSettings(autonomy_assign="propose", autonomy_reroute="propose",
                            autonomy_redispatch="off")
    for p in ("static", "reactive", "predictive"):
        es = policy_settings(p, chosen)
        assert (es.autonomy_assign, es.autonomy_reroute, es.autonomy_redispatch) == \
            ("propose", "propose", "off"), p
    assert policy_notes("static", chosen) == [
        "policy static: engine.autonomy_reroute=propose from the settings is kept (the "
        "policy alone would use off)"]
    assert policy_notes("reactive", chosen) == []
    with pytest.raises(ValueError, match="unknown policy"):
        policy_settings("bold", base)


def test_evaluate_policies_honour_the_autonomy_settings(tmp_path, capsys) -> None:
    """``fleetstream evaluate --policies static,reactive tiny --config`` with assign and
    re-route at propose: both policies decide at those levels (the simulated dispatcher
    answers), static keeps its redispatch off; policies.json says so per seed."""
    cfg = tmp_path / "autonomy.toml"
    cfg.write_text('[engine]\nautonomy_assign = "propose"\nautonomy_reroute = "propose"\n'
                   "solver_workers = 0\n")
    out = tmp_path / "eval"
    assert cli.main(["evaluate", "--policies", "static,reactive", "tiny", "--config", str(cfg),
                     "--out", str(out), "-q"]) == 0
    assert "engine.autonomy_reroute=propose from the settings is kept" in capsys.readouterr().err
    with open(out / "policies.json", "rb") as f:
        summ = orjson.loads(f.read())
    (runs,) = summ["per_seed"].values()
    assert runs["static"]["autonomy"] == {"assign": "propose", "reroute": "propose",
                                          "redispatch": "off"}
    assert runs["reactive"]["autonomy"] == {"assign": "propose", "reroute": "propose",
                                            "redispatch": "auto"}
    for p in ("static", "reactive"):
        st = runs[p]["decision_statuses"]
        assert st.get("assign/proposed", 0) > 0 and "assign/applied" in st, (p, st)
        assert not [k for k in st if k.startswith(("assign/", "reroute/"))
                    and k.split("/")[1] == "alert_only"], (p, st)
        assert "reroute/applied" not in st or st.get("reroute/proposed", 0) > 0, (p, st)
    assert not [k for k in runs["static"]["decision_statuses"]
                if k.startswith("redispatch/") and k != "redispatch/alert_only"]


def test_the_predictive_policy_acts_on_failure_risk_unless_the_settings_chose() -> None:
    es = policy_settings("predictive", EngineSettings())
    assert (es.failure_risk_on, es.failure_attempt_cost, es.plan_stated_hours_s,
            es.routing_learned_travel) == (0.2, 30.0, 3600.0, True)
    reactive = policy_settings("reactive", EngineSettings())
    assert (reactive.failure_attempt_cost, reactive.plan_stated_hours_s) == (0.0, 0.0)
    chosen = policy_settings("predictive", EngineSettings(failure_risk_on=0.6,
                                                          failure_attempt_cost=5.0,
                                                          plan_stated_hours_s=1800.0))
    assert (chosen.failure_risk_on, chosen.failure_attempt_cost,
            chosen.plan_stated_hours_s) == (0.6, 5.0, 1800.0)
    from fleetstream.policies import policy_routing
    assert (policy_routing("predictive").km_surcharge, policy_routing("reactive").km_surcharge) \
        == (2.0, 0.0)
