"""One input message, as every source (replay files, Kafka) hands it to the flow."""

from __future__ import annotations

from typing import NamedTuple


class InMsg(NamedTuple):
    seq: int
    topic: str
    key: str | None
    value: bytes
    partition: int | None = None
    offset: int | None = None
    lane: int = 0
    """The source partition (Bytewax input partition) the message came through: one
    ordered lane of input.  Stage 1 is keyed by it."""
