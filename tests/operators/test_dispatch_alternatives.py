"""Assign decisions made by insertion list the options each insertion costed
(``explanation.alternatives``: ``AssignAlternative``, docs/governance.md, "Costed
alternatives"): other feasible vehicles with their cost and the difference to the
chosen one, vehicles a constraint ruled out with the constraint, ``leave_unassigned``
when no other vehicle was feasible; capped, in a deterministic order; the chosen
insertion is the cheapest."""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
import pytest

from fleetstream.contract.settings import EngineSettings
from fleetstream.operators.dispatch import (ALTERNATIVES_MAX, InsertionStrategy, costed_alternatives,
                                            route_timing)

sys.path.insert(0, str(Path(__file__).parent / "zone"))
from zone_scene import T0, Feed, engine, order, pt, vehicle  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = EngineSettings(routing_plan_solutions=40, plan_solve_allowance_s=0)


def _check_entry(a: dict) -> None:
    """What every AssignAlternative must satisfy."""
    assert len([x for x in a["options"] if x["option"] == "vehicle"]) <= ALTERNATIVES_MAX
    priced = [x for x in a["options"] if "cost" in x]
    ruled = [x for x in a["options"] if "constraint" in x]
    # feasible first (cheapest first, then vehicle id), then ruled out, then leave_unassigned
    assert a["options"][:len(priced)] == priced
    assert a["options"][len(priced):len(priced) + len(ruled)] == ruled
    assert [(x["cost"], x["vehicle"]) for x in priced] == sorted((x["cost"], x["vehicle"])
                                                                 for x in priced)
    for x in priced:
        assert x["cost_delta"] >= 0 and x["cost"] >= a["cost"]
        assert abs(x["cost_delta"] - (x["cost"] - a["cost"])) <= 0.011
    assert a["vehicle"] not in [x.get("vehicle") for x in a["options"]]
    assert len(priced) == min(a["feasible"] - 1, ALTERNATIVES_MAX)
    leave = [x for x in a["options"] if x["option"] == "leave_unassigned"]
    assert leave == ([{"option": "leave_unassigned"}] if a["feasible"] == 1 else [])
    assert a["options"][len(a["options"]) - len(leave):] == leave


def test_an_insertion_decision_lists_what_it_costed() -> None:
    f = Feed()
    vs = [vehicle(f, f"v{i}", active=True, pos=pt(0.002 * i, 0.0)) for i in range(1, 6)]
    short = vehicle(f, "v9", active=True, pos=pt(0.001, 0.0), hours=0.05)  # ends in 3 min
    o = order(f, "o1", pt(0.003, 0.001), T0, T0 + 7200, kind="on_demand", pickup=pt(0.002, 0.002))
    eng = engine(vs + [short], [o], SETTINGS)
    # the costs are the insertion's own: compute them first, on the same state
    travel = eng.world.travel
    cands = eng.assignment.candidates(o, T0 + 60)
    ins, rej = InsertionStrategy().insert(o, cands, eng.state.orders, T0 + 60, travel.tt,
                                          travel.dist, None, eng.assignment.balance(T0 + 60))
    out: list = []
    eng.assignment.assign_pending(T0 + 60, ["e"], out)
    dec = [r for t, r in out if t == "fs.decisions"]
    assert len(dec) == 1 and dec[0]["kind"] == "assign"
    alts = dec[0]["explanation"]["alternatives"]
    assert [a["order_id"] for a in alts] == ["o1"]
    a = alts[0]
    assert a["vehicle"] == next(iter(dec[0]["routes"]))
    assert (a["feasible"], a["ruled_out"]) == (5, 1)
    _check_entry(a)
    assert len(a["options"]) == ALTERNATIVES_MAX  # 4 other feasible vans: capped at 3
    assert ins.vehicle_id == a["vehicle"] and round(ins.cost, 2) == a["cost"]
    assert min(i.cost for i in rej.costed) == ins.cost
    assert rej.rejected == [("v9", "time_window")]
    assert costed_alternatives(ins, rej) == a
    # with room for every option, the ruled-out van comes after the feasible ones
    full = costed_alternatives(ins, rej, limit=10)
    assert [x["vehicle"] for x in full["options"]][-1] == "v9"
    assert full["options"][-1] == {"option": "vehicle", "vehicle": "v9", "constraint": "time_window"}


def test_a_single_feasible_vehicle_lists_leaving_the_order_unassigned() -> None:
    f = Feed()
    ok = vehicle(f, "v1", active=True, pos=pt(0.002, 0.0))
    short = vehicle(f, "v2", active=True, pos=pt(0.001, 0.0), hours=0.05)
    o = order(f, "o1", pt(0.003, 0.001), T0, T0 + 7200, kind="on_demand", pickup=pt(0.002, 0.002))
    eng = engine([ok, short], [o], SETTINGS)
    out: list = []
    eng.assignment.assign_pending(T0 + 60, ["e"], out)
    a = [r for t, r in out if t == "fs.decisions"][0]["explanation"]["alternatives"][0]
    assert a == {"order_id": "o1", "vehicle": "v1", "cost": a["cost"], "feasible": 1,
                 "ruled_out": 1, "options": [
                     {"option": "vehicle", "vehicle": "v2", "constraint": "time_window"},
                     {"option": "leave_unassigned"}]}


def test_route_timing_is_not_needed_for_the_alternatives() -> None:
    """The timings the sweep passes in give the same costs as computing them afresh."""
    f = Feed()
    vs = [vehicle(f, f"v{i}", active=True, pos=pt(0.003 * i, 0.001)) for i in range(1, 4)]
    o = order(f, "o1", pt(0.004, 0.0), T0, T0 + 7200, kind="on_demand", pickup=pt(0.003, 0.0))
    eng = engine(vs, [o], SETTINGS)
    travel = eng.world.travel
    timings = {v.id: route_timing(v, v.route, eng.state.orders, v.pos, T0, travel.tt)
               for v in vs}
    s = InsertionStrategy()
    a1 = costed_alternatives(*s.insert(o, vs, eng.state.orders, T0, travel.tt, travel.dist,
                                       timings))
    a2 = costed_alternatives(*s.insert(o, vs, eng.state.orders, T0, travel.tt, travel.dist))
    assert a1 == a2 and a1["feasible"] == 3


@pytest.mark.slow
def test_every_insertion_on_small_lists_its_costed_alternatives(tmp_path) -> None:
    """A replay of replay_data/small: every order of every assign decision made by
    insertion has its entry; with more than one feasible vehicle at least one costed
    alternative; costs consistent (the chosen vehicle is the cheapest)."""
    from fleetstream.replay import run_replay
    run_replay(str(ROOT / "replay_data" / "small"), str(tmp_path), EngineSettings())
    with open(tmp_path / "fs.decisions.jsonl", "rb") as fh:
        decs = [orjson.loads(x) for x in fh if x.strip()]
    # the sweep's insertions (a re-attempt on the van carrying the parcel has one
    # candidate, ``candidates_per_order`` 1: nothing else was costed)
    ins = [d for d in decs if d["kind"] == "assign" and d["explanation"]["reasons"][0]["rule"]
           == "cheapest_feasible_insertion"
           and d["explanation"]["reasons"][0]["candidates_per_order"] > 1]
    assert len(ins) >= 20
    multi = 0
    for d in ins:
        alts = d["explanation"]["alternatives"]
        assert [a["order_id"] for a in alts] == d["order_ids"], d["decision_id"]
        (vid,) = d["routes"]
        for a in alts:
            assert a["vehicle"] == vid
            _check_entry(a)
            if a["feasible"] > 1:
                multi += 1
                assert any("cost" in x for x in a["options"]), d["decision_id"]
    assert multi >= 10
    plans = [d for d in decs if d["kind"] == "assign"
             and d["explanation"]["reasons"][0]["rule"] == "shift_start_plan"]
    assert plans and all("alternatives" not in d["explanation"] for d in plans)
