"""End to end through the zone engine (after the J engine wiring): customer profiles
and shift_start hours of service reach insertion and the zone plan."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "operators", "zone"))
sys.path.insert(0, "/work/main/tests/operators/zone")

from fleetstream.contract.settings import EngineSettings  # noqa: E402
from fleetstream.operators.zone.engine import ZoneEngine  # noqa: E402
from zone_scene import DEPOT, T0, Feed, pt  # noqa: E402

SETTINGS = EngineSettings(routing_plan_solutions=30)


def _shift(f, vid, vtype="van", skills=(), **kw):
    ev = f.shift(vid, vtype=vtype)
    d = {k: getattr(ev, k) for k in ("vehicle_id", "driver_id", "zone", "fleet_type", "vehicle_type",
                                      "capacity", "shift_end_ts", "cost_per_km", "cost_per_hour")}
    d.update(start={"lat": DEPOT[0], "lon": DEPOT[1]}, end={"lat": DEPOT[0], "lon": DEPOT[1]},
             skills=list(skills), **kw)
    return f.ev("shift_start", T0, **d)


def _run(events):
    eng = ZoneEngine("Z", SETTINGS)
    out = []
    for ev in events:
        out += eng.process(ev)
    return eng, out


def _profile(f, cid, **kw):
    return f.ev("customer_profile", T0 - 60, customer_id=cid, zone="Z", language="en", **kw)


def test_requirements_from_profiles_end_to_end():
    f = Feed()
    evs = [_profile(f, "c-age", service_requirements=["age_check"]),
           _profile(f, "c-small", max_vehicle_type="car"),
           _profile(f, "c-hours", access_hours=["10:00-10:30"]),
           _shift(f, "van1"), _shift(f, "car1", vtype="car", skills=["age_check"])]
    evs += [f.order("a", T0 + 10, pt(0.01, 0.0), T0, T0 + 6 * 3600, customer="c-age"),
            f.order("b", T0 + 11, pt(0.0, 0.01), T0, T0 + 6 * 3600, customer="c-small"),
            f.order("c", T0 + 12, pt(0.01, 0.01), T0, T0 + 6 * 3600, customer="c-hours")]
    evs += [f.order(f"x{i}", T0 + 20 + i, pt(0.002 * i, -0.003 * i), T0, T0 + 6 * 3600)
            for i in range(1, 6)]
    for k in range(8):
        evs += [f.ping("van1", T0 + 900 + 300 * k, pt(0, 0)), f.ping("car1", T0 + 901 + 300 * k, pt(0, 0))]
    eng, _out = _run(evs)
    where = {oid: vid for vid, v in eng.vehicles.items() for oid, _k in v.route}
    assert where.get("a") == "car1" and where.get("b") == "car1"
    c = eng.state.orders["c"]
    assert (c.window_start, c.window_end) == (T0 + 2 * 3600, T0 + 2.5 * 3600)


def test_no_vehicle_can_serve_names_the_reason():
    f = Feed()
    evs = [_profile(f, "c-age", service_requirements=["age_check"]),
           _profile(f, "c-small", max_vehicle_type="bike"), _shift(f, "van1")]
    evs += [f.order("a", T0 + 600, pt(0.01, 0.0), T0, T0 + 6 * 3600, customer="c-age"),
            f.order("b", T0 + 601, pt(0.0, 0.01), T0, T0 + 6 * 3600, customer="c-small")]
    evs += [f.ping("van1", T0 + 900, pt(0, 0)), f.ping("van1", T0 + 1200, pt(0, 0))]
    _eng, out = _run(evs)
    text = str(out)
    assert "has no feasible vehicle yet (mostly: skills)" in text
    assert "has no feasible vehicle yet (mostly: access)" in text


def test_shift_break_reaches_the_engine():
    f = Feed()
    evs = [_shift(f, "van1", break_earliest_ts=T0 + 3600, break_latest_ts=T0 + 7200, break_s=1800,
                  max_drive_s=3 * 3600)]
    eng, _ = _run(evs)
    v = eng.vehicles["van1"]
    assert (v.break_s, v.max_drive_s, v.driven_s) == (1800.0, 3 * 3600.0, 0.0)
    snap = eng.state.dump()
    for d in snap["vehicles"]:            # a snapshot from before the fields loads
        for k in ("break_earliest_ts", "break_latest_ts", "break_s", "max_drive_s", "driven_s"):
            d.pop(k)
    from fleetstream.operators.zone.state import ZoneState
    assert ZoneState.load(snap).vehicles["van1"].driven_s == 0.0
