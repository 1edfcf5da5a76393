"""The workload balance counts the orders a driver already finished today
(docs/routing.md, "Workload balance"): finished orders leave the zone state, so the
zone keeps a per-vehicle count (``ZoneState.done``) that survives a snapshot and is
reset by a new shift."""

from __future__ import annotations

import sys
from pathlib import Path

from fleetstream.contract.settings import EngineSettings
from fleetstream.operators.zone.engine import ZoneEngine

sys.path.insert(0, str(Path(__file__).parents[1] / "operators" / "zone"))
from zone_scene import T0, Feed, engine, order, pt, put_on, vehicle  # noqa: E402

N_DONE = 12


def _zone(weight: float) -> tuple[ZoneEngine, Feed]:
    """Two active vans side by side, 3 hours into a 10-hour shift, both with empty
    routes; ``worked`` (a little nearer the new order) has delivered ``N_DONE`` orders
    today, ``fresh`` none.  Then a new on-demand order
    arrives next to them."""
    f = Feed()
    start = {"ts": T0 - 3 * 3600, "hours": 10.0}
    worked = vehicle(f, "worked", active=True, pos=pt(0.010, 0.0), **start)
    fresh = vehicle(f, "fresh", active=True, pos=pt(0.008, 0.0), **start)
    mine = [order(f, f"w{k:02d}", pt(0.010, 0.0005 * k), T0 - 3 * 3600, T0 + 5 * 3600)
            for k in range(N_DONE)]
    put_on(worked, mine)
    s = EngineSettings(balance_weight=weight, plan_solve_allowance_s=0)
    eng = engine([worked, fresh], mine, s)
    out: list = []
    for k, o in enumerate(mine):
        eng.lifecycle.on_order_delivered(
            f.ev("order_delivered", T0 - 3600 + 60 * k, order_id=o.id, vehicle_id="worked"), out)
    new = order(f, "new", pt(0.0115, 0.0), T0, T0 + 4 * 3600, kind="on_demand",
                pickup=pt(0.0105, 0.0))
    eng.state.orders[new.id] = new
    eng.state.customers.setdefault(new.customer_id, {"language": "en"})
    return eng, f


def _chosen(eng: ZoneEngine) -> str:
    out: list = []
    eng.assignment.assign_pending(T0 + 60, ["e"], out)
    dec = [r for t, r in out if t == "fs.decisions" and "new" in r["order_ids"]]
    return next(iter(dec[0]["routes"]))


def test_done_orders_are_counted_per_vehicle_and_shift() -> None:
    eng, _f = _zone(60.0)
    st = eng.state
    assert "w00" not in st.orders   # finished orders left the state...
    assert st.done == {"worked": [T0 - 3 * 3600, N_DONE]}   # ...but are counted
    bal = eng.assignment.balance(T0 + 60)
    assert bal.orders_of("worked") == N_DONE and bal.orders_of("fresh") == 0
    # a count from an earlier shift is not read
    st.done["worked"][0] -= 86400
    assert eng.assignment.balance(T0 + 60).orders_of("worked") == 0


def test_the_driver_who_did_less_today_takes_the_order() -> None:
    unbalanced, _ = _zone(0.0)
    assert _chosen(unbalanced) == "worked"   # nearest: plain cheapest insertion
    balanced, _ = _zone(60.0)
    assert _chosen(balanced) == "fresh"


def test_done_counts_survive_snapshot_and_restore() -> None:
    eng, _f = _zone(60.0)
    blob = eng.snapshot()
    again = ZoneEngine.restore(blob, eng.settings)
    assert again.state.done == eng.state.done
    assert again.snapshot() == blob
    assert _chosen(again) == "fresh"
