"""The PyVRP adapter (PyVRP 0.14.1): a :class:`Problem` in, routes and dropped jobs out.

PyVRP's iterated local search is, on the Solomon set, an order of magnitude closer to
the best-known solutions than OR-Tools at the same time (docs/routing.md,
"Backends").  It expresses exactly: hard time windows, service times, several
capacity dimensions, several depots (every distinct start/end node is a depot),
vehicles with their own start node, end node, shift (start time, return by the shift
end), maximum duration, fixed cost, cost per km and per hour, optional jobs with a
prize (the drop penalty), pickup-and-delivery pairs (``Shipment``, new in 0.14) and
orders already on board (a delivery only their vehicle may serve).

Static constraints (skills, vehicle type, access, fleet type, fleet rules, on board,
loaded at the depot, one job over a capacity) are **encoded through vehicle types**,
exactly: each group of vehicles that may not serve some jobs gets one extra load
dimension, in which its capacity is 0 and every job it may not serve loads 1 unit
(all others: capacity unbounded), so a route carrying such a job has excess load
and is infeasible (PyVRP's best solution is always a feasible one).  Vehicles with
identical attributes form one vehicle type (``num_available``), which PyVRP
searches faster.  Every job stop has its own PyVRP location.

What it cannot express (:func:`unsupported` names it; :func:`operators.routing.solver.plan`
then uses OR-Tools): driver breaks, soft windows outside the hard-first plan, the
fairness term, a cost per stop, more than ``MAX_GROUPS`` distinct compatibility
groups (an extra load dimension each) or ``MAX_PROFILES`` costs per km (a distance
matrix each).

Integer data (PyVRP is integer-only): times and distances are multiplied by a
**scale** (``scales``: the smallest of 1, 10, 100, 1000 that makes every value an
integer, else 1000) and rounded *conservatively* — travel and service times and
window starts up, window and shift ends and maximum durations down; sizes up and
capacities down (load scale chosen the same way) — so a PyVRP-feasible route is
feasible in the original units; with integral data (engine seconds and metres,
Solomon distances x10) the encoding is exact.  Costs are in ``1 / COST_SCALE``
currency units per scaled unit (rounded: the objective, never a constraint).  Every
solution is re-checked by :mod:`operators.routing.checker` in the original units.

Determinism: a solve is bounded by ``PyVRPParams.iterations`` (and optionally
``no_improvement``) with a fixed ``seed``; PyVRP is single-threaded, so the result is
a pure function of the problem and the parameters, on any machine and under any
load.  ``guard_s`` is a wall-clock guard only: it stops a runaway search and the
result says so (``BackendResult.guard_hit``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from fleetstream.operators.routing.constraints import compatible
from fleetstream.operators.routing.model import DELIVERY, INF, PICKUP, Problem, Routes
from fleetstream.operators.routing.ortools_backend import BackendResult

COST_SCALE = 10_000
"""Objective units per currency unit (``cost`` objective)."""
VEHICLE_COST_HIERARCHICAL = 10**9
"""Fixed cost per vehicle (scaled units) in ``vehicles_distance`` mode."""
MAX_PROFILES = 8
"""Most distinct costs per km (one distance matrix each)."""
MAX_GROUPS = 16
"""Most distinct compatibility groups of vehicles (one extra load dimension each)."""
SCALES = (1, 10, 100, 1000)
BIG_CAP = 2**40


@dataclass(frozen=True)
class PyVRPParams:
    """Search budget: counts and a seed only; ``guard_s`` is the wall-clock guard."""

    iterations: int = 10_000
    no_improvement: int | None = None
    """Also stop after this many iterations without a better solution (None: off)."""
    seed: int = 0
    guard_s: float = 900.0

    def __post_init__(self) -> None:
        if self.iterations < 1 or (self.no_improvement is not None and self.no_improvement < 1):
            raise ValueError("iterations and no_improvement must be >= 1")
        if not self.guard_s > 0:
            raise ValueError("guard_s must be > 0")


def unsupported(p: Problem, hard_first: bool = False) -> list[str]:
    """Why PyVRP cannot express ``p`` exactly (empty: it can).  ``hard_first``: the
    windows are solved hard and late jobs inserted afterwards (solver.plan), so soft
    windows do not count."""
    out = []
    if any(v.break_ is not None for v in p.vehicles):
        out.append("break")
    if any(v.max_drive is not None for v in p.vehicles):
        out.append("max_drive")
    if p.lateness_cost_per_unit > 0 and not hard_first:
        out.append("soft_time_windows")
    if p.fairness_cost_per_stop > 0:
        out.append("fairness")
    if p.objective == "cost" and any(v.cost_per_stop > 0 for v in p.vehicles):
        out.append("cost_per_stop")
    sigs = {tuple(compatible(j, v, p.high_value, p.gig_forbidden_age_check) for j in p.jobs)
            for v in p.vehicles}
    if len(sigs) > MAX_GROUPS or len({(v.cost_per_km, id(p.vehicle_time.get(v.id)))
                                                  for v in p.vehicles}) > MAX_PROFILES:
        out.append("profiles")
    return out


def _pick_scale(values) -> tuple[int, bool]:
    """The smallest scale in SCALES making every finite value an integer, and whether
    one did (False: 1000 with conservative rounding)."""
    arr = np.asarray([x for x in values if x != INF and not math.isinf(x)], dtype=float)
    for s in SCALES:
        y = arr * s
        if arr.size == 0 or np.all(np.abs(y - np.round(y)) < 1e-6):
            return s, True
    return SCALES[-1], False


def _up(x: float, s: int) -> int:
    return int(math.ceil(x * s - 1e-6))


def _down(x: float, s: int, cap: int = BIG_CAP) -> int:
    if x == INF or x * s >= cap:
        return cap
    return int(math.floor(x * s + 1e-6))


def _matrices(p: Problem) -> tuple[np.ndarray, np.ndarray]:
    n = p.n_nodes
    return (np.asarray([[p.time[i][k] for k in range(n)] for i in range(n)], dtype=float),
            np.asarray([[p.dist[i][k] for k in range(n)] for i in range(n)], dtype=float))


def _own_times(p: Problem) -> dict[int, np.ndarray]:
    """The vehicles' own travel-time matrices (``Problem.vehicle_time``) as arrays, by
    the id of the matrix (riders sharing one share it)."""
    n = p.n_nodes
    out: dict[int, np.ndarray] = {}
    for m in p.vehicle_time.values():
        if id(m) not in out:
            out[id(m)] = np.asarray([[m[i][k] for k in range(n)] for i in range(n)], dtype=float)
    return out


def scales(p: Problem, T: np.ndarray | None = None, D: np.ndarray | None = None) -> tuple[int, int, bool]:
    """(time scale, distance scale, exact) for ``p``."""
    if T is None or D is None:
        T, D = _matrices(p)
    tv = [*T.ravel().tolist()]
    for m in _own_times(p).values():
        tv += m.ravel().tolist()
    for j in p.jobs:
        tv += [j.window[0], j.window[1], j.service, j.pickup_window[0], j.pickup_window[1], j.pickup_service]
    for v in p.vehicles:
        tv += [v.start_time, v.shift_end] + ([v.max_duration] if v.max_duration is not None else [])
    ts, te = _pick_scale(tv)
    ds, de = _pick_scale(D.ravel().tolist())
    return ts, ds, te and de


class _Stop:
    """Iteration (and no-improvement) budget plus the wall-clock guard, which is
    recorded when it is what stopped the search."""

    def __init__(self, params: PyVRPParams):
        from pyvrp.stop import MaxIterations, NoImprovement
        self.max_it = MaxIterations(params.iterations)
        self.no_imp = NoImprovement(params.no_improvement) if params.no_improvement else None
        self.deadline = time.perf_counter() + params.guard_s
        self.guard_hit = False

    def __call__(self, best_cost: int) -> bool:
        done = self.max_it(best_cost)
        if self.no_imp is not None:
            done = self.no_imp(best_cost) or done
        if not done and time.perf_counter() > self.deadline:
            self.guard_hit = True
            return True
        return done


def _dims(p: Problem) -> list[str]:
    dims = sorted({d for v in p.vehicles for d in v.capacity})
    return dims


def build(p: Problem):
    """PyVRP ``ProblemData`` for ``p`` and the maps back: (data, stops of clients,
    stops of shipments, vehicle ids per vehicle type, excluded job ids, scales)."""
    from pyvrp import Client, Depot, Location, ProblemData, Shipment, VehicleType
    T, D = _matrices(p)
    ts, ds, exact = scales(p, T, D)
    dims = _dims(p)
    loads = [j.size.get(d, 0.0) for j in p.jobs for d in dims if d != "count"]
    loads += [v.capacity[d] for v in p.vehicles for d in dims if d != "count"]
    ls_, _le = _pick_scale(loads)
    pts = p.points

    def loc(node: int) -> Location:
        x, y = (pts[node] if pts is not None and node < len(pts) else (0.0, 0.0))
        return Location(float(x), float(y))

    # Depots: every distinct start/end node.
    depot_nodes: list[int] = []
    for v in p.vehicles:
        for n in (v.start, v.end):
            if n not in depot_nodes:
                depot_nodes.append(n)
    locations = [loc(n) for n in depot_nodes]
    loc_node = list(depot_nodes)
    depots = [Depot(i) for i in range(len(depot_nodes))]
    excluded, clients, shipments = [], [], []
    client_job: list[str] = []
    ship_job: list[str] = []
    loc_job: list[str | None] = [None] * len(depot_nodes)

    # Static constraints: one extra load dimension per group of vehicles that may not
    # serve some jobs; such a job loads 1 unit in the dimension of every group that
    # may not serve it, whose capacity there is 0 (exact, and small numbers).
    ok = {(j.id, v.id): compatible(j, v, p.high_value, p.gig_forbidden_age_check)
          for j in p.jobs for v in p.vehicles}
    served = [j for j in p.jobs if any(ok[j.id, v.id] for v in p.vehicles)]
    sigs: dict[tuple, int] = {}
    vsig = []
    for v in p.vehicles:
        sig = tuple(ok[j.id, v.id] for j in served)
        if not all(sig) and sig not in sigs:
            sigs[sig] = len(sigs)
        vsig.append(sigs.get(sig))
    blocks = list(sigs)
    pos = {j.id: k for k, j in enumerate(served)}

    def amount(j) -> list[int]:
        return ([1 if d == "count" else _up(j.size.get(d, 0.0), ls_) for d in dims]
                + [0 if sig[pos[j.id]] else 1 for sig in blocks])

    def prize(j) -> int:
        if j.drop_penalty is None or j.onboard_vehicle is not None:
            return 0
        if p.objective == "cost":
            return int(round(min(j.drop_penalty, 1e9) * COST_SCALE))
        return int(round(min(j.drop_penalty * ds, 1e12)))

    for j in p.jobs:
        if j.id not in pos:
            excluded.append(j.id)
            continue
        req = j.drop_penalty is None or j.onboard_vehicle is not None
        w0, w1 = _up(j.window[0], ts), _down(j.window[1], ts)
        if j.has_pickup:
            pl, dl = len(locations), len(locations) + 1
            locations += [loc(j.pickup), loc(j.node)]
            loc_node += [j.pickup, j.node]
            loc_job += [j.id, j.id]
            shipments.append(Shipment(
                pl, dl, pickup_tw_early=_up(j.pickup_window[0], ts),
                pickup_tw_late=_down(j.pickup_window[1], ts),
                pickup_service_duration=_up(j.pickup_service, ts), delivery_tw_early=w0,
                delivery_tw_late=w1, delivery_service_duration=_up(j.service, ts),
                amount=amount(j), prize=prize(j), required=req, name=j.id))
            ship_job.append(j.id)
        else:
            li = len(locations)
            locations.append(loc(j.node))
            loc_node.append(j.node)
            loc_job.append(j.id)
            clients.append(Client(li, delivery=amount(j), service_duration=_up(j.service, ts),
                                  tw_early=w0, tw_late=w1, prize=prize(j), required=req, name=j.id))
            client_job.append(j.id)
    idx = np.asarray(loc_node, dtype=np.int64)
    dur = np.ceil(T[np.ix_(idx, idx)] * ts - 1e-6).astype(np.int64)
    own_dur = {}
    for k, m in _own_times(p).items():
        own_dur[k] = np.ceil(m[np.ix_(idx, idx)] * ts - 1e-6).astype(np.int64)
        np.fill_diagonal(own_dur[k], 0)
    dist = np.round(D[np.ix_(idx, idx)] * ds).astype(np.int64)
    np.fill_diagonal(dur, 0)
    np.fill_diagonal(dist, 0)
    # Distance profiles: one per distinct cost per km (``cost``: the matrix is in cost
    # units, ``COST_SCALE`` per currency unit), else the scaled distances.
    # A profile per (cost per km, travel-time matrix): riders with their own times
    # (Problem.vehicle_time) have their own duration matrix.
    profiles: dict[tuple, int] = {}
    dist_m, dur_m = [], []
    types, type_vehicles = [], []
    groups: dict[tuple, int] = {}
    for v, vs in zip(p.vehicles, vsig):
        cpk = v.cost_per_km if p.objective == "cost" else 1.0
        tkey = id(p.vehicle_time[v.id]) if v.id in p.vehicle_time else None
        if (cpk, tkey) not in profiles:
            profiles[(cpk, tkey)] = len(profiles)
            if p.objective == "cost":
                dm = np.round(D[np.ix_(idx, idx)] * (p.km_per_unit * cpk * COST_SCALE)).astype(np.int64)
                np.fill_diagonal(dm, 0)
            else:
                dm = dist
            dist_m.append(dm)
            dur_m.append(dur if tkey is None else own_dur[tkey])
        prof = profiles[(cpk, tkey)]
        if p.objective == "cost":
            utc = int(round(v.cost_per_hour * p.hours_per_unit / ts * COST_SCALE))
            fixed = int(round(v.fixed_cost * COST_SCALE))
        else:
            utc = 0
            fixed = VEHICLE_COST_HIERARCHICAL if p.objective == "vehicles_distance" else 0
        cap = [BIG_CAP if d not in v.capacity else _down(v.capacity[d], 1 if d == "count" else ls_) for d in dims]
        cap += [0 if k == vs else BIG_CAP for k in range(len(blocks))]
        attrs = dict(capacity=cap, start_depot=depot_nodes.index(v.start),
                     end_depot=depot_nodes.index(v.end), fixed_cost=fixed,
                     tw_early=_up(v.start_time, ts), tw_late=_down(v.shift_end, ts, 2**62),
                     shift_duration=(_down(v.max_duration, ts, 2**62) if v.max_duration is not None else 2**62),
                     unit_distance_cost=1, unit_duration_cost=utc, profile=prof)
        key = tuple(sorted((k, tuple(x) if isinstance(x, list) else x) for k, x in attrs.items()))
        if key in groups:
            type_vehicles[groups[key]].append(v.id)
            continue
        groups[key] = len(types)
        types.append(attrs)
        type_vehicles.append([v.id])
    vtypes = [VehicleType(num_available=len(type_vehicles[k]), **a, name=type_vehicles[k][0])
              for k, a in enumerate(types)]
    data = ProblemData(locations, clients, depots, vtypes, dist_m, dur_m, [], shipments)
    return data, client_job, ship_job, type_vehicles, excluded, (ts, ds, exact)


def _solve_params(data):
    """PyVRP's defaults, but the largest penalty per unit of violation (a second of
    time warp, a unit of excess load) at least twice the largest prize or fixed cost:
    with costs in currency x ``COST_SCALE`` the default (1e5) lets a search serve a
    job late rather than lose its prize, and it would never become feasible."""
    from pyvrp import PenaltyParams, SolveParams
    top = max([c.prize for c in data.clients()] + [s.prize for s in data.shipments()]
              + [t.fixed_cost for t in data.vehicle_types()] + [0])
    return SolveParams(penalty=PenaltyParams(max_penalty=max(100_000.0, 2.0 * top)))


def solve(p: Problem, params: PyVRPParams = PyVRPParams()) -> BackendResult | None:
    """Solve ``p`` with PyVRP; None when it has no vehicles.  ``status`` is
    ``success``, or ``no_solution`` (no feasible solution in the budget: every job
    dropped)."""
    from pyvrp import solve as pyvrp_solve
    if not p.vehicles:
        return None
    t0 = time.perf_counter()
    data, client_job, ship_job, type_vehicles, excluded, (ts, ds, exact) = build(p)
    routes: Routes = {v.id: [] for v in p.vehicles}
    if not client_job and not ship_job:
        return BackendResult(routes, list(excluded), 0, "success", excluded, 0,
                             time.perf_counter() - t0, False)
    stop = _Stop(params)
    res = pyvrp_solve(data, stop, seed=params.seed, collect_stats=False, display=False,
                      params=_solve_params(data))
    best = res.best
    secs = time.perf_counter() - t0
    if not best.is_feasible():
        return BackendResult(routes, [j.id for j in p.jobs], 0, "no_solution", excluded,
                             res.num_iterations, secs, stop.guard_hit)
    free = [list(vs) for vs in type_vehicles]
    served: set[str] = set()
    for r in best.routes():
        vid = free[r.vehicle_type()].pop(0)
        seq = []
        for act in r:
            if act.is_depot():
                continue
            if act.is_client():
                jid = client_job[act.idx]
                seq.append((jid, DELIVERY))
            else:
                jid = ship_job[act.idx]
                seq.append((jid, PICKUP if act.is_pickup() else DELIVERY))
            served.add(jid)
        routes[vid] = seq
    dropped = [j.id for j in p.jobs if j.id not in served]
    return BackendResult(routes, dropped, int(res.cost()), "success", excluded, res.num_iterations,
                         secs, stop.guard_hit)


__all__ = ["PyVRPParams", "solve", "build", "unsupported", "scales", "COST_SCALE"]
