"""The model seats of the zone engine and their baseline occupants.

The zone engine asks three questions, each through a small contract that the
River models in ``models/`` implement (see ``models/base.py``):

- ``eta``: the ratio of true to provider travel time for a leg
  (``predict_ratio(x)`` / ``learn(x, ratio)``);
- ``intervals``: offsets around a predicted arrival for the 80 % and 95 %
  intervals (``interval(x)`` / ``update(x, residual_s)``);
- ``late_risk`` and ``failure_risk``: probabilities (``predict_proba(x)`` /
  ``learn(x, y)``).

The baselines here need no learning: the provider is taken at its word, the
interval grows with the horizon, late risk is the normal tail beyond the window
end, and failure risk is the customer's smoothed failure rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ProviderEta:
    """The travel-time provider as is: ratio 1."""

    version: str = "eta-provider-1"
    n_learned: int = 0

    def predict_ratio(self, x: dict) -> float:
        return 1.0

    def learn(self, x: dict, actual_ratio: float) -> None:
        self.n_learned += 1

    def riders(self) -> tuple[tuple[str, float], ...]:
        """Riders' paces (s per km) at their prior speeds (``RIDER_KMH``)."""
        from fleetstream.operators.traveltime import RIDER_KMH, rider_prior_s_per_km
        return tuple((vt, float(round(rider_prior_s_per_km(vt)))) for vt in sorted(RIDER_KMH))

    def snapshot(self) -> dict:
        return {"n_learned": self.n_learned}

    @classmethod
    def restore(cls, snap: dict) -> "ProviderEta":
        return cls(n_learned=snap["n_learned"])


@dataclass
class HorizonIntervals:
    """Uncalibrated intervals: +-(base + rel x horizon) seconds, wider at 95 %."""

    base_s: float = 120.0
    rel: float = 0.12
    n_learned: int = 0

    def interval(self, x: dict) -> tuple[float, float, float, float]:
        half80 = self.base_s + self.rel * max(0.0, x["horizon_s"])
        half95 = half80 * 1.53
        return (-half80, half80, -half95, half95)

    def update(self, x: dict, residual_s: float) -> None:
        self.n_learned += 1

    def snapshot(self) -> dict:
        return {"n_learned": self.n_learned}

    @classmethod
    def restore(cls, snap: dict) -> "HorizonIntervals":
        return cls(n_learned=snap["n_learned"])


@dataclass
class SlackLateRisk:
    """P(late) as the normal tail of the arrival beyond the window end, with the
    80 % interval width giving the spread."""

    version: str = "late-slack-1"
    n_learned: int = 0

    def predict_proba(self, x: dict) -> float:
        sigma = max(60.0, x["width80_s"] / 2.563)
        return 0.5 * math.erfc(x["slack_s"] / (sigma * math.sqrt(2)))

    def learn(self, x: dict, y: bool) -> None:
        self.n_learned += 1

    def snapshot(self) -> dict:
        return {"n_learned": self.n_learned}

    @classmethod
    def restore(cls, snap: dict) -> "SlackLateRisk":
        return cls(n_learned=snap["n_learned"])


@dataclass
class HistoryFailureRisk:
    """P(failed attempt) from the customer's history, Beta(1, 9) prior."""

    version: str = "fail-history-1"
    n_learned: int = 0

    def predict_proba(self, x: dict) -> float:
        return (1.0 + x["cust_failures"]) / (10.0 + x["cust_failures"] + x["cust_deliveries"])

    def learn(self, x: dict, y: bool) -> None:
        self.n_learned += 1

    def snapshot(self) -> dict:
        return {"n_learned": self.n_learned}

    @classmethod
    def restore(cls, snap: dict) -> "HistoryFailureRisk":
        return cls(n_learned=snap["n_learned"])


SEATS = ("eta", "intervals", "late_risk", "failure_risk")


@dataclass
class ModelSeats:
    """The four models one zone uses.  ``factory`` names let a snapshot be restored."""

    eta: Any = field(default_factory=ProviderEta)
    intervals: Any = field(default_factory=HorizonIntervals)
    late_risk: Any = field(default_factory=SlackLateRisk)
    failure_risk: Any = field(default_factory=HistoryFailureRisk)

    def versions(self) -> dict[str, dict[str, Any]]:
        return {
            name: {"version": getattr(getattr(self, name), "version", type(getattr(self, name)).__name__),
                   "n": getattr(self, name).n_learned}
            for name in SEATS
        }

    def snapshot(self) -> dict[str, Any]:
        return {name: (type(getattr(self, name)).__module__ + ":" + type(getattr(self, name)).__qualname__,
                       getattr(self, name).snapshot()) for name in SEATS}

    @classmethod
    def restore(cls, snap: dict[str, Any]) -> "ModelSeats":
        import importlib
        seats = {}
        for name in SEATS:
            path, state = snap[name]
            mod, _, qual = path.partition(":")
            klass: Any = importlib.import_module(mod)
            for part in qual.split("."):
                klass = getattr(klass, part)
            seats[name] = klass.restore(state)
        return cls(**seats)


def baseline_seats(zone: str) -> ModelSeats:
    return ModelSeats()
