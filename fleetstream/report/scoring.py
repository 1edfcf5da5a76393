"""Run a replay through the engine in process with an observer on each zone engine.

The observer captures every prediction when its label arrives (progressive
validation: each prediction was made before the outcome was known, and the model
learned from it only afterwards); :mod:`fleetstream.report.scorecard` joins them
with the ground truth.  Also: the refusal of a replay without ``truth/`` and the
per-driver workload seen in the recorded stream.
"""

from __future__ import annotations

import os
import sys
import time

import orjson

from fleetstream.connectors.files import read_replay
from fleetstream.contract.settings import Settings
from fleetstream.engine import LocalEngine
from fleetstream.report.metrics import is_num
from fleetstream.wiring import build_zone_engine

TRUTH_FILES = ("legs.jsonl.gz", "attempts.jsonl.gz", "orders.jsonl.gz")


class MissingTruth(ValueError):
    """The replay folder has no ground truth to score against."""


def check_replay(replay: str) -> None:
    """Raise ``FileNotFoundError`` / :class:`MissingTruth` with one clear line."""
    if not os.path.isdir(replay):
        raise FileNotFoundError(f"replay folder {replay!r} does not exist")
    if not any(
        os.path.exists(os.path.join(replay, n)) for n in ("events.jsonl.gz", "events.jsonl")
    ):
        raise FileNotFoundError(f"{replay!r} is not a replay folder (no events.jsonl.gz)")
    missing = [n for n in TRUTH_FILES if not os.path.exists(os.path.join(replay, "truth", n))]
    if missing:
        raise MissingTruth(
            f"{replay!r} has no ground truth (truth/{missing[0]} missing): "
            "evaluate needs a recording made by `fleetstream simulate`"
        )


class Collector:
    """Observer attached to every zone engine during the evaluation run."""

    def __init__(self) -> None:
        self.arrivals: list[dict] = []
        self.outcomes: list[dict] = []
        self.legs: list[dict] = []

    def __call__(self, kind: str, payload: dict) -> None:
        if kind == "arrival":
            self.arrivals.append(
                {
                    **payload,
                    "snaps": [dict(s) for s in payload["snaps"]],
                    "wsnaps": {k: dict(v) for k, v in payload["wsnaps"].items()},
                }
            )
        elif kind == "outcome":
            self.outcomes.append(
                {
                    **payload,
                    "snaps": [],
                    "wsnaps": {k: dict(v) for k, v in payload["wsnaps"].items()},
                }
            )
        elif kind == "leg":
            x = payload.get("x") or {}
            self.legs.append(
                {
                    "zone": payload["zone"],
                    "ratio": payload["ratio"],
                    "pred": payload["pred"],
                    "hist": payload["hist"],
                    "dist_km": x.get("dist_km"),
                    "provider_s": x.get("provider_s"),
                }
            )


class Workload:
    """Per-driver workload seen in the recorded stream: shifts and stops reached.  A
    row per vehicle: ``stops`` (stops reached, pickups included), ``hours`` (shift
    start to shift end, or to its last stop without a shift end) and ``work_h`` (shift
    start to its last stop reached: its working time)."""

    def __init__(self) -> None:
        self.shifts: dict[str, dict] = {}

    def see(self, topic: str, value: bytes) -> None:
        if topic == "fs.fleet" and b"shift_" in value:
            try:
                ev = orjson.loads(value)
            except orjson.JSONDecodeError:
                return
            if not isinstance(ev, dict) or not isinstance(ev.get("vehicle_id"), str):
                return
            if ev.get("type") == "shift_start" and is_num(ev.get("ts")):
                self.shifts.setdefault(
                    ev["vehicle_id"],
                    {
                        "vehicle": ev["vehicle_id"],
                        "driver": str(ev.get("driver_id", "")),
                        "fleet_type": str(ev.get("fleet_type", "unknown")),
                        "start": ev["ts"],
                        "end": None,
                        "stops": 0,
                        "last": ev["ts"],
                    },
                )
            elif (
                ev.get("type") == "shift_end"
                and ev["vehicle_id"] in self.shifts
                and is_num(ev.get("ts"))
            ):
                self.shifts[ev["vehicle_id"]]["end"] = ev["ts"]
        elif topic == "fs.orders" and b"stop_arrived" in value:
            try:
                ev = orjson.loads(value)
            except orjson.JSONDecodeError:
                return
            if isinstance(ev, dict) and ev.get("type") == "stop_arrived":
                sh = self.shifts.get(ev.get("vehicle_id"))
                if sh is not None and is_num(ev.get("ts")):
                    sh["stops"] += 1
                    sh["last"] = max(sh["last"], ev["ts"])

    def rows(self) -> list[dict]:
        out = []
        for vid in sorted(self.shifts):
            s = self.shifts[vid]
            end = s["end"] if s["end"] is not None else s["last"]
            out.append(
                {
                    "vehicle": vid,
                    "driver": s["driver"],
                    "fleet_type": s["fleet_type"],
                    "stops": s["stops"],
                    "hours": max(0.0, (end - s["start"]) / 3600),
                    "work_h": max(0.0, (s["last"] - s["start"]) / 3600),
                }
            )
        return out


def run_engine(
    replay: str,
    settings: Settings,
    models_dir: str | None = None,
    progress: bool = True,
    seats: str = "learned",
    warm: dict | None = None,
) -> tuple[Collector, LocalEngine, list[tuple], float, Workload, int]:
    """``warm``: each zone's seats and customer records from the days before
    (fleetstream/carry.py), instead of a cold (or ``models_dir``) start."""
    from fleetstream.carry import warm_factory

    col = Collector()
    work = Workload()

    def factory(zone: str):
        eng = build_zone_engine(zone, settings.engine, models_dir=models_dir, kind=seats)
        eng.observer = col
        return eng

    engine = LocalEngine(settings.engine, zone_factory=warm_factory(factory, warm))
    outputs: list[tuple] = []
    t0 = time.perf_counter()
    n = 0
    for msg in read_replay(replay):
        work.see(msg.topic, msg.value)
        outputs.extend(engine.process(msg))
        n += 1
        if progress and n % 50000 == 0:
            print(f"  evaluated {n:,} events", file=sys.stderr, flush=True)
    return col, engine, outputs, time.perf_counter() - t0, work, n
