"""The exact speed-ups of the redispatch search give what the plain definitions give,
bit for bit (issue #10, redispatch in a zone of 200 vehicles):

- ``insertion_cost.InsertionCost`` (an insertion costed from the route's recorded walk, cut off
  when it cannot win) equals ``RouteEval.cost`` of the built candidate;
- ``best_insertion`` (bounds, an incumbent, cut walks) equals costing every candidate
  in order, also on engine-shaped routes and with negative arcs (no cut then);
- ``RouteInsertionBound.all_pairs`` equals the bounds row by row (``ref_pairs``);
- the 2-opt bound (``bounds.reversal_skipper``) never exceeds a reversal's cost;
- ``_Pairs.limits`` / ``rev_limit`` decide every move as ``relocate_ok`` / ``reverse_ok``;
- ``RouteMoves.walk`` / ``commit`` equal the plain move cost (``ref_cost``) / a fresh
  record of the new route;
- the whole redispatch (``solver.redispatch``) with the fast search equals the one
  with the reference search of ``test_local_search_speed``."""

from __future__ import annotations

import os
import random
import sys

import pytest
from fleetstream.operators.routing import bounds, solver
from fleetstream.operators.routing import local_search as ls
from fleetstream.operators.routing.bounds import _visit
from fleetstream.operators.routing.model import PICKUP, Job, Problem, VehicleSpec
from fleetstream.operators.routing.insertion_cost import InsertionCost
from fleetstream.operators.routing.moves import RouteMoves
from test_local_search_speed import instances, ref_best_insertion, ref_improve_route

INF = float("inf")
HARD = ls.HARD


def _absent(p, stops, count=3):
    on = {s[0] for s in stops}
    return [j for j in p.jobs if j.id not in on][:count]


def _candidates(stops, j, window=8):
    n = len(stops)
    if j.pickup is not None:
        return [((k, m),
                 stops[:k] + [(j.id, PICKUP)] + stops[k:m] + [(j.id, "delivery")] + stops[m:])
                for k in range(n + 1) for m in range(k, min(n, k + window) + 1)]
    return [((k,), stops[:k] + [(j.id, "delivery")] + stops[k:]) for k in range(n + 1)]


def test_insertion_cost_is_route_eval_cost_bit_for_bit():
    checked = cut = 0
    for p, vid, stops, _passes, _window in instances(24):
        ev = ls.RouteEval(p, vid)
        if not ev.fast_ok(stops):
            continue
        ic = InsertionCost(ev, stops)
        for j in _absent(p, stops):
            for at, cand in _candidates(stops, j):
                want = ev.cost(cand)
                price = ic.pair if len(at) == 2 else ic.single
                got = price(j.id, *at)
                assert got.hex() == want.hex(), (vid, j.id, at)
                # cut off only when it provably does not beat the thresholds
                for ge, gt in ((want, INF), (INF, want), (want * (1 + 1e-12) + 1e-9, INF),
                               (INF, want * (1 - 1e-12) - 1e-9), (want * 0.5, want * 2)):
                    r = price(j.id, *at, ge, gt)
                    if r != want:
                        assert r >= ge or r > gt
                        assert want >= ge or want > gt, (vid, j.id, at, ge, gt)
                        cut += 1
                checked += 1
    assert checked > 2000
    assert cut > checked // 4     # the walk is cut off


def test_best_insertion_equals_full_enumeration_on_engine_routes():
    """Engine-shaped routes (lazy matrices, on-demand pairs among parcels) as the zone
    redispatch sees them, before and after the local search."""
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks"))
    import replan_latency as rl
    from engine_gen import dist, tt
    from fleetstream.operators.routing.engine_adapter import build_problem
    from fleetstream.operators.routing.strategy import ORToolsStrategy
    cfg = ORToolsStrategy().config
    n_checked = 0
    for r in range(4):
        rng = random.Random(500 + r)
        orders: dict = {}
        vs = [rl.loaded(f"v{i}", rng, 14 + 6 * r, orders, on_demand_every=3) for i in range(2)]
        new = rl.order("new", rng, rng.choice(["on_demand", "parcel"]), 3, 20)
        new.status = "pending"
        orders[new.id] = new
        built = build_problem(vs, list(orders.values()), {v.id: v.route for v in vs}, rl.T0,
                              tt, dist, cfg)
        p = built.problem
        for v in vs:
            route = built.routes[v.id]
            seq, _c = ls.improve_route(p, v.id, route, 1, 8)
            for stops in (route, seq):
                got = ls.best_insertion(p, v.id, stops, "new")
                ref = ref_best_insertion(p, v.id, stops, "new")
                assert got[0] == ref[0]
                assert got[1].hex() == ref[1].hex()
                n_checked += 1
    assert n_checked == 16


def test_best_insertion_with_negative_arcs_is_not_cut():
    """A negative travel time or distance breaks the monotone cut-off: the answer is
    still the full enumeration's."""
    for seed in range(6):
        rng = random.Random(seed)
        n = 12
        N = 2 * n + 2
        T = [[abs(i - j) * 60 + (5 * i + 3 * j) % 7 for j in range(N)] for i in range(N)]
        D = [[abs(i - j) * 90 + (2 * i + j) % 5 for j in range(N)] for i in range(N)]
        for _ in range(6):
            a, b = rng.randrange(2 * n + 2), rng.randrange(2 * n + 2)
            T[a][b] = -rng.randrange(1, 400)
            D[a][b] = -rng.randrange(1, 900)
        jobs = [Job(f"j{k}", 1 + k, window=(rng.uniform(0, 900), rng.uniform(1000, 3000)),
                    service=30.0,
                    pickup=n + 1 + k if rng.random() < 0.5 else None, pickup_window=(0.0, 5000.0))
                for k in range(n)]
        p = Problem(time=T, dist=D, vehicles=[VehicleSpec("v", 0, 0, shift_end=20000.0,
                                                          cost_per_km=0.35,
                                                          cost_per_hour=28.0)],
                    jobs=jobs, lateness_cost_per_unit=0.05, objective="cost")
        stops = []
        for j in jobs[:-3]:
            if j.pickup is not None:
                stops.append((j.id, PICKUP))
            stops.append((j.id, "delivery"))
        for j in jobs[-3:]:
            got = ls.best_insertion(p, "v", stops, j.id)
            ref = ref_best_insertion(p, "v", stops, j.id)
            assert got[0] == ref[0]
            assert got[1].hex() == ref[1].hex()


def test_all_pairs_are_the_pairs_rows():
    n_rows = 0
    for p, vid, stops, _passes, _window in instances(20):
        ev = ls.RouteEval(p, vid)
        if not ev.fast_ok(stops):
            continue
        mv = RouteMoves(ev, ev.rich(stops))
        if not mv.bounded:
            continue
        rb = bounds.RouteInsertionBound(mv)
        n = len(stops)
        for j in [j for j in _absent(p, stops, 6) if j.pickup is not None][:2]:
            sp, sd = ev.stop(j.id, PICKUP), ev.stop(j.id, "delivery")
            for window in (3, 8):
                flat = []
                for k in range(n + 1):
                    flat += ref_pairs(rb, k, k, min(n, k + window), sp, sd)
                got = rb.all_pairs(window, sp, sd)
                assert [x.hex() for x in got] == [x.hex() for x in flat]
                n_rows += 1
    assert n_rows > 20


def test_reversal_bound_is_below_the_walked_cost():
    skipped = total = 0
    for p, vid, stops, _passes, window in instances(16):
        ev = ls.RouteEval(p, vid)
        if not ev.fast_ok(stops):
            continue
        cur = ev.rich(stops)
        mv = RouteMoves(ev, cur)
        if not mv.bounded:
            continue
        skip = bounds.reversal_skipper(mv)
        n = len(cur)
        for i in range(n - 1):
            for k in range(i + 2, min(n, i + window) + 1):
                mid = cur[i:k][::-1]
                c = ev.cost([x[-1] for x in cur[:i] + mid + cur[k:]])
                total += 1
                assert not skip(mid, i, k, c * (1 + 1e-12) + 1e-9), (vid, i, k)
                if skip(mid, i, k, mv.total() - 1e-9):
                    skipped += 1
                    assert c >= mv.total() - 1e-9 - abs(c) * 1e-12
    assert total > 1000
    assert skipped > total // 3


@pytest.mark.parametrize("seed", range(8))
def test_pair_limits_decide_every_move_as_the_checks(seed):
    from route_eval_cases import pickups_ok
    from routing_gen import random_problem
    p = random_problem(300 + seed, n_jobs=16, n_vehicles=1, pickups=0.6)
    rng = random.Random(seed)
    stops = [(j.id, k) for j in p.jobs for k in ((PICKUP, "delivery") if j.pickup is not None
                                                  else ("delivery",))]
    rng.shuffle(stops)
    if seed % 2 == 0:
        stops = pickups_ok(stops, p)
    order = ls._Pairs(p, stops)
    n = len(stops)
    for seg in (1, 2, 3):
        for i in range(n - seg + 1):
            lim = order.limits(i, seg)
            assert (lim is None) == (not order.ok)
            if lim is None:
                continue
            fwd, bwd = lim
            for k in range(n - seg + 1):
                if k != i:
                    allowed = k + seg <= fwd if k > i else k > bwd
                    assert allowed == order.relocate_ok(i, seg, k), (seg, i, k)
    for i in range(n - 1):
        for top in (min(n, i + 4), min(n, i + 12)):
            lim = order.rev_limit(i, top)
            if lim is None:
                continue
            for k in range(i + 2, top + 1):
                assert (k <= lim) == order.reverse_ok(i, k), (i, k)


def _state(mv):
    return (mv.Ts, mv.Ns, mv.Qs, mv.Ls, mv.arrays, mv.qf, mv.end, mv.m0, mv.dend)


def test_walk_and_commit_are_cost_and_a_fresh_record():
    rng = random.Random(4)
    moves_checked = 0
    for p, vid, stops, _passes, window in instances(20):
        ev = ls.RouteEval(p, vid)
        if not ev.fast_ok(stops) or len(stops) < 4:
            continue
        cur = ev.rich(stops)
        mv = RouteMoves(ev, cur)
        n = len(cur)
        for _ in range(40):
            if rng.random() < 0.5:
                seg = rng.choice([1, 2, 3])
                i = rng.randrange(n - seg + 1)
                k = rng.randrange(n - seg + 1)
                if k == i:
                    continue
                block = cur[i:i + seg]
                lo, hi, mid = ((k, i + seg, block + cur[k:i]) if k < i
                               else (i, k + seg, cur[i + seg:k + seg] + block))
            else:
                i = rng.randrange(n - 1)
                k = rng.randrange(i + 2, n + 1)
                lo, hi, mid = i, k, cur[i:k][::-1]
            bound = mv.total() + rng.choice([-5.0, 0.0, 5.0, 1e9])
            c = ref_cost(mv, mid, lo, hi, cur, bound)
            w = mv.walk(mid, lo, hi, cur, bound)
            assert w == c and (w == INF or w.hex() == c.hex())
            if w == INF:
                continue
            cur = cur[:lo] + mid + cur[hi:]
            mv.commit(cur, lo, hi)
            mv.complete(cur)
            fresh = RouteMoves(ev, cur)
            assert repr(_state(mv)) == repr(_state(fresh))
            moves_checked += 1
    assert moves_checked > 200


def _zone(seed: int, n_vehicles: int, n_stops: int):
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks"))
    import replan_latency as rl
    from engine_gen import dist, tt
    from fleetstream.operators.routing.engine_adapter import build_problem
    from fleetstream.operators.routing.strategy import ORToolsStrategy
    rng = random.Random(seed)
    orders: dict = {}
    vs = [rl.loaded(f"v{i:02d}", rng, n_stops, orders) for i in range(n_vehicles)]
    risky = next(oid for oid, k in vs[0].route if k == PICKUP)
    orders[risky].window_end = rl.T0 + 1200
    cfg = ORToolsStrategy().config
    built = build_problem(vs, list(orders.values()), {v.id: v.route for v in vs}, rl.T0, tt, dist,
                          cfg)
    return built, vs[0].id, risky, cfg


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_redispatch_equals_the_reference_search(seed, monkeypatch):
    """The zone redispatch (8 candidates, routes of 30 stops) with the fast search and
    with the reference local search and insertion: the same moves, routes, gains and
    alternatives, bit for bit."""
    built, src, risky, cfg = _zone(seed, 9, 30)
    budget = cfg.reroute_budget
    fast = solver.redispatch(built.problem, src, [risky], built.routes,
                             cfg.redispatch_change_cost, budget)
    built, src, risky, cfg = _zone(seed, 9, 30)

    def ref_improve(p, vid, stops, max_passes=6, window=12, ev=None):
        if len(stops) < 2 or not ls.RouteEval(p, vid).fast_ok(stops):
            return ls.improve_route(p, vid, stops, max_passes, window)
        seq, c, _best = ref_improve_route(p, vid, stops, max_passes, window)
        return seq, c

    def ref_insert(p, vid, stops, jid, ev=None, pair_window=8):
        return ref_best_insertion(p, vid, stops, jid, pair_window)

    monkeypatch.setattr(ls, "improve_route", ref_improve)
    monkeypatch.setattr(ls, "best_insertion", ref_insert)
    ref = solver.redispatch(built.problem, src, [risky], built.routes,
                            cfg.redispatch_change_cost, budget)
    assert fast.action == ref.action
    assert fast.routes == ref.routes
    def moves(r):
        return [(m.job_id, m.to_vehicle, m.gain.hex(), m.src_after, m.dst_after) for m in r.moves]

    assert moves(fast) == moves(ref)
    assert fast.gain.hex() == ref.gain.hex()
    assert fast.alternatives == ref.alternatives


def test_insertion_with_capacity_excess_equals_full_enumeration():
    """Loads that reach the capacity (tracked) and routes far below it (loads left
    out): the insertion costs and answers are the plain ones."""
    tracked = left_out = 0
    for seed in range(10):
        rng = random.Random(seed)
        T = [[abs(i - j) * 60 + (7 * i + 3 * j) % 11 for j in range(30)] for i in range(30)]
        cap = {"weight_kg": rng.choice([5.0, 12.5, 400.0]), "count": rng.choice([6.0, 100.0])}
        v = VehicleSpec("v", 0, 0, start_time=0.0, shift_end=20000.0, capacity=cap,
                        cost_per_km=0.35, cost_per_hour=28.0)
        jobs = []
        for k in range(14):
            w0 = rng.uniform(0, 1500)
            jobs.append(Job(f"j{k}", 1 + k, window=(w0, w0 + 900.0), service=60.0,
                            size={"weight_kg": round(rng.uniform(0.1, 3.3), 3)},
                            pickup=15 + k if rng.random() < 0.5 else None,
                            pickup_window=(0.0, 4000.0)))
        p = Problem(time=T, dist=T, vehicles=[v], jobs=jobs, lateness_cost_per_unit=0.05,
                    objective="cost")
        stops = []
        for j in jobs[:11]:
            if j.pickup is not None:
                stops.append((j.id, PICKUP))
            stops.append((j.id, "delivery"))
        ev = ls.RouteEval(p, "v")
        ic = InsertionCost(ev, stops)
        for j in jobs[11:]:
            if j.pickup is not None:
                if ic._safe(ev.stop(j.id, PICKUP)[6], 2):
                    left_out += 1
                else:
                    tracked += 1
            for at, cand in _candidates(stops, j):
                got = (ic.pair if len(at) == 2 else ic.single)(j.id, *at)
                assert got.hex() == ev.cost(cand).hex()
            got = ls.best_insertion(p, "v", stops, j.id)
            ref = ref_best_insertion(p, "v", stops, j.id)
            assert got[0] == ref[0]
            assert got[1].hex() == ref[1].hex()
    assert tracked and left_out


# ---------------------------------------------------------------- references
# The plain definitions the fast paths replaced, kept verbatim as functions.

def ref_cost(self, mid: list[tuple], lo: int, hi: int, cur: list[tuple], bound: float) -> float:
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


def ref_pairs(self, k: int, m0: int, m1: int, sp: tuple, sd: tuple) -> list[float]:
    """Lower bounds with pickup ``sp`` at position ``k`` and delivery ``sd`` before
    current stop m, for every m in [m0, m1] (m0 >= k): :meth:`single`'s terms, the
    pickup's shift of the stops in between shared (one loop, no calls: the
    insertion verb evaluates this for every pair of positions)."""
    mv = self.mv
    ev = mv.ev
    T, D = ev.T, ev.D
    X, A, _TA, CD, PW, LX, LN, CW, NW, AR, AE = mv.arrays
    Ts, n, rate = mv.Ts, mv.n, mv.rate
    soft, max_late, late_c, km_c, h_c = ev.soft, ev.max_late, ev.late_c, ev.km_c, ev.h_c
    v = ev.v
    shift_end, start_time, max_dur = v.shift_end, v.start_time, v.max_duration
    mrel, m0_, mt = mv.mrel, mv.m0, mv.mt
    base = mv.Qs[k] + self.base + (n + 2) * ev.stop_c
    tp, pp, dp = _visit(ev, Ts[k], mv.Ns[k], sp)
    P, Qn, qw0, qw1, qsvc = sp[0], sd[0], sd[1], sd[2], sd[3]
    TQ, DQ = T[Qn], D[Qn]
    if k < n:
        y = X[k]
        d = A[k] - (tp + T[P][y])   # the stops after the pickup: d earlier (< 0: later)
        f = NW[k]
        dpy = dp + D[P][y]
    out = []
    for m in range(m0, m1 + 1):
        if m == k:
            t, node, pen, dist = tp, P, pp, dp
        else:
            g = f if f < m else m
            if d > 0:
                pen = rate * ((LX[g] - LX[k]) - d * (LN[g] - LN[k]))
                if pen < 0:
                    pen = 0.0
                if f < m:
                    pen += PW[m] - PW[g]
                    t = Ts[m]
                else:
                    t = Ts[m] - d
            else:
                pen = (PW[m] - PW[k]) - d * rate * (LN[g] - LN[k])
                late = -d - (CW[m] - CW[k])
                t = Ts[m] + late if late > 0 else Ts[m]
            pen += pp
            dist = dpy + (CD[m - 1] - CD[k])
            node = X[m - 1]
        a = t + T[node][Qn]
        dist += D[node][Qn]
        s_ = a if a > qw0 else qw0
        if s_ > qw1:
            pen += (s_ - qw1) * (late_c if soft and s_ - qw1 <= max_late else HARD)
        t = s_ + qsvc
        if m < n:
            y2 = X[m]
            a = t + TQ[y2]
            dist += DQ[y2] + (CD[n - 1] - CD[m]) + mv.dend
            d2 = A[m] - a
            f2 = NW[m]
            if d2 > 0:
                p2 = rate * ((LX[f2] - LX[m]) - d2 * (LN[f2] - LN[m]))
                pen += (p2 if p2 > 0 else 0.0) + (PW[n] - PW[f2])
            else:
                pen += (PW[n] - PW[m]) - d2 * rate * (LN[f2] - LN[m])
            end = a + AR[m]
            if AE[m] > end:
                end = AE[m]
        else:
            end = t + TQ[v.end]
            dist += DQ[v.end]
        if end > shift_end:
            pen += (end - shift_end) * HARD
        if max_dur is not None and end - start_time > max_dur:
            pen += (end - start_time - max_dur) * HARD
        lb = base + dist * km_c + pen + end * h_c
        out.append(lb - (abs(lb) * mrel + m0_ + mt * abs(end)))
    return out
