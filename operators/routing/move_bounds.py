"""Exact lower bounds of the local search's moves: a relocation of a block of stops
(:func:`relocation_bound`, :func:`relocation_skipper`) and a 2-opt reversal
(:func:`reversal_skipper`), in O(length of the moved part) from the figures
``moves.RouteMoves`` records for the current route.  The search skips a move whose
bound is not below the best cost so far; moves not skipped are costed exactly as
before, so the search's answer is bit-identical.

Split out of :mod:`operators.routing.bounds` (which re-exports every name here and
holds the insertion bounds and the rounding margins); the method and
its exactness are in the module docstring of :mod:`operators.routing.bounds` and
docs/routing-benchmarks.md (the measured speed-ups).
"""

from __future__ import annotations

from fleetstream.operators.routing.local_search import HARD


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
