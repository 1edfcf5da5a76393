"""A simulated dispatcher: answers the engine's proposals (fs.approvals) in the closed
loop, so the sandbox can compare autonomy levels (docs/governance.md, "Measured").

Seeded from the scenario seed with its own random stream (changing the dispatcher
does not move the world's randomness).  The answer delay is drawn from a uniform
distribution (``delay_min_s``..``delay_max_s``, event time); a proposal is approved
with probability ``approve_prob``, else rejected with one of ``REJECT_REASONS``; a
share ``silent_prob`` is never answered (the engine's ``proposal_fallback`` then
acts).  It shares no formula with the engine: it does not look at the proposal's
content.

>>> d = SimDispatcher(seed=1, approve_prob=1.0)
>>> ans = d.answer({"decision_id": "D-Z-1-1", "zone": "Z", "status": "proposed"})
>>> 60.0 <= ans.delay_s <= 300.0, ans.approved, ans.reason
(True, True, None)
"""

from __future__ import annotations

import random
from dataclasses import dataclass

REJECT_REASONS = ("driver already briefed", "customer asked for another slot",
                  "vehicle reserved for a priority job", "route crosses a closed street")


@dataclass(frozen=True)
class Answer:
    delay_s: float
    approved: bool
    reason: str | None


class SimDispatcher:
    """Answers proposals: delay, approve or reject with a reason, or stay silent."""

    def __init__(self, seed: int, approve_prob: float = 0.85, delay_min_s: float = 60.0,
                 delay_max_s: float = 300.0, silent_prob: float = 0.0):
        if not 0.0 <= approve_prob <= 1.0 or not 0.0 <= silent_prob <= 1.0:
            raise ValueError("approve_prob and silent_prob are probabilities in [0, 1]")
        if not 0.0 <= delay_min_s <= delay_max_s:
            raise ValueError("need 0 <= delay_min_s <= delay_max_s")
        self.rng = random.Random(seed * 7_919 + 404)
        self.approve_prob = approve_prob
        self.delay = (delay_min_s, delay_max_s)
        self.silent_prob = silent_prob
        self.counts = {"approved": 0, "rejected": 0, "silent": 0}

    def answer(self, decision: dict) -> Answer | None:
        """The answer to a ``proposed`` decision record (None: no answer)."""
        if self.silent_prob and self.rng.random() < self.silent_prob:
            self.counts["silent"] += 1
            return None
        delay = self.rng.uniform(*self.delay)
        if self.rng.random() < self.approve_prob:
            self.counts["approved"] += 1
            return Answer(delay, True, None)
        self.counts["rejected"] += 1
        return Answer(delay, False, REJECT_REASONS[self.rng.randrange(len(REJECT_REASONS))])
