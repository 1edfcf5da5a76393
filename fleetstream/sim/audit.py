"""Audit of a closed-loop day: did every order end, and was every unserved customer told?

Reads only what the loop saw: the engine's output records (``Simulation.outputs``) and
the world's own truth (orders, attempts).  Used by tests/operators/test_recovery_day.py
and by the measurement in docs/routing.md, "Recovery of work".

- ``terminal``: outcome records per order with a terminal outcome (delivered, failed,
  cancelled, expired, not_served); every order must have exactly one;
- ``silent``: orders with none (the customer never learned how it ended);
- ``untold``: orders whose terminal outcome is not delivered or cancelled and whose
  customer got no ``order_not_served`` message;
- ``retryable_failed``: orders with a failed attempt for a retryable reason (the world's
  truth: not home or no access), of which ``re_attempted`` got another attempt and
  ``explained`` ended with an outcome and an order_not_served message.
"""

from __future__ import annotations

from typing import Any

TERMINAL = ("delivered", "failed", "cancelled", "expired", "not_served")


def audit(sim: Any) -> dict:
    """Counts (and a few example order ids) for one closed-loop day."""
    outcomes: dict[str, list[str]] = {}
    told: set[str] = set()
    for topic, _key, rec in sim.outputs:
        if topic == "fs.outcomes" and rec.get("outcome") in TERMINAL:
            outcomes.setdefault(rec["order_id"], []).append(rec["outcome"])
        elif topic == "fs.notifications" and rec.get("kind") == "order_not_served":
            told.add(rec["order_id"])
    attempts: dict[str, list[dict]] = {}
    for a in sim.truth_attempts:
        attempts.setdefault(a["order_id"], []).append(a)
    ids = [o.id for o in sim.world.orders]
    silent = [oid for oid in ids if oid not in outcomes]
    double = [oid for oid in ids if len(outcomes.get(oid, ())) > 1]
    untold = [oid for oid in ids if outcomes.get(oid) and outcomes[oid][-1] not in
              ("delivered", "cancelled") and oid not in told]
    retryable = [oid for oid in ids
                 if any(not (a["home"] and a["access_ok"]) for a in attempts.get(oid, ()))]
    re_attempted = [oid for oid in retryable if len(attempts[oid]) > 1]
    explained = [oid for oid in retryable if oid not in re_attempted
                 and outcomes.get(oid) and oid in told]
    finals: dict[str, int] = {}
    for oid in ids:
        for x in outcomes.get(oid, ()):
            finals[x] = finals.get(x, 0) + 1
    return {
        "orders": len(ids), "outcomes": finals,
        "silent": len(silent), "multiple_terminal": len(double), "untold": len(untold),
        "retryable_failed": len(retryable), "re_attempted": len(re_attempted),
        "re_attempted_delivered": sum(1 for oid in re_attempted
                                      if outcomes.get(oid, [""])[-1] == "delivered"),
        "explained": len(explained),
        "neither": len(retryable) - len(re_attempted) - len(explained),
        "handed_over": sum(1 for o in sim.world.orders if getattr(o, "handovers", 0)),
        "examples": {"silent": silent[:5], "untold": untold[:5], "double": double[:5]},
    }
