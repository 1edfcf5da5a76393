"""Which models and routing strategy a zone engine gets.

One place to choose the occupants of the zone engine's seats, so the flow, the
simulator and the evaluation all build the same engine.
"""

from __future__ import annotations

from fleetstream.settings import EngineSettings
from operators.estimators import ModelSeats
from operators.zone_engine import ZoneEngine


def build_seats(zone: str, settings: EngineSettings, models_dir: str | None = None,
                kind: str = "learned") -> ModelSeats:
    """``learned``: the River models (warm-started from ``models_dir``); ``baseline``:
    the rule-based seats of ``operators/estimators.py``."""
    return ModelSeats()


def build_zone_engine(zone: str, settings: EngineSettings, models_dir: str | None = None,
                      kind: str = "learned") -> ZoneEngine:
    return ZoneEngine(zone, settings, seats=build_seats(zone, settings, models_dir, kind))


def restore_zone_engine(blob: bytes, settings: EngineSettings) -> ZoneEngine:
    return ZoneEngine.restore(blob, settings)
