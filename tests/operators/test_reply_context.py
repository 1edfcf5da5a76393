"""The customer's reply to a contact ahead, where it is read (operators/zone/contact.py,
models/availability.py ``arranged``): the failure-risk seat sees ``arranged`` (a
confirmed customer, or an arrival inside the hours the customer gave) and the driver
sees the answer with the stop (the route's customer context ``reply``)."""

from __future__ import annotations

import jsonschema

from fleetstream.models.availability import arranged, note_reply
from fleetstream.models.features import failure_features
from fleetstream.models.risk import FAILURE_PRIORS, RiverRisk
from fleetstream.operators.zone.recovery import memo
from fleetstream.schemas import strict_schemas

from tests.operators.zone.zone_scene import T0, Feed, loaded_van

DECISIONS = jsonschema.Draft202012Validator(strict_schemas()["fs.decisions"])


def _risk_x(eng, oid: str, arrive: float) -> dict:
    v, o = eng.state.vehicles["V1"], eng.state.orders[oid]
    return eng.world.risk_x(v, o, arrive, 600.0, arrive - T0, 0, 9.0)


def _stop(route: list[dict], oid: str) -> dict:
    return next(s for s in route if s["order_id"] == oid and s["stop"] == "delivery")


def test_a_confirmed_customer_is_arranged_and_the_driver_sees_it():
    feed = Feed()
    eng, _ = loaded_van(feed)
    seat = RiverRisk("failure")
    before = seat.predict_proba(_risk_x(eng, "o1", T0 + 3600))
    assert "arranged" not in _risk_x(eng, "o1", T0 + 3600)
    eng.process(feed.ev("customer_reply", T0 + 600, order_id="o1", answer="confirmed"))
    x = _risk_x(eng, "o1", T0 + 3600)
    assert x["arranged"] == 1 and failure_features(x)["arranged"] == 1.0
    after = seat.predict_proba(x)
    assert after < before * 0.5, (before, after)       # the stated prior: -1 on the logit
    assert "arranged" not in _risk_x(eng, "o2", T0 + 3600)   # another order of the van
    route = eng.world.render_route("V1", eng.state.vehicles["V1"].route, T0 + 700)
    assert _stop(route, "o1")["customer"]["reply"] == {"answer": "confirmed", "ts": T0 + 600}
    assert "reply" not in _stop(route, "o2").get("customer", {})


def test_hours_given_arrange_only_the_arrivals_inside_them_and_are_shown():
    feed = Feed()
    eng, _ = loaded_van(feed)
    a, b = T0 + 2 * 3600, T0 + 4 * 3600
    outs = eng.process(feed.ev("customer_reply", T0 + 600, order_id="o2",
                               answer="unavailable", available_from=a, available_until=b))
    (d,) = [r for t, r in outs if t == "fs.decisions" and r["kind"] == "assign"]
    assert not list(DECISIONS.iter_errors(d))          # the strict contract holds the field
    assert _stop(d["routes"]["V1"], "o2")["customer"]["reply"] == {
        "answer": "unavailable", "ts": T0 + 600, "available_from": a, "available_until": b}
    assert "arranged" not in _risk_x(eng, "o2", a - 60)
    assert _risk_x(eng, "o2", a)["arranged"] == 1
    assert _risk_x(eng, "o2", b)["arranged"] == 1
    assert "arranged" not in _risk_x(eng, "o2", b + 60)


def test_unavailable_without_hours_is_not_arranged_and_a_later_reply_replaces_it():
    m: dict = {}
    note_reply(m, "unavailable", 10.0, 3600.0, None)
    assert not arranged(m, 3000.0) and arranged(m, 4000.0)
    note_reply(m, "unavailable", 20.0, None, None)      # a later answer: no hours now
    assert m == {"reply": "unavailable", "reply_ts": 20.0}
    assert not arranged(m, 4000.0)
    note_reply(m, "confirmed", 30.0, None, None)
    assert arranged(m, 0.0) and arranged(m, 1e12)
    assert not arranged({}, 0.0) and not arranged({"attempts": 1}, 0.0)


def test_a_reply_is_kept_in_the_engine_snapshot():
    feed = Feed()
    eng, _ = loaded_van(feed)
    eng.process(feed.ev("customer_reply", T0 + 600, order_id="o3", answer="unavailable",
                        available_from=T0 + 3 * 3600))
    snap = eng.snapshot()
    eng2 = type(eng).restore(snap, eng.settings)
    assert memo(eng2.state, eng2.state.orders["o3"]) == {
        "reply": "unavailable", "reply_ts": T0 + 600, "reply_from": T0 + 3 * 3600}
    assert _risk_x(eng2, "o3", T0 + 3 * 3600 + 60)["arranged"] == 1


def test_a_seat_saved_before_the_prior_existed_starts_the_feature_at_it():
    seat = RiverRisk("failure")
    for i in range(1200):     # past FAILURE_REFIT["min_n"]: the refit answers
        seat.learn({"building": "house", "arr_hour": 10.0, "dow": 1,
                    "stated_in": i % 2, "stated_out_h": 1.0 * (i % 2)}, i % 5 == 0)
    assert seat.refit.fits > 0
    del seat.model._weights["arranged"]
    del seat.refit.prior["arranged"]
    learned = seat.model._weights["stated_out"]
    old = RiverRisk.restore(seat.snapshot())
    assert old.model._weights["arranged"] == FAILURE_PRIORS["arranged"]
    assert old.refit.prior["arranged"] == FAILURE_PRIORS["arranged"]
    assert old.model._weights["stated_out"] == learned   # what it learned is kept
    x = {"building": "house", "arr_hour": 10.0, "dow": 1}
    assert old.predict_proba({**x, "arranged": 1}) < old.predict_proba(x)


def test_a_reply_remembered_by_an_older_engine_is_shown_without_its_time():
    feed = Feed()
    eng, orders = loaded_van(feed)
    memo(eng.state, orders[0])["reply"] = "confirmed"      # what engines kept before
    route = eng.world.render_route("V1", eng.state.vehicles["V1"].route, T0 + 700)
    assert _stop(route, "o1")["customer"]["reply"] == {"answer": "confirmed"}
    assert _risk_x(eng, "o1", T0 + 3600)["arranged"] == 1


def test_the_driver_sees_the_hours_the_customer_states():
    feed = Feed()
    eng, orders = loaded_van(feed)
    eng.process(feed.ev("customer_profile", T0, customer_id=orders[0].customer_id, zone="Z",
                        language="en", available_hours=["14:00-18:00"],
                        building_type="house"))
    outs = eng.process(feed.ev("customer_reply", T0 + 600, order_id="o1", answer="unavailable",
                               available_from=T0 + 2 * 3600))
    (d,) = [r for t, r in outs if t == "fs.decisions" and r["kind"] == "assign"]
    assert not list(DECISIONS.iter_errors(d))
    route = d["routes"]["V1"]
    assert _stop(route, "o1")["customer"]["available_hours"] == ["14:00-18:00"]
    assert "available_hours" not in _stop(route, "o2").get("customer", {})
