"""docs/settings/predictive.toml is the closed loop's ``predictive`` policy as engine
settings: loading it gives the engine settings and the routing configuration the policy
comparison runs, so the live engine can run the policy that was measured."""

from __future__ import annotations

from pathlib import Path

from fleetstream.contract.engine_settings import EngineSettings
from fleetstream.contract.settings import Settings
from fleetstream.operators.zone.engine import routing_config
from fleetstream.policies import (PREDICTIVE_RISK, PREDICTIVE_ROUTING, policy_routing,
                                  policy_settings)

FILE = Path(__file__).resolve().parents[1] / "docs" / "settings" / "predictive.toml"


def test_the_file_is_the_predictive_policy() -> None:
    es = Settings.load(str(FILE), env={}).engine
    assert es == policy_settings("predictive", EngineSettings())
    assert routing_config(es) == policy_routing("predictive")
    for name, value in {**PREDICTIVE_RISK, **PREDICTIVE_ROUTING}.items():
        assert getattr(es, name) == value, name


def test_the_policy_on_the_file_changes_nothing_more() -> None:
    es = Settings.load(str(FILE), env={}).engine
    assert policy_settings("predictive", es) == es


def test_the_policy_keeps_what_the_settings_chose() -> None:
    mine = EngineSettings(routing_km_surcharge=0.5, routing_reopt_interval_s=600.0)
    cfg = policy_routing("predictive", mine)
    assert (cfg.km_surcharge, cfg.reopt_interval_s, cfg.window_margin_s) == (0.5, 600.0, 600.0)
    assert policy_routing("reactive").km_surcharge == 0.0
    assert routing_config(EngineSettings(routing_km_surcharge=1.5)).km_surcharge == 1.5


def test_a_simulated_day_with_the_file_is_the_policys_day(tmp_path) -> None:
    """``fleetstream simulate --config docs/settings/predictive.toml`` decides as the
    policy comparison's ``predictive`` run of the same world (contact reply 0)."""
    from fleetstream.policies import run_policy
    from fleetstream.sim.record import simulate_to
    live = simulate_to("small", str(tmp_path / "day"), seed=1,
                       settings=Settings.load(str(FILE), env={}).engine,
                       progress=False)["closed_loop_kpis"]
    policy = run_policy("small", "predictive", Settings(), 1)
    keys = ("on_time_rate", "km", "failed_attempts", "decisions", "delivered", "retried")
    assert {k: live[k] for k in keys} == {k: policy[k] for k in keys}
