"""Bounded zone state (issue 11, "Unbounded state"): orders without a terminal event
expire with an outcome record; vehicles, customers and per-vehicle model residuals
are forgotten by age, in event time (docs/limits.md, "Retention").

Before: orders that never got a terminal event stayed in state forever; customers,
vehicles and per-vehicle residuals were never pruned."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "operators", "zone"))

from zone_scene import T0, Feed, pt  # noqa: E402

from fleetstream.contract.outputs import TOPIC_OUTCOMES  # noqa: E402
from fleetstream.contract.settings import EngineSettings, LimitsSettings  # noqa: E402
from fleetstream.models.seats import learned_seats  # noqa: E402
from fleetstream.operators.zone.engine import ZoneEngine  # noqa: E402

DAY = 86_400.0
LIM = LimitsSettings()


def _engine(**limits) -> ZoneEngine:
    return ZoneEngine("Z", EngineSettings(solver_workers=0, routing_plan=False),
                      seats=learned_seats("Z"), limits=LimitsSettings(**limits))


def _tick(eng: ZoneEngine, feed: Feed, ts: float) -> list:
    """Time passes: a condition report elsewhere moves the zone clock (sweeps run)."""
    return eng.process(feed.ev("condition", ts, zone="Z", kind="weather", factor=1.0,
                               start_ts=ts, end_ts=ts + 60))


def test_an_order_that_never_hears_back_expires_after_its_window_plus_grace():
    eng, feed = _engine(), Feed()
    we = T0 + 3600
    eng.process(feed.order("o1", T0, pt(0.01, 0.01), T0, we))
    eng.process(feed.order("o2", T0 + 1, pt(0.01, 0.02), T0, we + DAY))
    out = _tick(eng, feed, we + LIM.order_grace_s - 60)
    assert "o1" in eng.orders and not [r for t, r in out if t == TOPIC_OUTCOMES]
    out = _tick(eng, feed, we + LIM.order_grace_s + 700)
    outcomes = [r for t, r in out if t == TOPIC_OUTCOMES]
    assert [(r["order_id"], r["outcome"]) for r in outcomes] == [("o1", "expired")]
    assert outcomes[0]["reason"].startswith("expired: ") and "order_grace_s" in outcomes[0]["reason"]
    assert outcomes[0]["customer_id"] == "co1"
    assert "o1" not in eng.orders and "o2" in eng.orders
    assert eng.stats["orders_expired"] == 1


def test_an_expired_order_leaves_its_vehicle_route():
    eng, feed = _engine(), Feed()
    eng.process(feed.shift("v1", ts=T0))
    eng.process(feed.order("o1", T0 + 1, pt(0.01, 0.01), T0, T0 + 3600))
    for k in range(1, 6):
        eng.process(feed.ping("v1", T0 + 60 * k, pt(0, 0)))
    assert eng.orders["o1"].vehicle_id == "v1"
    assert any(s[0] == "o1" for s in eng.vehicles["v1"].route)
    out = _tick(eng, feed, T0 + 3600 + LIM.order_grace_s + 700)
    assert "o1" not in eng.orders
    assert all(s[0] != "o1" for s in eng.vehicles["v1"].route)
    (d,) = [r for t, r in out if t == "fs.decisions"]
    assert (d["kind"], d["status"], d["order_ids"]) == ("unassign", "applied", ["o1"])
    assert d["explanation"]["reasons"][0]["rule"] == "order_expired"
    assert [r["outcome"] for t, r in out if t == TOPIC_OUTCOMES] == ["expired"]


def test_vehicles_and_their_residuals_are_pruned_after_retention():
    eng, feed = _engine(), Feed()
    eng.process(feed.shift("v1", ts=T0, hours=8))
    eng.process(feed.shift("v2", ts=T0 + DAY, hours=8))       # another day's shift
    eng.seats.eta.vres["v1"] = [0.5, 2.0]                      # what learning left
    eng.process(feed.ev("shift_end", T0 + 8 * 3600, vehicle_id="v1"))
    _tick(eng, feed, T0 + 8 * 3600 + LIM.retention_s - 3600)
    assert "v1" in eng.vehicles
    _tick(eng, feed, T0 + 8 * 3600 + LIM.retention_s + 700)
    assert "v1" not in eng.vehicles and "v1" not in eng.seats.eta.vres
    assert "v2" in eng.vehicles           # seen (shift end) within the retention
    assert eng.stats["vehicles_pruned"] == 1


def test_customers_are_pruned_after_retention_unless_an_order_is_open():
    eng, feed = _engine(), Feed()
    eng.process(feed.ev("customer_profile", T0, customer_id="c-old", zone="Z", language="de"))
    eng.process(feed.ev("customer_profile", T0, customer_id="c-open", zone="Z", language="fr"))
    eng.process(feed.order("o9", T0 + 1, pt(0.01, 0.01), T0, T0 + 5 * DAY, customer="c-open"))
    _tick(eng, feed, T0 + LIM.retention_s + 700)
    assert "c-old" not in eng.state.customers and "c-old" not in eng.state.customer_seen
    assert eng.state.customers["c-open"]["language"] == "fr"
    assert eng.stats["customers_pruned"] == 1


def test_retention_is_configurable_and_state_stays_flat_over_days():
    """Ten days of a small zone: vehicles, orders and customers stay bounded."""
    eng, feed = _engine(retention_s=DAY, order_grace_s=3600), Feed()
    sizes = []
    for day in range(10):
        t = T0 + day * DAY
        for k in range(5):
            eng.process(feed.shift(f"v{day}-{k}", ts=t, hours=8))
        for k in range(30):
            eng.process(feed.order(f"o{day}-{k}", t + k, pt(0.001 * k, 0.01), t, t + 7200,
                                   customer=f"c{day}-{k}"))
        for k in range(5):
            eng.process(feed.ev("shift_end", t + 8 * 3600, vehicle_id=f"v{day}-{k}"))
        _tick(eng, feed, t + 20 * 3600)
        sizes.append((len(eng.vehicles), len(eng.orders), len(eng.state.customers)))
    assert max(s[0] for s in sizes[2:]) <= 10, sizes
    assert max(s[1] for s in sizes[2:]) <= 30, sizes
    assert max(s[2] for s in sizes[2:]) <= 60, sizes


def test_retention_survives_a_snapshot():
    eng, feed = _engine(), Feed()
    eng.process(feed.ev("customer_profile", T0, customer_id="c1", zone="Z", language="de"))
    eng2 = ZoneEngine.restore(eng.snapshot(), limits=LimitsSettings())
    assert eng2.state.customer_seen == {"c1": T0}
