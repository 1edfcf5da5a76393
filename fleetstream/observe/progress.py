"""Progress of a long replay that keeps coming while the flow is busy (``Heartbeat``).

Why not rich: the progress goes to stderr as plain lines, one every 2 s from the
replay source (``read 12,000 events (82%)  9,800 ev/s``) and, during a long solve,
one every :attr:`Heartbeat.EVERY_S` from here.  Plain lines read the same on a
terminal, in CI logs and in a pipe to a log shipper, need no terminal control codes
and no dependency; a rich live display redraws one line in place, which a log file
turns into garbage, and would need a second code path for non-terminals.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

from fleetstream.operators import jobs


class Heartbeat:
    """Progress while the flow is busy between input batches.

    The source prints a progress line every 2 s, but only when the flow asks it for the
    next batch: during a long solve the event path waits and the source is not asked,
    so the terminal went silent for minutes.  This thread prints a line every
    :attr:`EVERY_S` of such silence (events read, solver jobs pending, how long), and
    after the input ends while the run finishes.  It only reads counters: nothing it
    does reaches a decision.
    """

    EVERY_S = 10.0

    def __init__(self, part: Any, out: Any = None) -> None:
        self.part, self.out = part, out
        self.stop = threading.Event()
        self.last = time.perf_counter()
        self.thread = threading.Thread(target=self._loop, name="fleetstream-progress",
                                       daemon=True)
        self.thread.start()

    def _last_line(self) -> float:
        """When the source last printed (it schedules its next line 2 s ahead)."""
        return max(self.last, getattr(self.part, "next_report", 0.0) - 2.0)

    def line(self, now: float) -> str:
        seq, total = self.part.seq, self.part.total
        pending = int(jobs.METRICS.get("submitted", 0) - jobs.METRICS.get("applied", 0))
        busy = now - self._last_line()
        read = (f"all {seq:,} events read, finishing" if getattr(self.part, "ended", False)
                else f"read {seq:,} events" + (f" ({100 * seq / total:.0f}%)" if total else ""))
        return (f"  {read}; working for {busy:.0f} s"
                + (f": {pending} solver job{'s' if pending != 1 else ''} pending"
                   if pending > 0 else ""))

    def _loop(self) -> None:
        while not self.stop.wait(min(1.0, self.EVERY_S / 4)):
            now = time.perf_counter()
            if now - self._last_line() >= self.EVERY_S:
                print(self.line(now), file=self.out or sys.stderr, flush=True)
                self.last = now

    def close(self) -> None:
        self.stop.set()
