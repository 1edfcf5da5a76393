"""Risk response: what the engine does when stops of a vehicle turn late-risky.

First re-route (a better sequence of the vehicle's own stops), then redispatch
(move orders that can still move to other vehicles or fleet types, when the gain
beats the change cost), and for what is still at risk: an ops alert and a
message to each customer.  One decision per trigger.
"""

from __future__ import annotations

from typing import Any

from fleetstream.contract.settings import EngineSettings
from fleetstream.operators.dispatch import Timing, inserted_route, route_timing
from fleetstream.operators.state import AT_DEPOT, ASSIGNED, DELIVERY, Vehicle
from fleetstream.operators.zone.assignment import Assignment, as_stops
from fleetstream.operators.zone.governance import Governance
from fleetstream.operators.zone.records import Emitter, Explanation, Out
from fleetstream.operators.zone.state import ZoneState
from fleetstream.operators.zone.world import World, pace_factor


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

    def handle_risk(self, v: Vehicle, at_risk: list[str], now: float, triggers: list[str],
                    out: list[Out]) -> None:
        """Re-route, else redispatch, else alert: one decision per trigger."""
        st, strategy = self.state, self.strategy
        tt = self.world.travel.tt
        st.count("risk_triggers")
        cur = [tuple(s) for s in v.route]
        before = route_timing(v, cur, st.orders, v.pos, now, tt)
        seq = None
        method = "edf"
        r = strategy.reroute_result(v, st.orders, now, tt, self.world.travel.dist,
                                    keep_first=v.at_stop is not None,
                                    time_factor=pace_factor(v, strategy.config,
                                                            self.settings.plan_time_factor))
        if r is not None:
            if r.changed:
                seq = as_stops(r.sequence)
                if v.at_stop is not None:
                    seq = [cur[0]] + seq
                method = r.method
        else:
            # No answer from the re-sequencing search: the strategy's own re-route
            # rule (the baseline's earliest deadline first).
            seq = strategy.reroute(v, st.orders, now, tt)
        if seq is not None:
            after = route_timing(v, seq, st.orders, v.pos, now, tt)
            gain = before.lateness_s - after.lateness_s
            if gain > 0:
                self.governance.decide(out, "reroute", now, at_risk, {v.id: seq}, triggers, Explanation(
                    f"Re-sequenced {v.id}'s {len(seq)} stops: predicted lateness "
                    f"{before.lateness_s / 60:.0f} -> {after.lateness_s / 60:.0f} min",
                    reasons=[{"rule": "late_risk", "orders": at_risk,
                              "threshold": self.settings.late_risk_on}],
                    alternatives=[{"option": "keep current sequence",
                                   "lateness_min": round(before.lateness_s / 60, 1)},
                                  {"option": "re-sequence",
                                   "lateness_min": round(after.lateness_s / 60, 1)}],
                    expected_gain_min=round(gain / 60, 1),
                    expected_effect=self.governance.effect({v.id: cur}, {v.id: seq}, now, at_risk),
                    method=method, strategy=strategy.name))
                at_risk = [oid for oid in at_risk if still_late(seq, oid, after)]
                if not at_risk:
                    return
        moved, note = self.redispatch(v, at_risk, now, triggers, out)
        remaining = [oid for oid in at_risk if oid not in moved]
        if remaining:
            details = {"threshold": self.settings.late_risk_on,
                       "etas": {oid: eta_of(v, oid) for oid in remaining}}
            if note:
                details["redispatch"] = note
            self.emit.alert(out, now, "late_risk", "warning",
                            f"{len(remaining)} stops of {v.id} at risk of missing their window",
                            v.id, remaining, details, triggers)
            for oid in remaining:
                o = st.orders[oid]
                eta = eta_of(v, oid) or now
                self.emit.notify(out, now, o, "window_at_risk", eta, eta)

    def redispatch(self, v: Vehicle, at_risk: list[str], now: float, triggers: list[str],
                   out: list[Out]) -> tuple[list[str], str]:
        """Move at-risk orders that can still move (not on board) to other vehicles or
        fleet types when the gain beats the change cost; returns (moved, note)."""
        st, strategy = self.state, self.strategy
        movable = [oid for oid in at_risk if st.orders[oid].status == ASSIGNED and (
            st.orders[oid].kind == "on_demand" or v.status == AT_DEPOT)]
        if not movable:
            return [], ""
        cfg = strategy.config
        if cfg is None:
            return self.redispatch_insertion(v, movable, now, triggers, out), ""
        cands: dict[str, Vehicle] = {}
        for oid in movable:
            for w in self.assignment.candidates(st.orders[oid], now)[: cfg.redispatch_candidates]:
                if w.id != v.id and not st.in_proposal(w.id):
                    cands[w.id] = w
        if not cands:
            st.count("redispatch_no_candidate")
            return [], "no candidate vehicle passes the static constraints"
        travel = self.world.travel
        res = strategy.redispatch(v, movable, [cands[k] for k in sorted(cands)], st.orders,
                                  now, travel.tt, travel.dist)
        if res is None:
            return self.redispatch_insertion(v, movable, now, triggers, out), ""
        if res.action != "move":
            st.count("redispatch_kept" if res.action == "kept" else "redispatch_none")
            return [], res.explanation
        routes: dict[str, list] = {}
        for vid, stops in res.routes.items():
            w = st.vehicles[vid]
            new = as_stops(stops)
            if w.at_stop is not None and w.route and (not new or new[0] != tuple(w.route[0])):
                head = tuple(w.route[0])
                new = [head] + [s for s in new if s != head]
            routes[vid] = new
        before = {vid: [tuple(s) for s in st.vehicles[vid].route] for vid in routes}
        moved = [m.job_id for m in res.moves]
        self.governance.decide(out, "redispatch", now, moved, routes, triggers, Explanation(
            "; ".join(f"Move {m.job_id} from {v.id} ({v.fleet_type}) to {m.to_vehicle} "
                      f"({st.vehicles[m.to_vehicle].fleet_type}): gain {m.gain:.2f}"
                      for m in res.moves),
            reasons=[{"rule": "late_risk", "orders": moved,
                      "threshold": self.settings.late_risk_on}],
            alternatives=res.alternatives, gain=round(res.gain, 2), change_cost=res.threshold,
            expected_effect=self.governance.effect(before, routes, now, moved),
            strategy=strategy.name))
        return moved, res.explanation

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
            o.vehicle_id = v.id  # on v until the decision applies
            self.governance.decide(out, "redispatch", now, [oid], {v.id: new_src, target.id: new_dst},
                                   triggers, Explanation(f"Move {oid} from {v.id} to {target.id}",
                                                         reasons=[{"rule": "late_risk", "order": oid}],
                                                         strategy=self.strategy.name))
            moved.append(oid)
        return moved


def eta_of(v: Vehicle, oid: str) -> float | None:
    """The last predicted arrival at ``oid``'s delivery on ``v``'s route."""
    for i, (sid, kind) in enumerate(v.route):
        if sid == oid and kind == DELIVERY and i < len(v.etas):
            return v.etas[i]
    return None


def still_late(seq: list, oid: str, timing: Timing) -> bool:
    for i, (sid, kind) in enumerate(seq):
        if sid == oid and kind == DELIVERY and i < len(timing.start):
            return timing.start[i] > timing.window_end[i]
    return True


def lateness_of(v: Vehicle, oid: str, timing: Timing) -> float:
    for i, (sid, kind) in enumerate(v.route):
        if sid == oid and kind == DELIVERY:
            return max(0.0, timing.start[i] - timing.window_end[i])
    return 0.0
