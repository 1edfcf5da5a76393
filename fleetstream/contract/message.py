"""One input message, as every source (replay files, Kafka) hands it to the flow,
and the total order in which the engine applies input messages.

**The input order.**  The engine applies messages in the order of ``seq``: a
message's position in its ordered input lane.

- A replay file (``connectors/files.py``) is already in input order: ``seq`` is the
  line number.
- Kafka input (``connectors/kafka.py``) is merged into one sequence by
  :func:`kafka_order`: **(message timestamp in ms, topic rank, partition, offset)**,
  where the topic rank is the position of the topic in
  ``fleetstream.contract.events.INPUT_TOPICS`` (telemetry, fleet, orders,
  conditions, approvals, customers).  The key is total: two messages of one
  (topic, partition) differ by offset, so messages with equal timestamps, even
  hundreds stamped in one millisecond by an independent producer, have one
  defined order.  ``seq`` is then the message's position in that merged sequence
  (a counter kept in the source's recovery state, so a resumed run numbers the
  same messages the same way).
- ``fleetstream record`` writes the input topics to a replay file sorted by the same
  key, so ``fleetstream replay`` of a recording applies the messages in exactly
  the order the live engine did, and decides exactly as it did.

>>> sorted([kafka_order(5, 1, 0, 7), kafka_order(5, 0, 3, 9), kafka_order(4, 5, 0, 1),
...         kafka_order(5, 0, 3, 2)])
[(4, 5, 0, 1), (5, 0, 3, 2), (5, 0, 3, 9), (5, 1, 0, 7)]
"""

from __future__ import annotations

from typing import NamedTuple


def kafka_order(ts_ms: int, topic_rank: int, partition: int, offset: int) -> tuple:
    """The total order of Kafka input messages (see the module docstring)."""
    return (ts_ms, topic_rank, partition, offset)


class InMsg(NamedTuple):
    seq: int
    """Position in the input order (module docstring): replay line number, or the
    position in the Kafka merge."""
    topic: str
    key: str | None
    value: bytes
    partition: int | None = None
    offset: int | None = None
    lane: int = 0
    """The source partition (Bytewax input partition) the message came through: one
    ordered lane of input.  Stage 1 is keyed by it."""
