"""Governance: propose, approve, reject, expire (by time and by a stale route)."""

from __future__ import annotations

from fleetstream.contract.settings import EngineSettings
from fleetstream.operators.state import ASSIGNED, PENDING, PROPOSED
from fleetstream.operators.zone.records import Explanation
from zone_scene import T0, Feed, engine, order, pt, vehicle

ROUTE = [("o1", "delivery")]


def _proposed():
    f = Feed()
    eng = engine([vehicle(f, "v1")], [order(f, "o1", pt(0.01, 0.0), T0, T0 + 7200)],
                 EngineSettings(autonomy_assign="propose", proposal_ttl_s=600.0))
    out: list = []
    eng.governance.decide(out, "assign", T0, ["o1"], {"v1": ROUTE}, ["e-trigger"],
                          Explanation("o1 to v1", reasons=[{"rule": "r"}], strategy="s"))
    assert len(out) == 1
    did = out[0][1]["decision_id"]
    return f, eng, did, out[0][1]


def _approval(f: Feed, did: str, ok: bool, ts: float = T0 + 60):
    return f.ev("approval", ts, decision_id=did, zone="Z", approved=ok, by="ops1")


def test_a_proposal_waits_and_leaves_routes_alone() -> None:
    f, eng, did, rec = _proposed()
    assert (rec["status"], rec["autonomy"], rec["kind"]) == ("proposed", "propose", "assign")
    assert rec["routes"]["v1"][0]["order_id"] == "o1"
    assert set(eng.state.proposals) == {did}
    assert eng.orders["o1"].status == PROPOSED
    assert eng.vehicles["v1"].route == []
    assert eng.state.in_proposal("v1") and not eng.state.in_proposal("v2")


def test_approval_applies_the_proposal() -> None:
    f, eng, did, _ = _proposed()
    out = eng.process(_approval(f, did, True))
    decisions = [r for t, r in out if t == "fs.decisions"]
    assert len(decisions) == 1
    d = decisions[0]
    assert (d["status"], d["refers_to"]) == ("applied", did)
    assert d["trigger_event_ids"] == [f"e{f.n}", "e-trigger"]
    assert list(d["explanation"]) == ["summary", "reasons", "strategy", "approved_by",
                                      "root_causes"]
    assert d["explanation"]["approved_by"] == "ops1"
    assert eng.vehicles["v1"].route == ROUTE
    assert (eng.orders["o1"].status, eng.orders["o1"].vehicle_id) == (ASSIGNED, "v1")
    assert eng.governance.open_proposals() == []


def test_rejection_puts_the_order_back_in_the_pool() -> None:
    f, eng, did, _ = _proposed()
    out = eng.process(_approval(f, did, False))
    d = [r for t, r in out if t == "fs.decisions"][0]
    assert (d["status"], d["refers_to"], d["routes"]) == ("rejected", did, {})
    assert d["explanation"] == {"summary": "Proposal rejected by ops1"}
    assert eng.orders["o1"].status == PENDING and eng.vehicles["v1"].route == []
    assert eng.governance.open_proposals() == []


def test_a_proposal_without_answer_escalates_then_falls_back() -> None:
    """(docs/governance.md) At proposal_ttl_s: an alert, then the default fallback
    (apply) applies the still-valid proposal."""
    f, eng, did, _ = _proposed()
    out: list = []
    eng.governance.expire_proposals(T0 + 599, ["e-sweep"], out)
    assert out == [] and did in eng.state.proposals
    eng.governance.expire_proposals(T0 + 600, ["e-sweep"], out)
    (ta, a), (td, d) = out
    assert (ta, a["kind"], a["details"]["decision_id"]) == ("fs.alerts", "proposal_unanswered", did)
    assert (d["status"], d["refers_to"], d["trigger_event_ids"]) == ("applied", did, ["e-sweep", "e-trigger"])
    assert eng.orders["o1"].status == ASSIGNED and eng.governance.open_proposals() == []
    # An answer after that is unknown.
    late = eng.process(_approval(f, did, True, T0 + 700))
    assert not [r for t, r in late if r.get("refers_to") == did]
    assert eng.stats["approvals_unknown"] == 1


def test_approval_of_a_proposal_whose_vehicle_changed_expires_it() -> None:
    f, eng, did, _ = _proposed()
    o2 = order(f, "o2", pt(0.02, 0.0), T0, T0 + 7200)
    eng.state.orders["o2"] = o2
    eng.vehicles["v1"].route = [("o2", "delivery")]   # another decision changed the route
    eng.vehicles["v1"].route_version += 1
    out = eng.process(_approval(f, did, True))
    d = [r for t, r in out if t == "fs.decisions"][0]
    assert d["status"] == "expired" and "v1 changed since" in d["explanation"]["summary"]
    # the expired decision meets the producer (strict) schema of fs.decisions
    import jsonschema
    from fleetstream.schemas import strict_schemas
    jsonschema.validate(d, strict_schemas()["fs.decisions"])
    assert eng.vehicles["v1"].route == [("o2", "delivery")] and eng.orders["o1"].status == PENDING


def test_approval_onto_a_route_locked_since_expires_it() -> None:
    """A dispatcher locked the vehicle's route after the proposal: approving it later
    must not change the locked route (docs/governance.md, manual overrides)."""
    f, eng, did, _ = _proposed()
    route = list(eng.vehicles["v1"].route)
    eng.state.locked.add("v1")
    out = eng.process(_approval(f, did, True))
    d = [r for t, r in out if t == "fs.decisions"][0]
    assert d["status"] == "expired" and "v1" in d["explanation"]["summary"]
    assert eng.vehicles["v1"].route == route and eng.orders["o1"].status == PENDING


def test_expected_effect_of_a_route_change() -> None:
    f = Feed()
    v = vehicle(f, "v1")
    far = order(f, "o1", pt(0.05, 0.05), T0, T0 + 7200)
    eng = engine([v], [far])
    eff = eng.governance.effect({"v1": []}, {"v1": [("o1", "delivery")]}, T0, ["o1"])
    assert list(eff) == ["lateness_min", "km", "cost", "p_on_time"]
    assert eff["km"] > 0 and eff["cost"] > 0 and 0.0 <= eff["p_on_time"] <= 1.0
