"""benchmarks/late_risk_ceiling.py: leave one day out, the slack's own ranking ties,
a feature that carries information beats it, and the tiny closed-loop day runs."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks"))

import late_risk_ceiling as C


def _rows(seed: int, n: int, informative: bool, rng) -> list[dict]:
    """Synthetic deliveries: late when slack + noise > 0; the noise is either pure
    (nothing beyond the slack to learn) or half carried by ``late_behind``."""
    rows = []
    for _ in range(n):
        slack = rng.normal(0.0, 600.0)
        hidden = rng.normal(0.0, 600.0)
        x = {k: 0.0 for k in C.FEATURES}
        x["slack_s"] = slack
        x["late_behind"] = hidden if informative else rng.normal(0.0, 600.0)
        y = slack + hidden + rng.normal(0.0, 100.0) > 0
        rows.append({"seed": seed, "y": bool(y), "slack": slack, "p_late": 0.5, "x": x})
    return rows


def _models():
    return {"logit slack": (("slack_s",), C.logit_fit),
            "logit all": (("slack_s", "late_behind"), C.logit_fit)}


def test_a_feature_with_information_beats_the_slack_on_every_held_out_day() -> None:
    rng = np.random.default_rng(1)
    rows = [r for s in (1, 2, 3) for r in _rows(s, 300, True, rng)]
    res = C.leave_one_day_out(rows, _models())
    assert [d["seed"] for d in res["days"]] == [1, 2, 3]
    s = res["summary"]
    assert s["logit all"]["days_above"] == 3 and s["logit all"]["mean_minus_slack"] > 0.05
    # a monotone map of the slack ranks exactly as the slack does
    assert s["logit slack"]["mean_minus_slack"] == pytest.approx(0.0, abs=1e-12)
    assert s["engine"]["mean_minus_slack"] < 0   # a constant score: AUC 0.5


def test_noise_gives_no_gain() -> None:
    rng = np.random.default_rng(2)
    rows = [r for s in (1, 2, 3, 4) for r in _rows(s, 300, False, rng)]
    s = C.leave_one_day_out(rows, _models())["summary"]
    assert abs(s["logit all"]["mean_minus_slack"]) < 0.01


def test_a_day_without_both_labels_is_not_scored() -> None:
    rng = np.random.default_rng(3)
    rows = [r for s in (1, 2) for r in _rows(s, 100, True, rng)]
    for r in rows:
        if r["seed"] == 2:
            r["y"] = True
    assert [d["seed"] for d in C.leave_one_day_out(rows, _models())["days"]] == [1]


@pytest.mark.slow
def test_the_benchmark_runs_on_tiny_days(capsys) -> None:
    assert C.main(["--scenario", "tiny", "--seeds", "3,4,5", "-q"]) == 0
    out = capsys.readouterr().out
    assert "tiny: ROC-AUC 30 min before the window end" in out
    assert "logit slack minus slack: mean +0.0000" in out
    assert C.main(["--scenario", "nowhere", "--seeds", "3,4"]) == 2
    assert C.main(["--scenario", "tiny", "--seeds", "3"]) == 2
    assert C.main(["--scenario", "tiny", "--seeds", "3,x"]) == 2
    assert "give at least two seeds" in capsys.readouterr().err


def test_doctests() -> None:
    import doctest
    assert doctest.testmod(C, optionflags=doctest.ELLIPSIS).failed == 0
