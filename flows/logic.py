"""Thin Bytewax adapters around the plain operators (state in, snapshot out).

Items travel in **chunks**: a list of messages (or of ``(msg, event)``) in input
order, one per source batch or per adapter call, instead of one Bytewax item per
message.  Bytewax pays a fixed cost per item at every step and, between processes,
pickles each item on its own (about 35 us per item per hop on the dev machine);
a chunk pays it once.  Chunking changes no order: see below.

Each adapter flattens the chunks it receives and sorts the messages by input
``seq`` before applying them: Bytewax hands a stateful step the items of one key
in several calls, and items that crossed from several upstream workers arrive in
no fixed order.  Each step here has a single upstream instance per key (one source
partition, one router, one lane per zone), whose chunks arrive in the order they
were sent, so sorting within a call restores input order exactly: one worker and
many, one process and many, decide the same.

Live Kafka input is ordered too: its ``seq`` is the message timestamp in ms x 1000
+ offset mod 1000, and the source merges every input partition by timestamp
(connectors/kafka.py), so a live run decides like the file replay of the same
messages.  ``ordered=False`` keeps arrival order (for sources without a global
sequence).
"""

from __future__ import annotations

import gc

from typing import Any, Callable

from bytewax.operators import StatefulBatchLogic

from fleetstream.contract.outputs import TOPIC_DLQ
from fleetstream.contract.settings import LimitsSettings
from fleetstream.flows.lanes import LaneRouter
from fleetstream.operators.pipeline import InMsg, decode, end_of_input, track, zone_step
from fleetstream.operators.tracker import PartitionTracker
from fleetstream.operators.zone.engine import ZoneEngine

_seq = lambda msg: msg.seq  # noqa: E731
_item_seq = lambda item: item[0].seq  # noqa: E731


def _flatten(chunks: list, ordered: bool, key: Callable[[Any], int] = _seq) -> list:
    """The items of a call's chunks, in input order when ``ordered``."""
    items = [x for chunk in chunks for x in chunk]
    if ordered:
        items.sort(key=key)
    return items


class RouterLogic(StatefulBatchLogic):
    """One instance (a constant key) before stage 1 when there are several lanes:
    chunks of messages -> one chunk per lane, each message with its ``lane`` set
    (flows/lanes.py)."""

    def __init__(self, resume: dict | None, lanes: int, ordered: bool = True,
                 limits: LimitsSettings | None = None):
        limits = limits or LimitsSettings()
        self.router = (LaneRouter.restore(resume, limits) if resume
                       else LaneRouter(lanes, limits=limits))
        self.ordered = ordered

    def on_batch(self, values: list) -> tuple[list, bool]:
        lane = self.router.lane
        by_lane: dict[int, list[InMsg]] = {}
        for m in _flatten(values, self.ordered):
            k = lane(m)
            by_lane.setdefault(k, []).append(m._replace(lane=k))
        return [by_lane[k] for k in sorted(by_lane)], False

    def snapshot(self) -> dict:
        return self.router.snapshot()


class TrackerLogic(StatefulBatchLogic):
    """Stage 1 for one input lane: chunks of messages, decoded and tracked, out as
    ``("zone", zone, [(msg, event), ...])`` per zone and one
    ``("rejects", [(verdict, what, msg, event), ...])`` for the dead letters
    (``event`` None when decoding failed) and drops, each in input order."""

    def __init__(self, resume: dict | None, ordered: bool = True,
                 limits: LimitsSettings | None = None,
                 interrupted: Callable[[], bool] = lambda: False):
        self.limits = limits = limits or LimitsSettings()
        self.tracker = (PartitionTracker.restore(resume) if resume
                        else PartitionTracker.from_limits(limits))
        self.ordered = ordered
        self.interrupted = interrupted

    def on_batch(self, values: list) -> tuple[list, bool]:
        tracker, limits = self.tracker, self.limits
        zones: dict[str, list] = {}
        rejects: list = []
        for msg in _flatten(values, self.ordered):
            ok, ev = decode(msg, limits)
            if not ok:
                rejects.append(("dlq", ev, msg, None))
                continue
            for verdict, what, m, e, stall in track(tracker, msg, ev, limits):
                if verdict == "route":
                    evs = zones.setdefault(what, [])
                    evs.append((m, e))
                    if stall is not None:  # a stalled lane clock: alert in this zone
                        evs.append((m, stall))
                else:
                    rejects.append((verdict, what, m, e))
        out: list = [("zone", z, evs) for z, evs in zones.items()]
        if rejects:
            out.append(("rejects", rejects))
        return out, False

    def on_eof(self) -> tuple[list, bool]:
        """The input ended: messages still held (too far ahead, never confirmed) become
        dead letters, unless the run was interrupted (``--resume`` continues with
        them held, as an uninterrupted run would)."""
        if self.interrupted():
            return [], False
        rejects = [(v, what, m, e) for v, what, m, e, _s in end_of_input(self.tracker)]
        return ([("rejects", rejects)] if rejects else []), False

    def snapshot(self) -> dict:
        return self.tracker.snapshot()


GC_FREEZE_EVERY = 10_000
"""Events between two ``gc.freeze()`` calls of a worker process.  The zone state is
long-lived: without freezing, each full collection walks all of it (115-420 ms pauses,
6-7 per metro day, measured by benchmarks/event_cost.py); frozen objects are still
freed by reference counting.  Runtime tuning only: no decision depends on it."""

_gc_count = [0]


def _maybe_freeze(n: int) -> None:
    _gc_count[0] += n
    if _gc_count[0] >= GC_FREEZE_EVERY:
        _gc_count[0] = 0
        gc.freeze()


class ZoneLogic(StatefulBatchLogic):
    """Stage 2 for one zone: chunks ``("zone", zone, [(msg, event), ...])`` -> one
    chunk ``[(topic, record, n), ...]`` per call.  ``n`` counts this zone's outputs:
    the canonical order of the output files."""

    def __init__(self, resume: Any, factory: Callable[[str], ZoneEngine],
                 restore: Callable[[bytes], ZoneEngine], ordered: bool = True,
                 observer: Any = None):
        self.ordered = ordered
        self.engine: ZoneEngine | None = None
        self.n = 0
        self.factory = factory
        self.observer = observer  # flows/tap.py: metrics only, never a decision input
        self._resumed = resume is not None
        self._observed = False
        if resume is not None:
            blob, self.n = resume
            self.engine = restore(blob)

    def on_batch(self, values: list) -> tuple[list, bool]:
        if self.engine is None:
            self.engine = self.factory(values[0][1])
        out = []
        eng = self.engine
        if self.observer is not None and not self._observed:
            self._observed = True  # before the batch: the baseline of the counters
            self.observer.on_zone(eng.zone, eng, self._resumed)
        k = 0
        for msg, ev in _flatten([v[2] for v in values], self.ordered, _item_seq):
            k += 1
            for topic, rec in zone_step(eng, msg, ev):
                self.n += 1
                out.append((topic, rec, self.n))
        _maybe_freeze(k)
        if self.observer is not None:
            self.observer.on_zone_stats(eng.zone, eng.stats)
        return ([out] if out else []), False

    def snapshot(self) -> Any:
        assert self.engine is not None
        return (self.engine.snapshot(), self.n)


def is_dlq(topic: str) -> bool:
    return topic == TOPIC_DLQ


__all__ = ["RouterLogic", "TrackerLogic", "ZoneLogic", "InMsg"]
