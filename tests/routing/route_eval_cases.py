"""Fixed route-evaluation cases and their answers as exact data (floats in hex), for
the bit-identity test of the fast route evaluation (test_route_eval_identity.py).

    python tests/routing/route_eval_cases.py   # rewrites data/route_eval_golden.json

Rewrite the golden file only when a change of results is intended."""

from __future__ import annotations

import hashlib
import json
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from fleetstream.operators.balance import zone_balance  # noqa: E402
from fleetstream.operators.dispatch import InsertionStrategy, best_insertion, route_timing  # noqa: E402
from fleetstream.operators.routing import local_search as ls  # noqa: E402
from fleetstream.operators.routing.strategy import ORToolsStrategy  # noqa: E402
from fleetstream.operators.state import ASSIGNED  # noqa: E402
from engine_gen import T0, dist, make_late, scene, tt  # noqa: E402
from routing_gen import random_problem  # noqa: E402

GOLDEN = os.path.join(HERE, "data", "route_eval_golden.json")


def h(x):
    """Exact plain form: floats as hex, containers recursively."""
    if isinstance(x, float):
        return x.hex()
    if isinstance(x, (list, tuple)):
        return [h(y) for y in x]
    if isinstance(x, dict):
        return {str(k): h(v) for k, v in sorted(x.items())}
    if hasattr(x, "__dataclass_fields__"):
        return {k: h(getattr(x, k)) for k in x.__dataclass_fields__}
    return x


def solver_cases() -> list:
    """Local search and insertion on seeded random problems (pickups, soft and hard
    windows, breaks, capacities)."""
    out = []
    for seed in range(14):
        p = random_problem(seed, n_jobs=18 + 3 * seed, n_vehicles=2, pickups=0.3,
                           soft=seed % 3 != 0, breaks=seed % 4 == 1, tight=seed % 5 == 0)
        rng = random.Random(seed)
        for v in p.vehicles:
            jobs = [j for j in p.jobs if rng.random() < 0.6]
            stops = []
            for j in jobs:
                if j.pickup is not None:
                    stops.append((j.id, "pickup"))
                stops.append((j.id, "delivery"))
            rng.shuffle(stops)
            stops = pickups_ok(stops, p)
            ev = ls.RouteEval(p, v.id)
            seq, c = ls.improve_route(p, v.id, stops, 3, 8, ev)
            out.append(["improve", seed, v.id, h(seq), h(c), h(ev.cost(stops)), h(ev.lateness(seq))])
            rest = [j for j in p.jobs if j not in jobs][:4]
            for j in rest:
                cand, c = ls.best_insertion(p, v.id, seq, j.id, ev)
                out.append(["insert", seed, v.id, j.id, h(cand), h(c)])
    return out


def pickups_ok(stops, p):
    seen, waiting, fixed = set(), set(), []
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
    return fixed


def engine_cases() -> list:
    """The strategies' verbs on engine scenes (lazy matrices, time-dependent travel)."""
    out = []
    ort, base = ORToolsStrategy(), InsertionStrategy()
    for seed in range(6):
        sc = scene(seed, n_vehicles=5, stops=6 + 4 * seed)
        make_late(sc, seed % 3)
        for v in sc.vehicles:
            r = ort.reroute_result(v, sc.orders, T0, tt, dist)
            out.append(["reroute_result", seed, v.id, h(r)])
            r = ort.reroute_result(v, sc.orders, T0, tt, dist, keep_first=True, time_factor=1.2)
            out.append(["reroute_keep_first", seed, v.id, h(r)])
            out.append(["edf", seed, v.id, h(base.reroute(v, sc.orders, T0, tt))])
            tm = route_timing(v, v.route, sc.orders, v.pos, T0, tt)
            out.append(["timing", seed, v.id, h(tm)])
            # the workload balance (operators/balance.py) at weight 8, loads from the scene
            bal = zone_balance(8.0, sc.vehicles, sc.orders, T0, lambda w: route_timing(
                w, w.route, sc.orders, w.pos, T0, tt).end_ts)
            for o in sc.pending:
                out.append(["best_insertion", seed, v.id, o.id,
                            h(best_insertion(o, v, sc.orders, T0, tt, dist, balance=bal))])
        for o in sc.pending:
            out.append(["insert_engine", seed, o.id, h(base.insert(o, sc.vehicles, sc.orders, T0, tt, dist))])
        for src in sc.vehicles[:3]:
            movable = list(dict.fromkeys(oid for oid, _k in src.route
                                         if sc.orders[oid].status == ASSIGNED))
            res = ort.redispatch(src, movable, [w for w in sc.vehicles if w.id != src.id],
                                 sc.orders, T0, tt, dist)
            out.append(["redispatch", seed, src.id, h(res)])
    return out


def all_cases() -> dict[str, str]:
    """Case key -> sha256 of its exact answer."""
    out = {}
    for c in solver_cases() + engine_cases():
        key = "/".join(str(x) for x in c[:3] if not isinstance(x, (list, dict)))
        if c[0] in ("insert", "best_insertion"):
            key += "/" + str(c[3])
        assert key not in out, key
        out[key] = hashlib.sha256(json.dumps(c, separators=(",", ":")).encode()).hexdigest()[:16]
    return out


if __name__ == "__main__":
    os.makedirs(os.path.dirname(GOLDEN), exist_ok=True)
    with open(GOLDEN, "w") as f:
        json.dump(all_cases(), f, indent=0, sort_keys=True)
    print(f"wrote {GOLDEN}")
