"""Model conformance: snapshot round trip, determinism, learning on synthetic data
with a known answer, conformal coverage, risk calibration, drift events."""

from __future__ import annotations

import copy
import math
import pickle
import random

import pytest

from fleetstream.models.eta import RiverEta
from fleetstream.models.features import eta_linear_features, failure_features, late_features
from fleetstream.models.intervals import ConformalIntervals, horizon_bucket
from fleetstream.models.monitor import DriftWatch
from fleetstream.models.risk import RiverRisk
from fleetstream.models import risk
from fleetstream.models.seats import drift_events, learned_seats, seat_metrics
from fleetstream.operators.estimators import ModelSeats

VTYPES = ("van", "car", "bike", "truck")


def leg_x(rng: random.Random, i: int) -> dict:
    hour = 7 + (i // 40) % 10 + rng.random()
    dist = rng.uniform(0.3, 6.0)
    prov = max(30.0, dist * 3600 / 25.0)
    return {"dist_km": dist, "provider_s": prov, "hour": hour, "dow": 0, "zone": "Z1",
            "vehicle_type": rng.choice(VTYPES), "fleet_type": rng.choice(("captive", "gig")),
            "driver_pace": math.exp(rng.gauss(0, 0.1)), "condition_factor": 1.0,
            "stops_ahead": 0, "speed_kmh": rng.uniform(0, 40)}


def true_ratio(x: dict, rng: random.Random) -> float:
    base = {"van": 1.3, "car": 1.1, "bike": 0.8, "truck": 1.5}[x["vehicle_type"]]
    return base * math.exp(rng.gauss(0, 0.05))


def risk_x(rng: random.Random) -> dict:
    return {"slack_s": rng.gauss(600, 1500), "width80_s": rng.uniform(600, 3000),
            "horizon_s": rng.uniform(0, 7200), "stops_ahead": rng.randrange(10), "priority": 0,
            "hour": rng.uniform(7, 18), "zone": "Z1", "fleet_type": "captive",
            "vehicle_type": "van", "cust_failures": rng.randrange(3),
            "cust_deliveries": rng.randrange(5), "cust_access_failures": 0,
            "access_difficulty_known": 1 if rng.random() < 0.15 else 0, "kind": "parcel"}


def feed(seats: ModelSeats, n: int, seed: int) -> None:
    rng = random.Random(seed)
    for i in range(n):
        x = leg_x(rng, i)
        seats.eta.learn(x, true_ratio(x, rng))
        xi = {"horizon_s": rng.uniform(0, 9000), "stops_ahead": 3, "zone": "Z1", "hour": 9.0,
              "pace_var": 0.1}
        seats.intervals.update(xi, rng.gauss(60, 120 + 0.1 * xi["horizon_s"]))
        xr = risk_x(rng)
        seats.late_risk.learn(xr, xr["slack_s"] + rng.gauss(0, 900) < 0)
        seats.failure_risk.learn(xr, rng.random() < 0.1 + 0.2 * xr["access_difficulty_known"])


def probe(seats: ModelSeats) -> list[float]:
    rng = random.Random(99)
    out: list[float] = []
    for i in range(30):
        x = leg_x(rng, i)
        xr = risk_x(rng)
        out.append(seats.eta.predict_ratio(x))
        out.extend(seats.intervals.interval({"horizon_s": 300.0 * i, "stops_ahead": 1,
                                             "zone": "Z1", "hour": 9.0, "pace_var": 0.0}))
        out.append(seats.late_risk.predict_proba(xr))
        out.append(seats.failure_risk.predict_proba(xr))
    return out


@pytest.mark.parametrize("kind", ["linear", "arf"])
def test_snapshot_round_trip_predicts_and_learns_identically(kind):
    a = learned_seats("Z1", eta_kind=kind, seed=5)
    feed(a, 600, seed=1)
    blob = pickle.dumps(a.snapshot())
    b = ModelSeats.restore(pickle.loads(blob))
    assert type(b.eta) is type(a.eta) and b.eta.kind == kind
    assert probe(b) == probe(a)
    assert b.versions() == a.versions()
    # both keep learning the same way: restore loses no state
    feed(a, 200, seed=2)
    feed(b, 200, seed=2)
    assert probe(b) == probe(a)
    assert seat_metrics(b) == seat_metrics(a)


def test_snapshot_is_compact():
    """A zone's models stay small next to its routes and orders: 64 KB, plus the
    failure-risk refit's window of recent labels (``failure-logreg-3``), at most 120
    bytes a label and bounded by the window."""
    s = learned_seats("Z1")
    feed(s, 2000, seed=3)
    rows = len(s.failure_risk.refit.rows)
    assert rows == 2000
    size = len(pickle.dumps(s.snapshot()))
    assert size < 64_000 + 120 * rows, size
    s.failure_risk.refit.rows.extend([((1,), (1.0,), 0.0)] * 100_000)
    assert len(s.failure_risk.refit.rows) == risk.FAILURE_REFIT["window"]


def test_restore_is_a_copy_not_an_alias():
    a = learned_seats("Z1")
    feed(a, 100, seed=1)
    b = ModelSeats.restore(a.snapshot())
    before = probe(b)
    feed(a, 300, seed=7)
    assert probe(b) == before


@pytest.mark.parametrize("kind", ["linear", "arf", "hat"])
def test_same_events_same_predictions(kind):
    a, b = learned_seats("Z1", kind, seed=11), learned_seats("Z1", kind, seed=11)
    feed(a, 500, seed=4)
    feed(b, 500, seed=4)
    assert probe(a) == probe(b)


def test_forest_seed_matters():
    a, b = RiverEta("arf", seed=1), RiverEta("arf", seed=2)
    rng = random.Random(0)
    xs = [leg_x(rng, i) for i in range(800)]
    for x in xs:
        y = true_ratio(x, rng)
        a.learn(x, y)
        b.learn(x, y)
    assert [a.predict_ratio(x) for x in xs[:50]] != [b.predict_ratio(x) for x in xs[:50]]


@pytest.mark.parametrize("kind", ["linear", "arf"])
def test_eta_learns_a_known_correction(kind):
    m = RiverEta(kind)
    rng = random.Random(2)
    for i in range(3000):
        x = leg_x(rng, i)
        m.learn(x, true_ratio(x, rng))
    assert m.n_learned == 3000
    for vt, want in (("van", 1.3), ("bike", 0.8), ("truck", 1.5)):
        x = leg_x(random.Random(5), 0) | {"vehicle_type": vt}
        assert m.predict_ratio(x) == pytest.approx(want, rel=0.08), vt
    met = m.metrics()
    assert met["mae_log_ratio"] < met["mae_log_ratio_provider"]


def test_cold_eta_is_the_provider():
    assert RiverEta("linear").predict_ratio(leg_x(random.Random(0), 0)) == 1.0


def test_progressive_metric_uses_the_prediction_before_learning():
    m = RiverEta("linear")
    x = leg_x(random.Random(0), 0)
    m.learn(x, 2.0)  # cold model predicts log ratio 0, so the first error is log 2
    assert m.metrics()["mae_log_ratio"] == pytest.approx(math.log(2.0))


def test_feature_maps_do_not_mutate_the_captured_snapshot():
    rng = random.Random(1)
    for x in (leg_x(rng, 3), risk_x(rng)):
        before = copy.deepcopy(x)
        if "provider_s" in x:
            eta_linear_features(x, 0.1)
        else:
            late_features(x)
            failure_features(x)
        assert x == before


def coverage_run(seed: int, n: int, noise) -> tuple[ConformalIntervals, dict, list]:
    """Residuals with known, horizon-dependent, skewed noise."""
    rng = random.Random(seed)
    iv = ConformalIntervals()
    hits: dict[int, list] = {}
    trace = []
    for i in range(n):
        h = rng.uniform(0, 10000)
        x = {"horizon_s": h, "stops_ahead": 2, "zone": "Z1", "hour": 10.0, "pace_var": 0.0}
        lo80, hi80, lo95, hi95 = iv.interval(x)
        r = noise(rng, h, i)
        hits.setdefault(horizon_bucket(h), []).append((lo80 <= r <= hi80, lo95 <= r <= hi95))
        trace.append((lo80 <= r <= hi80, lo95 <= r <= hi95))
        iv.update(x, r)
    return iv, hits, trace


def skewed(rng: random.Random, h: float, i: int) -> float:
    # gamma-distributed lateness plus normal noise, spread growing with the horizon
    return (rng.gauss(0, 60 + 0.05 * h) + rng.gammavariate(1.5, 40 + 0.08 * h))


def test_conformal_coverage_on_known_noise():
    # adaptive conformal promises long-run coverage over every interval it issued,
    # the cold-start ones included (it compensates for them), per horizon bucket
    iv, hits, trace = coverage_run(3, 15000, skewed)
    c80 = sum(a for a, _ in trace) / len(trace)
    c95 = sum(b for _, b in trace) / len(trace)
    assert abs(c80 - 0.80) < 0.02, c80
    assert abs(c95 - 0.95) < 0.015, c95
    for b, hs in hits.items():
        assert abs(sum(a for a, _ in hs) / len(hs) - 0.80) < 0.03, b
        assert abs(sum(c for _, c in hs) / len(hs) - 0.95) < 0.02, b
    m = iv.metrics()
    assert m["scored"] == 15000 and m["mean_width95_s"] > m["mean_width80_s"] > 0
    assert m["coverage80"] == pytest.approx(c80)


def test_conformal_coverage_recovers_after_the_noise_doubles():
    def drifting(rng, h, i):
        return skewed(rng, h, i) * (1.0 if i < 6000 else 2.0)
    _, _, trace = coverage_run(4, 12000, drifting)
    late = trace[8000:]
    assert abs(sum(a for a, _ in late) / len(late) - 0.80) < 0.03


def test_intervals_nest_and_widen_with_horizon():
    iv, _, _ = coverage_run(5, 12000, skewed)
    prev = 0.0
    for h in (100.0, 1000.0, 3000.0, 6000.0, 9000.0):
        lo80, hi80, lo95, hi95 = iv.interval({"horizon_s": h})
        assert lo95 <= lo80 < hi80 <= hi95
        assert hi80 - lo80 > prev
        prev = hi80 - lo80


def test_late_risk_is_calibrated_on_synthetic_data():
    rng = random.Random(6)
    m = RiverRisk("late")
    ps, ys = [], []
    for i in range(20000):
        x = risk_x(rng)
        p_true = 1 / (1 + math.exp(x["slack_s"] / 700.0 - 0.5))
        y = rng.random() < p_true
        if i >= 10000:
            ps.append(m.predict_proba(x))
            ys.append(y)
        m.learn(x, y)
    bins: dict[int, list] = {}
    for p, y in zip(ps, ys):
        bins.setdefault(min(9, int(p * 10)), []).append((p, y))
    checked = 0
    for b, pts in bins.items():
        if len(pts) < 300:
            continue
        mean_p = sum(p for p, _ in pts) / len(pts)
        freq = sum(y for _, y in pts) / len(pts)
        assert abs(mean_p - freq) < 0.06, (b, mean_p, freq)
        checked += 1
    assert checked >= 4
    base = sum(-math.log(0.5) for _ in ys) / len(ys)
    ll = -sum(math.log(p if y else 1 - p) for p, y in zip(ps, ys)) / len(ys)
    assert ll < base


def test_failure_risk_learns_hard_addresses():
    rng = random.Random(7)
    m = RiverRisk("failure")
    for _ in range(8000):
        x = risk_x(rng)
        m.learn(x, rng.random() < (0.3 if x["access_difficulty_known"] else 0.05))
    hard = risk_x(random.Random(1)) | {"access_difficulty_known": 1, "cust_failures": 0,
                                       "cust_deliveries": 0}
    easy = hard | {"access_difficulty_known": 0}
    assert m.predict_proba(hard) == pytest.approx(0.3, abs=0.08)
    assert m.predict_proba(easy) == pytest.approx(0.05, abs=0.04)


def test_drift_watch_reports_a_worsening_once():
    w = DriftWatch("eta", "err", min_n=100, cooldown_n=100000)
    rng = random.Random(0)
    for _ in range(2000):
        w.update(abs(rng.gauss(0, 0.1)))
    assert w.take() == []
    for _ in range(1000):
        w.update(abs(rng.gauss(0, 0.5)))
    evs = w.take()
    assert len(evs) == 1 and evs[0]["after"] > evs[0]["before"]
    assert w.take() == []


def test_seats_raise_drift_events_when_travel_times_jump():
    s = learned_seats("Z1")
    rng = random.Random(8)
    for i in range(3000):
        x = leg_x(rng, i)
        # half the legs become 2.5 times slower (incidents on some roads): a uniform
        # jump is absorbed by the leg-length weights within a few legs, this is not
        s.eta.learn(x, true_ratio(x, rng) * (1.0 if i < 1500 else rng.choice((1.0, 2.5))))
    evs = drift_events(s)
    assert any(e["seat"] == "eta" and e["after"] > e["before"] for e in evs)
    assert drift_events(s) == []


def test_bad_labels_are_ignored_not_fatal():
    s = learned_seats("Z1")
    x = leg_x(random.Random(0), 0)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        s.eta.learn(x, bad)
    for bad in (float("nan"), float("inf"), -float("inf")):
        s.intervals.update({"horizon_s": 100.0}, bad)
    assert s.eta.n_learned == 0 and s.intervals.n_learned == 0
    assert math.isfinite(s.eta.predict_ratio(x))
