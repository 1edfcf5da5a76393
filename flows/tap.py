"""The flow's observation tap: counts inputs, dead letters and outputs without
changing them, for the metrics endpoint (fleetstream/observe/).

The tap is off unless an observer is installed (``install``) before the flow is
built.  Off, the flow is the same graph as without it and each zone call pays one
``is None`` check.  On, ``build_flow`` adds two ``inspect`` steps (inputs before
decoding, outputs just before the sinks), wraps the source to see its partitions
being built (readiness) and each zone reports its engine's cumulative counters
after every call (ETA error and interval coverage as the models learn them, solver
guard hits).  An ``inspect`` step passes its items on untouched: the outputs are
the same bytes with the tap on or off (tests/observe/test_tap.py).

The flow layer reads no clock and imports no metrics library: it hands plain
aggregates to the observer (any object with the ``FlowObserver`` methods), which
timestamps and exports them.  Nothing here ever feeds back into a decision.

Label values come from input data (topics, dead-letter reasons, zones), so they
are normalised to a short identifier here and capped by the observer.

>>> reason_label("lat: must be <= 90, got 123")
'lat'
>>> reason_label("malformed JSON: unexpected end of data")
'malformed_json'
>>> reason_label("expected a JSON object, got list")
'expected_a_json_object'
>>> reason_label("engine error KeyError: 'V9' (at step:12)")
'engine_error_keyerror'
>>> reason_label("stale ping: older than the vehicle's last")
'stale_ping'
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from fleetstream.contract.outputs import TOPIC_ALERTS, TOPIC_DECISIONS, TOPIC_DLQ

DROPS = "_drops"  # the replay-only topic of duplicate / stale inputs (flows/engine.py)

_NON_ID = re.compile(r"[^a-z0-9_.]+")


def reason_label(reason: Any, limit: int = 40) -> str:
    """A dead-letter or drop reason as a bounded label: the text before its first
    ``:`` or ``,`` (the field, or the kind of problem), lower-cased, as an identifier."""
    text = str(reason)
    for sep in (":", ",", " event_id", "("):
        text = text.split(sep, 1)[0]
    label = _NON_ID.sub("_", text.strip().lower()).strip("_")[:limit]
    return label or "unknown"


class FlowObserver(Protocol):
    """What the tap calls (fleetstream/observe/metrics.py implements it)."""

    def on_inputs(self, by_topic: dict[str, int]) -> None: ...

    def on_outputs(self, agg: "OutputAggregate") -> None: ...

    def on_zone(self, zone: str, engine: Any, resumed: bool) -> None: ...

    def on_zone_stats(self, zone: str, stats: dict[str, float]) -> None: ...

    def on_source_listed(self, parts: list[str]) -> None: ...

    def on_source_built(self, part: str, resumed: bool, partition: Any) -> None: ...


_OBSERVER: list[FlowObserver | None] = [None]


def install(observer: FlowObserver | None) -> None:
    """Install (or, with None, remove) the observer of the flows built from now on."""
    _OBSERVER[0] = observer


def current() -> FlowObserver | None:
    return _OBSERVER[0]


class OutputAggregate:
    """The counts of one chunk of outputs ``(topic, sort_prefix, record)``."""

    __slots__ = ("topics", "decisions", "alerts", "dead_letters", "drops", "zone_ts", "errors",
                 "dlq")

    def __init__(self) -> None:
        self.topics: dict[str, int] = {}
        self.decisions: dict[tuple[str, str], int] = {}
        self.alerts: dict[tuple[str, str], int] = {}
        self.dead_letters: dict[tuple[str, str], int] = {}
        self.drops: dict[str, int] = {}
        self.zone_ts: dict[str, float] = {}
        """Latest event time output per zone (for the lag gauges)."""
        self.errors: list[dict] = []
        """``engine_error`` alerts (zone, triggering event), for a log line each."""
        self.dlq: list[dict] = []
        """Dead-letter records, for (rate-limited) log lines."""

    @classmethod
    def of(cls, chunk: list) -> "OutputAggregate":
        a = cls()
        topics = a.topics
        for topic, _prefix, rec in chunk:
            topics[topic] = topics.get(topic, 0) + 1
            if topic == DROPS:
                k = reason_label(rec.get("reason", ""))
                a.drops[k] = a.drops.get(k, 0) + 1
                continue
            if topic == TOPIC_DLQ:
                stage = str(rec.get("stage", "unknown"))
                k2 = (stage, reason_label(rec.get("reason", "")))
                a.dead_letters[k2] = a.dead_letters.get(k2, 0) + 1
                a.dlq.append(rec)
                continue
            if topic == TOPIC_DECISIONS:
                k2 = (str(rec.get("kind")), str(rec.get("status")))
                a.decisions[k2] = a.decisions.get(k2, 0) + 1
            elif topic == TOPIC_ALERTS:
                k2 = (str(rec.get("kind")), str(rec.get("severity")))
                a.alerts[k2] = a.alerts.get(k2, 0) + 1
                if k2[0] == "engine_error":
                    a.errors.append(rec)
            zone, ts = rec.get("zone"), rec.get("ts")
            if isinstance(zone, str) and isinstance(ts, (int, float)):
                if ts > a.zone_ts.get(zone, float("-inf")):
                    a.zone_ts[zone] = float(ts)
        return a


def inputs_inspector(observer: FlowObserver):
    def inspect(_step_id: str, chunk: list) -> None:
        by_topic: dict[str, int] = {}
        for m in chunk:
            by_topic[m.topic] = by_topic.get(m.topic, 0) + 1
        observer.on_inputs(by_topic)
    return inspect


def outputs_inspector(observer: FlowObserver):
    def inspect(_step_id: str, chunk: list) -> None:
        observer.on_outputs(OutputAggregate.of(chunk))
    return inspect


class TappedSource(FixedPartitionedSource):
    """A source that tells the observer when its partitions are listed and built
    (a partition built with a resume state: state restored).  Items pass untouched."""

    def __init__(self, inner: FixedPartitionedSource, observer: FlowObserver):
        self.inner = inner
        self.observer = observer

    def list_parts(self) -> list[str]:
        parts = self.inner.list_parts()
        self.observer.on_source_listed(list(parts))
        return parts

    def build_part(self, step_id: str, for_part: str, resume_state: Any) -> StatefulSourcePartition:
        part = self.inner.build_part(step_id, for_part, resume_state)
        self.observer.on_source_built(for_part, resume_state is not None, part)
        return part


def tap_source(source: Any, observer: FlowObserver | None) -> Any:
    if observer is None or not isinstance(source, FixedPartitionedSource):
        return source
    return TappedSource(source, observer)
