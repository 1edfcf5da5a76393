"""Recovery of work (operators/zone/recovery.py; docs/routing.md, "Recovery of work"):
a failed attempt goes back on the route of the vehicle carrying the order or ends with
an outcome and a message; a vehicle that leaves service hands over what is on board;
an order no vehicle has when its window closes ends not_served, and the customer is told."""

from __future__ import annotations

from fleetstream.operators.state import DELIVERY, ONBOARD, PICKUP
from fleetstream.operators.zone.recovery import MAX_ATTEMPTS, RETRY_DELAY_S, TRANSFER_S

from tests.operators.zone.zone_scene import T0, Feed, engine, order, pt, vehicle

NEAR, FAR = pt(0.01, 0.01), pt(0.02, -0.01)


def _by(outs: list, topic: str) -> list[dict]:
    return [r for t, r in outs if t == topic]


def _loaded(feed: Feed, window_end: float = T0 + 6 * 3600, n: int = 1):
    """V1 on the road with n parcels on board, V2 on the road empty."""
    v1 = vehicle(feed, "V1", active=True, pos=NEAR)
    v2 = vehicle(feed, "V2", active=True, pos=FAR)
    orders = [order(feed, f"o{i}", pt(0.012 + 0.002 * i, 0.008), T0, window_end)
              for i in range(1, n + 1)]
    for o in orders:
        o.status, o.vehicle_id = ONBOARD, "V1"
    v1.onboard = [o.id for o in orders]
    v1.route = [(o.id, DELIVERY) for o in orders]
    return engine([v1, v2], orders), orders


def _failed(feed: Feed, oid: str, ts: float, reason: str = "not_home"):
    return feed.ev("order_failed", ts, order_id=oid, vehicle_id="V1", reason=reason)


def test_a_retryable_failure_goes_back_on_the_route_of_the_vehicle_carrying_it():
    feed = Feed()
    eng, (o,) = _loaded(feed)
    ts = T0 + 3600
    outs = eng.process(_failed(feed, "o1", ts))
    assert not _by(outs, "fs.outcomes"), "a retried attempt is not the order's end"
    (d,) = [d for d in _by(outs, "fs.decisions") if d["kind"] == "assign"]
    assert d["status"] == "applied" and d["order_ids"] == ["o1"]
    stops = d["routes"]["V1"]
    assert [(s["order_id"], s["stop"]) for s in stops] == [("o1", "delivery")]
    # not before the retry delay: the order's window now starts then (the van waits)
    assert o.window_start == ts + RETRY_DELAY_S
    assert stops[0]["eta"] >= ts
    assert d["explanation"]["root_causes"] == [{"type": "order_failed",
                                                "event_id": f"e{feed.n}",
                                                "order_id": "o1"}]
    assert "not_home" in d["explanation"]["summary"]
    assert eng.state.orders["o1"].status == ONBOARD
    assert eng.state.vehicles["V1"].route == [("o1", DELIVERY)]


def test_failures_that_are_final_end_with_an_outcome_and_a_message_saying_why():
    for reason, words in (("refused", "refused"), ("damaged", "damaged"),
                          ("other", "attempt failed")):
        feed = Feed()
        eng, _ = _loaded(feed)
        outs = eng.process(_failed(feed, "o1", T0 + 3600, reason))
        (rec,) = _by(outs, "fs.outcomes")
        assert (rec["outcome"], rec["reason"]) == ("failed", reason)
        (msg,) = _by(outs, "fs.notifications")
        assert msg["kind"] == "order_not_served" and words in msg["message"]
        assert "o1" not in eng.state.orders
        assert not [d for d in _by(outs, "fs.decisions") if d["kind"] == "assign"]


def test_attempts_are_bounded():
    feed = Feed()
    eng, _ = _loaded(feed)
    ts = T0 + 3600
    eng.process(_failed(feed, "o1", ts))
    for n in range(2, MAX_ATTEMPTS + 1):
        ts += RETRY_DELAY_S + 600
        outs = eng.process(_failed(feed, "o1", ts))
    (rec,) = _by(outs, "fs.outcomes")
    assert rec["outcome"] == "failed"
    (msg,) = _by(outs, "fs.notifications")
    assert "nobody was home" in msg["message"] and "no time left today" in msg["message"]
    assert "recovery" not in eng.state.customers["co1"], "recovery forgets finished orders"


def test_no_retry_without_time_left_in_the_window():
    feed = Feed()
    eng, _ = _loaded(feed, window_end=T0 + 3600 + RETRY_DELAY_S - 60)
    outs = eng.process(_failed(feed, "o1", T0 + 3600, "access"))
    assert _by(outs, "fs.outcomes")[0]["outcome"] == "failed"
    assert "could not get access" in _by(outs, "fs.notifications")[0]["message"]


def test_a_broken_down_vehicle_hands_over_its_load_as_pickups_at_its_position():
    feed = Feed()
    eng, _ = _loaded(feed, n=2)
    ev = feed.ev("vehicle_unavailable", T0 + 3600, vehicle_id="V1", reason="breakdown")
    outs = eng.process(ev)
    (d,) = [d for d in _by(outs, "fs.decisions") if d["kind"] == "redispatch"]
    assert sorted(d["order_ids"]) == ["o1", "o2"] and list(d["routes"]) == ["V2"]
    stops = [(s["order_id"], s["stop"]) for s in d["routes"]["V2"]]
    assert sorted(stops) == [("o1", "delivery"), ("o1", "pickup"),
                             ("o2", "delivery"), ("o2", "pickup")]
    for oid in ("o1", "o2"):
        assert stops.index((oid, "pickup")) < stops.index((oid, "delivery"))
    pick = next(s for s in d["routes"]["V2"] if s["stop"] == "pickup")
    assert (pick["location"]["lat"], pick["location"]["lon"]) == NEAR
    assert d["explanation"]["root_causes"] == [{"type": "vehicle_unavailable",
                                                "event_id": ev.event_id}]
    assert not [a for a in _by(outs, "fs.alerts") if a["kind"] == "stranded_orders"]
    o = eng.state.orders["o1"]
    assert o.pickup_service_s == TRANSFER_S and eng.state.vehicles["V1"].onboard == []
    # V2 collects o1 at V1 and delivers it.
    eng.process(feed.ev("stop_arrived", T0 + 4000, order_id="o1", vehicle_id="V2",
                        stop_kind="pickup"))
    eng.process(feed.ev("order_picked_up", T0 + 4300, order_id="o1", vehicle_id="V2"))
    assert o.status == ONBOARD and o.vehicle_id == "V2" and "o1" in eng.state.vehicles["V2"].onboard
    assert ("o1", PICKUP) not in eng.state.vehicles["V2"].route
    outs = eng.process(feed.ev("order_delivered", T0 + 5000, order_id="o1", vehicle_id="V2"))
    assert [r["outcome"] for r in _by(outs, "fs.outcomes")] == ["delivered"]


def test_an_ended_shift_hands_over_what_is_still_on_board():
    feed = Feed()
    eng, _ = _loaded(feed)
    ev = feed.ev("shift_end", T0 + 3600, vehicle_id="V1")
    outs = eng.process(ev)
    (d,) = [d for d in _by(outs, "fs.decisions") if d["kind"] == "redispatch"]
    assert d["explanation"]["root_causes"] == [{"type": "shift_end", "event_id": ev.event_id}]
    assert "shift ended" in d["explanation"]["summary"]


def test_a_load_nobody_can_collect_is_alerted_then_not_served_with_a_message():
    feed = Feed()
    eng, _ = _loaded(feed, window_end=T0 + 2 * 3600)
    del eng.state.vehicles["V2"]
    outs = eng.process(feed.ev("vehicle_unavailable", T0 + 3600, vehicle_id="V1",
                               reason="breakdown"))
    (a,) = [a for a in _by(outs, "fs.alerts") if a["kind"] == "stranded_orders"]
    assert a["order_ids"] == ["o1"] and a["severity"] == "critical"
    assert not _by(outs, "fs.outcomes")
    # The window closes; the next housekeeping pass ends the order.
    outs = eng.process(feed.ev("ping", T0 + 2 * 3600 + 700, vehicle_id="V1", lat=NEAR[0],
                               lon=NEAR[1], speed_kmh=0.0, heading=0))
    (rec,) = _by(outs, "fs.outcomes")
    assert rec["outcome"] == "not_served" and "V1" in rec["reason"]
    (msg,) = _by(outs, "fs.notifications")
    assert msg["kind"] == "order_not_served" and "went out of service" in msg["message"]
    assert "o1" not in eng.state.orders


def test_an_order_dispatch_could_not_place_ends_not_served_when_its_window_closes():
    feed = Feed()
    o = order(feed, "o9", FAR, T0, T0 + 1800)
    o.fleet_types = ["gig"]           # the only van is captive: no feasible vehicle
    eng = engine([vehicle(feed, "V1", active=True, pos=NEAR)], [o])
    outs = [r for ts in (T0 + 600, T0 + 1200, T0 + 3000)
            for r in eng.process(feed.ping("V1", ts, NEAR))]
    assert [a["severity"] for a in _by(outs, "fs.alerts") if a["kind"] == "unassigned"]
    (rec,) = _by(outs, "fs.outcomes")
    assert rec["outcome"] == "not_served" and "no vehicle" in rec["reason"]
    assert "no vehicle could reach you" in _by(outs, "fs.notifications")[0]["message"]
    assert "o9" not in eng.state.orders


def test_recovery_memory_survives_a_snapshot():
    from fleetstream.operators.zone.engine import ZoneEngine
    feed = Feed()
    eng, _ = _loaded(feed)
    eng.process(_failed(feed, "o1", T0 + 3600))
    eng2 = ZoneEngine.restore(eng.snapshot())
    outs = eng2.process(_failed(feed, "o1", T0 + 3600 + RETRY_DELAY_S + 600))
    assert _by(outs, "fs.outcomes")[0]["outcome"] == "failed", "attempt 2 of 2 is final"


def test_the_retry_goes_where_the_van_arrives_after_the_delay_rather_than_waiting():
    feed = Feed()
    eng, (o1,) = _loaded(feed)
    far = [order(feed, f"f{i}", pt(-0.06, 0.02 * i), T0, T0 + 8 * 3600) for i in (1, 2)]
    v1 = eng.state.vehicles["V1"]
    for o in far:
        o.status, o.vehicle_id = "assigned", "V1"
        eng.state.orders[o.id] = o
        eng.state.customers[o.customer_id] = {"language": "en"}
    v1.route = [("o1", DELIVERY), ("f1", DELIVERY), ("f2", DELIVERY)]
    ts = T0 + 3600
    outs = eng.process(_failed(feed, "o1", ts))
    (d,) = [d for d in _by(outs, "fs.decisions") if d["kind"] == "assign"]
    stops = d["routes"]["V1"]
    assert [s["order_id"] for s in stops][0] == "f1", "not back to the same door at once"
    (retry,) = [s for s in stops if s["order_id"] == "o1"]
    assert retry["eta"] >= ts + RETRY_DELAY_S


def test_a_retry_does_not_label_the_first_attempts_predictions_again():
    """The first attempt's ETA predictions are labelled by its own arrival; the
    retry's arrival, hours later, labels only the retry's predictions (else the
    intervals learn residuals of hours for predictions that were right)."""
    feed = Feed()
    eng, (o,) = _loaded(feed)
    labelled: list = []
    learn = eng.forecasting.learn_arrival

    def spy(order, ts, late):
        labelled.append((ts, [s["ts"] for s in order.snaps]))
        learn(order, ts, late)
    eng.forecasting.learn_arrival = spy
    eng.lifecycle.forecasting = eng.forecasting
    o.snaps.append({"b": 0, "ts": T0, "eta": T0 + 600, "xi": {"horizon_s": 600.0,
                    "stops_ahead": 0, "zone": "Z", "hour": 8.0}, "xr": {}, "lo80": -60,
                    "hi80": 60, "lo95": -120, "hi95": 120})
    eng.process(feed.ev("stop_arrived", T0 + 700, order_id="o1", vehicle_id="V1"))
    eng.process(_failed(feed, "o1", T0 + 800))
    assert o.snaps == [], "the attempt's predictions are done with"
    eng.process(feed.ev("stop_arrived", T0 + 3 * 3600, order_id="o1", vehicle_id="V1"))
    assert labelled[0] == (T0 + 700, [T0]) and labelled[1] == (T0 + 3 * 3600, [])


def test_a_retry_goes_where_it_delays_the_customers_already_on_the_route_least():
    """Every stop on the route has a published ETA: the retry is placed where the later
    stops' arrivals move least (plus the driving it adds), not where it adds least
    distance (ahead of the stops still to come: their customers would wait an hour)."""
    feed = Feed()
    far = pt(0.40, 0.0)                 # the van's depot: beyond its last stop
    v1 = vehicle(feed, "V1", active=True, pos=pt(0.10, 0.0), start=far)
    o1 = order(feed, "o1", pt(0.10, 0.001), T0, T0 + 8 * 3600)
    rest = [order(feed, f"o{i}", pt(0.05 * i, 0.0), T0, T0 + 8 * 3600) for i in (3, 4, 5, 6)]
    for o in (o1, *rest):
        o.status, o.vehicle_id = ONBOARD, "V1"
    v1.onboard = [o.id for o in (o1, *rest)]
    v1.route = [(o.id, DELIVERY) for o in (o1, *rest)]
    eng = engine([v1], [o1, *rest])
    ts = T0 + 600
    before = {s[0]: a for s, a in zip(v1.route[1:], _arrivals(eng, v1, ts, v1.route[1:]))}
    # what the least added distance would have chosen (no wait at the door)
    rec = eng.lifecycle.recovery
    places, _ = rec.places(o1, v1, ts, v1.route[1:])
    by_km = min((km, k) for k, _r, t, km in places if t.arrive[k] >= ts + RETRY_DELAY_S)
    assert by_km[1] < len(rest), "the scene must have a cheaper-by-distance place ahead"
    outs = eng.process(_failed(feed, "o1", ts))
    (d,) = [d for d in _by(outs, "fs.decisions") if d["kind"] == "assign"]
    assert [s["order_id"] for s in d["routes"]["V1"]] == ["o3", "o4", "o5", "o6", "o1"]
    for s in d["routes"]["V1"][:-1]:
        assert abs(s["eta"] - before[s["order_id"]]) < 1.0, "a promised stop moved"
    (why,) = d["explanation"]["reasons"]
    assert why["rule"] == "least_delay_insertion" and why["delay_s"] == 0.0
    assert why["added_drive_s"] > 0 and why["places"] == len(places)


def _arrivals(eng, v, ts, stops):
    from fleetstream.operators.dispatch import route_timing
    from fleetstream.operators.zone.world import start_of
    pos, t0 = start_of(v, ts)
    return route_timing(v, stops, eng.state.orders, pos, t0, eng.lifecycle.recovery.world.travel.tt).arrive
