"""Periodic re-optimization: every active route is re-sequenced once per
``reopt_interval_s`` when its cost drops by at least ``reopt_min_gain``, in the same
three steps as the zone plan (:meth:`Reoptimization.reopt_request`,
:func:`solve_reopt`, :meth:`Reoptimization.apply_reopt`); results solved off the
event path are reconciled with the routes as they are by then
(:meth:`Reoptimization.apply_reopt_job`).

Split out of :mod:`operators.zone.assignment`: :class:`Reoptimization` is a part of
:class:`operators.zone.assignment.Assignment` (which holds the zone state, settings,
world, governance, emitter, strategy and solver jobs it uses), re-exported there.
Plan stability (frozen heads) is in operators/zone/stability.py; the settings are in
docs/configuration.md (``routing_reopt_*``).
"""

from __future__ import annotations

import zlib
from dataclasses import replace

from fleetstream.operators.dispatch import route_timing
from fleetstream.operators.routing.solver import RerouteResult
from fleetstream.operators.state import ACTIVE, DELIVERY
from fleetstream.operators.zone.records import Explanation, Out
from fleetstream.operators.zone.solver_requests import (ReoptJob, ReoptRequest, _copies, as_stops,
                                                        solve_reopt)
from fleetstream.operators.zone.stability import frozen_count, frozen_settings, restart_after
from fleetstream.operators.zone.world import pace_factor, start_of


class Reoptimization:
    """The periodic re-optimization's methods of
    :class:`~operators.zone.assignment.Assignment`."""

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
            price = self.settings.promise_delay_price
            if price > 0.0 and (r.cost_before - r.cost_after < cfg.reopt_min_gain
                                + promise_delay(v, seq, st.orders, now, self.world.travel.tt)
                                * price / 3600.0):
                st.reopt_seen[vid] = (job.route, req.conds)
                st.count("reopt_kept_promises")
                continue
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


def promise_delay(v, seq: list, orders: dict, now: float, tt) -> float:   # type: ignore[no-untyped-def]
    """Seconds by which the stops of ``v``'s route arrive later with the sequence ``seq``
    than with the route as it is, summed over the stops (one arriving earlier counts 0):
    the promises a re-sequencing breaks (``engine.promise_delay_price``)."""
    pos, ts = start_of(v, now)
    cur = [tuple(s) for s in v.route]
    old = route_timing(v, cur, orders, pos, ts, tt)
    new = route_timing(v, seq, orders, pos, ts, tt)
    was = dict(zip(cur, old.arrive))
    late = 0.0
    for s, a in zip(seq, new.arrive):
        d = a - was.get(s, a)
        if d > 0.0:
            late += d
    return late
