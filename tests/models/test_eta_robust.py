"""The ETA seat off the simulator: leg length, the guard, bad inputs, zero legs;
intervals conditional on the stops ahead and never before now."""

from __future__ import annotations

import math
import random

from fleetstream.models.eta import RiverEta
from fleetstream.models.features import dist_bin
from fleetstream.models.intervals import ConformalIntervals


def _leg(rng: random.Random, dist_km: float, hour: float = 10.0) -> dict:
    prov = max(30.0, dist_km * 3600.0 / 40.0)
    return {"dist_km": dist_km, "provider_s": prov, "hour": hour, "dow": 2, "zone": "Z",
            "vehicle_type": "van", "fleet_type": "captive", "driver_pace": 1.0,
            "condition_factor": 1.0, "stops_ahead": 0, "speed_kmh": 30.0}


def _true_ratio(rng: random.Random, d: float) -> float:
    # real trips: short legs far slower than free flow, long ones close to it
    return (3.2 if d < 0.5 else 2.4 if d < 1.5 else 1.8 if d < 4 else 1.2) * math.exp(rng.gauss(0, 0.1))


def test_the_correction_follows_the_leg_length_in_every_decile():
    rng = random.Random(4)
    m = RiverEta()
    for _ in range(3000):
        d = math.exp(rng.uniform(math.log(0.1), math.log(20)))
        m.learn(_leg(rng, d), _true_ratio(rng, d))
    errs = []
    for _ in range(2000):
        d = math.exp(rng.uniform(math.log(0.1), math.log(20)))
        x, r = _leg(rng, d), _true_ratio(rng, d)
        errs.append((d, abs(r - m.predict_ratio(x)) * x["provider_s"], abs(r - 1) * x["provider_s"]))
    errs.sort()
    for k in range(10):
        dec = errs[k * 200:(k + 1) * 200]
        model, prov = sum(e[1] for e in dec), sum(e[2] for e in dec)
        assert model < 0.75 * prov, (k, model, prov)


def test_the_guard_falls_back_to_the_provider_where_the_model_got_worse():
    rng = random.Random(5)
    m = RiverEta("hat")   # a tree's leaves average their whole history: it lags a change
    for _ in range(1500):
        d = rng.choice((0.5, 12.0))
        m.learn(_leg(rng, d), 2.0)
    assert m.predict_ratio(_leg(rng, 12.0)) > 1.7
    for _ in range(60):   # long legs now run at the provider's time: the model lags
        m.learn(_leg(rng, 12.0), 1.0)
        m.learn(_leg(rng, 0.5), 2.0)
    assert m.predict_ratio(_leg(rng, 12.0)) == 1.0        # guarded: the provider
    assert m.answer(_leg(rng, 12.0)) == "provider"
    assert m.predict_ratio(_leg(rng, 0.5)) > 1.7          # other lengths keep their answer
    assert m.answer(_leg(rng, 0.5)) != "provider"
    assert m.metrics()["guarded_legs"] > 0
    again = RiverEta.restore(m.snapshot())
    assert again.predict_ratio(_leg(rng, 12.0)) == 1.0


def _line_truth(rng: random.Random, x: dict) -> float:
    """A leg's true / provider ratio: 90 s of pulling out and parking plus 0.8 of the
    provider's driving time, noisy: the ratio falls with the length (2.8 at 0.3 km,
    0.9 at 10 km)."""
    return (90.0 + 0.8 * x["provider_s"]) * math.exp(rng.gauss(0, 0.05)) / x["provider_s"]


def _learn_line_legs(m: RiverEta, rng: random.Random, n: int, lo_km: float, hi_km: float) -> None:
    """``m`` learns ``n`` legs of lo_km..hi_km whose truth is :func:`_line_truth`."""
    for _ in range(n):
        x = _leg(rng, rng.uniform(lo_km, hi_km))
        m.learn(x, _line_truth(rng, x))


def test_a_length_not_seen_yet_takes_the_line_not_the_short_legs_ratio():
    rng = random.Random(8)
    m = RiverEta()
    _learn_line_legs(m, rng, 400, 0.3, 1.5)  # a morning of short legs only
    short = _leg(rng, 0.8)
    assert m.predict_ratio(short) > 1.6                  # short legs: far above the provider
    long = _leg(rng, 10.0)
    assert m.answer(long) == "line"                      # a bin it has not seen
    slope, fixed = m.length_line()
    # short legs alone show the fixed time; the slope stays near the prior (the
    # provider's) until longer legs show it
    assert 0.9 < slope < 1.1 and 50.0 < fixed < 120.0, (slope, fixed)
    truth = (90.0 + 0.8 * long["provider_s"]) / long["provider_s"]
    assert abs(m.predict_ratio(long) - truth) < 0.25, (m.predict_ratio(long), truth)
    _learn_line_legs(m, rng, 300, 3.0, 15.0)  # then longer legs: the line learns the slope
    slope, fixed = m.length_line()
    assert 0.7 < slope < 0.9 and 50.0 < fixed < 130.0, (slope, fixed)


def test_the_guard_answers_the_model_the_line_or_the_provider_by_recent_error():
    rng = random.Random(9)
    m = RiverEta()
    _learn_line_legs(m, rng, 300, 0.3, 3.0)
    x = _leg(rng, 2.0)
    g = m.guard[dist_bin(2.0)]
    line = m.line_ratio(x)
    assert line != 1.0
    for errs, want in (((10.0, 30.0, 20.0), "model"), ((30.0, 30.0, 10.0), "line"),
                       ((40.0, 10.0, 20.0), "provider"), ((10.0, 10.0, 10.0), "model")):
        g[0], g[1], g[3] = errs            # model, provider, line: recent abs error (s)
        assert m.answer(x) == want, (errs, m.answer(x))
    g[0], g[1], g[3] = 30.0, 30.0, 10.0
    assert m.predict_ratio(x) == line
    g[0], g[1], g[3] = 40.0, 10.0, 20.0
    assert m.predict_ratio(x) == 1.0


def test_legs_at_the_provider_floor_or_next_door_stay_off_the_line():
    rng = random.Random(10)
    m = RiverEta()
    _learn_line_legs(m, rng, 200, 0.3, 3.0)
    n = m.line[0]
    for d in (0.01, 0.05):            # the same building, the next door: 20 s, not 90 + ...
        for _ in range(50):
            m.learn(_leg(rng, d), 20.0 / 30.0)
    assert m.line[0] == n                      # never fed by those legs
    assert m.line_ratio(_leg(rng, 0.01)) == 1.0
    assert m.predict_ratio(_leg(rng, 0.01)) < 1.0


def test_an_eta_5_snapshot_restores_with_the_line_at_its_prior():
    rng = random.Random(11)
    m = RiverEta()
    _learn_line_legs(m, rng, 100, 0.3, 3.0)
    del m.line, m.n_answers
    m.guard = [g[:3] for g in m.guard]
    m.version = "eta-linear-5"
    back = RiverEta.restore(m.snapshot())
    assert back.version == "eta-linear-10"
    assert back.length_line() == (1.0, 0.0)               # the provider until it learns
    assert all(len(g) == 4 and g[3] == g[1] for g in back.guard)
    x = _leg(rng, 1.0)
    assert math.isfinite(back.predict_ratio(x))
    back.learn(x, _line_truth(rng, x))
    assert back.line[0] == 1.0 and back.metrics()["line_slope"] > 0


def test_non_finite_inputs_are_answered_by_the_provider_and_not_learned():
    rng = random.Random(6)
    m = RiverEta()
    for _ in range(300):
        m.learn(_leg(rng, 1.0), 2.0)
    n = m.n_learned
    for bad in ({"dist_km": float("nan")}, {"provider_s": float("inf")}, {"hour": float("nan")}):
        x = {**_leg(rng, 1.0), **bad}
        assert m.predict_ratio(x) == 1.0
        m.learn(x, 2.0)
    assert m.n_learned == n
    assert math.isfinite(m.predict_ratio(_leg(rng, 1.0)))


def test_zero_length_legs_take_a_learned_time_not_zero():
    m = RiverEta()
    assert m.zero_leg_s() == 30.0
    for _ in range(200):
        m.learn_zero_leg(75.0)
    assert abs(m.zero_leg_s() - 75.0) < 1.0
    m.learn_zero_leg(float("nan"))
    m.learn_zero_leg(-5.0)
    assert abs(m.zero_leg_s() - 75.0) < 1.0


def test_an_interval_never_starts_before_now():
    iv = ConformalIntervals()
    lo80, _, lo95, _ = iv.interval({"horizon_s": 60.0})
    assert lo80 >= -60.0 and lo95 >= -60.0
    rng = random.Random(7)
    for _ in range(3000):
        h = rng.uniform(0, 4000)
        iv.update({"horizon_s": h, "stops_ahead": rng.randrange(6)}, rng.gauss(0, 300 + 0.2 * h))
    for h in (0.0, 30.0, 120.0, 900.0):
        for a in range(6):
            lo80, hi80, lo95, hi95 = iv.interval({"horizon_s": h, "stops_ahead": a})
            assert lo95 >= -h and lo80 >= -h and lo95 <= lo80 <= 0 <= hi80 <= hi95


def test_intervals_are_conditional_on_the_stops_ahead():
    # the next stop's error is small, the fifth stop's large: one pooled window would
    # make the first too wide and the second too narrow
    rng = random.Random(8)
    iv = ConformalIntervals()
    hits: dict[int, list] = {0: [], 5: []}
    widths: dict[int, list] = {0: [], 5: []}
    for i in range(12000):
        a = rng.choice((0, 5))
        h = rng.uniform(300, 1700)
        x = {"horizon_s": h, "stops_ahead": a}
        lo80, hi80, lo95, hi95 = iv.interval(x)
        r = max(-h, rng.gauss(30, 60) if a == 0 else rng.gauss(120, 600))  # not before now
        if i > 2000:
            hits[a].append((lo80 <= r <= hi80, lo95 <= r <= hi95))
            widths[a].append(hi95 - lo95)
        iv.update(x, r)
    for a in (0, 5):
        c80 = sum(h[0] for h in hits[a]) / len(hits[a])
        c95 = sum(h[1] for h in hits[a]) / len(hits[a])
        assert abs(c80 - 0.80) < 0.03 and abs(c95 - 0.95) < 0.02, (a, c80, c95)
    w0 = sorted(widths[0])[len(widths[0]) // 2]
    assert w0 < 300.0, w0      # about 2 x 1.96 x 60 s, not the pooled width


def test_the_time_at_a_stop_beyond_its_service_is_learned():
    m = RiverEta()
    assert m.dwell_extra_s() == 0.0
    t = 0.0
    m.observe_stop("V1", t, 120.0, None)
    for _ in range(200):   # each stop really takes 120 + 90 s, then a 300 s leg
        depart = t + 210.0
        t = depart + 300.0
        m.observe_stop("V1", t, 120.0, depart)
    assert abs(m.dwell_extra_s() - 90.0) < 5.0
    m.observe_stop("V1", t + 10, 120.0, t - 50)     # a departure before the arrival: ignored
    m.observe_stop("V1", float("nan"), 120.0, t)    # non-finite: ignored
    assert abs(m.dwell_extra_s() - 90.0) < 5.0
    m.forget_vehicle("V1")
    assert "V1" not in m.last_stop
