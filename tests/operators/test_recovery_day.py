"""Zero silent stranded orders on a disrupted simulated day (docs/routing.md, "Recovery
of work"): breakdowns and failed attempts in closed loop; every order ends with exactly
one terminal outcome record, every customer not served got a message with a reason,
and the world acted on the recovery decisions (a rescuing van collected a load, a
driver re-attempted a failed delivery)."""

from __future__ import annotations

import pytest

from fleetstream.engine import LocalEngine
from fleetstream.sim.audit import audit
from fleetstream.sim.loop import Simulation
from fleetstream.sim.world import Scenario

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def day():
    # The tiny day with three breakdowns (the scenario knob) among its four vans.
    sc = Scenario(**{**Scenario.preset("tiny", 3).__dict__, "breakdowns": 3})
    sim = Simulation(sc, LocalEngine())
    sim.run()
    return sim, audit(sim)


def test_every_order_ends_with_exactly_one_terminal_outcome(day):
    _sim, a = day
    assert a["silent"] == 0, a["examples"]["silent"]
    assert a["multiple_terminal"] == 0, a["examples"]["double"]
    assert sum(a["outcomes"].values()) == a["orders"]


def test_every_customer_not_served_was_told_why(day):
    sim, a = day
    assert a["untold"] == 0, a["examples"]["untold"]
    told = [r for t, _k, r in sim.outputs
            if t == "fs.notifications" and r["kind"] == "order_not_served"]
    assert told and all(": " in r["message"] for r in told)


def test_failed_retryable_attempts_are_re_attempted_or_explained(day):
    _sim, a = day
    assert a["retryable_failed"] > 0
    assert a["neither"] == 0
    assert a["re_attempted"] > 0, "the driver re-attempted a failed delivery"


def test_the_world_acted_on_a_hand_over(day):
    sim, a = day
    handovers = [r for t, _k, r in sim.outputs if t == "fs.decisions"
                 and r["kind"] == "redispatch" and any(
                     rc["type"] in ("vehicle_unavailable", "shift_end")
                     for rc in r["explanation"].get("root_causes", ()))
                 and any(s["stop"] == "pickup" for st in r["routes"].values() for s in st)]
    assert handovers, "the engine planned a hand-over"
    assert a["handed_over"] > 0, "a rescuing van collected a load from a van out of service"
