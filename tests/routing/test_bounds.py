"""The insertion lower bound never exceeds a candidate's cost (so pruning with it
never skips a candidate that could win), and it does prune."""

from __future__ import annotations

import random

import pytest

from fleetstream.operators.routing import local_search as ls
from fleetstream.operators.routing.bounds import ABS_MARGIN, REL_MARGIN, InsertionBound
from fleetstream.operators.routing.model import PICKUP
from route_eval_cases import pickups_ok
from routing_gen import random_problem


def _margin(lb: float) -> float:
    return abs(lb) * REL_MARGIN + ABS_MARGIN


@pytest.mark.parametrize("seed", range(12))
def test_bound_below_every_candidate_cost(seed):
    p = random_problem(100 + seed, n_jobs=16 + seed, n_vehicles=3, pickups=0.4,
                       soft=seed % 3 != 0, breaks=seed % 4 == 1, tight=seed % 2 == 0)
    rng = random.Random(seed)
    checked = skippable = 0
    for v in p.vehicles:
        jobs = [j for j in p.jobs if rng.random() < 0.5]
        stops = []
        for j in jobs:
            if j.pickup is not None:
                stops.append((j.id, PICKUP))
            stops.append((j.id, "delivery"))
        rng.shuffle(stops)
        stops = pickups_ok(stops, p)
        ev = ls.RouteEval(p, v.id)
        lb = InsertionBound(ev, stops)
        n = len(stops)
        for j in [x for x in p.jobs if x not in jobs]:
            costs = []
            if j.pickup is not None:
                for k in range(n + 1):
                    for m in range(k, min(n, k + 8) + 1):
                        cand = stops[:k] + [(j.id, PICKUP)] + stops[k:m] + [(j.id, "delivery")] + stops[m:]
                        costs.append((lb.pair(k, m, j.id), ev.cost(cand)))
            else:
                for k in range(n + 1):
                    cand = stops[:k] + [(j.id, "delivery")] + stops[k:]
                    costs.append((lb.single(k, j.id), ev.cost(cand)))
            best = min(c for _b, c in costs)
            for b, c in costs:
                assert b - _margin(b) <= c, (j.id, b, c)
                checked += 1
                skippable += b - _margin(b) >= best
    assert checked > 100
    assert skippable > 0  # the bound does prune


@pytest.mark.parametrize("seed", range(10))
def test_incremental_pair_check_equals_the_full_check(seed):
    """Every relocation and reversal the local search tries: the O(span) pickup-
    before-delivery check agrees with the full one (routes in order or not)."""
    p = random_problem(200 + seed, n_jobs=14, n_vehicles=1, pickups=0.6)
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
            rest = stops[:i] + stops[i + seg:]
            for k in range(len(rest) + 1):
                if k != i:
                    cand = rest[:k] + stops[i:i + seg] + rest[k:]
                    assert order.relocate_ok(i, seg, k) == ls._pairs_ok(cand, p), (i, seg, k)
    for i in range(n - 1):
        for k in range(i + 2, n + 1):
            cand = stops[:i] + stops[i:k][::-1] + stops[k:]
            assert order.reverse_ok(i, k) == ls._pairs_ok(cand, p), (i, k)
