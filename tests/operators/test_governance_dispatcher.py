"""The simulated dispatcher (fleetstream/sim/dispatcher.py): seeded, its rates and
delays as configured, reasons on rejections; in the closed loop with ``propose``
everywhere every order is still decided and no rejected order is proposed again
without a material change."""

from __future__ import annotations

import pytest

from fleetstream.sim.dispatcher import REJECT_REASONS, SimDispatcher

D = {"decision_id": "D-Z-1-1", "zone": "Z", "status": "proposed"}


def test_the_dispatcher_is_seeded_and_honours_its_rates() -> None:
    a = [SimDispatcher(3, approve_prob=0.7).answer(D) for _ in range(1)]
    b = [SimDispatcher(3, approve_prob=0.7).answer(D) for _ in range(1)]
    assert a == b
    d = SimDispatcher(5, approve_prob=0.7, delay_min_s=30, delay_max_s=90, silent_prob=0.1)
    answers = [d.answer(D) for _ in range(4000)]
    given = [x for x in answers if x is not None]
    assert abs(1 - len(given) / 4000 - 0.1) < 0.02
    assert abs(sum(x.approved for x in given) / len(given) - 0.7) < 0.03
    assert all(30 <= x.delay_s <= 90 for x in given)
    assert {x.reason for x in given if not x.approved} <= set(REJECT_REASONS)
    assert all(x.reason is None for x in given if x.approved)


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        SimDispatcher(1, approve_prob=1.5)
    with pytest.raises(ValueError):
        SimDispatcher(1, delay_min_s=100, delay_max_s=10)
