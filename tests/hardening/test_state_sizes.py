"""Memory per vehicle, per open order and per customer of a zone (docs/limits.md,
"Memory per vehicle, order and customer"), measured on the shipped ``small`` day at
30 %, 50 % and 70 % of its events.  ``pytest -s`` prints the figures the docs quote;
the bounds catch a regression that makes an entity several times heavier."""

from __future__ import annotations

import os

import pytest

from fleetstream.connectors.files import read_replay
from fleetstream.contract.settings import EngineSettings
from fleetstream.engine import LocalEngine
from fleetstream.operators.zone.retention import deep_size, state_sizes

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.slow
def test_memory_per_vehicle_order_and_customer_on_small():
    msgs = list(read_replay(os.path.join(ROOT, "replay_data", "small")))
    eng = LocalEngine(EngineSettings(solver_workers=0))
    marks = {int(len(msgs) * f): f for f in (0.3, 0.5, 0.7)}
    rows = []
    for i, m in enumerate(msgs[:max(marks) + 1]):
        eng.process(m)
        if i in marks:
            (zone, ze), = eng.zones.items()
            s = state_sizes(ze.state)
            rows.append(s)
            tracker = next(iter(eng.trackers.values()))
            per_entity = deep_size(tracker.entities) / max(len(tracker.entities), 1)
            print(f"{marks[i]:.0%} {zone}: {s['vehicles']} vehicles "
                  f"{s['vehicle_bytes'] / 1024:.1f} kB ({s['vehicle_pickled'] / 1024:.1f} kB "
                  f"pickled), {s['orders']} open orders {s['order_bytes'] / 1024:.1f} kB "
                  f"({s['order_pickled'] / 1024:.1f} kB), {s['customers']} customers "
                  f"{s['customer_bytes']:.0f} B ({s['customer_pickled']:.0f} B); stage-1 "
                  f"entity {per_entity:.0f} B; zone snapshot {len(ze.snapshot()) / 1024:.0f} kB")
    assert len(rows) == 3
    for s in rows:
        assert s["vehicles"] > 0 and s["orders"] > 0 and s["customers"] > 0
        assert s["vehicle_bytes"] < 16_384 and s["order_bytes"] < 16_384, s
        assert s["customer_bytes"] < 4096, s
