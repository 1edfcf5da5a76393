"""Stage 2: the zone engine, all decision logic for one zone.

Plain Python, no Bytewax import: the same class runs in the Bytewax flow, in the
closed-loop simulator and in unit tests.  It consumes validated events of one
zone **in input order** (``process(seq, event)``) and returns output records as
``(topic, record)`` pairs.  Its clock is the largest event time it has seen;
periodic work (assignment sweeps, proposal expiry, stale-vehicle checks) runs
when that clock crosses the next sweep time.  Nothing here reads the wall clock
or an unseeded random source, so a replay gives byte-identical output.

Models and routing sit behind small contracts (``operators/estimators.py``,
``operators/dispatch.py``).
"""

from __future__ import annotations

import math
import pickle
import zlib
from typing import Any, Callable

from fleetstream.contract.events import Event
from fleetstream.contract.outputs import (OUTPUT_SCHEMA_VERSION, TOPIC_ALERTS, TOPIC_DECISIONS, TOPIC_ETA,
                                 TOPIC_NOTIFICATIONS, TOPIC_OUTCOMES)
from fleetstream.contract.settings import EngineSettings
from fleetstream.operators import notify
from fleetstream.operators.dispatch import (Rejection, Timing, apply_insertion,
                                route_timing, static_reject)
from fleetstream.operators.estimators import ModelSeats
from fleetstream.operators.routing.engine_adapter import RoutingConfig
from fleetstream.operators.routing.solver import Budget
from fleetstream.operators.routing.strategy import ORToolsStrategy
from fleetstream.operators.state import (ACTIVE, ASSIGNED, AT_DEPOT, CANCELLED, DELIVERED, DELIVERY, DONE,
                             ENDED, FAILED, ONBOARD, PENDING, PICKUP, PROPOSED, UNAVAILABLE, Order,
                             Vehicle)
from fleetstream.operators.traveltime import (HaversineProvider, TravelTimeProvider, fast_distance_m,
                                  haversine_m)

Out = tuple[str, dict]
STATE_VERSION = 2
DEPART_RADIUS_M = 200.0
HORIZON_BUCKETS = (7200.0, 3600.0, 1800.0, 600.0, 0.0)  # snapshot a prediction once per bucket
RISK_MAX_STOPS = 8
RISK_HORIZON_S = 5400.0
LEG_RATIO_REFRESH_S = 900.0


def _bucket(horizon_s: float) -> int:
    for i, b in enumerate(HORIZON_BUCKETS):
        if horizon_s >= b:
            return i
    return len(HORIZON_BUCKETS) - 1


def _r(x: float) -> float:
    return round(x, 1)


def routing_config(s: EngineSettings) -> RoutingConfig:
    """The routing seat's configuration from the engine settings (``routing_*``)."""
    return RoutingConfig(
        plan_budget=Budget(time_limit_s=60.0, solution_limit=s.routing_plan_solutions),
        plan_enabled=s.routing_plan, reopt_interval_s=s.routing_reopt_interval_s,
        reopt_min_gain=s.routing_reopt_min_gain,
        redispatch_change_cost=s.routing_redispatch_change_cost,
        redispatch_candidates=s.routing_redispatch_candidates,
        lateness_cost_per_min=s.routing_lateness_cost_per_min,
        learned_pace=s.routing_learned_pace)


class ZoneEngine:
    """Vehicles, routes, orders, models and governance of one zone."""

    def __init__(self, zone: str, settings: EngineSettings | None = None,
                 provider: TravelTimeProvider | None = None, strategy: Any = None,
                 seats: ModelSeats | None = None):
        self.zone = zone
        self.settings = settings or EngineSettings()
        self.provider = provider or HaversineProvider()
        self.strategy = strategy if strategy is not None else ORToolsStrategy(routing_config(self.settings))
        self.seats = seats or ModelSeats()
        self.clock = -1e18
        self.n_out = 0
        self.next_sweep_ts: float | None = None
        self.vehicles: dict[str, Vehicle] = {}
        self.orders: dict[str, Order] = {}
        self.customers: dict[str, dict] = {}
        self.conditions: list[tuple[float, float, float, Any, str]] = []
        self.proposals: dict[str, dict] = {}
        self.stats: dict[str, float] = {}
        self.last_shift_start_ts = -1e18
        self.hist: dict[int, list[float]] = {}  # hour -> [sum of true/provider ratios, n]
        self.observer: Callable[[str, dict], None] | None = None  # evaluation hook
        self.plan_wave_ts = -1e18      # event time of the last zone plan
        self.next_reopt_ts: float | None = None
        # vid -> (route judged by the last periodic re-optimization, active conditions then)
        self.reopt_seen: dict[str, tuple[list, tuple]] = {}

    # ------------------------------------------------------------------ time

    def factor(self, a: tuple, b: tuple, ts: float) -> float:
        f = 1.0
        for start, end, fac, area, _eid in self.conditions:
            if start <= ts < end:
                if area is None or (fast_distance_m(a, area[:2]) <= area[2] or
                                    fast_distance_m(b, area[:2]) <= area[2]):
                    f *= fac
        return f

    def tt(self, a: tuple, b: tuple, ts: float) -> float:
        """Planning travel time: provider x live conditions x planning buffer (seconds)."""
        f = self.settings.plan_time_factor
        if self.conditions:
            f *= self.factor(a, b, ts)
        return self.provider.travel_s(a, b, ts, f)

    def dist(self, a: tuple, b: tuple) -> float:
        return self.provider.distance_m(a, b)

    # ------------------------------------------------------------------ entry

    def process(self, ev: Event) -> list[Out]:
        """Apply one event; returns output records.  Events must come in input order."""
        out: list[Out] = []
        if ev.ts > self.clock:
            self.clock = ev.ts
        if self.next_sweep_ts is None:
            iv = self.settings.sweep_interval_s
            self.next_sweep_ts = (math.floor(ev.ts / iv) + 1) * iv
        handler = getattr(self, "on_" + ev.TYPE)
        handler(ev, out)
        if self.clock >= self.next_sweep_ts:
            self.sweep(self.clock, [ev.event_id], out)
            iv = self.settings.sweep_interval_s
            self.next_sweep_ts = (math.floor(self.clock / iv) + 1) * iv
        return out

    def _count(self, key: str, n: float = 1) -> None:
        self.stats[key] = self.stats.get(key, 0) + n

    def _next_id(self, prefix: str, now: float) -> str:
        self.n_out += 1
        return f"{prefix}-{self.zone}-{int(now)}-{self.n_out}"

    # ------------------------------------------------------------------ fleet

    def on_shift_start(self, ev: Any, out: list[Out]) -> None:
        old = self.vehicles.get(ev.vehicle_id)
        v = Vehicle.from_event(ev)
        if old is not None and old.available:
            v.route, v.onboard, v.status, v.pos = old.route, old.onboard, old.status, old.pos
        self.vehicles[v.id] = v
        self.last_shift_start_ts = ev.ts

    def on_shift_end(self, ev: Any, out: list[Out]) -> None:
        v = self.vehicles.get(ev.vehicle_id)
        if v is None:
            return
        self._release_vehicle(v, ENDED, ev, out)

    def on_vehicle_unavailable(self, ev: Any, out: list[Out]) -> None:
        v = self.vehicles.get(ev.vehicle_id)
        if v is None:
            return
        self._alert(out, ev.ts, "vehicle_unavailable", "critical",
                    f"Vehicle {v.id} unavailable: {ev.reason}", v.id,
                    [oid for oid, _ in v.route], {"reason": ev.reason}, [ev.event_id])
        self._release_vehicle(v, UNAVAILABLE, ev, out)
        # Try to re-home what can move right away rather than at the next sweep.
        self.sweep(ev.ts, [ev.event_id], out, kind="redispatch")

    def _release_vehicle(self, v: Vehicle, status: str, ev: Any, out: list[Out]) -> None:
        v.status = status
        stranded = [oid for oid in v.onboard if self.orders.get(oid) and
                    self.orders[oid].status == ONBOARD]
        for oid, _kind in v.route:
            o = self.orders.get(oid)
            if o is not None and o.status in (ASSIGNED, PROPOSED):
                o.status, o.vehicle_id = PENDING, None
        v.route = [s for s in v.route if s[0] in stranded]
        v.route_version += 1
        if stranded and status == UNAVAILABLE:
            self._alert(out, ev.ts, "stranded_orders", "critical",
                        f"{len(stranded)} orders on board {v.id} cannot be redispatched "
                        "(physically on the vehicle): recover them", v.id, stranded,
                        {"on_board": len(stranded)}, [ev.event_id])

    # ------------------------------------------------------------------ telemetry

    def on_ping(self, ev: Any, out: list[Out]) -> None:
        v = self.vehicles.get(ev.vehicle_id)
        if v is None or not v.available:
            self._count("pings_ignored")
            return
        v.pos = (ev.lat, ev.lon)
        v.pos_ts = ev.ts
        v.speed_kmh = 0.8 * v.speed_kmh + 0.2 * ev.speed_kmh
        v.stale_alerted = False
        if v.status == AT_DEPOT and haversine_m(v.pos, v.start) > DEPART_RADIUS_M:
            self._depart(v, ev, out)
        if (v.status == ACTIVE and v.route and v.at_stop is None
                and ev.ts - v.eta_ts >= self.settings.eta_refresh_s):
            self.refresh(v, ev.ts, [ev.event_id], out)

    def _depart(self, v: Vehicle, ev: Any, out: list[Out]) -> None:
        v.status = ACTIVE
        v.depart_ts = ev.ts
        left = [oid for oid, kind in v.route
                if self.orders[oid].kind == "parcel" and oid not in v.onboard]
        if left:
            for oid in left:
                o = self.orders[oid]
                o.status, o.vehicle_id = PENDING, None
            v.route = [s for s in v.route if s[0] not in left]
            v.route_version += 1
            self._alert(out, ev.ts, "unassigned", "warning",
                        f"{v.id} left the depot without {len(left)} planned parcels; "
                        "they are back in the pool", v.id, left, {}, [ev.event_id])
        self._start_leg(v, ev.ts)

    def _start_leg(self, v: Vehicle, now: float) -> None:
        if not v.route:
            v.leg = None
            return
        oid, kind = v.route[0]
        o = self.orders[oid]
        p = o.stop_point(kind)
        f = self.factor(v.pos, p, now) if self.conditions else 1.0
        prov = self.provider.travel_s(v.pos, p, now, f)
        v.leg = {"from": v.pos, "ts": now, "to": [oid, kind], "provider_s": prov,
                 "x": self._leg_x(v, v.pos, p, now, prov, f, 0)}

    def _leg_x(self, v: Vehicle, a: tuple, b: tuple, ts: float, prov: float, f: float,
               ahead: int) -> dict:
        hour = (ts % 86400) / 3600.0
        return {"dist_km": self.provider.distance_m(a, b) / 1000.0, "provider_s": prov,
                "hour": hour, "dow": int(ts // 86400 + 3) % 7, "zone": self.zone,
                "vehicle_type": v.vehicle_type, "fleet_type": v.fleet_type,
                "driver_pace": v.pace, "condition_factor": f, "stops_ahead": ahead,
                "speed_kmh": v.speed_kmh, "vehicle_id": v.id}

    # ------------------------------------------------------------------ ETA and risk

    def refresh(self, v: Vehicle, now: float, triggers: list[str], out: list[Out]) -> None:
        """Predict arrival, interval and risk for every remaining stop of ``v``."""
        s = self.settings
        seats = self.seats
        v.eta_ts = now
        route = v.route
        if v.route_version != v.leg_ratio_rv or now - v.leg_ratio_ts >= LEG_RATIO_REFRESH_S:
            self._refresh_leg_ratios(v, now)
        t, prev = now, v.pos
        tp = th = now   # the same route timed by the provider alone / by the hourly mean
        etas = []
        at_risk: list[str] = []
        hour = (now % 86400) / 3600.0
        for i, (oid, kind) in enumerate(route):
            o = self.orders[oid]
            p = o.stop_point(kind)
            f = self.factor(prev, p, t) if self.conditions else 1.0
            prov = self.provider.travel_s(prev, p, t, f)
            if i == 0:
                ratio = seats.eta.predict_ratio(self._leg_x(v, prev, p, t, prov, f, 0))
            else:
                ratio = v.leg_ratios[i - 1] if i - 1 < len(v.leg_ratios) else 1.0
            arrive = t + prov * ratio
            arrive_p = tp + prov
            arrive_h = th + prov * self._hist_ratio(th)
            w0, w1 = o.stop_window(kind)
            svc = o.stop_service_s(kind)
            start = arrive if arrive > w0 else w0
            etas.append(_r(arrive))
            t, prev = start + svc, p
            tp = (arrive_p if arrive_p > w0 else w0) + svc
            th = (arrive_h if arrive_h > w0 else w0) + svc
            if kind != DELIVERY:
                continue
            horizon = arrive - now
            xi = {"horizon_s": horizon, "stops_ahead": i, "zone": self.zone, "hour": hour,
                  "pace_var": abs(v.pace - 1.0)}
            lo80, hi80, lo95, hi95 = seats.intervals.interval(xi)
            p_late = None
            if i < RISK_MAX_STOPS or horizon < RISK_HORIZON_S:
                xr = self._risk_x(v, o, arrive, hi80 - lo80, horizon, i, hour)
                p_late = seats.late_risk.predict_proba(xr)
                b = _bucket(horizon)
                if not o.snaps or o.snaps[-1]["b"] != b:
                    o.snaps.append({"b": b, "ts": now, "eta": arrive, "xi": xi, "xr": xr,
                                    "p_late": p_late, "lo80": lo80, "hi80": hi80,
                                    "lo95": lo95, "hi95": hi95, "eta_p": arrive_p,
                                    "eta_h": arrive_h})
                if self.observer is not None:
                    before_end = o.window_end - now
                    for mark in (3600.0, 1800.0):
                        if before_end <= mark and mark not in o.wsnaps and before_end > mark - 900:
                            o.wsnaps[mark] = {"ts": now, "eta": arrive, "p_late": p_late,
                                              "p_fail": seats.failure_risk.predict_proba(xr)}
                if p_late >= s.late_risk_on and not o.late_flag:
                    o.late_flag = True
                    at_risk.append(oid)
                elif p_late <= s.late_risk_off and o.late_flag:
                    o.late_flag = False
                if horizon < 3600 and not o.fail_alerted:
                    p_fail = seats.failure_risk.predict_proba(xr)
                    if p_fail >= s.failure_risk_on:
                        o.fail_alerted = True
                        self._alert(out, now, "failure_risk", "warning",
                                    f"Order {oid}: {p_fail:.0%} risk of a failed attempt "
                                    f"(customer {o.customer_id})", v.id, [oid],
                                    {"p_fail": round(p_fail, 3), **self._context_counts(o)},
                                    triggers)
            self._maybe_publish_eta(v, o, now, arrive, (lo80, hi80, lo95, hi95), i,
                                    p_late, out, triggers)
        v.etas = etas
        if at_risk:
            if now - v.last_trigger_ts >= s.trigger_cooldown_s:
                v.last_trigger_ts = now
                self.handle_risk(v, at_risk, now, triggers, out)
            else:
                self._count("risk_triggers_in_cooldown")

    def _hist_ratio(self, ts: float) -> float:
        h = self.hist.get(int(ts // 3600) % 24)
        return h[0] / h[1] if h and h[1] else 1.0

    def _refresh_leg_ratios(self, v: Vehicle, now: float) -> None:
        ratios = []
        t = now
        for i in range(1, len(v.route)):
            a = self.orders[v.route[i - 1][0]].stop_point(v.route[i - 1][1])
            b = self.orders[v.route[i][0]].stop_point(v.route[i][1])
            f = self.factor(a, b, t) if self.conditions else 1.0
            prov = self.provider.travel_s(a, b, t, f)
            ratios.append(self.seats.eta.predict_ratio(self._leg_x(v, a, b, t, prov, f, i)))
            t += prov + 120.0
        v.leg_ratios = ratios
        v.leg_ratio_ts = now
        v.leg_ratio_rv = v.route_version

    def _risk_x(self, v: Vehicle, o: Order, arrive: float, width80: float, horizon: float,
                ahead: int, hour: float) -> dict:
        c = self.customers.get(o.customer_id) or {}
        return {"slack_s": o.window_end - arrive, "width80_s": width80, "horizon_s": horizon,
                "stops_ahead": ahead, "priority": o.priority, "hour": hour, "zone": self.zone,
                "fleet_type": v.fleet_type, "vehicle_type": v.vehicle_type,
                "cust_failures": c.get("failures", 0), "cust_deliveries": c.get("deliveries", 0),
                "cust_access_failures": c.get("access_failures", 0),
                "access_difficulty_known": 1 if c.get("access_instructions") else 0,
                "kind": o.kind}

    def _maybe_publish_eta(self, v: Vehicle, o: Order, now: float, eta: float,
                           iv: tuple, ahead: int, p_late: float | None, out: list[Out],
                           triggers: list[str]) -> None:
        s = self.settings
        if o.pub_eta is not None:
            if now - o.pub_ts < s.eta_publish_min_period_s:
                return
            if abs(eta - o.pub_eta) < s.eta_publish_delta_s and abs(eta + iv[1] - o.pub_hi) < s.eta_publish_delta_s:
                return
        o.pub_ts, o.pub_eta, o.pub_hi = now, eta, eta + iv[1]
        out.append((TOPIC_ETA, {
            "eta_id": self._next_id("E", now), "ts": _r(now), "v": OUTPUT_SCHEMA_VERSION,
            "zone": self.zone, "order_id": o.id, "vehicle_id": v.id, "stop": DELIVERY,
            "eta": _r(eta), "lo80": _r(eta + iv[0]), "hi80": _r(eta + iv[1]),
            "lo95": _r(eta + iv[2]), "hi95": _r(eta + iv[3]),
            "window_start": o.window_start, "window_end": o.window_end,
            "stops_ahead": ahead, "p_late": round(p_late, 4) if p_late is not None else 0.0,
            "models": self.seats.versions(), "trigger_event_ids": list(triggers)}))
        self._count("eta_published")
        if o.notified_eta is None:
            o.notified_eta = (eta, -1e18)
        elif (abs(eta - o.notified_eta[0]) >= s.notify_eta_shift_s
              and now - o.notified_eta[1] >= s.notify_min_period_s):
            o.notified_eta = (eta, now)
            self._notify(out, now, o, "eta_changed", eta, eta + iv[1])

    # ------------------------------------------------------------------ risk actions

    def handle_risk(self, v: Vehicle, at_risk: list[str], now: float, triggers: list[str],
                    out: list[Out]) -> None:
        """Re-route, else redispatch, else alert: one decision per trigger."""
        self._count("risk_triggers")
        cur = [tuple(st) for st in v.route]
        before = route_timing(v, cur, self.orders, v.pos, now, self.tt)
        seq = None
        method = "edf"
        if hasattr(self.strategy, "reroute_result"):
            r = self.strategy.reroute_result(v, self.orders, now, self.tt, self.dist,
                                             keep_first=v.at_stop is not None,
                                             time_factor=self._pace_factor(v))
            if r is not None and r.changed:
                seq = [(oid, PICKUP if k == PICKUP else DELIVERY) for oid, k in r.sequence]
                if v.at_stop is not None:
                    seq = [cur[0]] + seq
                method = r.method
        else:
            seq = self.strategy.reroute(v, self.orders, now, self.tt)
        if seq is not None:
            after = route_timing(v, seq, self.orders, v.pos, now, self.tt)
            gain = before.lateness_s - after.lateness_s
            if gain > 0:
                self._decide(out, "reroute", now, at_risk, {v.id: seq}, triggers, {
                    "summary": f"Re-sequenced {v.id}'s {len(seq)} stops: predicted lateness "
                               f"{before.lateness_s / 60:.0f} -> {after.lateness_s / 60:.0f} min",
                    "reasons": [{"rule": "late_risk", "orders": at_risk,
                                 "threshold": self.settings.late_risk_on}],
                    "alternatives": [{"option": "keep current sequence",
                                      "lateness_min": round(before.lateness_s / 60, 1)},
                                     {"option": "re-sequence",
                                      "lateness_min": round(after.lateness_s / 60, 1)}],
                    "expected_gain_min": round(gain / 60, 1),
                    "expected_effect": self._effect({v.id: cur}, {v.id: seq}, now, at_risk),
                    "method": method, "strategy": self.strategy.name})
                at_risk = [oid for oid in at_risk if self._still_late(seq, oid, after)]
                if not at_risk:
                    return
        moved, note = self._redispatch(v, at_risk, now, triggers, out)
        remaining = [oid for oid in at_risk if oid not in moved]
        if remaining:
            details = {"threshold": self.settings.late_risk_on,
                       "etas": {oid: self._eta_of(v, oid) for oid in remaining}}
            if note:
                details["redispatch"] = note
            self._alert(out, now, "late_risk", "warning",
                        f"{len(remaining)} stops of {v.id} at risk of missing their window",
                        v.id, remaining, details, triggers)
            for oid in remaining:
                o = self.orders[oid]
                eta = self._eta_of(v, oid) or now
                self._notify(out, now, o, "window_at_risk", eta, eta)

    def _eta_of(self, v: Vehicle, oid: str) -> float | None:
        for i, (sid, kind) in enumerate(v.route):
            if sid == oid and kind == DELIVERY and i < len(v.etas):
                return v.etas[i]
        return None

    def _still_late(self, seq: list, oid: str, timing: Timing) -> bool:
        for i, (sid, kind) in enumerate(seq):
            if sid == oid and kind == DELIVERY and i < len(timing.start):
                return timing.start[i] > timing.window_end[i]
        return True

    def _redispatch(self, v: Vehicle, at_risk: list[str], now: float, triggers: list[str],
                    out: list[Out]) -> tuple[list[str], str]:
        """Move at-risk orders that can still move (not on board) to other vehicles or
        fleet types when the gain beats the change cost; returns (moved, note)."""
        movable = [oid for oid in at_risk if self.orders[oid].status == ASSIGNED and (
            self.orders[oid].kind == "on_demand" or v.status == AT_DEPOT)]
        if not movable:
            return [], ""
        if not hasattr(self.strategy, "redispatch"):
            return self._redispatch_insertion(v, movable, now, triggers, out), ""
        cfg = self.routing_config
        cands: dict[str, Vehicle] = {}
        for oid in movable:
            for w in self._candidates(self.orders[oid], now)[: cfg.redispatch_candidates]:
                if w.id != v.id and not self._in_proposal(w.id):
                    cands[w.id] = w
        if not cands:
            self._count("redispatch_no_candidate")
            return [], "no candidate vehicle passes the static constraints"
        res = self.strategy.redispatch(v, movable, [cands[k] for k in sorted(cands)], self.orders,
                                       now, self.tt, self.dist)
        if res.action != "move":
            self._count("redispatch_kept" if res.action == "kept" else "redispatch_none")
            return [], res.explanation
        routes: dict[str, list] = {}
        for vid, stops in res.routes.items():
            w = self.vehicles[vid]
            new = [(oid, PICKUP if k == PICKUP else DELIVERY) for oid, k in stops]
            if w.at_stop is not None and w.route and (not new or new[0] != tuple(w.route[0])):
                head = tuple(w.route[0])
                new = [head] + [st for st in new if st != head]
            routes[vid] = new
        before = {vid: [tuple(st) for st in self.vehicles[vid].route] for vid in routes}
        moved = [m.job_id for m in res.moves]
        self._decide(out, "redispatch", now, moved, routes, triggers, {
            "summary": "; ".join(f"Move {m.job_id} from {v.id} ({v.fleet_type}) to {m.to_vehicle} "
                                 f"({self.vehicles[m.to_vehicle].fleet_type}): gain {m.gain:.2f}"
                                 for m in res.moves),
            "reasons": [{"rule": "late_risk", "orders": moved,
                         "threshold": self.settings.late_risk_on}],
            "alternatives": res.alternatives,
            "gain": round(res.gain, 2), "change_cost": res.threshold,
            "expected_effect": self._effect(before, routes, now, moved),
            "strategy": self.strategy.name})
        return moved, res.explanation

    def _redispatch_insertion(self, v: Vehicle, at_risk: list[str], now: float,
                              triggers: list[str], out: list[Out]) -> list[str]:
        """Baseline redispatch (strategies without ``redispatch``): cheapest insertion."""
        moved: list[str] = []
        s = self.settings
        for oid in at_risk:
            o = self.orders[oid]
            cur = route_timing(v, v.route, self.orders, v.pos, now, self.tt)
            late_now = self._lateness_of(v, oid, cur)
            others = [w for w in self._candidates(o, now) if w.id != v.id]
            ins, rej = self.strategy.insert(o, others, self.orders, now, self.tt, self.dist)
            if ins is None or late_now < s.redispatch_min_gain_s:
                continue
            target = self.vehicles[ins.vehicle_id]
            new_src = [st for st in v.route if st[0] != oid]
            saved = target.route
            target.route = list(saved)
            apply_insertion(target, o, ins)
            new_dst, target.route = target.route, saved
            o.vehicle_id = v.id
            self._decide(out, "redispatch", now, [oid], {v.id: new_src, target.id: new_dst},
                         triggers, {"summary": f"Move {oid} from {v.id} to {target.id}",
                                    "reasons": [{"rule": "late_risk", "order": oid}],
                                    "strategy": self.strategy.name})
            moved.append(oid)
        return moved

    def _lateness_of(self, v: Vehicle, oid: str, timing: Timing) -> float:
        for i, (sid, kind) in enumerate(v.route):
            if sid == oid and kind == DELIVERY:
                return max(0.0, timing.start[i] - timing.window_end[i])
        return 0.0

    # ------------------------------------------------------------------ orders

    def on_order_created(self, ev: Any, out: list[Out]) -> None:
        if ev.order_id in self.orders:
            self._count("orders_recreated_ignored")
            return
        self.orders[ev.order_id] = Order.from_event(ev)
        self.customers.setdefault(ev.customer_id, {"language": "en"})

    def on_order_cancelled(self, ev: Any, out: list[Out]) -> None:
        o = self.orders.get(ev.order_id)
        if o is None or o.status in DONE:
            return
        v = self.vehicles.get(o.vehicle_id) if o.vehicle_id else None
        o.status = CANCELLED
        self._outcome(out, ev, o, o.vehicle_id, "cancelled", ev.reason or None)
        if v is not None and any(s[0] == o.id for s in v.route):
            new = [s for s in v.route if s[0] != o.id]
            self._decide(out, "unassign", ev.ts, [o.id], {v.id: new}, [ev.event_id],
                         {"summary": f"Order {o.id} cancelled: removed from {v.id}'s route",
                          "reasons": [{"rule": "order_cancelled", "reason": ev.reason or ""}]},
                         force_auto=True)
        self._forget(o)

    def on_stop_arrived(self, ev: Any, out: list[Out]) -> None:
        o = self.orders.get(ev.order_id)
        v = self.vehicles.get(ev.vehicle_id)
        if o is None or v is None:
            return
        kind = ev.stop_kind
        v.at_stop = (o.id, kind)
        v.pos = o.stop_point(kind)
        self._learn_leg(v, o, kind, ev.ts)
        # Reality wins: the stop the driver reached is now the head of the route.
        if (o.id, kind) in v.route and v.route[0] != (o.id, kind):
            v.route.remove((o.id, kind))
            v.route.insert(0, (o.id, kind))
            v.route_version += 1
        if kind == DELIVERY:
            o.arrived_ts = ev.ts
            late = ev.ts > o.window_end
            self._count("arrivals")
            self._count("arrivals_late", 1 if late else 0)
            if self.observer is not None:
                self.observer("arrival", {"zone": self.zone, "order_id": o.id, "ts": ev.ts,
                                          "window_end": o.window_end, "late": late,
                                          "snaps": o.snaps, "wsnaps": o.wsnaps})
            for snap in o.snaps:
                resid = ev.ts - snap["eta"]
                self.seats.intervals.update(snap["xi"], resid)
                self.seats.late_risk.learn(snap["xr"], late)
                self._score_snapshot(snap, ev.ts, late)
        self._drift_alerts(ev.ts, [ev.event_id], out)

    def _score_snapshot(self, snap: dict, actual: float, late: bool) -> None:
        self._count("eta_scored")
        self._count("eta_abs_err_s", abs(actual - snap["eta"]))
        r = actual - snap["eta"]
        self._count("cov80", 1 if snap["lo80"] <= r <= snap["hi80"] else 0)
        self._count("cov95", 1 if snap["lo95"] <= r <= snap["hi95"] else 0)

    def _drift_alerts(self, now: float, triggers: list[str], out: list[Out]) -> None:
        """Turn the drift events the learned seats queued (ADWIN on their progressive
        errors, see models/monitor.py) into ops alerts; baseline seats have none."""
        for name in ("eta", "intervals", "late_risk", "failure_risk"):
            poll = getattr(getattr(self.seats, name), "drift_events", None)
            if poll is None:
                continue
            for d in poll():
                self._alert(out, now, "drift", "warning",
                            f"Model drift in zone {self.zone}: {d['seat']} {d['metric']} "
                            f"{d['before']:.3g} -> {d['after']:.3g} over the last {d['window']} labels",
                            None, [], d, triggers)

    def _learn_leg(self, v: Vehicle, o: Order, kind: str, now: float) -> None:
        leg = v.leg
        v.leg = None
        if leg is None:
            return
        if leg["to"] != [o.id, kind]:
            return  # the driver went elsewhere: the prediction was for another leg
        actual = now - leg["ts"]
        prov = leg["provider_s"]
        if prov < 30 or actual <= 0:
            return
        ratio = actual / prov
        if self.observer is not None:
            pred = self.seats.eta.predict_ratio(leg["x"])
            self.observer("leg", {"zone": self.zone, "x": leg["x"], "ratio": ratio, "pred": pred,
                                  "hist": self._hist_ratio(leg["ts"])})
        self.seats.eta.learn(leg["x"], ratio)
        h = self.hist.setdefault(int(leg["ts"] // 3600) % 24, [0.0, 0])
        h[0] += ratio
        h[1] += 1
        v.pace = 0.9 * v.pace + 0.1 * min(3.0, max(0.33, ratio))

    def on_order_picked_up(self, ev: Any, out: list[Out]) -> None:
        o = self.orders.get(ev.order_id)
        v = self.vehicles.get(ev.vehicle_id)
        if o is None or v is None or o.status in DONE:
            return
        if o.vehicle_id and o.vehicle_id != v.id:
            # Reality wins over the plan: it is on this vehicle now.
            old = self.vehicles.get(o.vehicle_id)
            if old is not None:
                old.route = [s for s in old.route if s[0] != o.id]
                old.route_version += 1
            self._count("reconciled_pickups")
        o.status, o.vehicle_id = ONBOARD, v.id
        if o.id not in v.onboard:
            v.onboard.append(o.id)
        if (o.id, PICKUP) in v.route:
            v.route.remove((o.id, PICKUP))
            v.route_version += 1
        if (o.id, DELIVERY) not in v.route:
            v.route.append((o.id, DELIVERY))
            v.route_version += 1
        if o.kind == "on_demand":
            v.at_stop = None
            self._start_leg(v, ev.ts)

    def on_order_delivered(self, ev: Any, out: list[Out]) -> None:
        self._finish(ev, DELIVERED, out)

    def on_order_failed(self, ev: Any, out: list[Out]) -> None:
        self._finish(ev, FAILED, out)

    def _finish(self, ev: Any, status: str, out: list[Out]) -> None:
        o = self.orders.get(ev.order_id)
        if o is None or o.status in DONE:
            return
        v = self.vehicles.get(ev.vehicle_id)
        failed = status == FAILED
        c = self.customers.setdefault(o.customer_id, {"language": "en"})
        c["deliveries" if not failed else "failures"] = c.get("deliveries" if not failed else "failures", 0) + 1
        if failed:
            key = f"{ev.reason}_failures" if ev.reason in ("access", "not_home") else "other_failures"
            c[key] = c.get(key, 0) + 1
            self._count("failed")
        else:
            self._count("delivered")
        if self.observer is not None:
            self.observer("outcome", {"zone": self.zone, "order_id": o.id, "ts": ev.ts,
                                      "failed": failed, "snaps": o.snaps, "wsnaps": o.wsnaps})
        self._outcome(out, ev, o, ev.vehicle_id, "failed" if failed else "delivered",
                      ev.reason if failed else None)
        for snap in o.snaps:
            self.seats.failure_risk.learn(snap["xr"], failed)
        self._drift_alerts(ev.ts, [ev.event_id], out)
        o.status = status
        if v is not None:
            if o.id in v.onboard:
                v.onboard.remove(o.id)
            if any(s[0] == o.id for s in v.route):
                v.route = [s for s in v.route if s[0] != o.id]
                v.route_version += 1
            v.at_stop = None
            v.eta_ts = -1e18
            self._start_leg(v, ev.ts)
        self._forget(o)

    def _outcome(self, out: list[Out], ev: Any, o: Order, vehicle_id: str | None, outcome: str,
                 reason: str | None) -> None:
        """How an order ended, for the read model and customer history (fs.outcomes)."""
        rec = {"outcome_id": self._next_id("O", ev.ts), "ts": _r(ev.ts), "v": OUTPUT_SCHEMA_VERSION,
               "zone": self.zone, "order_id": o.id, "customer_id": o.customer_id,
               "outcome": outcome, "trigger_event_ids": [ev.event_id]}
        if vehicle_id:
            rec["vehicle_id"] = vehicle_id
        if reason:
            rec["reason"] = reason
        out.append((TOPIC_OUTCOMES, rec))

    def _forget(self, o: Order) -> None:
        # Completed orders leave the state (keeps snapshots small), and every route.
        self.orders.pop(o.id, None)
        for v in self.vehicles.values():
            if any(s[0] == o.id for s in v.route):
                v.route = [s for s in v.route if s[0] != o.id]
                v.route_version += 1
            if o.id in v.onboard:
                v.onboard.remove(o.id)

    # ------------------------------------------------------------------ context

    def on_customer_profile(self, ev: Any, out: list[Out]) -> None:
        c = self.customers.setdefault(ev.customer_id, {})
        c.update({"language": ev.language, "preferred_drop": ev.preferred_drop,
                  "access_instructions": ev.access_instructions, "notes": ev.notes,
                  "service_requirements": list(ev.service_requirements)})

    def _context(self, o: Order) -> dict:
        c = self.customers.get(o.customer_id) or {}
        ctx = {k: c[k] for k in ("language", "preferred_drop", "access_instructions", "notes",
                                 "service_requirements") if c.get(k)}
        past = {k: c[k] for k in ("failures", "access_failures", "not_home_failures",
                                  "deliveries") if c.get(k)}
        if past:
            ctx["history"] = past
        return ctx

    def _context_counts(self, o: Order) -> dict:
        c = self.customers.get(o.customer_id) or {}
        return {"customer_failures": c.get("failures", 0),
                "customer_access_failures": c.get("access_failures", 0)}

    def on_condition(self, ev: Any, out: list[Out]) -> None:
        self.conditions = [c for c in self.conditions if c[1] > ev.ts]
        self.conditions.append((ev.start_ts, ev.end_ts, ev.factor, ev.area, ev.event_id))
        for v in self.vehicles.values():
            v.eta_ts = -1e18  # conditions change every ETA: refresh at the next ping

    def on_approval(self, ev: Any, out: list[Out]) -> None:
        prop = self.proposals.pop(ev.decision_id, None)
        if prop is None:
            self._count("approvals_unknown")
            return
        if not ev.approved:
            self._revert_proposal(prop)
            self._emit_decision(out, prop["kind"], ev.ts, "rejected", prop["autonomy"],
                                prop["order_ids"], {}, [ev.event_id],
                                {"summary": f"Proposal rejected by {ev.by}"}, ev.decision_id)
            return
        stale = [vid for vid, ver in prop["versions"].items()
                 if self.vehicles.get(vid) is None or self.vehicles[vid].route_version != ver
                 or not self.vehicles[vid].available]
        if stale:
            self._revert_proposal(prop)
            self._emit_decision(out, prop["kind"], ev.ts, "expired", prop["autonomy"],
                                prop["order_ids"], {}, [ev.event_id],
                                {"summary": f"Approved by {ev.by} but vehicles "
                                 f"{', '.join(stale)} changed since: not applied"},
                                ev.decision_id)
            return
        routes = {vid: [tuple(s) for s in r] for vid, r in prop["routes"].items()}
        self._apply_routes(routes, ev.ts)
        self._emit_decision(out, prop["kind"], ev.ts, "applied", prop["autonomy"],
                            prop["order_ids"], routes, [ev.event_id] + prop["triggers"],
                            {**prop["explanation"],
                             "approved_by": ev.by}, ev.decision_id)

    def _revert_proposal(self, prop: dict) -> None:
        for oid in prop["order_ids"]:
            o = self.orders.get(oid)
            if o is not None and o.status == PROPOSED:
                o.status, o.vehicle_id = PENDING, None

    # ------------------------------------------------------------------ sweeps

    def _candidates(self, o: Order, now: float) -> list[Vehicle]:
        """Vehicles that pass the static constraints, nearest route first."""
        scored = []
        for v in self.vehicles.values():
            if static_reject(o, v) is not None:
                continue
            best = fast_distance_m(v.pos if v.status == ACTIVE else v.start, o.location)
            route = v.route
            step = 1 if len(route) <= 12 else len(route) // 12
            for i in range(0, len(route), step):
                sid, kind = route[i]
                d = fast_distance_m(self.orders[sid].stop_point(kind), o.location)
                if d < best:
                    best = d
            scored.append((best, v.id, v))
        scored.sort(key=lambda t: (t[0], t[1]))
        return [t[2] for t in scored[: self.settings.max_insert_candidates]]

    def sweep(self, now: float, triggers: list[str], out: list[Out],
              kind: str = "assign") -> None:
        """Periodic work: expire proposals, stale vehicles, assign pending orders."""
        s = self.settings
        for did in list(self.proposals):
            prop = self.proposals[did]
            if now - prop["ts"] >= s.proposal_ttl_s:
                del self.proposals[did]
                self._revert_proposal(prop)
                self._emit_decision(out, prop["kind"], now, "expired", prop["autonomy"],
                                    prop["order_ids"], {}, triggers,
                                    {"summary": f"No answer within {s.proposal_ttl_s / 60:.0f} min"},
                                    did)
        for v in self.vehicles.values():
            if v.status == ACTIVE and not v.stale_alerted and now - v.pos_ts > s.stale_vehicle_s:
                v.stale_alerted = True
                self._alert(out, now, "stale_vehicle", "warning",
                            f"No position from {v.id} for {(now - v.pos_ts) / 60:.0f} min",
                            v.id, [oid for oid, _ in v.route[:5]],
                            {"last_ping_ts": v.pos_ts}, triggers)
        self._maybe_plan(now, triggers, out)
        self._maybe_reoptimize(now, triggers, out)
        pending = [o for o in self.orders.values() if o.status == PENDING]
        if not pending or not any(v.available for v in self.vehicles.values()):
            return
        if now - self.last_shift_start_ts < s.plan_settle_s:
            pending = [o for o in pending if o.kind != "parcel"]
        pending.sort(key=lambda o: (-o.priority, o.window_end, o.id))
        originals: dict[str, list] = {}
        assigned: dict[str, list[str]] = {}
        timings: dict[str, Timing] = {}
        for o in pending:
            if o.window_end <= now:
                if not o.unassigned_alerted:
                    o.unassigned_alerted = True
                    self._alert(out, now, "unassigned", "critical",
                                f"Order {o.id} could not be served before its window closed",
                                None, [o.id], {"reasons": [{"constraint": C_WINDOW_CLOSED}]},
                                triggers)
                continue
            if o.unassigned_alerted and now < o.retry_ts:
                continue
            cands = self._candidates(o, now)
            for v in cands:
                if v.id not in timings:
                    pos, ts = (v.start, max(now, v.shift_start_ts)) if v.status == AT_DEPOT else (v.pos, now)
                    timings[v.id] = route_timing(v, v.route, self.orders, pos, ts, self.tt)
            ins, rej = self.strategy.insert(o, cands, self.orders, now, self.tt, self.dist,
                                            timings, s.balance_cost_per_stop)
            if ins is None:
                o.retry_ts = now + s.unassigned_retry_s
                if not o.unassigned_alerted:
                    o.unassigned_alerted = True
                    self._unassigned_alert(o, rej, now, triggers, out)
                continue
            v = self.vehicles[ins.vehicle_id]
            originals.setdefault(v.id, list(v.route))
            apply_insertion(v, o, ins)
            o.status = ASSIGNED
            timings.pop(v.id, None)
            assigned.setdefault(v.id, []).append(o.id)
        for vid, oids in assigned.items():
            v = self.vehicles[vid]
            new_route = list(v.route)
            v.route = originals[vid]  # _decide applies (auto) or proposes
            for oid in oids:
                self.orders[oid].status = PENDING
            n_new = len(oids)
            self._decide(out, kind if kind == "redispatch" else "assign", now, oids,
                         {vid: new_route}, triggers, {
                             "summary": f"{n_new} order{'s' if n_new > 1 else ''} added to "
                                        f"{vid} ({v.fleet_type} {v.vehicle_type}) by cheapest "
                                        "feasible insertion",
                             "reasons": [{"rule": "cheapest_feasible_insertion",
                                          "candidates_per_order": s.max_insert_candidates}],
                             "strategy": self.strategy.name})

    # ------------------------------------------------------------------ planning

    @property
    def routing_config(self) -> Any:
        return getattr(self.strategy, "config", None)

    def _maybe_plan(self, now: float, triggers: list[str], out: list[Out]) -> None:
        """Plan the zone with OR-Tools once per wave of shift starts, at the first sweep
        after the wave settled (``plan_settle_s`` without a new shift start)."""
        cfg = self.routing_config
        if cfg is None or not cfg.plan_enabled or not hasattr(self.strategy, "plan"):
            return
        if self.plan_wave_ts >= self.last_shift_start_ts or now - self.last_shift_start_ts < self.settings.plan_settle_s:
            return
        depot = sorted((v for v in self.vehicles.values() if v.status == AT_DEPOT), key=lambda v: v.id)
        pending = [o for o in self.orders.values() if o.status == PENDING and o.window_end > now]
        if not depot or sum(1 for o in pending if o.kind == "parcel") < cfg.plan_min_orders:
            return
        self.plan_wave_ts = now
        on_routes = [self.orders[oid] for v in depot for oid, _k in v.route
                     if oid in self.orders and self.orders[oid].status == ASSIGNED]
        orders = sorted({o.id: o for o in pending + on_routes}.values(), key=lambda o: o.id)
        current = {v.id: [tuple(st) for st in v.route] for v in depot}
        res, p = self.strategy.plan(depot, orders, current, now, self.tt, self.dist)
        self._count("plans")
        self._count("plan_time_guard_hit", 1 if res.stats.get("time_guard_hit") else 0)
        plan_summary = {"vehicles": len(depot), "orders": len(orders),
                        "vehicles_used": res.stats.get("vehicles_used"),
                        "distance_km": round(res.distance / 1000.0, 1), "cost": round(res.cost, 2),
                        "unassigned": len(res.unassigned), "stops_spread": res.stops_spread,
                        "hours_spread": round(res.hours_spread, 2),
                        "independent_check": "feasible" if res.feasible else "violations",
                        "status": res.status}
        for v in depot:
            new = [(oid, PICKUP if k == PICKUP else DELIVERY) for oid, k in res.routes.get(v.id, [])]
            if new == [tuple(st) for st in v.route]:
                continue
            before = {v.id: [tuple(st) for st in v.route]}
            oids = [oid for oid, k in new if k == DELIVERY]
            self._decide(out, "assign", now, oids, {v.id: new}, triggers, {
                "summary": f"Zone plan: {len(oids)} orders for {v.id} ({v.fleet_type} "
                           f"{v.vehicle_type})",
                "reasons": [{"rule": "shift_start_plan", "solver": "ortools",
                             "solution_limit": self.routing_config.plan_budget.solution_limit}],
                "expected_effect": self._effect(before, {v.id: new}, now, oids),
                "plan": plan_summary, "strategy": self.strategy.name})
        for u in res.unassigned:
            o = self.orders.get(u.job_id)
            if o is None or o.unassigned_alerted:
                continue
            o.unassigned_alerted = True
            o.retry_ts = now + self.settings.unassigned_retry_s
            top = u.reasons[0]["constraint"] if u.reasons else "no_vehicle"
            self._alert(out, now, "unassigned", "warning",
                        f"Order {o.id} left out of the zone plan (mostly: {top})", None, [o.id],
                        {"reasons": u.reasons}, triggers)

    def _maybe_reoptimize(self, now: float, triggers: list[str], out: list[Out]) -> None:
        """Periodic re-optimization: every active route is re-sequenced once per
        ``reopt_interval_s`` when its cost drops by at least ``reopt_min_gain``.  The
        vehicles are spread over the sweeps of the interval (a fixed bucket per
        vehicle id), so the work comes a few routes per sweep rather than as one burst
        that would hold up the zone's events.  Off when re-routing is off."""
        cfg = self.routing_config
        if cfg is None or not hasattr(self.strategy, "reroute_result"):
            return
        if self.settings.autonomy("reroute") == "off":
            return
        sw = self.settings.sweep_interval_s
        nb = max(1, int(round(cfg.reopt_interval_s / sw)))
        idx = int(now // sw)
        last = self.next_reopt_ts  # (name kept for the snapshot) the last sweep index handled
        if last is None:
            self.next_reopt_ts = idx
            return
        if idx <= last:
            return
        buckets = {i % nb for i in range(int(last) + 1, min(idx, int(last) + nb) + 1)}
        self.next_reopt_ts = idx
        conds = tuple(c[4] for c in self.conditions if c[0] <= now < c[1])
        for vid in sorted(self.vehicles):
            v = self.vehicles[vid]
            if (v.status != ACTIVE or len(v.route) < 3 or
                    zlib.crc32(vid.encode()) % nb not in buckets or self._in_proposal(vid)):
                continue
            route = [tuple(st) for st in v.route]
            seen = self.reopt_seen.get(vid)
            if seen is not None and seen[1] == conds and route == seen[0][len(seen[0]) - len(route):]:
                # Only served stops left the sequence judged last time and the live
                # conditions are the same: the rest of it stays as good as it was.
                self._count("reoptimize_skipped_unchanged")
                continue
            r = self.strategy.reroute_result(v, self.orders, now, self.tt, self.dist,
                                             keep_first=v.at_stop is not None,
                                             time_factor=self._pace_factor(v))
            if r is None or not r.changed or r.cost_before - r.cost_after < cfg.reopt_min_gain:
                self.reopt_seen[vid] = (route, conds)
                continue
            seq = [(oid, PICKUP if k == PICKUP else DELIVERY) for oid, k in r.sequence]
            if v.at_stop is not None:
                seq = [tuple(v.route[0])] + seq
            before = {vid: [tuple(st) for st in v.route]}
            self.reopt_seen[vid] = ([tuple(st) for st in seq], conds)
            self._count("reoptimized_routes")
            self._decide(out, "reroute", now, [oid for oid, k in seq if k == DELIVERY][:20],
                         {vid: seq}, triggers, {
                             "summary": f"Periodic re-optimization of {vid}: cost "
                                        f"{r.cost_before:.2f} -> {r.cost_after:.2f}",
                             "reasons": [{"rule": "periodic_reoptimization",
                                          "interval_min": cfg.reopt_interval_s / 60,
                                          "min_gain": cfg.reopt_min_gain}],
                             "expected_effect": self._effect(before, {vid: seq}, now, []),
                             "strategy": self.strategy.name})

    def _pace_factor(self, v: Vehicle) -> float:
        """Travel-time scale for re-routing ``v``: its learned pace over the planning
        buffer, when the routing config asks for it and the driver is slower."""
        cfg = self.routing_config
        if cfg is None or not getattr(cfg, "learned_pace", False):
            return 1.0
        return max(1.0, round(v.pace / self.settings.plan_time_factor, 3))

    def _in_proposal(self, vid: str) -> bool:
        return any(vid in prop["routes"] for prop in self.proposals.values())

    def _effect(self, before: dict[str, list], after: dict[str, list], now: float,
                focus: list[str]) -> dict:
        """Expected effect of replacing ``before`` by ``after``: lateness minutes, km,
        cost and on-time probability of the ``focus`` orders (time-dependent timing)."""
        late_b = late_a = km_b = km_a = cost_b = cost_a = 0.0
        p_b: list[float] = []
        p_a: list[float] = []
        for vid in after:
            v = self.vehicles[vid]
            pos, ts = (v.start, max(now, v.shift_start_ts)) if v.status == AT_DEPOT else (v.pos, now)
            for stops, acc in ((before.get(vid, []), "b"), (after[vid], "a")):
                stops = [tuple(st) for st in stops if st[0] in self.orders]
                t = route_timing(v, stops, self.orders, pos, ts, self.tt)
                km = self._route_km(pos, stops, v.end) / 1000.0
                cost = km * v.cost_per_km + max(0.0, t.end_ts - ts) / 3600.0 * v.cost_per_hour
                hour = (now % 86400) / 3600.0
                probs = []
                for i, (oid, kind) in enumerate(stops):
                    if kind == DELIVERY and oid in focus:
                        o = self.orders[oid]
                        xr = self._risk_x(v, o, t.start[i], 2 * (120.0 + 0.12 * max(0.0, t.start[i] - now)),
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

    def _route_km(self, pos: tuple, stops: list, end: tuple) -> float:
        d, prev = 0.0, pos
        for oid, kind in stops:
            pt = self.orders[oid].stop_point(kind)
            d += self.dist(prev, pt)
            prev = pt
        return d + self.dist(prev, end)

    def _unassigned_alert(self, o: Order, rej: Rejection, now: float, triggers: list[str],
                          out: list[Out]) -> None:
        ranked = rej.ranked()
        if not ranked:
            per: dict[str, int] = {}
            for v in self.vehicles.values():
                why = static_reject(o, v)
                if why:
                    per[why] = per.get(why, 0) + 1
            ranked = [{"constraint": c, "vehicles": n} for c, n in
                      sorted(per.items(), key=lambda kv: (-kv[1], kv[0]))]
        top = ranked[0]["constraint"] if ranked else "no_vehicle"
        self._alert(out, now, "unassigned", "warning",
                    f"Order {o.id} has no feasible vehicle yet (mostly: {top})", None, [o.id],
                    {"reasons": ranked}, triggers)

    # ------------------------------------------------------------------ governance

    def _apply_routes(self, routes: dict[str, list], now: float) -> None:
        touched: dict[str, str] = {}
        for vid, stops in routes.items():
            v = self.vehicles[vid]
            for oid, _ in v.route:
                touched.setdefault(oid, "")
            v.route = [tuple(s) for s in stops]
            v.route_version += 1
            v.eta_ts = -1e18
            for oid, _ in v.route:
                touched[oid] = vid
            if v.leg is not None and v.route and v.leg["to"] != list(v.route[0]) and v.at_stop is None:
                self._start_leg(v, now)
            elif v.leg is None and v.status == ACTIVE and v.at_stop is None:
                self._start_leg(v, now)
        for oid, vid in touched.items():
            o = self.orders.get(oid)
            if o is None or o.status in DONE:
                continue
            if vid:
                o.vehicle_id = vid
                if o.status != ONBOARD:
                    o.status = ASSIGNED
            elif o.status != ONBOARD:
                o.status, o.vehicle_id = PENDING, None

    def _decide(self, out: list[Out], kind: str, now: float, order_ids: list[str],
                routes: dict[str, list], triggers: list[str], explanation: dict,
                force_auto: bool = False) -> None:
        autonomy = "auto" if force_auto else self.settings.autonomy(kind)
        if autonomy == "auto":
            self._apply_routes(routes, now)
            self._emit_decision(out, kind, now, "applied", autonomy, order_ids, routes, triggers,
                                explanation)
        elif autonomy == "propose":
            did = self._emit_decision(out, kind, now, "proposed", autonomy, order_ids, routes,
                                      triggers, explanation)
            self.proposals[did] = {
                "ts": now, "kind": kind, "autonomy": autonomy, "order_ids": list(order_ids),
                "routes": {vid: [list(s) for s in r] for vid, r in routes.items()},
                "versions": {vid: self.vehicles[vid].route_version for vid in routes},
                "triggers": list(triggers), "explanation": explanation}
            for oid in order_ids:
                o = self.orders.get(oid)
                if o is not None and o.status == PENDING:
                    o.status = PROPOSED
        else:
            self._emit_decision(out, kind, now, "alert_only", autonomy, order_ids, routes,
                                triggers, explanation)

    def _emit_decision(self, out: list[Out], kind: str, now: float, status: str, autonomy: str,
                       order_ids: list[str], routes: dict[str, list], triggers: list[str],
                       explanation: dict, refers_to: str | None = None) -> str:
        did = self._next_id("D", now)
        rendered = {vid: self._render_route(vid, stops, now) for vid, stops in routes.items()}
        rec = {"decision_id": did, "ts": _r(now), "v": OUTPUT_SCHEMA_VERSION, "zone": self.zone,
               "kind": kind, "status": status, "autonomy": autonomy,
               "order_ids": list(order_ids), "routes": rendered,
               "trigger_event_ids": list(triggers), "models": self.seats.versions(),
               "explanation": explanation}
        if refers_to:
            rec["refers_to"] = refers_to
        out.append((TOPIC_DECISIONS, rec))
        self._count(f"decisions_{kind}_{status}")
        return did

    def _render_route(self, vid: str, stops: list, now: float) -> list[dict]:
        v = self.vehicles[vid]
        stops = [tuple(s) for s in stops]
        if v.status == AT_DEPOT:
            timing = route_timing(v, stops, self.orders, v.start, max(now, v.shift_start_ts), self.tt)
        else:
            timing = route_timing(v, stops, self.orders, v.pos, now, self.tt)
        rendered = []
        for i, (oid, kind) in enumerate(stops):
            o = self.orders[oid]
            st = {"order_id": oid, "stop": kind, "eta": _r(timing.arrive[i]),
                  "window_end": o.window_end}
            if kind == DELIVERY:
                ctx = self._context(o)
                if ctx:
                    st["customer"] = ctx
            rendered.append(st)
        return rendered

    def _alert(self, out: list[Out], now: float, kind: str, severity: str, message: str,
               vehicle_id: str | None, order_ids: list[str], details: dict,
               triggers: list[str]) -> None:
        rec = {"alert_id": self._next_id("A", now), "ts": _r(now), "v": OUTPUT_SCHEMA_VERSION,
               "zone": self.zone, "kind": kind, "severity": severity, "message": message,
               "order_ids": list(order_ids), "details": details,
               "trigger_event_ids": list(triggers)}
        if vehicle_id:
            rec["vehicle_id"] = vehicle_id
        out.append((TOPIC_ALERTS, rec))
        self._count(f"alerts_{kind}")

    def _notify(self, out: list[Out], now: float, o: Order, kind: str, eta: float,
                hi80: float) -> None:
        lang = (self.customers.get(o.customer_id) or {}).get("language", "en")
        lang, text = notify.render(kind, lang, o.id, eta, o.window_end)
        out.append((TOPIC_NOTIFICATIONS, {
            "notification_id": self._next_id("N", now), "ts": _r(now), "v": OUTPUT_SCHEMA_VERSION,
            "zone": self.zone, "customer_id": o.customer_id, "order_id": o.id, "language": lang,
            "kind": kind, "message": text, "eta": _r(eta), "hi80": _r(hi80)}))
        self._count(f"notifications_{kind}")

    # ------------------------------------------------------------------ state

    def snapshot(self) -> bytes:
        """Plain, versioned state (pickled dicts and lists only)."""
        state = {
            "state_version": STATE_VERSION, "zone": self.zone, "clock": self.clock,
            "n_out": self.n_out, "next_sweep_ts": self.next_sweep_ts,
            "last_shift_start_ts": self.last_shift_start_ts, "hist": self.hist,
            "vehicles": [v.dump() for v in self.vehicles.values()],
            "orders": [o.dump() for o in self.orders.values()],
            "customers": self.customers, "conditions": self.conditions,
            "proposals": self.proposals, "stats": self.stats,
            "seats": self.seats.snapshot(),
            "plan_wave_ts": self.plan_wave_ts, "next_reopt_ts": self.next_reopt_ts,
            "reopt_seen": self.reopt_seen,
        }
        return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def restore(cls, blob: bytes, settings: EngineSettings | None = None,
                provider: TravelTimeProvider | None = None, strategy: Any = None) -> "ZoneEngine":
        st = pickle.loads(blob)
        if st["state_version"] != STATE_VERSION:
            raise ValueError(f"zone state version {st['state_version']} is not {STATE_VERSION}")
        eng = cls(st["zone"], settings, provider, strategy, ModelSeats.restore(st["seats"]))
        eng.clock, eng.n_out, eng.next_sweep_ts = st["clock"], st["n_out"], st["next_sweep_ts"]
        eng.last_shift_start_ts = st["last_shift_start_ts"]
        eng.hist = st["hist"]
        eng.vehicles = {d["id"]: Vehicle.load(d) for d in st["vehicles"]}
        eng.orders = {d["id"]: Order.load(d) for d in st["orders"]}
        eng.customers, eng.conditions = st["customers"], st["conditions"]
        eng.proposals, eng.stats = st["proposals"], st["stats"]
        eng.plan_wave_ts, eng.next_reopt_ts = st["plan_wave_ts"], st["next_reopt_ts"]
        eng.reopt_seen = st["reopt_seen"]
        return eng


C_WINDOW_CLOSED = "window_closed"
ZoneEngineFactory = Callable[[str], ZoneEngine]
