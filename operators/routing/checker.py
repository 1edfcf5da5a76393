"""Independent feasibility checker: recomputes every route from the problem alone.

It shares nothing with the solvers but the problem data and the constraint names:
its own forward schedule (earliest service starts), its own load bookkeeping, its
own break placement (every gap is tried), its own costs.  Tests run every emitted
plan through it, and ``fleetstream plan`` prints its verdict.

>>> from fleetstream.operators.routing.model import Job, Problem, VehicleSpec
>>> p = Problem(time=[[0, 10], [10, 0]], dist=[[0, 10], [10, 0]],
...             vehicles=[VehicleSpec("v1", 0, 0, shift_end=100, capacity={"count": 1})],
...             jobs=[Job("a", 1, window=(0, 5))], objective="distance")
>>> rep = check_plan(p, {"v1": [("a", "delivery")]})
>>> rep.feasible, [v.constraint for v in rep.violations]
(False, ['time_window'])
>>> rep.violations[0].text
'a: service starts at 10, window ends at 5 (5 late)'
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from fleetstream.operators.routing.constraints import (C_BREAK, C_CAPACITY, C_COUNT, C_DRIVE, C_DUPLICATE,
                                           C_DURATION, C_MISSING, C_ONBOARD, C_PAIRING, C_SHIFT,
                                           C_UNKNOWN, C_WINDOW, Reason, static_reasons)
from fleetstream.operators.routing.model import PICKUP, Problem, Routes, Stop

EPS = 1e-6


@dataclass
class RouteReport:
    vehicle_id: str
    violations: list[Reason] = field(default_factory=list)
    distance: float = 0.0
    duration: float = 0.0
    end_time: float = 0.0
    lateness: float = 0.0
    starts: list[float] = field(default_factory=list)
    break_after: int | None = None
    """Index of the stop after which the break is taken (-1: before the first; None:
    no break needed)."""
    peak_load: dict[str, float] = field(default_factory=dict)
    drive: float = 0.0
    """Driving time (travel between stops and to the end, no service, no waiting)."""
    stops: int = 0
    jobs: int = 0
    cost: float = 0.0

    @property
    def feasible(self) -> bool:
        return not self.violations


@dataclass
class PlanReport:
    routes: dict[str, RouteReport]
    violations: list[Reason]
    dropped: list[str]
    distance: float
    cost: float
    vehicles_used: int
    lateness: float
    stops_spread: int
    hours_spread: float

    @property
    def feasible(self) -> bool:
        return not self.violations

    def summary(self) -> dict:
        return {"feasible": self.feasible, "violations": [v.as_dict() for v in self.violations[:50]],
                "n_violations": len(self.violations), "vehicles_used": self.vehicles_used,
                "distance": round(self.distance, 3), "cost": round(self.cost, 2),
                "lateness": round(self.lateness, 1), "dropped": len(self.dropped),
                "stops_spread": self.stops_spread, "hours_spread": round(self.hours_spread, 2)}


def _schedule(p: Problem, vid: str, stops: list[Stop], brk_gap: int | None):
    """Earliest schedule with the break (if any) taken in gap ``brk_gap`` (gap g lies
    after stop g-1 and before stop g; gap len(stops) is before the end)."""
    v = p.vehicle(vid)
    T = p.time_for(vid)
    t = v.start_time
    node = v.start
    starts, arrivals = [], []
    soft = p.lateness_cost_per_unit > 0
    late = 0.0
    bad: list[Reason] = []
    b = v.break_
    brk_ok = True
    n = len(stops)
    for i in range(n + 1):
        if i < n:
            j = p.job(stops[i][0])
            kind = stops[i][1]
            nxt = j.pickup if kind == PICKUP else j.node
        else:
            nxt = v.end
        travel = T[node][nxt]
        if b is not None and brk_gap == i:
            bstart = max(t, b.earliest)
            if bstart > b.latest + EPS:
                brk_ok = False
            ready = max(t + travel, b.earliest) + b.duration
        else:
            ready = t + travel
        if i == n:
            t = ready
            break
        w0, w1 = j.pickup_window if kind == PICKUP else j.window
        s = ready if ready > w0 else w0
        arrivals.append(ready)
        starts.append(s)
        if s > w1 + EPS:
            over = s - w1
            if not soft or over > p.max_lateness + EPS:
                bad.append(Reason(C_WINDOW, f"{j.id}: service starts at {s:g}, window ends at "
                                  f"{w1:g} ({over:g} late)", vid, j.id, over))
            else:
                late += over
        t = s + (j.pickup_service if kind == PICKUP else j.service)
        node = nxt
    return starts, arrivals, t, late, bad, brk_ok


def check_route(p: Problem, vid: str, stops: list[Stop]) -> RouteReport:
    """All violations of one route, with its distance, duration, lateness and cost."""
    rep = RouteReport(vid)
    if not p.has_vehicle(vid):
        rep.violations.append(Reason(C_UNKNOWN, f"unknown vehicle {vid}", vid))
        return rep
    v = p.vehicle(vid)
    for jid, _k in stops:
        if not p.has_job(jid):
            rep.violations.append(Reason(C_UNKNOWN, f"unknown job {jid}", vid, jid))
    if rep.violations:
        return rep
    rep.stops = len(stops)
    # Static constraints, pairing and on-board rules.
    seen: dict[str, list[str]] = {}
    for jid, kind in stops:
        seen.setdefault(jid, []).append(kind)
    for jid, kinds in seen.items():
        j = p.job(jid)
        rep.violations.extend(static_reasons(j, v, p.high_value, p.gig_forbidden_age_check))
        want = ["pickup", "delivery"] if j.has_pickup else ["delivery"]
        if kinds != want:
            rep.violations.append(Reason(C_PAIRING, f"{jid}: stops {kinds}, expected {want} "
                                         "(pickup first, same vehicle)", vid, jid))
    rep.jobs = len(seen)
    # Load over the route: depot parcels and on-board jobs are on the vehicle from the
    # start; a pickup adds its job, a delivery removes it.
    load: dict[str, float] = {}
    for jid, kinds in seen.items():
        j = p.job(jid)
        if not j.has_pickup:
            for d, q in j.size.items():
                load[d] = load.get(d, 0.0) + q
            load["count"] = load.get("count", 0.0) + 1
    peak = dict(load)
    for jid, kind in stops:
        j = p.job(jid)
        sign = 1 if kind == PICKUP else -1
        for d, q in list(j.size.items()) + [("count", 1.0)]:
            load[d] = load.get(d, 0.0) + sign * q
            if load[d] > peak.get(d, 0.0):
                peak[d] = load[d]
    rep.peak_load = peak
    for d, q in sorted(peak.items()):
        cap = v.capacity.get(d)
        if cap is not None and q > cap + 1e-6:
            name = C_COUNT if d == "count" else f"{C_CAPACITY}_{d}"
            rep.violations.append(Reason(name, f"{vid}: peak {d} {q:g} exceeds capacity {cap:g}",
                                         vid, None, q - cap))
    if not stops:
        rep.end_time = v.start_time
        return rep
    # Timing: try every gap for the break, keep the best.
    gaps: list[int | None] = [None]
    if v.break_ is not None:
        starts0, _a, end0, _l, _b, _ok = _schedule(p, vid, stops, None)
        if end0 > v.break_.earliest + EPS:
            gaps = list(range(len(stops) + 1))
    best = None
    for g in gaps:
        starts, arrivals, end, late, bad, brk_ok = _schedule(p, vid, stops, g)
        extra = list(bad)
        if not brk_ok:
            extra.append(Reason(C_BREAK, f"{vid}: no gap lets the break start by "
                                f"{v.break_.latest:g}", vid))  # type: ignore[union-attr]
        if end > v.shift_end + EPS:
            extra.append(Reason(C_SHIFT, f"{vid}: back at {end:g}, shift ends at {v.shift_end:g}",
                                vid, None, end - v.shift_end))
        key = (len(extra), late, end)
        if best is None or key < best[0]:
            best = (key, g, starts, arrivals, end, late, extra)
    assert best is not None
    _key, g, starts, arrivals, end, late, extra = best
    rep.violations.extend(extra)
    rep.starts, rep.end_time, rep.lateness = starts, end, late
    rep.break_after = None if g is None else g - 1
    # Duration: the start may be delayed by the waiting it absorbs (without pushing any
    # service past its window end).
    waited = 0.0
    delay = math.inf
    soft_extra = p.max_lateness if p.lateness_cost_per_unit > 0 else 0.0
    for (jid, kind), s, a in zip(stops, starts, arrivals):
        j = p.job(jid)
        w1 = (j.pickup_window if kind == PICKUP else j.window)[1] + soft_extra
        waited += max(0.0, s - a)
        delay = min(delay, waited + max(0.0, w1 - s)) if w1 < math.inf else delay
    delay = min(delay, waited)
    rep.duration = end - v.start_time - max(0.0, delay)
    if v.max_duration is not None and rep.duration > v.max_duration + EPS:
        rep.violations.append(Reason(C_DURATION, f"{vid}: route takes {rep.duration:g}, at most "
                                     f"{v.max_duration:g}", vid, None, rep.duration - v.max_duration))
    node = v.start
    dist = 0.0
    drive = 0.0
    T = p.time_for(vid)
    for jid, kind in stops:
        j = p.job(jid)
        nxt = j.pickup if kind == PICKUP else j.node
        dist += p.dist[node][nxt]
        drive += T[node][nxt]
        node = nxt
    dist += p.dist[node][v.end]
    drive += T[node][v.end]
    rep.distance = dist
    rep.drive = drive
    if v.max_drive is not None and drive > v.max_drive + EPS:
        rep.violations.append(Reason(C_DRIVE, f"{vid}: drives {drive:g}, at most {v.max_drive:g}",
                                     vid, None, drive - v.max_drive))
    rep.cost = (v.fixed_cost + dist * p.km_per_unit * v.cost_per_km
                + rep.duration * p.hours_per_unit * v.cost_per_hour
                + rep.jobs * v.cost_per_stop + late * p.lateness_cost_per_unit)
    return rep


def fair_share(p: Problem) -> int:
    """Stops per vehicle above which the fairness term charges (jobs / vehicles, rounded up)."""
    return max(1, math.ceil(len(p.jobs) / max(1, len(p.vehicles))))


def check_plan(p: Problem, routes: Routes, dropped: list[str] | None = None) -> PlanReport:
    """Check a whole plan: every route, every job served exactly once or dropped
    (dropping needs a drop penalty), on-board jobs on their vehicle."""
    violations: list[Reason] = []
    reports: dict[str, RouteReport] = {}
    where: dict[str, str] = {}
    for vid, stops in routes.items():
        rep = check_route(p, vid, list(stops))
        reports[vid] = rep
        violations.extend(rep.violations)
        for jid in {s[0] for s in stops}:
            if jid in where:
                violations.append(Reason(C_DUPLICATE, f"{jid} is on {where[jid]} and {vid}", vid, jid))
            where[jid] = vid
    dropped = list(dropped) if dropped is not None else [j.id for j in p.jobs if j.id not in where]
    for j in p.jobs:
        if j.id in where:
            continue
        if j.onboard_vehicle is not None:
            violations.append(Reason(C_ONBOARD, f"{j.id} is on board {j.onboard_vehicle} but on no "
                                     "route", j.onboard_vehicle, j.id))
        elif j.drop_penalty is None:
            violations.append(Reason(C_MISSING, f"{j.id} is mandatory but not served", None, j.id))
    used = [r for r in reports.values() if r.stops]
    share = fair_share(p)
    fairness = sum(max(0, r.jobs - share) for r in used) * p.fairness_cost_per_stop
    drops = sum(p.job(jid).drop_penalty or 0.0 for jid in dropped if p.has_job(jid))
    jobs = [r.jobs for r in used]
    hours = [r.duration * p.hours_per_unit for r in used]
    return PlanReport(
        routes=reports, violations=violations, dropped=dropped,
        distance=sum(r.distance for r in reports.values()),
        cost=sum(r.cost for r in reports.values()) + drops + fairness,
        vehicles_used=len(used), lateness=sum(r.lateness for r in reports.values()),
        stops_spread=(max(jobs) - min(jobs)) if jobs else 0,
        hours_spread=(max(hours) - min(hours)) if hours else 0.0)
