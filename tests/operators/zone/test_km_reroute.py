"""The late-risk re-route with a km price (``RoutingConfig.km_surcharge``, issue #9),
through the zone engine's risk response: a re-sequence that saves a few seconds of
lateness by driving further is not decided, one that saves minutes is; without a km
price any lateness saved decides it, as before."""

from __future__ import annotations

from types import SimpleNamespace

from fleetstream.operators.dispatch import route_timing
from fleetstream.operators.routing.engine_adapter import RoutingConfig
from fleetstream.operators.state import DELIVERY
from zone_scene import T0, Feed, engine, order, pt, put_on, vehicle


class Swap:
    """A routing seat whose re-sequencing search answers ``seq`` (the km-costly one)."""

    name = "swap-1"

    def __init__(self, cfg: RoutingConfig, seq: list):
        self.config, self.seq = cfg, seq

    def reroute_result(self, *a, **k):
        return SimpleNamespace(changed=True, sequence=list(self.seq), method="local")

    def redispatch(self, *a, **k):
        return None


def scene(cfg: RoutingConfig, late_by_s: float) -> tuple[list, object]:
    """A vehicle driving north along a line: o1 then o2 300 m further, its end beyond.
    o2 is planned ``late_by_s`` late; o2 first saves o1's service time (120 s) at
    +600 m of straight line (back to o1, then on to the end)."""
    f = Feed()
    v = vehicle(f, "v1", active=True)
    v.end = pt(0.03, 0.0)
    o1 = order(f, "o1", pt(0.010, 0.0), T0 - 3600, T0 + 6 * 3600)
    o2 = order(f, "o2", pt(0.0127, 0.0), T0 - 3600, T0 + 6 * 3600)
    put_on(v, [o1, o2])
    eng = engine([v], [o1, o2], strategy=Swap(cfg, [("o2", DELIVERY), ("o1", DELIVERY)]))
    tm = route_timing(v, v.route, eng.state.orders, v.pos, T0, eng.world.travel.tt)
    o2.window_end = tm.start[1] - late_by_s
    out: list = []
    eng.response.handle_risk(v, ["o2"], T0, ["e1"], out)
    return [d for t, d in out if t == "fs.decisions"], v


def test_a_km_costly_reroute_for_seconds_of_lateness_is_not_decided() -> None:
    decided, v = scene(RoutingConfig(km_surcharge=1.0), late_by_s=15.0)
    assert decided == []
    assert v.route == [("o1", DELIVERY), ("o2", DELIVERY)]


def test_a_reroute_worth_its_km_is_decided() -> None:
    decided, v = scene(RoutingConfig(km_surcharge=1.0), late_by_s=600.0)
    assert [(d["kind"], d["status"]) for d in decided] == [("reroute", "applied")]
    assert v.route == [("o2", DELIVERY), ("o1", DELIVERY)]


def test_without_a_km_price_any_lateness_saved_decides_as_before() -> None:
    decided, v = scene(RoutingConfig(), late_by_s=15.0)
    assert [(d["kind"], d["status"]) for d in decided] == [("reroute", "applied")]
    assert v.route == [("o2", DELIVERY), ("o1", DELIVERY)]
