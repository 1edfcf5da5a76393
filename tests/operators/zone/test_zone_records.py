"""Records: typed decisions and explanations give the published dicts, keys in order."""

from __future__ import annotations

from fleetstream.contract.outputs import OUTPUT_SCHEMA_VERSION
from fleetstream.operators.zone.records import Decision, Emitter, Explanation
from fleetstream.operators.zone.state import ZoneState
from zone_scene import T0, Feed, order


def test_decision_record_keys_and_values() -> None:
    e = Explanation("s", reasons=[{"rule": "r"}], alternatives=[], gain=1.5, change_cost=4.0,
                    expected_effect={"km": 1.0}, strategy="x")
    d = Decision("D-Z-1-1", 100.04, "Z", "redispatch", "applied", "auto", ["o1"], {"v1": []},
                 ["e1"], {"eta": {"version": "a", "n": 0}}, e)
    rec = d.to_record()
    assert list(rec) == ["decision_id", "ts", "v", "zone", "kind", "status", "autonomy", "order_ids",
                         "routes", "trigger_event_ids", "models", "explanation"]
    assert rec["ts"] == 100.0 and rec["v"] == OUTPUT_SCHEMA_VERSION
    # An empty list is published; unset fields are not.
    assert list(rec["explanation"]) == ["summary", "reasons", "alternatives", "gain", "change_cost",
                                        "expected_effect", "strategy"]
    d.refers_to = "D-Z-0-1"
    assert list(d.to_record())[-1] == "refers_to"
    assert Explanation.from_record(e.to_record()) == e


def test_emitter_numbers_records_across_topics() -> None:
    st = ZoneState("Z")
    em = Emitter(st)
    o = order(Feed(), "o1", (52.5, 13.4), T0, T0 + 3600)
    out: list = []
    em.alert(out, T0, "drift", "warning", "m", None, [], {}, ["e1"])
    em.notify(out, T0 + 1, o, "eta_changed", T0 + 600, T0 + 900)
    ev = Feed().ev("order_delivered", T0 + 2, order_id="o1", vehicle_id="v1")
    em.outcome(out, ev, o, "v1", "delivered", None)
    ids = [r[k] for (_, r), k in zip(out, ("alert_id", "notification_id", "outcome_id"))]
    assert ids == [f"A-Z-{int(T0)}-1", f"N-Z-{int(T0) + 1}-2", f"O-Z-{int(T0) + 2}-3"]
    assert "vehicle_id" not in out[0][1] and out[2][1]["vehicle_id"] == "v1"
    assert "reason" not in out[2][1]
    assert st.stats == {"alerts_drift": 1, "notifications_eta_changed": 1}
