"""Which models and routing strategy a zone engine gets.

One place to choose the occupants of the zone engine's seats, so the flow, the
simulator and the evaluation all build the same engine.
"""

from __future__ import annotations

import time

from fleetstream.contract.settings import EngineSettings
from fleetstream.operators import jobs
from fleetstream.operators.estimators import ModelSeats
from fleetstream.operators.zone.engine import ZoneEngine

# Solver jobs measure how long the event path waited for a late result with this
# clock, for the progress lines and metrics only (operators read no clock).
jobs.WALL[0] = time.monotonic

SEAT_KINDS = ("learned", "baseline")


def build_seats(zone: str, settings: EngineSettings | None = None, models_dir: str | None = None,
                kind: str = "learned") -> ModelSeats:
    """``learned``: the River models of ``models/`` (warm-started from ``models_dir``,
    a directory written by ``fleetstream models export``, when given); ``baseline``:
    the rule-based seats of ``operators/estimators.py``.

    A ``models_dir`` that fails its version checks raises
    :class:`models.store.SnapshotVersionError` (never silently cold-starts).
    """
    if kind == "baseline":
        return ModelSeats()
    if kind != "learned":
        raise ValueError(f"unknown seat kind {kind!r} (one of {', '.join(SEAT_KINDS)})")
    if models_dir:
        from fleetstream.models.store import load_zone_seats
        seats = load_zone_seats(models_dir, zone)
        if seats is not None:
            return seats
    from fleetstream.models.seats import learned_seats
    return learned_seats(zone)


def build_zone_engine(zone: str, settings: EngineSettings, models_dir: str | None = None,
                      kind: str = "learned") -> ZoneEngine:
    return ZoneEngine(zone, settings, seats=build_seats(zone, settings, models_dir, kind))


def restore_zone_engine(blob: bytes, settings: EngineSettings) -> ZoneEngine:
    return ZoneEngine.restore(blob, settings)
