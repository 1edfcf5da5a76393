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

from operator import add as _add
from operator import gt as _gt
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
                 "dend", "rate", "bounded", "m0", "mrel", "mt", "safe_start", "exact_start", "capt",
                 "ar_lo", "walked")

    def __init__(self, ev: "RouteEval", items: list[tuple]):
        self.ev = ev
        self.capt = tuple(c + 1e-9 for c in ev.capv)
        self.ar_lo = 0           # AR/AE are up to date from this position on
        self.walked = None       # the last walk (RouteMoves.walk), for RouteMoves.commit
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
        # Every load along any order of these stops (the start load plus the pickups
        # so far less the deliveries) is at most the sum of all sizes: when even that
        # bound is within capacity no capacity penalty arises anywhere, in any order,
        # and the loads need not be tracked (with pickups or not).
        tot = [sum(abs(x[8][di]) for x in items) for di in range(len(ev.dims))]
        self.safe_start = all(tot[di] * (1 + 1e-9) < ev.capv[di] for di in range(len(tot)))
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
        state = None
        if self._keep(items, lo):
            state = (self.Ts[lo], self.Ns[lo], self.Qs[lo], self.Ls[lo])
        else:
            lo, hi = 0, None
        self._truncate(lo)
        self._forward(items, lo, state)
        self._backward(items, lo, hi)

    def _keep(self, items: list[tuple], lo: int) -> bool:
        """Are the recorded states before position ``lo`` those of route ``items``
        (the same stops before ``lo``; the start state, a sum in route order, equal)?"""
        Qs, Ls = self.Qs, self.Ls
        if lo <= 0 or not Qs:
            return False
        if self.exact_start:
            return True
        q0, load0 = self._start(items)
        return Qs[0] == q0 and Ls[0] == load0

    def _truncate(self, lo: int) -> None:
        """Drop the recorded states from position ``lo`` on (all when ``lo`` is 0)."""
        X, A, TA, CD, PW, LX, LN, CW, _NW, _AR, _AE = self.arrays
        del self.Ts[lo:], self.Ns[lo:], self.Qs[lo:], self.Ls[lo:], X[lo:], A[lo:], TA[lo:]
        del CD[lo:], PW[lo + 1:], LX[lo + 1:], LN[lo + 1:], CW[lo + 1:]

    def _forward(self, items: list[tuple], lo: int, state: tuple | None = None) -> None:
        """Walk ``items`` from position ``lo`` (the states are recorded up to it) from
        ``state`` = (time, node, cost, loads) before it (None: the start state),
        appending the states, then record the end."""
        ev = self.ev
        Ts, Ns, Qs, Ls = self.Ts, self.Ns, self.Qs, self.Ls
        X, A, TA, CD, PW, LX, LN, CW, _NW, _AR, _AE = self.arrays
        n = len(items)
        if state is not None:
            t, node, q, load = state
        else:
            q, load = self._start(items)
            t, node = ev.v.start_time, ev.v.start
        T, D = ev.T, ev.D
        km_c, late_c, soft, max_late, capv = ev.km_c, ev.late_c, ev.soft, ev.max_late, ev.capv
        nl = len(load)
        capt = self.capt
        cd, pw, lx, ln, cw = (CD[-1] if CD else 0.0), PW[-1], LX[-1], LN[-1], CW[-1]
        ts_, ns_, qs_, ls_, a_, ta_, cd_, pw_, lx_, ln_, cw_ = (
            Ts.append, Ns.append, Qs.append, Ls.append, A.append, TA.append,
            CD.append, PW.append, LX.append, LN.append, CW.append)
        for i in range(lo, n):
            ts_(t)
            ns_(node)
            qs_(q)
            ls_(load)
            _j, _k, nxt, w0, w1, svc, _hp, _pre, _q, sq, _o = items[i]
            tr, dd = T[node][nxt], D[node][nxt]
            a = t + tr
            q += dd * km_c
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
                # the loads as one tuple (the same sums); over capacity: per dimension
                load = tuple(map(_add, load, sq))
                if any(map(_gt, load, capt)):
                    for di in range(nl):
                        if load[di] > capv[di] + 1e-9:
                            q += (load[di] - capv[di]) * HARD
            t, node = s + svc, nxt
        ts_(t)
        ns_(node)
        qs_(q)
        ls_(load)
        X[lo:] = Ns[lo + 1:]
        self.end, self.qf = self._finish(t, node, q)

    def _backward(self, items: list[tuple], lo: int, hi: int | None) -> None:
        """After the states changed from position ``lo`` on (and, when ``hi`` is given,
        the stops and arcs from ``hi`` on did not): the next wait of every position,
        and the end time from the arrival at the positions from ``lo`` on (``AR``,
        ``AE``; below ``lo`` they are left stale until :meth:`complete`: the search
        reads them only after the position it is at), and the rounding allowance."""
        ev = self.ev
        X, A, TA, CD, PW, _LX, _LN, _CW, NW, AR, AE = self.arrays
        T, v = ev.T, ev.v
        n = len(items)
        if n:
            self.dend = ev.D[X[-1]][v.end]
            if len(NW) != n + 1:
                lo = 0
                NW[:] = [n] * (n + 1)
            # from lo on: anew; before lo the arrivals are unchanged: only the run of
            # positions without a wait just before lo points past it
            f = n
            NW[n] = n
            for j in range(n - 1, -1, -1):
                if A[j] <= items[j][3]:
                    f = j
                    if j < lo:
                        break
                NW[j] = f
            if hi is None or hi >= n or len(AR) != n or hi < self.ar_lo:
                AR[:] = [0.0] * n
                AE[:] = [0.0] * n
                top, r, e = n - 1, T[X[-1]][v.end], -INF
                lo = 0
            else:
                top, r, e = hi - 1, AR[hi] + TA[hi], AE[hi]
            self._ends(items, top, lo, r, e)
        else:
            NW[:] = [0]
            self.ar_lo = 0
        # Rounding allowance of the bounds less its parts in |bound| and the bound's end.
        end = self.end
        cd = CD[-1] if CD else 0.0
        scale = (abs(self.qf) + abs(end * ev.h_c) + abs(self.h0) + abs(cd * ev.km_c)
                 + abs(self.Qs[0]) + abs(PW[-1]) + 1.0)
        self.m0 = (self.mrel * scale + self.mt * (abs(end) + abs(v.start_time) + 1.0)
                   + 1e-9)

    def _ends(self, items: list[tuple], top: int, lo: int, r: float, e: float) -> None:
        """``AR``/``AE`` of positions ``top`` down to ``lo``, from ``r`` and ``e`` of
        position ``top + 1``."""
        _X, _A, TA, _CD, _PW, _LX, _LN, _CW, _NW, AR, AE = self.arrays
        for j in range(top, lo - 1, -1):
            x = items[j]
            r += x[5]
            w = x[3] + r
            if w > e:
                e = w
            AR[j], AE[j] = r, e
            r += TA[j]
        self.ar_lo = lo

    def complete(self, items: list[tuple]) -> None:
        """Bring ``AR``/``AE`` below the last change up to date (before a sweep of the
        search restarts from the first position)."""
        lo = self.ar_lo
        if lo > 0:
            _X, _A, TA, _CD, _PW, _LX, _LN, _CW, _NW, AR, AE = self.arrays
            self._ends(items, lo - 1, 0, AR[lo] + TA[lo], AE[lo])

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

    def walk(self, mid: list[tuple], lo: int, hi: int, cur: list[tuple], bound: float) -> float:
        """Cost of ``cur[:lo] + mid + cur[hi:]``, or inf as soon as it provably reaches
        ``bound``: once past the change, a candidate at the same place no earlier than
        the current route cannot beat the current suffix (the move cost of the plain
        incremental walk, ``ref_cost`` in ``tests/routing/test_local_search_exact.py``:
        the same floating-point operations in the same order, the same cut-offs).  The
        states walked are recorded so that :meth:`commit` of the move need not walk
        them again."""
        ev = self.ev
        T, D = ev.T, ev.D
        km_c, h_c, late_c, soft, max_late, capv = (ev.km_c, ev.h_c, ev.late_c, ev.soft,
                                                   ev.max_late, ev.capv)
        capt = self.capt
        Ts, Ns, Qs = self.Ts, self.Ns, self.Qs
        _X, _A, _TA, CD, PW, LX, LN, CW, _NW, _AR, _AE = self.arrays
        h0 = self.h0
        t, node, q, load = Ts[lo], Ns[lo], Qs[lo], self.Ls[lo]
        nl = len(load)
        cd = CD[lo - 1] if lo > 0 else 0.0
        pw, lx, ln, cw = PW[lo], LX[lo], LN[lo], CW[lo]
        rec: list[tuple] = []   # per walked position: the figures retrace records
        add = rec.append
        qf, end_h = self.qf, self.end * h_c
        self.walked = None
        i = lo
        for x in mid + cur[hi:]:
            if i > hi and node == Ns[i]:
                ti = Ts[i]
                if t == ti:   # rejoined: the rest costs what the current route's does
                    self.walked = (lo, hi, i, (t, node, q, load), rec)
                    return q + (qf - Qs[i]) + end_h + h0
                if t > ti and q + (qf - Qs[i]) + end_h + h0 >= bound:
                    return INF
            t0, node0, q0, load0 = t, node, q, load
            _j, _k, nxt, w0, w1, svc, _hp, _pre, _q, sq, _o = x
            tr, dd = T[node][nxt], D[node][nxt]
            a = t + tr
            q += dd * km_c
            cd += dd
            if a > w0:
                s = a
            else:
                s = w0
                cw += w0 - a
            if s > w1:
                lx += s - w1
                ln += 1
                if soft and s - w1 <= max_late:
                    q += (s - w1) * late_c
                    pw += (s - w1) * late_c
                else:
                    q += (s - w1) * HARD
                    pw += (s - w1) * HARD
            if nl:
                load = tuple(map(_add, load, sq))
                if any(map(_gt, load, capt)):
                    for di in range(nl):
                        if load[di] > capv[di] + 1e-9:
                            q += (load[di] - capv[di]) * HARD
            add((t0, node0, q0, load0, nxt, a, tr, cd, pw, lx, ln, cw))
            t, node = s + svc, nxt
            if q + t * h_c + h0 >= bound:
                return INF
            i += 1
        self.walked = (lo, hi, i, (t, node, q, load), rec)
        end, q = self._finish(t, node, q)
        return q + end * h_c + h0

    def commit(self, items: list[tuple], lo: int, hi: int) -> None:
        """:meth:`retrace` to route ``items``, the move just priced by :meth:`walk`
        (``cur[:lo] + mid + cur[hi:]``), from the states the walk recorded."""
        w = self.walked
        self.walked = None
        if w is None or w[0] != lo or w[1] != hi or not self._keep(items, lo):
            self.retrace(items, lo, hi)
            return
        _lo, _hi, j, state, rec = w
        self._truncate(lo)
        if rec:
            X, A, TA, CD, PW, LX, LN, CW, _NW, _AR, _AE = self.arrays
            for dst, col in zip((self.Ts, self.Ns, self.Qs, self.Ls, X, A, TA, CD, PW, LX,
                                 LN, CW), zip(*rec)):
                dst.extend(col)
        self._forward(items, j, state)
        self._backward(items, lo, hi)


def search_moves(p: Problem, cur: list[tuple], best: float, max_passes: int, window: int,
                 pairs: bool, mv: RouteMoves) -> list[tuple]:
    """:func:`local_search._search` (the same moves in the same order) with each candidate costed by
    ``mv`` from its changed stops only: no candidate route is built unless it wins."""
    from fleetstream.operators.routing.bounds import relocation_skipper, reversal_skipper
    n = len(cur)
    order = _Pairs(p, cur) if pairs else None
    walk = mv.walk
    skip = relocation_skipper(mv) if mv.bounded else None
    rskip = reversal_skipper(mv) if mv.bounded else None
    for _ in range(max_passes):
        improved = False
        for seg in (1, 2, 3):
            mv.complete(cur)
            i = 0
            while i + seg <= n:
                block = cur[i:i + seg]
                lim = order.limits(i, seg) if order is not None else None
                fwd, bwd = lim if lim is not None else (n + seg, -1)
                for k in range(max(0, i - window), min(n - seg, i + window) + 1):
                    if k == i:
                        continue
                    if order is not None:   # pickups stay before their deliveries
                        if lim is None:
                            if not order.relocate_ok(i, seg, k):
                                continue
                        elif k + seg > fwd if k > i else k <= bwd:
                            continue
                    if skip is not None and skip(block, i, seg, k, best - 1e-9):
                        continue
                    if k < i:  # the route is cur[:k] + block + cur[k:i] + cur[i+seg:]
                        lo, hi, mid = k, i + seg, block + cur[k:i]
                    else:      # cur[:i] + cur[i+seg:k+seg] + block + cur[k+seg:]
                        lo, hi, mid = i, k + seg, cur[i + seg:k + seg] + block
                    c = walk(mid, lo, hi, cur, best - 1e-9)
                    if c < best - 1e-9:
                        cur = cur[:lo] + mid + cur[hi:]
                        best, improved = c, True
                        mv.commit(cur, lo, hi)
                        if order is not None:
                            order.moved(cur, lo, hi)
                        break
                i += 1
        mv.complete(cur)
        for i in range(n - 1):
            top = min(n, i + window)
            rlim = order.rev_limit(i, top) if order is not None else None
            for k in range(i + 2, top + 1):
                if order is not None:   # no pair wholly inside the reversed stops
                    if rlim is None:
                        if not order.reverse_ok(i, k):
                            continue
                    elif k > rlim:
                        break
                mid = cur[i:k][::-1]
                if rskip is not None and rskip(mid, i, k, best - 1e-9):
                    continue
                c = walk(mid, i, k, cur, best - 1e-9)
                if c < best - 1e-9:
                    cur = cur[:i] + mid + cur[k:]
                    best, improved = c, True
                    mv.commit(cur, i, k)
                    if order is not None:
                        order.moved(cur, i, k)
                        rlim = order.rev_limit(i, top)
        if not improved:
            break
    return cur
