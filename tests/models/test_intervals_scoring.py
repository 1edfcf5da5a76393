"""benchmarks/intervals.py scores each prediction against the arrival of its own
attempt (a failed attempt's predictions are not judged by the retry hours later),
and its noise floor is what a perfectly calibrated interval shows by chance."""

from __future__ import annotations

import gzip
import importlib.util
import os
import random
from types import SimpleNamespace

import orjson

_spec = importlib.util.spec_from_file_location(
    "bench_intervals_scoring", os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks",
                                            "intervals.py"))
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)   # type: ignore[union-attr]


def _snap(ts: float, eta: float) -> dict:
    return {"ts": ts, "eta": eta, "xi": {"horizon_s": eta - ts},
            "lo80": -60.0, "hi80": 60.0, "lo95": -120.0, "hi95": 120.0}


def test_each_attempt_is_scored_against_its_own_arrival(tmp_path) -> None:   # type: ignore[no-untyped-def]
    os.makedirs(tmp_path / "truth")
    with gzip.open(tmp_path / "truth" / "attempts.jsonl.gz", "wb") as f:
        for ts in (10_000.0, 20_000.0):    # the first attempt failed, the retry came later
            f.write(orjson.dumps({"order_id": "O1", "arrived_ts": ts}) + b"\n")
    col = SimpleNamespace(arrivals=[
        {"order_id": "O1", "zone": "Z1", "ts": 10_000.0, "snaps": [_snap(9_500.0, 10_030.0)]},
        {"order_id": "O1", "zone": "Z1", "ts": 20_000.0, "snaps": [_snap(19_000.0, 19_950.0)]},
    ])
    rows = bench.interval_rows(str(tmp_path), col)
    assert [r["e"] for r in rows] == [-30.0, 50.0]
    assert all(r["c80"] and r["c95"] for r in rows)
    assert rows[0]["keys"] == ("zone=Z1", "hour=02", "horizon=<10min")


def test_a_calibrated_interval_sits_near_its_noise_floor() -> None:
    rng = random.Random(5)
    rows = []
    for i in range(3000):
        rows.append({"keys": (f"zone=Z{i % 2}", f"hour={i % 8:02d}", "horizon=<10min"),
                     "e": 0.0, "c80": rng.random() < 0.8, "c95": rng.random() < 0.95,
                     "w80": 60.0, "w95": 120.0})
    card = bench.interval_card(rows, 100)
    assert abs(card["cov80"] - 0.8) < 0.02 and abs(card["cov95"] - 0.95) < 0.01
    assert 1.0 < card["floor80"] < 6.0 and 0.5 < card["floor95"] < 3.5
    assert card["gap80"][0] < 3 * card["floor80"]
