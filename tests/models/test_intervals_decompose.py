"""benchmarks/intervals.py: the split of a held plan's arrival error into first leg,
later legs, time at stops and waiting adds up exactly to the error."""

from __future__ import annotations

import importlib.util
import os

_spec = importlib.util.spec_from_file_location(
    "bench_intervals", os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks",
                                    "intervals.py"))
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)   # type: ignore[union-attr]


def test_components_add_up_to_the_error() -> None:
    ts = 1000.0
    # planned: (order, kind, predicted arrival, window start, service)
    plan = [("a", "delivery", 1300.0, 0.0, 120.0), ("b", "delivery", 1700.0, 1900.0, 60.0),
            ("c", "delivery", 2300.0, 0.0, 90.0)]
    made = [{"arrive_ts": 1360.0, "depart_ts": 1100.0},
            {"arrive_ts": 1850.0, "depart_ts": 1530.0},     # early: waits for 1900
            {"arrive_ts": 2500.0, "depart_ts": 2010.0}]
    parts = bench._components(ts, plan, made, dwell=30.0)
    err = made[-1]["arrive_ts"] - plan[-1][2]
    assert abs(sum(parts.values()) - err) < 1e-9
    assert parts["leg0"] == 60.0
    assert parts["wait"] == 50.0 - 200.0   # waited 50 s, 200 s were planned
