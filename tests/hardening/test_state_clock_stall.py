"""A zone clock that stops advancing while events keep arriving raises an alert
(issue 11, "A poisoned clock"; docs/limits.md, "Stalled clock").

Before: an event dated up to ``limits.event_skew_s`` ahead (accepted by stage 1)
moved the zone clock; every later event was "behind" it, decisions dried up, and
nothing said so.  Rule: ``limits.clock_stall_events`` consecutive events that do not
advance the zone clock raise one ``clock_stalled`` alert (counted in events, not
wall time, so a replay alerts at the same event); the count restarts when the clock
moves again."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "operators", "zone"))

from zone_scene import DEPOT, T0, Feed  # noqa: E402

from fleetstream.contract.outputs import TOPIC_ALERTS  # noqa: E402
from fleetstream.contract.settings import EngineSettings, LimitsSettings  # noqa: E402
from fleetstream.operators.zone.engine import ZoneEngine  # noqa: E402


def _run(eng: ZoneEngine, feed: Feed, ts_list) -> list:
    out = []
    for ts in ts_list:
        out += eng.process(feed.ev("customer_profile", ts, customer_id=f"c{feed.n}", zone="Z",
                                   language="en"))
    return [r for t, r in out if t == TOPIC_ALERTS and r["kind"] == "clock_stalled"]


def _engine(n: int) -> ZoneEngine:
    return ZoneEngine("Z", EngineSettings(solver_workers=0),
                      limits=LimitsSettings(clock_stall_events=n))


def test_a_clock_moved_ahead_by_one_event_raises_one_alert_after_n_events():
    eng, feed = _engine(100), Feed()
    assert not _run(eng, feed, [T0 + i for i in range(50)])
    assert not _run(eng, feed, [T0 + 3 * 3600])            # one event 3 h ahead
    alerts = _run(eng, feed, [T0 + 50 + i for i in range(99)])
    assert not alerts
    alerts = _run(eng, feed, [T0 + 149 + i for i in range(300)])
    assert len(alerts) == 1, alerts                         # once per stall
    a = alerts[0]
    assert a["severity"] == "warning" and "limits.clock_stall_events" in a["message"]
    assert a["details"]["events"] == 100 and a["details"]["clock"] == T0 + 3 * 3600
    assert a["details"]["behind_s"] > 3 * 3600 - 200
    assert eng.stats["clock_stalls"] == 1


def test_the_count_restarts_when_the_clock_moves_and_a_new_stall_alerts_again():
    eng, feed = _engine(20), Feed()
    _run(eng, feed, [T0])
    assert len(_run(eng, feed, [T0 - 1] * 25)) == 1
    assert not _run(eng, feed, [T0 + 10])                   # the clock moves on
    assert not _run(eng, feed, [T0 + 5] * 19)
    assert len(_run(eng, feed, [T0 + 5] * 5)) == 1


def test_a_steady_stream_never_alerts_and_zero_disables():
    eng, feed = _engine(5), Feed()
    assert not _run(eng, feed, [T0 + i for i in range(200)])
    eng, feed = _engine(0), Feed()
    _run(eng, feed, [T0 + 9999])
    assert not _run(eng, feed, [T0] * 50)


def test_the_stall_count_survives_a_snapshot():
    eng, feed = _engine(10), Feed()
    _run(eng, feed, [T0 + 100] + [T0] * 6)
    eng2 = ZoneEngine.restore(eng.snapshot(), EngineSettings(solver_workers=0),
                              limits=LimitsSettings(clock_stall_events=10))
    assert len(_run(eng2, feed, [T0] * 4)) == 1
    assert DEPOT
