"""The inflow behind ``xi["inserts"]`` (models/intervals.py ``interval-aci-6``): orders
created while vehicles are on shift, counted for an hour of event time per vehicle on
shift, kept in the zone's snapshot; the forecast passes the work expected between the
end of the frozen head and each arrival to the interval seat."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "zone"))

from zone_scene import T0, Feed, engine, order, pt, put_on, vehicle

from fleetstream.contract.settings import EngineSettings
from fleetstream.operators.zone.engine import ZoneEngine
from fleetstream.operators.zone.state import INFLOW_S, ZoneState


def test_inflow_counts_orders_created_on_shift_per_vehicle_for_an_hour() -> None:
    f = Feed()
    st = ZoneState("Z")
    st.note_inflow(T0 - 600)               # no vehicle on shift: the morning's orders
    assert st.inflow == [] and st.inflow_per_vehicle_h(T0) == 0.0
    st.vehicles["v1"], st.vehicles["v2"] = vehicle(f, "v1"), vehicle(f, "v2", active=True)
    for ts in (T0 + 100, T0 + 50, T0 + 900):   # out of order: kept in time order
        st.note_inflow(ts)
    assert st.inflow == [T0 + 50, T0 + 100, T0 + 900]
    assert st.inflow_per_vehicle_h(T0 + 1000) == 1.5
    assert st.inflow_per_vehicle_h(T0 + 50 + INFLOW_S) == 1.0   # the first is an hour old
    assert st.inflow_per_vehicle_h(T0 + 900 + INFLOW_S) == 0.0
    d = st.dump()
    assert d["inflow"] == [T0 + 50, T0 + 100, T0 + 900]
    assert ZoneState.load(d).inflow == st.inflow
    assert "inflow" not in ZoneState("Z").dump()   # snapshots without any stay as they were
    st.note_inflow(T0 + 5000)                       # old entries leave as new ones come
    assert st.inflow == [T0 + 5000]


def test_the_engine_counts_created_orders_and_the_forecast_passes_the_work_ahead() -> None:
    f = Feed()
    v = vehicle(f, "v1", active=True, pos=pt(0.002, 0.0))
    near = order(f, "o1", pt(0.01, 0.0), T0, T0 + 8 * 3600)
    far = order(f, "o2", pt(0.3, 0.0), T0, T0 + 8 * 3600)   # about 40 km on: beyond the head
    put_on(v, [near, far])
    eng = engine([v], [near, far], EngineSettings())
    for i in range(3):
        eng.process(f.order(f"n{i}", T0 + 60 * i, pt(0.05, 0.05 * i), T0, T0 + 9 * 3600))
    assert eng.state.inflow == [T0, T0 + 60, T0 + 120]
    eng.process(f.ping("v1", T0 + 300, pt(0.002, 0.0)))
    snaps = {oid: eng.state.orders[oid].snaps for oid in ("o1", "o2")}
    xi_far = snaps["o2"][-1]["xi"]
    head = EngineSettings().plan_frozen_s
    assert xi_far["horizon_s"] > head
    assert xi_far["inserts"] == pytest.approx(3.0 / 3600.0 * (xi_far["horizon_s"] - head))
    assert all("inserts" not in s["xi"] for s in snaps["o1"] if s["xi"]["horizon_s"] <= head)
    blob = eng.snapshot()
    assert ZoneEngine.restore(blob).state.inflow == eng.state.inflow
