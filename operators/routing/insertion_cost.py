"""An insertion costed from the route's own recorded walk (split from
:mod:`operators.routing.moves`): :class:`InsertionCost` gives :meth:`RouteEval.cost` of a
route with one job inserted, walking only the stops after the insertion, with the same
floating-point operations in the same order (bit-identical; ``tests/routing/
test_local_search_exact.py``), and cut off as soon as the running cost provably reaches
a threshold.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fleetstream.operators.routing.local_search import HARD
from fleetstream.operators.routing.model import INF, PICKUP

if TYPE_CHECKING:
    from fleetstream.operators.routing.local_search import RouteEval


class InsertionCost:
    """:meth:`RouteEval.cost` of route ``stops`` with one job inserted, from the recorded
    states of the route's own walk: the candidate shares the route's states before the
    insertion (the pickup and delivery of a job with a pickup do not change the start
    load), so only the rest is walked, with the same floating-point operations in the
    same order as :meth:`RouteEval.cost` (bit-identical; ``tests/routing/
    test_local_search_insertion.py``).  Routes without a break or a driving limit.

    The walk stops as soon as the candidate provably is not cheaper than a threshold:
    the cost expression evaluated on the running totals (the duration to the current
    departure) never exceeds the final one when every later increment is non-negative
    (rounding is monotone: sums of non-negative terms and products with non-negative
    rates only grow).  That holds when the cost rates, the travel times, distances and
    service times of the route and of the new arcs are non-negative (checked; else the
    walk is never cut)."""

    __slots__ = ("ev", "stops", "n", "rd", "S", "ok", "on", "tot")

    def __init__(self, ev: "RouteEval", stops: list):
        self.ev = ev
        self.stops = stops
        self.n = len(stops)
        v, T, D = ev.v, ev.T, ev.D
        capv = ev.capv
        nd = len(capv)
        sd, stop = ev._sd, ev.stop
        data = [sd.get((jid, kind)) or stop(jid, kind) for jid, kind in stops]
        ok = ev.km_c >= 0 and ev.h_c >= 0 and ev.stop_c >= 0 and ev.late_c >= 0
        t, node = v.start_time, v.start
        dist = late = hard = 0.0
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
        soft, max_late = ev.soft, ev.max_late
        picked: set = set()
        rd, S = [], []
        for (jid, kind), (nxt, w0, w1, svc, hp, _pre, _q, sq) in zip(stops, data):
            S.append((t, node, dist, late, hard, tuple(load)))
            pv = False
            if kind == PICKUP:
                picked.add(jid)
            elif hp and jid not in picked:
                pv = True
                hard += 1000.0
            rd.append((nxt, w0, w1, svc, pv, sq))
            tr, dd = T[node][nxt], D[node][nxt]
            if not (tr >= 0 and dd >= 0 and svc >= 0):
                ok = False
            a = t + tr
            dist += dd
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
        S.append((t, node, dist, late, hard, tuple(load)))
        if not (T[node][v.end] >= 0 and D[node][v.end] >= 0):
            ok = False
        self.rd, self.S, self.ok = rd, S, ok
        self.on = {s[0] for s in stops}
        self.tot = [sum(abs(x[6][di]) for x in data) for di in range(nd)]

    def _safe(self, q: tuple, times: int) -> bool:
        """No load of the route with a job of sizes ``q`` at ``times`` stops can exceed
        the capacity, in any order (the sum of all sizes is within it): the loads of
        the walk can be left out, no capacity penalty arises."""
        capv, tot = self.ev.capv, self.tot
        return all((tot[di] + times * abs(q[di])) * (1 + 1e-9) < capv[di]
                   for di in range(len(capv)))

    def _node(self, i: int) -> int:
        """Node of the route's position ``i`` (n: the end point)."""
        return self.rd[i][0] if i < self.n else self.ev.v.end

    def _arcs_ok(self, arcs: list) -> bool:
        T, D = self.ev.T, self.ev.D
        return all(T[a][b] >= 0 and D[a][b] >= 0 for a, b in arcs)

    def pair(self, jid: str, k: int, m: int, ge: float = INF, gt: float = INF) -> float:
        """Cost with job ``jid``'s pickup before position ``k`` and its delivery before
        position ``m`` (m >= k), or ``INF`` once it provably is at least ``ge`` or above
        ``gt``.  ``jid`` has a pickup and is not on the route."""
        ev = self.ev
        sp, sd = ev.stop(jid, PICKUP), ev.stop(jid, "delivery")
        P = (sp[0], sp[1], sp[2], sp[3], False, sp[7])
        Q = (sd[0], sd[1], sd[2], sd[3], False, sd[7])
        rd = self.rd
        if ge < INF or gt < INF:
            prev = self.S[k][1]
            if m == k:
                arcs = [(prev, P[0]), (P[0], Q[0]), (Q[0], self._node(k))]
            else:
                arcs = [(prev, P[0]), (P[0], rd[k][0]), (rd[m - 1][0], Q[0]),
                        (Q[0], self._node(m))]
            if not (self.ok and sp[3] >= 0 and sd[3] >= 0 and self._arcs_ok(arcs)):
                ge = gt = INF
        state = self.S[k]
        if self._safe(sp[6], 2):
            state = state[:5] + ((),)
        return self._walk(state, [P] + rd[k:m] + [Q] + rd[m:], self.n + 2, ge, gt)

    def single(self, jid: str, k: int, ge: float = INF, gt: float = INF) -> float:
        """Cost with delivery-only job ``jid`` before position ``k`` (walked from the
        start: the job changes the start load), or ``INF`` as :meth:`pair`."""
        ev = self.ev
        v = ev.v
        sd = ev.stop(jid, "delivery")
        data = [ev._sd[(s[0], s[1])] for s in self.stops]
        data.insert(k, sd)
        capv = ev.capv
        nd = len(capv)
        hard = 0.0
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
        if ge < INF or gt < INF:
            arcs = [(self.S[k][1], sd[0]), (sd[0], self._node(k))]
            if not (self.ok and sd[3] >= 0 and self._arcs_ok(arcs)):
                ge = gt = INF
        items = self.rd[:k] + [(sd[0], sd[1], sd[2], sd[3], False, sd[7])] + self.rd[k:]
        return self._walk((v.start_time, v.start, 0.0, 0.0, hard, tuple(load)), items,
                          self.n + 1, ge, gt)

    def _walk(self, state: tuple, items: list, nc: int, ge: float, gt: float) -> float:
        ev = self.ev
        v, T, D = ev.v, ev.T, ev.D
        capv = ev.capv
        nd = len(capv)
        soft, max_late = ev.soft, ev.max_late
        km_c, h_c, late_c = ev.km_c, ev.h_c, ev.late_c
        st = v.start_time
        nstop = nc * ev.stop_c
        cut = ge < INF or gt < INF
        t, node, dist, late, hard, load = state
        nd = len(load)   # 0: the loads are left out (InsertionCost._safe)
        load = list(load)
        for nxt, w0, w1, svc, pv, sq in items:
            if pv:
                hard += 1000.0
            a = t + T[node][nxt]
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
            if cut:
                lb = HARD * hard + dist * km_c + (t - st) * h_c + nstop + late * late_c
                if lb >= ge or lb > gt:
                    return INF
        end = t + T[node][v.end]
        dist += D[node][v.end]
        if end > v.shift_end:
            hard += end - v.shift_end
        dur = end - st
        if v.max_duration is not None and dur > v.max_duration:
            hard += dur - v.max_duration
        return HARD * hard + dist * km_c + dur * h_c + nstop + late * late_c
