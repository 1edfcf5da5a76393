"""Fleet and order lifecycle: stranded orders when a vehicle becomes unavailable,
cancellation removes the stop, a pickup by another vehicle reconciles the plan."""

from __future__ import annotations

from fleetstream.contract.settings import EngineSettings
from fleetstream.operators.state import ASSIGNED, DELIVERY, ONBOARD, PICKUP, UNAVAILABLE
from zone_scene import T0, Feed, engine, order, pt, put_on, vehicle


def test_vehicle_unavailable_strands_what_is_on_board_and_rehomes_the_rest() -> None:
    f = Feed()
    v1 = vehicle(f, "v1", active=True, pos=pt(0.01, 0.0))
    v2 = vehicle(f, "v2", active=True, pos=pt(0.012, 0.002))
    on = order(f, "o1", pt(0.02, 0.0), T0, T0 + 7200)
    od = order(f, "o2", pt(0.015, 0.004), T0, T0 + 7200, kind="on_demand", pickup=pt(0.011, 0.001))
    put_on(v1, [on, od], [("o2", PICKUP), ("o1", DELIVERY), ("o2", DELIVERY)])
    on.status = ONBOARD
    v1.onboard = ["o1"]
    eng = engine([v1, v2], [on, od])
    out = eng.process(f.ev("vehicle_unavailable", T0 + 30, vehicle_id="v1", reason="breakdown"))
    alerts = {r["kind"]: r for t, r in out if t == "fs.alerts"}
    assert alerts["vehicle_unavailable"]["severity"] == "critical"
    assert alerts["vehicle_unavailable"]["order_ids"] == ["o2", "o1", "o2"]
    # What is on board is handed over (recovery of work, operators/zone/recovery.py): a
    # pickup at v1's position on v2; no stranded_orders alert since v2 takes it.
    assert "stranded_orders" not in alerts
    assert v1.status == UNAVAILABLE and v1.route == [] and v1.onboard == []
    assert (on.status, on.vehicle_id) == (ASSIGNED, "v2") and ("o1", PICKUP) in v2.route
    # The on-demand order went back to the pool and the sweep re-homed it on v2.
    decisions = [r for t, r in out if t == "fs.decisions"]
    assert [(d["kind"], d["order_ids"]) for d in decisions] == [("redispatch", ["o1"]),
                                                                 ("redispatch", ["o2"])]
    assert (od.status, od.vehicle_id) == (ASSIGNED, "v2")
    assert ("o2", PICKUP) in v2.route and ("o2", DELIVERY) in v2.route


def test_unknown_vehicle_unavailable_does_nothing() -> None:
    f = Feed()
    eng = engine([vehicle(f, "v1")], [])
    assert eng.process(f.ev("vehicle_unavailable", T0, vehicle_id="vX", reason="x")) == []


def test_cancellation_removes_the_stop_even_under_propose() -> None:
    f = Feed()
    v = vehicle(f, "v1", active=True)
    o1 = order(f, "o1", pt(0.01, 0.0), T0, T0 + 7200)
    o2 = order(f, "o2", pt(0.02, 0.0), T0, T0 + 7200)
    put_on(v, [o1, o2])
    eng = engine([v], [o1, o2], EngineSettings(autonomy_assign="propose"))
    out = eng.process(f.ev("order_cancelled", T0 + 5, order_id="o1", reason="customer"))
    (t1, outcome), (t2, d) = out
    assert (t1, outcome["outcome"], outcome["vehicle_id"], outcome["reason"]) == \
        ("fs.outcomes", "cancelled", "v1", "customer")
    assert (t2, d["kind"], d["status"], d["autonomy"]) == ("fs.decisions", "unassign", "applied", "auto")
    assert [s["order_id"] for s in d["routes"]["v1"]] == ["o2"]
    assert v.route == [("o2", DELIVERY)]
    assert "o1" not in eng.orders
    assert eng.process(f.ev("order_cancelled", T0 + 6, order_id="o1")) == []


def test_a_pickup_by_another_vehicle_reconciles_the_plan() -> None:
    f = Feed()
    v1 = vehicle(f, "v1", active=True, pos=pt(0.01, 0.0))
    v2 = vehicle(f, "v2", active=True, pos=pt(0.0, 0.01))
    od = order(f, "o3", pt(0.02, 0.02), T0, T0 + 7200, kind="on_demand", pickup=pt(0.0, 0.011))
    put_on(v1, [od], [("o3", PICKUP), ("o3", DELIVERY)])
    eng = engine([v1, v2], [od])
    rv1 = v1.route_version
    eng.process(f.ev("order_picked_up", T0 + 10, order_id="o3", vehicle_id="v2"))
    assert v1.route == [] and v1.route_version == rv1 + 1
    assert (od.status, od.vehicle_id) == (ONBOARD, "v2")
    assert v2.onboard == ["o3"] and v2.route == [("o3", DELIVERY)]
    assert v2.leg is not None and v2.leg["to"] == ["o3", DELIVERY]
    assert eng.stats["reconciled_pickups"] == 1


def test_delivery_teaches_the_customer_history_and_forgets_the_order() -> None:
    f = Feed()
    v = vehicle(f, "v1", active=True)
    o1 = order(f, "o1", pt(0.01, 0.0), T0, T0 + 7200)
    o2 = order(f, "o2", pt(0.01, 0.01), T0, T0 + 7200)
    put_on(v, [o1, o2])
    o1.status, v.onboard = ONBOARD, ["o1"]
    eng = engine([v], [o1, o2])
    eng.process(f.ev("stop_arrived", T0 + 100, order_id="o1", vehicle_id="v1"))
    assert v.at_stop == ("o1", DELIVERY) and eng.stats["arrivals"] == 1
    # (refused is final; a not_home attempt is retried: tests/operators/test_recovery.py)
    out = eng.process(f.ev("order_failed", T0 + 200, order_id="o1", vehicle_id="v1", reason="refused"))
    assert [r["outcome"] for t, r in out if t == "fs.outcomes"] == ["failed"]
    assert eng.state.customers["co1"]["failures"] == 1 and eng.state.customers["co1"]["other_failures"] == 1
    assert "o1" not in eng.orders and v.route == [("o2", DELIVERY)] and v.onboard == []
    assert v.at_stop is None and v.leg["to"] == ["o2", DELIVERY]
    assert o2.status == ASSIGNED
