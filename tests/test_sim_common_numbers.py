"""Common random numbers: two engines on one seed face the same luck at the same door
(fleetstream/sim/loop.py ``Simulation.stream``; docs/simulator.md)."""

from __future__ import annotations

from fleetstream.contract.settings import EngineSettings
from fleetstream.engine import LocalEngine
from fleetstream.sim.loop import Simulation
from fleetstream.sim.world import Scenario

SCENARIO = "small"      # about 300 attempts a day: enough doors to tell


def _sim(seed: int = 5, engine=None) -> Simulation:
    return Simulation(Scenario.preset(SCENARIO, seed), engine)


def test_a_stream_depends_on_its_key_only():
    """The same key draws the same numbers whatever the day's shared stream did
    before; another key, kind or seed draws others."""
    a, b = _sim(), _sim()
    for _ in range(1000):
        b.rng.random()                       # b's shared stream is far ahead
    sa, sb = a.stream("door", "o1", 0), b.stream("door", "o1", 0)
    assert [sa.random() for _ in range(3)] == [sb.random() for _ in range(3)]
    assert a.stream("door", "o1", 0).random() != a.stream("door", "o1", 1).random()
    assert a.stream("door", "o1", 0).random() != a.stream("reply", "o1", 0).random()
    assert a.stream("door", "o1", 0).random() != _sim(6).stream("door", "o1", 0).random()


def _attempts(sim: Simulation) -> dict[tuple[str, int], dict]:
    """(order, attempt number) -> the truth record of that attempt."""
    out: dict[tuple[str, int], dict] = {}
    n: dict[str, int] = {}
    for a in sim.truth_attempts:
        k = n.get(a["order_id"], 0)
        n[a["order_id"]] = k + 1
        out[(a["order_id"], k)] = a
    return out


def test_two_engines_meet_the_same_luck_at_the_same_door():
    """The same seed under two engines that decide differently: the days diverge (other
    routes, other arrival times), yet an order's n-th attempt has the same access
    outcome (its probability is the customer's, whatever the hour), and the same
    answer at the door wherever the chance someone is in is the same.  With one
    shared stream about 4 % of the doors answered at 98 % would
    disagree (about 8 of the 200-odd here)."""
    a = _sim(engine=LocalEngine(EngineSettings()))
    b = _sim(engine=LocalEngine(EngineSettings(autonomy_reroute="off", autonomy_redispatch="off")))
    a.run()
    b.run()
    ta, tb = _attempts(a), _attempts(b)
    both = sorted(set(ta) & set(tb))
    assert len(both) > 250
    assert a.outputs != b.outputs
    moved = [k for k in both if ta[k]["ts"] != tb[k]["ts"]]
    assert len(moved) > len(both) // 2, "the two engines should time the doors differently"
    assert all(ta[k]["access_ok"] == tb[k]["access_ok"] for k in both)
    same_chance = [k for k in both if ta[k]["p_fail"] == tb[k]["p_fail"]]
    assert len(same_chance) > 200     # one shared stream: about 8 of them would disagree
    assert [k for k in same_chance if ta[k]["home"] != tb[k]["home"]] == []
