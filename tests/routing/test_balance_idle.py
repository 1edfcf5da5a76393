"""No captive driver idle while orders wait (docs/routing.md, "Workload balance"): an
idle vehicle is near nothing but its own position, so among an order's nearest
candidates it would never be offered work in a busy zone; the nearest idle vehicles are
always candidates, and with the balance weight the idle driver takes the order."""

from __future__ import annotations

import sys
from pathlib import Path

from fleetstream.operators.zone.assignment import IDLE_CANDIDATES

from fleetstream.contract.settings import EngineSettings

sys.path.insert(0, str(Path(__file__).parents[1] / "operators" / "zone"))
from zone_scene import T0, Feed, engine, order, pt, put_on, vehicle  # noqa: E402


def _zone(weight: float):
    """Four busy vans whose routes pass by the new order, one idle van 2 km away; all
    on a 10-hour shift started 4 hours ago."""
    f = Feed()
    start = {"ts": T0 - 4 * 3600, "hours": 10.0}
    busy, orders = [], []
    for i in range(4):
        v = vehicle(f, f"busy{i}", active=True, pos=pt(0.020, 0.001 * i), **start)
        mine = [order(f, f"b{i}{k}", pt(0.020 + 0.001 * k, 0.001 * i), T0, T0 + 8 * 3600,
                      kind="on_demand", pickup=pt(0.020, 0.001 * i)) for k in range(6)]
        put_on(v, mine)
        busy.append(v)
        orders += mine
    idle = vehicle(f, "idle", active=True, pos=pt(0.0, 0.0), **start)
    new = order(f, "new", pt(0.021, 0.0015), T0, T0 + 4 * 3600, kind="on_demand",
                pickup=pt(0.0205, 0.001))
    s = EngineSettings(max_insert_candidates=2, balance_weight=weight, plan_solve_allowance_s=0)
    return engine(busy + [idle], orders + [new], s), new


def test_the_idle_vehicle_is_always_a_candidate() -> None:
    eng, new = _zone(60.0)
    ids = [v.id for v in eng.assignment.candidates(new, T0 + 60)]
    assert len(ids) == 2 + 1 and ids[-1] == "idle" and IDLE_CANDIDATES >= 1


def test_with_the_weight_the_idle_driver_takes_the_order() -> None:
    chosen = {}
    for w in (0.0, 60.0):
        eng, _new = _zone(w)
        out: list = []
        eng.assignment.assign_pending(T0 + 60, ["e"], out)
        dec = [r for t, r in out if t == "fs.decisions" and "new" in r["order_ids"]]
        chosen[w] = next(iter(dec[0]["routes"]))
    assert chosen[0.0].startswith("busy")   # the cheapest detour: a busy van passing by
    assert chosen[60.0] == "idle"
