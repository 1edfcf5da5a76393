"""The coverage targets' noise floor: the worst bucket gap a perfectly calibrated
interval shows by chance, the same on every run, quoted in the verdict."""

from __future__ import annotations

from fleetstream.report.scorecard import noise_floor
from fleetstream.report.targets import MODEL_TARGETS, verdicts


def _keys(n_per_bucket: int, buckets: int = 6) -> list[tuple[str, ...]]:
    return [(f"zone=z{i % 2}", f"hour={i % buckets:02d}", "horizon=<10min")
            for i in range(n_per_bucket * buckets)]


def test_the_floor_is_deterministic_and_falls_with_more_predictions_a_bucket() -> None:
    few, many = noise_floor(_keys(100), 0.8, 100), noise_floor(_keys(3000), 0.8, 100)
    assert few == noise_floor(_keys(100), 0.8, 100)
    assert 3.0 < few < 10.0 and many < 1.5 < few
    assert noise_floor(_keys(100), 0.95, 100) < few    # a tighter binomial at 95 %
    assert noise_floor(_keys(50), 0.8, 1000).startswith("n/a")   # no bucket that big


def test_the_coverage_verdict_quotes_the_floor() -> None:
    def agg(mean: float) -> dict:
        return {"mean": mean, "n_seeds": 5, "per_seed": {str(s): mean for s in range(5)},
                "label": "x", "unit": "points"}
    vs = verdicts(MODEL_TARGETS, {"cov80_worst_gap": agg(6.0), "cov80_noise_floor": agg(5.1),
                                  "cov95_worst_gap": agg(3.0)})
    by = {v["kpi"]: v for v in vs}
    assert by["cov80_worst_gap"]["status"] == "missed"
    assert "noise floor 5.1 points" in by["cov80_worst_gap"]["note"]
    assert "noise floor" not in by["cov95_worst_gap"]["note"]   # no floor figure: no quote


def test_pooled_over_seeds_the_same_gap_stands_above_a_lower_floor(small_eval) -> None:
    """The same day twice: pooled, every bucket has twice the predictions (buckets of
    2 x 100+), the same coverage, so the worst gap is the day's and its floor is lower."""
    from fleetstream.report.build import model_report, pooled_text
    from fleetstream.report.html import e

    card = small_eval["cards"][0]
    _, one = model_report(small_eval["cards"][:1], small_eval["raws"][:1], ["7"],
                          small_eval["meta"])
    assert "pooled_coverage" not in one                 # one seed: nothing to pool
    html, two = model_report([card, card], [small_eval["raws"][0]] * 2, ["7", "8"],
                             small_eval["meta"])
    pc = two["pooled_coverage"]
    assert pc["seeds"] == 2 and pc["min_bucket_n"] == 200
    for lvl in ("80", "95"):
        day = card["intervals"][lvl]["worst_bucket_gap"]
        assert abs(pc[lvl]["points"] - day["points"]) < 0.01, (lvl, pc[lvl], day)
        assert pc[lvl]["buckets"] == day["buckets"]
        assert pc[lvl]["noise_floor_points"] < day["noise_floor_points"]
    assert "Pooled over the 2 seeds" in html and "noise floor" in html
    assert e(pooled_text(pc)) in html and pooled_text({}) == ""
