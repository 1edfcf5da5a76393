"""Assignment: who serves which order, and in which sequence.

- ``assign_pending``: each sweep, pending orders go to the cheapest feasible
  insertion among the nearest candidate vehicles (``candidates``);
- the zone plan: once per wave of shift starts, the routing strategy plans every
  depot vehicle at once.  Three steps, so the solve can run elsewhere:
  :meth:`Assignment.plan_request` gathers plain data (copies),
  :func:`solve_plan` is pure (no engine), :meth:`Assignment.apply_plan` decides;
- periodic re-optimization: every active route is re-sequenced once per
  ``reopt_interval_s``, in the same three steps (``reopt_request``,
  :func:`solve_reopt`, ``apply_reopt``).
"""

from __future__ import annotations

import pickle
import zlib
from dataclasses import dataclass, field, replace
from typing import Any

from fleetstream.contract.settings import EngineSettings
from fleetstream.operators.balance import Balance, zone_balance
from fleetstream.operators.dispatch import (Rejection, Timing, costed_alternatives, inserted_route,
                                             route_timing, static_reject)
from fleetstream.operators.routing.solver import PlanResult, RerouteResult
from fleetstream.operators.state import (ACTIVE, ASSIGNED, AT_DEPOT, DELIVERY, PENDING, PICKUP, Order,
                                         Vehicle)
from fleetstream.operators.traveltime import fast_distance_m
from fleetstream.operators.zone.governance import Governance
from fleetstream.operators.zone.overrides import release_pins
from fleetstream.operators.zone.records import Emitter, Explanation, Out
from fleetstream.operators.zone.stability import frozen_count, frozen_settings, restart_after
from fleetstream.operators.zone.state import ZoneState
from fleetstream.operators.zone.world import TravelModel, World, pace_factor, start_of

C_WINDOW_CLOSED = "window_closed"
IDLE_CANDIDATES = 3
"""Idle vehicles (empty route, nothing on board) added to an order's nearest candidates,
nearest first (docs/routing.md, "Workload balance")."""


def _copies(x: Any) -> Any:
    """Independent copies of plain state for a solver request: a pickle round trip,
    3x faster than ``copy.deepcopy`` (9 vs 27 ms for a zone of 833 orders)."""
    return pickle.loads(pickle.dumps(x, protocol=pickle.HIGHEST_PROTOCOL))


def as_stops(seq: list) -> list[tuple[str, str]]:
    """A solver's stop sequence as route stops (``(order_id, PICKUP|DELIVERY)``)."""
    return [(oid, PICKUP if k == PICKUP else DELIVERY) for oid, k in seq]


@dataclass
class PlanRequest:
    """Everything the zone plan needs, as plain copies (picklable)."""

    vehicles: list[Vehicle]          # the depot vehicles (copies), by id
    orders: list[Order]              # pending orders and those on their routes (copies), by id
    current: dict[str, list]         # the depot vehicles' routes now
    now: float
    travel: TravelModel
    strategy: Any                    # a RoutingStrategy


def solve_plan(req: PlanRequest) -> PlanResult | None:
    """The zone plan of ``req`` (pure: no engine, no zone state)."""
    ans = req.strategy.plan(req.vehicles, req.orders, req.current, req.now, req.travel.tt,
                            req.travel.dist)
    return None if ans is None else ans[0]


@dataclass
class ReoptJob:
    """One route for periodic re-optimization (``skip``: unchanged since it was
    judged, nothing to solve)."""

    vehicle_id: str
    route: list[tuple[str, str]]
    skip: bool = False
    vehicle: Vehicle | None = None   # copy
    orders: dict[str, Order] = field(default_factory=dict)  # copies of the route's orders
    keep_first: bool = False
    time_factor: float = 1.0
    # -- plan stability (operators/zone/stability.py): the route's first ``frozen``
    # stops stay as they are; ``vehicle`` then starts at the next one (kept first,
    # ``keep_first``), whose planned service start is ``start_ts``.
    frozen: int = 0
    start_ts: float | None = None


@dataclass
class ReoptRequest:
    now: float
    conds: tuple                     # event ids of the conditions active at ``now``
    jobs: list[ReoptJob]
    travel: TravelModel
    strategy: Any


def solve_reopt(req: ReoptRequest) -> list[RerouteResult | None]:
    """One re-route result (or None) per job of ``req`` (pure)."""
    return [None if j.skip else req.strategy.reroute_result(
        j.vehicle, j.orders, req.now if j.start_ts is None else j.start_ts, req.travel.tt,
        req.travel.dist, keep_first=j.keep_first, time_factor=j.time_factor) for j in req.jobs]


class Assignment:
    """Sweeps' assignment of pending orders, the zone plan, periodic re-optimization."""

    def __init__(self, state: ZoneState, settings: EngineSettings, world: World,
                 governance: Governance, emit: Emitter, strategy: Any, jobs: Any = None):
        self.jobs = jobs  # SolverJobs: where plans are solved (None: inline)
        self.state = state
        self.settings = settings
        self.world = world
        self.governance = governance
        self.emit = emit
        self.strategy = strategy

    # ------------------------------------------------------------------ insertion

    def candidates(self, o: Order, now: float) -> list[Vehicle]:
        """Vehicles that pass the static constraints, nearest route first
        (``max_insert_candidates``), then up to :data:`IDLE_CANDIDATES` idle ones."""
        orders = self.state.orders
        scored = []
        reserved = self.state.plan_vehicles
        locked = self.state.locked  # a dispatcher's locked route takes no new order
        for v in self.state.vehicles.values():
            if (static_reject(o, v) is not None or (reserved and v.id in reserved)
                    or (locked and v.id in locked)):
                continue
            best = fast_distance_m(v.pos if v.status == ACTIVE else v.start, o.location)
            route = v.route
            step = 1 if len(route) <= 12 else len(route) // 12
            for i in range(0, len(route), step):
                sid, kind = route[i]
                d = fast_distance_m(orders[sid].stop_point(kind), o.location)
                if d < best:
                    best = d
            scored.append((best, v.id, v))
        scored.sort(key=lambda t: (t[0], t[1]))
        n = self.settings.max_insert_candidates
        # An idle vehicle (nothing on its route or on board) is near nothing but its own
        # position, often the depot: among the nearest it would never be offered the
        # orders of a busy zone.  The nearest IDLE_CANDIDATES idle ones are always
        # candidates too (the workload balance prefers them when the detour compares).
        idle = [t for t in scored[n:] if not t[2].route and not t[2].onboard][:IDLE_CANDIDATES]
        return [t[2] for t in scored[:n]] + [t[2] for t in idle]

    def assign_pending(self, now: float, triggers: list[str], out: list[Out],
                       kind: str = "assign") -> None:
        """Cheapest feasible insertion of every pending order (most urgent first); one
        decision per vehicle that got orders."""
        s, st = self.settings, self.state
        release_pins(st, self.emit, now, triggers, out)  # pins on vehicles out of service
        pending = [o for o in st.orders.values() if o.status == PENDING]
        if not pending or not any(v.available for v in st.vehicles.values()):
            return
        if now - st.last_shift_start_ts < s.plan_settle_s:
            pending = [o for o in pending if o.kind != "parcel"]
        if st.plan_orders:  # reserved by the zone plan being solved
            pending = [o for o in pending if o.id not in st.plan_orders]
        pending.sort(key=lambda o: (-o.priority, o.window_end, o.id))
        travel = self.world.travel
        originals: dict[str, list] = {}
        assigned: dict[str, list[str]] = {}
        alternatives: dict[str, dict] = {}  # order id -> what its insertion costed
        timings: dict[str, Timing] = {}
        balance = self.balance(now, timings)  # workload balance (operators/balance.py)
        frozen = frozen_settings(s)            # plan stability: no insertion in a frozen head
        for o in pending:
            if o.window_end <= now:
                if not o.unassigned_alerted:
                    o.unassigned_alerted = True
                    self.emit.alert(out, now, "unassigned", "critical",
                                    f"Order {o.id} could not be served before its window closed",
                                    None, [o.id], {"reasons": [{"constraint": C_WINDOW_CLOSED}]},
                                    triggers)
                continue
            if o.unassigned_alerted and now < o.retry_ts:
                continue
            cands = self.candidates(o, now)
            for v in cands:
                if v.id not in timings:
                    pos, ts = start_of(v, now)
                    timings[v.id] = route_timing(v, v.route, st.orders, pos, ts, travel.tt)
                if frozen != (0.0, 0):
                    timings[v.id].min_pos = frozen_count(v, st.orders, now, travel.tt, *frozen)
            ins, rej = self.strategy.insert(o, cands, st.orders, now, travel.tt, travel.dist,
                                            timings, balance)
            if ins is None:
                o.retry_ts = now + s.unassigned_retry_s
                if not o.unassigned_alerted:
                    o.unassigned_alerted = True
                    self.unassigned_alert(o, rej, now, triggers, out)
                continue
            v = st.vehicles[ins.vehicle_id]
            originals.setdefault(v.id, list(v.route))
            # Tentatively on the route, so the next orders of this sweep see it.
            v.route = inserted_route(v.route, ins)
            o.vehicle_id = v.id
            o.status = ASSIGNED
            timings.pop(v.id, None)
            balance.add(v.id, 1.0, ins.added_s)
            assigned.setdefault(v.id, []).append(o.id)
            if kind != "redispatch":  # redispatch alternatives have their own type
                alternatives[o.id] = costed_alternatives(ins, rej)
        for vid, oids in assigned.items():
            v = st.vehicles[vid]
            new_route = list(v.route)
            v.route = originals[vid]  # decide applies (auto) or proposes
            for oid in oids:
                st.orders[oid].status = PENDING
            n_new = len(oids)
            self.governance.decide(out, kind if kind == "redispatch" else "assign", now, oids,
                                   {vid: new_route}, triggers, Explanation(
                                       f"{n_new} order{'s' if n_new > 1 else ''} added to "
                                       f"{vid} ({v.fleet_type} {v.vehicle_type}) by cheapest "
                                       "feasible insertion",
                                       reasons=[{"rule": "cheapest_feasible_insertion",
                                                 "candidates_per_order": s.max_insert_candidates}],
                                       alternatives=[alternatives[oid] for oid in oids
                                                     if oid in alternatives] or None,
                                       strategy=self.strategy.name))

    def balance(self, now: float, timings: dict[str, Timing] | None = None) -> Balance:
        """The zone's workload balance at ``now`` (``engine.balance_weight``; loads from
        the vehicles' routes; ``timings``: route timings to reuse and fill)."""
        st, tt = self.state, self.world.travel.tt
        cache = timings if timings is not None else {}

        def end_ts(v: Vehicle) -> float:
            t = cache.get(v.id)
            if t is None:
                pos, ts = start_of(v, now)
                t = cache[v.id] = route_timing(v, v.route, st.orders, pos, ts, tt)
            return t.end_ts

        return zone_balance(self.settings.balance_weight, st.vehicles.values(), st.orders, now,
                            end_ts, st.done)

    def unassigned_alert(self, o: Order, rej: Rejection, now: float, triggers: list[str],
                         out: list[Out]) -> None:
        ranked = rej.ranked()
        if not ranked:
            per: dict[str, int] = {}
            for v in self.state.vehicles.values():
                why = static_reject(o, v)
                if why:
                    per[why] = per.get(why, 0) + 1
            ranked = [{"constraint": c, "vehicles": n} for c, n in
                      sorted(per.items(), key=lambda kv: (-kv[1], kv[0]))]
        top = ranked[0]["constraint"] if ranked else "no_vehicle"
        self.emit.alert(out, now, "unassigned", "warning",
                        f"Order {o.id} has no feasible vehicle yet (mostly: {top})", None, [o.id],
                        {"reasons": ranked}, triggers)

    # ------------------------------------------------------------------ zone plan

    def maybe_plan(self, now: float, triggers: list[str], out: list[Out]) -> None:
        """Plan the zone once per wave of shift starts, at the first sweep after the
        wave settled (``plan_settle_s`` without a new shift start)."""
        req = self.plan_request(now)
        if req is None:
            return
        allowance = self.settings.plan_solve_allowance_s
        if allowance <= 0 or self.jobs is None:
            self.apply_plan(req, solve_plan(req), now, triggers, out)
            return
        # Off the event path: solved by a solver job, applied at now + allowance.
        st = self.state
        st.plan_orders = {o.id for o in req.orders}
        st.plan_vehicles = {v.id for v in req.vehicles}
        self.jobs.submit("plan", solve_plan, req, now + allowance, now, meta=list(triggers))
        st.count("plan_jobs")

    def apply_job(self, job: Any, res: Any, out: list[Out]) -> None:
        """Apply a solver job's result at its due time (``ZoneEngine.apply_due_jobs``)."""
        if job.kind == "plan":
            self.apply_plan_job(job.request, res, job.due_ts, list(job.meta), out,
                                {"id": job.job_id, "requested_ts": job.submitted_ts,
                                 "applied_ts": job.due_ts})
        elif job.kind == "reopt":
            self.apply_reopt_job(job.request, res, job.due_ts, list(job.meta), out)
        else:
            raise ValueError(f"unknown solver job kind {job.kind!r}")

    def apply_plan_job(self, req: PlanRequest, res: PlanResult | None, now: float,
                       triggers: list[str], out: list[Out], job_info: dict | None = None) -> None:
        """Apply a zone plan solved off the event path, reconciled with what happened
        since its request (the rule in docs/architecture.md, "Solver jobs"):

        - a vehicle that left the depot, became unavailable or whose route changed
          since the request keeps its route; the plan's orders for it stay pending
          (the next sweep inserts them);
        - an order cancelled, finished or assigned elsewhere meanwhile is left out of
          the plan's routes (with both its stops);
        - orders created meanwhile were never reserved: sweeps inserted them into
          vehicles outside the plan, or they wait for the next sweep.
        """
        st = self.state
        st.plan_orders, st.plan_vehicles = set(), set()
        if res is None:
            return
        planned = {v.id for v in req.vehicles}
        keep: dict[str, list] = {}
        stale = 0
        for v in req.vehicles:
            cur = st.vehicles.get(v.id)
            if (cur is None or cur.status != AT_DEPOT
                    or [tuple(s) for s in cur.route] != req.current.get(v.id, [])):
                stale += 1
                continue
            stops = []
            for oid, k in res.routes.get(v.id, []):
                o = st.orders.get(oid)
                if o is None or not (o.status == PENDING or
                                     (o.status == ASSIGNED and o.vehicle_id in planned)):
                    continue
                stops.append((oid, k))
            keep[v.id] = stops
        dropped = sum(len(r) for r in res.routes.values()) - sum(len(r) for r in keep.values())
        if stale or dropped:
            st.count("plan_reconciled_vehicles", stale)
            st.count("plan_reconciled_stops", dropped)
        res = replace(res, routes=keep,
                      unassigned=[u for u in res.unassigned
                                  if u.job_id in st.orders and st.orders[u.job_id].status == PENDING])
        if job_info is not None:
            job_info = {**job_info, "reconciled_vehicles": stale, "reconciled_stops": dropped}
        self.apply_plan(req, res, now, triggers, out, only=keep, job_info=job_info)

    def plan_request(self, now: float) -> PlanRequest | None:
        """The zone plan's input when a plan is due (and the wave marked planned), else None."""
        st = self.state
        cfg = self.strategy.config
        if cfg is None or not cfg.plan_enabled:
            return None
        if (st.plan_wave_ts >= st.last_shift_start_ts
                or now - st.last_shift_start_ts < self.settings.plan_settle_s):
            return None
        pinned_on = set(st.pinned.values())  # overrides: locked routes, pinned orders stay
        depot = sorted((v for v in st.vehicles.values() if v.status == AT_DEPOT
                        and v.id not in st.locked and v.id not in pinned_on), key=lambda v: v.id)
        pending = [o for o in st.orders.values() if o.status == PENDING and o.window_end > now]
        if not depot or sum(1 for o in pending if o.kind == "parcel") < cfg.plan_min_orders:
            return None
        st.plan_wave_ts = now
        on_routes = [st.orders[oid] for v in depot for oid, _k in v.route
                     if oid in st.orders and st.orders[oid].status == ASSIGNED]
        orders = sorted({o.id: o for o in pending + on_routes}.values(), key=lambda o: o.id)
        current = {v.id: [tuple(s) for s in v.route] for v in depot}
        vehicles, orders = _copies((depot, orders))
        return PlanRequest(vehicles, orders, current, now, self.world.travel, self.strategy)

    def apply_plan(self, req: PlanRequest, res: PlanResult | None, now: float,
                   triggers: list[str], out: list[Out], only: dict | None = None,
                   job_info: dict | None = None) -> None:
        """One assign decision per depot vehicle whose route the plan changes; an
        alert per order the plan left out."""
        if res is None:
            return
        st = self.state
        st.count("plans")
        guard_hit = bool(res.stats.get("guard_hit") or res.stats.get("time_guard_hit"))
        st.count("plan_time_guard_hit", 1 if guard_hit else 0)
        plan_summary = {"vehicles": len(req.vehicles), "orders": len(req.orders),
                        "vehicles_used": res.stats.get("vehicles_used"),
                        "distance_km": round(res.distance / 1000.0, 1), "cost": round(res.cost, 2),
                        "unassigned": len(res.unassigned), "stops_spread": res.stops_spread,
                        "hours_spread": round(res.hours_spread, 2),
                        "independent_check": "feasible" if res.feasible else "violations",
                        "status": res.status}
        if guard_hit:  # the wall-clock guard cut the search: say so on every decision
            plan_summary["guard_hit"] = True
        if job_info is not None:  # solved off the event path (a solver job)
            plan_summary["solver_job"] = job_info
        backend = res.stats.get("backend") or "ortools"
        pb = req.strategy.config.plan_budget
        budget = ({"iterations": pb.iterations, "seed": pb.seed} if backend == "pyvrp"
                  else {"solution_limit": pb.solution_limit})
        for vid in [v.id for v in req.vehicles]:
            if (only is not None and vid not in only) or vid in st.locked:
                continue
            v = st.vehicles[vid]
            new = as_stops(res.routes.get(vid, []))
            if new == [tuple(s) for s in v.route]:
                continue
            before = {vid: [tuple(s) for s in v.route]}
            oids = [oid for oid, k in new if k == DELIVERY]
            self.governance.decide(out, "assign", now, oids, {vid: new}, triggers, Explanation(
                f"Zone plan: {len(oids)} orders for {vid} ({v.fleet_type} {v.vehicle_type})",
                reasons=[{"rule": "shift_start_plan", "solver": backend, **budget}],
                expected_effect=self.governance.effect(before, {vid: new}, now, oids),
                plan=plan_summary, strategy=req.strategy.name))
        for u in res.unassigned:
            o = st.orders.get(u.job_id)
            if o is None or o.unassigned_alerted:
                continue
            o.unassigned_alerted = True
            o.retry_ts = now + self.settings.unassigned_retry_s
            top = u.reasons[0]["constraint"] if u.reasons else "no_vehicle"
            self.emit.alert(out, now, "unassigned", "warning",
                            f"Order {o.id} left out of the zone plan (mostly: {top})", None, [o.id],
                            {"reasons": u.reasons}, triggers)

    # ------------------------------------------------------------------ re-optimization

    def maybe_reoptimize(self, now: float, triggers: list[str], out: list[Out]) -> None:
        """Periodic re-optimization: every active route is re-sequenced once per
        ``reopt_interval_s`` when its cost drops by at least ``reopt_min_gain``.  The
        vehicles are spread over the sweeps of the interval (a fixed bucket per
        vehicle id), so the work comes a few routes per sweep rather than as one burst
        that would hold up the zone's events.  Off when re-routing is off."""
        req = self.reopt_request(now)
        if req is None:
            return
        if (self.jobs is None or self.settings.plan_solve_allowance_s <= 0
                or all(j.skip for j in req.jobs)):
            self.apply_reopt(req, solve_reopt(req), now, triggers, out)
            return
        # Off the event path: solved by a solver job, applied at the next sweep.
        self.jobs.submit("reopt", solve_reopt, req, now + self.settings.sweep_interval_s, now,
                         meta=list(triggers))
        self.state.count("reopt_jobs")

    def apply_reopt_job(self, req: ReoptRequest, results: list[RerouteResult | None], now: float,
                        triggers: list[str], out: list[Out]) -> None:
        """Apply re-optimizations solved off the event path, one sweep after their
        request, reconciled with what happened since (docs/architecture.md, "Solver
        jobs"): a route is re-sequenced only if it is still the judged one less the
        stops served since (any other change, or the vehicle leaving service or
        entering a proposal, discards the result); the new sequence keeps the remaining
        stops in the solved order, and a stop being served stays first."""
        st = self.state
        jobs: list[ReoptJob] = []
        res: list[RerouteResult | None] = []
        for job, r in zip(req.jobs, results):
            if job.skip or r is None:
                jobs.append(job)
                res.append(r)
                continue
            v = st.vehicles.get(job.vehicle_id)
            cur = [tuple(s) for s in v.route] if v is not None else []
            if (v is None or v.status != ACTIVE or st.untouchable(v.id) or len(cur) < 2
                    or cur != job.route[len(job.route) - len(cur):]):
                st.count("reopt_stale")
                continue
            left = set(cur)
            # the head kept as it was solved (the frozen stops and the one kept first),
            # less the stops served since; the stop being served stays first
            fixed = job.frozen + (1 if job.keep_first else 0) - (len(job.route) - len(cur))
            fixed = max(fixed, 1 if v.at_stop is not None else 0)
            head = cur[:fixed]
            seq = [s for s in as_stops(r.sequence) if s in left and s not in head]
            new = head + seq
            jobs.append(replace(job, route=cur, keep_first=bool(head),
                                frozen=max(0, len(head) - 1)))
            res.append(replace(r, sequence=seq, changed=new != cur))
        self.apply_reopt(replace(req, jobs=jobs), res, now, triggers, out)

    def reopt_request(self, now: float) -> ReoptRequest | None:
        """The routes due for re-optimization at this sweep (copies), else None."""
        st = self.state
        cfg = self.strategy.config
        if cfg is None or self.settings.autonomy("reroute") == "off":
            return None
        sw = self.settings.sweep_interval_s
        nb = max(1, int(round(cfg.reopt_interval_s / sw)))
        idx = int(now // sw)
        last = st.next_reopt_ts  # the last sweep index handled
        if last is None:
            st.next_reopt_ts = idx
            return None
        if idx <= last:
            return None
        buckets = {i % nb for i in range(int(last) + 1, min(idx, int(last) + nb) + 1)}
        st.next_reopt_ts = idx
        conds = tuple(c[4] for c in st.conditions if c[0] <= now < c[1])
        jobs: list[ReoptJob] = []
        for vid in sorted(st.vehicles):
            v = st.vehicles[vid]
            if (v.status != ACTIVE or len(v.route) < 3 or
                    zlib.crc32(vid.encode()) % nb not in buckets or st.untouchable(vid)):
                continue
            route = [tuple(s) for s in v.route]
            seen = st.reopt_seen.get(vid)
            if seen is not None and seen[1] == conds and route == seen[0][len(seen[0]) - len(route):]:
                # Only served stops left the sequence judged last time and the live
                # conditions are the same: the rest of it stays as good as it was.
                jobs.append(ReoptJob(vid, route, skip=True))
                continue
            ids = dict.fromkeys([oid for oid, _k in route] + list(v.onboard))
            vc, orders = _copies((v, {oid: st.orders[oid] for oid in ids if oid in st.orders}))
            pf = pace_factor(v, cfg, self.settings.plan_time_factor)
            k = frozen_count(vc, orders, now, self.world.travel.tt, *frozen_settings(self.settings))
            if k >= len(route) - 1:   # frozen but for at most one stop: nothing to re-sequence
                st.count("reopt_frozen")
                continue
            if k >= 1 and not (k == 1 and v.at_stop is not None):
                vc, orders, t0 = restart_after(vc, orders, k, now, self.world.travel.tt)
                jobs.append(ReoptJob(vid, route, False, vc, orders, True, pf, k - 1, t0))
                continue
            jobs.append(ReoptJob(vid, route, False, vc, orders, v.at_stop is not None, pf))
        return ReoptRequest(now, conds, jobs, self.world.travel, self.strategy)

    def apply_reopt(self, req: ReoptRequest, results: list[RerouteResult | None], now: float,
                    triggers: list[str], out: list[Out]) -> None:
        """A reroute decision for each route whose cost drops by ``reopt_min_gain``."""
        st = self.state
        cfg = req.strategy.config
        for job, r in zip(req.jobs, results):
            vid = job.vehicle_id
            if job.skip:
                st.count("reoptimize_skipped_unchanged")
                continue
            if r is not None and r.guard_hit:
                st.count("reroute_guard_hit")
            if r is None or not r.changed or r.cost_before - r.cost_after < cfg.reopt_min_gain:
                st.reopt_seen[vid] = (job.route, req.conds)
                continue
            v = st.vehicles[vid]
            seq = as_stops(r.sequence)
            if job.keep_first:   # the frozen stops, then the one kept first
                seq = list(job.route[:job.frozen + 1]) + seq
            before = {vid: [tuple(s) for s in v.route]}
            st.reopt_seen[vid] = ([tuple(s) for s in seq], req.conds)
            st.count("reoptimized_routes")
            oids = [oid for oid, k in seq if k == DELIVERY][:20]
            self.governance.decide(out, "reroute", now, oids, {vid: seq}, triggers, Explanation(
                f"Periodic re-optimization of {vid}: cost "
                f"{r.cost_before:.2f} -> {r.cost_after:.2f}",
                reasons=[{"rule": "periodic_reoptimization",
                          "interval_min": cfg.reopt_interval_s / 60,
                          "min_gain": cfg.reopt_min_gain,
                          **({"guard_hit": True} if r.guard_hit else {})}],
                expected_effect=self.governance.effect(before, {vid: seq}, now, []),
                strategy=req.strategy.name))
