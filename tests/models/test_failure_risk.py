"""Failure risk that can be learnt (issue 9 item 5).

- the simulator's availability is learnable: its true probability ranks attempts
  well (hidden-truth AUC), and a simple model on what the customer_profile
  publishes (building type, stated hours) and the hour beats 0.5 by a margin on
  customers it never saw;
- the engine's failure-risk features come from event data only (customer record,
  planned arrival, timezone setting) and its model learns them online;
- everything is deterministic.
"""

from __future__ import annotations

import math
import random
import sys
from pathlib import Path

import orjson
import pytest
from fleetstream.models.availability import local_hour_dow, note_outcome, risk_context
from fleetstream.models.features import failure_features
from fleetstream.models.risk import RiverRisk

from fleetstream.contract.events import decode_event
from fleetstream.sim import availability
from fleetstream.sim.world import DAY0, Scenario, World

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from failure_risk import roc_auc


def _attempts(seed: int, n_days: int = 1) -> list[tuple[dict, float, bool]]:
    """(customer_profile fields, attempt ts, failed) for every order of the small world:
    an attempt at a random time of its window, failed with the simulator's own p_fail."""
    rng = random.Random(seed)
    out = []
    for day in range(n_days):
        w = World(Scenario(**{**Scenario.preset("small", seed).__dict__, "day": day}))
        for o in w.orders:
            ts = rng.uniform(o.window[0], min(o.window[1], w.day0 + 16 * 3600))
            c = o.customer
            prof = {"customer_id": c.id, **c.avail.profile(),
                    "access_instructions": c.access_instructions}
            out.append((prof, ts, c.avail.p_fail(ts), rng.random() < c.avail.p_fail(ts)))
    return out


def test_hidden_truth_ranks_failures():
    """The simulator's true probability separates failed from successful attempts
    (AUC >= 0.8 on each of three seeds): failures are predictable by design."""
    for seed in (1, 2, 3):
        att = _attempts(seed)
        auc = roc_auc([p for _, _, p, _ in att], [y for *_, y in att])
        assert auc >= 0.8, (seed, auc)
        rate = sum(y for *_, y in att) / len(att)
        assert 0.05 < rate < 0.3, rate


def test_published_profile_is_learnable_on_unseen_customers():
    """Failure rates per (building, stated-hours inside/outside/none, 2-hour band),
    counted on half of the customers, rank the other half's attempts far better
    than chance: the availability follows patterns a real operation can see."""
    att = _attempts(4) + _attempts(5)

    def key(prof, ts):
        x = risk_context({"building_type": prof.get("building_type"),
                          "available_hours": prof.get("available_hours", [])}, ts, "UTC")
        return (x["building"], x.get("stated_in", -1), int(x["arr_hour"]) // 2)

    train = [a for a in att if int(a[0]["customer_id"][-1]) % 2 == 0]
    test = [a for a in att if int(a[0]["customer_id"][-1]) % 2 == 1]
    counts: dict = {}
    for prof, ts, _, y in train:
        c = counts.setdefault(key(prof, ts), [1.0, 6.0])   # prior: ~1 in 6 fails
        c[0] += y
        c[1] += 1
    rates = {k: c[0] / c[1] for k, c in counts.items()}
    scores = [rates.get(key(prof, ts), 1.0 / 6.0) for prof, ts, _, _ in test]
    auc = roc_auc(scores, [y for *_, y in test])
    assert auc >= 0.62, auc


def test_profile_publishes_no_latent_schedule():
    """The profile fields are the building type and stated hours only; they parse as
    a customer_profile event; the household and its absent blocks are not in them."""
    w = World(Scenario.preset("tiny"))
    seen_stated = 0
    for c in w.customers:
        prof = c.avail.profile()
        assert set(prof) <= {"building_type", "available_hours"}
        seen_stated += "available_hours" in prof
        ev = decode_event(orjson.dumps({"v": 1, "type": "customer_profile", "event_id": "e1",
                                        "ts": DAY0, "customer_id": c.id, "zone": c.zone,
                                        "language": "en", **prof}))
        assert ev.building_type == prof["building_type"]
    assert seen_stated > len(w.customers) // 3
    with pytest.raises(ValueError, match="building_type"):
        decode_event(orjson.dumps({"v": 1, "type": "customer_profile", "event_id": "e1", "ts": DAY0,
                                   "customer_id": "C1", "zone": "Z1", "language": "en",
                                   "building_type": "castle"}))


def test_schedule_is_deterministic_and_its_own_stream():
    """The same seed and customer give the same schedule; another seed another one."""
    a = availability.draw(7, "CZ1-00001", None, False)
    b = availability.draw(7, "CZ1-00001", None, False)
    assert a == b
    assert [a.p_home(DAY0 + h * 3600) for h in range(24)] == \
        [b.p_home(DAY0 + h * 3600) for h in range(24)]
    others = {availability.draw(s, "CZ1-00001", None, False).truth()["absent_blocks"][0][0]
              for s in range(8) if availability.draw(s, "CZ1-00001", None, False).absent}
    assert len(others) > 1


def test_risk_context_reads_only_the_record_and_the_clock():
    """Local hour (timezone setting), day of week, stated hours and recent outcomes
    near the hour, from a customer record as the engine keeps it."""
    ts = DAY0 + 9.5 * 3600                       # Monday 09:30 UTC
    assert local_hour_dow(ts, "Europe/Berlin") == (10.5, 0)
    c = {"building_type": "shop", "available_hours": ["10:00-13:00", "15:00-19:00"]}
    x = risk_context(c, ts, "UTC")
    assert (x["building"], x["stated_in"], x["stated_out_h"], x["dow"]) == ("shop", 0, 0.5, 0)
    assert risk_context(c, ts, "Europe/Berlin")["stated_in"] == 1
    note_outcome(c, ts - 86400, "UTC", True, "not_home")
    note_outcome(c, ts - 86400, "UTC", True, "access")      # not an availability signal
    note_outcome(c, ts - 86400 + 5 * 3600, "UTC", False, None)
    x = risk_context(c, ts, "UTC")
    assert x["nh_near"] == pytest.approx(0.5 ** (1 / 14), abs=1e-3)
    assert x["ok_near"] == 0.0
    f = failure_features(x | {"cust_failures": 2, "cust_deliveries": 1})
    assert f["stated_out"] == 1.0 and f["nh_near"] > 0 and f["b_shop"] == 1.0
    assert "stated_out" not in failure_features(risk_context({}, ts, "UTC"))


def _captured(seed: int, days: int) -> list[tuple[dict, bool]]:
    """What the engine would capture for each attempt (customer record from the
    published profile and the outcomes so far), in time order over ``days`` days."""
    rows = []
    records: dict = {}
    for prof, ts, _, y in sorted(_attempts(seed, days), key=lambda a: a[1]):
        c = records.setdefault(prof["customer_id"], {
            "building_type": prof.get("building_type"),
            "available_hours": prof.get("available_hours", []),
            "access_instructions": prof.get("access_instructions")})
        x = {"cust_failures": c.get("failures", 0), "cust_deliveries": c.get("deliveries", 0),
             "access_difficulty_known": 1 if c.get("access_instructions") else 0,
             "kind": "parcel", "priority": 0, **risk_context(c, ts, "UTC")}
        rows.append((x, y))
        c["failures" if y else "deliveries"] = c.get("failures" if y else "deliveries", 0) + 1
        note_outcome(c, ts, "UTC", y, "not_home" if y else None)
    return rows


def test_engine_model_learns_failure_risk_online():
    """The engine's failure-risk seat, scored before it learns each label
    (progressive validation) over three simulated days, ranks the third day's
    attempts well (above what customer history and the hour alone give); the same
    stream gives the same probabilities."""
    rows = _captured(6, 3)
    split = len(rows) * 2 // 3

    def run():
        m = RiverRisk("failure")
        ps = []
        for x, y in rows:
            ps.append(m.predict_proba(x))
            m.learn(x, y)
        return ps

    ps = run()
    auc = roc_auc(ps[split:], [y for _, y in rows[split:]])
    assert auc >= 0.77, auc   # 0.80; the history-and-hour features of before: 0.73
    assert ps == run()
    assert all(math.isfinite(p) and 0 < p < 1 for p in ps)


def test_a_later_day_has_the_same_customers_and_its_own_orders():
    """Scenario(day=N): the same zones and customers (schedules follow the weekday),
    a new fleet and new orders; day 0 is the one-day world and its manifest fields."""
    sc = Scenario.preset("small")
    w0, w1 = World(sc), World(Scenario(**{**sc.__dict__, "day": 1}))
    assert [c.id for c in w0.customers] == [c.id for c in w1.customers]
    assert [c.avail for c in w0.customers] == [c.avail for c in w1.customers]
    assert w1.day0 == w0.day0 + 86400
    assert [o.window for o in w0.orders] != [o.window for o in w1.orders]
    assert all(w1.day0 <= o.window[0] < w1.day0 + 86400 for o in w1.orders)
    assert "day" not in sc.fields() and Scenario(**{**sc.__dict__, "day": 2}).fields()["day"] == 2
    sat = [c.avail.p_home(DAY0 + 5 * 86400 + 11 * 3600) for c in w0.customers
           if c.avail.building == "office"]
    assert sat and max(sat) < 0.5   # offices are closed on Saturday


def test_contact_ahead_in_the_simulator():
    """A failure_risk alert is a contact ahead: with contact_reply the simulated
    customer replies (a customer_reply input event, from its own day) and may arrange
    for the delivery (fewer not-home failures for that order); without it (the
    default) alerts change nothing and nothing is drawn."""
    from fleetstream.sim.loop import Simulation
    sc = Scenario.preset("tiny")
    off = Simulation(sc, engine=None)
    assert off.sc.contact_reply == 0.0
    on = Simulation(Scenario(**{**sc.__dict__, "contact_reply": 1.0}), engine=None)
    alert = {"kind": "failure_risk", "order_ids": ["OZ1-00001", "OZ1-00002"]}
    on._contact_ahead(alert)
    on._contact_ahead({"kind": "late_risk", "order_ids": ["OZ1-00003"]})
    assert set(on.arranged) <= {"OZ1-00001", "OZ1-00002"} == on.contacted
    replies = [orjson.loads(t[3][2]) for t in on.heap if t[2] == on._deliver
               and b"customer_reply" in t[3][2]]
    assert sorted(r["order_id"] for r in replies) == ["OZ1-00001", "OZ1-00002"]
    for r in replies:
        assert r["answer"] in ("confirmed", "unavailable") and r["ts"] > 0
        # confirmed, or hours given: the customer arranged for it (from those hours)
        assert (r["order_id"] in on.arranged) == (r["answer"] == "confirmed"
                                                   or "available_from" in r)
    assert availability.after_contact(0.3) == pytest.approx(0.825)
    assert availability.after_contact(0.98) > 0.98
    assert "contact_reply" not in sc.fields()
