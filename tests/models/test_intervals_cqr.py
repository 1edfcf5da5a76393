"""benchmarks/intervals_cqr.py: the features of a dumped prediction, the scoring of
an interval, and one clear line when it cannot run (no scikit-learn, or too few days)."""

from __future__ import annotations

import doctest
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks"))

import intervals_cqr as Q


def test_doctests() -> None:
    assert doctest.testmod(Q).failed == 0


def test_score_counts_coverage_and_median_widths_per_horizon() -> None:
    h = np.array([60.0, 900.0, 2000.0, 3000.0, 9000.0])
    r = np.array([0.0, 700.0, 0.0, 0.0, 0.0])
    lo = np.array([-60.0, -600.0, -600.0, -1200.0, -1.0])
    hi = np.array([60.0, 600.0, 600.0, 1200.0, 1.0])
    s = Q.score(lo, hi, r, h)
    assert s["coverage95"] == 0.8                      # the 10-30 min one is outside
    assert s["median_width95_lt30_min"] == (2.0 + 20.0) / 2
    assert s["median_width95_30_60_min"] == (20.0 + 40.0) / 2


def test_too_few_days_is_one_clear_line(tmp_path, capsys) -> None:
    assert Q.main([str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("intervals_cqr: ")
