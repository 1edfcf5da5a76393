"""The OR-Tools adapter: a :class:`Problem` in, routes and dropped jobs out.

Everything OR-Tools specific lives here (``pywrapcp.RoutingModel``):

- one routing node per stop (pickup, delivery) plus one start and one end node per
  vehicle, so every vehicle has its own start position and time;
- transit matrices registered once (``RegisterTransitMatrix``, in C++ speed), the
  time transit including the service time of the node left;
- dimensions ``time`` (windows hard, or soft with ``SetCumulVarSoftUpperBound``;
  shift end; ``SetSpanUpperBoundForVehicle`` for the maximum duration; the span cost
  for the hourly cost; the break via ``SetBreakIntervalsOfVehicle``), one per capacity
  dimension (load starts at what is on board or loaded at the depot, each delivery
  lowers it, a pickup raises it, the end load is zero), and ``jobs`` (+1 per delivery,
  with a soft upper bound at the fair share: the fairness term), and ``drive``
  (travel time only, capped at the vehicle's ``max_drive``: hours of service);
- static compatibility as allowed vehicles per node; pickup-and-delivery pairs
  (same vehicle, pickup first); drop penalties as disjunctions; fixed costs.

Integer scaling: matrices and windows are multiplied by ``scale`` and rounded; in
``cost`` mode costs are in 1/``COST_SCALE`` currency units.

Determinism: with ``solution_limit`` a solve is a pure function of the problem and
parameters, provided nothing inside the search is bounded by the wall clock.  Two
limits of OR-Tools are: ``time_limit`` (the whole search) and ``lns_time_limit``
(default 100 ms: the completion search of each neighbour, which bounds the solution
finalizer that schedules cumuls with an LP when a dimension has soft bounds and span
costs or limits, and the CP large-neighbourhood operators PATH_LNS, FULL_PATH_LNS,
TSP_LNS and INACTIVE_LNS).  Here the CP-LNS operators are always off, the
secondary time-ratio phase is off, and ``lns_time_limit`` equals the time limit, so
no neighbour is cut before the whole search is; the time limit itself is only a
guard in the engine (``Budget.guard_s``), and a solve that reaches it says so
(``BackendResult.guard_hit``).  See docs/routing.md, "Determinism".
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from fleetstream.operators.routing.constraints import compatible
from fleetstream.operators.routing.model import DELIVERY, INF, PICKUP, Problem, Routes

COST_SCALE = 10_000
BIG = 10**12
VEHICLE_COST_HIERARCHICAL = 10**7  # per vehicle (scaled units) in vehicles_distance mode

FIRST = {
    "auto": routing_enums_pb2.FirstSolutionStrategy.AUTOMATIC,
    "parallel_cheapest_insertion": routing_enums_pb2.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION,
    "local_cheapest_insertion": routing_enums_pb2.FirstSolutionStrategy.LOCAL_CHEAPEST_INSERTION,
    "savings": routing_enums_pb2.FirstSolutionStrategy.SAVINGS,
    "path_cheapest_arc": routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC,
    "christofides": routing_enums_pb2.FirstSolutionStrategy.CHRISTOFIDES,
    "global_cheapest_arc": routing_enums_pb2.FirstSolutionStrategy.GLOBAL_CHEAPEST_ARC,
    "sequential_cheapest_insertion": routing_enums_pb2.FirstSolutionStrategy.SEQUENTIAL_CHEAPEST_INSERTION,
}
META = {
    "gls": routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH,
    "sa": routing_enums_pb2.LocalSearchMetaheuristic.SIMULATED_ANNEALING,
    "tabu": routing_enums_pb2.LocalSearchMetaheuristic.TABU_SEARCH,
    "greedy": routing_enums_pb2.LocalSearchMetaheuristic.GREEDY_DESCENT,
    "auto": routing_enums_pb2.LocalSearchMetaheuristic.AUTOMATIC,
}


@dataclass(frozen=True)
class SolverParams:
    """Search settings.  ``solution_limit`` makes a solve deterministic; ``time_limit_s``
    is a wall-clock budget (a guard in the engine, the budget in benchmarks)."""

    time_limit_s: float = 10.0
    lns_time_limit_s: float | None = None
    """Wall-clock limit of each neighbour's completion search; None = the time limit
    (never binds before the search's own limit: the deterministic setting)."""
    solution_limit: int | None = None
    first_solution: str = "parallel_cheapest_insertion"
    metaheuristic: str = "gls"
    gls_lambda: float = 0.1
    scale: float = 1.0
    ils: bool = False
    span_cost: bool = True
    """Charge the hourly cost on the route span.  It makes OR-Tools schedule each
    route with a linear program in its filters (slow on large zones): the engine's
    zone plan turns it off and charges hours through the checker's cost instead."""
    """Iterated local search (ruin and recreate) instead of the metaheuristic alone."""
    log: bool = False

    def __post_init__(self) -> None:
        if self.first_solution not in FIRST:
            raise ValueError(f"first_solution must be one of {sorted(FIRST)}")
        if self.metaheuristic not in META:
            raise ValueError(f"metaheuristic must be one of {sorted(META)}")
        if self.time_limit_s <= 0:
            raise ValueError("time_limit_s must be > 0")
        if self.lns_time_limit_s is not None and self.lns_time_limit_s <= 0:
            raise ValueError("lns_time_limit_s must be > 0")
        if self.solution_limit is not None and self.solution_limit < 1:
            raise ValueError("solution_limit must be >= 1")


@dataclass
class BackendResult:
    routes: Routes
    dropped: list[str]
    objective: int
    status: str
    excluded: list[str]
    """Jobs no vehicle can serve at all (static constraints): not sent to the solver."""
    solutions: int = 0
    """Solutions the search went through (the count ``solution_limit`` bounds)."""
    seconds: float = 0.0
    guard_hit: bool = False
    """The wall-clock time limit stopped the search (not the solution limit nor a
    local optimum): the result depends on machine speed and must be flagged."""


# Local-search operators whose completion is a CP search bounded by lns_time_limit.
CP_LNS_OPERATORS = ("use_path_lns", "use_full_path_lns", "use_tsp_lns", "use_inactive_lns")


def search_parameters(params: SolverParams):
    """OR-Tools search parameters for ``params`` (see the module's "Determinism")."""
    from ortools.util import optional_boolean_pb2
    sp = pywrapcp.DefaultRoutingSearchParameters()
    sp.first_solution_strategy = FIRST[params.first_solution]
    sp.local_search_metaheuristic = META[params.metaheuristic]
    sp.guided_local_search_lambda_coefficient = params.gls_lambda
    sp.time_limit.FromMilliseconds(max(1, int(params.time_limit_s * 1000)))
    lns = params.lns_time_limit_s if params.lns_time_limit_s is not None else params.time_limit_s
    sp.lns_time_limit.FromMilliseconds(max(1, int(lns * 1000)))
    for op in CP_LNS_OPERATORS:
        setattr(sp.local_search_operators, op, optional_boolean_pb2.BOOL_FALSE)
    sp.secondary_ls_time_limit_ratio = 0.0
    sp.use_multi_armed_bandit_concatenate_operators = False
    sp.sat_parameters.num_workers = 1
    if params.solution_limit is not None:
        sp.solution_limit = params.solution_limit
    sp.log_search = params.log
    if params.ils:
        sp.use_iterated_local_search = True
        rr = sp.iterated_local_search_parameters.ruin_recreate_parameters
        ruin = rr.ruin_strategies.add()
        ruin.sisr.max_removed_sequence_size = 10
        ruin.sisr.avg_num_removed_visits = 10
        ruin.sisr.bypass_factor = 0.01
    return sp


def _iv(x: float, scale: float, cap: int) -> int:
    if x == INF or x >= cap:
        return cap
    return int(round(x * scale))


def solve(p: Problem, params: SolverParams = SolverParams(),
          initial: Routes | None = None) -> BackendResult | None:
    """Solve ``p`` with OR-Tools; None when no solution was found in the budget."""
    sc = params.scale
    V = len(p.vehicles)
    visits: list[tuple[str, str, int]] = []   # (job id, kind, location)
    allowed: dict[str, list[int]] = {}
    excluded = []
    for j in p.jobs:
        ok = [vi for vi, v in enumerate(p.vehicles) if compatible(j, v, p.high_value, p.gig_forbidden_age_check)]
        if not ok:
            excluded.append(j.id)
            continue
        allowed[j.id] = ok
        if j.has_pickup:
            visits.append((j.id, PICKUP, j.pickup))  # type: ignore[arg-type]
        visits.append((j.id, DELIVERY, j.node))
    nv = len(visits)
    # Vehicles sharing a start or end location share its routing node (fewer nodes,
    # a faster search); every vehicle still has its own start time.
    depot_nodes: dict[int, int] = {}
    for v in p.vehicles:
        for l in (v.start, v.end):
            depot_nodes.setdefault(l, nv + len(depot_nodes))
    loc = [x[2] for x in visits] + list(depot_nodes)
    n = len(loc)
    starts = [depot_nodes[v.start] for v in p.vehicles]
    ends = [depot_nodes[v.end] for v in p.vehicles]
    if V == 0:
        return None
    mgr = pywrapcp.RoutingIndexManager(n, V, starts, ends)
    model = pywrapcp.RoutingModel(mgr)
    solver = model.solver()
    horizon = max([v.shift_end for v in p.vehicles if v.shift_end < INF] or [0.0])
    horizon_i = _iv(horizon, sc, BIG) if horizon > 0 else 10**9
    horizon_i = max(horizon_i, 1) + 1
    svc = [0.0] * n
    for k, (jid, kind, _l) in enumerate(visits):
        j = p.job(jid)
        svc[k] = j.pickup_service if kind == PICKUP else j.service
    T, D = p.time, p.dist
    # Travel time (+ service at the origin) and distance matrices over routing nodes.
    tm = [[0] * n for _ in range(n)]
    dm = [[0] * n for _ in range(n)]
    for a in range(n):
        la, sa = loc[a], svc[a]
        Ta, Da, ta, da = T[la], D[la], tm[a], dm[a]
        for b in range(n):
            lb = loc[b]
            ta[b] = int(round((Ta[lb] + sa) * sc))
            da[b] = int(round(Da[lb] * sc))
    # Vehicles with their own travel times (Problem.vehicle_time: riders): one time
    # matrix per distinct matrix, the same arithmetic.
    own: dict[int, tuple] = {}     # id(matrix) -> (matrix, routing-node time matrix)
    for v in p.vehicles:
        Tv = p.vehicle_time.get(v.id)
        if Tv is not None and id(Tv) not in own:
            tv = [[int(round((Tv[loc[a]][loc[b]] + svc[a]) * sc)) for b in range(n)] for a in range(n)]
            own[id(Tv)] = (Tv, tv)
    # Routing index order equals node order for non-start/end nodes; use the manager.
    idx_of_node = [mgr.NodeToIndex(i) if i < nv else -1 for i in range(n)]

    def node_matrix_to_index(mat: list[list[int]]) -> int:
        return model.RegisterTransitMatrix(mat)

    time_cb = node_matrix_to_index(tm)
    # Arc costs.
    if p.objective in ("distance", "vehicles_distance"):
        dist_cb = node_matrix_to_index(dm)
        model.SetArcCostEvaluatorOfAllVehicles(dist_cb)
        if p.objective == "vehicles_distance":
            for vi in range(V):
                model.SetFixedCostOfVehicle(VEHICLE_COST_HIERARCHICAL, vi)
    else:
        classes: dict[tuple[float, float], int] = {}
        is_delivery = [k < nv and visits[k][1] == DELIVERY for k in range(n)]
        for vi, v in enumerate(p.vehicles):
            key = (v.cost_per_km, v.cost_per_stop)
            if key not in classes:
                f = v.cost_per_km * p.km_per_unit * COST_SCALE / sc
                stop = int(round(v.cost_per_stop * COST_SCALE))
                mat = [[int(round(dm[a][b] * f)) + (stop if is_delivery[b] else 0) for b in range(n)]
                       for a in range(n)]
                classes[key] = node_matrix_to_index(mat)
            model.SetArcCostEvaluatorOfVehicle(classes[key], vi)
            if v.fixed_cost:
                model.SetFixedCostOfVehicle(int(round(v.fixed_cost * COST_SCALE)), vi)
    # Time.
    if own:
        own_cb = {k: node_matrix_to_index(tv) for k, (_Tv, tv) in own.items()}
        per_vehicle = [own_cb[id(p.vehicle_time[v.id])] if v.id in p.vehicle_time else time_cb
                       for v in p.vehicles]
        model.AddDimensionWithVehicleTransits(per_vehicle, horizon_i, horizon_i, False, "time")
    else:
        model.AddDimension(time_cb, horizon_i, horizon_i, False, "time")
    td = model.GetDimensionOrDie("time")
    soft = p.lateness_cost_per_unit > 0
    late_coef = int(round(p.lateness_cost_per_unit * COST_SCALE / sc)) if soft else 0
    if soft and late_coef == 0:
        late_coef = 1
    for k, (jid, kind, _l) in enumerate(visits):
        j = p.job(jid)
        w0, w1 = j.pickup_window if kind == PICKUP else j.window
        idx = idx_of_node[k]
        lo = _iv(w0, sc, horizon_i)
        if soft:
            hi = _iv(w1 + p.max_lateness, sc, horizon_i) if p.max_lateness < INF else horizon_i
            td.CumulVar(idx).SetRange(min(lo, hi), hi)
            if w1 < INF:
                td.SetCumulVarSoftUpperBound(idx, _iv(w1, sc, horizon_i), late_coef)
        else:
            hi = _iv(w1, sc, horizon_i)
            if lo > hi:
                lo = hi
            td.CumulVar(idx).SetRange(lo, hi)
    for vi, v in enumerate(p.vehicles):
        s_i, e_i = model.Start(vi), model.End(vi)
        end_cap = _iv(v.shift_end, sc, horizon_i)
        td.CumulVar(s_i).SetRange(_iv(v.start_time, sc, horizon_i), end_cap)
        td.CumulVar(e_i).SetMax(end_cap)
        if v.max_duration is not None:
            td.SetSpanUpperBoundForVehicle(_iv(v.max_duration, sc, horizon_i), vi)
        if p.objective == "cost" and v.cost_per_hour and params.span_cost:
            coef = int(round(v.cost_per_hour * p.hours_per_unit * COST_SCALE / sc))
            td.SetSpanCostCoefficientForVehicle(max(1, coef), vi)
        model.AddVariableMinimizedByFinalizer(td.CumulVar(s_i))
        model.AddVariableMinimizedByFinalizer(td.CumulVar(e_i))
    if any(v.break_ is not None for v in p.vehicles):
        visit_transit = [0] * model.Size()
        for k in range(nv):
            visit_transit[idx_of_node[k]] = int(round(svc[k] * sc))
        for vi, v in enumerate(p.vehicles):
            b = v.break_
            if b is None:
                continue
            iv = solver.FixedDurationIntervalVar(_iv(b.earliest, sc, horizon_i), _iv(b.latest, sc, horizon_i),
                                                 int(round(b.duration * sc)), True, f"break-{v.id}")
            # The break is needed only when the route runs past its earliest start, and
            # then lies inside the route.
            end_v = td.CumulVar(model.End(vi))
            solver.Add(iv.PerformedExpr() >= (end_v > _iv(b.earliest, sc, horizon_i)))
            solver.Add(iv.SafeEndExpr(0) <= end_v)
            td.SetBreakIntervalsOfVehicle([iv], vi, visit_transit)
    # Hours of service: pure driving time (no service, no waiting) as its own dimension,
    # capped per vehicle (rounded down: never more than the limit).
    if any(v.max_drive is not None for v in p.vehicles):
        drive_cb = node_matrix_to_index([[int(round(T[loc[a]][loc[b]] * sc)) for b in range(n)]
                                         for a in range(n)])
        caps = [int(math.floor(v.max_drive * sc + 1e-6)) if v.max_drive is not None else horizon_i * 4
                for v in p.vehicles]
        if own:
            own_drive = {k: node_matrix_to_index([[int(round(Tv[loc[a]][loc[b]] * sc)) for b in range(n)]
                                                  for a in range(n)])
                         for k, (Tv, _tv) in own.items()}
            model.AddDimensionWithVehicleTransitAndCapacity(
                [own_drive[id(p.vehicle_time[v.id])] if v.id in p.vehicle_time else drive_cb
                 for v in p.vehicles], 0, caps, True, "drive")
        else:
            model.AddDimensionWithVehicleCapacity(drive_cb, 0, caps, True, "drive")
    # Capacities: the load at the start is what the route will deliver from the vehicle.
    dims = sorted({d for v in p.vehicles for d in v.capacity})
    pickups = any(kind == PICKUP for _j, kind, _l in visits)
    for d in dims:
        demand = [0] * n
        for k, (jid, kind, _l) in enumerate(visits):
            q = 1.0 if d == "count" else p.job(jid).size.get(d, 0.0)
            qi = int(math.ceil(q * 1000 - 1e-6))
            # Without pickups the classic form (load delivered so far) is equivalent and
            # propagates faster; with pickups, the load starts at what the route delivers
            # from the vehicle and ends at zero.
            demand[k] = qi if (kind == PICKUP or not pickups) else -qi
        cb = model.RegisterUnaryTransitVector(demand)
        caps = [int(math.floor(v.capacity.get(d, 1e12) * 1000 + 1e-6)) for v in p.vehicles]
        model.AddDimensionWithVehicleCapacity(cb, 0, caps, not pickups, f"cap_{d}")
        if pickups:
            cd = model.GetDimensionOrDie(f"cap_{d}")
            for vi in range(V):
                cd.CumulVar(model.End(vi)).SetValue(0)
    # Fairness: jobs per route above the fair share cost extra.
    if p.fairness_cost_per_stop > 0:
        ones = [1 if k < nv and visits[k][1] == DELIVERY else 0 for k in range(n)]
        cb = model.RegisterUnaryTransitVector(ones)
        model.AddDimension(cb, 0, nv + 1, True, "jobs")
        jd = model.GetDimensionOrDie("jobs")
        share = max(1, math.ceil(len(p.jobs) / max(1, V)))
        coef = int(round(p.fairness_cost_per_stop * COST_SCALE))
        for vi in range(V):
            jd.SetCumulVarSoftUpperBound(model.End(vi), share, coef)
    # Pairs, allowed vehicles, drops.
    by_job: dict[str, list[int]] = {}
    for k, (jid, kind, _l) in enumerate(visits):
        by_job.setdefault(jid, []).append(idx_of_node[k])
    for jid, idxs in by_job.items():
        j = p.job(jid)
        ok = allowed[jid]
        if len(ok) < V:
            # (SetAllowedVehiclesForIndex's span argument does not bind in this
            # OR-Tools build: remove the other vehicles from the domain instead.)
            okset = set(ok)
            banned = [vi for vi in range(V) if vi not in okset]
            for idx in idxs:
                model.VehicleVar(idx).RemoveValues(banned)
        if len(idxs) == 2:
            pi, di = idxs
            model.AddPickupAndDelivery(pi, di)
            solver.Add(model.VehicleVar(pi) == model.VehicleVar(di))
            solver.Add(td.CumulVar(pi) <= td.CumulVar(di))
        if j.drop_penalty is not None:
            if p.objective == "cost":
                pen = int(round(j.drop_penalty * COST_SCALE))
            else:
                pen = int(round(j.drop_penalty * sc))
            for idx in idxs:
                model.AddDisjunction([idx], max(1, pen // len(idxs)))
    # Search.
    sp = search_parameters(params)
    n_solutions = [0]

    def _count() -> None:
        n_solutions[0] += 1

    model.AddAtSolutionCallback(_count)
    model.CloseModelWithParameters(sp)
    sol = None
    t0 = time.perf_counter()
    if initial:
        node_of = {(jid, kind): k for k, (jid, kind, _l) in enumerate(visits)}
        vidx = {v.id: i for i, v in enumerate(p.vehicles)}
        init = [[] for _ in range(V)]
        for vid, stops in initial.items():
            if vid in vidx:
                init[vidx[vid]] = [node_of[s] for s in stops if s in node_of]
        start = model.ReadAssignmentFromRoutes(init, True)
        if start is not None:
            sol = model.SolveFromAssignmentWithParameters(start, sp)
    if sol is None:
        sol = model.SolveWithParameters(sp)
    secs = time.perf_counter() - t0
    status = {0: "not_solved", 1: "success", 2: "partial_success", 3: "fail", 4: "fail_timeout",
              5: "invalid", 6: "infeasible", 7: "optimal"}.get(model.status(), str(model.status()))
    # The search stops at a local optimum (success / optimal), at the solution limit or
    # at the time limit: short of the solution limit and of a local optimum, it was
    # the time limit (the guard).
    limit = params.solution_limit
    guard_hit = status == "fail_timeout" or (
        status == "partial_success" and (limit is None or n_solutions[0] < limit))
    if sol is None:
        if guard_hit:
            return BackendResult({v.id: [] for v in p.vehicles}, [j.id for j in p.jobs], 0,
                                 status, excluded, n_solutions[0], secs, True)
        return None
    routes: Routes = {}
    served: set[str] = set()
    for vi, v in enumerate(p.vehicles):
        idx = model.Start(vi)
        seq = []
        idx = sol.Value(model.NextVar(idx))
        while not model.IsEnd(idx):
            k = mgr.IndexToNode(idx)
            jid, kind, _l = visits[k]
            seq.append((jid, kind))
            served.add(jid)
            idx = sol.Value(model.NextVar(idx))
        routes[v.id] = seq
    dropped = [j.id for j in p.jobs if j.id not in served]
    return BackendResult(routes, dropped, sol.ObjectiveValue(), status, excluded, n_solutions[0],
                         secs, guard_hit)
