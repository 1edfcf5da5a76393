"""Late-risk and failure-risk classifiers: online logistic regression.

Both start as the baseline: the weight of the baseline's own probability (as a
logit feature) is initialised so that the untrained model *is* the baseline,
and the others at 0.  Logistic regression trained on log loss then learns the
corrections; its probabilities are calibrated in the sense that log loss is
what it minimises (reliability is measured by ``fleetstream evaluate``).

- late risk (``target="late"``, ``late-logreg-2``): P(arrival after the window
  end).  It starts as the slack-based normal tail, P = Phi(-slack / 15 min) in its
  logistic form (weight ``LATE_START_WEIGHT`` on the slack in hours, intercept 0),
  so an untrained model ranks stops exactly as the ETA slack does, and learns slow
  corrections (``LATE_LR``) from the stops ahead, the horizon and the order kind
  (docs/models.md "Late risk").  A ``late-logreg-1`` snapshot (other features)
  restores as a fresh ``late-logreg-2`` seat (``migrated_from`` says so).
  ``late-logreg-3`` (``LATE_MODEL = 3``, not the default; under measurement) starts
  from a spread that scales with the square root of the horizon (``late_features_v3``);
- failure risk (``target="failure"``): P(failed attempt) from the customer's
  history (failures, access failures, deliveries), whether access instructions
  are known (a proxy for a hard address), the expected arrival hour (people are
  out at work by day), order kind and priority.
"""

from __future__ import annotations

import math

from river import linear_model, metrics, optim

from fleetstream.models.base import LearnedSeat
from fleetstream.models.map_logistic import MapLogistic
from fleetstream.models.features import (
    failure_feature_text, failure_features, late_features, late_features_v1)
from fleetstream.models.monitor import DriftWatch

P_MIN, P_MAX = 0.002, 0.998
FAILURE_PRIORS = {"stated_out": 1.0, "stated_out_h": 0.5, "access_known": 1.0, "nh_near": 0.5,
                  "knows_door": -1.0, "arranged": -1.0}
"""The failure-risk seat's starting weights: a dispatcher's priors, revised by the
labels.  ``knows_door`` (the planned driver has delivered at this hard-access door
before, operators/knowledge.py) cancels the access prior: a driver who got in before
gets in again.  ``arranged`` (the customer, contacted ahead, replied that someone will
be in, or gave hours the arrival is inside: models/availability.py ``arranged``): a
customer who said so is usually there.  A seat restored from a snapshot taken before a
prior existed gets that prior (``RiverRisk.restore``)."""
FAILURE_INTERCEPT = -2.2
"""The failure-risk seat's starting intercept: logit(0.1), near the Beta(1, 9) history prior."""
FAILURE_MODEL = 3
"""Which failure-risk model a new seat is: 3 (``failure-logreg-3``: the SGD model until
``FAILURE_REFIT["min_n"]`` labels, then the MAP logistic regression refitted on the
recent labels, models/map_logistic.py) or 2 (``failure-logreg-2``, SGD only, kept for
comparison: ``benchmarks/failure_risk.py --failure-model 2``)."""
FAILURE_REFIT = {"precision": 2.0, "window": 8000, "every": 40, "min_n": 1000, "steps": 4}
"""``failure-logreg-3``'s refit: prior precision (the priors' pull, per feature), the
window of recent labels (snapshots; a zone's last week or so), a refit every 40 labels
(about ten finished orders) once 1,000 were seen (about a zone's day), Newton steps
per refit (twice as many at the first).  Chosen on andorra seeds 1-6 offline, checked
on other seeds and on small (docs/models-risk.md)."""
DRIVERS_K = 3
DRIVERS_MIN_LOGIT = 0.1
"""A failure-risk alert names up to ``DRIVERS_K`` features that raise the risk by at
least this much (log-odds: 0.1 is about +1 point at a 10 % risk)."""
LATE_SPREAD_S = 900.0
"""The spread (sigma, s) of the late-risk start: P(late) = Phi(-slack / LATE_SPREAD_S)."""
LATE_START_WEIGHT = -1.702 * 3600.0 / LATE_SPREAD_S
"""Weight of ``slack_h`` at the start: Phi(u) ~ sigmoid(1.702 u), the slack in hours."""
LATE_LR = 0.003
"""SGD step of the late-risk seat (``late-logreg-2``): slow, so that a day's labels
correct the start without shuffling its ranking (benchmarks/late_risk.py)."""
LATE_MODEL = 2
"""Which late-risk model a new seat is: 2 (``late-logreg-2``), 1 (the previous one,
``late-logreg-1``, kept for comparison: ``benchmarks/late_risk.py --late-model 1``) or 3
(``late-logreg-3``, the horizon-scaled start, under measurement: ``--late-model 3``)."""
LATE_SPREAD_H_S = 3600.0
"""``late-logreg-3``: the horizon (s) at which its start's spread is ``LATE_SPREAD_S``;
the spread scales with the square root of the horizon (an ETA a few minutes ahead is
off by far less than one an hour ahead), never under ``LATE_SPREAD_MIN_S``."""
LATE_SPREAD_MIN_S = 60.0


def late_features_v3(x: dict) -> dict:
    """``late-logreg-3``: the features of ``late-logreg-2`` and ``slack_z``, the slack
    over the horizon-scaled spread (clipped to +-6), which carries its start, P =
    Phi(-slack / (LATE_SPREAD_S * sqrt(horizon / LATE_SPREAD_H_S))).

    >>> round(late_features_v3({"slack_s": -60.0, "horizon_s": 120.0})["slack_z"], 3)
    -0.365
    >>> late_features_v3({"slack_s": -900.0, "horizon_s": 3600.0})["slack_z"]
    -1.0
    """
    f = late_features(x)
    h = max(0.0, x["horizon_s"])
    spread = max(LATE_SPREAD_MIN_S, LATE_SPREAD_S * math.sqrt(h / LATE_SPREAD_H_S))
    f["slack_z"] = max(-6.0, min(6.0, x["slack_s"] / spread))
    return f


def _new_refit() -> MapLogistic:
    """``failure-logreg-3``'s refit, centred on the stated priors."""
    return MapLogistic(FAILURE_PRIORS, FAILURE_INTERCEPT, **FAILURE_REFIT)


def _add_new_priors(seat) -> None:
    """A failure seat saved before a prior of ``FAILURE_PRIORS`` existed: the SGD model
    and the refit start that feature at its prior (the seat never saw it)."""
    w = seat.model._weights
    refit = getattr(seat, "refit", None)
    for k, v in FAILURE_PRIORS.items():
        if k not in w:
            w[k] = v
        if refit is not None and k not in refit.prior:
            refit.prior[k] = v


class RiverRisk(LearnedSeat):
    trace: list | None = None      # set to a list to keep every progressive (p, y)

    def __init__(self, target: str = "late", lr: float | None = None, l2: float = 1e-4,
                 late_model: int | None = None, failure_model: int | None = None):
        if target not in ("late", "failure"):
            raise ValueError(f"unknown risk target {target!r}")
        self.target = target
        self.late_model = (late_model or LATE_MODEL) if target == "late" else 0
        if self.late_model not in (0, 1, 2, 3):
            raise ValueError(f"unknown late-risk model {late_model!r} (1, 2 or 3)")
        if lr is None:
            lr = LATE_LR if self.late_model in (2, 3) else 0.03
        fm = (failure_model or FAILURE_MODEL) if target == "failure" else 0
        if fm not in (0, 2, 3):
            raise ValueError(f"unknown failure-risk model {failure_model!r} (2 or 3)")
        self.version = (f"late-logreg-{self.late_model}" if target == "late"
                        else f"failure-logreg-{fm}")
        self.refit = _new_refit() if fm == 3 else None
        self.n_learned = 0
        self.model = linear_model.LogisticRegression(optimizer=optim.SGD(lr), l2=l2,
                                                     intercept_lr=lr)
        if self.late_model == 2:
            self.model._weights["slack_h"] = LATE_START_WEIGHT   # the slack-based tail
        elif self.late_model == 3:
            self.model._weights["slack_z"] = -1.702   # the horizon-scaled slack tail
        elif self.late_model == 1:
            self.model._weights["tail_logit"] = 4.0   # starts as the analytic normal tail
        else:
            # starts near the Beta(1, 9) history prior: logit(0.1) ~ -2.2, with the
            # priors a dispatcher would state (the model revises them): an arrival
            # outside the hours the customer says someone is in, an address with access
            # instructions, an hour near one when the customer was out before, fail
            # more often (docs/models.md "Failure risk")
            self.model.intercept = FAILURE_INTERCEPT
            for k, w in FAILURE_PRIORS.items():
                self.model._weights[k] = w
        self.logloss = metrics.LogLoss()
        self.auc = metrics.ROCAUC(n_thresholds=50)
        self.n_pos = 0
        self.watch = DriftWatch(f"{target}_risk", "log_loss", min_n=500)

    @classmethod
    def restore(cls, snap: bytes):
        obj = super().restore(snap)
        if obj.target == "late" and getattr(obj, "late_model", 1) != LATE_MODEL:
            # a late-logreg-1 seat: its weights belong to other features, so it
            # cannot carry over; the seat starts afresh (as a cold start would)
            fresh = cls("late")
            fresh.migrated_from = obj.version
            return fresh
        if obj.target == "failure":
            _add_new_priors(obj)
        if obj.target == "failure" and not hasattr(obj, "refit"):
            # a failure-logreg-2 seat: its SGD model answers until the refit has
            # seen enough labels of its own
            obj.refit = _new_refit() if FAILURE_MODEL == 3 else None
            if obj.refit is not None:
                obj.migrated_from = obj.version
                obj.version = "failure-logreg-3"
        return obj

    def _features(self, x: dict) -> dict:
        if self.target == "failure":
            return failure_features(x)
        m = getattr(self, "late_model", 1)
        return (late_features(x) if m == 2 else late_features_v3(x) if m == 3
                else late_features_v1(x))

    def predict_proba(self, x: dict) -> float:
        return self._proba(self._features(x))

    def _proba(self, f: dict) -> float:
        refit = getattr(self, "refit", None)
        p = refit.predict(f) if refit is not None else None
        if p is None:
            p = self.model.predict_proba_one(f)[True]
        return P_MIN if p < P_MIN else min(p, P_MAX)

    def drivers(self, x: dict, k: int = DRIVERS_K) -> list[dict]:
        """Why this failure-risk prediction is high: up to ``k`` features whose weight
        x value (log-odds, by the model that answers: the last refit, else the SGD
        model) raises it by at least ``DRIVERS_MIN_LOGIT``, largest first, each with
        its meaning in words (``failure_feature_text``).  Empty for the late seat."""
        if self.target != "failure":
            return []
        f = self._features(x)
        refit = getattr(self, "refit", None)
        fitted = refit.weights() if refit is not None else {}
        if fitted:
            def weight(n: str) -> float:
                return fitted.get(n, refit.prior.get(n, 0.0))
        else:
            sgd = self.model._weights

            def weight(n: str) -> float:
                return float(sgd.get(n, 0.0))
        pushes = sorted(((weight(n) * v, n) for n, v in f.items() if v),
                        key=lambda cn: (-cn[0], cn[1]))
        return [{"feature": n, "text": failure_feature_text(n), "logit": round(c, 3)}
                for c, n in pushes[:k] if c >= DRIVERS_MIN_LOGIT]

    def learn(self, x: dict, y: bool) -> None:
        y = bool(y)
        f = self._features(x)
        p = self._proba(f)
        self.logloss.update(y, p)
        self.auc.update(y, p)
        self.watch.update(-math.log(p if y else 1 - p), {"zone": x.get("zone")})
        if self.trace is not None:   # benchmarks/failure_risk.py: (p before learning, y)
            self.trace.append((p, y))
        self.model.learn_one(f, y)
        if getattr(self, "refit", None) is not None:
            self.refit.add(f, y)
        self.n_learned += 1
        self.n_pos += y

    def metrics(self) -> dict:
        out = {"learned": self.n_learned, "positives": self.n_pos,
               "log_loss": float(self.logloss.get()), "roc_auc": float(self.auc.get())}
        refit = getattr(self, "refit", None)
        if refit is not None:   # failure-logreg-3: how far its refit is
            out.update(refits=refit.fits, refit_window=len(refit.rows),
                       refit_bad=getattr(refit, "bad_fits", 0))
        return out
