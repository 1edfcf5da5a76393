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
