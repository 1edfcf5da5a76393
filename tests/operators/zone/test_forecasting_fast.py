"""The cheap ETA refresh decides and publishes exactly what the full refresh did.

The reference is the refresh as it was before it was made cheap (every leg timed by
the travel model, every interval and risk evaluated at every stop): run on a twin of
the zone, it must give the same records, the same returned at-risk orders and the
same vehicle and order state, step after step of a randomised (seeded) scene in
which vehicles move, routes change, new legs appear, conditions come and go and the
models learn.  The caches the cheap refresh keeps across steps (``World.legs``) are
exactly what could go stale, so the scene exercises each way they are invalidated.
"""

from __future__ import annotations

import copy
import random

import pytest

from fleetstream.contract.settings import EngineSettings
from fleetstream.operators.state import DELIVERY, PICKUP, Vehicle
from fleetstream.operators.traveltime import HaversineProvider
from fleetstream.operators.zone.forecasting import (LEG_RATIO_REFRESH_S, RISK_HORIZON_S,
                                                    RISK_MAX_STOPS, Forecasting, horizon_bucket)
from fleetstream.operators.zone.records import Emitter
from fleetstream.operators.zone.state import ZoneState
from fleetstream.operators.zone.world import LegTimes, TravelModel, World
from fleetstream.wiring import build_seats
from zone_scene import DEPOT, T0, Feed, order, pt, vehicle


def reference_refresh(fc: Forecasting, v: Vehicle, now: float, triggers: list[str],
                      out: list) -> list[str]:
    """``Forecasting.refresh`` before it was made cheap (commit 9edb211), verbatim but
    for ``self`` -> ``fc``; its leg ratios come from the same method, recomputed here
    with the travel model's own ``leg_s``."""
    s, st, seats, world = fc.settings, fc.state, fc.seats, fc.world
    travel = world.travel
    v.eta_ts = now
    route = v.route
    if v.route_version != v.leg_ratio_rv or now - v.leg_ratio_ts >= LEG_RATIO_REFRESH_S:
        reference_leg_ratios(fc, v, now)
    t, prev = now, v.pos
    tp = th = now
    etas = []
    at_risk: list[str] = []
    stuck: list[str] = []   # answered flags still at risk (the re-arm of 2026-11-29)
    again = now - v.last_trigger_ts >= s.trigger_cooldown_s
    hour = (now % 86400) / 3600.0
    for i, (oid, kind) in enumerate(route):
        o = st.orders[oid]
        p = o.stop_point(kind)
        prov, f = travel.leg_s(prev, p, t)
        if i == 0:
            ratio = seats.eta.predict_ratio(world.leg_x(v, prev, p, t, prov, f, 0))
        else:
            ratio = v.leg_ratios[i - 1] if i - 1 < len(v.leg_ratios) else 1.0
        arrive = t + prov * ratio
        arrive_p = tp + prov
        arrive_h = th + prov * fc.hist_ratio(th)
        w0, w1 = o.stop_window(kind)
        svc = o.stop_service_s(kind)
        start = arrive if arrive > w0 else w0
        etas.append(round(arrive, 1))
        t, prev = start + svc, p
        tp = (arrive_p if arrive_p > w0 else w0) + svc
        th = (arrive_h if arrive_h > w0 else w0) + svc
        if kind != DELIVERY:
            continue
        horizon = arrive - now
        xi = {"horizon_s": horizon, "stops_ahead": i, "zone": st.zone, "hour": hour,
              "pace_var": abs(v.pace - 1.0)}
        lo80, hi80, lo95, hi95 = seats.intervals.interval(xi)
        p_late = None
        if i < RISK_MAX_STOPS or horizon < RISK_HORIZON_S:
            xr = world.risk_x(v, o, arrive, hi80 - lo80, horizon, i, hour)
            p_late = seats.late_risk.predict_proba(xr)
            b = horizon_bucket(horizon)
            if not o.snaps or o.snaps[-1]["b"] != b:
                o.snaps.append({"b": b, "ts": now, "eta": arrive, "xi": xi, "xr": xr,
                                "p_late": p_late, "lo80": lo80, "hi80": hi80,
                                "lo95": lo95, "hi95": hi95, "eta_p": arrive_p,
                                "eta_h": arrive_h})
            fc.flag(o, p_late, at_risk, again, stuck)   # the flag, its queue: shared
            if horizon < 3600 and not o.fail_alerted:
                p_fail = seats.failure_risk.predict_proba(xr)
                if p_fail >= s.failure_risk_on:
                    o.fail_alerted = True
                    fc.emit.alert(out, now, "failure_risk", "warning",
                                  f"Order {oid}: {p_fail:.0%} risk of a failed attempt "
                                  f"(customer {o.customer_id})", v.id, [oid],
                                  {"p_fail": round(p_fail, 3), **world.context_counts(o)},
                                  triggers)
        fc._models = None   # the reference asks the seats for their versions every time
        fc.maybe_publish_eta(v, o, now, arrive, (lo80, hi80, lo95, hi95), i, p_late, out,
                             triggers)
    v.etas = etas
    if stuck:
        fc.still_at_risk(v, stuck, now, triggers, out)
    return fc.release(v, now, at_risk)


def reference_leg_ratios(fc: Forecasting, v: Vehicle, now: float) -> None:
    orders, travel = fc.state.orders, fc.world.travel
    ratios = []
    t = now
    for i in range(1, len(v.route)):
        a = orders[v.route[i - 1][0]].stop_point(v.route[i - 1][1])
        b = orders[v.route[i][0]].stop_point(v.route[i][1])
        prov, f = travel.leg_s(a, b, t)
        ratios.append(fc.seats.eta.predict_ratio(fc.world.leg_x(v, a, b, t, prov, f, i)))
        t += prov + 120.0
    v.leg_ratios = ratios
    v.leg_ratio_ts = now
    v.leg_ratio_rv = v.route_version


# ---------------------------------------------------------------------- the scene

class Scene:
    """A zone with vehicles on long routes (parcels and on-demand pickups), customers
    with history, learned (River) seats; ``twin()`` gives an independent deep copy."""

    def __init__(self, seed: int, n_vehicles: int = 3, n_orders: int = 60):
        self.rng = rng = random.Random(seed)
        self.settings = EngineSettings(eta_publish_min_period_s=rng.choice([0.0, 120.0, 300.0]))
        f = Feed()
        st = ZoneState("Z")
        self.state = st
        self.seats = build_seats("Z", self.settings, kind="learned")
        for k in range(n_vehicles):
            v = vehicle(f, f"v{k}", active=True, pos=pt(rng.uniform(-0.02, 0.02),
                                                        rng.uniform(-0.03, 0.03)))
            v.pace = rng.uniform(0.8, 1.4)
            st.vehicles[v.id] = v
        vids = sorted(st.vehicles)
        for k in range(n_orders):
            ws = T0 + rng.uniform(-1800, 5 * 3600)
            kind = "on_demand" if rng.random() < 0.3 else "parcel"
            pickup = pt(rng.uniform(-0.03, 0.03), rng.uniform(-0.04, 0.04)) if kind == "on_demand" else None
            o = order(f, f"o{k}", pt(rng.uniform(-0.04, 0.04), rng.uniform(-0.05, 0.05)), ws,
                      ws + rng.choice([1800, 3600, 7200]), kind=kind, pickup=pickup,
                      customer=f"c{k % 17}")
            o.status, o.vehicle_id = "assigned", vids[k % n_vehicles]
            st.orders[o.id] = o
            st.customers.setdefault(o.customer_id, {"language": "en", "failures": k % 3,
                                                    "deliveries": k % 5})
            v = st.vehicles[o.vehicle_id]
            if pickup is not None:
                v.route.append((o.id, PICKUP))
            v.route.append((o.id, DELIVERY))
        for v in st.vehicles.values():
            v.route_version += 1
        self.now = T0

    def twin(self) -> tuple[ZoneState, object]:
        return copy.deepcopy((self.state, self.seats))


def forecaster(st: ZoneState, seats, settings: EngineSettings) -> Forecasting:
    world = World(st, settings, HaversineProvider())
    return Forecasting(st, settings, seats, world, Emitter(st, seats))


def vehicle_state(st: ZoneState) -> list:
    return [(v.id, v.route, v.etas, v.leg_ratios, v.leg_ratio_ts, v.eta_ts, v.last_trigger_ts)
            for v in st.vehicles.values()]


def order_state(st: ZoneState) -> list:
    return [(o.id, o.pub_ts, o.pub_eta, o.pub_hi, o.notified_eta, o.late_flag, o.fail_alerted,
             o.snaps) for o in st.orders.values()]


def mutate(rng: random.Random, st: ZoneState, now: float) -> str:
    """One random change of the world between two refreshes; returns what it was."""
    v = st.vehicles[rng.choice(sorted(st.vehicles))]
    what = rng.choice(["move", "move", "move", "serve", "swap", "new_leg", "condition",
                       "condition_area", "pace"])
    if what == "move":
        v.pos = (v.pos[0] + rng.uniform(-0.003, 0.003), v.pos[1] + rng.uniform(-0.003, 0.003))
    elif what == "serve" and len(v.route) > 2:
        v.route = v.route[1:]
        v.route_version += 1
    elif what == "swap" and len(v.route) > 3:
        i = rng.randrange(1, len(v.route) - 1)
        v.route = v.route[:i] + [v.route[i + 1], v.route[i]] + v.route[i + 2:]
        if rng.random() < 0.5:   # a route change the version does not record
            v.route_version += 1
    elif what == "new_leg":
        o = copy.deepcopy(st.orders[v.route[-1][0]])
        o.id = f"n{len(st.orders)}"
        o.location = (o.location[0] + rng.uniform(-0.01, 0.01), o.location[1] + 0.002)
        o.snaps, o.wsnaps, o.pub_eta, o.pub_ts = [], {}, None, None
        st.orders[o.id] = o
        v.route = v.route[:len(v.route) // 2] + [(o.id, DELIVERY)] + v.route[len(v.route) // 2:]
        v.route_version += 1
    elif what in ("condition", "condition_area"):
        area = (DEPOT[0] + rng.uniform(-0.02, 0.02), DEPOT[1], rng.uniform(500, 3000)) \
            if what == "condition_area" else None
        start = now + rng.uniform(-600, 1800)
        st.conditions = [c for c in st.conditions if c[1] > now]
        st.conditions.append((start, start + rng.uniform(600, 7200), rng.uniform(1.1, 2.5), area,
                              f"c{now}"))
    elif what == "pace":
        v.pace = rng.uniform(0.7, 1.6)
    return what


def learn(rng: random.Random, seats, st: ZoneState) -> None:
    """The seats learn a few labels (the same ones in both twins)."""
    x = {"dist_km": 2.0, "provider_s": 300.0, "hour": 9.0, "dow": 2, "zone": "Z",
         "vehicle_type": "van", "fleet_type": "captive", "driver_pace": 1.1,
         "condition_factor": 1.0, "stops_ahead": 0, "speed_kmh": 20.0, "vehicle_id": "v0"}
    seats.eta.learn(x, rng.uniform(0.8, 1.6))
    for o in list(st.orders.values())[:3]:
        for snap in o.snaps[-1:]:
            seats.intervals.update(snap["xi"], rng.uniform(-600, 900))
            seats.late_risk.learn(snap["xr"], rng.random() < 0.4)
            seats.failure_risk.learn(snap["xr"], rng.random() < 0.2)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_cheap_refresh_equals_the_full_refresh_step_by_step(seed: int) -> None:
    scene = Scene(seed)
    rng = random.Random(seed * 7919)
    st_a, seats_a = scene.twin()
    st_b, seats_b = scene.twin()
    full = forecaster(st_a, seats_a, scene.settings)
    cheap = forecaster(st_b, seats_b, scene.settings)
    now = T0
    kinds = set()
    published = 0
    for step in range(120):
        now += rng.choice([30.0, 60.0, 60.0, 61.5, 240.0, 900.0])
        r = rng.random()
        kinds.add(mutate(random.Random(r), st_a, now))
        mutate(random.Random(r), st_b, now)
        if step % 10 == 9:
            r = rng.random()
            learn(random.Random(r), seats_a, st_a)
            learn(random.Random(r), seats_b, st_b)
        for vid in sorted(st_a.vehicles):
            out_a: list = []
            out_b: list = []
            got_a = reference_refresh(full, st_a.vehicles[vid], now, [f"e{step}"], out_a)
            got_b = cheap.refresh(st_b.vehicles[vid], now, [f"e{step}"], out_b)
            assert (got_b, out_b) == (got_a, out_a), f"step {step}, {vid}"
            published += len(out_a)
        assert vehicle_state(st_b) == vehicle_state(st_a), f"step {step}"
        assert order_state(st_b) == order_state(st_a), f"step {step}"
        assert st_b.stats == st_a.stats and st_b.n_out == st_a.n_out
    assert published > 50
    assert {"serve", "swap", "new_leg", "condition", "condition_area"} <= kinds


def test_stops_beyond_the_risk_range_are_skipped_only_while_nothing_can_be_published() -> None:
    scene = Scene(11, n_vehicles=1, n_orders=40)
    st, seats = scene.twin()
    s = EngineSettings(eta_publish_min_period_s=300.0)
    fc = forecaster(st, seats, s)
    calls: list[tuple[float, int]] = []
    interval = seats.intervals.interval
    seats.intervals.interval = lambda x: calls.append((x["horizon_s"], x["stops_ahead"])) or interval(x)
    v = st.vehicles["v0"]
    n_deliveries = sum(1 for _o, k in v.route if k == DELIVERY)
    fc.refresh(v, T0, ["e1"], [])
    assert len(calls) == n_deliveries            # first time: every ETA may be published
    calls.clear()
    fc.refresh(v, T0 + 60, ["e2"], [])           # within the publish period
    far = [h for h, i in calls if h >= RISK_HORIZON_S and i >= RISK_MAX_STOPS]
    assert calls and not far and len(calls) < n_deliveries
    calls.clear()
    fc.refresh(v, T0 + 400, ["e3"], [])          # the period is over: all again
    assert len(calls) == n_deliveries


# ---------------------------------------------------------------------- the leg cache

def test_leg_times_answer_what_the_travel_model_answers() -> None:
    rng = random.Random(5)
    conds = ((T0, T0 + 3600, 1.5, None, "c1"),
             (T0 + 1800, T0 + 7200, 2.0, (DEPOT[0] + 0.01, DEPOT[1], 1500.0), "c2"))

    class Continuous(HaversineProvider):   # travel time not hourly: never memoised per hour
        def travel_s(self, a, b, depart_ts, factor=1.0):
            return super().travel_s(a, b, depart_ts, factor) * (1 + (depart_ts % 3600) / 36000)

    for provider in (HaversineProvider(), Continuous()):
        for c in ((), conds):
            tm = TravelModel(provider, 1.1, c)
            legs = LegTimes(tm)
            assert legs.hourly == (type(provider) is HaversineProvider)
            pts = [pt(rng.uniform(-0.03, 0.03), rng.uniform(-0.03, 0.03)) for _ in range(8)]
            for _ in range(400):
                a, b = rng.choice(pts), rng.choice(pts)
                ts = T0 + rng.uniform(-3600, 4 * 3600)
                assert legs.leg_s(a, b, ts) == tm.leg_s(a, b, ts)


def test_the_leg_cache_follows_conditions_and_is_bounded(monkeypatch) -> None:
    st = ZoneState("Z")
    world = World(st, EngineSettings(), HaversineProvider())
    a, b = DEPOT, pt(0.01, 0.0)
    legs = world.legs
    before = legs.leg_s(a, b, T0)
    assert world.legs is legs and (a, b) in legs.legs
    st.conditions = st.conditions + [(T0 - 60, T0 + 3600, 2.0, (b[0], b[1], 500.0), "c1")]
    assert world.legs is not legs                      # new conditions: a new cache
    assert world.legs.leg_s(a, b, T0) == (before[0] * 2.0, 2.0)
    st.conditions.append((T0 - 60, T0 + 3600, 1.5, None, "c2"))   # appended in place
    assert world.legs.leg_s(a, b, T0) == world.travel.leg_s(a, b, T0)
    assert world.legs.leg_s(a, b, T0)[1] == 3.0
    monkeypatch.setattr(LegTimes, "MAX_LEGS", 4)
    legs = world.legs
    legs.legs.clear()
    for k in range(9):
        legs.leg_s(a, pt(0.001 * k, 0.002), T0)
    assert 0 < len(legs.legs) <= 4


def test_a_changed_route_or_new_leg_is_timed_afresh() -> None:
    scene = Scene(3, n_vehicles=1, n_orders=12)
    st, seats = scene.twin()
    fc = forecaster(st, seats, EngineSettings())
    v = st.vehicles["v0"]
    fc.refresh(v, T0, ["e1"], [])
    first = list(v.etas)
    v.route = list(reversed(v.route[1:])) + v.route[:1]   # new legs, same route version
    fc.refresh(v, T0 + 60, ["e2"], [])
    st2, seats2 = scene.twin()
    ref = forecaster(st2, seats2, EngineSettings())
    v2 = st2.vehicles["v0"]
    reference_refresh(ref, v2, T0, ["e1"], [])
    v2.route = list(reversed(v2.route[1:])) + v2.route[:1]
    reference_refresh(ref, v2, T0 + 60, ["e2"], [])
    assert v.etas == v2.etas and v.etas != first
