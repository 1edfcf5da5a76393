"""Liveness and readiness of one engine process.

*Live* (``/healthz``): the process answers, and the flow is not *stalled*.  Stalled
(only with a stall limit, ``--health-stall-s``; off by default): input is waiting on
the broker (consumer lag > 0) and the flow has handed nothing to the tap for longer
than the limit, so a wedged engine gets restarted by its supervisor.  A quiet input
is never a stall.  ``last_activity_s`` says how long ago the flow last handed
anything to the tap.

*Ready* (``/readyz``): the engine can take traffic.  Conditions, all required:

- ``sources_assigned``: every input partition listed by the source has been built
  in this process (Bytewax built it, with its resume state when recovering);
- ``state_restored``: Bytewax has loaded the recovery snapshot, if any; it does so
  before it builds the source partitions, so a built partition means the state is
  restored (a fresh run has nothing to restore);
- ``running``: the flow has not finished (a replay at its end, a stopped live run).

The flow layer sets the conditions through the tap (flows/tap.py); the CLI sets
``running`` to False when the run ends.

>>> r = Readiness()
>>> r.ready, r.why_not()
(False, ['sources_assigned', 'state_restored'])
>>> r.sources_listed(["events"]); r.source_built("events", resumed=False)
>>> r.ready
True
>>> r.finish(); r.ready, r.why_not()
(False, ['running'])
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable


class Readiness:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.listed: set[str] = set()
        self.built: set[str] = set()
        self.resumed = False
        self.listed_once = False
        self.running = True
        self.started = time.time()
        self.last_activity = 0.0
        self.stall_s = 0.0
        """Liveness limit (seconds without flow activity while input waits); 0: off."""
        self.backlog: Callable[[], int | None] = lambda: None
        """Input messages waiting on the broker (None: unknown, e.g. a replay)."""

    def sources_listed(self, parts: list[str]) -> None:
        with self._lock:
            self.listed.update(parts)
            self.listed_once = True

    def source_built(self, part: str, resumed: bool) -> None:
        with self._lock:
            self.built.add(part)
            self.resumed = self.resumed or resumed

    def activity(self) -> None:
        self.last_activity = time.time()

    def finish(self) -> None:
        self.running = False

    @property
    def conditions(self) -> dict[str, bool]:
        with self._lock:
            assigned = self.listed_once and bool(self.built) and self.listed <= self.built
        return {"sources_assigned": assigned, "state_restored": assigned,
                "running": self.running}

    @property
    def ready(self) -> bool:
        return all(self.conditions.values())

    def why_not(self) -> list[str]:
        return [k for k, v in self.conditions.items() if not v]

    def liveness(self) -> dict[str, Any]:
        """``{"status": "ok" | "stalled", ...}`` for /healthz."""
        now = time.time()
        idle = now - max(self.last_activity, self.started)
        out: dict[str, Any] = {"status": "ok"}
        if self.stall_s > 0 and self.running and idle > self.stall_s:
            try:
                waiting = self.backlog()
            except Exception:  # noqa: BLE001 - a probe never fails on a connector
                waiting = None
            if waiting:
                out = {"status": "stalled", "input_waiting": waiting,
                       "idle_s": round(idle, 3), "stall_limit_s": self.stall_s}
        return out

    def report(self) -> dict[str, Any]:
        now = time.time()
        return {"ready": self.ready, "conditions": self.conditions,
                "partitions": {"listed": sorted(self.listed), "built": sorted(self.built)},
                "resumed_from_recovery": self.resumed,
                "uptime_s": round(now - self.started, 3),
                "last_activity_s": (round(now - self.last_activity, 3)
                                    if self.last_activity else None)}
