"""The KPI strip's figures against counts made directly from the replay files:
delivered, on time (delivered at or before the window end), failed, at risk,
per fleet type summing to the whole, at several times of the day."""

from __future__ import annotations

import os

import orjson
from conftest import SMALL
from fleetstream.connectors.files import read_replay

from fleetstream.console.model import AT_RISK_P
from fleetstream.console.replay_source import ReplaySource
from fleetstream.contract.events import ValidationError, decode_event


def _jsonl(d: str, topic: str) -> list[dict]:
    with open(os.path.join(d, topic + ".jsonl"), "rb") as f:
        return [orjson.loads(x) for x in f if x.strip()]


def test_kpis_match_the_files(small_out):
    windows = {}
    for m in read_replay(SMALL):
        if m.topic != "fs.orders":
            continue
        try:
            ev = decode_event(m.value, m.topic)
        except ValidationError:
            continue
        if ev.TYPE == "order_created":
            windows[ev.order_id] = ev.window_end
    outcomes = _jsonl(small_out, "fs.outcomes")
    etas = _jsonl(small_out, "fs.eta")
    src = ReplaySource(small_out)
    checked = 0
    for frac in (0.3, 0.6, 1.0):
        t = src.t_min + frac * (src.t_max - src.t_min)
        k = src.state(t)["kpi"]
        done = {o["order_id"]: o for o in outcomes if o["ts"] <= t}
        delivered = [o for o in done.values() if o["outcome"] == "delivered"]
        assert k["all"]["delivered"] == len(delivered)
        assert k["all"]["on_time"] == sum(1 for o in delivered if o["ts"] <= windows[o["order_id"]])
        assert k["all"]["failed"] == sum(1 for o in done.values() if o["outcome"] == "failed")
        assert k["all"]["expired"] == sum(1 for o in done.values() if o["outcome"] == "expired")
        assert k["all"]["not_served"] == sum(1 for o in done.values()
                                             if o["outcome"] == "not_served")
        latest = {}
        for e in etas:
            if e["ts"] <= t:
                latest[e["order_id"]] = e
        at_risk = sum(1 for oid, e in latest.items() if oid not in done and oid in windows
                      and e["p_late"] >= AT_RISK_P)
        assert k["all"]["at_risk"] == at_risk
        fleets = k["by_fleet"].values()
        assert sum(f["delivered"] for f in fleets) == k["all"]["delivered"]
        checked += k["all"]["delivered"]
    assert checked > 100
