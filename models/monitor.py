"""Drift detection on a model's progressive errors.

Each learned seat feeds its predict-then-learn error (computed on the features
captured at prediction time, just before it learns from the label) into a
:class:`DriftWatch`.  ADWIN keeps an adaptive window of the error; when it
detects a change *and the error got worse* by at least ``min_rise`` (relative),
the watch queues a drift event.  The zone engine polls the seat's
``drift_events()`` after it learns and turns each event into an ``fs.alerts``
record of kind ``drift`` (see docs/models.md for the exact hook).

There is no clock here: the watch counts samples (``min_n`` before the first
event, ``cooldown_n`` between events), so the same labels give the same events.
"""

from __future__ import annotations

from collections import deque

from river import drift


class DriftWatch:
    def __init__(self, seat: str, metric: str, delta: float = 0.002, min_n: int = 300,
                 cooldown_n: int = 500, min_rise: float = 0.15, history: int = 50):
        self.seat, self.metric = seat, metric
        self.adwin = drift.ADWIN(delta=delta)
        self.min_n, self.cooldown_n, self.min_rise = min_n, cooldown_n, min_rise
        self.n = 0
        self.last_event_n = -10**9
        self.pending: list[dict] = []
        self.history: deque = deque(maxlen=history)
        self.n_detections = 0

    def update(self, err: float, context: dict | None = None) -> None:
        self.n += 1
        before = self.adwin.estimation
        self.adwin.update(err)
        if not self.adwin.drift_detected:
            return
        self.n_detections += 1
        after = self.adwin.estimation
        if (self.n < self.min_n or self.n - self.last_event_n < self.cooldown_n
                or after < before * (1.0 + self.min_rise)):
            return
        self.last_event_n = self.n
        ev = {"seat": self.seat, "metric": self.metric, "before": round(before, 4),
              "after": round(after, 4), "window": int(self.adwin.width), "n": self.n}
        if context:
            ev.update(context)
        self.pending.append(ev)
        self.history.append(ev)

    def take(self) -> list[dict]:
        out, self.pending = self.pending, []
        return out
