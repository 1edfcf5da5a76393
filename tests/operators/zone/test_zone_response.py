"""Risk response through the routing protocol: a strategy with no re-route result
or redispatch answer (``None``) gets the engine's fallbacks (its own re-route rule,
insertion-based redispatch); then the late-risk alert and customer messages."""

from __future__ import annotations

from fleetstream.contract.settings import EngineSettings
from fleetstream.operators.dispatch import InsertionStrategy
from fleetstream.operators.state import DELIVERY
from zone_scene import T0, Feed, engine, order, pt, put_on, vehicle


def _urgent_behind(settings: EngineSettings | None = None) -> tuple:
    """A van going to o1 (due in 4 h) before o2 (due in 15 min, the other way), its
    late-risk response to o2 solved: (vehicle, outputs)."""
    f = Feed()
    v = vehicle(f, "v1", active=True)
    later = order(f, "o1", pt(0.03, 0.0), T0, T0 + 4 * 3600)
    urgent = order(f, "o2", pt(-0.03, 0.0), T0, T0 + 900)
    put_on(v, [later, urgent])
    eng = engine([v], [later, urgent], settings, strategy=InsertionStrategy())
    out: list = []
    eng.response.handle_risk(v, ["o2"], T0, ["e1"], out)
    return v, out


def test_reroute_falls_back_to_the_strategys_own_rule() -> None:
    v, out = _urgent_behind()
    d = out[0][1]
    assert (d["kind"], d["status"]) == ("reroute", "applied")
    assert d["explanation"]["method"] == "edf" and d["explanation"]["strategy"] == "insertion-1"
    assert list(d["explanation"]) == ["summary", "reasons", "alternatives", "expected_gain_min",
                                      "expected_effect", "method", "strategy"]
    assert v.route == [("o2", DELIVERY), ("o1", DELIVERY)]


def test_a_late_risk_reroute_passes_the_frozen_head_unless_exceptions_are_bound() -> None:
    """By default (frozen head 1800 s / 1 stop, ``plan_frozen_exceptions`` ``at_risk``)
    the re-route above moves the urgent stop, at risk, ahead of the frozen first stop
    (as ``free`` does); ``bound``, the head keeps its place and the risk goes on to the
    redispatch and the alert."""
    assert EngineSettings().plan_frozen_stops == 1
    for mode, first in (("at_risk", "o2"), ("free", "o2"), ("bound", "o1")):
        v, out = _urgent_behind(EngineSettings(plan_frozen_exceptions=mode))
        assert v.route[0] == (first, DELIVERY), (mode, v.route)
        if mode != "bound":   # the explanation says whether the head's stops kept their order
            d = out[0][1]
            assert d["kind"] == "reroute"
            reason = d["explanation"]["reasons"][0]
            assert reason.get("head_kept") == (1 if mode == "at_risk" else None), reason
            assert d["explanation"]["summary"].endswith("the next stop kept first") == \
                (mode == "at_risk")


def test_redispatch_falls_back_to_insertion_without_a_routing_config() -> None:
    f = Feed()
    v1 = vehicle(f, "v1")                       # at the depot: its parcels can still move
    v2 = vehicle(f, "v2")
    first = order(f, "o1", pt(0.15, 0.15), T0, T0 + 6 * 3600)
    risky = order(f, "o2", pt(-0.01, 0.0), T0, T0 + 3 * 3600)
    put_on(v1, [first, risky])
    eng = engine([v1, v2], [first, risky], EngineSettings(redispatch_min_gain_s=60.0),
                 strategy=InsertionStrategy())
    out: list = []
    moved, note = eng.response.redispatch(v1, ["o2"], T0, ["e1"], out)
    assert (moved, note) == (["o2"], "")
    d = out[0][1]
    assert (d["kind"], d["order_ids"]) == ("redispatch", ["o2"])
    assert {vid: [s["order_id"] for s in r] for vid, r in d["routes"].items()} == {"v1": ["o1"], "v2": ["o2"]}
    assert v1.route == [("o1", DELIVERY)] and v2.route == [("o2", DELIVERY)]


def test_what_cannot_be_fixed_is_alerted_and_the_customer_told() -> None:
    f = Feed()
    v = vehicle(f, "v1", active=True)
    hopeless = order(f, "o1", pt(0.2, 0.2), T0, T0 + 600)
    put_on(v, [hopeless])
    hopeless.status = "onboard"                 # on board: cannot move
    v.onboard, v.etas = ["o1"], [T0 + 3000.0]
    eng = engine([v], [hopeless])
    out: list = []
    eng.response.handle_risk(v, ["o1"], T0, ["e1"], out)
    assert [t for t, _ in out] == ["fs.alerts", "fs.notifications"]
    alert, note = out[0][1], out[1][1]
    assert alert["kind"] == "late_risk" and alert["details"]["etas"] == {"o1": T0 + 3000.0}
    assert (note["kind"], note["order_id"], note["eta"]) == ("window_at_risk", "o1", T0 + 3000.0)
    assert eng.stats["risk_triggers"] == 1


def test_a_stop_only_the_risk_model_calls_late_is_not_alerted() -> None:
    """No re-route changed the plan and the plan times the stop inside its window: the
    risk alone does not alert the operation or message the customer (alert precision);
    a stop the plan also times late is alerted (above)."""
    f = Feed()
    v = vehicle(f, "v1", active=True)
    fine = order(f, "o1", pt(0.01, 0.0), T0, T0 + 4 * 3600)
    put_on(v, [fine])
    fine.status = "onboard"                     # on board: cannot move
    v.onboard, v.etas = ["o1"], [T0 + 600.0]
    eng = engine([v], [fine])
    out: list = []
    eng.response.handle_risk(v, ["o1"], T0, ["e1"], out)
    assert out == []
    assert eng.stats["risk_alerts_plan_on_time"] == 1
    late = order(f, "o2", pt(0.2, 0.2), T0, T0 + 600)
    put_on(v, [fine, late])
    late.status = "onboard"
    v.onboard, v.etas = ["o1", "o2"], [T0 + 600.0, T0 + 3000.0]
    eng2 = engine([v], [fine, late])
    eng2.response.handle_risk(v, ["o1", "o2"], T0, ["e2"], out)
    alerts = [r for t, r in out if t == "fs.alerts"]
    assert [a["order_ids"] for a in alerts] == [["o2"]]


def _redispatched_to(w_due: float, mode: str = "at_risk") -> tuple:
    """A van w driving to a (its frozen head) then b and an order m moved to it by a
    redispatch whose route puts m first, the other way: (w's route, stats)."""
    f = Feed()
    w = vehicle(f, "w", active=True)
    a = order(f, "a", pt(0.05, 0.0), T0, T0 + 4 * 3600)
    b = order(f, "b", pt(0.08, 0.0), T0, T0 + 5 * 3600)
    m = order(f, "m", pt(-0.05, 0.0), T0, w_due)
    put_on(w, [a, b])
    eng = engine([w], [a, b, m], EngineSettings(plan_frozen_exceptions=mode))
    new = [("m", DELIVERY), ("a", DELIVERY), ("b", DELIVERY)]
    route, n = eng.response.destination_head(w, new, {"m"}, T0)
    assert n == (1 if route != new else 0)
    return route, eng.state.stats


def test_a_redispatch_keeps_the_destinations_head_unless_the_moved_order_needs_its_place() -> None:
    """``at_risk``: the moved order goes after the destination's frozen head when it is
    on time there; it may go before the head only when it would be late after it and is
    on time before it (the head yields to a stop at risk that needs its place)."""
    after = [("a", DELIVERY), ("m", DELIVERY), ("b", DELIVERY)]   # the head: a
    first = [("m", DELIVERY), ("a", DELIVERY), ("b", DELIVERY)]
    route, stats = _redispatched_to(T0 + 3 * 3600)          # on time after the head
    assert route == after and stats["redispatch_head_kept"] == 1
    route, stats = _redispatched_to(T0 + 3600)              # late after it, on time first
    assert route == first and stats["redispatch_head_yielded"] == 1
    route, stats = _redispatched_to(T0 + 60)                # late either way: no reason
    assert route == after and stats["redispatch_head_kept"] == 1
    route, stats = _redispatched_to(T0 + 3 * 3600, "free")  # free: where the search put it
    assert route == first and "redispatch_head_kept" not in stats
    route, stats = _redispatched_to(T0 + 3600, "bound")     # bound: the head never yields
    assert route == after and stats["redispatch_head_kept"] == 1


def test_the_redispatch_decision_says_which_head_it_kept() -> None:
    """Through ``decide_redispatch``: the moved order lands after the destination's
    frozen head, the late_risk reason carries ``head_kept`` and the summary says so."""
    from fleetstream.operators.routing.solver import Move, RedispatchResult
    f = Feed()
    v = vehicle(f, "v", active=True)
    w = vehicle(f, "w", active=True)
    a = order(f, "a", pt(0.05, 0.0), T0, T0 + 4 * 3600)
    b = order(f, "b", pt(0.08, 0.0), T0, T0 + 5 * 3600)
    m = order(f, "m", pt(-0.05, 0.0), T0, T0 + 3 * 3600)
    put_on(w, [a, b])
    put_on(v, [m])
    eng = engine([v, w], [a, b, m], EngineSettings())
    res = RedispatchResult("move", {"v": [], "w": [("m", DELIVERY), ("a", DELIVERY),
                                                   ("b", DELIVERY)]},
                           [Move("m", "w", 5.0, [], [])], 5.0, 1.0, "moved", [], [])
    out: list = []
    moved, _note = eng.response.decide_redispatch(v, res, T0, ["e1"], out)
    assert moved == ["m"]
    d = out[0][1]
    assert d["kind"] == "redispatch"
    assert [s["order_id"] for s in d["routes"]["w"]] == ["a", "m", "b"]
    assert d["explanation"]["reasons"][0]["head_kept"] == 1
    assert d["explanation"]["summary"].endswith("; w's next stop kept first")


def test_the_insertion_redispatch_keeps_the_destinations_head_too() -> None:
    """The baseline redispatch (no routing config: cheapest insertion) puts the moved
    order after the destination's frozen head as well, and says so."""
    f = Feed()
    v1 = vehicle(f, "v1")                       # at the depot: its parcels can still move
    v2 = vehicle(f, "v2")                       # at the depot too, a planned first stop
    ahead = order(f, "a", pt(0.02, 0.0), T0, T0 + 6 * 3600)
    first = order(f, "o1", pt(0.15, 0.15), T0, T0 + 6 * 3600)
    risky = order(f, "o2", pt(0.01, 0.0), T0, T0 + 2 * 3600)    # on the way to a
    put_on(v1, [first, risky])
    put_on(v2, [ahead])
    eng = engine([v1, v2], [ahead, first, risky], EngineSettings(redispatch_min_gain_s=60.0),
                 strategy=InsertionStrategy())
    out: list = []
    moved, _note = eng.response.redispatch(v1, ["o2"], T0, ["e1"], out)
    assert moved == ["o2"]
    d = out[0][1]
    assert [s["order_id"] for s in d["routes"]["v2"]] == ["a", "o2"]
    assert d["explanation"]["reasons"][0]["head_kept"] == 1
    assert d["explanation"]["summary"] == "Move o2 from v1 to v2; v2's next stop kept first"
