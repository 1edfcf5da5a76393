"""Hard-access stops to drivers who know them (operators/knowledge.py; docs/routing.md,
"Drivers who know the door"): the engine remembers from order events who delivered at
each door; with ``engine.access_knowledge_price`` a new hard-access order goes to a
driver who knows the door unless that costs more than the price, the zone plan moves
such deliveries to knowing drivers on the same rule, and with the price 0 (the
default) nothing changes.  The simulated world's side (drivers who know a door fail
less for access) is tested here too."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest

from fleetstream.contract.settings import EngineSettings
from fleetstream.operators.knowledge import (knowers, order_penalties, relocate_to_knowers,
                                             replace_route)
from fleetstream.operators.state import AT_DEPOT, DELIVERY, ONBOARD, PENDING

sys.path.insert(0, str(Path(__file__).parent / "zone"))
from zone_scene import T0, Feed, engine, order, pt, vehicle  # noqa: E402

HARD = {"language": "en", "access_instructions": "gate code 4711"}
SETTINGS = EngineSettings(routing_plan_solutions=40, plan_solve_allowance_s=0)


def _decisions(out: list) -> list[dict]:
    return [r for t, r in out if t == "fs.decisions"]


# ---------------------------------------------------------------- what the engine learns

def _on_board():
    """V1 (driver dV1) on the road with parcel o1 on board."""
    f = Feed()
    v = vehicle(f, "V1", active=True, pos=pt(0.01, 0.01))
    o = order(f, "o1", pt(0.012, 0.01), T0, T0 + 6 * 3600)
    o.status, o.vehicle_id = ONBOARD, "V1"
    v.onboard, v.route = ["o1"], [("o1", DELIVERY)]
    return f, engine([v], [o], SETTINGS)


@pytest.mark.parametrize("etype,reason,key", [("order_delivered", None, "known_by"),
                                              ("order_failed", "access", "access_failed_by")])
def test_an_ended_attempt_is_remembered_with_its_driver(etype, reason, key) -> None:
    f, eng = _on_board()
    kw = {"reason": reason} if reason else {}
    eng.process(f.ev(etype, T0 + 600, order_id="o1", vehicle_id="V1", **kw))
    c = eng.state.customers["co1"]
    assert c[key] == {"dV1": 1}
    other = "access_failed_by" if key == "known_by" else "known_by"
    assert other not in c


def test_a_not_home_failure_teaches_nothing_about_the_door() -> None:
    f, eng = _on_board()
    eng.process(f.ev("order_failed", T0 + 600, order_id="o1", vehicle_id="V1", reason="not_home"))
    c = eng.state.customers["co1"]
    assert "known_by" not in c and "access_failed_by" not in c


def test_only_hard_access_doors_have_knowers() -> None:
    assert knowers({**HARD, "known_by": {"d1": 1, "d2": 0}}) == frozenset({"d1"})
    assert knowers({"known_by": {"d1": 3}}) == frozenset()          # an easy door
    assert knowers({"access_failures": 1, "known_by": {"d1": 1}}) == frozenset({"d1"})


# ---------------------------------------------------------------- new orders

def _insertion_scene(price: float, known_by: dict | None, busy_v2: bool = False):
    """A new hard-access on-demand order 2 km north of the depot, collected next door;
    V1 (driver dV1) beside it, V2 (dV2) 1.4 km east of it: V2's detour on its way back
    to the depot is about a km.  ``busy_v2``: V2 carries a parcel of its own (so it
    is not an idle candidate)."""
    f = Feed()
    v1 = vehicle(f, "V1", active=True, pos=pt(0.02, 0.001))
    v2 = vehicle(f, "V2", active=True, pos=pt(0.02, 0.02))
    o = order(f, "o1", pt(0.02, 0.0), T0, T0 + 7200, kind="on_demand", pickup=pt(0.0202, 0.0))
    orders = [o]
    if busy_v2:
        p = order(f, "o9", pt(0.019, 0.021), T0, T0 + 7200)
        p.status, p.vehicle_id = ONBOARD, "V2"
        v2.onboard, v2.route = ["o9"], [("o9", DELIVERY)]
        orders.append(p)
    eng = engine([v1, v2], orders, replace(SETTINGS, access_knowledge_price=price))
    c = eng.state.customers["co1"]
    c.update(HARD)
    if known_by is not None:
        c["known_by"] = known_by
    return eng


def _assigned_to(eng) -> tuple[str, dict]:
    out: list = []
    eng.assignment.assign_pending(T0 + 60, ["e"], out)
    (d,) = [d for d in _decisions(out) if d["kind"] == "assign"]
    (vid,) = d["routes"]
    return vid, d


def test_without_the_price_the_cheapest_vehicle_takes_a_hard_access_order() -> None:
    vid, _ = _assigned_to(_insertion_scene(0.0, {"dV2": 2}))
    assert vid == "V1"


def test_with_the_price_the_driver_who_knows_the_door_takes_it_and_says_why() -> None:
    eng = _insertion_scene(30.0, {"dV2": 2})
    vid, d = _assigned_to(eng)
    assert vid == "V2"
    rule = [r for r in d["explanation"]["reasons"] if r["rule"] == "driver_knows_door"]
    assert rule == [{"rule": "driver_knows_door", "order_id": "o1", "driver_id": "dV2",
                     "price": 30.0}]
    assert eng.state.stats["knowledge_insertions"] == 1


def test_a_price_below_the_detour_keeps_the_cheapest_vehicle() -> None:
    vid, _ = _assigned_to(_insertion_scene(0.01, {"dV2": 2}))
    assert vid == "V1"


def test_nobody_knows_the_door_or_an_easy_door_nothing_changes() -> None:
    assert _assigned_to(_insertion_scene(30.0, None))[0] == "V1"
    eng = _insertion_scene(30.0, {"dV2": 2})
    del eng.state.customers["co1"]["access_instructions"]
    assert _assigned_to(eng)[0] == "V1"


def test_a_knowing_driver_outside_the_nearest_candidates_is_costed_too() -> None:
    for price, costed, chosen in ((0.0, [], "V1"), (30.0, ["V2"], "V1"), (100.0, [], "V2")):
        eng = _insertion_scene(price, {"dV2": 2}, busy_v2=True)
        eng.settings = replace(eng.settings, max_insert_candidates=1)
        eng.assignment.settings = eng.settings
        o = eng.state.orders["o1"]
        assert [v.id for v in eng.assignment.candidates(o, T0 + 60)] == ["V1"]
        vid, d = _assigned_to(eng)
        (alt,) = d["explanation"]["alternatives"]
        assert vid == chosen
        assert [x["vehicle"] for x in alt["options"] if "cost" in x] == costed or chosen == "V2"


def test_order_penalties_charge_only_when_a_knower_is_among_the_vehicles() -> None:
    f = Feed()
    v1, v2 = vehicle(f, "V1"), vehicle(f, "V2")
    assert order_penalties(frozenset({"dV2"}), [v1, v2], 5.0) == {"V1": 5.0}
    assert order_penalties(frozenset({"dV9"}), [v1, v2], 5.0) == {}
    assert order_penalties(frozenset({"dV2"}), [v1, v2], 0.0) == {}


# ---------------------------------------------------------------- the zone plan

def _plan_scene():
    f = Feed()
    v1, v2 = vehicle(f, "V1"), vehicle(f, "V2")
    for v in (v1, v2):
        v.status = AT_DEPOT
    orders = {o.id: o for o in (order(f, "o1", pt(0.010, 0.0), T0, T0 + 6 * 3600),
                                order(f, "o2", pt(0.011, 0.0), T0, T0 + 6 * 3600),
                                order(f, "o3", pt(0.010, 0.001), T0, T0 + 6 * 3600))}
    for o in orders.values():
        o.status = PENDING
    eng = engine([v1, v2], list(orders.values()), SETTINGS)
    travel = eng.world.travel
    routes = {"V1": [("o1", DELIVERY), ("o2", DELIVERY)], "V2": [("o3", DELIVERY)]}
    return [v1, v2], orders, travel, routes


def test_the_plan_moves_a_hard_access_delivery_to_the_driver_who_knows_the_door() -> None:
    vs, orders, travel, routes = _plan_scene()
    new, moves = relocate_to_knowers(routes, vs, orders, T0, travel.tt, travel.dist,
                                     {"o2": frozenset({"dV2"})}, 30.0)
    assert [s for s in new["V1"]] == [("o1", DELIVERY)]
    assert sorted(new["V2"]) == [("o2", DELIVERY), ("o3", DELIVERY)]
    (m,) = moves
    assert (m["order_id"], m["moved_from"], m["vehicle_id"], m["driver_id"]) == ("o2", "V1", "V2",
                                                                              "dV2")
    assert m["added_cost"] < 30.0


def test_the_plan_keeps_it_when_the_move_costs_more_than_the_price_or_the_driver_knows() -> None:
    vs, orders, travel, routes = _plan_scene()
    for known, price in (({"o2": frozenset({"dV2"})}, 0.0),
                         ({"o2": frozenset({"dV2"})}, 1e-6),
                         ({"o2": frozenset({"dV1"})}, 30.0),       # its driver knows it
                         ({"o2": frozenset({"dV9"})}, 30.0)):      # no planned driver knows it
        new, moves = relocate_to_knowers(routes, vs, orders, T0, travel.tt, travel.dist,
                                         known, price)
        assert new == routes and moves == []


def test_replace_route_leaves_the_vehicle_alone() -> None:
    f = Feed()
    v = vehicle(f, "V1")
    w = replace_route(v, [("o1", DELIVERY)])
    assert v.route == [] and w.route == [("o1", DELIVERY)] and w.id == "V1"


def test_a_plan_request_carries_the_knowers_only_with_the_price() -> None:
    from fleetstream.operators.zone.solver_requests import PlanRequest
    assert PlanRequest.__dataclass_fields__["knowledge_price"].default == 0.0


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_the_price_is_a_validated_setting(bad: float) -> None:
    with pytest.raises(ValueError):
        EngineSettings(access_knowledge_price=bad)


# ---------------------------------------------------------------- the simulated world

def test_the_world_without_driver_knowledge_is_the_world_before() -> None:
    from fleetstream.sim.loop import Simulation
    from fleetstream.sim.world import Scenario
    sc = Scenario.preset("tiny")
    assert "driver_knowledge" not in sc.fields()
    sim = Simulation(sc, None)
    c = next(c for c in sim.world.customers if c.avail.hard_access)
    assert sim.sc.driver_knowledge is False
    assert sim.driver_knows("D1", c) in (True, False)   # defined, but unused when off


def test_a_driver_who_delivered_at_a_hard_door_knows_it_and_an_easy_door_has_nothing_to_know() -> None:
    from fleetstream.sim import availability
    from fleetstream.sim.loop import Simulation
    from fleetstream.sim.world import Scenario
    sim = Simulation(replace(Scenario.preset("tiny"), driver_knowledge=True), None)
    hard = [c for c in sim.world.customers if c.avail.hard_access]
    easy = next(c for c in sim.world.customers if not c.avail.hard_access)
    assert sim.driver_knows("D-x", easy) is None
    prior = [sim.driver_knows("D-x", c) for c in hard]
    assert prior == [sim.driver_knows("D-x", c) for c in hard]     # its own stream: repeatable
    c = next(c for c, k in zip(hard, prior) if not k)
    sim.known_access.add(("D-x", c.id))
    assert sim.driver_knows("D-x", c) is True
    assert 0.0 < availability.KNOWN_ACCESS_FACTOR < 1.0
    assert 0.0 < availability.PRIOR_KNOWN < 1.0


# ---------------------------------------------------------------- a closed loop

def test_two_days_in_a_world_with_knowing_drivers_give_doors_to_them_in_the_contract() -> None:
    """Two consecutive tiny days (the engine and the world keep what they learnt):
    on day 1 hard-access deliveries go to drivers who delivered there on day 0, and
    every decision record, the new reason included, matches the output schema."""
    import copy

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "contract"))
    from test_real_streams import _check_outputs  # noqa: E402

    from fleetstream.engine import LocalEngine
    from fleetstream.sim.loop import Simulation
    from fleetstream.sim.world import Scenario
    from fleetstream.wiring import build_zone_engine

    es = replace(SETTINGS, access_knowledge_price=30.0)
    carry: dict = {}
    known: set = set()
    for day in (0, 1):
        engines: dict = {}

        def factory(zone, _e=engines):
            eng = build_zone_engine(zone, es)
            eng.state.customers.update(copy.deepcopy(carry.get(zone, {})))
            _e[zone] = eng
            return eng

        sim = Simulation(replace(Scenario.preset("tiny"), day=day, driver_knowledge=True,
                                 parcels_per_zone=80), LocalEngine(es, zone_factory=factory))
        sim.known_access |= known
        sim.run()
        known = set(sim.known_access)
        carry = {z: e.state.customers for z, e in engines.items()}
    decisions = [r for t, _k, r in sim.outputs if t == "fs.decisions"]
    _check_outputs([("fs.decisions", r) for r in decisions])
    knew = [x for d in decisions for x in d["explanation"]["reasons"]
            if x["rule"] == "driver_knows_door"]
    assert knew, "no hard-access delivery went to a knowing driver on day 1"
    hard = [a for a in sim.truth_attempts if "driver_knew" in a]
    assert hard and any(a["driver_knew"] for a in hard)
    stats = {k: sum(e.state.stats.get(k, 0) for e in engines.values())
             for k in ("knowledge_plan_moves", "knowledge_insertions")}
    assert sum(stats.values()) == len(knew)


def test_simulate_records_a_world_with_knowing_drivers_on_request(tmp_path, capsys) -> None:
    import gzip
    import json

    from fleetstream.simulate_cmd import main
    out = tmp_path / "sim"
    assert main(["--scenario", "tiny", "--out", str(out), "-q", "--driver-knowledge"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["scenario"]["driver_knowledge"] is True
    with gzip.open(out / "truth" / "attempts.jsonl.gz", "rt") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    assert any("driver_knew" in r for r in rows)
    capsys.readouterr()


def test_the_failure_risk_knows_whether_the_planned_driver_has_been_through_the_door() -> None:
    from fleetstream.models.risk import RiverRisk
    eng = _insertion_scene(0.0, {"dV2": 1})
    o = eng.state.orders["o1"]
    v1, v2 = eng.state.vehicles["V1"], eng.state.vehicles["V2"]
    x1 = eng.world.risk_x(v1, o, T0 + 1800, 0.0, 1800.0, 0, 8.0)
    x2 = eng.world.risk_x(v2, o, T0 + 1800, 0.0, 1800.0, 0, 8.0)
    assert "driver_knows_door" not in x1 and x2["driver_knows_door"] == 1
    seat = RiverRisk("failure")       # cold: the priors only
    assert seat.predict_proba(x2) < seat.predict_proba(x1)
    del eng.state.customers["co1"]["access_instructions"]     # an easy door: nothing to know
    assert "driver_knows_door" not in eng.world.risk_x(v2, o, T0 + 1800, 0.0, 1800.0, 0, 8.0)
