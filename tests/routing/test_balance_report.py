"""`fleetstream evaluate` reports per-driver stops and hours (issue #10 item 5;
docs/evaluate.md, "Per-driver workload"): each driver's stops, shift hours and working
hours in scorecard.json (``workload_drivers``), and per fleet type the spread of stops
and working hours over the drivers with work (``stops_cv``, ``work_h_cv``)."""

from __future__ import annotations

import orjson
import pytest

from fleetstream.report.html import workload_table
from fleetstream.report.scorecard import _workload_summary, workload_text
from fleetstream.report.scoring import Workload

T0 = 1772438400.0


def _feed(w: Workload, vid: str, fleet: str, stops: int, step_s: float = 600.0) -> None:
    w.see("fs.fleet", orjson.dumps({"type": "shift_start", "vehicle_id": vid, "driver_id": "d" + vid,
                                    "fleet_type": fleet, "ts": T0}))
    for k in range(stops):
        w.see("fs.orders", orjson.dumps({"type": "stop_arrived", "vehicle_id": vid,
                                         "ts": T0 + (k + 1) * step_s}))
    w.see("fs.fleet", orjson.dumps({"type": "shift_end", "vehicle_id": vid, "ts": T0 + 9 * 3600}))


def test_per_driver_stops_shift_and_working_hours() -> None:
    w = Workload()
    _feed(w, "a", "captive", 30)
    _feed(w, "b", "captive", 10)
    _feed(w, "c", "captive", 0)
    _feed(w, "g", "gig", 6)
    rows = {r["vehicle"]: r for r in w.rows()}
    assert rows["a"]["stops"] == 30 and rows["a"]["hours"] == pytest.approx(9.0)
    assert rows["a"]["work_h"] == pytest.approx(30 * 600 / 3600)   # to its last stop
    assert rows["c"]["work_h"] == 0.0
    s = _workload_summary(w.rows())
    cap = s["captive"]
    assert cap["drivers"] == 3 and cap["active"] == 2
    # sd / mean over the drivers with stops: 30 and 10 -> 10 / 20
    assert cap["stops_cv"] == pytest.approx(0.5)
    assert cap["work_h_cv"] == pytest.approx(0.5)
    assert isinstance(s["gig"]["stops_cv"], str)   # one driver: n/a, with its reason
    lines = workload_text(s)
    assert any("captive: 3 drivers (2 with stops)" in x and "cv 0.5" in x for x in lines)
    html = workload_table(s)
    assert "sd/mean" in html and "0.50" in html
