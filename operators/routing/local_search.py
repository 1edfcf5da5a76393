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

from fleetstream.operators.routing.model import INF, PICKUP, Problem, Stop

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
        self.T, self.D = p.time, p.dist
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


class _Moves:
    """Incremental costing of the moves of one route (:meth:`RouteEval.rich` stops; no
    break, no driving limit).  The states before each position of the current route
    (time, previous node, monotone cost, loads) are kept; a move that changes
    positions [lo, hi) is walked from the state at ``lo`` through its changed stops,
    then along the current route until it rejoins it (same node, same time: the rest
    of the cost is the current route's) or provably reaches the bound.  After an
    accepted move the states are re-walked from ``lo`` only (the prefix is unchanged).

    Every cost is the same floating-point expression, evaluated in the same order, as
    the plain incremental walk kept in ``tests/routing/test_local_search_speed.py``, so
    the search takes the same moves and returns the same routes.  The per-position
    figures of :func:`operators.routing.bounds.relocation_bound` are kept here too."""

    __slots__ = ("ev", "track", "n", "h0", "Ts", "Ns", "Qs", "Ls", "end", "qf", "arrays",
                 "dend", "rate", "bounded", "m0", "mrel", "mt", "safe_start", "exact_start")

    def __init__(self, ev: RouteEval, items: list[tuple]):
        self.ev = ev
        # Without pickups the load only falls along the route: checking it at the start
        # is enough, and the moves need not track it.
        self.track = any(x[1] == PICKUP for x in items)
        self.n = n = len(items)
        self.h0 = n * ev.stop_c - ev.v.start_time * ev.h_c
        self.Ts, self.Ns, self.Qs, self.Ls = [], [], [], []
        # Per position of the current route, for the relocation bound: node, arrival,
        # travel time of the arc in, cumulative arc distance; before each position the
        # window penalties, lateness, late stops and waiting so far; the next position
        # where the route waits; the end time from the arrival at a position is
        # max(arrival + AR, AE) (AR without waiting, AE the waits the windows force).
        self.arrays = ([], [], [], [], [0.0], [0.0], [0], [0.0], [], [], [])
        self.rate = min(ev.late_c, HARD) if ev.soft else HARD
        # Rounding allowance of the bounds (bounds.relocation_bound), with u the unit
        # roundoff: sums of at most ~3 n terms on each side (relative ``mrel``), and
        # time errors (a few ulps per step, growing along the route) at up to HARD per
        # time unit on up to n stops (``mt`` per time unit of the route's span).  The
        # bounds need non-negative cost rates, and a cost per hour above the time
        # error growth (a candidate that ends much later then costs more than its
        # error can hide).
        u, k2 = 2.0 ** -53, (n + 6) ** 2
        self.mrel = u * (16 * n + 96)
        self.mt = 4 * HARD * u * k2
        self.bounded = ev.late_c >= 0 and ev.h_c >= 2 * self.mt
        # Without pickups the start load is the sum of all sizes: when even its bound
        # is within capacity the start penalty is 0 in any order.
        tot = [sum(abs(x[8][di]) for x in items) for di in range(len(ev.dims))]
        self.safe_start = not self.track and all(
            tot[di] * (1 + 1e-9) < ev.capv[di] for di in range(len(tot)))
        # Whole sizes summing below 2**53 add up exactly in any order: the start state
        # is then the same for every order of the same stops.
        self.exact_start = all(float(y).is_integer() for x in items for y in x[8]) and all(
            t < 2.0 ** 52 for t in tot)
        self.retrace(items, 0)

    def _start(self, items: list[tuple]) -> tuple[float, tuple]:
        """The cost (capacity excess at the start, penalised) and loads before the
        first stop: sums in route order, as the plain walk does."""
        if self.safe_start:
            return 0.0, ()
        nd, capv = len(self.ev.dims), self.ev.capv
        load = [0.0] * nd
        for x in items:
            if x[7] or not self.track:
                q = x[8]
                for di in range(nd):
                    load[di] += q[di]
        hard = HARD * sum(max(0.0, load[di] - capv[di]) for di in range(nd))
        return hard, (tuple(load) if self.track else ())

    def retrace(self, items: list[tuple], lo: int, hi: int | None = None) -> None:
        """Record the states of route ``items``, which equals the recorded one before
        position ``lo`` (from the start when its start state differs: the start load
        is a sum in route order) and, when ``hi`` is given, from position ``hi`` on
        (the end-time figures of those positions are kept)."""
        ev = self.ev
        Ts, Ns, Qs, Ls = self.Ts, self.Ns, self.Qs, self.Ls
        X, A, TA, CD, PW, LX, LN, CW, NW, AR, AE = self.arrays
        n = len(items)
        if lo > 0 and Qs and self.exact_start:
            q0, load0 = Qs[0], Ls[0]
        else:
            q0, load0 = self._start(items)
        if lo > 0 and Qs and Qs[0] == q0 and Ls[0] == load0:
            t, node, q, load = Ts[lo], Ns[lo], Qs[lo], list(Ls[lo])
            del Ts[lo:], Ns[lo:], Qs[lo:], Ls[lo:], X[lo:], A[lo:], TA[lo:], CD[lo:]
            del PW[lo + 1:], LX[lo + 1:], LN[lo + 1:], CW[lo + 1:]
        else:
            lo, hi = 0, None
            for x in (Ts, Ns, Qs, Ls, X, A, TA, CD):
                x.clear()
            del PW[1:], LX[1:], LN[1:], CW[1:]
            t, node, q, load = ev.v.start_time, ev.v.start, q0, list(load0)
        T, D = ev.T, ev.D
        km_c, late_c, soft, max_late, capv = ev.km_c, ev.late_c, ev.soft, ev.max_late, ev.capv
        nl = len(load)
        cd, pw, lx, ln, cw = (CD[-1] if CD else 0.0), PW[-1], LX[-1], LN[-1], CW[-1]
        ts_, ns_, qs_, ls_, x_, a_, ta_, cd_, pw_, lx_, ln_, cw_ = (
            Ts.append, Ns.append, Qs.append, Ls.append, X.append, A.append, TA.append,
            CD.append, PW.append, LX.append, LN.append, CW.append)
        empty = ()
        for i in range(lo, n):
            ts_(t)
            ns_(node)
            qs_(q)
            ls_(tuple(load) if nl else empty)
            _j, _k, nxt, w0, w1, svc, _hp, _pre, _q, sq, _o = items[i]
            tr, dd = T[node][nxt], D[node][nxt]
            a = t + tr
            q += dd * km_c
            x_(nxt)
            a_(a)
            ta_(tr)
            cd += dd
            cd_(cd)
            if a > w0:
                s = a
            else:
                s = w0
                cw += w0 - a
            cw_(cw)
            if s > w1:
                lx += s - w1
                ln += 1
                if soft and s - w1 <= max_late:
                    q += (s - w1) * late_c
                    pw += (s - w1) * late_c
                else:
                    q += (s - w1) * HARD
                    pw += (s - w1) * HARD
            pw_(pw)
            lx_(lx)
            ln_(ln)
            if nl:
                for di in range(nl):
                    load[di] += sq[di]
                    if load[di] > capv[di] + 1e-9:
                        q += (load[di] - capv[di]) * HARD
            t, node = s + svc, nxt
        ts_(t)
        ns_(node)
        qs_(q)
        ls_(tuple(load) if nl else empty)
        end, self.qf = self._finish(t, node, q)
        self.end = end
        # Backward: next wait, and the end time from the arrival at each position (from
        # hi on the stops and arcs are unchanged: so are AR and AE).
        v = ev.v
        NW[:] = [n] * (n + 1)
        if n:
            self.dend = D[X[-1]][v.end]
            f = n
            for j in range(n - 1, -1, -1):
                if A[j] <= items[j][3]:
                    f = j
                NW[j] = f
            if hi is None or hi >= n or len(AR) != n:
                AR[:] = [0.0] * n
                AE[:] = [0.0] * n
                top, r, e = n - 1, T[X[-1]][v.end], -INF
            else:
                top, r, e = hi - 1, AR[hi] + TA[hi], AE[hi]
            for j in range(top, -1, -1):
                x = items[j]
                r += x[5]
                w = x[3] + r
                if w > e:
                    e = w
                AR[j], AE[j] = r, e
                r += TA[j]
        # Rounding allowance of the bounds less its parts in |bound| and the bound's end.
        scale = (abs(self.qf) + abs(end * ev.h_c) + abs(self.h0) + abs(cd * km_c)
                 + abs(Qs[0]) + abs(PW[-1]) + 1.0)
        self.m0 = (self.mrel * scale + self.mt * (abs(end) + abs(v.start_time) + 1.0)
                   + 1e-9)

    def _finish(self, t: float, node: int, q: float) -> tuple[float, float]:
        ev = self.ev
        v = ev.v
        end = t + ev.T[node][v.end]
        q += ev.D[node][v.end] * ev.km_c
        if end > v.shift_end:
            q += (end - v.shift_end) * HARD
        dur = end - v.start_time
        if v.max_duration is not None and dur > v.max_duration:
            q += (dur - v.max_duration) * HARD
        return end, q

    def total(self) -> float:
        """The current route's cost."""
        ev = self.ev
        return self.qf + (self.end - ev.v.start_time) * ev.h_c + self.n * ev.stop_c

    def cost(self, mid: list[tuple], lo: int, hi: int, cur: list[tuple], bound: float) -> float:
        """Cost of ``cur[:lo] + mid + cur[hi:]``, or inf as soon as it provably reaches
        ``bound``: once past the change, a candidate at the same place no earlier than
        the current route cannot beat the current suffix."""
        ev = self.ev
        T, D = ev.T, ev.D
        km_c, h_c, late_c, soft, max_late, capv = (ev.km_c, ev.h_c, ev.late_c, ev.soft,
                                                   ev.max_late, ev.capv)
        Ts, Ns, Qs = self.Ts, self.Ns, self.Qs
        h0 = self.h0
        t, node, q = Ts[lo], Ns[lo], Qs[lo]
        load = list(self.Ls[lo])
        nl = len(load)
        n = self.n
        # The changed stops, then the current route's stop at hi (no rejoin before it).
        for x in (mid + cur[hi:hi + 1]):
            _j, _k, nxt, w0, w1, svc, _hp, _pre, _q, sq, _o = x
            a = t + T[node][nxt]
            q += D[node][nxt] * km_c
            s = a if a > w0 else w0
            if s > w1:
                if soft and s - w1 <= max_late:
                    q += (s - w1) * late_c
                else:
                    q += (s - w1) * HARD
            if nl:
                for di in range(nl):
                    load[di] += sq[di]
                    if load[di] > capv[di] + 1e-9:
                        q += (load[di] - capv[di]) * HARD
            t, node = s + svc, nxt
            if q + t * h_c + h0 >= bound:
                return INF
        if hi + 1 < n:
            qf, end_h = self.qf, self.end * h_c
            for i in range(hi + 1, n):
                if node == Ns[i]:
                    ti = Ts[i]
                    if t == ti:
                        return q + (qf - Qs[i]) + end_h + h0
                    if t > ti and q + (qf - Qs[i]) + end_h + h0 >= bound:
                        return INF
                _j, _k, nxt, w0, w1, svc, _hp, _pre, _q, sq, _o = cur[i]
                a = t + T[node][nxt]
                q += D[node][nxt] * km_c
                s = a if a > w0 else w0
                if s > w1:
                    if soft and s - w1 <= max_late:
                        q += (s - w1) * late_c
                    else:
                        q += (s - w1) * HARD
                if nl:
                    for di in range(nl):
                        load[di] += sq[di]
                        if load[di] > capv[di] + 1e-9:
                            q += (load[di] - capv[di]) * HARD
                t, node = s + svc, nxt
                if q + t * h_c + h0 >= bound:
                    return INF
        end, q = self._finish(t, node, q)
        return q + end * h_c + h0


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
    rich = ev.rich(cur)
    mv = _Moves(ev, rich)
    rich = _search_moves(p, rich, mv.total(), max_passes, window,
                         any(k == PICKUP for _j, k in cur), mv)
    cur = [x[-1] for x in rich]
    return cur, ev.cost(cur)


def _search_moves(p: Problem, cur: list[tuple], best: float, max_passes: int, window: int,
                  pairs: bool, mv: _Moves) -> list[tuple]:
    """:func:`_search` (the same moves in the same order) with each candidate costed by
    ``mv`` from its changed stops only: no candidate route is built unless it wins."""
    from fleetstream.operators.routing.bounds import relocation_skipper
    n = len(cur)
    order = _Pairs(p, cur) if pairs else None
    cost = mv.cost
    skip = relocation_skipper(mv) if mv.bounded else None
    for _ in range(max_passes):
        improved = False
        for seg in (1, 2, 3):
            i = 0
            while i + seg <= n:
                block = cur[i:i + seg]
                for k in range(max(0, i - window), min(n - seg, i + window) + 1):
                    if k == i:
                        continue
                    if order is not None and not order.relocate_ok(i, seg, k):
                        continue
                    if skip is not None and skip(cur, i, seg, k, best - 1e-9):
                        continue
                    if k < i:  # the route is cur[:k] + block + cur[k:i] + cur[i+seg:]
                        lo, hi, mid = k, i + seg, block + cur[k:i]
                    else:      # cur[:i] + cur[i+seg:k+seg] + block + cur[k+seg:]
                        lo, hi, mid = i, k + seg, cur[i + seg:k + seg] + block
                    c = cost(mid, lo, hi, cur, best - 1e-9)
                    if c < best - 1e-9:
                        cur = cur[:lo] + mid + cur[hi:]
                        best, improved = c, True
                        mv.retrace(cur, lo, hi)
                        if order is not None:
                            order.reset(cur)
                        break
                i += 1
        for i in range(n - 1):
            for k in range(i + 2, min(n, i + window) + 1):
                if order is not None and not order.reverse_ok(i, k):
                    continue
                mid = cur[i:k][::-1]
                c = cost(mid, i, k, cur, best - 1e-9)
                if c < best - 1e-9:
                    cur = cur[:i] + mid + cur[k:]
                    best, improved = c, True
                    mv.retrace(cur, i, k)
                    if order is not None:
                        order.reset(cur)
        if not improved:
            break
    return cur


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
    Candidates whose lower bound (:mod:`operators.routing.bounds`) cannot beat the
    best so far are skipped; the others are costed in full, in the same order, so
    the answer is the one the full enumeration gives."""
    from fleetstream.operators.routing.bounds import InsertionBound, RouteInsertionBound, beaten
    ev = ev or RouteEval(p, vid)
    j = p._jobs[jid]
    best, best_c = None, float("inf")
    n = len(stops)
    mv = _Moves(ev, ev.rich(stops)) if ev.fast_ok(stops) else None
    if mv is not None and mv.bounded:
        # waiting kept: from the route's recorded figures (bounds.RouteInsertionBound)
        rb = RouteInsertionBound(mv)
        if j.has_pickup:
            sp, sd = ev.stop(jid, PICKUP), ev.stop(jid, "delivery")
            for k in range(n + 1):
                top = min(n, k + pair_window)
                bounds = rb.pairs(k, k, top, sp, sd)
                for m in range(k, top + 1):
                    if best is not None and rb.beaten(bounds[m - k], best_c):
                        continue
                    cand = stops[:k] + [(jid, PICKUP)] + stops[k:m] + [(jid, "delivery")] + stops[m:]
                    c = ev.cost(cand)
                    if c < best_c:
                        best, best_c = cand, c
        else:
            sd = ev.stop(jid, "delivery")
            for k in range(n + 1):
                if best is not None and rb.beaten(rb.single(k, sd), best_c):
                    continue
                cand = stops[:k] + [(jid, "delivery")] + stops[k:]
                c = ev.cost(cand)
                if c < best_c:
                    best, best_c = cand, c
        return best, best_c
    lb = InsertionBound(ev, stops)
    if j.has_pickup:
        for k in range(n + 1):
            top = min(n, k + pair_window)
            bounds = lb.pairs(k, k, top, jid)
            for m in range(k, top + 1):
                if best is not None and beaten(bounds[m - k], best_c):
                    continue
                cand = stops[:k] + [(jid, PICKUP)] + stops[k:m] + [(jid, "delivery")] + stops[m:]
                c = ev.cost(cand)
                if c < best_c:
                    best, best_c = cand, c
    else:
        for k in range(n + 1):
            if best is not None and beaten(lb.single(k, jid), best_c):
                continue
            cand = stops[:k] + [(jid, "delivery")] + stops[k:]
            c = ev.cost(cand)
            if c < best_c:
                best, best_c = cand, c
    return best, best_c
