"""Learned planning travel times (engine.routing_learned_travel, docs/routing.md
"Learned travel times"): the ETA seat's curve of true against provider leg time, read
by the zone's travel model at event-time steps, kept in the zone state."""

from __future__ import annotations

import pickle
from dataclasses import replace

import pytest

from fleetstream.contract.settings import EngineSettings
from fleetstream.models.eta import PLAN_CENTRES_S, RiverEta
from fleetstream.operators.zone.engine import ZoneEngine
from fleetstream.operators.zone.world import LEARNED_TRAVEL_REFRESH_S, learned_time
from fleetstream.policies import policy_settings
from fleetstream.wiring import build_seats
from zone_scene import DEPOT, T0, pt

ON = replace(EngineSettings(), routing_learned_travel=True)


def _x(prov: float) -> dict:
    return {"dist_km": prov / 90.0, "provider_s": prov, "hour": 10, "condition_factor": 1.0,
            "driver_pace": 1.0, "vehicle_id": "V1", "vehicle_type": "van", "zone": "Z"}


def _teach(seat: RiverEta, n: int = 60, fixed_s: float = 80.0) -> None:
    """Legs that take a fixed ``fixed_s`` plus the provider's time (parking, starting)."""
    for i in range(n):
        for prov in (35.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 2000.0):
            seat.learn(_x(prov), (fixed_s + prov) / prov)


def test_before_any_leg_the_curve_is_the_planning_buffer() -> None:
    pts = RiverEta().plan_curve(1.2)
    assert [x for x, _ in pts] == list(PLAN_CENTRES_S)
    assert all(y == pytest.approx(1.2 * x, abs=0.1) for x, y in pts)


def test_the_curve_learns_a_fixed_part_per_leg() -> None:
    seat = RiverEta()
    _teach(seat)
    pts = seat.plan_curve(1.2)
    for x, y in pts:
        assert y == pytest.approx(80.0 + x, rel=0.08), (x, y)
    assert all(b[1] > a[1] and b[0] > a[0] for a, b in zip(pts, pts[1:]))   # increasing
    # the short legs are planned more than twice the provider; one factor could not do it
    assert learned_time(pts, 40.0) / 40.0 > 2.5
    assert learned_time(pts, 1500.0) / 1500.0 < 1.1


def test_a_seat_snapshot_without_the_curve_restores_to_the_prior() -> None:
    seat = RiverEta()
    _teach(seat, n=5)
    del seat.plan_bins                        # a snapshot written before the curve existed
    back = RiverEta.restore(seat.snapshot())
    assert back.plan_curve(1.2) == RiverEta().plan_curve(1.2)


def _engine(settings: EngineSettings, kind: str = "learned") -> ZoneEngine:
    eng = ZoneEngine("Z", settings, seats=build_seats("Z", settings, kind=kind))
    eng.state.clock = T0
    return eng


A, B = DEPOT, pt(0.004, 0.003)


def test_travel_uses_the_learned_curve_only_when_asked() -> None:
    on, off = _engine(ON), _engine(EngineSettings())
    _teach(on.seats.eta)
    _teach(off.seats.eta)
    prov = on.provider.travel_s(A, B, T0, 1.0)
    assert off.world.travel.tt(A, B, T0) == pytest.approx(1.2 * prov)
    tt = on.world.travel.tt(A, B, T0)
    pts, extra = on.state.learned_travel
    assert tt == pytest.approx(learned_time(pts, prov) + extra)
    assert tt == pytest.approx(80.0 + prov, rel=0.08)     # what the legs took
    assert tt > 1.25 * off.world.travel.tt(A, B, T0)
    assert off.state.learned_travel is None
    assert on.world.travel.tt(A, A, T0) == 0.0    # the same point: no leg


def test_rule_based_seats_keep_the_planning_buffer() -> None:
    eng = _engine(ON, kind="baseline")
    prov = eng.provider.travel_s(A, B, T0, 1.0)
    assert eng.world.travel.tt(A, B, T0) == pytest.approx(1.2 * prov)
    assert eng.state.learned_travel is None


def test_the_curve_is_read_again_only_at_event_time_steps() -> None:
    eng = _engine(ON)
    first = eng.world.travel.tt(A, B, T0)       # read now: the prior, nothing learned
    _teach(eng.seats.eta)
    assert eng.world.travel.tt(A, B, T0 + 1) == first
    step = (T0 // LEARNED_TRAVEL_REFRESH_S + 1) * LEARNED_TRAVEL_REFRESH_S
    eng.state.clock = step - 1
    assert eng.world.travel.tt(A, B, step - 1) == first
    eng.state.clock = step
    assert eng.world.travel.tt(A, B, step) > 1.25 * first


def test_a_restored_engine_plans_with_the_same_learned_times() -> None:
    eng = _engine(ON)
    _teach(eng.seats.eta)
    tt = eng.world.travel.tt(A, B, T0)
    blob = eng.snapshot()
    assert pickle.loads(blob)["learned_travel"] == eng.state.learned_travel
    _teach(eng.seats.eta, fixed_s=400.0)       # learned after the snapshot: not read yet
    back = ZoneEngine.restore(blob, ON)
    assert back.state.learned_travel == eng.state.learned_travel
    assert back.world.travel.tt(A, B, T0) == tt == eng.world.travel.tt(A, B, T0)


def test_snapshots_without_learned_travel_keep_their_layout() -> None:
    assert "learned_travel" not in pickle.loads(_engine(EngineSettings()).snapshot())


def test_the_predictive_policy_plans_on_learned_travel_times() -> None:
    base = EngineSettings()
    assert policy_settings("predictive", base).routing_learned_travel is True
    assert policy_settings("reactive", base).routing_learned_travel is False
    assert policy_settings("static", base).routing_learned_travel is False
