"""Incremental evaluation of the moves of one route, for the local search.

:class:`RouteMoves` keeps the states before each position of the current route (time,
previous node, monotone cost, loads) and the per-position figures of the exact lower
bounds of :mod:`operators.routing.bounds`; :func:`search_moves` is the local search's
relocate / 2-opt loop with each candidate skipped by the bound when it provably cannot
win, else costed from its changed stops only (no candidate route is built unless it
wins).  Split from :mod:`operators.routing.local_search` (which calls it for routes
without a break or a driving limit); every cost is bit-identical to the plain walk
(``tests/routing/test_local_search_speed.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fleetstream.operators.routing.local_search import HARD, _Pairs
from fleetstream.operators.routing.model import INF, PICKUP, Problem

if TYPE_CHECKING:
    from fleetstream.operators.routing.local_search import RouteEval


class RouteMoves:
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

    def __init__(self, ev: "RouteEval", items: list[tuple]):
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


def search_moves(p: Problem, cur: list[tuple], best: float, max_passes: int, window: int,
                 pairs: bool, mv: RouteMoves) -> list[tuple]:
    """:func:`local_search._search` (the same moves in the same order) with each candidate costed by
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
                    if skip is not None and skip(block, i, seg, k, best - 1e-9):
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
                            order.moved(cur, lo, hi)
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
                        order.moved(cur, i, k)
        if not improved:
            break
    return cur
