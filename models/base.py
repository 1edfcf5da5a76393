"""What every learned seat shares: compact snapshot/restore and drift polling.

The seat contracts (``operators/estimators.py``):

- ETA: ``predict_ratio(x) -> float``, ``learn(x, actual_ratio)``;
- intervals: ``interval(x) -> (lo80, hi80, lo95, hi95)`` offsets in seconds,
  ``update(x, residual_s)``;
- risk: ``predict_proba(x) -> float``, ``learn(x, y: bool)``;
- all: ``version`` (str), ``n_learned`` (int), ``snapshot()``, ``restore(snap)``.

Learned seats add ``drift_events()`` (take the queued drift events) and
``metrics()`` (progressive-validation figures of this seat, i.e. of one zone).

``snapshot()`` returns a pickle (bytes) of the seat's attributes.  **Pickles
execute code when loaded: never restore a snapshot from an untrusted source.**
"""

from __future__ import annotations

import pickle
from typing import Any


class LearnedSeat:
    version: str = "learned-0"
    n_learned: int = 0
    watch: Any = None

    def snapshot(self) -> bytes:
        return pickle.dumps(self.__dict__, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def restore(cls, snap: bytes) -> Any:
        obj = cls.__new__(cls)
        obj.__dict__.update(pickle.loads(snap))
        return obj

    def drift_events(self) -> list[dict]:
        """Drift events detected since the last call (each returned once)."""
        return self.watch.take() if self.watch is not None else []

    def drift_history(self) -> list[dict]:
        return list(self.watch.history) if self.watch is not None else []

    def metrics(self) -> dict:
        return {}
