"""The zone plan: once per wave of shift starts, the routing strategy plans every depot
vehicle at once, in three steps so the solve can run elsewhere:
:meth:`ZonePlanning.plan_request` gathers plain data (copies), :func:`solve_plan` is
pure (no engine), :meth:`ZonePlanning.apply_plan` decides; a plan solved off the
event path is reconciled with what happened since its request
(:meth:`ZonePlanning.apply_plan_job`).

Split out of :mod:`operators.zone.assignment`: :class:`ZonePlanning` is a part of
:class:`operators.zone.assignment.Assignment` (which holds the zone state, settings,
world, governance, emitter, strategy and solver jobs it uses), re-exported there.
The plan is documented in docs/routing.md and docs/architecture.md ("Solver jobs").
"""

from __future__ import annotations

from dataclasses import replace

from fleetstream.operators.knowledge import knowers
from fleetstream.operators.routing.solver import PlanResult
from fleetstream.operators.state import ASSIGNED, AT_DEPOT, DELIVERY, PENDING
from fleetstream.operators.zone.records import Explanation, Out
from fleetstream.operators.zone.solver_requests import PlanRequest, _copies, as_stops, solve_plan


class ZonePlanning:
    """The zone plan's methods of :class:`~operators.zone.assignment.Assignment`."""

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
        price = self.settings.access_knowledge_price
        known: dict = {}
        if price > 0.0:   # hard-access stops to drivers who know them (operators/knowledge.py)
            for o in orders:
                k = knowers(st.customers.get(o.customer_id))
                if k:
                    known[o.id] = k
        return PlanRequest(vehicles, orders, current, now, self.world.travel, self.strategy,
                           known, price)

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
        moved = res.stats.get("knowledge_moves") or []
        if moved:   # hard-access deliveries moved to drivers who know the door
            st.count("knowledge_plan_moves", len(moved))
            plan_summary["knowledge_moves"] = len(moved)
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
            knew = [{k: m[k] for k in ("order_id", "driver_id", "price", "moved_from",
                                       "added_cost")} for m in moved if m["vehicle_id"] == vid]
            self.governance.decide(out, "assign", now, oids, {vid: new}, triggers, Explanation(
                f"Zone plan: {len(oids)} orders for {vid} ({v.fleet_type} {v.vehicle_type})"
                + (f"; {len(knew)} hard-access deliver{'y' if len(knew) == 1 else 'ies'} "
                   "given to its driver, who has delivered there" if knew else ""),
                reasons=[{"rule": "shift_start_plan", "solver": backend, **budget}]
                + [{"rule": "driver_knows_door", **m} for m in knew],
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
