"""The fast route evaluation gives bit-identical answers: every case of
route_eval_cases.py (local search, insertion, re-route, redispatch, EDF, timings)
hashes to the value recorded before the speed-ups."""

from __future__ import annotations

import json

from route_eval_cases import GOLDEN, all_cases


def test_route_evaluation_is_bit_identical():
    with open(GOLDEN) as f:
        golden = json.load(f)
    got = all_cases()
    assert set(got) == set(golden)
    changed = sorted(k for k in golden if got[k] != golden[k])
    assert not changed, f"{len(changed)} cases changed, e.g. {changed[:5]}"
