"""The zone's view of the world: travel times under live conditions, the leg a
vehicle is driving, and customer context.

:class:`TravelModel` is a picklable value (provider, planning buffer, a snapshot of
the live conditions): it answers ``tt``/``dist``/``factor`` without the engine, so a
solver job can carry it to another process.  :class:`World` is the live view over
the zone state that the capability objects share.

>>> from fleetstream.operators.traveltime import HaversineProvider
>>> a, b = (52.52, 13.40), (52.53, 13.42)
>>> tm = TravelModel(HaversineProvider(), 1.1, ((0.0, 1e9, 2.0, None, "c1"),))
>>> tm.factor(a, b, 10.0), tm.factor(a, b, 2e9)
(2.0, 1.0)
>>> round(tm.tt(a, b, 8 * 3600) / TravelModel(HaversineProvider(), 1.1).tt(a, b, 8 * 3600), 6)
2.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from fleetstream.contract.settings import EngineSettings, LimitsSettings
from fleetstream.models.availability import risk_context
from fleetstream.operators.dispatch import route_timing
from fleetstream.operators.knowledge import hard_access, knows
from fleetstream.operators.localtime import LocalClock
from fleetstream.operators.state import AT_DEPOT, DELIVERY, Order, Vehicle
from fleetstream.operators.traveltime import (HaversineProvider, Point, TravelTimeProvider,
                                              fast_distance_m)
from fleetstream.operators.zone.health import CONDITION_CLAMPED
from fleetstream.operators.zone.records import Out, r1
from fleetstream.operators.zone.state import ZoneState, seen_customer


LEARNED_TRAVEL_REFRESH_S = 900.0   # event-time step of the learned planning times
STOP_EXTRA_MAX_S = 600.0           # cap of the learned time at a stop added to a leg


@dataclass(frozen=True)
class TravelModel:
    """Planning travel times: provider x live conditions x planning buffer.

    ``conditions``: ``(start_ts, end_ts, factor, area or None, event_id[, kind,
    report_ts])`` tuples (``ZoneState.conditions``).  The combined factor of the
    conditions active on a leg is clamped to ``[factor_min, factor_max]``
    (``limits.condition_factor_min``/``_max``, docs/limits.md)."""

    provider: TravelTimeProvider
    plan_time_factor: float
    conditions: tuple = ()
    factor_min: float = 0.2
    factor_max: float = 10.0
    # learned planning times (engine.routing_learned_travel; None: the planning buffer):
    # ((provider s, planning s), ...) increasing points, and seconds added to every leg
    learned: tuple | None = None
    stop_extra_s: float = 0.0
    # riders' paces (engine.routing_rider_pace): ((vehicle type, s per km), ...)
    riders: tuple = ()

    def factor(self, a: Point, b: Point, ts: float) -> float:
        """Product of the factors of the conditions active at ``ts`` whose area holds
        ``a`` or ``b`` (or that cover the whole zone), clamped to the factor range."""
        f = 1.0
        for c in self.conditions:
            if c[0] <= ts < c[1]:
                area = c[3]
                if area is None or (fast_distance_m(a, area[:2]) <= area[2] or
                                    fast_distance_m(b, area[:2]) <= area[2]):
                    f *= c[2]
        return clamp_factor(f, self.factor_min, self.factor_max)

    def tt(self, a: Point, b: Point, ts: float) -> float:
        """Planning travel time in seconds leaving ``a`` at ``ts``: the provider's time
        under the live conditions times the planning buffer, or, with learned travel
        times, mapped by the learned curve plus the learned time at a stop."""
        if self.learned is not None:
            x = self.provider.travel_s(a, b, ts, self.factor(a, b, ts) if self.conditions else 1.0)
            if x <= 0.0:
                return x
            return learned_time(self.learned, x) + self.stop_extra_s
        f = self.plan_time_factor
        if self.conditions:
            f *= self.factor(a, b, ts)
        return self.provider.travel_s(a, b, ts, f)

    def dist(self, a: Point, b: Point) -> float:
        return self.provider.distance_m(a, b)

    def tt_for(self, vehicle_type: str | None) -> Callable[[Point, Point, float], float]:
        """Planning travel times of a vehicle of ``vehicle_type``: :meth:`tt`, or for a
        rider (``riders``) the leg's distance at the rider's pace when that is slower,
        with what :meth:`tt` adds beyond the provider (the planning buffer, or the
        learned time at a stop).

        >>> tm = TravelModel(HaversineProvider(), 1.0, riders=(("bike", 240.0),))
        >>> a, b = (52.52, 13.40), (52.56, 13.40)
        >>> tm.tt_for("van") == tm.tt, round(tm.tt_for("bike")(a, b, 10 * 3600) / 60, 1)
        (True, 24.0)
        """
        spk = None
        for vt, s in self.riders:
            if vt == vehicle_type:
                spk = s
        if spk is None:
            return self.tt
        base, dist = self.tt, self.provider.distance_m
        if self.learned is not None:
            scale, extra = spk / 1000.0, self.stop_extra_s
        else:
            scale, extra = spk / 1000.0 * self.plan_time_factor, 0.0

        def rider_tt(a: Point, b: Point, ts: float) -> float:
            t = base(a, b, ts)
            if t <= 0.0:
                return t
            r = dist(a, b) * scale + extra
            return r if r > t else t
        return rider_tt

    def leg_s(self, a: Point, b: Point, ts: float) -> tuple[float, float]:
        """(provider travel time under the live conditions, no planning buffer; the
        condition factor) for the leg ``a`` -> ``b`` leaving at ``ts``."""
        f = self.factor(a, b, ts) if self.conditions else 1.0
        return self.provider.travel_s(a, b, ts, f), f


def learned_time(pts: tuple, x: float) -> float:
    """Planning seconds of a leg the provider times at ``x`` > 0 s, on the learned curve
    ``pts`` (increasing ``(provider s, planning s)`` points): linear between points;
    below the first, along the first segment's slope (never under ``x``); above the
    last, at the last point's ratio.

    >>> pts = ((30.0, 100.0), (60.0, 160.0), (600.0, 900.0))
    >>> learned_time(pts, 45.0), learned_time(pts, 10.0), learned_time(pts, 1200.0)
    (130.0, 60.0, 1800.0)
    """
    x0, y0 = pts[0]
    if x <= x0:
        if len(pts) > 1:
            x1, y1 = pts[1]
            slope = (y1 - y0) / (x1 - x0) if x1 > x0 else 0.0
            y = y0 - (x0 - x) * max(slope, 0.0)
        else:
            y = y0 * x / x0
        return y if y > x else x
    for x1, y1 in pts[1:]:
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0) if x1 > x0 else y1
        x0, y0 = x1, y1
    return x * y0 / x0


def clamp_factor(f: float, lo: float, hi: float) -> float:
    """``f`` within ``[lo, hi]``; a NaN (impossible from positive factors, but cheap to
    rule out) becomes ``hi``."""
    if lo <= f <= hi:
        return f
    return lo if f < lo else hi


def hourly(provider: TravelTimeProvider) -> bool:
    """Does ``provider.travel_s`` depend on the departure time only through its local
    hour (``int(provider.clock.local(ts) // 3600)``)?  True of :class:`HaversineProvider`
    itself (not of subclasses, which may override it): its legs can then be cached per
    hour."""
    return type(provider) is HaversineProvider


class LegTimes:
    """``TravelModel.leg_s`` of one travel model, memoised per leg ``(a, b)``: the
    same answers (same arithmetic, same order of the condition factors) with less
    work.  The conditions whose area holds a leg are found once per leg, and with an
    hourly provider the travel time is kept per (departure hour, condition factor).
    A cache, not state: :attr:`World.legs` builds a new one when the conditions
    change, and it is cleared when it holds ``MAX_LEGS`` legs.

    >>> tm = TravelModel(HaversineProvider(), 1.1, ((0.0, 1e9, 2.0, None, "c1"),))
    >>> a, b = (52.52, 13.40), (52.53, 13.42)
    >>> legs = LegTimes(tm)
    >>> legs.leg_s(a, b, 5e8) == tm.leg_s(a, b, 5e8) == legs.leg_s(a, b, 5e8 + 1)
    True
    >>> legs.leg_s(a, b, 2e9) == tm.leg_s(a, b, 2e9), legs.leg_s(a, b, 2e9)[1]
    (True, 1.0)
    """

    MAX_LEGS = 50_000

    __slots__ = ("travel", "hourly", "clock", "legs")

    def __init__(self, travel: TravelModel):
        self.travel = travel
        self.hourly = hourly(travel.provider)
        self.clock = travel.provider.clock if self.hourly else None
        self.legs: dict[tuple[Point, Point], tuple[list, dict]] = {}

    def _leg(self, a: Point, b: Point) -> tuple[list, dict]:
        """(the (start, end, factor) of the conditions that apply to the leg when
        active, in the travel model's order; the leg's memo)."""
        hits = []
        for c in self.travel.conditions:
            area = c[3]
            if area is None or (fast_distance_m(a, area[:2]) <= area[2] or
                                fast_distance_m(b, area[:2]) <= area[2]):
                hits.append((c[0], c[1], c[2]))
        if len(self.legs) >= self.MAX_LEGS:
            self.legs.clear()
        leg = self.legs[(a, b)] = (hits, {})
        return leg

    def leg_s(self, a: Point, b: Point, ts: float) -> tuple[float, float]:
        """``TravelModel.leg_s(a, b, ts)``: (provider travel time under the live
        conditions, the condition factor)."""
        leg = self.legs.get((a, b))
        if leg is None:
            leg = self._leg(a, b)
        hits, memo = leg
        f = 1.0
        for start, end, fac in hits:
            if start <= ts < end:
                f *= fac
        travel = self.travel
        if not travel.factor_min <= f <= travel.factor_max:
            f = clamp_factor(f, travel.factor_min, travel.factor_max)
        if not self.hourly:
            return self.travel.provider.travel_s(a, b, ts, f), f
        clock = self.clock
        key = (int((ts if clock.utc else clock.local(ts)) // 3600), f)
        prov = memo.get(key)
        if prov is None:
            prov = memo[key] = self.travel.provider.travel_s(a, b, ts, f)
        return prov, f


def _kind(c: tuple) -> str | None:
    return c[5] if len(c) > 5 else None


def _report_ts(c: tuple) -> float:
    return c[6] if len(c) > 6 else c[0]


def _area_key(area: Any) -> tuple | None:
    """Two reports are about the same area when centre and radius agree to ~0.1 m."""
    if area is None:
        return None
    return (round(area[0], 6), round(area[1], 6), round(area[2], 1))


def _areas_meet(a: Any, b: Any) -> bool:
    """Do two condition areas (None: the whole zone) overlap?"""
    if a is None or b is None:
        return True
    return fast_distance_m(a[:2], b[:2]) <= a[2] + b[2]


def start_of(v: Vehicle, now: float) -> tuple[Point, float]:
    """Where and when ``v``'s remaining route starts: the depot at shift start (or
    now) before departure, its last position now after."""
    if v.status == AT_DEPOT:
        return v.start, max(now, v.shift_start_ts)
    return v.pos, now


def pace_factor(v: Vehicle, cfg: Any, plan_time_factor: float) -> float:
    """Travel-time scale for re-routing ``v``: its learned pace over the planning
    buffer, when the routing config asks for it and the driver is slower."""
    if cfg is None or not cfg.learned_pace:
        return 1.0
    return max(1.0, round(v.pace / plan_time_factor, 3))


class World:
    """Travel times, legs, routes as the customer sees them, and customer context."""

    def __init__(self, state: ZoneState, settings: EngineSettings, provider: TravelTimeProvider,
                 limits: LimitsSettings | None = None, emit: Any = None, seats: Any = None):
        self.limits = limits or LimitsSettings()
        self.seats = seats   # the zone's model seats: learned travel times read its ETA seat
        self.emit = emit   # the zone's Emitter (alerts on clamped conditions); None: silent
        self.state = state
        self.settings = settings
        self.provider = provider
        self.clock = LocalClock(settings.timezone)   # the zone's local hours (engine.timezone)
        self._travel: TravelModel | None = None
        self._travel_of: list | None = None   # the conditions list _travel was built from
        self._legs: LegTimes | None = None

    @property
    def travel(self) -> TravelModel:
        """The travel model under the zone's current conditions (and, with
        ``engine.routing_learned_travel``, the learned planning times)."""
        conds = self.state.conditions
        learned = self._learned_travel() if self.settings.routing_learned_travel else None
        riders = self._rider_pace() if self.settings.routing_rider_pace else ()
        tm = self._travel
        if (tm is None or self._travel_of is not conds or len(tm.conditions) != len(conds)
                or tm.learned is not (learned and learned[0]) or tm.riders != riders):
            lim = self.limits
            self._travel = TravelModel(self.provider, self.settings.plan_time_factor, tuple(conds),
                                       lim.condition_factor_min, lim.condition_factor_max,
                                       learned and learned[0], learned[1] if learned else 0.0,
                                       riders)
            self._travel_of = conds
        return self._travel

    def _rider_pace(self) -> tuple:
        """Riders' paces for the plans (``TravelModel.riders``), read from the ETA seat
        (learned, or its prior speeds) when the zone clock passes
        ``LEARNED_TRAVEL_REFRESH_S`` steps of event time; kept in the zone state, so a
        restored engine plans with the same paces.  ``()`` from a seat without riders."""
        st = self.state
        if st.clock >= st.rider_refresh_ts:
            st.rider_refresh_ts = (math.floor(st.clock / LEARNED_TRAVEL_REFRESH_S) + 1) \
                * LEARNED_TRAVEL_REFRESH_S
            riders = getattr(getattr(self.seats, "eta", None), "riders", None)
            new = tuple(riders()) if riders is not None else ()
            if new != st.rider_pace:
                st.rider_pace = new
        return st.rider_pace

    def _learned_travel(self) -> tuple | None:
        """``(curve, seconds added per leg)`` of the learned planning times, read from
        the ETA seat when the zone clock passes ``LEARNED_TRAVEL_REFRESH_S`` steps of
        event time (kept in the zone state, so a restored engine plans with the same
        times); None while the seat has none (rule-based seats: the planning buffer)."""
        st = self.state
        if st.clock >= st.travel_refresh_ts:
            st.travel_refresh_ts = (math.floor(st.clock / LEARNED_TRAVEL_REFRESH_S) + 1) \
                * LEARNED_TRAVEL_REFRESH_S
            eta = getattr(self.seats, "eta", None)
            curve = getattr(eta, "plan_curve", None)
            if curve is not None:
                pts = curve(self.settings.plan_time_factor)
                extra = eta.dwell_extra_s()
                extra = round(0.0 if extra < 0.0 else min(extra, STOP_EXTRA_MAX_S), 1)
                new = (pts, extra)
                if new != st.learned_travel:
                    st.learned_travel = new
        return st.learned_travel

    @property
    def legs(self) -> LegTimes:
        """Leg travel times under the current conditions (a cache of ``travel.leg_s``)."""
        tm = self.travel
        legs = self._legs
        if legs is None or legs.travel is not tm:
            legs = self._legs = LegTimes(tm)
        return legs

    # ------------------------------------------------------------------ events

    def on_condition(self, ev: Any, out: list[Out]) -> None:
        """A condition report (docs/limits.md, "Condition reports"): it replaces the
        zone's earlier reports of the same ``kind`` and ``area`` whose time range
        overlaps its own (a re-sent or updated report never compounds); an older report
        arriving after a newer one of that key is ignored.  Its factor is clamped to
        ``[limits.condition_factor_min, limits.condition_factor_max]``, and an alert
        says so when it, or the product of the conditions overlapping it, was clamped."""
        st, lim = self.state, self.limits
        lo, hi = lim.condition_factor_min, lim.condition_factor_max
        key = _area_key(ev.area)
        kept, replaced = [], 0
        for c in st.conditions:
            if c[1] <= ev.ts:
                continue                      # over: leaves the state
            if (_kind(c) == ev.kind and _area_key(c[3]) == key
                    and c[0] < ev.end_ts and ev.start_ts < c[1]):
                if _report_ts(c) > ev.ts:     # a newer report of this key is in force
                    st.count("conditions_stale_ignored")
                    st.conditions = [c for c in st.conditions if c[1] > ev.ts]
                    return
                replaced += 1
                continue
            kept.append(c)
        fac = clamp_factor(ev.factor, lo, hi)
        kept.append((ev.start_ts, ev.end_ts, fac, ev.area, ev.event_id, ev.kind, ev.ts))
        if replaced:
            st.count("conditions_replaced", replaced)
        if len(kept) > lim.max_conditions:
            # the reports ending first leave first (deterministic: end, start, event id)
            drop = sorted(kept, key=lambda c: (c[1], c[0], c[4]))[:len(kept) - lim.max_conditions]
            gone = {c[4] for c in drop}
            kept = [c for c in kept if c[4] not in gone]
            st.count("conditions_evicted", len(drop))
        st.conditions = kept
        for v in st.vehicles.values():
            v.eta_ts = -1e18  # conditions change every ETA: refresh at the next ping
        if fac != ev.factor:
            st.count("conditions_clamped")
            self._clamp_alert(out, ev, f"Condition {ev.event_id} ({ev.kind}): factor "
                              f"{ev.factor:g} clamped to {fac:g} (limits.condition_factor_"
                              f"{'max' if fac == hi else 'min'})",
                              {"factor": ev.factor, "clamped_to": fac, "conditions": 1})
            return
        up, down, n = 1.0, 1.0, 0
        for c in kept:
            if c[0] < ev.end_ts and ev.start_ts < c[1] and _areas_meet(c[3], ev.area):
                n += 1
                if c[2] > 1.0:
                    up *= c[2]
                elif c[2] < 1.0:
                    down *= c[2]
        worst = up if up > hi else down if down < lo else None
        if worst is not None:
            st.count("conditions_clamped")
            to = hi if worst > hi else lo
            self._clamp_alert(out, ev, f"{n} overlapping conditions combine to a travel-time "
                              f"factor up to {worst:.3g}, clamped to {to:g} (limits.condition_"
                              f"factor_{'max' if to == hi else 'min'})",
                              {"combined_factor": round(worst, 4), "clamped_to": to,
                               "conditions": n})

    def _clamp_alert(self, out: list[Out], ev: Any, message: str, details: dict) -> None:
        if self.emit is not None:
            self.emit.alert(out, ev.ts, CONDITION_CLAMPED, "warning", message, None, [],
                            details, [ev.event_id])

    def on_customer_profile(self, ev: Any, out: list[Out]) -> None:
        c = self.state.customers.setdefault(ev.customer_id, {})
        seen_customer(self.state, ev.customer_id, ev.ts)
        c.update({"language": ev.language, "preferred_drop": ev.preferred_drop,
                  "access_instructions": ev.access_instructions, "notes": ev.notes,
                  "service_requirements": list(ev.service_requirements),
                  "max_vehicle_type": ev.max_vehicle_type, "access_codes": list(ev.access_codes),
                  "access_hours": list(ev.access_hours),
                  # failure-risk context (models/availability.py, issue 9 item 5)
                  "building_type": ev.building_type,
                  "available_hours": list(ev.available_hours)})

    # ------------------------------------------------------------------ legs

    def start_leg(self, v: Vehicle, now: float) -> None:
        """Record the leg ``v`` starts driving now (towards its first stop), to learn
        from its true duration when it arrives."""
        if not v.route:
            v.leg = None
            return
        oid, kind = v.route[0]
        o = self.state.orders[oid]
        p = o.stop_point(kind)
        prov, f = self.travel.leg_s(v.pos, p, now)
        v.leg = {"from": v.pos, "ts": now, "to": [oid, kind], "provider_s": prov,
                 "x": self.leg_x(v, v.pos, p, now, prov, f, 0, self.dest_kind(o, kind))}

    def dest_kind(self, o: Order, kind: str) -> str:
        """What a leg ends at, for the ETA seat's fixed time per destination
        (``x["dest"]``): the delivery customer's building type from its profile (``?``
        unknown), or ``pickup``."""
        if kind != DELIVERY:
            return "pickup"
        c = self.state.customers.get(o.customer_id)
        b = c.get("building_type") if c else None
        return b if isinstance(b, str) and b else "?"

    def leg_x(self, v: Vehicle, a: Point, b: Point, ts: float, prov: float, f: float,
              ahead: int, dest: str | None = None) -> dict:
        """Features of one leg for the ETA seat (hour and weekday: the zone's local;
        ``turns``: junction turns and bends on the map's path, when the provider
        counts them; ``dest``: what the leg ends at, :meth:`dest_kind`)."""
        loc = self.clock.local(ts)
        hour = (loc % 86400) / 3600.0
        x = {"dist_km": self.provider.distance_m(a, b) / 1000.0, "provider_s": prov,
             "hour": hour, "dow": int(loc // 86400 + 3) % 7, "zone": self.state.zone,
             "vehicle_type": v.vehicle_type, "fleet_type": v.fleet_type,
             "driver_pace": v.pace, "condition_factor": f, "stops_ahead": ahead,
             "speed_kmh": v.speed_kmh, "vehicle_id": v.id}
        if dest is not None:
            x["dest"] = dest
        turns = getattr(self.provider, "turns", None)
        if turns is not None:
            n = turns(a, b)
            if n is not None:
                x["turns"] = n
        return x

    def route_km(self, pos: Point, stops: list, end: Point) -> float:
        """Planning distance (metres, despite the name) from ``pos`` over ``stops`` to ``end``."""
        dist = self.travel.dist
        d, prev = 0.0, pos
        for oid, kind in stops:
            pt = self.state.orders[oid].stop_point(kind)
            d += dist(prev, pt)
            prev = pt
        return d + dist(prev, end)

    def render_route(self, vid: str, stops: list, now: float) -> list[dict]:
        """A route as a decision publishes it: per stop the planned arrival, the window
        end, the location and, for deliveries, the customer context
        (``fleetstream.contract.details.RouteStop``)."""
        v = self.state.vehicles[vid]
        stops = [tuple(s) for s in stops]
        pos, ts = start_of(v, now)
        timing = route_timing(v, stops, self.state.orders, pos, ts, self.travel.tt)
        rendered = []
        for i, (oid, kind) in enumerate(stops):
            o = self.state.orders[oid]
            pt = o.stop_point(kind)
            st = {"order_id": oid, "stop": kind, "eta": r1(timing.arrive[i]),
                  "window_end": o.window_end, "location": {"lat": pt[0], "lon": pt[1]}}
            if kind == DELIVERY:
                ctx = self.context(o)
                if ctx:
                    st["customer"] = ctx
            rendered.append(st)
        return rendered

    # ------------------------------------------------------------------ customers

    def context(self, o: Order) -> dict:
        """What the driver should know about the customer of ``o``."""
        c = self.state.customers.get(o.customer_id) or {}
        ctx = {k: c[k] for k in ("language", "preferred_drop", "access_instructions", "notes",
                                 "service_requirements", "available_hours") if c.get(k)}
        past = {k: c[k] for k in ("failures", "access_failures", "not_home_failures",
                                  "deliveries") if c.get(k)}
        if past:
            ctx["history"] = past
        m = (c.get("recovery") or {}).get(o.id)
        if m and "reply" in m:   # contacted ahead: what the customer answered (contact.py)
            reply = ctx["reply"] = {"answer": m["reply"]}
            if "reply_ts" in m:    # not in a memo an engine wrote before 2026-12-01
                reply["ts"] = m["reply_ts"]
            for end in ("from", "until"):
                if f"reply_{end}" in m:
                    reply[f"available_{end}"] = m[f"reply_{end}"]
        return ctx

    def context_counts(self, o: Order) -> dict:
        c = self.state.customers.get(o.customer_id) or {}
        return {"customer_failures": c.get("failures", 0),
                "customer_access_failures": c.get("access_failures", 0)}

    def risk_x(self, v: Vehicle, o: Order, arrive: float, width80: float, horizon: float,
               ahead: int, hour: float) -> dict:
        """Features of one delivery for the late and failure risk seats
        (``driver_knows_door`` only at a hard-access door whose planned driver has
        delivered there: operators/knowledge.py)."""
        c = self.state.customers.get(o.customer_id) or {}
        x = {"slack_s": o.window_end - arrive, "width80_s": width80, "horizon_s": horizon,
                "stops_ahead": ahead, "priority": o.priority, "hour": hour, "zone": self.state.zone,
                "fleet_type": v.fleet_type, "vehicle_type": v.vehicle_type,
                "cust_failures": c.get("failures", 0), "cust_deliveries": c.get("deliveries", 0),
                "cust_access_failures": c.get("access_failures", 0),
                "access_difficulty_known": 1 if c.get("access_instructions") else 0,
                "kind": o.kind,
                **risk_context(c, arrive, self.settings.timezone,
                               (c.get("recovery") or {}).get(o.id))}   # models/availability.py
        if hard_access(c) and knows(c, v.driver_id):   # operators/knowledge.py
            x["driver_knows_door"] = 1
        return x
