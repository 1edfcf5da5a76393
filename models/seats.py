"""Learned occupants for the zone engine's model seats (one set per zone)."""

from __future__ import annotations

from fleetstream.operators.estimators import SEATS, ModelSeats

from fleetstream.models.eta import RiverEta
from fleetstream.models.intervals import ConformalIntervals
from fleetstream.models.risk import RiverRisk

DEFAULT_ETA_KIND = "linear"   # chosen by measurement: see docs/models.md and benchmarks/models.py


def learned_seats(zone: str = "", eta_kind: str = DEFAULT_ETA_KIND, seed: int = 7) -> ModelSeats:
    """Fresh (cold) learned seats.  ``seed`` seeds the forest/tree ETA models; the
    linear models and the conformal intervals use no randomness."""
    return ModelSeats(eta=RiverEta(eta_kind, seed=seed), intervals=ConformalIntervals(),
                      late_risk=RiverRisk("late"), failure_risk=RiverRisk("failure"))


def drift_events(seats: ModelSeats) -> list[dict]:
    """Take the drift events every seat queued since the last call (each once)."""
    out: list[dict] = []
    for name in SEATS:
        poll = getattr(getattr(seats, name), "drift_events", None)
        if poll is not None:
            out.extend(poll())
    return out


def seat_metrics(seats: ModelSeats) -> dict:
    """Progressive-validation metrics of one zone's seats."""
    out = {}
    for name in SEATS:
        m = getattr(getattr(seats, name), "metrics", None)
        if m is not None:
            out[name] = m()
    return out
