"""Shared fixtures: a fresh closed-loop recording made by the current engine."""

from __future__ import annotations

import pytest

from fleetstream.sim.loop import Simulation
from fleetstream.sim.record import record


class Recording:
    """A replay folder plus the closed-loop run that produced it."""

    def __init__(self, path: str, sim: Simulation):
        self.path = path
        self.sim = sim

    def closed_loop(self, topic: str) -> list[dict]:
        return [r for t, _k, r in self.sim.outputs if t == topic]


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> Recording:
    """The `tiny` scenario simulated in closed loop with today's engine, recorded."""
    path = str(tmp_path_factory.mktemp("tiny"))
    sim, _ = record("tiny", path, progress=False)
    return Recording(path, sim)
