"""Governance that behaves (docs/governance.md): rejections remembered until a material
change, approvals valid unless the touched routes changed, unanswered proposals
escalate then fall back, ``off`` decides once per order per situation, and
``propose``/``off`` never silence a late risk."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "zone"))

from fleetstream.operators.state import ASSIGNED, DELIVERED, PENDING, PROPOSED
from fleetstream.operators.zone.records import Explanation
from zone_scene import T0, Feed, engine, order, pt, put_on, vehicle

from fleetstream.contract.settings import EngineSettings

SETTINGS = dict(routing_plan=False, proposal_ttl_s=600.0, plan_settle_s=0.0,
                solver_workers=0)


def _zone(**kw):
    f = Feed()
    v1 = vehicle(f, "v1", active=True)
    o1 = order(f, "o1", pt(0.01, 0.0), T0, T0 + 4 * 3600, kind="on_demand",
               pickup=pt(0.002, 0.0))
    eng = engine([v1], [o1], EngineSettings(**{**SETTINGS, **kw}))
    return f, eng


def _sweep(eng, now: float) -> list:
    out: list = []
    eng.sweep(now, [f"e-sweep-{int(now - T0)}"], out)
    return out


def _decisions(out: list, status: str | None = None) -> list[dict]:
    return [r for t, r in out if t == "fs.decisions" and status in (None, r["status"])]


def _alerts(out: list, kind: str) -> list[dict]:
    return [r for t, r in out if t == "fs.alerts" and r["kind"] == kind]


def _reject(f: Feed, eng, did: str, ts: float, reason: str | None = "customer asked for v9"):
    kw = {"reason": reason} if reason is not None else {}
    return eng.process(f.ev("approval", ts, decision_id=did, zone="Z", approved=False,
                            by="ops1", **kw))


def test_a_rejection_is_remembered_with_its_reason_and_not_proposed_again() -> None:
    f, eng = _zone(autonomy_assign="propose")
    did = _decisions(_sweep(eng, T0 + 60), "proposed")[0]["decision_id"]
    rej = _decisions(_reject(f, eng, did, T0 + 90), "rejected")[0]
    assert rej["explanation"]["summary"] == "Proposal rejected by ops1: customer asked for v9"
    assert eng.orders["o1"].status == PENDING
    # Sweeps every minute for 20 min: nothing material changed, no new proposal.
    for k in range(2, 22):
        assert _decisions(_sweep(eng, T0 + 60 * k)) == []
    assert eng.stats["decisions_held"] >= 20
    # A vehicle starts its shift: a material change, the order is proposed again.
    f2 = Feed()
    eng.state.vehicles["v2"] = vehicle(f2, "v2", active=True, pos=pt(0.011, 0.0))
    again = _decisions(_sweep(eng, T0 + 60 * 23), "proposed")
    assert [d["order_ids"] for d in again] == [["o1"]]
    assert eng.stats["holds_released_fleet"] == 1


def test_a_held_order_comes_back_when_its_window_end_approaches_or_the_hold_times_out() -> None:
    f, eng = _zone(autonomy_assign="propose", rejection_hold_s=3 * 3600.0)
    did = _decisions(_sweep(eng, T0 + 60), "proposed")[0]["decision_id"]
    _reject(f, eng, did, T0 + 60, reason=None)
    # Slack at rejection: 4 h - 60 s; it halves at about T0 + 2 h.
    assert _decisions(_sweep(eng, T0 + 7000)) == []
    assert _decisions(_sweep(eng, T0 + 7300), "proposed")
    assert eng.stats["holds_released_urgency"] == 1
    f, eng = _zone(autonomy_assign="propose", rejection_hold_s=600.0)
    did = _decisions(_sweep(eng, T0 + 60), "proposed")[0]["decision_id"]
    _reject(f, eng, did, T0 + 60)
    assert _decisions(_sweep(eng, T0 + 600)) == []
    assert _decisions(_sweep(eng, T0 + 660), "proposed")
    assert eng.stats["holds_released_time_out"] == 1


def test_an_approval_survives_deliveries_on_the_route() -> None:
    f = Feed()
    v1 = vehicle(f, "v1", active=True)
    o1 = order(f, "o1", pt(0.01, 0.0), T0, T0 + 4 * 3600)
    o2 = order(f, "o2", pt(0.005, 0.0), T0, T0 + 4 * 3600)
    put_on(v1, [o2])
    eng = engine([v1], [o1, o2], EngineSettings(**SETTINGS, autonomy_assign="propose"))
    out: list = []
    eng.governance.decide(out, "assign", T0, ["o1"], {"v1": [("o2", "delivery"), ("o1", "delivery")]},
                          ["e-t"], Explanation("o1 to v1", reasons=[{"rule": "r"}]))
    did = out[0][1]["decision_id"]
    # o2 is delivered meanwhile: the route changed only by a stop served.
    o2.status = DELIVERED
    v1.route = []
    v1.route_version += 1
    res = eng.process(f.ev("approval", T0 + 120, decision_id=did, zone="Z", approved=True, by="ops1"))
    d = _decisions(res)[0]
    assert (d["status"], d["refers_to"]) == ("applied", did)
    assert [s["order_id"] for s in d["routes"]["v1"]] == ["o1"]
    assert v1.route == [("o1", "delivery")] and eng.orders["o1"].status == ASSIGNED


def test_nobody_answering_with_fallback_apply_still_assigns_every_order() -> None:
    f, eng = _zone(autonomy_assign="propose")
    assert EngineSettings().proposal_fallback == "apply"
    out = _sweep(eng, T0 + 60)
    did = _decisions(out, "proposed")[0]["decision_id"]
    proposed = 1
    for k in range(2, 30):
        out = _sweep(eng, T0 + 60 * k)
        proposed += len(_decisions(out, "proposed"))
        if _alerts(out, "proposal_unanswered"):
            a = _alerts(out, "proposal_unanswered")[0]
            assert a["details"] == {"decision_id": did, "decision_kind": "assign",
                                    "waited_s": 600.0, "fallback": "apply"}
            d = _decisions(out, "applied")[0]
            assert d["refers_to"] == did
            assert d["explanation"]["approved_by"] == "engine (proposal_fallback=apply)"
    assert proposed == 1
    assert eng.orders["o1"].status == ASSIGNED and eng.vehicles["v1"].route


def test_fallback_keep_alerts_once_and_keeps_the_proposal_open() -> None:
    f, eng = _zone(autonomy_assign="propose", proposal_fallback="keep")
    did = _decisions(_sweep(eng, T0 + 60), "proposed")[0]["decision_id"]
    alerts = decisions = 0
    for k in range(2, 60):
        out = _sweep(eng, T0 + 60 * k)
        alerts += len(_alerts(out, "proposal_unanswered"))
        decisions += len(_decisions(out))
    assert (alerts, decisions) == (1, 0)
    assert eng.orders["o1"].status == PROPOSED and did in eng.state.proposals
    res = eng.process(f.ev("approval", T0 + 3700, decision_id=did, zone="Z", approved=True, by="o"))
    assert _decisions(res, "applied") and eng.orders["o1"].status == ASSIGNED


def test_off_decides_once_per_order_per_situation() -> None:
    f, eng = _zone(autonomy_assign="off")
    n = sum(len(_decisions(_sweep(eng, T0 + 60 * k), "alert_only")) for k in range(1, 40))
    assert n == 1
    assert eng.orders["o1"].status == PENDING


def _late_risk_decision(eng, autonomy: str) -> list:
    v1 = eng.vehicles["v1"]
    o1 = eng.orders["o1"]
    put_on(v1, [o1])
    v1.etas = [T0 + 5 * 3600]
    out: list = []
    eng.governance.decide(out, "reroute", T0 + 60, ["o1"], {"v1": [("o1", "delivery")]}, ["e-ping"],
                          Explanation("re-sequence", reasons=[{"rule": "late_risk", "orders": ["o1"],
                                                               "threshold": 0.6}]))
    return out


def test_propose_and_off_never_silence_a_late_risk() -> None:
    for autonomy in ("propose", "off"):
        f, eng = _zone(autonomy_reroute=autonomy)
        out = _late_risk_decision(eng, autonomy)
        alerts = _alerts(out, "late_risk")
        assert len(alerts) == 1 and alerts[0]["order_ids"] == ["o1"]
        notes = [r for t, r in out if t == "fs.notifications"]
        assert [n["kind"] for n in notes] == ["window_at_risk"]
    f, eng = _zone()
    out = _late_risk_decision(eng, "auto")   # applied: the response alerts what stays late
    assert not _alerts(out, "late_risk")


def test_the_memory_is_in_the_snapshot() -> None:
    from fleetstream.operators.zone.engine import ZoneEngine
    f, eng = _zone(autonomy_assign="propose")
    did = _decisions(_sweep(eng, T0 + 60), "proposed")[0]["decision_id"]
    _reject(f, eng, did, T0 + 90)
    eng2 = ZoneEngine.restore(eng.snapshot(), eng.settings)
    assert _decisions(_sweep(eng2, T0 + 180)) == []


def test_every_decision_names_its_root_cause_besides_the_trigger() -> None:
    f, eng = _zone()
    (d,) = _decisions(_sweep(eng, T0 + 60), "applied")
    o1 = eng.orders["o1"]
    assert d["trigger_event_ids"] == ["e-sweep-60"]
    assert d["explanation"]["root_causes"] == [
        {"type": "order_created", "event_id": o1.event_id, "order_id": "o1"}]
    # A late risk on a route crossing an incident names the incident.
    f, eng = _zone(autonomy_reroute="propose")
    c = f.ev("condition", T0, zone="Z", kind="incident", factor=2.0,
             start_ts=T0, end_ts=T0 + 7200,
             area={"lat": pt(0.01, 0.0)[0], "lon": pt(0.01, 0.0)[1], "radius_m": 500.0})
    eng.process(c)
    out = _late_risk_decision(eng, "propose")
    (d,) = _decisions(out, "proposed")
    assert d["explanation"]["root_causes"] == [
        {"type": "condition", "event_id": c.event_id, "kind": "incident"}]
    # A redispatch by insertion after a breakdown names the vehicle_unavailable event.
    out = []
    eng.governance.decide(out, "redispatch", T0 + 90, ["o1"], {"v1": [("o1", "delivery")]},
                          ["e-broke"], Explanation("o1 re-homed", reasons=[
                              {"rule": "cheapest_feasible_insertion"}]))
    assert out[0][1]["explanation"]["root_causes"][0] == {"type": "vehicle_unavailable",
                                                          "event_id": "e-broke"}


def test_a_held_parcel_comes_back_when_a_vehicle_leaves_the_depot() -> None:
    f = Feed()
    v1, v2 = vehicle(f, "v1"), vehicle(f, "v2")            # both at the depot
    o1 = order(f, "o1", pt(0.01, 0.0), T0, T0 + 8 * 3600)   # a parcel, loaded at the depot
    eng = engine([v1, v2], [o1], EngineSettings(**SETTINGS, autonomy_assign="propose"))
    did = _decisions(_sweep(eng, T0 + 60), "proposed")[0]["decision_id"]
    _reject(f, eng, did, T0 + 90)
    assert _decisions(_sweep(eng, T0 + 180)) == []
    v2.status = "active"                                     # v2 departs: fewer can load it
    assert _decisions(_sweep(eng, T0 + 240), "proposed")
    assert eng.stats["holds_released_departure"] == 1
