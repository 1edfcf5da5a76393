"""Pure-Python route evaluation and local search for one vehicle.

Used where OR-Tools' model building dominates: re-routing one vehicle's remaining
stops and evaluating insertions in redispatch.  Deterministic: a fixed order of
moves and a fixed number of passes, no clock and no randomness.

The objective matches the checker's cost for a route (distance x cost per km,
duration x cost per hour, stops x cost per stop, lateness x lateness cost), with a
large penalty per unit of hard violation (capacity, pairing, shift end, hard window)
so that a feasible route always wins.

>>> from fleetstream.operators.routing.model import Job, Problem, VehicleSpec
>>> T = [[0, 10, 20, 30], [10, 0, 10, 20], [20, 10, 0, 10], [30, 20, 10, 0]]
>>> p = Problem(time=T, dist=T, vehicles=[VehicleSpec("v", start=0, end=3, shift_end=500)],
...             jobs=[Job(str(i), i) for i in (1, 2, 3)], objective="distance")
>>> improve_route(p, "v", [("3", "delivery"), ("1", "delivery"), ("2", "delivery")])[0]
[('1', 'delivery'), ('2', 'delivery'), ('3', 'delivery')]
"""

from __future__ import annotations

from typing import Callable

from fleetstream.operators.routing.model import PICKUP, Problem, Stop

HARD = 1e7  # penalty per time unit / load unit of hard violation


class RouteEval:
    """Precomputed per-stop data of one vehicle for fast repeated evaluation.

    Every figure is computed with the same floating-point operations in the same
    order as the plain definition (the route walked stop by stop), so the fast paths
    give bit-identical costs (``tests/routing/test_route_eval_identity.py``)."""

    __slots__ = ("p", "v", "soft", "late_c", "km_c", "h_c", "stop_c", "cap", "dims", "T", "D",
                 "capv", "max_late", "_sd")

    def __init__(self, p: Problem, vid: str):
        self.p = p
        self.v = p.vehicle(vid)
        self.soft = p.lateness_cost_per_unit > 0
        self.late_c = p.lateness_cost_per_unit if self.soft else 0.0
        if p.objective == "cost":
            self.km_c = self.v.cost_per_km * p.km_per_unit
            self.h_c = self.v.cost_per_hour * p.hours_per_unit
            self.stop_c = self.v.cost_per_stop
        else:
            self.km_c, self.h_c, self.stop_c = 1.0, 0.0, 0.0
        self.cap = self.v.capacity
        self.dims = [d for d in self.cap]
        self.capv = tuple(self.cap[d] for d in self.dims)
        self.T, self.D = p.time_for(vid), p.dist
        self.max_late = p.max_lateness
        self._sd: dict = {}

    def stop(self, jid: str, kind: str) -> tuple:
        """(node, window start, window end, service, has pickup, counts in the start
        load, size per dimension, signed size per dimension) of a stop, cached."""
        key = (jid, kind)
        d = self._sd.get(key)
        if d is None:
            j = self.p._jobs[jid]
            if kind == PICKUP:
                node, (w0, w1), svc = j.pickup, j.pickup_window, j.pickup_service
            else:
                node, (w0, w1), svc = j.node, j.window, j.service
            hp = j.has_pickup
            q = tuple(1.0 if dim == "count" else j.size.get(dim, 0.0) for dim in self.dims)
            sign = 1.0 if kind == PICKUP else -1.0
            d = self._sd[key] = (node, w0, w1, svc, hp, kind != PICKUP and not hp, q,
                                 tuple(sign * x for x in q))
        return d

    def cost(self, stops: list[Stop]) -> float:
        """Route cost with hard violations penalised (lower is better)."""
        v, T, D = self.v, self.T, self.D
        sd, stop = self._sd, self.stop
        data = [sd.get((jid, kind)) or stop(jid, kind) for jid, kind in stops]
        t = v.start_time
        node = v.start
        dist = 0.0
        late = 0.0
        hard = 0.0
        b = v.break_
        brk_done = b is None
        soft, max_late = self.soft, self.max_late
        # Loads: delivery-only jobs start on board.
        capv = self.capv
        nd = len(capv)
        load = [0.0] * nd
        if nd:
            for x in data:
                if x[5]:
                    q = x[6]
                    for di in range(nd):
                        load[di] += q[di]
            for di in range(nd):
                if load[di] > capv[di]:
                    hard += load[di] - capv[di]
        picked: set[str] = set()
        for (jid, kind), (nxt, w0, w1, svc, hp, _pre, _q, sq) in zip(stops, data):
            if kind == PICKUP:
                picked.add(jid)
            elif hp and jid not in picked:
                hard += 1000.0
            a = t + T[node][nxt]
            if not brk_done and a >= b.earliest:  # type: ignore[union-attr]
                bs = t if t > b.earliest else b.earliest  # type: ignore[union-attr]
                if bs > b.latest:  # type: ignore[union-attr]
                    hard += bs - b.latest  # type: ignore[union-attr]
                a = (a if a > b.earliest else b.earliest) + b.duration  # type: ignore[union-attr]
                brk_done = True
            dist += D[node][nxt]
            s = a if a > w0 else w0
            if s > w1:
                if soft and s - w1 <= max_late:
                    late += s - w1
                else:
                    hard += s - w1
            t = s + svc
            node = nxt
            if nd:
                for di in range(nd):
                    load[di] += sq[di]
                    if load[di] > capv[di] + 1e-9:
                        hard += load[di] - capv[di]
        end = t + T[node][v.end]
        dist += D[node][v.end]
        if not brk_done and end > b.earliest:  # type: ignore[union-attr]
            bs = t if t > b.earliest else b.earliest  # type: ignore[union-attr]
            if bs > b.latest:  # type: ignore[union-attr]
                hard += bs - b.latest  # type: ignore[union-attr]
            end = (end if end > b.earliest else b.earliest) + b.duration  # type: ignore[union-attr]
        if end > v.shift_end:
            hard += end - v.shift_end
        dur = end - v.start_time
        if v.max_duration is not None and dur > v.max_duration:
            hard += dur - v.max_duration
        if v.max_drive is not None:
            drive = 0.0
            node = v.start
            for x in data:
                drive += T[node][x[0]]
                node = x[0]
            drive += T[node][v.end]
            if drive > v.max_drive:
                hard += drive - v.max_drive
        return (HARD * hard + dist * self.km_c + dur * self.h_c + len(stops) * self.stop_c
                + late * self.late_c)

    # -------------------------------------------------------------- incremental

    def fast_ok(self, stops: list[Stop]) -> bool:
        """Incremental evaluation applies (no break: the break's placement is global;
        no driving-time limit: it sums over the whole route)."""
        return self.v.break_ is None and self.v.max_drive is None

    def rich(self, stops: list[Stop]) -> list[tuple]:
        """``stops`` as the incremental evaluation's stops: (job id, kind, node, window
        start, window end, service, has pickup, counts in the start load, sizes, signed
        sizes, the original stop)."""
        sd, stop = self._sd, self.stop
        return [(s[0], s[1]) + (sd.get((s[0], s[1])) or stop(s[0], s[1])) + (s,) for s in stops]

    def lateness(self, stops: list[Stop]) -> float:
        """Total time past window ends along the route (time units)."""
        p, v, T = self.p, self.v, self.T
        t, node, late = v.start_time, v.start, 0.0
        for jid, kind in stops:
            j = p._jobs[jid]
            if kind == PICKUP:
                nxt, (w0, w1), svc = j.pickup, j.pickup_window, j.pickup_service
            else:
                nxt, (w0, w1), svc = j.node, j.window, j.service
            a = t + T[node][nxt]
            s = a if a > w0 else w0
            if s > w1:
                late += s - w1
            t, node = s + svc, nxt
        return late


def improve_route(p: Problem, vid: str, stops: list[Stop], max_passes: int = 6,
                  window: int = 12, ev: RouteEval | None = None) -> tuple[list[Stop], float]:
    """Relocate single stops and segments of 2 and 3 (or-opt) within ``window``
    positions, then 2-opt within ``window``, first improvement, up to ``max_passes``
    passes.  Pickups stay before their deliveries.  Moves are costed incrementally
    from the unchanged prefix and cut off as soon as they cannot win."""
    ev = ev or RouteEval(p, vid)
    cur = list(stops)
    n = len(cur)
    if n < 2:
        return cur, ev.cost(cur)
    if not ev.fast_ok(cur):
        # Routes with a break or a driving limit: every move re-evaluated in full, no 2-opt.
        return _search(p, cur, ev.cost(cur), max_passes, window, True,
                       lambda cand, lo, hi, bound: ev.cost(cand), lambda cand: None,
                       two_opt=False)
    from fleetstream.operators.routing.moves import RouteMoves, search_moves
    rich = ev.rich(cur)
    mv = RouteMoves(ev, rich)
    rich = search_moves(p, rich, mv.total(), max_passes, window,
                        any(k == PICKUP for _j, k in cur), mv)
    cur = [x[-1] for x in rich]
    return cur, ev.cost(cur)


def _search(p: Problem, cur: list[Stop], best: float, max_passes: int, window: int,
            pairs: bool, price: Callable[[list[Stop], int, int, float], float],
            accept: Callable[[list[Stop]], None], two_opt: bool) -> tuple[list[Stop], float]:
    """First-improvement or-opt (then 2-opt) passes; ``price`` costs a candidate that
    differs from ``cur`` in positions [lo, hi), ``accept`` is told of each new ``cur``."""
    n = len(cur)
    order = _Pairs(p, cur) if pairs else None
    for _ in range(max_passes):
        improved = False
        for seg in (1, 2, 3):
            i = 0
            while i + seg <= n:
                block = cur[i:i + seg]
                rest = cur[:i] + cur[i + seg:]
                for k in range(max(0, i - window), min(len(rest), i + window) + 1):
                    if k == i:
                        continue
                    if order is not None and not order.relocate_ok(i, seg, k):
                        continue
                    cand = rest[:k] + block + rest[k:]
                    c = price(cand, min(i, k), max(i, k) + seg, best - 1e-9)
                    if c < best - 1e-9:
                        cur, best, improved = cand, c, True
                        accept(cur)
                        if order is not None:
                            order.reset(cur)
                        break
                i += 1
        if two_opt:
            for i in range(n - 1):
                for k in range(i + 2, min(n, i + window) + 1):
                    if order is not None and not order.reverse_ok(i, k):
                        continue
                    cand = cur[:i] + cur[i:k][::-1] + cur[k:]
                    c = price(cand, i, k, best - 1e-9)
                    if c < best - 1e-9:
                        cur, best, improved = cand, c, True
                        accept(cur)
                        if order is not None:
                            order.reset(cur)
        if not improved:
            break
    return cur, best


class _Pairs:
    """Pickup-before-delivery check of a move in O(moved span) instead of O(route):
    when the current route keeps every pair in order, a move breaks a pair only
    between the moved stops and the stops they jump over.  When it does not (a
    delivery before its pickup), every candidate is checked in full, as before."""

    __slots__ = ("p", "cur", "ok", "pos")

    def __init__(self, p: Problem, cur: list[Stop]):
        self.p = p
        self.reset(cur)

    def reset(self, cur: list[Stop]) -> None:
        self.cur = cur
        self.pos = {(s[0], s[1]): i for i, s in enumerate(cur)}
        self.ok = len(self.pos) == len(cur) and _pairs_ok(cur, self.p)

    def moved(self, cur: list[Stop], lo: int, hi: int) -> None:
        """:meth:`reset` after a move this check allowed that changed positions
        [lo, hi): with every pair in order it kept them in order, and only those
        positions moved."""
        if not self.ok:
            self.reset(cur)
            return
        self.cur = cur
        pos = self.pos
        for i in range(lo, hi):
            s = cur[i]
            pos[(s[0], s[1])] = i

    def _paired(self, jid: str) -> bool:
        return self.p._jobs[jid].has_pickup

    def relocate_ok(self, i: int, seg: int, k: int) -> bool:
        """Block cur[i:i+seg] moved to position k of the route without it."""
        cur = self.cur
        if not self.ok:
            rest = cur[:i] + cur[i + seg:]
            return _pairs_ok(rest[:k] + cur[i:i + seg] + rest[k:], self.p)
        pos = self.pos
        if k > i:  # jumps over cur[i+seg : k+seg]: a pickup must not pass its delivery
            lo, hi = i + seg, k + seg
            for x in cur[i:i + seg]:
                jid, kind = x[0], x[1]
                if kind == PICKUP:
                    d = pos.get((jid, "delivery"))
                    if d is not None and lo <= d < hi and self._paired(jid):
                        return False
        else:  # jumps back over cur[k:i]: a delivery must not pass its pickup
            for x in cur[i:i + seg]:
                jid, kind = x[0], x[1]
                if kind != PICKUP:
                    q = pos.get((jid, PICKUP))
                    if q is not None and k <= q < i and self._paired(jid):
                        return False
        return True

    def limits(self, i: int, seg: int) -> tuple[int, int] | None:
        """:meth:`relocate_ok` for every target of block cur[i:i+seg] at once (None
        when the route has a pair out of order: check each move): (``fwd``, ``bwd``)
        with the move to k allowed iff ``k + seg <= fwd`` (k > i: the first
        delivery after the block of a pickup in it) or ``k > bwd`` (k < i: the last
        pickup before the block of a delivery in it)."""
        if not self.ok:
            return None
        cur, pos, jobs = self.cur, self.pos, self.p._jobs
        fwd, bwd, lo = len(cur) + seg, -1, i + seg
        for x in cur[i:lo]:
            jid = x[0]
            if x[1] == PICKUP:
                d = pos.get((jid, "delivery"))
                if d is not None and lo <= d < fwd and jobs[jid].has_pickup:
                    fwd = d
            else:
                q = pos.get((jid, PICKUP))
                if q is not None and bwd < q < i and jobs[jid].has_pickup:
                    bwd = q
        return fwd, bwd

    def rev_limit(self, i: int, top: int) -> int | None:
        """:meth:`reverse_ok` for every reversal cur[i:k] with k <= ``top`` at once
        (None when the route has a pair out of order): allowed iff ``k`` is at most
        the returned position (the first delivery of a pickup from i on)."""
        if not self.ok:
            return None
        cur, pos, jobs = self.cur, self.pos, self.p._jobs
        lim = top
        for x in cur[i:top]:
            if x[1] == PICKUP:
                jid = x[0]
                d = pos.get((jid, "delivery"))
                if d is not None and d < lim and jobs[jid].has_pickup:
                    lim = d
        return lim

    def reverse_ok(self, i: int, k: int) -> bool:
        """cur[i:k] reversed: no pair may lie wholly inside it."""
        cur = self.cur
        if not self.ok:
            return _pairs_ok(cur[:i] + cur[i:k][::-1] + cur[k:], self.p)
        pos = self.pos
        for x in cur[i:k]:
            jid, kind = x[0], x[1]
            if kind == PICKUP:
                d = pos.get((jid, "delivery"))
                if d is not None and d < k and self._paired(jid):
                    return False
        return True


def _pairs_ok(stops: list, p: Problem) -> bool:
    seen: set[str] = set()
    for s in stops:
        jid, kind = s[0], s[1]
        if kind == PICKUP:
            seen.add(jid)
        elif p._jobs[jid].has_pickup and jid not in seen:
            return False
    return True


def best_insertion(p: Problem, vid: str, stops: list[Stop], jid: str,
                   ev: RouteEval | None = None, pair_window: int = 8) -> tuple[list[Stop] | None, float]:
    """Cheapest route with job ``jid`` inserted into ``stops`` (pickup first), with its
    cost; every position for the delivery, ``pair_window`` positions after the pickup.
    The answer is the one the full enumeration gives (the first cheapest candidate in
    the order pickup position, then delivery position), found with exact pruning: a
    lower bound of every candidate (:mod:`operators.routing.bounds`), the candidate
    of the lowest bound costed first (an incumbent), then the candidates in order,
    each skipped when its bound cannot beat the best so far or the incumbent
    (:func:`_first_cheapest`)."""
    from fleetstream.operators.routing.bounds import InsertionBound, RouteInsertionBound, allowed
    from fleetstream.operators.routing.insertion_cost import InsertionCost
    from fleetstream.operators.routing.moves import RouteMoves
    ev = ev or RouteEval(p, vid)
    j = p._jobs[jid]
    n = len(stops)
    lbs: list[float] = []
    at: list[tuple[int, int]] = []      # (pickup position, delivery position) per bound
    mv = RouteMoves(ev, ev.rich(stops)) if ev.fast_ok(stops) else None
    if mv is not None and mv.bounded:
        # waiting kept: from the route's recorded figures (bounds.RouteInsertionBound);
        # its bounds come with their rounding allowance taken
        rb = RouteInsertionBound(mv)
        if j.has_pickup:
            lbs = rb.all_pairs(pair_window, ev.stop(jid, PICKUP), ev.stop(jid, "delivery"))
            at = [(k, m) for k in range(n + 1) for m in range(k, min(n, k + pair_window) + 1)]
        else:
            sd = ev.stop(jid, "delivery")
            lbs = [rb.single(k, sd) for k in range(n + 1)]
    else:
        lb = InsertionBound(ev, stops)
        if j.has_pickup:
            for k in range(n + 1):
                top = min(n, k + pair_window)
                lbs += [allowed(b) for b in lb.pairs(k, k, top, jid)]
                at += [(k, m) for m in range(k, top + 1)]
        else:
            lbs = [allowed(lb.single(k, jid)) for k in range(n + 1)]
    if j.has_pickup:
        def build(i: int) -> list[Stop]:
            k, m = at[i]
            return stops[:k] + [(jid, PICKUP)] + stops[k:m] + [(jid, "delivery")] + stops[m:]
    else:
        def build(i: int) -> list[Stop]:
            return stops[:i] + [(jid, "delivery")] + stops[i:]
    if mv is not None and jid not in {s[0] for s in stops}:
        # costed from the route's recorded walk, cut off when it cannot win
        ic = InsertionCost(ev, stops)
        if j.has_pickup:
            def price(i: int, ge: float, gt: float) -> float:
                k, m = at[i]
                return ic.pair(jid, k, m, ge, gt)
        else:
            def price(i: int, ge: float, gt: float) -> float:
                return ic.single(jid, i, ge, gt)
    else:
        def price(i: int, ge: float, gt: float) -> float:
            return ev.cost(build(i))
    i = _first_cheapest(lbs, price)
    return (None, float("inf")) if i is None else (build(i[0]), i[1])


def _first_cheapest(lbs: list[float], price: Callable[[int, float, float], float]
                    ) -> tuple[int, float] | None:
    """The first candidate of least cost among candidates 0 .. len(lbs) - 1, with its
    cost: what costing every candidate in order and keeping each strictly cheaper one
    gives, costing fewer.  ``lbs[i]`` is a lower bound on candidate i's cost (its
    rounding allowance already taken); ``price(i, ge, gt)`` is candidate i's cost, or
    any value not below ``ge`` when the cost is at least ``ge``, or above ``gt`` when
    the cost is above ``gt`` (a walk cut off early).

    The candidate of the least bound is costed first (``c0``); then the candidates in
    order, each skipped when its bound (or its cut walk) shows it is not strictly
    cheaper than the best so far or costs more than ``c0`` (so more than the least
    cost: not the answer).  The first candidate of least cost is never skipped: every
    candidate before it costs more, and its cost is the least, at most ``c0``."""
    if not lbs:
        return None
    inf = float("inf")
    i0 = min(range(len(lbs)), key=lbs.__getitem__)
    c0 = price(i0, inf, inf)
    best, best_c = -1, inf
    for i, lb in enumerate(lbs):
        if lb > c0 or lb >= best_c:
            continue
        c = c0 if i == i0 else price(i, best_c, c0)
        if c < best_c and c <= c0:
            best, best_c = i, c
    return (best, best_c) if best >= 0 else None
