"""What the zone engine says about its own inputs, state and clock (docs/limits.md):
the alert and outcome kinds that carry it.

These kinds extend the lists of the output contract (``fleetstream.contract.outputs``,
whose kind lists may grow: docs/versioning.md):

- ``CONDITION_CLAMPED`` (fs.alerts, warning): a condition's factor, or the product of
  the conditions overlapping it, was clamped to ``limits.condition_factor_min/max``;
- ``CLOCK_STALLED`` (fs.alerts, warning): the zone clock did not advance over
  ``limits.clock_stall_events`` consecutive events;
- ``EXPIRED`` (fs.outcomes): an order got no delivered/failed/cancelled event by its
  window end plus ``limits.order_grace_s``; ``reason`` says so.
"""

from __future__ import annotations

CONDITION_CLAMPED = "condition_clamped"
CLOCK_STALLED = "clock_stalled"
EXPIRED = "expired"
