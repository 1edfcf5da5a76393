"""The lane watermark of stage 1: an event-time clock that a few outliers cannot move.

This module holds :class:`Watermark`, the ``WATERMARK_RANK``-th largest of the
last ``WATERMARK_WINDOW`` observed event times (docs/limits.md, "Event time"),
with its snapshot and restore.  The stage-1 tracker (operators/tracker.py)
checks every event against it, and the lane clock of the Bytewax flow
(flows/lanes.py) follows the same rule.  Plain Python: no Bytewax import.
"""

from __future__ import annotations

import heapq
from collections import deque

WATERMARK_RANK, WATERMARK_WINDOW = 3, 64
"""The lane watermark is the 3rd largest of the last 64 accepted event times
(docs/limits.md): one or two outliers cannot move it, and outliers age out."""


class Watermark:
    """The ``rank``-th largest of the last ``window`` observed times: a clock that a
    few outliers (fewer than ``rank`` in any ``window`` consecutive times) cannot move.

    >>> w = Watermark()
    >>> for t in (100, 101, 102, 9_000_000, 103):
    ...     w.observe(t)
    >>> w.value
    102
    >>> w.observe(104); w.observe(105); w.value
    104
    """

    __slots__ = ("times", "value", "rank")

    def __init__(self, rank: int = WATERMARK_RANK, window: int = WATERMARK_WINDOW):
        self.rank = rank
        self.times: deque[float] = deque(maxlen=window)
        self.value: float | None = None   # None until the first observation

    def observe(self, ts: float) -> None:
        times = self.times
        full = len(times) == times.maxlen
        times.append(ts)
        if self.value is None or ts > self.value or full:
            self.value = heapq.nlargest(self.rank, times)[-1]

    def reset(self, ts: float) -> None:
        """Jump to ``ts`` (as if ``rank`` times equal to it had just been observed)."""
        self.times.clear()
        self.times.extend([ts] * self.rank)
        self.value = ts

    def snapshot(self) -> list[float]:
        return list(self.times)

    @classmethod
    def restore(cls, times: list[float], rank: int = WATERMARK_RANK,
                window: int = WATERMARK_WINDOW) -> "Watermark":
        w = cls(rank, window)
        w.times.extend(times)
        w.value = heapq.nlargest(rank, w.times)[-1] if w.times else None
        return w
