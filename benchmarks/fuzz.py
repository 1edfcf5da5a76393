"""Fuzz the input path: N mutated messages through decode + track + zone step.

A real recording (default ``replay_data/small``) is streamed in order; after each
real message come mutants of it (on average N / len(recording) of them), so the
mutants meet a zone engine with live vehicles and orders.  Every message must end
in exactly one of: routed (the zone engine ran), dead-lettered (with a reason) or
dropped (duplicate, stale ping).  Reported: crashes (an exception out of
decode/track/zone_step: must be 0), dead letters by reason, engine errors (a zone
engine exception, caught and dead-lettered: a bug in the zone engine), outputs
holding a non-finite number (NaN or infinity, written as ``null``: a bug) and the
throughput.  Decisions use event time only, so a run is repeatable: same seed,
same counts.

    python benchmarks/fuzz.py [-n 1000000] [--seed 1] [--replay replay_data/small]
                              [--json out.json] [--show 5]

The mutation kinds (``KINDS``, in benchmarks/fuzz_mutations.py) cover bytes (bit
flips, truncation, insertion, random bytes, oversize), JSON (a field set to a
hostile value of any type, removed, type-confused, numeric extremes, ids with
control characters or whitespace, deep nesting), event time (shifts from -30 years
to +30 years, float bit flips, odd RFC 3339 strings) and the envelope (topic, key
or value of the wrong type, another topic), plus resends (same event id; same
content under a new id).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable
from typing import Any

import orjson
from fleetstream.operators.pipeline import decode, end_of_input, track, zone_step
from fleetstream.operators.tracker import PartitionTracker

from fleetstream.contract.message import InMsg
from fleetstream.contract.outputs import TOPIC_ALERTS, TOPIC_DLQ
from fleetstream.contract.settings import EngineSettings, LimitsSettings
from fuzz_mutations import (  # noqa: F401 - re-exported (tests import them from fuzz)
    IDS, KINDS, NASTY_NUM, NASTY_OTHER, NASTY_STR, TS_SHIFTS, Mutator, _flip)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


# ------------------------------------------------------------------ accounting


def nonfinite_path(x: Any, path: str = "") -> str | None:
    """Where a record holds a NaN or an infinity (orjson writes them as ``null``)."""
    if isinstance(x, float):
        return None if math.isfinite(x) else (path or ".")
    if isinstance(x, dict):
        for k, v in x.items():
            p = nonfinite_path(v, f"{path}.{k}")
            if p:
                return p
    elif isinstance(x, (list, tuple)):
        for i, v in enumerate(x):
            p = nonfinite_path(v, f"{path}[{i}]")
            if p:
                return p
    return None


_NUM = re.compile(r"-?\d[\d,.e+-]*")


def reason_bucket(rec: dict) -> str:
    """A dead letter's reason without its particulars (numbers, quoted values)."""
    reason = rec.get("reason", "")
    reason = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", reason)
    reason = _NUM.sub("N", reason)
    return f"{rec.get('stage')}: {reason[:70]}"


class FuzzPipeline:
    """decode -> track (one lane) -> zone step, counting where each message ends."""

    def __init__(self, settings: EngineSettings | None = None,
                 limits: LimitsSettings | None = None,
                 zone_factory: Callable[[str], Any] | None = None):
        self.limits = limits or LimitsSettings()
        self.tracker = PartitionTracker.from_limits(self.limits)
        if zone_factory is None:
            from fleetstream.engine import default_zone_factory
            zone_factory = default_zone_factory(settings or EngineSettings(solver_workers=0))
        self.zone_factory = zone_factory
        self.zones: dict[str, Any] = {}
        self.fate: Counter[str] = Counter()          # routed / dead_letter / dropped / crash
        self.dlq: Counter[str] = Counter()           # dead letters by reason bucket
        self.drops: Counter[str] = Counter()
        self.outputs: Counter[str] = Counter()
        self.engine_errors: list[str] = []
        self.nonfinite: list[str] = []
        self.crashes: list[tuple[InMsg, str]] = []
        self.real_fates: list[str] = []              # fates of the unmutated messages
        self.last: list[tuple[str, dict]] = []       # records of the last message processed

    def process(self, msg: InMsg) -> str:
        """The fate of one message: ``routed``, ``dead_letter``, ``dropped``, ``held``
        (stage 1 holds it: too far ahead; its fate moves when it is released or
        refuted) or ``crash``.  Its records (dead letter or zone outputs, and those of
        held messages it released or refuted) are in ``last`` until the next call."""
        self.last = []
        try:
            fate = self._process(msg)
        except Exception:  # noqa: BLE001 - this is what the fuzzer looks for
            self.crashes.append((msg, traceback.format_exc(limit=6)))
            fate = "crash"
        self.fate[fate] += 1
        return fate

    def _process(self, msg: InMsg) -> str:
        ok, ev = decode(msg, self.limits)
        if not ok:
            self._dead(ev)
            return "dead_letter"
        mine = "held"  # too far ahead: held by stage 1 until the lane confirms or refutes it
        for verdict, what, m, e, _stall in track(self.tracker, msg, ev, self.limits):
            fate = self._one(verdict, what, m, e)
            if m is msg:
                mine = fate
            else:  # a held message released or refuted: its fate is known now
                self.fate["held"] -= 1
                self.fate[fate] += 1
        return mine

    def finish(self) -> None:
        """The input ended: held messages become dead letters (``end_of_input``)."""
        self.last = []
        for verdict, what, m, e, _stall in end_of_input(self.tracker):
            self.fate["held"] -= 1
            self.fate[self._one(verdict, what, m, e)] += 1

    def _one(self, verdict: str, what: Any, msg: InMsg, ev: Any) -> str:
        if verdict == "dlq":
            self._dead(what)
            return "dead_letter"
        if verdict == "drop":
            self.drops[what.split(":")[0].split(" event_id")[0]] += 1
            return "dropped"
        zone = self.zones.get(what)
        if zone is None:
            zone = self.zones[what] = self.zone_factory(what)
        for topic, rec in zone_step(zone, msg, ev):
            self.last.append((topic, rec))
            self.outputs[topic] += 1
            orjson.dumps(rec)  # must be plain JSON
            where = nonfinite_path(rec)
            if where:
                self.nonfinite.append(f"{topic}{where} (event {ev.event_id}, {ev.TYPE})")
            if topic == TOPIC_ALERTS and rec.get("kind") == "engine_error":
                self.engine_errors.append(rec["message"][:300])
            if topic == TOPIC_DLQ:
                self.dlq[reason_bucket(rec)] += 1
        return "routed"

    def _dead(self, rec: dict) -> None:
        self.last.append((TOPIC_DLQ, rec))
        orjson.dumps(rec)
        self.dlq[reason_bucket(rec)] += 1

    @property
    def total(self) -> int:
        return sum(self.fate.values())

    def summary(self) -> dict:
        return {"messages": self.total, "fate": dict(self.fate), "crashes": len(self.crashes),
                "engine_errors": len(self.engine_errors),
                "nonfinite_outputs": len(self.nonfinite), "zones": len(self.zones),
                "outputs": dict(self.outputs), "drops": dict(self.drops),
                "dead_letters": dict(self.dlq.most_common())}


# ------------------------------------------------------------------ run


def run(n: int, seed: int, replay: str, limits: LimitsSettings | None = None,
        progress: bool = True) -> tuple[FuzzPipeline, Mutator, float]:
    from fleetstream.connectors.files import read_replay

    limits = limits or LimitsSettings()
    real = list(read_replay(replay))
    pipe = FuzzPipeline(limits=limits)
    mut = Mutator(seed, limits)
    seq, done = 0, 0
    t0 = time.perf_counter()
    next_report = t0 + 10
    for i, msg in enumerate(real):
        pipe.real_fates.append(pipe.process(msg._replace(seq=seq)))
        seq += 1
        k = (i + 1) * n // len(real) - i * n // len(real)  # n in all, spread evenly
        for _ in range(k):
            pipe.process(mut.mutate(msg, seq))
            seq += 1
            done += 1
        if progress and time.perf_counter() > next_report:
            next_report += 10
            print(f"  {done:,} / {n:,} mutants, {time.perf_counter() - t0:.0f} s",
                  file=sys.stderr)
    pipe.finish()  # the end of the input: what stage 1 still holds is dead-lettered
    return pipe, mut, time.perf_counter() - t0


def templates(msgs: list[InMsg]) -> dict[str, tuple[str, dict]]:
    """The first real event of each type: ``{type: (topic, object)}``."""
    out: dict[str, tuple[str, dict]] = {}
    for m in msgs:
        try:
            o = orjson.loads(m.value)
        except (orjson.JSONDecodeError, TypeError):
            continue
        if isinstance(o, dict) and isinstance(o.get("type"), str):
            out.setdefault(o["type"], (m.topic, o))
    return out


def zone_decides(pipe: FuzzPipeline, zone: str, tmpl: dict[str, tuple[str, dict]], seq: int,
                 process: Callable[[InMsg], str] | None = None, minutes: int = 15) -> bool:
    """The frozen-zone probe: valid events later than every clock: a new vehicle's
    shift start in ``zone``, an order, then pings of the new vehicle a minute apart.
    True when, within ``minutes`` of event time, the zone decides about the order (a
    decision naming it, or an ``unassigned`` alert when no vehicle can take it yet).
    ``process``: how each probe message is processed (default ``pipe.process``)."""
    process = process or pipe.process
    state = pipe.zones[zone].state
    t = max(state.clock, float(getattr(pipe.tracker, "clock", state.clock)))
    vid = f"PROBE-V{seq}"
    ftopic, shift = tmpl["shift_start"]
    shift = dict(shift, event_id=f"probe-{seq}-s", vehicle_id=vid, driver_id=f"PROBE-D{seq}",
                 zone=zone, ts=t + 1, shift_end_ts=t + 8 * 3600)
    if process(InMsg(seq, ftopic, vid, orjson.dumps(shift))) != "routed":
        return False
    topic, order = tmpl["order_created"]
    oid = f"PROBE-{seq}"
    order = dict(order, event_id=f"probe-{seq}", order_id=oid, zone=zone, ts=t + 2,
                 window_start=t + 1800, window_end=t + 9000)
    if process(InMsg(seq, topic, oid, orjson.dumps(order))) != "routed":
        return False
    ptopic, ping = tmpl["ping"]
    start = shift.get("start") or {}
    ping = dict(ping, lat=start.get("lat", ping.get("lat")), lon=start.get("lon", ping.get("lon")))

    def named() -> bool:
        return any(t_ in ("fs.decisions", TOPIC_ALERTS) and oid in (r.get("order_ids") or [])
                   for t_, r in pipe.last)

    if named():
        return True
    for i in range(1, minutes + 1):
        p = dict(ping, event_id=f"probe-{seq}-{i}", vehicle_id=vid, ts=t + 2 + 60 * i)
        process(InMsg(seq + i, ptopic, vid, orjson.dumps(p)))
        if named():
            return True
    return False


def frozen_zones(pipe: FuzzPipeline, zones: list[str], tmpl: dict[str, tuple[str, dict]],
                 seq: int) -> list[str]:
    """The zones of ``zones`` that no longer decide (probed on a copy of the pipeline)."""
    import copy
    frozen = []
    for i, z in enumerate(zones):
        if z in pipe.zones and not zone_decides(copy.deepcopy(pipe), z, tmpl, seq + 100 * i):
            frozen.append(z)
    return frozen


def zone_clocks(pipe: FuzzPipeline) -> dict[str, float]:
    return {z: float(getattr(getattr(e, "state", None), "clock", float("nan")))
            for z, e in sorted(pipe.zones.items())}


def poison_report(pipe: FuzzPipeline, replay: str, limits: LimitsSettings) -> dict:
    """What the mutants did to the real stream: its messages' fates and the zone
    clocks, against a clean run of the same recording."""
    clean, _m, _s = run(0, 0, replay, limits, progress=False)
    changed = Counter(f"{a} -> {b}" for a, b in zip(clean.real_fates, pipe.real_fates) if a != b)
    cz, fz = zone_clocks(clean), zone_clocks(pipe)
    return {"real_fate_changes": dict(changed.most_common()),
            "real_routed": pipe.real_fates.count("routed"),
            "real_routed_clean": clean.real_fates.count("routed"),
            "zone_clock_lead_s": {z: round(fz[z] - cz[z], 1) for z in cz if z in fz},
            "zones_not_in_clean_run": len(set(fz) - set(cz)),
            "outputs_clean": dict(clean.outputs)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=1_000_000, help="mutated messages (default 10^6)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--replay", default=os.path.join(ROOT, "replay_data", "small"))
    ap.add_argument("--json", help="also write the summary here")
    ap.add_argument("--show", type=int, default=5, help="crashes and errors to print")
    ap.add_argument("--no-clean", action="store_true",
                    help="skip the clean run that measures what the mutants did to real data")
    args = ap.parse_args(argv)
    limits = LimitsSettings()
    pipe, mut, secs = run(args.n, args.seed, args.replay, limits)
    s = pipe.summary()
    s.update({"mutants": sum(mut.kinds.values()), "kinds": dict(sorted(mut.kinds.items())),
              "seconds": round(secs, 1), "seed": args.seed, "replay": args.replay})
    print(f"fuzz: {s['messages']:,} messages ({s['mutants']:,} mutants of "
          f"{s['messages'] - s['mutants']:,} real) in {secs:.0f} s "
          f"({s['messages'] / max(secs, 1e-9):,.0f}/s), seed {args.seed}")
    print("  fate: " + ", ".join(f"{k} {v:,}" for k, v in sorted(s["fate"].items())))
    print(f"  crashes {s['crashes']}, engine errors {s['engine_errors']}, "
          f"non-finite outputs {s['nonfinite_outputs']}, zones {s['zones']}")
    print("  dead letters by reason:")
    for reason, c in pipe.dlq.most_common(40):
        print(f"    {c:>9,}  {reason}")
    if len(pipe.dlq) > 40:
        print(f"    ... {len(pipe.dlq) - 40} more reasons")
    from fleetstream.connectors.files import read_replay
    real_zones = sorted({z for z in pipe.zones if not z.startswith("?")})
    tmpl = templates(list(read_replay(args.replay)))
    if not args.no_clean:
        clean, _m, _s = run(0, 0, args.replay, limits, progress=False)
        real_zones = sorted(clean.zones)
    s["frozen_zones"] = frozen = frozen_zones(pipe, real_zones, tmpl, 10 ** 12)
    print(f"  frozen zones (a later valid order not decided within 15 min): {len(frozen)} of "
          f"{len(real_zones)} {frozen or ''}")
    if not args.no_clean:
        s["poison"] = p = poison_report(pipe, args.replay, limits)
        print(f"  real messages routed {p['real_routed']:,} (clean run "
              f"{p['real_routed_clean']:,}); fate changes: {p['real_fate_changes'] or 'none'}")
        print(f"  zone clock ahead of the clean run's at the end (s): {p['zone_clock_lead_s']}; "
              f"zones the clean run does not have: {p['zones_not_in_clean_run']}")
        print(f"  outputs {s['outputs']} (clean run {p['outputs_clean']})")
    for msg, tb in pipe.crashes[:args.show]:
        print(f"CRASH on {msg!r:.300}\n{tb}")
    for e in pipe.engine_errors[:args.show]:
        print(f"ENGINE ERROR {e}")
    for e in pipe.nonfinite[:args.show]:
        print(f"NON-FINITE {e}")
    if args.json:
        with open(args.json, "wb") as f:
            f.write(orjson.dumps(s, option=orjson.OPT_INDENT_2))
    accounted = sum(s["fate"].values()) == s["messages"]
    return 0 if (s["crashes"] == 0 and accounted and not frozen) else 1


if __name__ == "__main__":
    sys.exit(main())
