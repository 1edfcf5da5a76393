"""Riders at their own pace in the plans (``engine.routing_rider_pace``): the travel
model times a bike's or cargo bike's leg at the rider's pace when that is slower than
the provider's car time, and every planning path (route timing, insertion, the zone
plan's problem, a re-route) reads a vehicle's times as its own."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from fleetstream.contract.settings import EngineSettings
from fleetstream.operators.dispatch import InsertionStrategy, route_timing
from fleetstream.operators.estimators import baseline_seats
from fleetstream.operators.routing.checker import check_plan
from fleetstream.operators.routing.engine_adapter import RoutingConfig, build_problem, materialise
from fleetstream.operators.routing.solver import Budget, plan
from fleetstream.operators.state import Order, Vehicle
from fleetstream.operators.traveltime import RIDER_KMH, HaversineProvider, vehicle_tt
from fleetstream.operators.zone.state import ZoneState
from fleetstream.operators.zone.world import TravelModel, World

T0 = 1772438400.0          # 2026-03-02 08:00 UTC
DEPOT = (52.52, 13.405)
FAR = (52.65, 13.405)      # ~14.5 km north (19.5 km by road): ~1 h for a car at 8h, ~78 min for a bike


def vehicle(vid: str, vtype: str) -> Vehicle:
    ev = SimpleNamespace(vehicle_id=vid, driver_id="d" + vid, fleet_type="gig", vehicle_type=vtype,
                         capacity={"weight_kg": 100.0, "count": 20.0}, skills=[], start=DEPOT,
                         end=DEPOT, ts=T0, shift_end_ts=T0 + 10 * 3600, cost_per_km=0.0,
                         cost_per_hour=0.0, cost_per_stop=3.2, fixed_cost=0.0, max_route_s=None)
    return Vehicle.from_event(ev)


def order(oid: str, loc=FAR, w1: float = T0 + 8 * 3600) -> Order:
    ev = SimpleNamespace(order_id=oid, customer_id="c" + oid, kind="parcel", location=loc, pickup=None,
                         window_start=T0, window_end=w1, size={"weight_kg": 2.0}, service_s=120.0,
                         pickup_service_s=0.0, skills=[], vehicle_types=[], fleet_types=[],
                         priority=0, value=30.0, ts=T0 - 3600, event_id="e" + oid)
    return Order.from_event(ev)


def model(**kw) -> TravelModel:
    riders = tuple((vt, 3600.0 / kmh) for vt, kmh in sorted(RIDER_KMH.items()))
    return TravelModel(HaversineProvider(), 1.0, riders=riders, **kw)


def test_a_riders_leg_is_timed_at_its_pace_a_cars_is_not() -> None:
    tm = model()
    car, bike, cargo = (tm.tt_for(vt)(DEPOT, FAR, T0) for vt in ("van", "bike", "cargo_bike"))
    d_km = tm.dist(DEPOT, FAR) / 1000.0
    assert car == tm.tt(DEPOT, FAR, T0)
    assert bike == pytest.approx(d_km * 3600.0 / RIDER_KMH["bike"])
    assert cargo == pytest.approx(d_km * 3600.0 / RIDER_KMH["cargo_bike"]) and cargo > bike > car
    # never faster than the car, and no leg out of nothing
    assert tm.tt_for("bike")(DEPOT, DEPOT, T0) == 0.0
    slow = TravelModel(HaversineProvider(speed_profile_kmh=(5.0,) * 24), 1.0, riders=tm.riders)
    assert slow.tt_for("bike")(DEPOT, FAR, T0) == slow.tt(DEPOT, FAR, T0)
    # with learned travel times the rider's leg carries the learned time at a stop too
    learned = model(learned=((30.0, 30.0), (3600.0, 3600.0)), stop_extra_s=60.0)
    assert learned.tt_for("bike")(DEPOT, FAR, T0) == pytest.approx(bike + 60.0)


def test_vehicle_tt_reads_only_a_travel_models_tt() -> None:
    tm = model()
    van, bike = vehicle("V1", "van"), vehicle("B1", "bike")
    assert vehicle_tt(tm.tt, van) == tm.tt
    assert vehicle_tt(tm.tt, bike)(DEPOT, FAR, T0) > tm.tt(DEPOT, FAR, T0)

    def plain(a, b, ts):
        return 60.0
    assert vehicle_tt(plain, bike) is plain          # any other callable is used as given


def test_route_timing_and_insertion_time_a_rider_at_its_pace() -> None:
    tm = model()
    bike, van = vehicle("B1", "bike"), vehicle("V1", "van")
    o = order("o1", w1=T0 + 70 * 60)                  # due in 70 minutes
    orders = {o.id: o}
    tb = route_timing(bike, [(o.id, "delivery")], orders, DEPOT, T0, tm.tt)
    tv = route_timing(van, [(o.id, "delivery")], orders, DEPOT, T0, tm.tt)
    assert tb.arrive[0] > o.window_end > tv.arrive[0]
    ins, _rej = InsertionStrategy().insert(o, [bike, van], orders, T0, tm.tt, tm.dist)
    assert ins is not None and ins.vehicle_id == "V1"   # the bike cannot make it in time
    assert _rej.ranked()[0] == {"constraint": "time_window", "vehicles": 1, "example_vehicle": "B1"}


def test_the_zone_plans_problem_gives_riders_their_own_times() -> None:
    tm = model()
    bike, van = vehicle("B1", "bike"), vehicle("V1", "van")
    orders = [order("o1", w1=T0 + 70 * 60), order("o2", loc=(52.521, 13.406))]
    built = build_problem([bike, van], orders, {}, T0, tm.tt, tm.dist, RoutingConfig())
    p = built.problem
    assert set(p.vehicle_time) == {"B1"}
    i, j = 0, p.job("o1").node
    assert p.time_for("B1")[i][j] > p.time_for("V1")[i][j] == p.time[i][j]
    m = materialise(p)
    assert m.time_for("B1")[i][j] == p.time_for("B1")[i][j]
    res = plan(m, Budget(deterministic=True, solution_limit=50))
    assert check_plan(m, res.routes, [u.job_id for u in res.unassigned]).feasible
    assert ("o1", "delivery") not in res.routes.get("B1", [])


@pytest.mark.parametrize("on", [True, False])
def test_the_world_reads_the_riders_paces_from_the_eta_seat(on: bool) -> None:
    settings = EngineSettings(routing_rider_pace=on, solver_workers=0)
    st = ZoneState(zone="Z1")
    st.clock = T0
    world = World(st, settings, HaversineProvider(), seats=baseline_seats("Z1"))
    tm = world.travel
    if on:
        assert dict(tm.riders) == {vt: round(3600.0 / k) for vt, k in RIDER_KMH.items()}
        assert st.rider_pace == tm.riders and st.rider_refresh_ts > T0
        back = ZoneState.load(st.dump())
        assert back.rider_pace == st.rider_pace and back.rider_refresh_ts == st.rider_refresh_ts
    else:
        assert tm.riders == () and tm.tt_for("bike") == tm.tt
