"""Thin Bytewax adapters around the plain operators (state in, snapshot out).

Each adapter sorts the batch it receives by input ``seq`` before applying it:
Bytewax hands a stateful step all the items of one key for an epoch together,
but items that crossed from several upstream workers arrive in no fixed order.
Sorting restores input order, so one worker and many decide the same.

Live Kafka input is ordered too: its ``seq`` is the message timestamp in ms x 1000
+ offset mod 1000, and the source merges every input partition by timestamp
(connectors/kafka.py), so a live run decides like the file replay of the same
messages.  ``ordered=False`` keeps arrival order (for sources without a global
sequence).
"""

from __future__ import annotations

from typing import Any, Callable

from bytewax.operators import StatefulBatchLogic

from fleetstream.contract.outputs import TOPIC_DLQ
from fleetstream.contract.settings import LimitsSettings
from fleetstream.flows.lanes import LaneRouter
from fleetstream.operators.pipeline import InMsg, decode, track, zone_step
from fleetstream.operators.tracker import PartitionTracker
from fleetstream.operators.zone.engine import ZoneEngine

_seq = lambda msg: msg.seq  # noqa: E731


class RouterLogic(StatefulBatchLogic):
    """One instance (a constant key) before stage 1 when there are several lanes:
    ``msg`` -> ``msg`` with its ``lane`` set (flows/lanes.py)."""

    def __init__(self, resume: dict | None, lanes: int, ordered: bool = True,
                 limits: LimitsSettings | None = None):
        limits = limits or LimitsSettings()
        self.router = (LaneRouter.restore(resume, limits) if resume
                       else LaneRouter(lanes, limits=limits))
        self.ordered = ordered

    def on_batch(self, values: list) -> tuple[list, bool]:
        if self.ordered:
            values.sort(key=_seq)
        lane = self.router.lane
        return [m._replace(lane=lane(m)) for m in values], False

    def snapshot(self) -> dict:
        return self.router.snapshot()


class TrackerLogic(StatefulBatchLogic):
    """Stage 1 for one input lane: ``msg`` -> decoded and tracked, as
    ``(verdict, what, msg, event)``: ``route`` (``what`` = zone), ``drop`` (reason)
    or ``dlq`` (dead-letter record; ``event`` is None when decoding failed)."""

    def __init__(self, resume: dict | None, ordered: bool = True,
                 limits: LimitsSettings | None = None):
        self.limits = limits = limits or LimitsSettings()
        self.tracker = (PartitionTracker.restore(resume) if resume
                        else PartitionTracker.from_limits(limits))
        self.ordered = ordered

    def on_batch(self, values: list) -> tuple[list, bool]:
        if self.ordered:
            values.sort(key=_seq)
        out = []
        tracker, limits = self.tracker, self.limits
        for msg in values:
            ok, ev = decode(msg, limits)
            if not ok:
                out.append(("dlq", ev, msg, None))
                continue
            verdict, what = track(tracker, msg, ev)
            out.append((verdict, what, msg, ev))
        return out, False

    def snapshot(self) -> dict:
        return self.tracker.snapshot()


class ZoneLogic(StatefulBatchLogic):
    """Stage 2 for one zone: items ``(zone, msg, event)`` -> ``(topic, record, n)``.
    ``n`` counts this zone's outputs: the canonical order of the output files."""

    def __init__(self, resume: Any, factory: Callable[[str], ZoneEngine],
                 restore: Callable[[bytes], ZoneEngine], ordered: bool = True):
        self.ordered = ordered
        self.engine: ZoneEngine | None = None
        self.n = 0
        self.factory = factory
        if resume is not None:
            blob, self.n = resume
            self.engine = restore(blob)

    def on_batch(self, values: list) -> tuple[list, bool]:
        if self.ordered:
            values.sort(key=lambda item: item[1].seq)
        if self.engine is None:
            self.engine = self.factory(values[0][0])
        out = []
        eng = self.engine
        for _zone, msg, ev in values:
            for topic, rec in zone_step(eng, msg, ev):
                self.n += 1
                out.append((topic, rec, self.n))
        return out, False

    def snapshot(self) -> Any:
        assert self.engine is not None
        return (self.engine.snapshot(), self.n)


def is_dlq(topic: str) -> bool:
    return topic == TOPIC_DLQ


__all__ = ["RouterLogic", "TrackerLogic", "ZoneLogic", "InMsg"]
