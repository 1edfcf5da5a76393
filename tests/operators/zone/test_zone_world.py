"""World: the picklable TravelModel gives the numbers of the engine's travel
functions as they were before the split; the live view follows condition events."""

from __future__ import annotations

import pickle
import random

from fleetstream.contract.settings import EngineSettings
from fleetstream.operators.traveltime import HaversineProvider, fast_distance_m
from fleetstream.operators.zone.engine import ZoneEngine
from fleetstream.operators.zone.world import TravelModel
from zone_scene import DEPOT, T0, Feed, pt


def _old_factor(conditions, a, b, ts):
    """``ZoneEngine.factor`` before the split (the reference)."""
    f = 1.0
    for start, end, fac, area, _eid, *_kind_ts in conditions:
        if start <= ts < end:
            if area is None or (fast_distance_m(a, area[:2]) <= area[2] or
                                fast_distance_m(b, area[:2]) <= area[2]):
                f *= fac
    return f


def _old_tt(provider, plan_time_factor, conditions, a, b, ts):
    f = plan_time_factor
    if conditions:
        f *= _old_factor(conditions, a, b, ts)
    return provider.travel_s(a, b, ts, f)


CONDS = [(T0, T0 + 3600, 1.5, None, "c1"),
         (T0 + 1800, T0 + 7200, 2.0, (DEPOT[0] + 0.01, DEPOT[1], 1500.0), "c2"),
         (T0 - 7200, T0 - 3600, 3.0, None, "c0")]


def test_travel_model_pickles_and_gives_the_same_numbers_as_before() -> None:
    prov = HaversineProvider(circuity=1.4)
    tm = TravelModel(prov, 1.2, tuple(CONDS))
    tm2 = pickle.loads(pickle.dumps(tm))
    assert tm2 == tm
    rng = random.Random(7)
    n_cond = 0
    for _ in range(400):
        a = pt(rng.uniform(-0.03, 0.03), rng.uniform(-0.03, 0.03))
        b = pt(rng.uniform(-0.03, 0.03), rng.uniform(-0.03, 0.03))
        ts = T0 + rng.uniform(-3 * 3600, 3 * 3600)
        assert tm2.tt(a, b, ts) == _old_tt(prov, 1.2, CONDS, a, b, ts)
        assert tm2.factor(a, b, ts) == _old_factor(CONDS, a, b, ts)
        assert tm2.dist(a, b) == prov.distance_m(a, b)
        n_cond += tm2.factor(a, b, ts) != 1.0
    assert n_cond > 50, "the sample should cross the conditions"
    free = TravelModel(prov, 1.2)
    a, b = pt(0.01, 0.0), pt(0.0, 0.02)
    assert free.tt(a, b, T0) == prov.travel_s(a, b, T0, 1.2)
    assert free.leg_s(a, b, T0) == (prov.travel_s(a, b, T0, 1.0), 1.0)


def test_the_world_view_follows_condition_events() -> None:
    eng = ZoneEngine("Z", EngineSettings(plan_time_factor=1.1))
    a, b = pt(0.01, 0.0), pt(0.0, 0.02)
    before = eng.tt(a, b, T0 + 60)
    travel0 = eng.world.travel
    f = Feed()
    eng.process(f.ev("condition", T0, zone="Z", kind="weather", factor=1.8, start_ts=T0,
                     end_ts=T0 + 3600))
    assert eng.world.travel is not travel0
    assert eng.world.travel.conditions == tuple(eng.state.conditions)
    assert eng.tt(a, b, T0 + 60) == _old_tt(eng.provider, 1.1, eng.state.conditions, a, b, T0 + 60)
    assert eng.tt(a, b, T0 + 60) > before
    # An expired condition leaves the state at the next condition event.
    eng.process(f.ev("condition", T0 + 7200, zone="Z", kind="traffic", factor=1.3,
                     start_ts=T0 + 7200, end_ts=T0 + 9000))
    assert [c[4] for c in eng.world.travel.conditions] == ["e2"]


def test_customer_context_in_rendered_routes() -> None:
    f = Feed()
    eng = ZoneEngine("Z")
    eng.process(f.shift("v1"))
    eng.process(f.order("o1", T0 + 1, pt(0.01, 0.01), T0, T0 + 7200))
    eng.process(f.ev("customer_profile", T0 + 2, customer_id="co1", zone="Z", language="de",
                     access_instructions="gate 4", service_requirements=["call_ahead"]))
    eng.state.customers["co1"]["failures"] = 2
    r = eng.world.render_route("v1", [("o1", "delivery")], T0 + 10)
    assert r[0]["customer"] == {"language": "de", "access_instructions": "gate 4",
                                "service_requirements": ["call_ahead"], "history": {"failures": 2}}
    assert eng.world.context_counts(eng.orders["o1"]) == {"customer_failures": 2,
                                                          "customer_access_failures": 0}
