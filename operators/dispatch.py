"""Baseline routing strategy: cheapest feasible insertion, deadline re-sequencing.

The zone engine talks to routing through :class:`RoutingStrategy`
(``operators/routing/protocol.py``: ``insert``, ``plan``, ``reroute_result``,
``redispatch``, ``reroute``); :class:`InsertionStrategy` here and the OR-Tools
strategy in ``operators/routing/`` implement every verb.  Hard constraints (each with a
name, so an unassigned order says why):

- static ones (``vehicle_unavailable``, ``loaded_at_depot``, ``skills``,
  ``vehicle_type``, ``access``, ``fleet_type``, ``fleet_rule``, ``capacity_<dim>``
  of the order alone) come from the shared implementation,
  :mod:`operators.routing.constraints` (the plans use the same functions);
- ``capacity_<dim>`` / ``capacity_count``: every dimension of the vehicle's capacity
  holds over the whole route;
- ``time_window``: service at every stop starts before its window end;
- ``shift_end``: the vehicle reaches its end point before its shift ends.

Times are epoch seconds; travel comes from the zone's travel-time function
``tt(a, b, depart_ts) -> seconds``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from fleetstream.operators.routing import constraints as RC
from fleetstream.operators.routing.protocol import RoutingStrategy  # noqa: F401 (re-export)
from fleetstream.operators.state import AT_DEPOT, DELIVERY, PICKUP, Order, Vehicle
from fleetstream.operators.traveltime import vehicle_tt

Point = tuple[float, float]
TravelFn = Callable[[Point, Point, float], float]
DistFn = Callable[[Point, Point], float]
INF = float("inf")
HIGH_VALUE = 500.0  # declared value above which gig couriers are not used

# Constraint names: one implementation, operators/routing/constraints.py.
C_CAPACITY = RC.C_CAPACITY
C_COUNT = RC.C_COUNT
C_WINDOW = RC.C_WINDOW
C_SHIFT = RC.C_SHIFT
C_BREAK = RC.C_BREAK
C_DRIVE = RC.C_DRIVE
C_SKILLS = RC.C_SKILLS
C_VTYPE = RC.C_VTYPE
C_ACCESS = RC.C_ACCESS
C_FLEET = RC.C_FLEET
C_FLEET_RULE = RC.C_FLEET_RULE
C_DEPOT = RC.C_DEPOT
C_STATUS = RC.C_UNAVAILABLE


def static_reject(o: Order, v: Vehicle, req: RC.CustomerRequirements | None = None) -> str | None:
    """The first constraint that rules vehicle ``v`` out for order ``o`` whatever the
    route, or None: :func:`operators.routing.constraints.first_reason` on the engine
    objects (``req``: the customer's requirements, if any)."""
    return RC.first_reason(RC.EngineJob(o, req), RC.EngineVehicle(v), HIGH_VALUE)


def route_load(v: Vehicle, orders: dict[str, Order]) -> dict[str, float]:
    """Peak load over the route (conservative: everything that will be on board)."""
    load: dict[str, float] = {}
    ids = list(v.onboard) + [oid for oid, k in v.route if k == PICKUP or
                              (orders[oid].kind == "parcel" and oid not in v.onboard)]
    for oid in ids:
        for dim, q in orders[oid].size.items():
            load[dim] = load.get(dim, 0.0) + q
    load["count"] = float(len(ids))
    return load


def capacity_reject(load: dict[str, float], o: Order, v: Vehicle) -> str | None:
    """``capacity_<dim>`` (``capacity_count``) when ``o`` on top of ``load`` exceeds a
    dimension of ``v``'s capacity, else None."""
    for dim, cap in v.capacity.items():
        extra = 1.0 if dim == "count" else o.size.get(dim, 0.0)
        if load.get(dim, 0.0) + extra > cap + 1e-9:
            return C_COUNT if dim == "count" else f"{C_CAPACITY}_{dim}"
    return None


def fits(load: dict[str, float], o: Order, v: Vehicle) -> bool:
    return capacity_reject(load, o, v) is None


@dataclass
class Timing:
    """Forward and backward times of a route from a start position and time."""

    points: list[Point]
    arrive: list[float]
    start: list[float]
    depart: list[float]
    latest: list[float]      # latest service start at each stop keeping the rest feasible
    window_end: list[float]
    window_start: list[float]
    service: list[float]
    end_ts: float            # arrival at the vehicle's end point
    lateness_s: float        # total lateness beyond window ends (and the break's latest start)
    # Set by route_timing after construction (plain attributes, not fields: the
    # bit-identity golden of route evaluations hashes the fields):
    drive_s = 0.0            # driving time of the route (no service, no waiting)
    break_after = None       # the break is taken after this stop (-1: before the first)
    break_late_s = 0.0       # how far past its latest start the break begins
    min_pos = 0              # insertion: no new stop before this position (the frozen
    #                          head, operators/zone/stability.py); set by the caller
    delay_price = 0.0        # insertion: currency per second each later stop arrives
    #                          later (engine.promise_delay_price / 3600); set by the caller

    @property
    def feasible(self) -> bool:
        return self.lateness_s <= 0.0


def route_timing(v: Vehicle, stops: list[tuple[str, str]], orders: dict[str, Order],
                 from_pos: Point, from_ts: float, tt: TravelFn) -> Timing:
    """Earliest schedule of ``stops`` from ``from_pos`` at ``from_ts``.  A driver break
    (:func:`operators.routing.constraints.engine_break`) is taken on the first leg that
    would arrive at or after its earliest start, starting when that leg starts (or at
    the earliest start), as the routing model's local search does.  ``tt`` is read as
    ``v``'s (:func:`vehicle_tt`: a rider at its own pace)."""
    tt = vehicle_tt(tt, v)
    brk = RC.engine_break(v, from_ts)
    pts, arr, st, dep, we, ws, svc = [], [], [], [], [], [], []
    t, prev = from_ts, from_pos
    late = 0.0
    drive = 0.0
    brk_after = None
    brk_late = 0.0
    for i, (oid, kind) in enumerate(stops):
        o = orders[oid]
        p = o.stop_point(kind)
        w0, w1 = o.stop_window(kind)
        s = o.stop_service_s(kind)
        leg = tt(prev, p, t)
        drive += leg
        a = t + leg
        if brk is not None and brk_after is None and a >= brk.earliest:
            bs = t if t > brk.earliest else brk.earliest
            if bs > brk.latest:
                brk_late = bs - brk.latest
            a = (a if a > brk.earliest else brk.earliest) + brk.duration
            brk_after = i - 1
        b = a if a > w0 else w0
        if b > w1:
            late += b - w1
        pts.append(p)
        arr.append(a)
        st.append(b)
        dep.append(b + s)
        we.append(w1)
        ws.append(w0)
        svc.append(s)
        t, prev = b + s, p
    leg = tt(prev, v.end, t)
    drive += leg
    end_ts = t + leg
    if brk is not None and brk_after is None and end_ts > brk.earliest:
        bs = t if t > brk.earliest else brk.earliest
        if bs > brk.latest:
            brk_late = bs - brk.latest
        end_ts = (end_ts if end_ts > brk.earliest else brk.earliest) + brk.duration
        brk_after = len(stops) - 1
    if end_ts > v.shift_end_ts:
        late += end_ts - v.shift_end_ts
    late += brk_late
    latest = [0.0] * len(stops)
    nxt_latest, nxt_pt = v.shift_end_ts, v.end
    for i in range(len(stops) - 1, -1, -1):
        lim = nxt_latest - tt(pts[i], nxt_pt, dep[i]) - svc[i]
        latest[i] = we[i] if we[i] < lim else lim
        nxt_latest, nxt_pt = latest[i], pts[i]
    out = Timing(pts, arr, st, dep, latest, we, ws, svc, end_ts, late)
    out.drive_s, out.break_after, out.break_late_s = drive, brk_after, brk_late
    return out


@dataclass
class Insertion:
    vehicle_id: str
    positions: tuple[int, ...]      # index of the delivery stop (and pickup first if any)
    cost: float                     # added cost, currency units
    added_km: float
    added_s: float
    order_id: str = ""              # the order inserted (``inserted_route`` needs it)


@dataclass
class Rejection:
    """Why an order found no place: per constraint, the vehicles it blocked.  Also what
    the insertion costed, for the decision's ``alternatives`` (:func:`costed_alternatives`):
    ``costed``, every feasible insertion, and ``rejected``, ``(vehicle_id, constraint)``
    of every candidate ruled out, both in candidate order (plain attributes, not fields:
    the bit-identity golden of route evaluations hashes the fields)."""

    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.costed: list[Insertion] = []
        self.rejected: list[tuple[str, str]] = []

    def add(self, constraint: str, vehicle_id: str) -> None:
        self.counts[constraint] = self.counts.get(constraint, 0) + 1
        self.examples.setdefault(constraint, vehicle_id)
        self.rejected.append((vehicle_id, constraint))

    def ranked(self) -> list[dict]:
        return [{"constraint": c, "vehicles": n, "example_vehicle": self.examples[c]}
                for c, n in sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))]


ALTERNATIVES_MAX = 3  # other vehicles listed per order of an assign decision


def costed_alternatives(chosen: Insertion, rej: Rejection,
                        limit: int = ALTERNATIVES_MAX) -> dict[str, Any]:
    """What an insertion weighed against its choice, for an assign decision's
    ``explanation.alternatives`` (``AssignAlternative``, docs/governance.md, "Costed
    alternatives"): at most ``limit`` other vehicles, the cheapest feasible ones first
    (added cost, then vehicle id) with their cost and the difference to the chosen
    insertion, then candidates a constraint ruled out (nearest first) with the
    constraint; ``leave_unassigned`` ends the list when no other vehicle was feasible.
    Costs are currency units rounded to 0.01; the chosen insertion is the cheapest, so
    every ``cost_delta`` is >= 0."""
    others = sorted((i for i in rej.costed if i.vehicle_id != chosen.vehicle_id),
                    key=lambda i: (i.cost, i.vehicle_id))
    options: list[dict[str, Any]] = [
        {"option": "vehicle", "vehicle": i.vehicle_id, "cost": round(i.cost, 2),
         "cost_delta": round(i.cost - chosen.cost, 2)} for i in others[:limit]]
    for vid, why in rej.rejected[:max(0, limit - len(options))]:
        options.append({"option": "vehicle", "vehicle": vid, "constraint": why})
    if not others:
        options.append({"option": "leave_unassigned"})
    return {"order_id": chosen.order_id, "vehicle": chosen.vehicle_id,
            "cost": round(chosen.cost, 2), "feasible": 1 + len(others),
            "ruled_out": len(rej.rejected), "options": options}


def _start_of(v: Vehicle, now: float) -> tuple[Point, float]:
    if v.status == AT_DEPOT:
        return v.start, max(now, v.shift_start_ts)
    return v.pos, now


def best_insertion(o: Order, v: Vehicle, orders: dict[str, Order], now: float,
                   tt: TravelFn, dist: DistFn, timing: Timing | None = None,
                   pair_window: int = 6, balance: Any = None) -> tuple[Insertion | None, str]:
    """Cheapest feasible position(s) for ``o`` in ``v``'s route, or (None, constraint).
    ``balance``: an :class:`operators.balance.Balance` (the workload-balance term,
    docs/routing.md "Workload balance"), or None for none."""
    why = static_reject(o, v)
    if why:
        return None, why
    why = capacity_reject(route_load(v, orders), o, v)
    if why:
        return None, why
    tt = vehicle_tt(tt, v)
    from_pos, from_ts = _start_of(v, now)
    stops = v.route
    if RC.engine_break(v, from_ts) is not None:
        from fleetstream.operators.dispatch_breaks import insert_retimed
        return insert_retimed(o, v, orders, from_pos, from_ts, tt, dist, pair_window,
                              balance, timing.min_pos if timing is not None else 0,
                              timing.delay_price if timing is not None else 0.0)
    if timing is None:
        timing = route_timing(v, stops, orders, from_pos, from_ts, tt)
    delay_price = timing.delay_price
    drive_left = RC.engine_drive_left(v)
    n = len(stops)
    pts = timing.points
    dep = timing.depart
    latest = timing.latest
    ws = timing.window_start
    km_cost = v.cost_per_km / 1000.0
    s_cost = v.cost_per_hour / 3600.0
    # The fleet-type cost model: the vehicle's own per-km, per-hour, per-stop prices (no
    # fixed cost: a vehicle on shift is paid for anyway).  The workload-balance term is
    # added to the cheapest position's cost (with_balance): it chooses the driver, not
    # the position.
    stop_cost = v.cost_per_stop
    d_pt, (d_w0, d_w1), d_svc = o.location, o.stop_window(DELIVERY), o.service_s
    best: Insertion | None = None
    blocked = C_WINDOW

    def after(i: int) -> tuple[Point, float]:
        return (from_pos, from_ts) if i == 0 else (pts[i - 1], dep[i - 1])

    def tail_ok(k: int, p: Point, t: float) -> bool:
        # Leaving point p at t, can original stop k (or the end) still be served in time?
        if k < n:
            a = t + tt(p, pts[k], t)
            return (a if a > ws[k] else ws[k]) <= latest[k]
        return t + tt(p, v.end, t) <= v.shift_end_ts

    k0 = timing.min_pos if timing.min_pos < n else n
    if o.kind != "on_demand" or o.status == "onboard":
        for k in range(k0, n + 1):
            prev_pt, prev_t = after(k)
            a = prev_t + tt(prev_pt, d_pt, prev_t)
            if a > d_w1:
                break
            b = a if a > d_w0 else d_w0
            d = b + d_svc
            if not tail_ok(k, d_pt, d):
                blocked = C_SHIFT if k == n else C_WINDOW
                continue
            nxt = pts[k] if k < n else v.end
            if drive_left is not None and timing.drive_s + (
                    a - prev_t + tt(d_pt, nxt, d) - tt(prev_pt, nxt, prev_t)) > drive_left:
                blocked = C_DRIVE
                continue
            added_m = dist(prev_pt, d_pt) + dist(d_pt, nxt) - dist(prev_pt, nxt)
            added_s = d - prev_t + tt(d_pt, nxt, d) - tt(prev_pt, nxt, prev_t)
            cost = added_m * km_cost + added_s * s_cost + stop_cost
            if delay_price and added_s > 0.0:   # the customers after it arrive later
                cost += added_s * (n - k) * delay_price
            if best is None or cost < best.cost:
                best = Insertion(v.id, (k,), cost, added_m / 1000.0, added_s, o.id)
        return (with_balance(best, v, balance), "") if best else (None, blocked)

    p_pt, (p_w0, p_w1), p_svc = o.pickup, o.stop_window(PICKUP), o.pickup_service_s
    for k in range(k0, n + 1):
        prev_pt, prev_t = after(k)
        a = prev_t + tt(prev_pt, p_pt, prev_t)  # type: ignore[arg-type]
        if a > p_w1:
            break
        t = (a if a > p_w0 else p_w0) + p_svc
        prev = p_pt
        added_m_p = dist(prev_pt, p_pt)  # type: ignore[arg-type]
        for j in range(k, min(n, k + pair_window) + 1):
            a_d = t + tt(prev, d_pt, t)  # type: ignore[arg-type]
            if a_d <= d_w1:
                b = a_d if a_d > d_w0 else d_w0
                d = b + d_svc
                nxt = pts[j] if j < n else v.end
                if drive_left is not None and _pair_drive(
                        timing, from_pos, from_ts, k, j, p_pt, d_pt, nxt, pts, dep, t, a_d, tt) > drive_left:
                    blocked = C_DRIVE
                elif tail_ok(j, d_pt, d):
                    # distance: prev_pt->P ... ->D->nxt replacing prev_pt->pts[k] and prev->nxt
                    if j == k:
                        added_m = added_m_p + dist(p_pt, d_pt) + dist(d_pt, nxt) - dist(prev_pt, nxt)  # type: ignore[arg-type]
                    else:
                        added_m = (added_m_p + dist(p_pt, pts[k]) - dist(prev_pt, pts[k])  # type: ignore[arg-type]
                                   + dist(pts[j - 1], d_pt) + dist(d_pt, nxt) - dist(pts[j - 1], nxt))
                    added_s = (d + tt(d_pt, nxt, d)) - (dep[j - 1] if j > 0 else from_ts) - (
                        tt(pts[j - 1] if j > 0 else from_pos, nxt, dep[j - 1] if j > 0 else from_ts))
                    cost = added_m * km_cost + max(0.0, added_s) * s_cost + 2 * stop_cost
                    if delay_price:
                        cost += pair_delay(k, j, n, added_s, t, prev_pt, prev_t, p_pt,
                                           pts, tt) * delay_price
                    if best is None or cost < best.cost:
                        best = Insertion(v.id, (k, j), cost, added_m / 1000.0, added_s, o.id)
            if j == n:
                break
            a_j = t + tt(prev, pts[j], t)  # type: ignore[arg-type]
            b_j = a_j if a_j > ws[j] else ws[j]
            if b_j > latest[j]:
                break
            t, prev = b_j + timing.service[j], pts[j]
    return (with_balance(best, v, balance), "") if best else (None, blocked)


def pair_delay(k: int, j: int, n: int, added_s: float, t_p: float, prev_pt: Point,
               prev_t: float, p_pt: Point, pts: list, tt: TravelFn) -> float:
    """Seconds the stops after a pickup (at ``k``, left at ``t_p``) and its delivery (at
    ``j``) arrive later, summed (``Timing.delay_price``): by the pickup's detour between
    them, by the pair's (``added_s``) after."""
    late = (added_s if added_s > 0.0 else 0.0) * (n - j)
    if j > k:
        dp = t_p + tt(p_pt, pts[k], t_p) - (prev_t + tt(prev_pt, pts[k], prev_t))
        if dp > 0.0:
            late += dp * (j - k)
    return late


def with_balance(ins: Insertion | None, v: Vehicle, balance: Any) -> Insertion | None:
    """``ins`` (the cheapest position in ``v``'s route) with the workload-balance term
    of :mod:`operators.balance` added to its cost: ``a + b * dh + c * dh ** 2`` for its
    added seconds ``dh``, with ``b`` floored at minus the vehicle's time price, so that
    a light driver's time is at most free, never a reward for a longer detour."""
    if ins is None or balance is None:
        return ins
    a, b, c = balance.coefficients(v.id)
    if a == 0.0 and b == 0.0 and c == 0.0:
        return ins
    b = max(b, -v.cost_per_hour / 3600.0)
    dh = ins.added_s if ins.added_s > 0 else 0.0
    from dataclasses import replace
    return replace(ins, cost=ins.cost + a + (b + c * dh) * dh)


def _pair_drive(timing: Timing, from_pos: Point, from_ts: float, k: int, j: int, p_pt: Point,
                d_pt: Point, nxt: Point, pts: list, dep: list, t_p: float, a_d: float,
                tt: TravelFn) -> float:
    """The route's driving time with a pickup before stop ``k`` and its delivery before
    stop ``j`` (approximate legs: each at the original departure times)."""
    prev_pt, prev_t = (from_pos, from_ts) if k == 0 else (pts[k - 1], dep[k - 1])
    n = len(pts)
    first = pts[k] if k < n else nxt
    drive = timing.drive_s + tt(prev_pt, p_pt, prev_t) - tt(prev_pt, first, prev_t)
    if j == k:
        drive += tt(p_pt, d_pt, t_p) + tt(d_pt, nxt, a_d)
    else:
        drive += tt(p_pt, first, t_p)
        before = pts[j - 1]
        drive += tt(before, d_pt, dep[j - 1]) + tt(d_pt, nxt, a_d) - tt(before, nxt, dep[j - 1])
    return drive


def inserted_route(route: list, ins: Insertion) -> list[tuple[str, str]]:
    """The route with ``ins`` applied (a new list; ``route`` is not changed)."""
    if not ins.order_id:
        raise ValueError("inserted_route needs Insertion.order_id")
    out = list(route)
    if len(ins.positions) == 1:
        out.insert(ins.positions[0], (ins.order_id, DELIVERY))
    else:
        k, j = ins.positions
        out.insert(j, (ins.order_id, DELIVERY))
        out.insert(k, (ins.order_id, PICKUP))
    return out  # type: ignore[return-value]


def apply_insertion(v: Vehicle, o: Order, ins: Insertion) -> None:
    """Apply ``ins`` to ``v``'s route in place and assign ``o`` to ``v``."""
    if ins.order_id and ins.order_id != o.id:
        raise ValueError(f"insertion is for {ins.order_id}, not {o.id}")
    if not ins.order_id:
        from dataclasses import replace
        ins = replace(ins, order_id=o.id)
    v.route[:] = inserted_route(v.route, ins)
    o.vehicle_id = v.id


@dataclass
class InsertionStrategy:
    """Cheapest insertion; re-route by earliest deadline first.  No zone plan, no
    re-route result, no redispatch (those verbs answer None)."""

    name: str = "insertion-1"
    config: Any = None

    def insert(self, o: Order, candidates: list[Vehicle], orders: dict[str, Order],
               now: float, tt: TravelFn, dist: DistFn,
               timings: dict[str, Timing] | None = None,
               balance: Any = None) -> tuple[Insertion | None, Rejection]:
        """Cheapest feasible insertion among ``candidates``; ``balance``: the zone's
        :class:`operators.balance.Balance` for this sweep (None: detour cost only)."""
        rej = Rejection()
        best: Insertion | None = None
        for v in candidates:
            ins, why = best_insertion(o, v, orders, now, tt, dist,
                                      timings.get(v.id) if timings else None,
                                      balance=balance)
            if ins is None:
                rej.add(why, v.id)
                continue
            rej.costed.append(ins)
            if best is None or ins.cost < best.cost:
                best = ins
        return best, rej

    def plan(self, vehicles: list[Vehicle], orders: list[Order], current: dict[str, list],
             now: float, tt: TravelFn, dist: DistFn) -> None:
        return None

    def reroute_result(self, v: Vehicle, orders: dict[str, Order], now: float, tt: TravelFn,
                       dist: DistFn, keep_first: bool = False, time_factor: float = 1.0) -> None:
        return None

    def redispatch(self, v: Vehicle, order_ids: list[str], candidates: list[Vehicle],
                   orders: dict[str, Order], now: float, tt: TravelFn, dist: DistFn) -> None:
        return None

    def reroute(self, v: Vehicle, orders: dict[str, Order], now: float,
                tt: TravelFn) -> list[tuple[str, str]] | None:
        if len(v.route) < 2:
            return None
        current = route_timing(v, v.route, orders, v.pos, now, tt)
        # Earliest deadline first, keeping each pickup before its delivery.
        pos = {s: i for i, s in enumerate(v.route)}
        order_key = sorted(v.route, key=lambda s: (orders[s[0]].window_end, 0 if s[1] == PICKUP else 1, pos[s]))
        seen: set[str] = set()
        seq: list[tuple[str, str]] = []
        deferred: list[tuple[str, str]] = []
        for s in order_key:
            oid, kind = s
            if kind == DELIVERY and (oid, PICKUP) in pos and oid not in seen:
                deferred.append(s)
                continue
            seq.append(s)
            if kind == PICKUP:
                seen.add(oid)
                for d in [d for d in deferred if d[0] == oid]:
                    deferred.remove(d)
                    seq.append(d)
        seq.extend(deferred)
        cand = route_timing(v, seq, orders, v.pos, now, tt)
        if cand.lateness_s + 60.0 < current.lateness_s:
            return seq
        return None
