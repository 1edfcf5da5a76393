"""The fast local search (``moves.RouteMoves`` and the relocation bound of
``bounds.relocation_bound``) returns exactly what the plain incremental walk it
replaced returns: the same routes and bit-identical costs, on seeded random
instances (time windows soft and hard, tight windows, pickups and deliveries,
capacities exceeded at the start and along the route, maximum durations, costs and
distance objectives) and on engine-shaped routes (lazy matrices).

The reference below is the previous implementation, kept verbatim: each move is
walked stop by stop from the unchanged prefix, nothing is skipped."""

from __future__ import annotations

import random

import pytest
from fleetstream.operators.routing import bounds
from fleetstream.operators.routing import local_search as ls
from fleetstream.operators.routing.model import PICKUP, Job, Problem, VehicleSpec
from fleetstream.operators.routing.moves import RouteMoves
from routing_gen import random_problem

HARD = ls.HARD


class RefEval(ls.RouteEval):
    """RouteEval with the previous incremental evaluation (trace / cost_move / _walk)."""

    __slots__ = ()

    def trace(self, rich):
        v = self.v
        track = any(x[1] == PICKUP for x in rich)
        nd = len(self.dims)
        capv = self.capv
        load = [0.0] * (nd if track else 0)
        nl = len(load)
        start = [0.0] * nd
        for x in rich:
            if x[7]:
                q = x[8]
                for di in range(nl):
                    load[di] += q[di]
        if not track:
            for x in rich:
                q = x[8]
                for di in range(nd):
                    start[di] += q[di]
            hard = sum(max(0.0, start[di] - capv[di]) for di in range(nd))
        else:
            hard = sum(max(0.0, load[di] - capv[di]) for di in range(nd))
        rec = ([], [], [], [])
        t, node, q = self._walk(rich, 0, v.start_time, v.start, HARD * hard, load, float("inf"), rec=rec)
        Ts, Ns, Qs, Ls = rec
        Ts.append(t)
        Ns.append(node)
        Qs.append(q)
        Ls.append(tuple(load))
        end, qf = self._finish(t, node, q)
        return Ts, Ns, Qs, Ls, end, qf, len(rich)

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

    def total(self, end, q, n):
        return q + (end - self.v.start_time) * self.h_c + n * self.stop_c

    def cost_move(self, cand, lo, hi, tr, bound):
        Ts, Ns, Qs, Ls, _end0, _qf0, _n = tr
        out = self._walk(cand, lo, Ts[lo], Ns[lo], Qs[lo], list(Ls[lo]), bound, tr=tr, hi=hi)
        if len(out) == 1:
            return out[0]
        t, node, q = out
        end, q = self._finish(t, node, q)
        return q + end * self.h_c + self._h0(len(cand))

    def _h0(self, n):
        return n * self.stop_c - self.v.start_time * self.h_c

    def _walk(self, stops, lo, t, node, q, load, bound, tr=None, hi=0, rec=None):
        T, D = self.T, self.D
        km_c, h_c, late_c, soft, max_late, capv = (self.km_c, self.h_c, self.late_c, self.soft,
                                                   self.max_late, self.capv)
        nl = len(load)
        n = len(stops)
        h0 = self._h0(n)
        if tr is not None:
            Ts, Ns, Qs, _Ls, end0, qf0, _n = tr
        for i in range(lo, n):
            if tr is not None and i > hi:
                if node == Ns[i]:
                    if t == Ts[i]:
                        return (q + (qf0 - Qs[i]) + end0 * h_c + h0,)
                    if t > Ts[i] and q + (qf0 - Qs[i]) + end0 * h_c + h0 >= bound:
                        return (float("inf"),)
            if rec is not None:
                rec[0].append(t)
                rec[1].append(node)
                rec[2].append(q)
                rec[3].append(tuple(load))
            _j, _k, nxt, w0, w1, svc, _hp, _pre, _q, sq, _o = stops[i]
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
                return (float("inf"),)
        return t, node, q


def ref_search(p, cur, best, max_passes, window, pairs, price, accept):
    n = len(cur)
    order = ls._Pairs(p, cur) if pairs else None
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


def ref_improve_route(p, vid, stops, max_passes=6, window=12):
    """The previous ``improve_route`` for routes without a break or driving limit."""
    ev = RefEval(p, vid)
    cur = list(stops)
    n = len(cur)
    assert n >= 2 and ev.fast_ok(cur)
    rich = ev.rich(cur)
    trace = [ev.trace(rich)]

    def price(cand, lo, hi, bound):
        return ev.cost_move(cand, lo, hi, trace[0], bound)

    def accept(cand):
        trace[0] = ev.trace(cand)

    tr = trace[0]
    rich, best = ref_search(p, rich, ev.total(tr[4], tr[5], n), max_passes, window,
                            any(k == PICKUP for _j, k in cur), price, accept)
    cur = [x[-1] for x in rich]
    return cur, ev.cost(cur), best


def stops_of(p, rng, share=0.7):
    jobs = [j for j in p.jobs if rng.random() < share]
    stops = []
    for j in jobs:
        if j.pickup is not None:
            stops.append((j.id, "pickup"))
        stops.append((j.id, "delivery"))
    rng.shuffle(stops)
    # pickups before deliveries in most cases; some routes keep a broken pair
    if rng.random() < 0.85:
        seen, fixed, waiting = set(), [], set()
        for jid, k in stops:
            if k == "delivery" and p.job(jid).pickup is not None and jid not in seen:
                waiting.add(jid)
                continue
            fixed.append((jid, k))
            if k == "pickup":
                seen.add(jid)
                if jid in waiting:
                    waiting.discard(jid)
                    fixed.append((jid, "delivery"))
        stops = fixed
    return stops


def instances(count: int):
    """(problem, vehicle id, stops, passes, window) of seeded random routes."""
    for seed in range(count):
        rng = random.Random(1000 + seed)
        p = random_problem(seed, n_jobs=12 + seed % 40, n_vehicles=3, pickups=rng.choice([0.0, 0.2, 0.5]),
                           soft=seed % 3 != 0, breaks=False, tight=seed % 4 == 0)
        if seed % 5 == 1:   # a lateness cap: soft up to 15 min, hard beyond
            p = Problem(p.time, p.dist, p.vehicles, p.jobs, p.km_per_unit, p.hours_per_unit,
                        p.lateness_cost_per_unit, 900.0, p.fairness_cost_per_stop, p.objective,
                        p.high_value, p.gig_forbidden_age_check, p.points)
        if seed % 7 == 2:   # distance objective
            p = Problem(p.time, p.dist, p.vehicles, p.jobs, p.km_per_unit, p.hours_per_unit,
                        p.lateness_cost_per_unit, p.max_lateness, p.fairness_cost_per_stop, "distance",
                        p.high_value, p.gig_forbidden_age_check, p.points)
        for v in p.vehicles:
            stops = stops_of(p, rng)
            if len(stops) >= 2:
                yield p, v.id, stops, rng.choice([1, 3, 6]), rng.choice([4, 8, 12])


def test_fast_search_equals_reference_on_random_instances():
    n = 0
    for p, vid, stops, passes, window in instances(36):
        got = ls.improve_route(p, vid, stops, passes, window)
        ref = ref_improve_route(p, vid, stops, passes, window)
        assert got[0] == ref[0], (vid, len(stops))
        assert got[1].hex() == ref[1].hex()
        n += 1
    assert n >= 90


def test_fast_search_equals_reference_with_capacity_excess():
    """Start overloads (the start penalty depends on the order of the sums) and
    pickups that overload the vehicle along the route."""
    for seed in range(12):
        rng = random.Random(seed)
        T = [[abs(i - j) * 60 + (7 * i + 3 * j) % 11 for j in range(30)] for i in range(30)]
        cap = {"weight_kg": rng.choice([5.0, 12.5, 40.0]), "count": 6.0}
        v = VehicleSpec("v", 0, 0, start_time=0.0, shift_end=rng.choice([3000.0, 20000.0]),
                        capacity=cap, cost_per_km=0.35, cost_per_hour=28.0,
                        max_duration=rng.choice([None, 2500.0]))
        jobs = []
        for k in range(14):
            w0 = rng.uniform(0, 1500)
            pick = rng.random() < 0.4
            jobs.append(Job(f"j{k}", 1 + k, window=(w0, w0 + rng.choice([300.0, 900.0])),
                            service=60.0, size={"weight_kg": round(rng.uniform(0.1, 3.3), 3)},
                            pickup=15 + k if pick else None, pickup_window=(0.0, 4000.0)))
        p = Problem(time=T, dist=T, vehicles=[v], jobs=jobs, lateness_cost_per_unit=0.05 if seed % 2 else 0.0,
                    objective="cost")
        stops = stops_of(p, rng, share=1.0)
        got = ls.improve_route(p, "v", stops, 6, 12)
        ref = ref_improve_route(p, "v", stops, 6, 12)
        assert got[0] == ref[0]
        assert got[1].hex() == ref[1].hex()


def test_engine_shaped_routes_equal_reference():
    """Routes as the engine builds them (lazy matrices, engine travel time), perturbed
    earliest-deadline sequences of 20-60 stops."""
    import os
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks"))
    import replan_latency as rl
    from engine_gen import dist, tt
    from fleetstream.operators.routing.engine_adapter import build_problem
    from fleetstream.operators.routing.strategy import ORToolsStrategy
    cfg = ORToolsStrategy().config
    for r in range(6):
        rng = random.Random(77 + r)
        n = 20 + 8 * r
        orders: dict = {}
        v = rl.loaded("v", rng, n, orders, on_demand_every=4 if r % 2 else 0)
        for _ in range(n // 5):
            a, b = rng.randrange(n), rng.randrange(n)
            v.route[a], v.route[b] = v.route[b], v.route[a]
        route = [s for s in v.route]
        # pickups first
        seen, fixed, waiting = set(), [], set()
        for oid, k in route:
            if k == "delivery" and (oid, "pickup") in route and oid not in seen:
                waiting.add(oid)
                continue
            fixed.append((oid, k))
            if k == "pickup":
                seen.add(oid)
                if oid in waiting:
                    waiting.discard(oid)
                    fixed.append((oid, "delivery"))
        built = build_problem([v], [orders[i] for i in dict.fromkeys(s[0] for s in fixed)],
                              {v.id: fixed}, rl.T0, tt, dist, cfg)
        got = ls.improve_route(built.problem, v.id, built.routes[v.id], 3, 8)
        ref = ref_improve_route(built.problem, v.id, built.routes[v.id], 3, 8)
        assert got[0] == ref[0]
        assert got[1].hex() == ref[1].hex()


def test_relocation_bound_is_below_the_walked_cost():
    """The bound never exceeds the cost of the move (with its margin), so a skipped
    move could not have won; and it skips most moves of a converging search."""
    skipped = total = 0
    for p, vid, stops, _passes, window in instances(12):
        ev = ls.RouteEval(p, vid)
        if not ev.fast_ok(stops):
            continue
        cur = ev.rich(stops)
        mv = RouteMoves(ev, cur)
        if not mv.bounded:
            continue
        n = len(cur)
        for seg in (1, 2, 3):
            for i in range(0, n - seg + 1):
                block = cur[i:i + seg]
                rest = cur[:i] + cur[i + seg:]
                for k in range(max(0, i - window), min(len(rest), i + window) + 1):
                    if k == i:
                        continue
                    cand = rest[:k] + block + rest[k:]
                    c = ev.cost([x[-1] for x in cand])
                    total += 1
                    # skipped at a bound just above the exact cost: the bound was above it
                    assert not bounds.relocation_bound(mv, cur, i, seg, k, c * (1 + 1e-12) + 1e-9), \
                        (seg, i, k)
                    if bounds.relocation_bound(mv, cur, i, seg, k, mv.total() - 1e-9):
                        skipped += 1
                        assert c >= mv.total() - 1e-9 - abs(c) * 1e-12
    assert total > 2000
    assert skipped > total // 3


@pytest.mark.parametrize("seed", [0, 1])
def test_breaks_still_use_the_full_evaluation(seed):
    p = random_problem(seed, n_jobs=20, n_vehicles=4, breaks=True)
    rng = random.Random(seed)
    for v in p.vehicles:
        stops = stops_of(p, rng)
        if len(stops) < 2:
            continue
        seq, c = ls.improve_route(p, v.id, stops, 3, 8)
        assert sorted(seq) == sorted(stops)
        assert c == ls.RouteEval(p, v.id).cost(seq)


def ref_best_insertion(p, vid, stops, jid, pair_window=8):
    """Every candidate costed in full, in the enumeration order (no bound)."""
    ev = ls.RouteEval(p, vid)
    j = p.job(jid)
    best, best_c = None, float("inf")
    n = len(stops)
    for k in range(n + 1):
        if j.pickup is not None:
            for m in range(k, min(n, k + pair_window) + 1):
                cand = stops[:k] + [(jid, PICKUP)] + stops[k:m] + [(jid, "delivery")] + stops[m:]
                c = ev.cost(cand)
                if c < best_c:
                    best, best_c = cand, c
        else:
            cand = stops[:k] + [(jid, "delivery")] + stops[k:]
            c = ev.cost(cand)
            if c < best_c:
                best, best_c = cand, c
    return best, best_c


def test_best_insertion_equals_full_enumeration():
    """Insertion with the route bound (bounds.RouteInsertionBound) gives the route and
    the bit-identical cost of costing every candidate, on random routes with soft and
    hard windows, pickups, overloads and duration limits."""
    n = 0
    for p, vid, stops, _passes, _window in instances(30):
        on = {s[0] for s in stops}
        rest = [j for j in p.jobs if j.id not in on][:3]
        seq, _c = ls.improve_route(p, vid, stops, 1, 6)   # routes as the engine has them
        for r in (stops, seq, [], stops[:1]):
            for j in rest:
                got = ls.best_insertion(p, vid, r, j.id)
                ref = ref_best_insertion(p, vid, r, j.id)
                assert got[0] == ref[0], (vid, j.id)
                assert got[1] == ref[1] or got[1].hex() == ref[1].hex()
                n += 1
    assert n >= 200
