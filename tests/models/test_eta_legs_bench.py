"""benchmarks/eta_legs.py: the open-loop scoring of the ETA seat on a day's legs (leg
MAE against the provider, deciles of leg length where the seat is worse) and its
usage errors."""

from __future__ import annotations

import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks"))

import eta_legs  # noqa: E402


def _legs(n: int, ratio) -> list[dict]:
    rng = random.Random(3)
    out = []
    for i in range(n):
        d = rng.uniform(0.2, 8.0)
        x = {"dist_km": d, "provider_s": max(30.0, d * 90.0), "hour": 8 + i / 40.0, "dow": 1,
             "zone": "Z", "vehicle_type": "van", "fleet_type": "captive", "driver_pace": 1.0,
             "condition_factor": 1.0, "stops_ahead": 0, "speed_kmh": 30.0}
        out.append({"zone": "Z" if i % 3 else "Y", "x": x, "ratio": ratio(x)})
    return out


def test_a_seat_that_learns_a_steady_slowdown_beats_the_provider_in_every_decile():
    r = eta_legs.score(_legs(600, lambda x: 1.6))
    assert r["legs"] == 600 and len(r["deciles"]) == 10
    assert r["reduction_pct"] > 50.0
    assert r["worse_deciles"] == 0
    assert sum(r["answers"].values()) == 600       # every leg answered once, per zone seat
    assert abs(r["provider_mae_s"] - sum(0.6 * lg["x"]["provider_s"] for lg in _legs(600, lambda x: 1.6)) / 600) < 1e-6


def test_where_the_provider_is_exact_any_error_is_a_worse_decile():
    r = eta_legs.score(_legs(300, lambda x: 1.0 if x["dist_km"] > 4.0 else 2.0))
    assert r["provider_mae_s"] > 0
    long = r["deciles"][-3:]
    assert all(p == 0.0 for _m, p, _n in long)           # the provider is exact there
    assert any(m > 0.0 for m, _p, _n in long)            # the seat is not, before its guard
    assert r["worse_deciles"] >= sum(1 for m, _p, _n in long if m > 0.0) >= 1


def test_usage_errors_are_one_line_and_exit_2(capsys):
    assert eta_legs.main(["--scenario", "small", "--seeds", "1,x"]) == 2
    assert "--seeds must be integers" in capsys.readouterr().err
    assert eta_legs.main([]) == 2
    assert "either day folders or --scenario" in capsys.readouterr().err
