"""Why an order is at risk of a failed attempt (``RiverRisk.drivers``, the
``failure_risk`` alert's ``drivers``).

- a cold seat names its stated priors, a refitted one its fitted weights, always
  weight x value of the model that answers, largest first, at most three, none
  below ``DRIVERS_MIN_LOGIT``; the late seat names none;
- every feature name ``failure_features`` can produce has words;
- in a simulated day every failure_risk alert carries them, its message names the
  first, and the records match the output schema.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fleetstream.models import risk
from fleetstream.models.features import failure_feature_text, failure_features
from fleetstream.models.risk import RiverRisk

from tests.models.test_failure_risk import _captured

OUT = {"stated_in": 0, "stated_out_h": 2.0, "building": "house", "dow": 1, "arr_hour": 10.0,
       "cust_failures": 0, "cust_deliveries": 0, "cust_access_failures": 0,
       "access_difficulty_known": 1, "kind": "parcel", "priority": 0, "nh_near": 0.0,
       "ok_near": 0.0}


def test_a_cold_seat_names_its_priors_largest_first():
    d = RiverRisk("failure").drivers(OUT)
    assert [x["feature"] for x in d] == ["access_known", "stated_out", "stated_out_h"]
    assert [x["logit"] for x in d] == [1.0, 1.0, round(0.5 * 2.0 / 3.0, 3)]
    assert d[1]["text"] == "arrival outside the hours the customer states"
    inside = OUT | {"stated_in": 1, "stated_out_h": 0.0, "access_difficulty_known": 0}
    assert RiverRisk("failure").drivers(inside) == []
    assert RiverRisk("late").drivers({"slack_s": -600.0, "horizon_s": 600.0}) == []


def test_a_refitted_seat_names_its_fitted_weights():
    rows = _captured(6, 5)
    m = RiverRisk("failure")
    for x, y in rows:
        m.learn(x, y)
    w = m.refit.weights()
    assert w
    for x, _ in rows[-200:]:
        d = m.drivers(x)
        assert len(d) <= risk.DRIVERS_K
        f = failure_features(x)
        for item in d:
            assert item["logit"] == round(w.get(item["feature"], 0.0) * f[item["feature"]], 3)
            assert item["logit"] >= risk.DRIVERS_MIN_LOGIT
        assert [i["logit"] for i in d] == sorted((i["logit"] for i in d), reverse=True)
        top = max((w.get(n, 0.0) * v for n, v in f.items()), default=0.0)
        if top >= risk.DRIVERS_MIN_LOGIT:
            assert d and d[0]["logit"] == round(top, 3)


def test_every_failure_feature_has_words():
    names = set()
    for b in ("house", "apartment", "office", "shop", "?"):
        for dow in (0, 6):
            for h in range(24):
                x = OUT | {"building": b, "dow": dow, "arr_hour": h + 0.5, "kind": "grocery",
                           "driver_knows_door": 1, "cust_failures": 1, "nh_near": 1.0,
                           "ok_near": 1.0, "priority": 1, "cust_access_failures": 1,
                           "cust_deliveries": 1}
                names |= set(failure_features(x))
    for n in names:
        text = failure_feature_text(n)
        assert text and text != n and "_" not in text, (n, text)


def test_failure_risk_alerts_of_a_simulated_day_say_why():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "contract"))
    from test_real_streams import _check_outputs  # noqa: E402

    from fleetstream.contract.settings import EngineSettings
    from fleetstream.engine import LocalEngine
    from fleetstream.sim.loop import Simulation
    from fleetstream.sim.world import Scenario

    sim = Simulation(Scenario.preset("tiny", 1), LocalEngine(EngineSettings()))
    sim.run()
    alerts = [r for t, _k, r in sim.outputs if t == "fs.alerts" and r["kind"] == "failure_risk"]
    assert alerts
    _check_outputs([("fs.alerts", r) for r in alerts])
    for a in alerts:
        d = a["details"]["drivers"]
        assert 1 <= len(d) <= risk.DRIVERS_K
        assert f"mainly {d[0]['text']})" in a["message"]
