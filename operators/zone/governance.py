"""Governance: how far the engine may act on its own.

Each decision kind has an autonomy level (``EngineSettings.autonomy(kind)``):
``auto`` applies the new routes at once, ``propose`` publishes a proposal that an
operator approves or rejects (fs.approvals) and that expires after
``proposal_ttl_s``, ``alert_only`` publishes the decision without acting.  Every
decision carries its expected effect (lateness, km, cost, on-time probability).
"""

from __future__ import annotations

from typing import Any

from fleetstream.contract.settings import EngineSettings
from fleetstream.operators.dispatch import route_timing
from fleetstream.operators.estimators import ModelSeats
from fleetstream.operators.state import ACTIVE, ASSIGNED, DELIVERY, DONE, ONBOARD, PENDING, PROPOSED
from fleetstream.operators.zone.records import Decision, Emitter, Explanation, Out
from fleetstream.operators.zone.state import ZoneState
from fleetstream.operators.zone.world import World, start_of


class Governance:
    """Decide (apply, propose or only publish), answer approvals, expire proposals."""

    def __init__(self, state: ZoneState, settings: EngineSettings, seats: ModelSeats, world: World,
                 emit: Emitter):
        self.state = state
        self.settings = settings
        self.seats = seats
        self.world = world
        self.emit = emit

    # ------------------------------------------------------------------ deciding

    def decide(self, out: list[Out], kind: str, now: float, order_ids: list[str],
               routes: dict[str, list], triggers: list[str], explanation: Explanation,
               force_auto: bool = False) -> None:
        """Apply ``routes`` (auto), propose them, or only publish them, as the
        autonomy of ``kind`` says (``force_auto``: reality already decided)."""
        autonomy = "auto" if force_auto else self.settings.autonomy(kind)
        if autonomy == "auto":
            self.apply_routes(routes, now)
            self.emit_decision(out, kind, now, "applied", autonomy, order_ids, routes, triggers,
                               explanation)
        elif autonomy == "propose":
            did = self.emit_decision(out, kind, now, "proposed", autonomy, order_ids, routes,
                                     triggers, explanation)
            self.state.proposals[did] = {
                "ts": now, "kind": kind, "autonomy": autonomy, "order_ids": list(order_ids),
                "routes": {vid: [list(s) for s in r] for vid, r in routes.items()},
                "versions": {vid: self.state.vehicles[vid].route_version for vid in routes},
                "triggers": list(triggers), "explanation": explanation.to_record()}
            for oid in order_ids:
                o = self.state.orders.get(oid)
                if o is not None and o.status == PENDING:
                    o.status = PROPOSED
        else:
            self.emit_decision(out, kind, now, "alert_only", autonomy, order_ids, routes,
                               triggers, explanation)

    def emit_decision(self, out: list[Out], kind: str, now: float, status: str, autonomy: str,
                      order_ids: list[str], routes: dict[str, list], triggers: list[str],
                      explanation: Explanation, refers_to: str | None = None) -> str:
        did = self.state.next_id("D", now)
        rendered = {vid: self.world.render_route(vid, stops, now) for vid, stops in routes.items()}
        self.emit.decision(out, Decision(did, now, self.state.zone, kind, status, autonomy,
                                         list(order_ids), rendered, list(triggers),
                                         self.seats.versions(), explanation, refers_to))
        return did

    def apply_routes(self, routes: dict[str, list], now: float) -> None:
        """Make ``routes`` the vehicles' routes; orders follow (assigned to their new
        vehicle, or back to pending when they left every route)."""
        st = self.state
        touched: dict[str, str] = {}
        for vid, stops in routes.items():
            v = st.vehicles[vid]
            for oid, _ in v.route:
                touched.setdefault(oid, "")
            v.route = [tuple(s) for s in stops]
            v.route_version += 1
            v.eta_ts = -1e18
            for oid, _ in v.route:
                touched[oid] = vid
            if v.leg is not None and v.route and v.leg["to"] != list(v.route[0]) and v.at_stop is None:
                self.world.start_leg(v, now)
            elif v.leg is None and v.status == ACTIVE and v.at_stop is None:
                self.world.start_leg(v, now)
        for oid, vid in touched.items():
            o = st.orders.get(oid)
            if o is None or o.status in DONE:
                continue
            if vid:
                o.vehicle_id = vid
                if o.status != ONBOARD:
                    o.status = ASSIGNED
            elif o.status != ONBOARD:
                o.status, o.vehicle_id = PENDING, None

    # ------------------------------------------------------------------ proposals

    def on_approval(self, ev: Any, out: list[Out]) -> None:
        st = self.state
        prop = st.proposals.pop(ev.decision_id, None)
        if prop is None:
            st.count("approvals_unknown")
            return
        if not ev.approved:
            self.revert_proposal(prop)
            self.emit_decision(out, prop["kind"], ev.ts, "rejected", prop["autonomy"],
                               prop["order_ids"], {}, [ev.event_id],
                               Explanation(f"Proposal rejected by {ev.by}"), ev.decision_id)
            return
        stale = [vid for vid, ver in prop["versions"].items()
                 if st.vehicles.get(vid) is None or st.vehicles[vid].route_version != ver
                 or not st.vehicles[vid].available]
        if stale:
            self.revert_proposal(prop)
            self.emit_decision(out, prop["kind"], ev.ts, "expired", prop["autonomy"],
                               prop["order_ids"], {}, [ev.event_id],
                               Explanation(f"Approved by {ev.by} but vehicles "
                                           f"{', '.join(stale)} changed since: not applied"),
                               ev.decision_id)
            return
        routes = {vid: [tuple(s) for s in r] for vid, r in prop["routes"].items()}
        self.apply_routes(routes, ev.ts)
        expl = Explanation.from_record(prop["explanation"])
        expl.approved_by = ev.by
        self.emit_decision(out, prop["kind"], ev.ts, "applied", prop["autonomy"],
                           prop["order_ids"], routes, [ev.event_id] + prop["triggers"],
                           expl, ev.decision_id)

    def expire_proposals(self, now: float, triggers: list[str], out: list[Out]) -> None:
        """Proposals without an answer within ``proposal_ttl_s`` expire."""
        s, st = self.settings, self.state
        for did in list(st.proposals):
            prop = st.proposals[did]
            if now - prop["ts"] >= s.proposal_ttl_s:
                del st.proposals[did]
                self.revert_proposal(prop)
                self.emit_decision(out, prop["kind"], now, "expired", prop["autonomy"],
                                   prop["order_ids"], {}, triggers,
                                   Explanation(f"No answer within {s.proposal_ttl_s / 60:.0f} min"),
                                   did)

    def revert_proposal(self, prop: dict) -> None:
        for oid in prop["order_ids"]:
            o = self.state.orders.get(oid)
            if o is not None and o.status == PROPOSED:
                o.status, o.vehicle_id = PENDING, None

    # ------------------------------------------------------------------ expected effect

    def effect(self, before: dict[str, list], after: dict[str, list], now: float,
               focus: list[str]) -> dict:
        """Expected effect of replacing ``before`` by ``after``: lateness minutes, km,
        cost and on-time probability of the ``focus`` orders (time-dependent timing)."""
        st = self.state
        tt = self.world.travel.tt
        late_b = late_a = km_b = km_a = cost_b = cost_a = 0.0
        p_b: list[float] = []
        p_a: list[float] = []
        for vid in after:
            v = st.vehicles[vid]
            pos, ts = start_of(v, now)
            for stops, acc in ((before.get(vid, []), "b"), (after[vid], "a")):
                stops = [tuple(s) for s in stops if s[0] in st.orders]
                t = route_timing(v, stops, st.orders, pos, ts, tt)
                km = self.world.route_km(pos, stops, v.end) / 1000.0
                cost = km * v.cost_per_km + max(0.0, t.end_ts - ts) / 3600.0 * v.cost_per_hour
                hour = (now % 86400) / 3600.0
                probs = []
                for i, (oid, kind) in enumerate(stops):
                    if kind == DELIVERY and oid in focus:
                        o = st.orders[oid]
                        xr = self.world.risk_x(v, o, t.start[i],
                                               2 * (120.0 + 0.12 * max(0.0, t.start[i] - now)),
                                               t.start[i] - now, i, hour)
                        probs.append(1.0 - self.seats.late_risk.predict_proba(xr))
                if acc == "b":
                    late_b += t.lateness_s
                    km_b += km
                    cost_b += cost
                    p_b += probs
                else:
                    late_a += t.lateness_s
                    km_a += km
                    cost_a += cost
                    p_a += probs
        eff = {"lateness_min": round((late_a - late_b) / 60.0, 1), "km": round(km_a - km_b, 2),
               "cost": round(cost_a - cost_b, 2)}
        if p_a:
            eff["p_on_time"] = round(sum(p_a) / len(p_a), 3)
            if p_b:
                eff["p_on_time_before"] = round(sum(p_b) / len(p_b), 3)
        return eff
