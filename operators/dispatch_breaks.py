"""Cheapest insertion for a vehicle whose driver still has a break to take.

:func:`operators.dispatch.best_insertion` hands such vehicles here: the backward
"latest start" shortcut of the no-break path does not hold across a break, so each
candidate is re-timed from its insertion point (see :func:`insert_retimed`).  The
break is placed as :func:`operators.dispatch.route_timing` places it (the first leg
that would arrive at or after its earliest start), so what this accepts the
independent checker (which tries every gap) accepts too.
"""

from __future__ import annotations

from typing import Any

from fleetstream.operators.dispatch import (C_BREAK, C_DRIVE, C_SHIFT, C_WINDOW, DistFn, Insertion,
                                            Point, TravelFn, best_insertion, pair_delay,
                                            route_timing, with_balance)
from fleetstream.operators.routing import constraints as RC
from fleetstream.operators.state import DELIVERY, PICKUP, Order, Vehicle


def insert_retimed(o: Order, v: Vehicle, orders: dict[str, Order], from_pos: Point,
                    from_ts: float, tt: TravelFn, dist: DistFn, pair_window: int,
                    balance: Any, min_pos: int = 0,
                    delay_price: float = 0.0) -> tuple[Insertion | None, str]:
    """Insertion for a vehicle whose driver still has a break to take: each candidate
    is re-timed from its insertion point (the prefix keeps the current schedule) with
    the break placed as :func:`route_timing` places it, until the break is behind and
    an original stop is reached in time for the rest of the route (its no-break
    ``latest`` start: past the break nothing else moves it).  A candidate is feasible
    when the new stops and every stop after them are on time, the vehicle is back by
    its shift end, the break starts by its latest start and the driving time stays
    within the driver's limit.  Costs as in the no-break path; no new stop before
    ``min_pos`` (the frozen head, ``Timing.min_pos``) and ``delay_price`` as
    ``Timing.delay_price``."""
    brk = RC.engine_break(v, from_ts)
    stops = v.route
    n = len(stops)
    cur = route_timing(v, stops, orders, from_pos, from_ts, tt)
    pts, dep, ws, we, svc, latest = (cur.points, cur.depart, cur.window_start, cur.window_end,
                                     cur.service, cur.latest)
    b_after = cur.break_after
    drive_left = RC.engine_drive_left(v)
    km_cost = v.cost_per_km / 1000.0
    s_cost = v.cost_per_hour / 3600.0
    stop_cost = v.cost_per_stop
    best: Insertion | None = None
    blocked = [C_WINDOW]
    b0, b1, bd = brk.earliest, brk.latest, brk.duration

    def walk(k: int, new: list, j: int) -> tuple[bool, float]:
        """Re-time from original position ``k``: ``new`` stops [(point, w0, w1, svc)]
        go in before original stop ``k`` (the first) and before stop ``j`` (the last).
        Returns (feasible, departure from the last new stop)."""
        t, pos = (from_ts, from_pos) if k == 0 else (dep[k - 1], pts[k - 1])
        taken = b_after is not None and b_after <= k - 2
        items = [(-1, x) for x in new[:1]] + [(i, None) for i in range(k, j)] + \
            [(-1, x) for x in new[1:]] + [(i, None) for i in range(j, n)]
        placed = 0
        d_last = t
        for i, x in items:
            p_ = x[0] if i < 0 else pts[i]
            a = t + tt(pos, p_, t)
            if not taken and a >= b0:
                bs = t if t > b0 else b0
                if bs > b1:
                    blocked.append(C_BREAK)
                    return False, 0.0
                a = (a if a > b0 else b0) + bd
                taken = True
            w0, w1, sv = (x[1], x[2], x[3]) if i < 0 else (ws[i], we[i], svc[i])
            st = a if a > w0 else w0
            if i < 0:
                if st > w1:
                    return False, 0.0
                placed += 1
                t, pos = st + sv, p_
                d_last = t
                continue
            if placed == len(new) and taken:
                return st <= latest[i], d_last
            if st > w1:
                return False, 0.0
            t, pos = st + sv, p_
        end = t + tt(pos, v.end, t)
        if not taken and end > b0:
            bs = t if t > b0 else b0
            if bs > b1:
                blocked.append(C_BREAK)
                return False, 0.0
            end = (end if end > b0 else b0) + bd
        if end > v.shift_end_ts:
            blocked.append(C_SHIFT)
            return False, 0.0
        return True, d_last

    def after(i: int) -> tuple[Point, float]:
        return (from_pos, from_ts) if i == 0 else (pts[i - 1], dep[i - 1])

    d_pt, (d_w0, d_w1), d_svc = o.location, o.stop_window(DELIVERY), o.service_s
    d_new = (d_pt, d_w0, d_w1, d_svc)
    k0 = min_pos if min_pos < n else n
    if o.kind != "on_demand" or o.status == "onboard":
        for k in range(k0, n + 1):
            prev_pt, prev_t = after(k)
            if prev_t + tt(prev_pt, d_pt, prev_t) > d_w1:
                break
            nxt = pts[k] if k < n else v.end
            if drive_left is not None and cur.drive_s + (
                    tt(prev_pt, d_pt, prev_t) + tt(d_pt, nxt, prev_t) - tt(prev_pt, nxt, prev_t)) > drive_left:
                blocked.append(C_DRIVE)
                continue
            ok, d = walk(k, [d_new], k)
            if not ok:
                continue
            added_m = dist(prev_pt, d_pt) + dist(d_pt, nxt) - dist(prev_pt, nxt)
            added_s = d - prev_t + tt(d_pt, nxt, d) - tt(prev_pt, nxt, prev_t)
            cost = added_m * km_cost + max(0.0, added_s) * s_cost + stop_cost
            if delay_price and added_s > 0.0:   # the customers after it arrive later
                cost += added_s * (n - k) * delay_price
            if best is None or cost < best.cost:
                best = Insertion(v.id, (k,), cost, added_m / 1000.0, added_s, o.id)
    else:
        p_pt, (p_w0, p_w1), p_svc = o.pickup, o.stop_window(PICKUP), o.pickup_service_s
        p_new = (p_pt, p_w0, p_w1, p_svc)
        for k in range(k0, n + 1):
            prev_pt, prev_t = after(k)
            if prev_t + tt(prev_pt, p_pt, prev_t) > p_w1:  # type: ignore[arg-type]
                break
            for j in range(k, min(n, k + pair_window) + 1):
                nxt = pts[j] if j < n else v.end
                first = pts[k] if k < n else v.end
                bj = pts[j - 1] if j > k else p_pt
                tj = dep[j - 1] if j > k else prev_t
                if j == k:
                    dd = (tt(prev_pt, p_pt, prev_t) + tt(p_pt, d_pt, prev_t) + tt(d_pt, nxt, prev_t)
                          - tt(prev_pt, nxt, prev_t))
                    added_m = dist(prev_pt, p_pt) + dist(p_pt, d_pt) + dist(d_pt, nxt) - dist(prev_pt, nxt)
                else:
                    dd = (tt(prev_pt, p_pt, prev_t) + tt(p_pt, first, prev_t) - tt(prev_pt, first, prev_t)
                          + tt(bj, d_pt, tj) + tt(d_pt, nxt, tj) - tt(bj, nxt, tj))
                    added_m = (dist(prev_pt, p_pt) + dist(p_pt, first) - dist(prev_pt, first)
                               + dist(bj, d_pt) + dist(d_pt, nxt) - dist(bj, nxt))
                if drive_left is not None and cur.drive_s + dd > drive_left:
                    blocked.append(C_DRIVE)
                    continue
                ok, d = walk(k, [p_new, d_new], j)
                if not ok:
                    continue
                added_s = (d + tt(d_pt, nxt, d)) - (dep[j - 1] if j > 0 else from_ts) - (
                    tt(pts[j - 1] if j > 0 else from_pos, nxt, dep[j - 1] if j > 0 else from_ts))
                cost = added_m * km_cost + max(0.0, added_s) * s_cost + 2 * stop_cost
                if delay_price:
                    t_p = (prev_t + tt(prev_pt, p_pt, prev_t))  # type: ignore[arg-type]
                    t_p = (t_p if t_p > p_w0 else p_w0) + p_svc
                    cost += pair_delay(k, j, n, added_s, t_p, prev_pt, prev_t, p_pt, pts,
                                       tt) * delay_price
                if best is None or cost < best.cost:
                    best = Insertion(v.id, (k, j), cost, added_m / 1000.0, added_s, o.id)
    if best is not None:
        return with_balance(best, v, balance), ""
    if C_BREAK in blocked or C_DRIVE in blocked:
        return None, C_BREAK if C_BREAK in blocked else C_DRIVE
    # Would it fit without the break?  Then the break is what blocks it.
    ins, why = best_insertion(o, NoBreak(v), orders, from_ts, tt, dist,  # type: ignore[arg-type]
                              pair_window=pair_window, balance=balance)
    return None, C_BREAK if ins is not None else (why or C_WINDOW)


class NoBreak:
    """``v`` as seen without its break (to name the break as the blocking constraint)."""

    def __init__(self, v: Vehicle):
        self._v = v

    def __getattr__(self, k: str):
        if k in ("break_earliest_ts", "break_latest_ts", "break_s"):
            return None
        return getattr(self._v, k)
