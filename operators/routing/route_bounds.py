"""Tighter insertion bounds for the routes the local search evaluates incrementally
(no break, no driving limit): :class:`RouteInsertionBound` keeps the waiting, from
the figures ``moves.RouteMoves`` records for the current route shifted by how much
later the stops after the insertion are reached, for one stop (:meth:`single`) or a
pickup and delivery pair at every pair of positions at once (:meth:`all_pairs`).

Split out of :mod:`operators.routing.bounds` (which re-exports every name here and
holds the plain :class:`InsertionBound` every route can use); the method and
its exactness are in the module docstring of :mod:`operators.routing.bounds` and
docs/routing-benchmarks.md (the measured speed-ups).
"""

from __future__ import annotations

from fleetstream.operators.routing.local_search import HARD


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
