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

This module holds the insertion sweep (:class:`Assignment`, with the dispatch of
solver job results); the rest is split by responsibility and re-exported here: the
zone plan in :mod:`operators.zone.zone_plan` (:class:`ZonePlanning`), periodic
re-optimization in :mod:`operators.zone.reoptimization` (:class:`Reoptimization`),
both parts of :class:`Assignment`, and the picklable solver requests with their pure
solve functions in :mod:`operators.zone.solver_requests`.
"""

from __future__ import annotations

from typing import Any

from fleetstream.contract.settings import EngineSettings
from fleetstream.operators.balance import Balance, zone_balance
from fleetstream.operators.dispatch import (Rejection, Timing, costed_alternatives, inserted_route,
                                             route_timing, static_reject)
from fleetstream.operators.knowledge import KnowledgeTerm, knowers, order_penalties
from fleetstream.operators.state import ACTIVE, ASSIGNED, PENDING, Order, Vehicle
from fleetstream.operators.traveltime import fast_distance_m
from fleetstream.operators.zone.governance import Governance
from fleetstream.operators.zone.overrides import release_pins
from fleetstream.operators.zone.records import Emitter, Explanation, Out
from fleetstream.operators.zone.reoptimization import Reoptimization, promise_delay  # noqa: F401 - re-exported
from fleetstream.operators.zone.stability import frozen_count, frozen_settings
from fleetstream.operators.zone.state import ZoneState
from fleetstream.operators.zone.world import World, start_of
from fleetstream.operators.zone.zone_plan import ZonePlanning

# Split by responsibility; every public name of the parts stays importable from here
# (tests/test_reexports.py checks it).
from fleetstream.operators.zone.solver_requests import (  # noqa: F401
    PlanRequest, ReoptJob, ReoptRequest, _copies, as_stops, solve_plan, solve_reopt)

C_WINDOW_CLOSED = "window_closed"
IDLE_CANDIDATES = 3
"""Idle vehicles (empty route, nothing on board) added to an order's nearest candidates,
nearest first (docs/routing.md, "Workload balance")."""


class Assignment(ZonePlanning, Reoptimization):
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
        knew: dict[str, list[str]] = {}        # vehicle -> hard-access orders its driver knows
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
            term = self.knowledge_term(o, cands, balance)
            for v in cands:
                if v.id not in timings:
                    pos, ts = start_of(v, now)
                    timings[v.id] = route_timing(v, v.route, st.orders, pos, ts, travel.tt)
                if frozen != (0.0, 0):   # (the timing is of v's route from start_of(v, now))
                    timings[v.id].min_pos = frozen_count(v, st.orders, now, travel.tt, *frozen,
                                                         arrive=timings[v.id].arrive)
                timings[v.id].delay_price = s.promise_delay_price / 3600.0
            ins, rej = self.strategy.insert(o, cands, st.orders, now, travel.tt, travel.dist,
                                            timings, balance if term is None else term)
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
            if term is not None and v.id not in term.extra:
                st.count("knowledge_insertions")
                knew.setdefault(v.id, []).append(o.id)
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
                                                 "candidates_per_order": s.max_insert_candidates}]
                                       + [{"rule": "driver_knows_door", "order_id": k,
                                           "driver_id": v.driver_id,
                                           "price": s.access_knowledge_price}
                                          for k in knew.get(vid, ()) if k in oids],
                                       alternatives=[alternatives[oid] for oid in oids
                                                     if oid in alternatives] or None,
                                       strategy=self.strategy.name))

    def knowledge_term(self, o: Order, cands: list[Vehicle],
                       balance: Balance) -> KnowledgeTerm | None:
        """Hard-access stops to drivers who know them (``engine.access_knowledge_price``,
        operators/knowledge.py): for a delivery at a hard-access door, the vehicles whose
        driver delivered there join ``cands`` (in place), and the others pay the price
        in their insertion cost; None when that changes nothing."""
        price = self.settings.access_knowledge_price
        if price <= 0.0:
            return None
        st = self.state
        known = knowers(st.customers.get(o.customer_id))
        if not known:
            return None
        have = {v.id for v in cands}
        reserved, locked = st.plan_vehicles, st.locked
        for vid in sorted(st.vehicles):
            v = st.vehicles[vid]
            if (vid in have or v.driver_id not in known or not v.available
                    or static_reject(o, v) is not None or (reserved and vid in reserved)
                    or (locked and vid in locked)):
                continue
            cands.append(v)
        extra = order_penalties(known, cands, price)
        return KnowledgeTerm(balance, extra) if extra else None

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

    # ------------------------------------------------------------------ solver jobs

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
