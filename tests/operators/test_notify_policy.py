"""Customer messages people can trust (docs/notifications.md): local time with the
zone's time zone, quiet hours, a per-customer cap with coalescing, no silent
contradiction, the interval's real upper bound, and a message to every customer whose
order will not be served."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "zone"))

from zone_scene import T0, Feed, engine, order, pt, vehicle

from fleetstream.contract.settings import EngineSettings

# T0 = 2026-03-02 08:00 UTC = 09:00 CET in Berlin.


def _zone(**kw):
    f = Feed()
    v1 = vehicle(f, "v1", active=True)
    o1 = order(f, "o1", pt(0.01, 0.0), T0, T0 + 4 * 3600)
    o2 = order(f, "o2", pt(0.02, 0.0), T0, T0 + 4 * 3600, customer="co1")   # same customer
    eng = engine([v1], [o1, o2], EngineSettings(solver_workers=0, **kw))
    return eng


def _say(eng, now, oid="o1", kind="eta_changed", eta=None, hi80=None) -> list[dict]:
    out: list = []
    o = eng.orders[oid]
    eta = eta if eta is not None else now + 3600
    eng.emit.notify(out, now, o, kind, eta, hi80 if hi80 is not None else eta + 600)
    return [r for t, r in out if t == "fs.notifications"]


def test_times_are_local_with_the_zone_marker() -> None:
    eng = _zone(timezone="Europe/Berlin")
    (n,) = _say(eng, T0, eta=T0 + 3600)
    assert n["message"] == "Update for delivery o1: now expected around 10:00 CET."
    (n,) = _say(_zone(), T0, eta=T0 + 3600)
    assert n["message"].endswith("around 09:00 UTC.")


def test_quiet_hours_hold_the_update_until_they_end() -> None:
    eng = _zone(timezone="Europe/Berlin", notify_quiet_hours="08:00-09:30")
    assert _say(eng, T0, eta=T0 + 3600) == []                 # 09:00 local: quiet
    assert eng.stats["notifications_held_quiet"] == 1
    out: list = []
    eng.governance.expire_proposals(T0 + 1200, ["e-s"], out)   # 09:20: still quiet
    assert out == []
    eng.governance.expire_proposals(T0 + 1800, ["e-s"], out)   # 09:30: sent
    (n,) = [r for t, r in out if t == "fs.notifications"]
    assert (n["order_id"], n["eta"], n["ts"]) == ("o1", T0 + 3600, T0 + 1800)


def test_one_update_per_customer_per_interval_unless_the_time_moves_a_lot() -> None:
    eng = _zone(notify_customer_max_per_day=5)   # (the cap is not what this is about)
    sent = []
    for k in range(6):   # every 10 min, the ETA moves 5 min: coalesced into the first
        sent += _say(eng, T0 + 600 * k, eta=T0 + 3600 + 300 * k)
    assert len(sent) == 1
    assert eng.stats["notifications_coalesced"] == 5
    # The other order of the same customer within the hour: coalesced as well.
    assert _say(eng, T0 + 3000, oid="o2", eta=T0 + 7200) == []
    # A move beyond notify_window_change_s (30 min) goes out at once.
    (n,) = _say(eng, T0 + 3300, eta=T0 + 3600 + 3000)
    assert "later than the 09:00 UTC in our last message" in n["message"]


def test_at_most_the_daily_cap_of_messages_keeping_one_per_open_order_for_not_served() -> None:
    """The customer has two open orders: of a cap of 3, one update goes out and two
    slots are kept; when both orders are not served, the customer got 3 messages
    (before: 2 updates + 2 finals = 4, up to 5 per customer on metro)."""
    eng = _zone(notify_customer_max_per_day=3)
    sent = []
    for k in range(8):    # each a big move, hourly
        sent += _say(eng, T0 + 3600 * k, eta=T0 + 3600 * k + (3600 if k % 2 else 600))
    assert len(sent) == 1 and eng.stats["notifications_capped"] == 7
    out: list = []
    eng.retention.expire_orders(T0 + 4 * 3600 + eng.limits.order_grace_s + 1, ["e-x"], out)
    finals = [r for t, r in out if t == "fs.notifications"]
    assert [r["kind"] for r in finals] == ["order_not_served"] * 2   # always sent
    assert len(sent) + len(finals) == 3


def test_a_customer_with_one_open_order_keeps_one_slot() -> None:
    eng = _zone(notify_customer_max_per_day=3)
    eng.orders.pop("o2")   # delivered: one open order left
    sent = []
    for k in range(8):
        sent += _say(eng, T0 + 3600 * k, eta=T0 + 3600 * k + (3600 if k % 2 else 600))
    assert len(sent) == 2


def test_a_message_contradicting_the_last_says_why() -> None:
    eng = _zone(notify_customer_interval_s=0.0, notify_customer_max_per_day=5)
    (a,) = _say(eng, T0, kind="window_at_risk", eta=T0 + 4 * 3600 + 900, hi80=T0 + 5 * 3600)
    (b,) = _say(eng, T0 + 600, kind="eta_changed", eta=T0 + 3 * 3600)
    assert "earlier than the 12:15 UTC in our last message, because the route was re-planned" \
        in b["message"]


def test_an_at_risk_message_carries_the_interval_bound_not_the_eta() -> None:
    eng = _zone()
    o = eng.orders["o1"]
    o.pub_eta, o.pub_hi = T0 + 3000, T0 + 3900           # the last published interval
    (n,) = _say(eng, T0, kind="window_at_risk", eta=T0 + 5 * 3600, hi80=T0 + 5 * 3600)
    assert n["hi80"] == T0 + 5 * 3600 + 900
    assert "between 13:00 and 13:15 UTC" in n["message"]


def test_every_customer_whose_order_will_not_be_served_is_told_why() -> None:
    eng = _zone(notify_customer_max_per_day=1)
    _say(eng, T0)                                          # the cap is used up
    out: list = []
    now = T0 + 4 * 3600 + eng.limits.order_grace_s + 1
    eng.retention.expire_orders(now, ["e-x"], out)
    notes = sorted((r["order_id"], r["kind"], r["message"]) for t, r in out
                   if t == "fs.notifications")
    assert [n[:2] for n in notes] == [("o1", "order_not_served"), ("o2", "order_not_served")]
    assert "no vehicle could reach you within the window" in notes[0][2]


def test_as_many_open_orders_as_the_cap_get_only_final_messages() -> None:
    eng = _zone(notify_customer_max_per_day=2)   # the customer has two open orders
    assert _say(eng, T0) == [] and eng.stats["notifications_capped"] == 1
    out: list = []
    eng.retention.expire_orders(T0 + 4 * 3600 + eng.limits.order_grace_s + 1, ["e-x"], out)
    assert [r["kind"] for t, r in out if t == "fs.notifications"] == ["order_not_served"] * 2
