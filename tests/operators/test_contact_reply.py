"""Contact ahead: the customer's reply (operators/zone/contact.py; docs/governance.md,
"Contact ahead").  ``unavailable`` with hours moves the delivery on its vehicle's route
to a place not before them, with the reply as the decision's root cause; everything
else is remembered and moves nothing."""

from __future__ import annotations

import pytest

from fleetstream.contract.events import ValidationError, validate
from fleetstream.operators.state import DELIVERY, ONBOARD
from fleetstream.operators.zone.recovery import memo

from tests.operators.zone.zone_scene import T0, Feed, engine, loaded_van, order, pt, vehicle

NEAR = pt(0.01, 0.01)


def _reply(feed: Feed, ts: float, oid: str, answer: str, **kw):
    return feed.ev("customer_reply", ts, order_id=oid, answer=answer, **kw)


def _assigns(outs: list) -> list[dict]:
    return [r for t, r in outs if t == "fs.decisions" and r["kind"] == "assign"]


def test_unavailable_until_later_moves_the_delivery_to_after_that_time():
    feed = Feed()
    eng, orders = loaded_van(feed)
    ts, later = T0 + 1800, T0 + 3 * 3600
    outs = eng.process(_reply(feed, ts, "o1", "unavailable", available_from=later))
    (d,) = _assigns(outs)
    assert d["status"] == "applied" and d["order_ids"] == ["o1"]
    stops = [(s["order_id"], s["stop"]) for s in d["routes"]["V1"]]
    # the van reaches every stop before `later`: o1 goes where it waits least (last)
    assert stops[-1] == ("o1", "delivery"), "o1 moved behind the others"
    assert d["explanation"]["root_causes"] == [{"type": "customer_reply",
                                                "event_id": f"e{feed.n}", "order_id": "o1"}]
    assert "contacted ahead" in d["explanation"]["summary"]
    o = eng.state.orders["o1"]
    assert o.window_start == later
    assert memo(eng.state, o)["reply"] == "unavailable"
    assert eng.state.vehicles["V1"].route[-1] == ("o1", DELIVERY)


def test_available_until_narrows_the_window_end_too():
    feed = Feed()
    eng, _ = loaded_van(feed)
    a, b = T0 + 2 * 3600, T0 + 5 * 3600
    eng.process(_reply(feed, T0 + 600, "o2", "unavailable", available_from=a,
                       available_until=b))
    o = eng.state.orders["o2"]
    assert (o.window_start, o.window_end) == (a, b)


def test_confirmed_without_hours_moves_nothing():
    feed = Feed()
    eng, _ = loaded_van(feed)
    before = list(eng.state.vehicles["V1"].route)
    outs = eng.process(_reply(feed, T0 + 600, "o1", "confirmed"))
    assert not [r for t, r in outs if t == "fs.decisions"]
    assert eng.state.vehicles["V1"].route == before
    assert memo(eng.state, eng.state.orders["o1"])["reply"] == "confirmed"
    assert eng.state.stats["replies_confirmed"] == 1


def test_unavailable_without_hours_takes_the_delivery_off_and_tells_the_customer():
    feed = Feed()
    eng, _ = loaded_van(feed)
    outs = eng.process(_reply(feed, T0 + 600, "o1", "unavailable"))
    (d,) = [r for t, r in outs if t == "fs.decisions"]
    assert d["kind"] == "unassign" and d["status"] == "applied" and d["order_ids"] == ["o1"]
    assert [s["order_id"] for s in d["routes"]["V1"]] == ["o2", "o3"]
    assert d["explanation"]["root_causes"][0]["type"] == "customer_reply"
    (oc,) = [r for t, r in outs if t == "fs.outcomes"]
    assert oc["outcome"] == "not_served" and "customer replied" in oc["reason"]
    (msg,) = [r for t, r in outs if t == "fs.notifications"]
    assert msg["kind"] == "order_not_served"
    assert "o1" not in eng.state.orders
    assert ("o1", DELIVERY) not in eng.state.vehicles["V1"].route
    assert eng.state.stats["replies_held"] == 1


def test_unavailable_without_hours_is_attempted_when_hold_is_off_or_route_locked():
    from fleetstream.contract.settings import EngineSettings
    feed = Feed()
    eng, orders = loaded_van(feed)
    eng.settings = EngineSettings(hold_unavailable=False)
    eng.contact.settings = eng.settings
    before = list(eng.state.vehicles["V1"].route)
    outs = eng.process(_reply(feed, T0 + 600, "o1", "unavailable"))
    assert not [r for t, r in outs if t in ("fs.decisions", "fs.outcomes")]
    assert eng.state.vehicles["V1"].route == before
    feed = Feed()
    eng, _ = loaded_van(feed)
    eng.state.locked.add("V1")
    outs = eng.process(_reply(feed, T0 + 600, "o1", "unavailable"))
    assert not [r for t, r in outs if t in ("fs.decisions", "fs.outcomes")]
    assert eng.state.stats["replies_untouchable"] == 1 and "o1" in eng.state.orders


def test_hours_outside_the_window_change_nothing():
    feed = Feed()
    eng, _ = loaded_van(feed, window_end=T0 + 2 * 3600)
    outs = eng.process(_reply(feed, T0 + 600, "o1", "unavailable",
                              available_from=T0 + 3 * 3600))
    assert not _assigns(outs)
    assert eng.state.orders["o1"].window_start == T0
    assert eng.state.stats["replies_outside_window"] == 1


def test_a_locked_route_is_not_changed_by_a_reply():
    feed = Feed()
    eng, _ = loaded_van(feed)
    eng.state.locked.add("V1")
    outs = eng.process(_reply(feed, T0 + 600, "o1", "unavailable",
                              available_from=T0 + 3 * 3600))
    assert not _assigns(outs)
    assert eng.state.orders["o1"].window_start == T0
    assert eng.state.stats["replies_untouchable"] == 1


def test_a_reply_for_an_unknown_order_is_counted_not_an_error():
    feed = Feed()
    eng, _ = loaded_van(feed)
    outs = eng.process(_reply(feed, T0 + 600, "nope", "confirmed"))
    assert outs == [] or not _assigns(outs)
    assert eng.state.stats["replies_ignored"] == 1


def test_the_contract_rejects_an_empty_span_and_unknown_answers():
    base = {"type": "customer_reply", "v": 1, "event_id": "r1", "ts": 100.0, "order_id": "o1"}
    with pytest.raises(ValidationError, match="available_until"):
        validate({**base, "answer": "unavailable", "available_from": 300.0,
                  "available_until": 200.0})
    with pytest.raises(ValidationError, match="answer"):
        validate({**base, "answer": "maybe"})


# ---------------------------------------------------------------- risky deliveries

def _risky(cost: float):
    """V1 from 08:00 UTC with o1 first, o2..o4 after; o1's customer says someone is in
    only from 10:00 (its failure risk is high at 08:xx): alerted."""
    from fleetstream.contract.settings import EngineSettings
    feed = Feed()
    v1 = vehicle(feed, "V1", active=True, pos=NEAR)
    orders = [order(feed, f"o{i}", pt(0.012 + 0.01 * i, 0.008), T0, T0 + 8 * 3600)
              for i in range(1, 5)]
    for o in orders:
        o.status, o.vehicle_id = ONBOARD, "V1"
    orders[3].service_s = 3 * 3600        # a long stop: after it, it is past 10:00
    v1.onboard = [o.id for o in orders]
    v1.route = [(o.id, DELIVERY) for o in orders]
    from fleetstream.wiring import build_seats
    eng = engine([v1], orders, EngineSettings(failure_attempt_cost=cost),
                 seats=build_seats("Z"))          # the learned seats: stated hours count
    eng.state.customers["co1"] = {"language": "en", "available_hours": ["10:00-18:00"]}
    orders[0].fail_alerted = True
    return eng


def test_a_risky_delivery_moves_to_when_the_customer_is_in():
    eng = _risky(60.0)
    out: list = []
    eng.contact.move_risky(T0 + 60, ["e-sweep"], out)
    (d,) = [r for t, r in out if t == "fs.decisions"]
    assert d["kind"] == "reroute" and d["order_ids"] == ["o1"]
    (reason,) = d["explanation"]["reasons"]
    assert reason["rule"] == "failure_risk" and reason["p_fail_after"] < reason["p_fail_before"]
    route = eng.state.vehicles["V1"].route
    assert route.index(("o1", DELIVERY)) == 3, route     # after the long stop
    assert eng.state.stats["risk_moves"] == 1
    out2: list = []
    eng.contact.move_risky(T0 + 120, ["e-sweep"], out2)
    assert not out2, "considered once"


def test_moving_risky_deliveries_is_off_by_default_and_cheap_moves_only():
    eng = _risky(0.0)
    out: list = []
    eng.contact.move_risky(T0 + 60, ["e-sweep"], out)
    assert not out and eng.state.vehicles["V1"].route[0] == ("o1", DELIVERY)
    eng = _risky(0.01)                      # a failure costs next to nothing: keep the plan
    eng.contact.move_risky(T0 + 60, ["e-sweep"], out)
    assert not out and eng.state.stats["risk_kept"] == 1


def test_a_retried_delivery_is_moved_like_a_risky_one():
    """A retry after a failed attempt (recovery's memo ``attempts``) is considered once,
    as a delivery with a failure-risk alert is, even without an alert."""
    eng = _risky(60.0)
    eng.state.orders["o1"].fail_alerted = False
    out: list = []
    eng.contact.move_risky(T0 + 60, ["e-sweep"], out)
    assert not out, "no alert and no failed attempt: not considered"
    memo(eng.state, eng.state.orders["o1"])["attempts"] = 1
    eng.contact.move_risky(T0 + 60, ["e-sweep"], out)
    (d,) = [r for t, r in out if t == "fs.decisions"]
    assert d["kind"] == "reroute" and d["order_ids"] == ["o1"]
