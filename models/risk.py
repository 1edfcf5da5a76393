"""Late-risk and failure-risk classifiers: online logistic regression.

Both start as the baseline: the weight of the baseline's own probability (as a
logit feature) is initialised so that the untrained model *is* the baseline,
and the others at 0.  Logistic regression trained on log loss then learns the
corrections; its probabilities are calibrated in the sense that log loss is
what it minimises (reliability is measured by ``fleetstream evaluate``).

- late risk (``target="late"``): P(arrival after the window end) from the ETA
  slack against the calibrated interval width, the analytic normal tail, the
  horizon, stops ahead, priority, order kind, fleet type, time of day;
- failure risk (``target="failure"``): P(failed attempt) from the customer's
  history (failures, access failures, deliveries), whether access instructions
  are known (a proxy for a hard address), the expected arrival hour (people are
  out at work by day), order kind and priority.
"""

from __future__ import annotations

import math

from river import linear_model, metrics, optim

from fleetstream.models.base import LearnedSeat
from fleetstream.models.features import failure_features, late_features
from fleetstream.models.monitor import DriftWatch

P_MIN, P_MAX = 0.002, 0.998
FAILURE_PRIORS = {"stated_out": 1.0, "stated_out_h": 0.5, "access_known": 1.0, "nh_near": 0.5}


class RiverRisk(LearnedSeat):
    trace: list | None = None      # set to a list to keep every progressive (p, y)

    def __init__(self, target: str = "late", lr: float = 0.03, l2: float = 1e-4):
        if target not in ("late", "failure"):
            raise ValueError(f"unknown risk target {target!r}")
        self.target = target
        self.version = f"{target}-logreg-{2 if target == 'failure' else 1}"
        self.n_learned = 0
        self.model = linear_model.LogisticRegression(optimizer=optim.SGD(lr), l2=l2,
                                                     intercept_lr=lr)
        if target == "late":
            self.model._weights["tail_logit"] = 4.0   # starts as the analytic normal tail
        else:
            # starts near the Beta(1, 9) history prior: logit(0.1) ~ -2.2, with the
            # priors a dispatcher would state (the model revises them): an arrival
            # outside the hours the customer says someone is in, an address with access
            # instructions, an hour near one when the customer was out before, fail
            # more often (docs/models.md "Failure risk")
            self.model.intercept = -2.2
            for k, w in FAILURE_PRIORS.items():
                self.model._weights[k] = w
        self.logloss = metrics.LogLoss()
        self.auc = metrics.ROCAUC(n_thresholds=50)
        self.n_pos = 0
        self.watch = DriftWatch(f"{target}_risk", "log_loss", min_n=500)

    def _features(self, x: dict) -> dict:
        return late_features(x) if self.target == "late" else failure_features(x)

    def _proba(self, f: dict) -> float:
        p = self.model.predict_proba_one(f)[True]
        return P_MIN if p < P_MIN else P_MAX if p > P_MAX else p

    def predict_proba(self, x: dict) -> float:
        return self._proba(self._features(x))

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
        self.n_learned += 1
        self.n_pos += y

    def metrics(self) -> dict:
        return {"learned": self.n_learned, "positives": self.n_pos,
                "log_loss": float(self.logloss.get()), "roc_auc": float(self.auc.get())}
