"""Governance: how far the engine may act on its own.

Each decision kind has an autonomy level (``EngineSettings.autonomy(kind)``):
``auto`` applies the new routes at once, ``propose`` publishes a proposal that an
operator approves or rejects (fs.approvals) and that expires after
``proposal_ttl_s``, ``alert_only`` publishes the decision without acting.  Every
decision carries its expected effect (lateness, km, cost, on-time probability).

The rules (docs/governance.md):

* A rejected proposal, and an ``off`` (alert-only) decision, is remembered per order
  with its reason: the same orders are not decided again at that autonomy until the
  situation changes materially (:meth:`Governance.material_change`).
* An approval is applied when the parts of the routes the proposal touched are
  unchanged: stops served or cancelled since do not count as changes.
* A proposal nobody answered within ``proposal_ttl_s`` raises a
  ``proposal_unanswered`` alert, then ``proposal_fallback`` applies it (``apply``,
  the default: customers are served even when nobody watches) or keeps it open
  (``keep``).
* ``propose`` and ``off`` never silence a late risk: the stops a late-risk decision
  would have helped get their alert and customer message while it is not applied.
"""

from __future__ import annotations

import zlib
from typing import Any

from fleetstream.contract.settings import EngineSettings
from fleetstream.operators.dispatch import route_timing
from fleetstream.operators.estimators import ModelSeats
from fleetstream.operators.state import (ACTIVE, ASSIGNED, AT_DEPOT, DELIVERY, DONE, ONBOARD, PENDING,
                                         PICKUP, PROPOSED)
from fleetstream.operators.traveltime import fast_distance_m
from fleetstream.operators.zone.records import Decision, Emitter, Explanation, Out
from fleetstream.operators.zone.state import ZoneState
from fleetstream.operators.zone.world import World, start_of

MEMORY = "~governance"
"""Key of the governance memory in ``ZoneState.proposals`` (so it is in every snapshot):
``{"routes": {}, "held": {order id: hold}, "risk": {order id: ts}}``.  Its empty
``routes`` keep it out of every vehicle's ``in_proposal``."""
PROPOSAL_UNANSWERED = "proposal_unanswered"
MAX_ROOT_CAUSES = 10


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
        autonomy of ``kind`` says (``force_auto``: reality already decided).

        Orders held by an earlier rejection or ``off`` decision (no material change
        since) are left out: an assignment drops their stops, another kind is not
        decided again when every order it concerns is held."""
        autonomy = "auto" if force_auto else self.settings.autonomy(kind)
        if explanation.root_causes is None and not force_auto:
            explanation.root_causes = self.root_causes(kind, order_ids, routes, triggers,
                                                       explanation, now) or None
        if autonomy != "auto":
            held = [oid for oid in order_ids if self.is_held(oid, now)]
            if held:
                if kind == "assign":
                    drop = set(held)
                    order_ids = [oid for oid in order_ids if oid not in drop]
                    routes = {vid: [s for s in r if s[0] not in drop] for vid, r in routes.items()}
                elif len(held) == len(order_ids):
                    order_ids = []
                else:   # decided for the other orders (new at risk); counted
                    self.state.count("decisions_with_held_orders", len(held))
                if not order_ids:
                    self.state.count("decisions_held")
                    return
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
                "before": {vid: [list(s) for s in self.state.vehicles[vid].route]
                           for vid in routes},
                "versions": {vid: self.state.vehicles[vid].route_version for vid in routes},
                "triggers": list(triggers), "explanation": explanation.to_record()}
            for oid in order_ids:
                o = self.state.orders.get(oid)
                if o is not None and o.status == PENDING:
                    o.status = PROPOSED
            self.risk_not_handled(out, kind, now, order_ids, triggers, explanation, did,
                                  "proposed")
        else:
            did = self.emit_decision(out, kind, now, "alert_only", autonomy, order_ids, routes,
                                     triggers, explanation)
            self.hold(order_ids, now, kind, "alert_only", "autonomy off", "")
            self.risk_not_handled(out, kind, now, order_ids, triggers, explanation, did,
                                  "alert_only")

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

    # ------------------------------------------------------------------ root cause

    def root_causes(self, kind: str, order_ids: list[str], routes: dict[str, list],
                    triggers: list[str], explanation: Explanation, now: float) -> list[dict]:
        """The input events behind the situation (docs/governance.md, "Root cause"):
        a vehicle that dropped out (a redispatch by insertion is the engine's answer to
        ``vehicle_unavailable``, its trigger), the conditions active on the routes of a
        late-risk decision, and the new orders of an assignment; at most
        ``MAX_ROOT_CAUSES``."""
        st = self.state
        rules = {r.get("rule") for r in (explanation.reasons or [])}
        causes: list[dict] = []
        if kind == "redispatch" and "cheapest_feasible_insertion" in rules and triggers:
            causes.append({"type": "vehicle_unavailable", "event_id": triggers[0]})
        if "late_risk" in rules:
            pts = [st.vehicles[vid].pos for vid in routes if vid in st.vehicles]
            pts += [st.orders[s[0]].stop_point(s[1]) for r in routes.values() for s in r
                    if s[0] in st.orders]
            for c in st.conditions:
                start, end, factor, area, eid, ckind = c[0], c[1], c[2], c[3], c[4], c[5]
                if not start <= now < end or factor <= 1.0:
                    continue
                if area is None or any(fast_distance_m(p, (area[0], area[1])) <= area[2]
                                       for p in pts):
                    rec = {"type": "condition", "event_id": eid}
                    if ckind:
                        rec["kind"] = str(ckind)
                    causes.append(rec)
        if kind == "assign":
            for oid in order_ids:
                o = st.orders.get(oid)
                if o is not None and o.event_id:
                    causes.append({"type": "order_created", "event_id": o.event_id,
                                   "order_id": oid})
        return causes[:MAX_ROOT_CAUSES]

    # ------------------------------------------------------------------ memory

    def memory(self) -> dict:
        """The governance memory (held orders, at-risk alerts), in the snapshot."""
        mem = self.state.proposals.get(MEMORY)
        if mem is None:
            mem = self.state.proposals[MEMORY] = {"routes": {}, "held": {}, "risk": {}}
        return mem

    def fleet_signature(self) -> int:
        """A fingerprint of which vehicles can take work (shift start or end, breakdown)."""
        ids = ",".join(sorted(vid for vid, v in self.state.vehicles.items() if v.available))
        return zlib.crc32(ids.encode())

    def depot_signature(self) -> int:
        """A fingerprint of which vehicles are still at the depot (can load parcels)."""
        ids = ",".join(sorted(vid for vid, v in self.state.vehicles.items()
                              if v.status == AT_DEPOT))
        return zlib.crc32(ids.encode())

    def hold(self, order_ids: list[str], now: float, kind: str, why: str, by: str,
             reason: str) -> None:
        """Remember that ``order_ids`` were rejected (or only alerted): not decided again
        at this autonomy until :meth:`material_change`."""
        held, fleet, depot = self.memory()["held"], self.fleet_signature(), self.depot_signature()
        for oid in order_ids:
            o = self.state.orders.get(oid)
            if o is None:
                continue
            held[oid] = {"ts": now, "kind": kind, "why": why, "by": by, "reason": reason,
                         "fleet": fleet, "depot": depot, "slack": o.window_end - now}

    def is_held(self, oid: str, now: float) -> bool:
        mem = self.state.proposals.get(MEMORY)
        h = mem["held"].get(oid) if mem else None
        if h is None:
            return False
        change = self.material_change(oid, h, now)
        if change:
            del mem["held"][oid]
            self.state.count(f"holds_released_{change}")
            return False
        return True

    def material_change(self, oid: str, h: dict, now: float) -> str:
        """Why the situation of held order ``oid`` changed materially since ``h`` ('' if
        it did not): ``time_out`` (a rejection only: ``rejection_hold_s`` passed), ``urgency`` (the time
        left to the window end halved: its late risk rose), ``fleet`` (a vehicle started,
        ended or dropped out), ``departure`` (a parcel not loaded yet: a vehicle left the
        depot, so fewer can still load it), ``gone`` (the order is no longer open)."""
        o = self.state.orders.get(oid)
        if o is None or o.status in DONE:
            return "gone"
        if h["why"] == "rejected" and now - h["ts"] >= self.settings.rejection_hold_s:
            return "time_out"
        if o.window_end - now <= h["slack"] / 2.0:
            return "urgency"
        if self.fleet_signature() != h["fleet"]:
            return "fleet"
        if (o.kind == "parcel" and o.status != ONBOARD and "depot" in h
                and self.depot_signature() != h["depot"]):
            return "departure"
        return ""

    def risk_not_handled(self, out: list[Out], kind: str, now: float, order_ids: list[str],
                         triggers: list[str], explanation: Explanation, did: str,
                         status: str) -> None:
        """A late-risk decision that is not applied (proposed or off) leaves its stops at
        risk: alert and tell the customers, once per order per cooldown."""
        rules = [r for r in (explanation.reasons or []) if r.get("rule") == "late_risk"]
        if kind not in ("reroute", "redispatch") or not rules:
            return
        risk, cool = self.memory()["risk"], self.settings.trigger_cooldown_s
        fresh = [oid for oid in order_ids if oid in self.state.orders
                 and now - risk.get(oid, -1e18) >= cool]
        if not fresh:
            return
        etas: dict[str, float | None] = {}
        for oid in fresh:
            risk[oid] = now
            o = self.state.orders[oid]
            v = self.state.vehicles.get(o.vehicle_id) if o.vehicle_id else None
            etas[oid] = eta_on(v, oid) if v is not None else None
        vid = self.state.orders[fresh[0]].vehicle_id
        self.emit.alert(out, now, "late_risk", "warning",
                        f"{len(fresh)} stop{'s' if len(fresh) > 1 else ''} at risk of missing "
                        f"the window ({', '.join(fresh)}): the {kind} {did} that would help is "
                        f"{status.replace('_', '-')}, not applied",
                        vid, fresh, {"threshold": self.settings.late_risk_on, "etas": etas,
                                     "redispatch": f"{kind} {did} {status}"}, triggers)
        for oid in fresh:
            eta = etas[oid]
            if eta is not None:
                o = self.state.orders[oid]
                self.emit.notify(out, now, o, "window_at_risk", eta, eta)

    # ------------------------------------------------------------------ proposals

    def open_proposals(self) -> list[str]:
        return [did for did in self.state.proposals if did != MEMORY]

    def on_approval(self, ev: Any, out: list[Out]) -> None:
        st = self.state
        prop = st.proposals.pop(ev.decision_id, None) if ev.decision_id != MEMORY else None
        if prop is None:
            st.count("approvals_unknown")
            return
        reason = getattr(ev, "reason", None) or ""
        if not ev.approved:
            self.revert_proposal(prop)
            self.hold(prop["order_ids"], ev.ts, prop["kind"], "rejected", ev.by, reason)
            self.emit_decision(out, prop["kind"], ev.ts, "rejected", prop["autonomy"],
                               prop["order_ids"], {}, [ev.event_id],
                               Explanation(f"Proposal rejected by {ev.by}"
                                           + (f": {reason}" if reason else "")),
                               ev.decision_id)
            return
        routes, stale = self.still_valid(prop)
        if stale:
            self.revert_proposal(prop)
            self.emit_decision(out, prop["kind"], ev.ts, "expired", prop["autonomy"],
                               prop["order_ids"], {}, [ev.event_id],
                               Explanation(f"Approved by {ev.by} but the routes of "
                                           f"{', '.join(stale)} changed since (beyond stops "
                                           "served): not applied"),
                               ev.decision_id)
            return
        self.apply_routes(routes, ev.ts)
        expl = Explanation.from_record(prop["explanation"])
        expl.approved_by = ev.by
        self.emit_decision(out, prop["kind"], ev.ts, "applied", prop["autonomy"],
                           prop["order_ids"], routes, [ev.event_id] + prop["triggers"],
                           expl, ev.decision_id)

    def still_valid(self, prop: dict) -> tuple[dict[str, list], list[str]]:
        """(routes to apply, vehicles whose route changed).  A vehicle's route still
        counts as the one proposed on when it differs only by stops served or cancelled
        since; those stops leave the proposed route too."""
        st = self.state
        routes: dict[str, list] = {}
        stale: list[str] = []
        before = prop.get("before")
        for vid, new in prop["routes"].items():
            v = st.vehicles.get(vid)
            if v is None or not v.available or vid in st.locked:  # locked since: a dispatcher's
                stale.append(vid)
                continue
            if before is None:   # a proposal from a snapshot of an earlier version
                if v.route_version != prop["versions"][vid]:
                    stale.append(vid)
                    continue
                routes[vid] = [tuple(s) for s in new]
                continue
            was = [tuple(s) for s in before[vid] if self.open_stop(s)]
            if [tuple(s) for s in v.route if self.open_stop(s)] != was:
                stale.append(vid)
                continue
            routes[vid] = [tuple(s) for s in new if self.open_stop(s)]
        return routes, stale

    def open_stop(self, stop: Any) -> bool:
        """Is the stop (order id, kind) still to be done?"""
        o = self.state.orders.get(stop[0])
        if o is None or o.status in DONE:
            return False
        return not (stop[1] == PICKUP and o.status == ONBOARD)

    def expire_proposals(self, now: float, triggers: list[str], out: list[Out]) -> None:
        """Proposals without an answer within ``proposal_ttl_s``: a
        ``proposal_unanswered`` alert, then ``proposal_fallback`` (apply if still
        valid, or keep open).  A kept proposal whose routes changed expires."""
        s, st = self.settings, self.state
        self.forget(now)
        for o, kind, eta, hi80, reason in self.emit.messages.due(st, now):
            self.emit.notify(out, now, o, kind, eta, hi80, reason)   # held in quiet hours
        for did in self.open_proposals():
            prop = st.proposals[did]
            waited = now - prop["ts"]
            if prop.get("escalated"):
                routes, stale = self.still_valid(prop)
                if stale:
                    del st.proposals[did]
                    self.revert_proposal(prop)
                    self.emit_decision(out, prop["kind"], now, "expired", prop["autonomy"],
                                       prop["order_ids"], {}, triggers, Explanation(
                                           f"Unanswered for {waited / 60:.0f} min and the "
                                           f"routes of {', '.join(stale)} changed since: "
                                           "withdrawn"), did)
                continue
            if waited < s.proposal_ttl_s:
                continue
            fallback = s.proposal_fallback
            self.emit.alert(out, now, PROPOSAL_UNANSWERED, "warning",
                            f"Proposal {did} ({prop['kind']} of "
                            f"{', '.join(prop['order_ids'])}) unanswered for "
                            f"{waited / 60:.0f} min: "
                            + ("applying it (engine.proposal_fallback=apply)" if fallback == "apply"
                               else "kept open for an answer (engine.proposal_fallback=keep)"),
                            None, list(prop["order_ids"]),
                            {"decision_id": did, "decision_kind": prop["kind"],
                             "waited_s": round(waited, 1), "fallback": fallback}, triggers)
            if fallback == "keep":
                prop["escalated"] = True
                continue
            del st.proposals[did]
            routes, stale = self.still_valid(prop)
            if stale:
                self.revert_proposal(prop)
                self.emit_decision(out, prop["kind"], now, "expired", prop["autonomy"],
                                   prop["order_ids"], {}, triggers,
                                   Explanation(f"No answer within {s.proposal_ttl_s / 60:.0f} min "
                                               f"and the routes of {', '.join(stale)} changed "
                                               "since: not applied, planned again"), did)
                continue
            self.apply_routes(routes, now)
            expl = Explanation.from_record(prop["explanation"])
            expl.approved_by = "engine (proposal_fallback=apply)"
            self.emit_decision(out, prop["kind"], now, "applied", prop["autonomy"],
                               prop["order_ids"], routes, list(triggers) + prop["triggers"],
                               expl, did)

    def forget(self, now: float) -> None:
        """Drop memory of orders no longer open and at-risk marks past their cooldown."""
        mem = self.state.proposals.get(MEMORY)
        if mem is None:
            return
        orders, cool = self.state.orders, self.settings.trigger_cooldown_s
        for oid in [k for k in mem["held"] if k not in orders or orders[k].status in DONE]:
            del mem["held"][oid]
        for oid in [k for k, ts in mem["risk"].items() if now - ts >= cool]:
            del mem["risk"][oid]

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
                hour = self.world.clock.hour(now)
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


def eta_on(v: Any, oid: str) -> float | None:
    """The last predicted arrival at ``oid``'s delivery on ``v``'s route."""
    for i, (sid, kind) in enumerate(v.route):
        if sid == oid and kind == DELIVERY and i < len(v.etas):
            return v.etas[i]
    return None
