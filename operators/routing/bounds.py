"""Exact pruning of insertion candidates: a lower bound on a candidate's route cost.

:func:`operators.routing.local_search.best_insertion` tries every position of a job
in a route and costs each candidate in full (O(n) each, O(n^2) per job).  Most
candidates cannot win: :class:`InsertionBound` gives, in O(1) from one O(n) pass over
the route, a lower bound on a candidate's cost, and the candidate is skipped when
even the bound is not below the best cost so far.  The bound only drops terms that
cannot be negative (waiting, the lateness and capacity excess of the stops after the
insertion, the break, pairing), so it is below the cost in exact arithmetic; a
margin (relative 1e-9 plus 1e-6 currency units) covers floating-point rounding.
Candidates that are not skipped are costed exactly as before, in the same order, so
the answer (route and cost) is bit-identical.  It needs non-negative travel times,
distances and cost rates (checked: otherwise nothing is skipped).

>>> from fleetstream.operators.routing.model import Job, Problem, VehicleSpec
>>> from fleetstream.operators.routing.local_search import RouteEval
>>> T = [[0, 10, 20, 30], [10, 0, 10, 20], [20, 10, 0, 10], [30, 20, 10, 0]]
>>> p = Problem(time=T, dist=T, vehicles=[VehicleSpec("v", start=0, end=0, shift_end=500)],
...             jobs=[Job(str(i), i) for i in (1, 2, 3)], objective="distance")
>>> ev = RouteEval(p, "v")
>>> b = InsertionBound(ev, [("1", "delivery"), ("3", "delivery")])
>>> b.single(1, "2") <= ev.cost([("1", "delivery"), ("2", "delivery"), ("3", "delivery")])
True
"""

from __future__ import annotations

from fleetstream.operators.routing.local_search import HARD
from fleetstream.operators.routing.model import DELIVERY, PICKUP, Stop

REL_MARGIN = 1e-9
ABS_MARGIN = 1e-6


def usable(ev) -> bool:
    """The bound is valid for this vehicle's cost rates (all non-negative)."""
    return ev.km_c >= 0 and ev.h_c >= 0 and ev.stop_c >= 0 and ev.late_c >= 0


def beaten(lb: float, best: float) -> bool:
    """True when a candidate with lower bound ``lb`` cannot cost less than ``best``."""
    return lb - (abs(lb) * REL_MARGIN + ABS_MARGIN) >= best


def allowed(lb: float) -> float:
    """Lower bound ``lb`` less its rounding margin: ``beaten(lb, best)`` is
    ``allowed(lb) >= best``."""
    return lb - (abs(lb) * REL_MARGIN + ABS_MARGIN)


class InsertionBound:
    """Lower bounds on the cost of ``stops`` with a job inserted, for one vehicle."""

    __slots__ = ("ev", "x", "svc", "dep", "pen", "C", "R", "dtot", "n", "ok", "start_node",
                 "end_node")

    def __init__(self, ev, stops: list[Stop]):
        self.ev = ev
        v, T, D = ev.v, ev.T, ev.D
        data = [ev.stop(jid, kind) for jid, kind in stops]
        self.x = [d[0] for d in data]
        self.svc = [d[3] for d in data]
        n = self.n = len(stops)
        self.start_node, self.end_node = v.start, v.end
        ok = usable(ev)
        # Departure time before each position (no break: the break only delays),
        # penalty of the stops before it (window excess), arcs and services.
        dep, pen = [0.0] * (n + 1), [0.0] * (n + 1)
        t, node, pn, dtot = v.start_time, v.start, 0.0, 0.0
        seg = [0.0] * (n + 1)    # service at stop i + arc i -> i+1 (or the end)
        for i, (nxt, w0, w1, svc, *_rest) in enumerate(data):
            dep[i], pen[i] = t, pn
            tr, dd = T[node][nxt], D[node][nxt]
            if tr < 0 or dd < 0:
                ok = False
            a = t + tr
            s = a if a > w0 else w0
            if s > w1:
                pn += self._penalty(s - w1)
            dtot += dd
            t, node = s + svc, nxt
        dep[n], pen[n] = t, pn
        dtot += D[node][v.end]
        for i in range(n):
            nxt = self.x[i + 1] if i + 1 < n else v.end
            seg[i] = data[i][3] + T[self.x[i]][nxt]
        # C[i]: services and arcs from stop 0 up to stop i (exclusive); R[i]: from
        # stop i to the end point.
        C = [0.0] * (n + 1)
        for i in range(n):
            C[i + 1] = C[i] + seg[i]
        R = [0.0] * (n + 1)
        for i in range(n - 1, -1, -1):
            R[i] = R[i + 1] + seg[i]
        self.dep, self.pen, self.C, self.R, self.dtot, self.ok = dep, pen, C, R, dtot, ok

    def _penalty(self, excess: float) -> float:
        ev = self.ev
        if ev.soft and excess <= ev.max_late:
            return excess * ev.late_c
        return excess * HARD

    def _node(self, i: int) -> int:
        """Node of position ``i`` (-1: the start, n: the end)."""
        if i < 0:
            return self.start_node
        return self.x[i] if i < self.n else self.end_node

    def _visit(self, t_arr: float, sd: tuple) -> tuple[float, float]:
        """Departure time and window penalty of a stop reached at ``t_arr``."""
        _node, w0, w1, svc = sd[0], sd[1], sd[2], sd[3]
        s = t_arr if t_arr > w0 else w0
        return s + svc, (self._penalty(s - w1) if s > w1 else 0.0)

    def _total(self, pen: float, dist: float, end: float, nstops: int) -> float:
        ev, v = self.ev, self.ev.v
        if end > v.shift_end:
            pen += (end - v.shift_end) * HARD
        dur = end - v.start_time
        if v.max_duration is not None and dur > v.max_duration:
            pen += (dur - v.max_duration) * HARD
        return pen + dist * ev.km_c + dur * ev.h_c + nstops * ev.stop_c

    def single(self, k: int, jid: str) -> float:
        """Lower bound on the cost with delivery-only job ``jid`` at position ``k``
        (-inf when no bound is available)."""
        if not self.ok:
            return float("-inf")
        T, D = self.ev.T, self.ev.D
        sd = self.ev.stop(jid, DELIVERY)
        y, a, b = sd[0], self._node(k - 1), self._node(k)
        t, pen = self._visit(self.dep[k] + T[a][y], sd)
        end = t + T[y][b] + self.R[k]
        dist = self.dtot - D[a][b] + D[a][y] + D[y][b]
        return self._total(self.pen[k] + pen, dist, end, self.n + 1)

    def pair(self, k: int, m: int, jid: str) -> float:
        """Lower bound with ``jid``'s pickup at position ``k`` and its delivery before
        original stop ``m`` (m >= k)."""
        return self.pairs(k, m, m, jid)[0]

    def pairs(self, k: int, m0: int, m1: int, jid: str) -> list[float]:
        """:meth:`pair` for every m in [m0, m1] (the pickup part is shared)."""
        if not self.ok:
            return [float("-inf")] * (m1 - m0 + 1)
        ev = self.ev
        T, D, C, R, svc, dtot = ev.T, ev.D, self.C, self.R, self.svc, self.dtot
        sp, sd = ev.stop(jid, PICKUP), ev.stop(jid, DELIVERY)
        P, Q = sp[0], sd[0]
        a, b = self._node(k - 1), self._node(k)
        tp, pen_p = self._visit(self.dep[k] + T[a][P], sp)
        pen0 = self.pen[k] + pen_p
        d0 = dtot - D[a][b] + D[a][P]
        out = []
        for m in range(m0, m1 + 1):
            if m == k:
                t, pen_d = self._visit(tp + T[P][Q], sd)
                dist = d0 + D[P][Q] + D[Q][b]
            else:
                c, d = self._node(m - 1), self._node(m)
                # P -> stop k ... stop m-1 (services and arcs, no waiting) -> Q
                t_last = tp + T[P][b] + (C[m - 1] - C[k]) + svc[m - 1]
                t, pen_d = self._visit(t_last + T[c][Q], sd)
                dist = d0 + D[P][b] - D[c][d] + D[c][Q] + D[Q][d]
            end = t + T[Q][self._node(m)] + R[m]
            out.append(self._total(pen0 + pen_d, dist, end, self.n + 2))
        return out


# ------------------------------------------------------------------ local search moves

def relocation_bound(mv, cur: list, i: int, seg: int, k: int, bound: float) -> bool:
    """True when moving ``cur[i:i+seg]`` to position ``k`` of the route without it
    provably costs at least ``bound`` (the local search then skips the move without
    walking it; ``mv`` is the search's ``moves.RouteMoves`` of route ``cur``).

    The lower bound, O(seg): the moved stops walked as usual from a lower bound on
    their start; the stops they jump over and the rest of the route from the current
    route's recorded figures and how much earlier or later they are reached (start
    times are non-decreasing and 1-Lipschitz in the arrival: reached d earlier, the
    starts move at most d earlier and not at all from the first stop where the route
    waits, so only the late stops before it can gain, at most d each; reached d later,
    the stops before the first wait start d later and the departure is d less the
    waiting later); the end time from the arrival (max(arrival + AR, AE), exact);
    capacity excess after the start dropped (non-negative).  Exact in exact
    arithmetic; the allowance of ``moves.RouteMoves`` (``mrel`` of the bound,
    ``m0``, ``mt`` per time unit of its end) covers the rounding of both sides."""
    return relocation_skipper(mv)(cur[i:i + seg], i, seg, k, bound)


def relocation_skipper(mv):
    """:func:`relocation_bound` for ``mv`` as a closure ``skip(block, i, seg, k,
    bound)`` with ``block`` = ``cur[i:i+seg]`` (the search calls it for every
    relocation: its figures are bound once; ``mv`` updates them in place)."""
    ev = mv.ev
    T, D = ev.T, ev.D
    X, A, _TA, CD, PW, LX, LN, CW, NW, AR, AE = mv.arrays
    Ts, Ns, Qs = mv.Ts, mv.Ns, mv.Qs
    rate, n, h0, mrel, mt = mv.rate, mv.n, mv.h0, mv.mrel, mv.mt
    soft, max_late, late_c, km_c, h_c = ev.soft, ev.max_late, ev.late_c, ev.km_c, ev.h_c
    v = ev.v
    v_end, shift_end, start_time, max_dur = v.end, v.shift_end, v.start_time, v.max_duration

    def skip(block: list, i: int, seg: int, k: int, bound: float) -> bool:
        if k < i:  # the block, then cur[k:i] (reached later), then cur[i+seg:]
            lo, e, s0 = k, i, i + seg
            t, node = Ts[k], Ns[k]
            dist = pen = 0.0
        else:      # cur[i+seg:k+seg] (reached earlier), then the block, then cur[k+seg:]
            lo, p, e = i, i + seg, k + seg
            s0 = e
            node = Ns[i]
            y = X[p]
            dist = D[node][y] + (CD[e - 1] - CD[p])
            d = A[p] - (Ts[i] + T[node][y])
            f = NW[p]
            if d > 0:
                if f >= e:
                    pen = rate * ((LX[e] - LX[p]) - d * (LN[e] - LN[p]))
                    t = Ts[e] - d
                else:
                    pen = rate * ((LX[f] - LX[p]) - d * (LN[f] - LN[p]))
                    t = Ts[e]
                if pen < 0:
                    pen = 0.0
                if f < e:
                    pen += PW[e] - PW[f]
            else:
                pen = (PW[e] - PW[p]) - d * rate * (LN[f if f < e else e] - LN[p])
                late = -d - (CW[e] - CW[p])
                t = Ts[e] + late if late > 0 else Ts[e]
            node = X[e - 1]
        for x in block:
            nxt, w0, w1 = x[2], x[3], x[4]
            a = t + T[node][nxt]
            dist += D[node][nxt]
            s = a if a > w0 else w0
            if s > w1:
                pen += (s - w1) * (late_c if soft and s - w1 <= max_late else HARD)
            t, node = s + x[5], nxt
        if k < i:
            y = X[k]
            dist += D[node][y] + (CD[e - 1] - CD[k])
            d = A[k] - (t + T[node][y])
            f = NW[k]
            if f > e:
                f = e
            if d > 0:
                pp = rate * ((LX[f] - LX[k]) - d * (LN[f] - LN[k]))
                pen += pp if pp > 0 else 0.0
                if f < e:
                    pen += PW[e] - PW[f]
                    t = Ts[e]
                else:
                    t = Ts[e] - d
            else:
                pen += (PW[e] - PW[k]) - d * rate * (LN[f] - LN[k])
                late = -d - (CW[e] - CW[k])
                t = Ts[e] + late if late > 0 else Ts[e]
            node = X[e - 1]
        if s0 < n:
            y = X[s0]
            a = t + T[node][y]
            dist += D[node][y] + (CD[n - 1] - CD[s0]) + mv.dend
            d = A[s0] - a
            f = NW[s0]
            if d > 0:
                pp = rate * ((LX[f] - LX[s0]) - d * (LN[f] - LN[s0]))
                pen += (pp if pp > 0 else 0.0) + (PW[n] - PW[f])
            else:
                pen += (PW[n] - PW[s0]) - d * rate * (LN[f] - LN[s0])
            end = a + AR[s0]
            if AE[s0] > end:
                end = AE[s0]
        else:
            end = t + T[node][v_end]
            dist += D[node][v_end]
        if end > shift_end:
            pen += (end - shift_end) * HARD
        if max_dur is not None and end - start_time > max_dur:
            pen += (end - start_time - max_dur) * HARD
        lb = Qs[lo] + dist * km_c + pen + end * h_c + h0
        return lb - (abs(lb) * mrel + mv.m0 + mt * abs(end)) >= bound

    return skip


def reversal_skipper(mv):
    """The 2-opt counterpart of :func:`relocation_skipper`: ``skip(mid, i, k, bound)``
    is True when the route with ``cur[i:k]`` reversed (``mid``) provably costs at least
    ``bound``.  The lower bound, O(k - i): the reversed stops walked as usual from the
    unchanged state at ``i`` (capacity excess after the start dropped), the rest of
    the route from position ``k`` on from the current route's recorded figures and how
    much earlier or later it is reached (as in :func:`relocation_bound`); the same
    rounding allowance."""
    ev = mv.ev
    T, D = ev.T, ev.D
    X, A, _TA, CD, PW, LX, LN, _CW, NW, AR, AE = mv.arrays
    Ts, Ns, Qs = mv.Ts, mv.Ns, mv.Qs
    rate, n, h0, mrel, mt = mv.rate, mv.n, mv.h0, mv.mrel, mv.mt
    soft, max_late, late_c, km_c, h_c = ev.soft, ev.max_late, ev.late_c, ev.km_c, ev.h_c
    v = ev.v
    v_end, shift_end, start_time, max_dur = v.end, v.shift_end, v.start_time, v.max_duration

    def skip(mid: list, i: int, k: int, bound: float) -> bool:
        t, node = Ts[i], Ns[i]
        dist = pen = 0.0
        for x in mid:
            nxt, w0, w1 = x[2], x[3], x[4]
            a = t + T[node][nxt]
            dist += D[node][nxt]
            s = a if a > w0 else w0
            if s > w1:
                pen += (s - w1) * (late_c if soft and s - w1 <= max_late else HARD)
            t, node = s + x[5], nxt
        if k < n:
            y = X[k]
            a = t + T[node][y]
            dist += D[node][y] + (CD[n - 1] - CD[k]) + mv.dend
            d = A[k] - a
            f = NW[k]
            if d > 0:
                pp = rate * ((LX[f] - LX[k]) - d * (LN[f] - LN[k]))
                pen += (pp if pp > 0 else 0.0) + (PW[n] - PW[f])
            else:
                pen += (PW[n] - PW[k]) - d * rate * (LN[f] - LN[k])
            end = a + AR[k]
            if AE[k] > end:
                end = AE[k]
        else:
            end = t + T[node][v_end]
            dist += D[node][v_end]
        if end > shift_end:
            pen += (end - shift_end) * HARD
        if max_dur is not None and end - start_time > max_dur:
            pen += (end - start_time - max_dur) * HARD
        lb = Qs[i] + dist * km_c + pen + end * h_c + h0
        return lb - (abs(lb) * mrel + mv.m0 + mt * abs(end)) >= bound

    return skip


def _shifted(mv, p: int, e: int, a: float) -> tuple[float, float]:
    """Current positions [p, e) of ``mv``'s route entered with arrival ``a`` at ``p``:
    lower bounds on their window penalties and on the departure from ``e - 1`` (see
    :func:`relocation_bound`)."""
    _X, A, _TA, _CD, PW, LX, LN, CW, NW, _AR, _AE = mv.arrays
    d = A[p] - a
    f = NW[p]
    if f > e:
        f = e
    if d > 0:
        pen = mv.rate * ((LX[f] - LX[p]) - d * (LN[f] - LN[p]))
        if pen < 0:
            pen = 0.0
        if f < e:
            return pen + (PW[e] - PW[f]), mv.Ts[e]
        return pen, mv.Ts[e] - d
    late = -d - (CW[e] - CW[p])
    return ((PW[e] - PW[p]) - d * mv.rate * (LN[f] - LN[p]),
            mv.Ts[e] + late if late > 0 else mv.Ts[e])


def _visit(ev, t: float, node: int, sd: tuple) -> tuple[float, float, float]:
    """(departure, penalty, distance) of stop data ``sd`` (``RouteEval.stop``) reached
    from ``node`` leaving at ``t``."""
    nxt, w0, w1 = sd[0], sd[1], sd[2]
    a = t + ev.T[node][nxt]
    s = a if a > w0 else w0
    pen = 0.0
    if s > w1:
        pen = (s - w1) * (ev.late_c if ev.soft and s - w1 <= ev.max_late else HARD)
    return s + sd[3], pen, ev.D[node][nxt]


def _tail(mv, s0: int, t: float, node: int) -> tuple[float, float, float]:
    """(penalty, distance, end) lower bounds of the current route from position ``s0``
    on, left from ``node`` at ``t``."""
    ev, n = mv.ev, mv.n
    v = ev.v
    X, _A, _TA, CD, _PW, _LX, _LN, _CW, _NW, AR, AE = mv.arrays
    if s0 < n:
        y = X[s0]
        a = t + ev.T[node][y]
        dist = ev.D[node][y] + (CD[n - 1] - CD[s0]) + mv.dend
        pen, _dep = _shifted(mv, s0, n, a)
        end = a + AR[s0]
        if AE[s0] > end:
            end = AE[s0]
    else:
        end = t + ev.T[node][v.end]
        dist = ev.D[node][v.end]
        pen = 0.0
    if end > v.shift_end:
        pen += (end - v.shift_end) * HARD
    if v.max_duration is not None:
        dur = end - v.start_time
        if dur > v.max_duration:
            pen += (dur - v.max_duration) * HARD
    return pen, dist, end


class RouteInsertionBound:
    """Tighter lower bounds than :class:`InsertionBound` for routes the local search's
    incremental evaluation covers (no break, no driving limit): waiting is kept, from
    the recorded figures of the current route (``moves.RouteMoves``) shifted by how
    much later the stops after the insertion are reached (see :func:`relocation_bound`).
    The start capacity penalty is left out (it is not negative), so the bound holds
    whatever the new job adds to the start load."""

    __slots__ = ("mv", "base")

    def __init__(self, mv):
        self.mv = mv
        ev = mv.ev
        # the stops before position k cost Qs[k] - Qs[0]; two stops more at most
        self.base = -mv.Qs[0] - ev.v.start_time * ev.h_c

    def _lb(self, k: int, extra: int, pen: float, dist: float, end: float) -> float:
        """The bound, less the rounding allowance (see ``moves.RouteMoves``)."""
        mv = self.mv
        ev = mv.ev
        lb = (mv.Qs[k] + self.base + dist * ev.km_c + pen + end * ev.h_c
              + (mv.n + extra) * ev.stop_c)
        return lb - (abs(lb) * mv.mrel + mv.m0 + mv.mt * abs(end))

    def beaten(self, lb: float, best: float) -> bool:
        """``lb`` from :meth:`single` / :meth:`pairs` (allowance taken)."""
        return lb >= best

    def single(self, k: int, sd: tuple) -> float:
        """Lower bound with a stop of data ``sd`` at position ``k``."""
        mv = self.mv
        t, pen, dist = _visit(mv.ev, mv.Ts[k], mv.Ns[k], sd)
        p2, d2, end = _tail(mv, k, t, sd[0])
        return self._lb(k, 1, pen + p2, dist + d2, end)

    def all_pairs(self, window: int, sp: tuple, sd: tuple) -> list[float]:
        """Lower bounds with pickup ``sp`` before position k and delivery ``sd`` before
        position m, for every k in 0..n and m in k..min(n, k + window), in that order
        (the insertion verb's enumeration): :meth:`single`'s terms, the pickup's shift
        of the stops in between shared, the figures of each delivery position (the
        arc into the delivery, the rest of the route after it) looked up once.  The
        same values as the per-row definition (``ref_pairs`` in
        ``tests/routing/test_local_search_exact.py``)."""
        mv = self.mv
        ev = mv.ev
        T, D = ev.T, ev.D
        X, A, _TA, CD, PW, LX, LN, CW, NW, AR, AE = mv.arrays
        Ts, Ns, Qs, n, rate = mv.Ts, mv.Ns, mv.Qs, mv.n, mv.rate
        soft, max_late, late_c, km_c, h_c = ev.soft, ev.max_late, ev.late_c, ev.km_c, ev.h_c
        v = ev.v
        shift_end, start_time, max_dur = v.shift_end, v.start_time, v.max_duration
        mrel, m0_, mt = mv.mrel, mv.m0, mv.mt
        nstop, base0, dend = (n + 2) * ev.stop_c, self.base, mv.dend if n else 0.0
        P, Qn, qw0, qw1, qsvc = sp[0], sd[0], sd[1], sd[2], sd[3]
        TQ, DQ = T[Qn], D[Qn]
        tpq, dpq = T[P][Qn], D[P][Qn]
        # per delivery position m: the stop before it, its arc to the delivery and the
        # distance so far; the rest of the route from m (as in pairs)
        into = [None] + [(X[m - 1], T[X[m - 1]][Qn], D[X[m - 1]][Qn], CD[m - 1])
                         for m in range(1, n + 1)]
        PWn = PW[n]
        rest = []
        for m in range(n):
            y2, f2 = X[m], NW[m]
            rest.append((TQ[y2], DQ[y2] + (CD[n - 1] - CD[m]) + dend, A[m],
                         LX[f2] - LX[m], LN[f2] - LN[m], PWn - PW[f2], PWn - PW[m],
                         AR[m], AE[m]))
        tq_end, dq_end = TQ[v.end], DQ[v.end]
        out: list[float] = []
        add = out.append
        for k in range(n + 1):
            base = Qs[k] + base0 + nstop
            tp, pp, dp = _visit(ev, Ts[k], Ns[k], sp)
            if k < n:
                y = X[k]
                d = A[k] - (tp + T[P][y])
                f = NW[k]
                dpy = dp + D[P][y]
                LXk, LNk, PWk, CWk, CDk = LX[k], LN[k], PW[k], CW[k], CD[k]
            for m in range(k, min(n, k + window) + 1):
                if m == k:
                    t, pen, dist = tp, pp, dp
                    a = t + tpq
                    dist += dpq
                else:
                    g = f if f < m else m
                    if d > 0:
                        pen = rate * ((LX[g] - LXk) - d * (LN[g] - LNk))
                        if pen < 0:
                            pen = 0.0
                        if f < m:
                            pen += PW[m] - PW[g]
                            t = Ts[m]
                        else:
                            t = Ts[m] - d
                    else:
                        pen = (PW[m] - PWk) - d * rate * (LN[g] - LNk)
                        late = -d - (CW[m] - CWk)
                        t = Ts[m] + late if late > 0 else Ts[m]
                    pen += pp
                    _node, tin, din, cdm = into[m]
                    dist = dpy + (cdm - CDk)
                    a = t + tin
                    dist += din
                s_ = a if a > qw0 else qw0
                if s_ > qw1:
                    pen += (s_ - qw1) * (late_c if soft and s_ - qw1 <= max_late else HARD)
                t = s_ + qsvc
                if m < n:
                    tqo, dtail, am, lxd, lnd, pwf, pwm, arm, aem = rest[m]
                    a = t + tqo
                    dist += dtail
                    d2 = am - a
                    if d2 > 0:
                        p2 = rate * (lxd - d2 * lnd)
                        pen += (p2 if p2 > 0 else 0.0) + pwf
                    else:
                        pen += pwm - d2 * rate * lnd
                    end = a + arm
                    if aem > end:
                        end = aem
                else:
                    end = t + tq_end
                    dist += dq_end
                if end > shift_end:
                    pen += (end - shift_end) * HARD
                if max_dur is not None and end - start_time > max_dur:
                    pen += (end - start_time - max_dur) * HARD
                lb = base + dist * km_c + pen + end * h_c
                add(lb - (abs(lb) * mrel + m0_ + mt * abs(end)))
        return out
