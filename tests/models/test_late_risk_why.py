"""benchmarks/late_risk.py --why-missed (benchmarks/late_risk_missed.py): every late
arrival without a late_risk alert gets exactly one cause, the first that applies."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks"))

from late_risk_missed import CAUSES, Tracer, breakdown, classify

ON, OFF, CD = 0.6, 0.3, 900.0
W = 10_000.0   # every order's window end


def _pred(t: float, p: float, eta: float = W, flag=False) -> tuple:
    return (t, p, eta, 1, "v1", flag)


def _missed(oid: str, arrived: float = W + 120, attempts: int = 1) -> dict:
    return {"order_id": oid, "window_end": W, "arrived": arrived, "attempts": attempts}


def test_each_missed_arrival_gets_the_first_cause_that_applies() -> None:
    tr = Tracer()
    tr.preds["retry"] = [_pred(W - 3000, 0.9, flag=True)]
    tr.preds["close"] = [_pred(W - 3000, 0.4), _pred(W - 600, 0.55)]
    tr.preds["low"] = [_pred(W - 3000, 0.2), _pred(W - 600, 0.25)]
    tr.preds["jump"] = [_pred(W - 3000, 0.3, eta=W - 1500), _pred(W - 2900, 0.4, eta=W - 100)]
    # flagged, answered, the plan filter left it unalerted; its risk then fell under on
    tr.preds["plan"] = [_pred(W - 5000, 0.7, flag=True), _pred(W - 3000, 0.55, flag=True)]
    tr.answered["plan"] = [W - 5000]
    tr.plan_filtered["plan"] = [W - 5000]
    # flagged, re-routed (judged on time), and it arrived before a cooldown passed
    tr.preds["rr"] = [_pred(W - 400, 0.7, flag=True)]
    tr.answered["rr"] = [W - 400]
    tr.reroute_fixed["rr"] = [W - 400]
    tr.preds["q"] = [_pred(W - 300, 0.65, flag=2)]
    tr.queued["q"] = [W - 300]
    missed = [_missed("retry", attempts=2), _missed("never"), _missed("close"), _missed("low"),
              _missed("jump"), _missed("plan"), _missed("rr"), _missed("q")]
    rows = classify(tr, missed, ON, OFF, CD)
    got = {r["order_id"]: r["cause"] for r in rows}
    assert got == {"retry": "retry", "never": "never_predicted", "close": "never_flagged_close",
                   "low": "never_flagged", "jump": "never_flagged_jump",
                   "plan": "plan_filtered/risk_fell", "rr": "reroute_fixed/arrived_first",
                   "q": "queued"}
    assert all(r["cause"].split("/")[0] in CAUSES for r in rows)
    by = {r["order_id"]: r for r in rows}
    assert by["plan"]["flag_lead_min"] == round(5000 / 60, 1) and by["plan"]["max_p"] == 0.7
    assert by["never"]["n_pred"] == 0 and by["never"]["flag_lead_min"] is None
    assert breakdown(rows)["never_flagged"] == 1 and sum(breakdown(rows).values()) == 8


def test_a_prediction_after_the_arrival_is_not_used() -> None:
    tr = Tracer()
    tr.preds["o"] = [_pred(W - 3000, 0.2), _pred(W + 500, 0.9, flag=True)]   # a later attempt
    assert classify(tr, [_missed("o", arrived=W + 60)], ON, OFF, CD)[0]["cause"] == "never_flagged"


def test_the_tracer_restores_what_it_wraps() -> None:
    from fleetstream.operators.zone.forecasting import Forecasting
    from fleetstream.operators.zone.response import Response
    before = (Forecasting.refresh, Forecasting.flag, Response.late_by_plan, Response.handle_risk)
    with Tracer():
        assert Forecasting.refresh is not before[0] and Response.late_by_plan is not before[2]
    assert (Forecasting.refresh, Forecasting.flag, Response.late_by_plan,
            Response.handle_risk) == before


def test_risk_fell_is_judged_against_the_still_at_risk_level() -> None:
    tr = Tracer()
    tr.preds["o"] = [_pred(W - 5000, 0.7, flag=True), _pred(W - 3000, 0.55, flag=True)]
    tr.answered["o"] = tr.plan_filtered["o"] = [W - 5000]
    assert classify(tr, [_missed("o")], ON, OFF, CD)[0]["cause"] == "plan_filtered/risk_fell"
    assert classify(tr, [_missed("o")], ON, OFF, CD, still=0.5)[0]["cause"] == "plan_filtered/other"
