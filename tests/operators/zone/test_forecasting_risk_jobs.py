"""Risk responses as solver jobs (``response.RISK_JOB_ALLOWANCE_S``): the searches
run off the event path and the decisions are taken at the due time, reconciled with
what happened meanwhile.  Solved and applied with nothing changed in between, a job
decides exactly what the inline response decides."""

from __future__ import annotations

import copy
import pickle

import pytest

from fleetstream.contract.settings import EngineSettings
from fleetstream.operators.state import DELIVERY
from fleetstream.operators.zone import response
from zone_scene import T0, Feed, engine, order, pt, put_on, vehicle


def reroute_scene():
    f = Feed()
    v = vehicle(f, "v1", active=True)
    later = order(f, "o1", pt(0.03, 0.0), T0, T0 + 4 * 3600)
    mid = order(f, "o3", pt(0.0, 0.03), T0, T0 + 4 * 3600)
    urgent = order(f, "o2", pt(-0.03, 0.0), T0, T0 + 900)
    put_on(v, [later, mid, urgent])
    return engine([v], [later, mid, urgent], EngineSettings(solver_workers=0))


def redispatch_scene(d: float = 0.05, w1: float = 1800, w2: float = 1800):
    """v1 (at the depot: its parcels can still move) cannot reach both in time; v2
    starts next to the second."""
    f = Feed()
    v1 = vehicle(f, "v1")
    v2 = vehicle(f, "v2", start=pt(-d, -d))
    first = order(f, "o1", pt(d, d), T0, T0 + w1)
    risky = order(f, "o2", pt(-d, -d), T0, T0 + w2)
    put_on(v1, [first, risky])
    return engine([v1, v2], [first, risky], EngineSettings(solver_workers=0))


def both_scene():
    """Re-sequencing helps but not enough: a re-route, then a redispatch."""
    return redispatch_scene(0.06, 2400, 2000)


def run(eng, vid: str, at_risk: list[str], jobs: bool, monkeypatch, between=None) -> list:
    """The response to ``at_risk`` on ``vid``: inline, or requested as a job and
    applied at its due time (``between`` runs in between)."""
    monkeypatch.setattr(response, "RISK_JOB_ALLOWANCE_S", 0.0 if jobs else None)
    out: list = []
    for oid in at_risk:   # what the refresh that triggers the response does
        eng.orders[oid].late_flag = True
    eng.response.handle_risk(eng.vehicles[vid], at_risk, T0, ["e1"], out)
    if jobs:
        assert out == [] and eng.jobs.pending_count("risk") == 1
        if between is not None:
            between(eng)
        job, = eng.jobs.due(T0)
        res = eng.jobs.result(pickle.loads(pickle.dumps(job)))   # a request pickles
        eng.response.apply_job(job, res, out)
    return out


def routes(eng) -> dict:
    return {vid: [tuple(s) for s in v.route] for vid, v in eng.vehicles.items()}


@pytest.mark.parametrize("scene,kinds", [(reroute_scene, ["reroute"]),
                                         (redispatch_scene, ["redispatch"]),
                                         (both_scene, ["reroute", "redispatch"])])
def test_a_job_decides_what_the_inline_response_decides(scene, kinds, monkeypatch) -> None:
    inline, job = scene(), scene()
    out_inline = run(inline, "v1", ["o2"], False, monkeypatch)
    out_job = run(job, "v1", ["o2"], True, monkeypatch)
    assert [r["kind"] for t, r in out_inline if t == "fs.decisions"] == kinds
    assert out_job == out_inline
    assert routes(job) == routes(inline)
    assert job.stats["risk_jobs"] == 1 and "risk_jobs" not in inline.stats


def test_served_stops_are_reconciled_and_a_changed_route_discards_the_job(monkeypatch) -> None:
    inline = reroute_scene()
    run(inline, "v1", ["o2"], False, monkeypatch)
    solved = routes(inline)["v1"]

    def serve_first(eng) -> None:   # the first stop of the requested route is served
        v = eng.vehicles["v1"]
        v.route = v.route[1:]
        v.route_version += 1

    eng = reroute_scene()
    out = run(eng, "v1", ["o2"], True, monkeypatch, between=serve_first)
    assert [r["kind"] for _t, r in out][:1] == ["reroute"]
    assert routes(eng)["v1"] == [s for s in solved if s != ("o1", DELIVERY)]

    def reorder(eng) -> None:       # someone else re-sequenced the route meanwhile
        v = eng.vehicles["v1"]
        v.route = [v.route[1], v.route[0], v.route[2]]
        v.route_version += 1

    eng = reroute_scene()
    out = run(eng, "v1", ["o2"], True, monkeypatch, between=reorder)
    assert [(t, r["kind"]) for t, r in out] == [("fs.alerts", "late_risk"),
                                                ("fs.notifications", "window_at_risk")]
    assert eng.stats["risk_jobs_stale"] == 1

    def no_longer_risky(eng) -> None:
        eng.orders["o2"].late_flag = False

    eng = reroute_scene()
    out = run(eng, "v1", ["o2"], True, monkeypatch, between=no_longer_risky)
    assert out == [] and eng.stats["risk_jobs_resolved"] == 1


def test_a_redispatch_whose_target_changed_is_not_applied(monkeypatch) -> None:
    def busy_target(eng) -> None:
        f = Feed()
        o = order(f, "o9", pt(-0.02, 0.01), T0, T0 + 3 * 3600)
        eng.orders["o9"] = o
        eng.state.customers.setdefault(o.customer_id, {"language": "en"})
        put_on(eng.vehicles["v2"], [o])

    eng = redispatch_scene()
    before = copy.deepcopy(routes(eng))
    out = run(eng, "v1", ["o2"], True, monkeypatch, between=busy_target)
    assert [r["kind"] for _t, r in out] == ["late_risk", "window_at_risk"]
    assert eng.stats["risk_redispatch_stale"] == 1
    assert routes(eng)["v1"] == before["v1"]
    assert out[0][1]["details"]["redispatch"].startswith("the routes changed")


def test_the_setting_routes_risk_jobs_through_the_engine(monkeypatch) -> None:
    """``engine.risk_solve_allowance_s`` (not the module override) makes a trigger a job
    that the engine applies at trigger + allowance, deciding as inline would."""
    from dataclasses import replace
    monkeypatch.setattr(response, "RISK_JOB_ALLOWANCE_S", None)
    inline, job = reroute_scene(), reroute_scene()
    job.settings = replace(job.settings, risk_solve_allowance_s=30.0)
    job._wire()
    outs = {}
    for name, eng in (("inline", inline), ("job", job)):
        eng.orders["o2"].late_flag = True
        out: list = []
        eng.response.handle_risk(eng.vehicles["v1"], ["o2"], T0, ["e1"], out)
        outs[name] = out
    assert [r["kind"] for t, r in outs["inline"] if t == "fs.decisions"] == ["reroute"]
    assert outs["job"] == [] and job.jobs.next_due_ts == T0 + 30.0
    out: list = []
    job.apply_due_jobs(T0 + 29.0, out)
    assert out == [] and job.jobs.pending_count("risk") == 1
    job.apply_due_jobs(T0 + 30.0, out)
    dec = [r for t, r in out if t == "fs.decisions"]
    assert [r["kind"] for r in dec] == ["reroute"] and dec[0]["ts"] == T0 + 30.0
    assert routes(job) == routes(inline)
