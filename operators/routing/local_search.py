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
    """Precomputed per-stop data of one vehicle for fast repeated evaluation."""

    __slots__ = ("p", "v", "soft", "late_c", "km_c", "h_c", "stop_c", "cap", "dims", "T", "D")

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
        self.T, self.D = p.time, p.dist

    def cost(self, stops: list[Stop]) -> float:
        """Route cost with hard violations penalised (lower is better)."""
        p, v, T, D = self.p, self.v, self.T, self.D
        t = v.start_time
        node = v.start
        dist = 0.0
        late = 0.0
        hard = 0.0
        b = v.break_
        brk_done = b is None
        # Loads: delivery-only jobs start on board.
        load = {d: 0.0 for d in self.dims}
        picked: set[str] = set()
        jobs = p._jobs
        if self.dims:
            for jid, kind in stops:
                j = jobs[jid]
                if kind != PICKUP and not j.has_pickup:
                    for d in self.dims:
                        load[d] += 1.0 if d == "count" else j.size.get(d, 0.0)
            for d in self.dims:
                if load[d] > self.cap[d]:
                    hard += load[d] - self.cap[d]
        for jid, kind in stops:
            j = jobs[jid]
            if kind == PICKUP:
                nxt, (w0, w1), svc = j.pickup, j.pickup_window, j.pickup_service
                picked.add(jid)
            else:
                nxt, (w0, w1), svc = j.node, j.window, j.service
                if j.has_pickup and jid not in picked:
                    hard += 1000.0
            tr = T[node][nxt]
            a = t + tr
            if not brk_done and a >= b.earliest:  # type: ignore[union-attr]
                bs = t if t > b.earliest else b.earliest  # type: ignore[union-attr]
                if bs > b.latest:  # type: ignore[union-attr]
                    hard += bs - b.latest  # type: ignore[union-attr]
                a = (a if a > b.earliest else b.earliest) + b.duration  # type: ignore[union-attr]
                brk_done = True
            dist += D[node][nxt]
            s = a if a > w0 else w0
            if s > w1:
                if self.soft and s - w1 <= p.max_lateness:
                    late += s - w1
                else:
                    hard += s - w1
            t = s + svc
            node = nxt
            if self.dims:
                sign = 1.0 if kind == PICKUP else -1.0
                for d in self.dims:
                    load[d] += sign * (1.0 if d == "count" else j.size.get(d, 0.0))
                    if load[d] > self.cap[d] + 1e-9:
                        hard += load[d] - self.cap[d]
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
        return (HARD * hard + dist * self.km_c + dur * self.h_c + len(stops) * self.stop_c
                + late * self.late_c)

    # -------------------------------------------------------------- incremental

    def fast_ok(self, stops: list[Stop]) -> bool:
        """Incremental evaluation applies (no break: the break's placement is global)."""
        return self.v.break_ is None

    def trace(self, stops: list[Stop]) -> tuple:
        """States before each position (time, previous node, monotone cost, loads) of a
        route, its end time and total cost, for :meth:`cost_move`."""
        p, v = self.p, self.v
        jobs = p._jobs
        # Without pickups the load only falls along the route: checking it at the start
        # is enough, and the moves need not track it.
        dims = self.dims if any(k == PICKUP for _j, k in stops) else []
        load = [0.0] * len(dims)
        for jid, kind in stops:
            j = jobs[jid]
            if kind != PICKUP and not j.has_pickup:
                for di, d in enumerate(dims):
                    load[di] += 1.0 if d == "count" else j.size.get(d, 0.0)
        if not dims:
            start = [0.0] * len(self.dims)
            for jid, _k in stops:
                j = jobs[jid]
                for di, d in enumerate(self.dims):
                    start[di] += 1.0 if d == "count" else j.size.get(d, 0.0)
            hard = sum(max(0.0, start[di] - self.cap[d]) for di, d in enumerate(self.dims))
        else:
            hard = sum(max(0.0, load[di] - self.cap[d]) for di, d in enumerate(dims))
        t, node, q = v.start_time, v.start, HARD * hard
        Ts, Ns, Qs, Ls = [], [], [], []
        for jid, kind in stops:
            Ts.append(t)
            Ns.append(node)
            Qs.append(q)
            Ls.append(tuple(load))
            t, node, q = self._step(jobs[jid], kind, t, node, q, load)
        Ts.append(t)
        Ns.append(node)
        Qs.append(q)
        Ls.append(tuple(load))
        end, qf = self._finish(t, node, q)
        return Ts, Ns, Qs, Ls, end, qf, len(stops)

    def _step(self, j, kind, t, node, q, load):
        if kind == PICKUP:
            nxt, (w0, w1), svc = j.pickup, j.pickup_window, j.pickup_service
        else:
            nxt, (w0, w1), svc = j.node, j.window, j.service
        a = t + self.T[node][nxt]
        q += self.D[node][nxt] * self.km_c
        s = a if a > w0 else w0
        if s > w1:
            if self.soft and s - w1 <= self.p.max_lateness:
                q += (s - w1) * self.late_c
            else:
                q += (s - w1) * HARD
        if load:
            sign = 1.0 if kind == PICKUP else -1.0
            for di, d in enumerate(self.dims):
                load[di] += sign * (1.0 if d == "count" else j.size.get(d, 0.0))
                if load[di] > self.cap[d] + 1e-9:
                    q += (load[di] - self.cap[d]) * HARD
        return s + svc, nxt, q

    def _finish(self, t, node, q):
        v = self.v
        end = t + self.T[node][v.end]
        q += self.D[node][v.end] * self.km_c
        if end > v.shift_end:
            q += (end - v.shift_end) * HARD
        dur = end - v.start_time
        if v.max_duration is not None and dur > v.max_duration:
            q += (dur - v.max_duration) * HARD
        return end, q

    def total(self, end: float, q: float, n: int) -> float:
        return q + (end - self.v.start_time) * self.h_c + n * self.stop_c

    def cost_move(self, cand: list[Stop], lo: int, hi: int, tr: tuple, bound: float) -> float:
        """Cost of ``cand``, which equals the traced route outside positions [lo, hi),
        or inf as soon as it provably reaches ``bound``: it starts from the traced state
        at ``lo``, and once past the change, a candidate at the same place no earlier
        than the traced route cannot beat the traced suffix."""
        Ts, Ns, Qs, Ls, end0, qf0, n = tr
        jobs = self.p._jobs
        t, node, q = Ts[lo], Ns[lo], Qs[lo]
        load = list(Ls[lo])
        h0 = n * self.stop_c - self.v.start_time * self.h_c
        for i in range(lo, n):
            if i > hi:
                if node == Ns[i]:
                    if t == Ts[i]:
                        return q + (qf0 - Qs[i]) + end0 * self.h_c + h0
                    if t > Ts[i] and q + (qf0 - Qs[i]) + end0 * self.h_c + h0 >= bound:
                        return float("inf")
            jid, kind = cand[i]
            t, node, q = self._step(jobs[jid], kind, t, node, q, load)
            if q + t * self.h_c + h0 >= bound:
                return float("inf")
        end, q = self._finish(t, node, q)
        return q + end * self.h_c + h0

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
        # Routes with a break: every move re-evaluated in full, no 2-opt.
        return _search(p, cur, ev.cost(cur), max_passes, window, True,
                       lambda cand, lo, hi, bound: ev.cost(cand), lambda cand: None,
                       two_opt=False)
    trace = [ev.trace(cur)]

    def price(cand: list[Stop], lo: int, hi: int, bound: float) -> float:
        return ev.cost_move(cand, lo, hi, trace[0], bound)

    def accept(cand: list[Stop]) -> None:
        trace[0] = ev.trace(cand)

    tr = trace[0]
    cur, _best = _search(p, cur, ev.total(tr[4], tr[5], n), max_passes, window,
                         any(k == PICKUP for _j, k in cur), price, accept, two_opt=True)
    return cur, ev.cost(cur)


def _search(p: Problem, cur: list[Stop], best: float, max_passes: int, window: int,
            pairs: bool, price: Callable[[list[Stop], int, int, float], float],
            accept: Callable[[list[Stop]], None], two_opt: bool) -> tuple[list[Stop], float]:
    """First-improvement or-opt (then 2-opt) passes; ``price`` costs a candidate that
    differs from ``cur`` in positions [lo, hi), ``accept`` is told of each new ``cur``."""
    n = len(cur)
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
                    cand = rest[:k] + block + rest[k:]
                    if pairs and not _pairs_ok(cand, p):
                        continue
                    c = price(cand, min(i, k), max(i, k) + seg, best - 1e-9)
                    if c < best - 1e-9:
                        cur, best, improved = cand, c, True
                        accept(cur)
                        break
                i += 1
        if two_opt:
            for i in range(n - 1):
                for k in range(i + 2, min(n, i + window) + 1):
                    cand = cur[:i] + cur[i:k][::-1] + cur[k:]
                    if pairs and not _pairs_ok(cand, p):
                        continue
                    c = price(cand, i, k, best - 1e-9)
                    if c < best - 1e-9:
                        cur, best, improved = cand, c, True
                        accept(cur)
        if not improved:
            break
    return cur, best


def _pairs_ok(stops: list[Stop], p: Problem) -> bool:
    seen: set[str] = set()
    for jid, kind in stops:
        if kind == PICKUP:
            seen.add(jid)
        elif p._jobs[jid].has_pickup and jid not in seen:
            return False
    return True


def best_insertion(p: Problem, vid: str, stops: list[Stop], jid: str,
                   ev: RouteEval | None = None, pair_window: int = 8) -> tuple[list[Stop] | None, float]:
    """Cheapest route with job ``jid`` inserted into ``stops`` (pickup first), with its
    cost; every position for the delivery, ``pair_window`` positions after the pickup."""
    ev = ev or RouteEval(p, vid)
    j = p._jobs[jid]
    best, best_c = None, float("inf")
    n = len(stops)
    if j.has_pickup:
        for k in range(n + 1):
            for m in range(k, min(n, k + pair_window) + 1):
                cand = stops[:k] + [(jid, PICKUP)] + stops[k:m] + [(jid, "delivery")] + stops[m:]
                c = ev.cost(cand)
                if c < best_c:
                    best, best_c = cand, c
    else:
        for k in range(n + 1):
            cand = stops[:k] + [(jid, "delivery")] + stops[k:]
            c = ev.cost(cand)
            if c < best_c:
                best, best_c = cand, c
    return best, best_c
