"""The ETA seat's fixed time per destination (``eta-*-7``): a leg ends with finding a
place to stop, which takes longer at an apartment block than at a house; the length
line carries a fixed time per destination kind (``x["dest"]``), fitted with its slope
and intercept and shrunk to 0, and legs without a destination fit the line of
``eta-*-6``."""

from __future__ import annotations

import math
import random

from fleetstream.models.eta import DEST_PRIOR_N, RiverEta

PARK_S = {"house": 20.0, "apartment": 110.0, "office": 80.0, "pickup": 60.0}


def _leg(dist_km: float, dest: str | None) -> dict:
    x = {"dist_km": dist_km, "provider_s": max(30.0, dist_km * 3600.0 / 40.0), "hour": 10.0,
         "dow": 2, "zone": "Z", "vehicle_type": "van", "fleet_type": "captive",
         "driver_pace": 1.0, "condition_factor": 1.0, "stops_ahead": 0, "speed_kmh": 30.0}
    if dest is not None:
        x["dest"] = dest
    return x


def _truth(rng: random.Random, x: dict, dest: str) -> float:
    """30 s pulling out, 0.8 of the provider's driving, the destination's parking (legs of
    0.8 km or more: ratios under the seat's clip of 4)."""
    return (30.0 + 0.8 * x["provider_s"] + PARK_S[dest]) * math.exp(rng.gauss(0, 0.05)) / x["provider_s"]


def _day(seed: int, n: int) -> list[tuple[str, float]]:
    rng = random.Random(seed)
    return [(rng.choice(sorted(PARK_S)), rng.uniform(0.8, 6.0)) for _ in range(n)]


def _learn(m: RiverEta, legs: list[tuple[str, float]], seed: int, with_dest: bool) -> None:
    rng = random.Random(seed)
    for dest, d in legs:
        x = _leg(d, dest if with_dest else None)
        m.learn(x, _truth(rng, x, dest))


def test_the_line_learns_each_destinations_fixed_time():
    m = RiverEta()
    _learn(m, _day(1, 1500), 2, True)
    off = m.dest_offsets()
    # the differences between kinds are the parking's (90 s apartment - house, ...)
    for a, b in (("apartment", "house"), ("office", "house"), ("apartment", "pickup")):
        assert abs((off[a] - off[b]) - (PARK_S[a] - PARK_S[b])) < 15.0, (a, b, off)
    # and each kind's line is the truth's within 6 % at 2-4 km (the line's
    # own prior, m = 1, pulls its slope a little towards the provider's)
    for dest in PARK_S:
        for km in (2.0, 4.0):
            x = _leg(km, dest)
            want = (30.0 + 0.8 * x["provider_s"] + PARK_S[dest]) / x["provider_s"]
            assert abs(m.line_ratio(x) / want - 1.0) < 0.06, (dest, km, m.line_ratio(x), want)
    # the answer follows: the same 1 km leg takes longer to an apartment than to a house
    assert m.line_ratio(_leg(1.0, "apartment")) > m.line_ratio(_leg(1.0, "house")) + 0.5
    # a kind never seen takes the line's own fixed time
    assert m.line_ratio(_leg(1.0, "castle")) == m.line_ratio(_leg(1.0, None))
    info = m.metrics()
    assert info["dest_s_apartment"] == round(off["apartment"], 1)


def test_knowing_the_destination_beats_the_line_alone_on_fresh_legs():
    with_dest, without = RiverEta(), RiverEta()
    _learn(with_dest, _day(3, 1200), 4, True)
    _learn(without, _day(3, 1200), 4, False)
    rng = random.Random(5)
    e_with = e_without = 0.0
    for dest, d in _day(6, 600):
        x = _leg(d, dest)
        r = _truth(rng, x, dest)
        e_with += abs(r - with_dest.line_ratio(x)) * x["provider_s"]
        e_without += abs(r - without.line_ratio(_leg(d, None))) * x["provider_s"]
    assert e_with < 0.7 * e_without, (e_with, e_without)


def test_legs_without_a_destination_fit_the_line_of_eta_6():
    """A seat fed no ``dest`` (a provider's trips with no stop data, an older engine)
    has no offsets, and its line is the eta-*-6 least squares of the same legs."""
    m = RiverEta()
    _learn(m, _day(7, 800), 8, False)
    assert m.dest_offsets() == {}
    n, sp, spp, st, spt = m.line
    from fleetstream.models.eta import LINE_PRIOR_N, LINE_PRIOR_S
    lm = LINE_PRIOR_N * LINE_PRIOR_S * LINE_PRIOR_S
    a11, a12, a22, b1, b2 = spp + lm, sp, n + LINE_PRIOR_N, spt + lm, st
    det = a11 * a22 - a12 * a12
    want = ((b1 * a22 - a12 * b2) / det, (a11 * b2 - a12 * b1) / det)
    assert all(abs(a - b) < 1e-9 for a, b in zip(m.length_line(), want))


def test_a_few_legs_of_a_kind_move_its_offset_only_part_of_the_way():
    m = RiverEta()
    _learn(m, [(d, km) for d, km in _day(9, 800) if d == "house"], 10, True)
    rng = random.Random(11)
    for _ in range(2):
        x = _leg(2.0, "apartment")
        m.learn(x, _truth(rng, x, "apartment"))
    off = m.dest_offsets()["apartment"]
    # two legs against DEST_PRIOR_N pseudo-legs at 0: under half of the 90 s difference
    assert 0.0 < off < 90.0 * 2 / (2 + DEST_PRIOR_N) + 15.0


def test_an_eta_6_snapshot_restores_with_its_line_and_no_offsets():
    m = RiverEta()
    _learn(m, _day(12, 400), 13, False)
    line = m.length_line()
    del m.line_dest, m._line_fit
    m.version = "eta-linear-6"
    back = RiverEta.restore(m.snapshot())
    assert back.version == "eta-linear-10"
    assert back.length_line() == line and back.dest_offsets() == {}
    _learn(back, _day(14, 50), 15, True)             # and it learns destinations on
    assert set(back.dest_offsets()) <= set(PARK_S) and back.dest_offsets()


def test_the_seat_replays_exactly_from_its_snapshot():
    a = RiverEta()
    _learn(a, _day(16, 300), 17, True)
    b = RiverEta.restore(a.snapshot())
    _learn(a, _day(18, 100), 19, True)
    _learn(b, _day(18, 100), 19, True)
    assert a.snapshot() == b.snapshot()
    x = _leg(1.3, "office")
    assert a.predict_ratio(x) == b.predict_ratio(x)
