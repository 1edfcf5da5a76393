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

This module holds the rounding margins and :class:`InsertionBound`; the bounds split
out of it are re-exported here: :class:`RouteInsertionBound` (tighter, for routes the
local search evaluates incrementally) in :mod:`operators.routing.route_bounds`, and
the bounds of the local search's relocation and 2-opt moves in
:mod:`operators.routing.move_bounds`.

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

# Split by responsibility; every public name of the parts stays importable from here
# (tests/test_reexports.py checks it).
from fleetstream.operators.routing.move_bounds import (  # noqa: F401
    relocation_bound, relocation_skipper, reversal_skipper)
from fleetstream.operators.routing.route_bounds import (  # noqa: F401
    RouteInsertionBound, _shifted, _tail, _visit)

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
