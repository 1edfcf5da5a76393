"""In-process engine: the Bytewax flow's steps run one message at a time.

Used by the closed-loop simulator (which must see the decisions as the flow
would make them) and by tests.  Same steps, same order as ``flows/engine.py``:
decode, stage 1 per entity, stage 2 per zone.

>>> from fleetstream.operators.pipeline import InMsg
>>> eng = LocalEngine()
>>> eng.process(InMsg(0, "fs.telemetry", "v1", b"not json"))[0][0]
'fs.dlq'
"""

from __future__ import annotations

from typing import Any, Callable

from fleetstream.contract.outputs import TOPIC_DLQ
from fleetstream.contract.settings import EngineSettings, LimitsSettings
from fleetstream.operators.pipeline import (InMsg, decode, output_key, stage1_key, track,
                                          zone_step, end_of_input)
from fleetstream.operators.tracker import PartitionTracker
from fleetstream.operators.zone.engine import ZoneEngine

Output = tuple[str, str, dict]  # (topic, key, record)


def default_zone_factory(settings: EngineSettings, limits: LimitsSettings | None = None
                         ) -> Callable[[str], ZoneEngine]:
    """The zone engine fleetstream runs by default: the best models and routing
    strategy installed (River models and OR-Tools when available), with the run's
    ``[limits]`` (None: their defaults)."""
    from fleetstream.wiring import build_zone_engine
    return lambda zone: build_zone_engine(zone, settings, limits=limits)


class LocalEngine:
    def __init__(self, settings: EngineSettings | None = None,
                 zone_factory: Callable[[str], ZoneEngine] | None = None,
                 limits: LimitsSettings | None = None):
        self.settings = settings or EngineSettings()
        self.limits = limits or LimitsSettings()
        self.zone_factory = zone_factory or default_zone_factory(self.settings, self.limits)
        self.trackers: dict[str, PartitionTracker] = {}
        self.zones: dict[str, ZoneEngine] = {}
        self.drops: dict[str, int] = {}

    def process(self, msg: InMsg) -> list[Output]:
        ok, ev = decode(msg, self.limits)
        if not ok:
            return [(TOPIC_DLQ, output_key(TOPIC_DLQ, ev), ev)]
        k = stage1_key(msg)
        tracker = self.trackers.get(k)
        if tracker is None:
            tracker = self.trackers[k] = PartitionTracker.from_limits(self.limits)
        return self._outputs(track(tracker, msg, ev, self.limits))

    def finish(self) -> list[Output]:
        """The input ended: messages still held by a lane (too far ahead of its
        watermark, never confirmed; docs/limits.md) become dead letters."""
        out: list[Output] = []
        for k in sorted(self.trackers):
            out += self._outputs(end_of_input(self.trackers[k]))
        return out

    def _outputs(self, verdicts: list) -> list[Output]:
        res: list[Output] = []
        for verdict, what, m, e, stall in verdicts:
            if verdict == "dlq":
                res.append((TOPIC_DLQ, output_key(TOPIC_DLQ, what), what))
                continue
            if verdict == "drop":
                reason = what.split(":")[0].split(" event_id")[0]
                self.drops[reason] = self.drops.get(reason, 0) + 1
                continue
            zone = self.zones.get(what)
            if zone is None:
                zone = self.zones[what] = self.zone_factory(what)
            out = zone_step(zone, m, e)
            if stall is not None:  # the lane's clock stalled: the flow's rule
                out = out + zone_step(zone, m, stall)
            res += [(t, output_key(t, r), r) for t, r in out]
        return res

    def stats(self) -> dict[str, Any]:
        agg: dict[str, float] = {}
        for z in self.zones.values():
            for k, v in z.stats.items():
                agg[k] = agg.get(k, 0) + v
        return {"zones": len(self.zones), "drops": dict(self.drops), **agg}
