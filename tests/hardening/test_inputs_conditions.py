"""Idempotent, bounded condition reports (issue 11, "Compounding inputs").

Measured before the fix: the same traffic report re-sent 12 times multiplied its
factor each time (first-stop ETAs 41 days out); 320 such reports overflowed to NaN.
Rule (docs/limits.md, "Condition reports"): a report replaces the zone's earlier
reports of the same ``kind`` and ``area`` whose time range overlaps its own;
distinct conditions still combine (their product), but every factor, single or
combined, is clamped to ``[limits.condition_factor_min, limits.condition_factor_max]``
and a clamp raises an alert."""

from __future__ import annotations

import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "operators", "zone"))

from zone_scene import DEPOT, T0, Feed, pt  # noqa: E402

from fleetstream.contract.outputs import TOPIC_ALERTS  # noqa: E402
from fleetstream.contract.settings import EngineSettings, LimitsSettings  # noqa: E402
from fleetstream.operators.zone.engine import ZoneEngine  # noqa: E402

AREA = {"lat": DEPOT[0], "lon": DEPOT[1], "radius_m": 3000}
A, B = pt(0.001, 0.001), pt(0.01, 0.01)


def _cond(feed: Feed, ts: float, kind: str = "traffic", factor: float = 2.0,
          start: float | None = None, end: float | None = None, area=AREA):
    kw = {"area": area} if area is not None else {}
    return feed.ev("condition", ts, zone=feed.zone, kind=kind, factor=factor,
                   start_ts=ts if start is None else start,
                   end_ts=(ts if start is None else start) + 3600 if end is None else end, **kw)


def _engine(**limits) -> ZoneEngine:
    return ZoneEngine("Z", EngineSettings(), limits=LimitsSettings(**limits))


def _factor(eng: ZoneEngine, ts: float) -> float:
    return eng.world.travel.factor(A, B, ts)


def test_a_report_resent_320_times_does_not_compound():
    eng, feed = _engine(), Feed()
    for i in range(320):
        eng.process(_cond(feed, T0 + i, start=T0, end=T0 + 3600, factor=2.56))
    f = _factor(eng, T0 + 600)
    assert f == 2.56, f
    assert len(eng.state.conditions) == 1
    assert math.isfinite(eng.tt(A, B, T0 + 600))
    assert eng.state.stats.get("conditions_replaced") == 319


def test_an_updated_report_replaces_the_earlier_one_of_the_same_kind_and_area():
    eng, feed = _engine(), Feed()
    eng.process(_cond(feed, T0, factor=3.0, start=T0, end=T0 + 3600))
    eng.process(_cond(feed, T0 + 60, factor=1.5, start=T0 + 60, end=T0 + 7200))  # overlaps
    assert _factor(eng, T0 + 600) == 1.5
    assert _factor(eng, T0 + 5000) == 1.5


def test_an_older_report_arriving_late_does_not_replace_a_newer_one():
    eng, feed = _engine(), Feed()
    eng.process(_cond(feed, T0 + 60, factor=1.5, start=T0, end=T0 + 3600))
    eng.process(_cond(feed, T0, factor=3.0, start=T0, end=T0 + 3600))  # older report
    assert _factor(eng, T0 + 600) == 1.5
    assert eng.state.stats.get("conditions_stale_ignored") == 1


def test_the_same_kind_in_other_areas_or_other_hours_coexists():
    eng, feed = _engine(), Feed()
    eng.process(_cond(feed, T0, factor=2.0, start=T0, end=T0 + 3600))
    eng.process(_cond(feed, T0 + 1, factor=3.0, start=T0 + 7200, end=T0 + 10800))  # later hours
    far = {"lat": DEPOT[0] + 1.0, "lon": DEPOT[1], "radius_m": 500}
    eng.process(_cond(feed, T0 + 2, factor=5.0, start=T0, end=T0 + 3600, area=far))
    assert len(eng.state.conditions) == 3
    assert _factor(eng, T0 + 600) == 2.0          # the far area holds neither A nor B
    assert _factor(eng, T0 + 8000) == 3.0


def test_distinct_conditions_combine_but_the_product_is_clamped_and_alerted():
    eng, feed = _engine(), Feed()
    out = []
    for kind, f in (("traffic", 3.0), ("weather", 4.0), ("incident", 5.0)):
        out += eng.process(_cond(feed, T0, kind=kind, factor=f, start=T0, end=T0 + 3600))
    assert _factor(eng, T0 + 600) == 10.0                       # 60 clamped
    alerts = [r for t, r in out if t == TOPIC_ALERTS]
    assert alerts and "clamped" in alerts[-1]["message"], alerts
    assert alerts[-1]["details"]["combined_factor"] == 60.0
    assert eng.state.stats.get("conditions_clamped", 0) >= 1
    # the leg cache (LegTimes) clamps the same way
    assert eng.world.legs.leg_s(A, B, T0 + 600)[1] == 10.0


def test_a_single_factor_outside_a_narrower_configured_range_is_clamped_visibly():
    eng, feed = _engine(condition_factor_max=4.0, condition_factor_min=0.5), Feed()
    out = eng.process(_cond(feed, T0, factor=8.0, start=T0, end=T0 + 3600))
    assert _factor(eng, T0 + 600) == 4.0
    out += eng.process(_cond(feed, T0 + 1, kind="weather", factor=0.2, start=T0, end=T0 + 3600,
                             area=None))
    assert _factor(eng, T0 + 600) == 2.0      # 4 (clamped) x 0.5 (clamped)
    alerts = [r for t, r in out if t == TOPIC_ALERTS]
    assert len(alerts) == 2 and all("clamped" in a["message"] for a in alerts), alerts


def test_nonsense_factors_never_reach_the_engine():
    """<= 0, non-finite or absurd factors are dead-lettered by the decoder (wire range
    0.2 to 10), so the engine never multiplies by them."""
    from fleetstream.contract.events import ValidationError, validate
    import pytest
    for bad in (0, -1, 1e308 * 10, float("nan"), 11, 0.1):
        with pytest.raises(ValidationError):
            validate({"type": "condition", "event_id": "c", "ts": T0, "v": 1, "zone": "Z",
                      "kind": "traffic", "factor": bad, "start_ts": T0, "end_ts": T0 + 60})


def test_condition_state_is_bounded():
    eng, feed = _engine(max_conditions=8), Feed()
    for i in range(50):
        area = {"lat": DEPOT[0] + i * 0.01, "lon": DEPOT[1], "radius_m": 100}
        eng.process(_cond(feed, T0 + i, kind="incident", start=T0, end=T0 + 3600 + i,
                          area=area))
    assert len(eng.state.conditions) == 8
    assert eng.state.stats["conditions_evicted"] == 42
