"""Risk response: what the engine does when stops of a vehicle turn late-risky.

First re-route (a better sequence of the vehicle's own stops), then redispatch
(move orders that can still move to other vehicles or fleet types, when the gain
beats the change cost), and for what is still at risk: an ops alert and a
message to each customer.  One decision per trigger.
"""

from __future__ import annotations

import copy
import pickle
from dataclasses import dataclass
from typing import Any

from fleetstream.contract.settings import EngineSettings
from fleetstream.operators.dispatch import Timing, inserted_route, route_timing
from fleetstream.operators.state import ASSIGNED, Order, Vehicle
from fleetstream.operators.zone.assignment import Assignment, as_stops
from fleetstream.operators.zone.governance import Governance
from fleetstream.operators.zone.records import Emitter, Explanation, Out
from fleetstream.operators.zone.response_rules import (eta_of, kept_order, lateness_of,
                                                       movable_orders, plain, reroute_pays,
                                                       still_late, unchanged)
from fleetstream.operators.zone.stability import (exception_frozen_settings, frozen_count,
                                                  head_for_risk, keep_head, kept_head_settings,
                                                  restart_after, risk_head_settings)
from fleetstream.operators.zone.state import ZoneState
from fleetstream.operators.zone.world import TravelModel, World, pace_factor

RISK_JOB_ALLOWANCE_S: float | None = None
"""Override of the setting ``engine.risk_solve_allowance_s`` (tests and benchmarks):
``None`` uses the setting.  Risk responses as solver jobs: an allowance of 0 (the
setting's default) decides inline, at the trigger.  A number of seconds makes a
trigger request a solver job due that much event time later: the re-route and redispatch searches (the event path's
slowest work, 50-230 ms on metro) run in the solver pool and the decisions are
taken at the due time, reconciled with what happened meanwhile (:meth:`Response.apply_job`).
Needs the engine to hand ``risk`` jobs to :meth:`Response.apply_job`."""
NO_CANDIDATE = "no candidate vehicle passes the static constraints"
LOCKED = "the route is locked by a dispatcher"


def head_kept_note(n: int, vid: str | None = None) -> str:
    """The summary's note on the ``n`` stops of a frozen head a decision kept first:
    the vehicle's own (``vid`` None) or the destination ``vid``'s ("" when none).

    >>> head_kept_note(1), head_kept_note(2, "v7"), head_kept_note(0)
    ('; the next stop kept first', "; v7's next 2 stops kept first, in their order", '')
    """
    who = f"{vid}'s next" if vid else "the next"
    return ("" if not n else f"; {who} stop kept first" if n == 1
            else f"; {who} {n} stops kept first, in their order")


class Response:
    """Re-route, else redispatch, else alert and tell the customers."""

    def __init__(self, state: ZoneState, settings: EngineSettings, world: World,
                 governance: Governance, assignment: Assignment, emit: Emitter, strategy: Any):
        self.state = state
        self.settings = settings
        self.world = world
        self.governance = governance
        self.assignment = assignment
        self.emit = emit
        self.strategy = strategy

    def allowance(self) -> float | None:
        """Event time between a risk trigger and its decision when solved as a solver
        job; None: decide inline."""
        if RISK_JOB_ALLOWANCE_S is not None:
            return RISK_JOB_ALLOWANCE_S
        a = self.settings.risk_solve_allowance_s
        return a if a > 0 else None

    def handle_risk(self, v: Vehicle, at_risk: list[str], now: float, triggers: list[str],
                    out: list[Out]) -> None:
        """Re-route, else redispatch, else alert: one decision per trigger (solved off
        the event path when ``RISK_JOB_ALLOWANCE_S`` is set, see :meth:`request`)."""
        st, strategy = self.state, self.strategy
        st.count("risk_triggers")
        if v.id in st.locked:  # a dispatcher locked the route: only tell
            st.count("risk_route_locked")
            self.alert_remaining(v, at_risk, LOCKED, now, triggers, out)
            return
        if self.allowance() is not None and self.request(v, at_risk, now, triggers):
            return
        tt = self.world.travel.tt
        cur = [tuple(s) for s in v.route]
        before = route_timing(v, cur, st.orders, v.pos, now, tt)
        seq, method = reroute_sequence(v, st.orders, now, self.world.travel, strategy,
                                       self.settings.plan_time_factor,
                                       exception_frozen_settings(self.settings))
        seq = risk_reroute_head(v, seq, st.orders, now, tt, risk_head_settings(self.settings),
                                at_risk)
        rerouted = False
        if seq is not None:
            after = route_timing(v, seq, st.orders, v.pos, now, tt)
            if reroute_pays(v, cur, seq, before, after, st.orders, self.world.travel,
                            strategy.config):
                rerouted = True
                at_risk = self.decide_reroute(v, at_risk, cur, seq, before, after, method, now,
                                              triggers, out)
                if not at_risk:
                    return
        moved, note = self.redispatch(v, at_risk, now, triggers, out)
        if not rerouted:
            at_risk = self.late_by_plan(at_risk, cur, before)
        self.alert_remaining(v, [oid for oid in at_risk if oid not in moved], note, now,
                             triggers, out)

    def late_by_plan(self, at_risk: list[str], cur: list, before: Timing) -> list[str]:
        """The at-risk orders the current plan also times late (what an alert and a
        customer message are for, when no re-route changed the plan): a stop only the
        risk model calls late is left unalerted and counted (``risk_alerts_plan_on_time``);
        the flag stays, so a later rise is answered again (docs/models.md, late risk)."""
        late = [oid for oid in at_risk if still_late(cur, oid, before)]
        if len(late) < len(at_risk):
            self.state.count("risk_alerts_plan_on_time", len(at_risk) - len(late))
        return late

    def decide_reroute(self, v: Vehicle, at_risk: list[str], cur: list, seq: list,
                       before: Timing, after: Timing, method: str, now: float,
                       triggers: list[str], out: list[Out]) -> list[str]:
        """Decide the re-sequencing ``cur`` -> ``seq`` of ``v``; returns the orders
        still late after it."""
        gain = before.lateness_s - after.lateness_s
        reason = {"rule": "late_risk", "orders": at_risk, "threshold": self.settings.late_risk_on}
        kept = self.head_kept(v, cur, seq, at_risk, now)
        if kept:
            reason["head_kept"] = kept
        self.governance.decide(out, "reroute", now, at_risk, {v.id: seq}, triggers, Explanation(
            f"Re-sequenced {v.id}'s {len(seq)} stops: predicted lateness "
            f"{before.lateness_s / 60:.0f} -> {after.lateness_s / 60:.0f} min"
            + head_kept_note(kept),
            reasons=[reason],
            alternatives=[{"option": "keep current sequence",
                           "lateness_min": round(before.lateness_s / 60, 1)},
                          {"option": "re-sequence",
                           "lateness_min": round(after.lateness_s / 60, 1)}],
            expected_gain_min=round(gain / 60, 1),
            expected_effect=self.governance.effect({v.id: cur}, {v.id: seq}, now, at_risk),
            method=method, strategy=self.strategy.name))
        return [oid for oid in at_risk if still_late(seq, oid, after)]

    def head_kept(self, v: Vehicle, cur: list, seq: list, at_risk: list[str],
                  now: float) -> int:
        """How many stops of ``cur``'s frozen head, not at risk, the re-route ``cur`` ->
        ``seq`` keeps first and in their order (``bound``: the whole head; ``at_risk``:
        the head but for the stops at risk; ``free``: none; 0 when ``seq`` does not
        keep them, as when keeping them would put a pickup after its delivery)."""
        frozen = kept_head_settings(self.settings)
        if frozen == (0.0, 0) or not cur:
            return 0
        cur = [tuple(s) for s in cur]
        k = frozen_count(v, self.state.orders, now, self.world.travel.tt, *frozen, route=cur)
        risky = set(at_risk)
        head = cur[:k]
        seq = [tuple(s) for s in seq]
        if head_for_risk(seq, head, risky) != seq:
            return 0
        return sum(1 for s in head if s[0] not in risky and s in seq)

    def alert_remaining(self, v: Vehicle, remaining: list[str], note: str, now: float,
                        triggers: list[str], out: list[Out]) -> None:
        """What is still at risk: an ops alert and a message to each customer."""
        if not remaining:
            return
        details = {"threshold": self.settings.late_risk_on,
                   "etas": {oid: eta_of(v, oid) for oid in remaining}}
        if note:
            details["redispatch"] = note
        self.emit.alert(out, now, "late_risk", "warning",
                        f"{len(remaining)} stops of {v.id} at risk of missing their window",
                        v.id, remaining, details, triggers)
        for oid in remaining:
            o = self.state.orders[oid]
            eta = eta_of(v, oid) or now
            self.emit.notify(out, now, o, "window_at_risk", eta, eta)

    def redispatch(self, v: Vehicle, at_risk: list[str], now: float, triggers: list[str],
                   out: list[Out]) -> tuple[list[str], str]:
        """Move at-risk orders that can still move (not on board) to other vehicles or
        fleet types when the gain beats the change cost; returns (moved, note)."""
        st, strategy = self.state, self.strategy
        movable = [oid for oid in movable_orders(v, at_risk, st.orders) if oid not in st.pinned]
        if not movable:
            return [], ""
        cfg = strategy.config
        if cfg is None:
            return self.redispatch_insertion(v, movable, now, triggers, out), ""
        cands: dict[str, Vehicle] = {}
        for oid in movable:
            for w in self.candidates_of(oid, v, now):
                cands[w.id] = w
        if not cands:
            st.count("redispatch_no_candidate")
            return [], NO_CANDIDATE
        travel = self.world.travel
        res = strategy.redispatch(v, movable, [cands[k] for k in sorted(cands)], st.orders,
                                  now, travel.tt, travel.dist)
        if res is None:
            return self.redispatch_insertion(v, movable, now, triggers, out), ""
        return self.decide_redispatch(v, res, now, triggers, out)

    def candidates_of(self, oid: str, v: Vehicle, now: float) -> list[Vehicle]:
        """The vehicles ``oid`` may be redispatched to from ``v``."""
        cfg = self.strategy.config
        return [w for w in self.assignment.candidates(self.state.orders[oid], now)
                [: cfg.redispatch_candidates] if w.id != v.id and not self.state.untouchable(w.id)]

    def decide_redispatch(self, v: Vehicle, res: Any, now: float, triggers: list[str],
                          out: list[Out]) -> tuple[list[str], str]:
        """Decide the strategy's redispatch answer ``res``; returns (moved, note)."""
        st = self.state
        if res.action != "move":
            st.count("redispatch_kept" if res.action == "kept" else "redispatch_none")
            return [], res.explanation
        routes: dict[str, list] = {}
        moving = {m.job_id for m in res.moves}
        kept_at: dict[str, int] = {}   # destination -> stops of its frozen head kept first
        frozen = exception_frozen_settings(self.settings)
        for vid, stops in res.routes.items():
            w = st.vehicles[vid]
            new = as_stops(stops)
            if w.at_stop is not None and w.route and (not new or new[0] != tuple(w.route[0])):
                head = tuple(w.route[0])
                new = [head] + [s for s in new if s != head]
            if frozen != (0.0, 0) and w.route:
                # the frozen head keeps its order (the moved orders leave it: the move
                # is what the late-risk response is for); nothing is put before it
                k = frozen_count(w, st.orders, now, self.world.travel.tt, *frozen)
                head = [tuple(s) for s in w.route[:k] if s[0] not in moving or vid != v.id]
                kept = keep_head(new, [s for s in head if s in set(new)])
                if kept != new:
                    st.count("redispatch_frozen_kept")
                new = kept
            elif vid != v.id and w.route:
                new, n = self.destination_head(w, new, moving, now)
                if n:
                    kept_at[vid] = n
            routes[vid] = new
        before = {vid: [tuple(s) for s in st.vehicles[vid].route] for vid in routes}
        moved = [m.job_id for m in res.moves]
        reason = {"rule": "late_risk", "orders": moved, "threshold": self.settings.late_risk_on}
        if kept_at:
            reason["head_kept"] = sum(kept_at.values())
        self.governance.decide(out, "redispatch", now, moved, routes, triggers, Explanation(
            "; ".join(f"Move {m.job_id} from {v.id} ({v.fleet_type}) to {m.to_vehicle} "
                      f"({st.vehicles[m.to_vehicle].fleet_type}): gain {m.gain:.2f}"
                      for m in res.moves)
            + "".join(head_kept_note(n, vid) for vid, n in sorted(kept_at.items())),
            reasons=[reason],
            alternatives=res.alternatives, gain=round(res.gain, 2), change_cost=res.threshold,
            expected_effect=self.governance.effect(before, routes, now, moved),
            strategy=self.strategy.name))
        return moved, res.explanation

    def destination_head(self, w: Vehicle, new: list, moving: set[str],
                         now: float) -> tuple[list, int]:
        """The route ``new`` a redispatch gives the destination ``w`` with ``w``'s frozen
        head (``risk_head_settings``: ``plan_frozen_exceptions = "at_risk"``) kept first
        and in its order, unless that would leave a moved order late that ``new`` makes
        on time: the head yields only to a stop at risk that needs its place
        (``bound``: it never yields).  Returns the route and how many head stops it keeps
        first that ``new`` did not (0: none, ``new`` itself)."""
        bound = exception_frozen_settings(self.settings)
        frozen = kept_head_settings(self.settings)
        if frozen == (0.0, 0):
            return new, 0
        st, tt = self.state, self.world.travel.tt
        k = frozen_count(w, st.orders, now, tt, *frozen)
        on = set(new)
        head = [tuple(s) for s in w.route[:k] if tuple(s) in on]
        kept = keep_head(new, head)
        if kept == new:
            return new, 0
        if bound == (0.0, 0):   # at_risk: yield to a moved order late after the head only
            after = route_timing(w, kept, st.orders, w.pos, now, tt)
            late = [oid for oid in sorted(moving) if any(s[0] == oid for s in kept)
                    and still_late(kept, oid, after)]
            if late:
                timing = route_timing(w, new, st.orders, w.pos, now, tt)
                if any(not still_late(new, oid, timing) for oid in late):
                    st.count("redispatch_head_yielded")
                    return new, 0
        st.count("redispatch_head_kept")
        return kept, len(head)

    # ------------------------------------------------------------------ as solver jobs

    def request(self, v: Vehicle, at_risk: list[str], now: float, triggers: list[str]) -> bool:
        """Submit the response to ``at_risk`` as a solver job (False: decide inline,
        for strategies without a redispatch search or without a solver pool)."""
        st, strategy, jobs = self.state, self.strategy, self.assignment.jobs
        cfg = strategy.config
        if cfg is None or jobs is None:
            return False
        movable = [oid for oid in movable_orders(v, at_risk, st.orders) if oid not in st.pinned]
        cands_of = {oid: [w.id for w in self.candidates_of(oid, v, now)] for oid in movable}
        cands = {vid: st.vehicles[vid] for ids in cands_of.values() for vid in ids}
        ids = dict.fromkeys([oid for w in [v, *cands.values()] for oid, _k in w.route]
                            + [oid for w in [v, *cands.values()] for oid in w.onboard])
        # One pickle of plain data, taken now (faster than deep copies, and what a
        # process pool would pickle anyway): the request is the state at the trigger.
        blob = pickle.dumps((v.dump(), {oid: plain(st.orders[oid]) for oid in ids
                                        if oid in st.orders},
                             {vid: w.dump() for vid, w in sorted(cands.items())},
                             self.world.travel, strategy), protocol=pickle.HIGHEST_PROTOCOL)
        req = RiskRequest(now, v.id, [tuple(s) for s in v.route], list(at_risk),
                          {vid: [tuple(s) for s in w.route] for vid, w in sorted(cands.items())},
                          cands_of, self.settings.autonomy("reroute") == "auto",
                          self.settings.plan_time_factor, blob,
                          exception_frozen_settings(self.settings),
                          risk_head_settings(self.settings))
        jobs.submit("risk", solve_risk, req, now + (self.allowance() or 0.0), now,
                    meta=list(triggers))
        st.count("risk_jobs")
        return True

    def apply_job(self, job: Any, res: "RiskResult", out: list[Out]) -> None:
        """Apply a risk response solved off the event path, at its due time, reconciled
        with what happened since the request (orders no longer on the route or no
        longer flagged late-risky are left out; with none left, nothing is decided):

        - the vehicle must still be in service, outside any proposal, and its route
          the requested one less the stops served since; else nothing is decided and
          its orders still at risk get the alert (``risk_jobs_stale``);
        - the re-sequencing keeps the remaining stops in the solved order (a stop
          being served stays first) and is decided if it still lowers the predicted
          lateness now;
        - a redispatch is decided only if the re-route it assumed was decided, the
          moved orders are still assigned to the vehicle and every other vehicle
          involved is unchanged the same way (else ``risk_redispatch_stale``)."""
        st, req, now, triggers = self.state, job.request, job.due_ts, list(job.meta)
        v = st.vehicles.get(req.vehicle_id)
        if v is None:
            return
        cur = [tuple(s) for s in v.route]
        on_route = {oid for oid, _k in cur}
        at_risk = [oid for oid in req.at_risk if oid in on_route and st.orders[oid].late_flag]
        if not at_risk:
            st.count("risk_jobs_resolved")   # nothing at risk any more: nothing to decide
            return
        if not (v.available and not st.untouchable(v.id) and unchanged(cur, req.route)):
            st.count("risk_jobs_stale")
            self.alert_remaining(v, at_risk, "", now, triggers, out)
            return
        tt = self.world.travel.tt
        rerouted = False
        if res.seq is not None:
            seq = kept_order(res.seq, cur, v.at_stop is not None)
            before = route_timing(v, cur, st.orders, v.pos, now, tt)
            after = route_timing(v, seq, st.orders, v.pos, now, tt)
            if seq != cur and reroute_pays(v, cur, seq, before, after, st.orders,
                                           self.world.travel, self.strategy.config):
                rerouted = True
                at_risk = self.decide_reroute(v, at_risk, cur, seq, before, after, res.method,
                                              now, triggers, out)
                if not at_risk:
                    return
        moved, note = [], res.note
        r = res.redispatch
        if r is not None and r.action == "move":
            if self.redispatch_fresh(v, req, res, rerouted):
                moved, note = self.decide_redispatch(v, self.served_removed(r), now, triggers,
                                                     out)
            else:
                st.count("risk_redispatch_stale")
                note = "the routes changed while the redispatch was solved"
        elif r is not None:
            moved, note = self.decide_redispatch(v, r, now, triggers, out)
        elif note == NO_CANDIDATE:
            st.count("redispatch_no_candidate")
        if not rerouted:
            at_risk = self.late_by_plan(at_risk, cur,
                                        route_timing(v, cur, st.orders, v.pos, now, tt))
        self.alert_remaining(v, [oid for oid in at_risk if oid not in moved], note, now,
                             triggers, out)

    def served_removed(self, r: Any) -> Any:
        """The redispatch answer ``r`` less the stops served since it was solved (the
        moved orders' stops stay: they are still assigned, so not served)."""
        st = self.state
        moved = {m.job_id for m in r.moves}
        routes = {}
        for vid, stops in r.routes.items():
            left = {tuple(s) for s in st.vehicles[vid].route}
            routes[vid] = [s for s in stops if tuple(s) in left or s[0] in moved]
        r = copy.copy(r)
        r.routes = routes
        return r

    def redispatch_fresh(self, v: Vehicle, req: "RiskRequest", res: "RiskResult",
                         rerouted: bool) -> bool:
        """Does the redispatch ``res`` solved for ``req`` still apply as it is?"""
        st = self.state
        if res.assumed_reroute and not (rerouted and req.reroute_auto):
            return False
        for m in res.redispatch.moves:
            o = st.orders.get(m.job_id)
            if o is None or o.status != ASSIGNED or o.vehicle_id != v.id or m.job_id in st.pinned:
                return False
        for vid in res.redispatch.routes:
            if vid == v.id:
                continue
            w, was = st.vehicles.get(vid), req.cand_routes.get(vid)
            if (w is None or was is None or not w.available or st.untouchable(vid)
                    or not unchanged([tuple(s) for s in w.route], was)):
                return False
        return True

    def redispatch_insertion(self, v: Vehicle, at_risk: list[str], now: float,
                             triggers: list[str], out: list[Out]) -> list[str]:
        """Baseline redispatch (strategies with no redispatch answer): cheapest insertion."""
        st = self.state
        travel = self.world.travel
        moved: list[str] = []
        for oid in at_risk:
            o = st.orders[oid]
            cur = route_timing(v, v.route, st.orders, v.pos, now, travel.tt)
            late_now = lateness_of(v, oid, cur)
            others = [w for w in self.assignment.candidates(o, now) if w.id != v.id]
            ins, _rej = self.strategy.insert(o, others, st.orders, now, travel.tt, travel.dist)
            if ins is None or late_now < self.settings.redispatch_min_gain_s:
                continue
            target = st.vehicles[ins.vehicle_id]
            new_src = [s for s in v.route if s[0] != oid]
            new_dst = inserted_route(target.route, ins)
            kept = 0
            if target.route:
                new_dst, kept = self.destination_head(target, new_dst, {oid}, now)
            o.vehicle_id = v.id  # on v until the decision applies
            reason: dict = {"rule": "late_risk", "order": oid}
            if kept:
                reason["head_kept"] = kept
            self.governance.decide(out, "redispatch", now, [oid], {v.id: new_src, target.id: new_dst},
                                   triggers, Explanation(
                                       f"Move {oid} from {v.id} to {target.id}"
                                       + head_kept_note(kept, target.id),
                                       reasons=[reason], strategy=self.strategy.name))
            moved.append(oid)
        return moved


@dataclass
class RiskRequest:
    """A risk response to solve off the event path: plain data (picklable, pure)."""

    now: float
    vehicle_id: str
    route: list[tuple[str, str]]        # the vehicle's route at the request
    at_risk: list[str]
    cand_routes: dict[str, list]        # the redispatch candidates' routes at the request
    cands_of: dict[str, list[str]]      # movable order -> its candidate vehicle ids
    reroute_auto: bool                  # a re-route applies at once (the redispatch sees it)
    plan_time_factor: float
    blob: bytes                         # pickled (vehicle, orders, candidates, travel, strategy)
    frozen: tuple = (0.0, 0)            # the head the exception responses keep: stability.py
    plan_frozen: tuple = (0.0, 0)       # the head kept but for the stops at risk (risk_head_settings)


@dataclass
class RiskResult:
    seq: list | None                  # the better sequence (the re-route), or None
    method: str
    redispatch: Any                   # the strategy's redispatch answer, or None
    note: str                         # why nothing was redispatched, if so
    assumed_reroute: bool             # the redispatch was solved on the re-routed route


def solve_risk(req: RiskRequest) -> RiskResult:
    """The inline response's searches on the request's copies (pure): the re-route,
    then the redispatch of what the re-route leaves late."""
    vd, ods, cds, travel, strategy = pickle.loads(req.blob)
    v, now = Vehicle.load(vd), req.now
    orders = {oid: Order.load(d) for oid, d in ods.items()}
    cands = {vid: Vehicle.load(d) for vid, d in cds.items()}
    tt = travel.tt
    at_risk = list(req.at_risk)
    seq, method = reroute_sequence(v, orders, now, travel, strategy, req.plan_time_factor,
                                   tuple(req.frozen))
    seq = risk_reroute_head(v, seq, orders, now, tt, tuple(req.plan_frozen), at_risk)
    better = None
    if seq is not None:
        before = route_timing(v, req.route, orders, v.pos, now, tt)
        after = route_timing(v, seq, orders, v.pos, now, tt)
        if reroute_pays(v, req.route, seq, before, after, orders, travel, strategy.config):
            better = seq
            at_risk = [oid for oid in at_risk if still_late(seq, oid, after)]
            if req.reroute_auto:
                v.route = list(seq)
            if not at_risk:
                return RiskResult(better, method, None, "", False)
    movable = movable_orders(v, at_risk, orders)
    cand_ids = sorted({vid for oid in movable for vid in req.cands_of.get(oid, [])})
    if not movable or not cand_ids:
        return RiskResult(better, method, None, NO_CANDIDATE if movable else "", False)
    res = strategy.redispatch(v, movable, [cands[k] for k in cand_ids], orders, now, tt,
                              travel.dist)
    return RiskResult(better, method, res, "", better is not None and req.reroute_auto)


def risk_reroute_head(v: Vehicle, seq: list | None, orders: dict[str, Order], now: float,
                      tt: Any, frozen: tuple, at_risk: list[str]) -> list | None:
    """A late-risk re-route ``seq`` (None: none) with the plan's frozen head kept but for
    the stops at risk (``stability.head_for_risk``); ``frozen`` = ``(plan_frozen_s,
    plan_frozen_stops)``."""
    if seq is None or tuple(frozen) == (0.0, 0) or not v.route:
        return seq
    k = frozen_count(v, orders, now, tt, *frozen)
    return head_for_risk(seq, [tuple(s) for s in v.route[:k]], set(at_risk))


def reroute_sequence(v: Vehicle, orders: dict[str, Order], now: float, travel: TravelModel,
                     strategy: Any, plan_time_factor: float,
                     frozen: tuple[float, int] = (0.0, 0)) -> tuple[list | None, str]:
    """The strategy's new sequence of ``v``'s stops (None: none better) and its method.
    The frozen head of the route (``frozen`` = ``(plan_frozen_s, plan_frozen_stops)``,
    operators/zone/stability.py) keeps its order: only the rest is re-sequenced."""
    cur = [tuple(s) for s in v.route]
    k = frozen_count(v, orders, now, travel.tt, *frozen) if frozen != (0.0, 0) else 0
    if k > 1 or (k == 1 and v.at_stop is None):
        if k >= len(cur) - 1:
            return None, "frozen"
        vc, seen, t0 = restart_after(v, orders, k, now, travel.tt)
        r = strategy.reroute_result(vc, seen, t0, travel.tt, travel.dist, keep_first=True,
                                    time_factor=pace_factor(v, strategy.config, plan_time_factor))
        if r is None or not r.changed:
            return None, "frozen"
        return cur[:k] + as_stops(r.sequence), r.method
    r = strategy.reroute_result(v, orders, now, travel.tt, travel.dist,
                                keep_first=v.at_stop is not None,
                                time_factor=pace_factor(v, strategy.config, plan_time_factor))
    if r is not None:
        if not r.changed:
            return None, "edf"
        seq = as_stops(r.sequence)
        if v.at_stop is not None:
            seq = [cur[0]] + seq
        return seq, r.method
    # No answer from the re-sequencing search: the strategy's own re-route rule (the
    # baseline's earliest deadline first).
    return strategy.reroute(v, orders, now, travel.tt), "edf"
