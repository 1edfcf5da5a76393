"""The same door's guard bin (``eta-*-10``): legs shorter than ``SAME_DOOR_KM`` (the
vehicle's last position within GPS noise of its next stop) are answered by a guard bin
of their own once it has seen ``GUARD_MIN_N`` of them, so a first length bin that
chose the model on short drives does not answer the same-building legs where the
provider is better (docs/roads.md, "A second city")."""

from __future__ import annotations

import random

from fleetstream.models import eta as eta_mod
from fleetstream.models.eta import GUARD_MIN_N, SAME_DOOR_KM, RiverEta


def _leg(dist_km: float, hour: float = 10.0) -> dict:
    prov = max(30.0, dist_km * 3600.0 / 40.0)
    return {"dist_km": dist_km, "provider_s": prov, "hour": hour, "dow": 2, "zone": "Z",
            "vehicle_type": "van", "fleet_type": "captive", "driver_pace": 1.0,
            "condition_factor": 1.0, "stops_ahead": 0, "speed_kmh": 30.0, "dest": "apartment"}


def _day(m: RiverEta, rng: random.Random, n: int, door_share: float) -> tuple[float, float]:
    """Legs of a dense centre: short drives of 25-50 m that take a new place to stop
    (about three times the provider's floor), and same-building legs of 1-15 m that
    take 20 s (a few: a new place to stop next door).  Returns the seat's and the
    provider's absolute error (s) on the same-building legs, progressive."""
    seat = prov = 0.0
    for _ in range(n):
        if rng.random() < door_share:
            x = _leg(rng.uniform(0.001, 0.015))
            true = 20.0 if rng.random() < 0.8 else 30.0 * rng.uniform(2.0, 4.0)
            seat += abs(m.predict_ratio(x) * x["provider_s"] - true)
            prov += abs(x["provider_s"] - true)
        else:
            x = _leg(rng.uniform(0.025, 0.05))
            true = x["provider_s"] * rng.uniform(2.5, 3.5)
        m.learn(x, true / x["provider_s"])
    return seat, prov


def test_same_building_legs_get_their_own_answer(monkeypatch):
    for seed in range(5):
        seat, prov = _day(RiverEta(), random.Random(seed), 600, 0.3)
        assert seat <= 1.1 * prov, (seed, seat, prov)   # the first few door legs: the first bin
        monkeypatch.setattr(eta_mod, "DOOR_GUARD", False)   # the seat of eta-*-9
        seat9, prov9 = _day(RiverEta(), random.Random(seed), 600, 0.3)
        monkeypatch.setattr(eta_mod, "DOOR_GUARD", True)
        assert prov9 == prov and seat9 > 2.0 * prov, (seed, seat9, prov)


def test_the_first_bin_answers_until_the_door_bin_has_its_legs():
    m = RiverEta()
    rng = random.Random(3)
    for _ in range(50):                       # short drives only: the first bin learns
        x = _leg(rng.uniform(0.025, 0.05))
        m.learn(x, 3.0)
    door = _leg(0.005)
    first = m.guard[0]
    assert m.guard_door[2] == 0.0 and m.answer(door) == min(
        (first[0], 0, "model"), (first[3], 1, "line"), (first[1], 2, "provider"))[2]
    for k in range(int(GUARD_MIN_N) + 1):     # same-building legs at 20 s: the provider's 30 s is nearer
        m.learn(_leg(0.005), 20.0 / 30.0)
    assert m.guard_door[2] >= GUARD_MIN_N
    assert m.answer(door) in ("line", "provider") and m.predict_ratio(door) == 1.0   # the line is the provider under LINE_MIN_KM
    assert m.answer(_leg(0.04)) != "provider"            # the short drives keep theirs
    assert m.answer(_leg(SAME_DOOR_KM)) == m.answer(_leg(0.04))   # the edge is not the door


def test_an_eta_9_snapshot_restores_with_an_empty_door_bin():
    m = RiverEta()
    rng = random.Random(4)
    for _ in range(40):
        m.learn(_leg(rng.uniform(0.001, 0.5)), 2.0)
    del m.guard_door
    m.version = "eta-linear-9"
    back = RiverEta.restore(m.snapshot())
    assert back.version == "eta-linear-10" and back.guard_door == [0.0, 0.0, 0.0, 0.0]
    assert back.guard == m.guard
    x = _leg(0.005)
    assert back.predict_ratio(x) == m.predict_ratio(x)     # the first bin answers, as before
