"""Leg travel-time model: learns the log of (true / provider) travel time.

The provider's estimate is right on average over a day but not by hour, zone,
vehicle type or driver; the model learns the multiplicative correction.  The
target is ``log(actual_s / provider_s)`` (clipped to [1/4, 4]): symmetric,
stable, and a linear model on it is a product of factors, which is how the
errors arise (congestion x vehicle x driver x conditions).

Two families, chosen by measurement (``benchmarks/models.py`` prints both):

- ``linear``: ``linear_model.LinearRegression`` with a Huber loss (robust to the
  odd leg where the driver stopped for lunch) and AdaGrad on the sparse
  hour x vehicle-type crosses (see ``models/features.py``);
- ``arf``: ``forest.ARFRegressor`` (seeded) on compact raw features;
- ``hat``: ``tree.HoeffdingAdaptiveTreeRegressor`` (seeded).

Before it has learned anything the model predicts ratio 1: the provider.
"""

from __future__ import annotations

import math

from river import forest, linear_model, metrics, optim, tree

from fleetstream.models.base import LearnedSeat
from fleetstream.models.features import eta_linear_features, eta_tree_features
from fleetstream.models.monitor import DriftWatch

VRES_DECAY = 0.9      # per leg: the vehicle's residual memory is ~10 legs
VRES_PRIOR_N = 3.0    # shrink a vehicle's mean residual towards 0 until it has a few legs
LOG_MIN, LOG_MAX = math.log(0.25), math.log(4.0)
ETA_KINDS = ("linear", "arf", "hat")


def make_eta_regressor(kind: str, seed: int = 7):
    if kind == "linear":
        return linear_model.LinearRegression(optimizer=optim.AdaGrad(0.1),
                                             loss=optim.losses.Huber(epsilon=0.25),
                                             intercept_lr=0.02, l2=0.0)
    if kind == "arf":
        return forest.ARFRegressor(n_models=6, seed=seed, grace_period=100,
                                   leaf_prediction="mean", max_depth=12,
                                   nominal_attributes=["vehicle_type", "fleet_type"])
    if kind == "hat":
        return tree.HoeffdingAdaptiveTreeRegressor(grace_period=100, seed=seed,
                                                   leaf_prediction="mean", max_depth=12,
                                                   nominal_attributes=["vehicle_type", "fleet_type"])
    raise ValueError(f"unknown ETA model kind {kind!r} (one of {', '.join(ETA_KINDS)})")


class RiverEta(LearnedSeat):
    """ETA seat: ``predict_ratio(x)`` = exp(predicted log ratio)."""

    def __init__(self, kind: str = "linear", seed: int = 7):
        self.kind = kind
        self.seed = seed
        self.model = make_eta_regressor(kind, seed)
        self.version = f"eta-{kind}-1"
        self.n_learned = 0
        self.mae_log = metrics.MAE()           # model, |log ratio error|, progressive
        self.mae_log_provider = metrics.MAE()  # provider alone (ratio 1)
        self.watch = DriftWatch("eta", "abs_log_ratio_error")
        self.vres: dict[str, list[float]] = {}  # vehicle -> [decayed residual sum, decayed count]

    def _vres(self, x: dict) -> float | None:
        vid = x.get("vehicle_id")
        if vid is None:
            return None
        r = self.vres.get(vid)
        return r[0] / (r[1] + VRES_PRIOR_N) if r else 0.0

    def _features(self, x: dict) -> dict:
        if self.kind == "linear":
            return eta_linear_features(x, self._vres(x))
        f = eta_tree_features(x)
        v = self._vres(x)
        if v is not None:
            f["vres"] = v
        return f

    def _predict_log(self, f: dict) -> float:
        y = self.model.predict_one(f)
        if y is None or y != y:
            return 0.0
        return LOG_MIN if y < LOG_MIN else LOG_MAX if y > LOG_MAX else y

    def predict_ratio(self, x: dict) -> float:
        return math.exp(self._predict_log(self._features(x)))

    def learn(self, x: dict, actual_ratio: float) -> None:
        if not actual_ratio > 0 or math.isinf(actual_ratio):
            return
        y = math.log(actual_ratio)
        y = LOG_MIN if y < LOG_MIN else LOG_MAX if y > LOG_MAX else y
        f = self._features(x)
        yhat = self._predict_log(f)
        self.mae_log.update(y, yhat)
        self.mae_log_provider.update(y, 0.0)
        self.watch.update(abs(y - yhat), {"zone": x.get("zone")})
        self.model.learn_one(f, y)
        self.n_learned += 1
        vid = x.get("vehicle_id")
        if vid is not None:
            r = self.vres.setdefault(vid, [0.0, 0.0])
            r[0] = r[0] * VRES_DECAY + (y - yhat)
            r[1] = r[1] * VRES_DECAY + 1.0

    def forget_vehicle(self, vehicle_id: str) -> None:
        """Drop the vehicle's residual (the zone forgets the vehicle: retention)."""
        self.vres.pop(vehicle_id, None)

    def metrics(self) -> dict:
        return {"legs": self.n_learned, "mae_log_ratio": float(self.mae_log.get()),
                "mae_log_ratio_provider": float(self.mae_log_provider.get())}
