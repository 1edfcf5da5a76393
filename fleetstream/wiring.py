"""Which models and routing strategy a zone engine gets.

One place to choose the occupants of the zone engine's seats, so the flow, the
simulator and the evaluation all build the same engine.
"""

from __future__ import annotations

import functools
import time

from fleetstream.contract.settings import EngineSettings, LimitsSettings
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


@functools.lru_cache(maxsize=8)
def _map_provider(name: str, junction_s: float, speed_factor: float, tz: str = "UTC"):
    """One map provider (and road network) per process and parameters, shared by all
    zones: the network's caches are answers of the map only, so sharing them changes
    no result (docs/roads.md, "Deterministic paths")."""
    from fleetstream.operators.traveltime import HaversineProvider
    from fleetstream.operators.traveltime_map import MapProvider
    from fleetstream.roads import GraphNotFound, load_graph
    from fleetstream.roads.network import MapNetwork
    try:
        load_graph(name)
    except GraphNotFound as e:
        raise ValueError(f"engine.travel_map: {e.args[0]}") from None
    return MapProvider(MapNetwork(name, junction_s=junction_s, speed_factor=speed_factor),
                       fallback=HaversineProvider(tz=tz))


def build_provider(settings: EngineSettings):
    """The engine's travel-time provider chosen by ``settings.travel_provider``
    (``None``: the zone engine's default, haversine)."""
    if getattr(settings, "travel_provider", "haversine") != "map":
        return None
    return _map_provider(settings.travel_map, settings.travel_map_junction_s,
                         settings.travel_map_speed_factor, settings.timezone)


def build_zone_engine(zone: str, settings: EngineSettings, models_dir: str | None = None,
                      kind: str = "learned", limits: LimitsSettings | None = None) -> ZoneEngine:
    """``limits``: the run's ``[limits]`` (condition clamps, expiry, retention, stalled
    clock); None = their defaults."""
    return ZoneEngine(zone, settings, provider=build_provider(settings),
                      seats=build_seats(zone, settings, models_dir, kind), limits=limits)


def restore_zone_engine(blob: bytes, settings: EngineSettings,
                        limits: LimitsSettings | None = None) -> ZoneEngine:
    """The provider is not in the snapshot: the restored engine gets the one its
    settings name, as the engine that wrote the snapshot did."""
    return ZoneEngine.restore(blob, settings, provider=build_provider(settings),
                              limits=limits)
