"""The three entry points: ``plan``, ``reroute``, ``redispatch``.

Each takes a :class:`Budget`.  ``Budget.deterministic`` (the engine's setting)
bounds the search by counts only (OR-Tools ``solution_limit``, single-threaded, no
time-bounded neighbourhood; a fixed number of local-search passes), so a result
depends on the problem alone and a replay is byte-identical on any machine and
under any load; the wall clock then only guards against a runaway solve
(``Budget.guard_s``, the engine's ``routing_guard_s``), and a solve it cuts is
reported: ``PlanResult.stats["guard_hit"]``, ``RerouteResult.guard_hit``.  Without
``deterministic`` the time limit ``time_limit_s`` is the budget (benchmarks,
``fleetstream plan``).

- :func:`plan`: a whole zone from scratch (OR-Tools), optionally warm-started;
- :func:`reroute`: one vehicle's remaining stops from its current position and time,
  warm-started from its current sequence (pure-Python local search up to
  ``Budget.local_max_stops`` stops, OR-Tools above);
- :func:`redispatch`: move given jobs from one vehicle to the candidates where the
  gain beats a change cost; "kept, gain X below threshold Y" otherwise.

Unassigned jobs come back with ranked reasons per vehicle (:func:`explain`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from fleetstream.operators.routing import local_search as ls
from fleetstream.operators.routing.checker import check_plan, check_route
from fleetstream.operators.routing.constraints import (C_CAPACITY, C_SHIFT, C_WINDOW, Reason, static_reasons)
from fleetstream.operators.routing.model import INF, Problem, Routes, Stop
from fleetstream.operators.routing.model import job_stops
from fleetstream.operators.routing.ortools_backend import SolverParams, solve
from fleetstream.operators.routing.pyvrp_backend import PyVRPParams, unsupported
from fleetstream.operators.routing import pyvrp_backend

DEFAULT_GUARD_S = 900.0
"""Default wall-clock guard (the engine's ``routing_guard_s`` default)."""


@dataclass(frozen=True)
class Budget:
    """How much search an entry point may do."""

    time_limit_s: float = 2.0
    """The wall-clock budget when not ``deterministic`` (ignored otherwise)."""
    solution_limit: int = 200
    deterministic: bool = True
    local_passes: int = 6
    local_window: int = 12
    local_max_stops: int = 120
    first_solution: str = "parallel_cheapest_insertion"
    seed: int = 0
    """OR-Tools' search is seed-free for a fixed problem; the seed orders ties in the
    pure-Python searches (kept for the contract: same seed, same result)."""
    guard_s: float = DEFAULT_GUARD_S
    """Wall-clock safety guard of a ``deterministic`` solve, seconds: it only stops a
    runaway search (the result is then flagged ``guard_hit``), never shapes one."""
    iterations: int = 10_000
    """PyVRP backend: iterations of its iterated local search (always counts)."""
    no_improvement: int | None = None
    """PyVRP backend: also stop after this many iterations without improvement."""

    def __post_init__(self) -> None:
        if self.time_limit_s <= 0 or self.solution_limit < 1 or self.local_passes < 0:
            raise ValueError("budget needs time_limit_s > 0, solution_limit >= 1, local_passes >= 0")
        if not self.guard_s > 0:
            raise ValueError("guard_s must be > 0")
        if self.iterations < 1:
            raise ValueError("iterations must be >= 1")

    @property
    def wall_limit_s(self) -> float:
        """The solver's wall-clock limit: the guard if deterministic, else the budget."""
        return self.guard_s if self.deterministic else self.time_limit_s

    def pyvrp_params(self) -> PyVRPParams:
        """PyVRP's budget: iterations and seed, always (``time_limit_s`` is never its
        budget); ``guard_s`` is its wall-clock guard."""
        return PyVRPParams(iterations=self.iterations, no_improvement=self.no_improvement,
                           seed=self.seed, guard_s=self.guard_s)

    def params(self, scale: float = 1.0) -> SolverParams:
        return SolverParams(time_limit_s=self.wall_limit_s,
                            solution_limit=self.solution_limit if self.deterministic else None,
                            first_solution=self.first_solution, scale=scale)


@dataclass
class Unassigned:
    job_id: str
    reasons: list[dict]
    """Ranked: [{constraint, vehicles, example_vehicle, text}], most blocking first."""
    per_vehicle: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"job_id": self.job_id, "reasons": self.reasons, "per_vehicle": self.per_vehicle}


@dataclass
class PlanResult:
    routes: Routes
    unassigned: list[Unassigned]
    cost: float
    distance: float
    feasible: bool
    stops_spread: int
    hours_spread: float
    status: str
    stats: dict = field(default_factory=dict)


def explain(p: Problem, jid: str, routes: Routes) -> Unassigned:
    """Why job ``jid`` is on no route: for every vehicle, the static constraint that
    rules it out, else the route constraint that its cheapest insertion breaks."""
    j = p.job(jid)
    per: dict[str, str] = {}
    texts: dict[str, str] = {}
    for v in p.vehicles:
        rs = static_reasons(j, v, p.high_value, p.gig_forbidden_age_check)
        if rs:
            per[v.id] = rs[0].constraint
            texts.setdefault(rs[0].constraint, rs[0].text)
            continue
        stops = list(routes.get(v.id, []))
        cand, _c = ls.best_insertion(p, v.id, stops, jid)
        why = None
        if cand is not None:
            rep = check_route(p, v.id, cand)
            bad = [r for r in rep.violations]
            if not bad:
                why = "cost"
                texts.setdefault("cost", "feasible but dearer than its drop penalty")
            else:
                why = _main(bad)
                texts.setdefault(why, next(r.text for r in bad if r.constraint == why))
        per[v.id] = why or C_WINDOW
    counts: dict[str, int] = {}
    example: dict[str, str] = {}
    for vid, c in per.items():
        counts[c] = counts.get(c, 0) + 1
        example.setdefault(c, vid)
    ranked = [{"constraint": c, "vehicles": n, "example_vehicle": example[c], "text": texts.get(c, "")}
              for c, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    return Unassigned(jid, ranked, per)


def _main(reasons: list[Reason]) -> str:
    order = {C_WINDOW: 0, C_SHIFT: 1}
    names = sorted({r.constraint for r in reasons},
                   key=lambda c: (order.get(c, 2 if c.startswith(C_CAPACITY) else 3), c))
    return names[0]


def _with(p: Problem, **kw) -> Problem:
    d = dict(time=p.time, dist=p.dist, vehicles=p.vehicles, jobs=p.jobs, km_per_unit=p.km_per_unit,
             hours_per_unit=p.hours_per_unit, lateness_cost_per_unit=p.lateness_cost_per_unit,
             max_lateness=p.max_lateness, fairness_cost_per_stop=p.fairness_cost_per_stop,
             objective=p.objective, high_value=p.high_value,
             gig_forbidden_age_check=p.gig_forbidden_age_check, points=p.points,
             vehicle_time=p.vehicle_time)
    d.update(kw)
    return Problem(**d)


BACKENDS = ("ortools", "pyvrp", "auto")
RELAXED_DROP_PENALTY = 1e6
"""Drop penalty given to mandatory jobs when no plan serves them all (graceful degrade)."""


def choose_backend(p: Problem, hard_first: bool = False) -> tuple[str, list[str]]:
    """The documented rule (docs/routing.md, "Backends"): PyVRP when it expresses
    ``p`` exactly, OR-Tools otherwise, with what PyVRP cannot express."""
    why = unsupported(p, hard_first)
    return ("ortools", why) if why else ("pyvrp", [])


def unreachable(p: Problem) -> list[str]:
    """Mandatory jobs that no vehicle can serve even on a route of their own (a
    window that cannot be reached, a job over every capacity, no compatible vehicle):
    they are left out of the solve and reported, so they cannot void the plan."""
    out = []
    seen: dict[tuple, list[str]] = {}
    for v in p.vehicles:  # identical vehicles (but their ids) are tried once
        key = (v.start, v.end, v.start_time, v.shift_end, v.max_duration,
               tuple(sorted(v.capacity.items())),
               v.skills, v.fleet_type, v.vehicle_type, v.break_, v.max_drive, v.onboard, v.at_depot)
        seen.setdefault(key, []).append(v.id)
    reps = [ids[0] for ids in seen.values()]
    for j in p.jobs:
        if j.drop_penalty is not None or j.onboard_vehicle is not None:
            continue
        if not any(check_route(p, vid, job_stops(j)).feasible for vid in reps):
            out.append(j.id)
    return out


def _backend_solve(p: Problem, backend: str, budget: Budget, params: SolverParams,
                   initial: Routes | None):
    if backend == "pyvrp":
        return pyvrp_backend.solve(p, budget.pyvrp_params())
    return solve(p, params, initial)


def _no_solution(res) -> bool:
    return res is None or res.status == "no_solution" or (not any(res.routes.values()) and bool(res.dropped))


def plan(p: Problem, budget: Budget = Budget(), initial: Routes | None = None,
         scale: float = 1.0, hard_first: bool = False, span_cost: bool = True,
         backend: str = "ortools") -> PlanResult:
    """Route the whole problem; jobs left out come back explained.

    ``backend``: ``ortools``, ``pyvrp`` (ValueError if PyVRP cannot express ``p``
    exactly) or ``auto`` (:func:`choose_backend`).  ``hard_first`` (for problems with
    soft windows): the backend solves with hard windows (much faster, and it plans on
    time whatever can be), then each job it left out is inserted where it costs least
    with soft windows (late, but served); only jobs no route can take at all stay
    unassigned.  ``initial`` warm-starts OR-Tools when it routes at least half of the
    jobs.  Plans degrade gracefully: a mandatory job no vehicle can reach even alone
    is left out with its reason before the solve (:func:`unreachable`), and when no
    plan serves every mandatory job they become optional at
    ``RELAXED_DROP_PENALTY`` (``stats["relaxed"]``), so the rest is still planned."""
    t0 = time.perf_counter()
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}")
    why: list[str] = []
    if backend == "auto":
        backend, why = choose_backend(p, hard_first)
    elif backend == "pyvrp" and unsupported(p, hard_first):
        raise ValueError(f"PyVRP cannot express this problem exactly: {', '.join(unsupported(p, hard_first))}")
    if initial and sum(len(s) for s in initial.values()) < len(p.jobs) // 2:
        initial = None
    left_out = unreachable(p)
    base = _with(p, jobs=[j for j in p.jobs if j.id not in set(left_out)]) if left_out else p
    soft = p.lateness_cost_per_unit > 0
    sp = _with(base, lateness_cost_per_unit=0.0) if (hard_first and soft) else base
    params = budget.params(scale)
    if not span_cost:
        from dataclasses import replace
        params = replace(params, span_cost=False)
    res = _backend_solve(sp, backend, budget, params, initial)
    relaxed = False
    if _no_solution(res) and any(j.drop_penalty is None and j.onboard_vehicle is None for j in sp.jobs):
        from dataclasses import replace
        relaxed = True
        sp = _with(sp, jobs=[replace(j, drop_penalty=RELAXED_DROP_PENALTY)
                             if j.drop_penalty is None and j.onboard_vehicle is None else j for j in sp.jobs])
        res = _backend_solve(sp, backend, budget, params, None)
    guard_hit = bool(budget.deterministic or backend == "pyvrp") and res is not None and res.guard_hit
    if res is None:
        routes: Routes = {v.id: [] for v in p.vehicles}
        dropped = [j.id for j in sp.jobs]
        status = "no_solution"
    else:
        routes, dropped, status = res.routes, list(res.dropped), res.status
    dropped += left_out
    inserted = 0
    if hard_first and soft and dropped:
        evs = {v.id: ls.RouteEval(p, v.id) for v in p.vehicles}
        costs = {vid: evs[vid].cost(routes[vid]) for vid in routes}
        left = []
        for jid in sorted(dropped, key=lambda j: (-p.job(j).priority, p.job(j).window[1], j)):
            j = p.job(jid)
            best = None
            for v in p.vehicles:
                if static_reasons(j, v, p.high_value, p.gig_forbidden_age_check):
                    continue
                cand, c = ls.best_insertion(p, v.id, routes[v.id], jid, evs[v.id])
                if cand is None or c >= ls.HARD:
                    continue
                delta = c - costs[v.id]
                if best is None or delta < best[0]:
                    best = (delta, v.id, cand, c)
            if best is None or best[0] >= (j.drop_penalty if j.drop_penalty is not None else INF):
                left.append(jid)
                continue
            _d, vid, cand, c = best
            routes[vid], costs[vid] = cand, c
            inserted += 1
        dropped = left
    secs = time.perf_counter() - t0
    rep = check_plan(p, routes, dropped)
    un = [explain(p, jid, routes) for jid in dropped]
    un.sort(key=lambda u: (-p.job(u.job_id).priority, u.job_id))
    return PlanResult(routes, un, rep.cost, rep.distance, rep.feasible, rep.stops_spread,
                      rep.hours_spread, status,
                      {"seconds": round(secs, 3), "vehicles_used": rep.vehicles_used,
                       "inserted_late": inserted, "lateness": round(rep.lateness, 1),
                       "solutions": res.solutions if res is not None else 0,
                       "guard_hit": guard_hit, "time_guard_hit": guard_hit, "backend": backend,
                       "backend_reasons": why, "unreachable": left_out, "relaxed": relaxed})


@dataclass
class RerouteResult:
    vehicle_id: str
    sequence: list[Stop]
    changed: bool
    cost_before: float
    cost_after: float
    lateness_before: float
    lateness_after: float
    method: str
    guard_hit: bool = False
    """The wall-clock guard cut the search (OR-Tools method only)."""


def reroute(p: Problem, vid: str, current: list[Stop], budget: Budget = Budget(),
            method: str = "auto") -> RerouteResult:
    """Re-sequence vehicle ``vid``'s stops (``p`` holds that vehicle, starting at its
    current position and time), warm-started from ``current``."""
    ev = ls.RouteEval(p, vid)
    c0 = ev.cost(current)
    l0 = ev.lateness(current)
    if method == "auto":
        method = "local" if len(current) <= budget.local_max_stops else "ortools"
    guard_hit = False
    if method == "local":
        seq, c1 = ls.improve_route(p, vid, current, budget.local_passes, budget.local_window, ev)
    elif method == "ortools":
        sub = Problem(p.time, p.dist, [p.vehicle(vid)], [p.job(j) for j in dict.fromkeys(s[0] for s in current)],
                      p.km_per_unit, p.hours_per_unit, p.lateness_cost_per_unit, p.max_lateness,
                      0.0, p.objective, p.high_value, p.gig_forbidden_age_check,
                      vehicle_time={vid: p.vehicle_time[vid]} if vid in p.vehicle_time else {})
        res = solve(sub, budget.params(), {vid: current})
        guard_hit = bool(budget.deterministic and res is not None and res.guard_hit)
        seq = res.routes.get(vid, current) if res is not None and not res.dropped else current
        c1 = ev.cost(seq)
    else:
        raise ValueError(f"unknown reroute method {method!r}")
    if c1 >= c0 - 1e-9:
        seq, c1 = list(current), c0
    return RerouteResult(vid, seq, seq != list(current), c0, c1, l0, ev.lateness(seq), method, guard_hit)


@dataclass
class Move:
    job_id: str
    to_vehicle: str
    gain: float
    src_after: list[Stop]
    dst_after: list[Stop]


@dataclass
class RedispatchResult:
    action: str                 # "move" | "kept" | "none"
    routes: Routes              # new sequences of the affected vehicles (action == move)
    moves: list[Move]
    gain: float                 # cost saved (currency units), change cost not deducted
    threshold: float
    explanation: str
    alternatives: list[dict]    # per job, the candidates costed (best first)
    unmovable: list[Unassigned]
    guard_hit: bool = False     # pure-Python search (counts only): never cut by the clock


def redispatch(p: Problem, source: str, job_ids: list[str], current: Routes,
               change_cost: float, budget: Budget = Budget(),
               candidates: list[str] | None = None) -> RedispatchResult:
    """Move ``job_ids`` away from ``source`` where it pays.

    For each job: cheapest insertion into every candidate vehicle (static constraints
    first), the source route without it, both re-optimised by local search; the best
    move per job is taken if its gain (source + target cost before minus after) beats
    ``change_cost``.  Routes of vehicles in ``current`` are the plan as it stands."""
    cands = [vid for vid in (candidates if candidates is not None else [v.id for v in p.vehicles])
             if vid != source]
    evs = {vid: ls.RouteEval(p, vid) for vid in [source] + cands}
    routes = {vid: list(current.get(vid, [])) for vid in [source] + cands}
    costs = {vid: evs[vid].cost(routes[vid]) for vid in routes}
    moves: list[Move] = []
    alternatives: list[dict] = []
    unmovable: list[Unassigned] = []
    total_gain = 0.0
    best_rejected = 0.0
    for jid in job_ids:
        j = p.job(jid)
        src_wo = [s for s in routes[source] if s[0] != jid]
        src_wo, src_c = ls.improve_route(p, source, src_wo, max(1, budget.local_passes // 2),
                                         budget.local_window, evs[source])
        options = []
        per: dict[str, str] = {}
        for vid in cands:
            v = p.vehicle(vid)
            rs = static_reasons(j, v, p.high_value, p.gig_forbidden_age_check)
            if rs:
                per[vid] = rs[0].constraint
                continue
            cand, c = ls.best_insertion(p, vid, routes[vid], jid, evs[vid])
            if cand is None or c >= ls.HARD:
                per[vid] = _insertion_reason(p, vid, cand)
                continue
            gain = costs[source] + costs[vid] - src_c - c
            options.append((-gain, vid, cand, c))
        options.sort(key=lambda o: (o[0], o[1]))
        alternatives.append({"job_id": jid, "candidates": [
            {"vehicle": vid, "gain": round(-g, 2)} for g, vid, _c, _x in options[:5]]})
        if not options:
            unmovable.append(_ranked(jid, per))
            continue
        g, vid, cand, c = options[0]
        # Re-optimise the receiving route with the job in it.
        cand, c = ls.improve_route(p, vid, cand, max(1, budget.local_passes // 2), budget.local_window, evs[vid])
        gain = costs[source] + costs[vid] - src_c - c
        if gain <= change_cost:
            best_rejected = max(best_rejected, gain)
            continue
        moves.append(Move(jid, vid, gain, src_wo, cand))
        total_gain += gain
        routes[source], routes[vid] = src_wo, cand
        costs[source], costs[vid] = src_c, c
    if moves:
        touched = {source} | {m.to_vehicle for m in moves}
        expl = "; ".join(f"move {m.job_id} to {m.to_vehicle} (gain {m.gain:.2f})" for m in moves)
        return RedispatchResult("move", {vid: routes[vid] for vid in sorted(touched)}, moves,
                                total_gain, change_cost, expl, alternatives, unmovable)
    if any(a["candidates"] for a in alternatives):
        return RedispatchResult("kept", {}, [], best_rejected, change_cost,
                                f"kept, gain {best_rejected:.2f} below threshold {change_cost:.2f}",
                                alternatives, unmovable)
    return RedispatchResult("none", {}, [], 0.0, change_cost, "no feasible vehicle for the job(s)",
                            alternatives, unmovable)


def _insertion_reason(p: Problem, vid: str, cand: list[Stop] | None) -> str:
    if cand is None:
        return C_WINDOW
    rep = check_route(p, vid, cand)
    return _main(rep.violations) if rep.violations else "cost"


def _ranked(jid: str, per: dict[str, str]) -> Unassigned:
    counts: dict[str, int] = {}
    ex: dict[str, str] = {}
    for vid, c in per.items():
        counts[c] = counts.get(c, 0) + 1
        ex.setdefault(c, vid)
    return Unassigned(jid, [{"constraint": c, "vehicles": n, "example_vehicle": ex[c], "text": ""}
                            for c, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))], per)


__all__ = ["Budget", "DEFAULT_GUARD_S", "plan", "choose_backend", "unreachable", "BACKENDS",
           "reroute", "redispatch", "explain", "PlanResult", "RerouteResult", "RedispatchResult",
           "Unassigned", "INF"]
