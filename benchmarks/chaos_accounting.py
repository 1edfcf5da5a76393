"""The accounting of the kill -9 chaos run (benchmarks/chaos.py): output records and results.

This module holds how chaos.py reads and compares output folders: the record id
a consumer dedupes each output file by (``ID_FIELDS``, :func:`record_id`), the
record digests of a file or folder (:func:`read_records`, :func:`read_dir`,
final or ``raw/`` view), the lost / changed / extra comparison
(:func:`compare`), the progress measures a kill point is placed by
(:func:`raw_bytes`, :func:`events_read`), the delivered view folded in at each
kill (:func:`_deliver`) and the result records (:class:`KillPoint`,
:class:`ChaosResult` with its report).  chaos.py re-exports every name.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field

import orjson

ID_FIELDS = {
    "fs.decisions": "decision_id",
    "fs.eta": "eta_id",
    "fs.alerts": "alert_id",
    "fs.notifications": "notification_id",
    "fs.outcomes": "outcome_id",
}
FILES = list(ID_FIELDS) + ["fs.dlq", "_drops"]
_READ = re.compile(rb"read ([\d,]+) events")


def record_id(topic: str, rec: dict) -> str:
    """The id a consumer dedupes ``rec`` of ``topic`` by."""
    if topic in ID_FIELDS:
        return str(rec[ID_FIELDS[topic]])
    if topic == "fs.dlq":
        return f"{rec.get('source_topic')}|{rec.get('seq')}|{rec.get('stage')}"
    return str(rec.get("seq"))


def _digest(b: bytes) -> bytes:
    return hashlib.blake2b(b, digest_size=16).digest()


def read_records(path: str, raw: bool) -> tuple[dict[str, bytes], int, int]:
    """``{id: digest of the record bytes}`` of one output file, the number of
    duplicate ids in it and whether the last line was torn (no newline).
    ``raw``: lines carry the sort prefix and a tab (``OUT/raw/``)."""
    recs: dict[str, bytes] = {}
    dups = torn = 0
    if not os.path.exists(path):
        return recs, 0, 0
    topic = os.path.basename(path)[:-len(".jsonl")]
    with open(path, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    if lines and lines[-1]:
        torn = 1  # a write cut by the kill: not a complete record
    for line in lines[:-1]:
        if not line.strip():
            continue
        body = line.split(b"\t", 1)[1] if raw else line
        rid = record_id(topic, orjson.loads(body))
        d = _digest(body)
        if rid in recs:
            dups += 1
            if recs[rid] != d:  # the same id twice with different bytes in one file
                recs[rid + "#conflict"] = d
            continue
        recs[rid] = d
    return recs, dups, torn


def read_dir(out: str, raw: bool) -> tuple[dict[str, dict[str, bytes]], int, int]:
    base = os.path.join(out, "raw") if raw else out
    res, dups, torn = {}, 0, 0
    for t in FILES:
        r, d, tn = read_records(os.path.join(base, t + ".jsonl"), raw)
        res[t] = r
        dups += d
        torn += tn
    return res, dups, torn


def compare(ref: dict[str, dict[str, bytes]], got: dict[str, dict[str, bytes]]) -> dict:
    """lost / changed / extra per topic and in total."""
    per: dict[str, dict[str, int]] = {}
    for t in FILES:
        a, b = ref.get(t, {}), got.get(t, {})
        per[t] = {"ref": len(a), "lost": sum(1 for k in a if k not in b),
                  "changed": sum(1 for k, v in a.items() if k in b and b[k] != v),
                  "extra": sum(1 for k in b if k not in a)}
    tot = {k: sum(p[k] for p in per.values()) for k in ("ref", "lost", "changed", "extra")}
    return {"total": tot, "per_topic": per}


def raw_bytes(out: str) -> int:
    d = os.path.join(out, "raw")
    try:
        return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
    except OSError:
        return 0


def events_read(log_path: str) -> int:
    try:
        with open(log_path, "rb") as f:
            hits = _READ.findall(f.read())
    except OSError:
        return 0
    return int(hits[-1].replace(b",", b"")) if hits else 0


@dataclass
class KillPoint:
    index: int
    target: float                 # fraction of the run (output bytes or events)
    killed: bool = False          # False: the run ended before this point
    at: float = 0.0               # fraction of the run's output bytes actually written
    resumed_from_bytes: int = 0   # raw bytes kept by the resume (its snapshot)
    seconds_alive: float = 0.0
    raw_bytes_at_kill: int = 0
    events_read_at_kill: int = 0
    torn_lines: int = 0
    new_records: int = 0          # delivered for the first time by this segment
    seen_before: int = 0          # same id and bytes as an earlier delivery (kept or re-sent)
    lost: int = 0
    changed: int = 0
    extra: int = 0
    max_ts: float = 0.0


@dataclass
class ChaosResult:
    scenario: str
    seed: int
    by: str
    points: list[KillPoint] = field(default_factory=list)
    final: dict = field(default_factory=dict)
    delivered: dict = field(default_factory=dict)
    final_byte_identical: bool = False
    final_duplicate_ids: int = 0
    reference_seconds: float = 0.0
    chaos_seconds: float = 0.0
    resumes: int = 0

    @property
    def killed(self) -> int:
        return sum(1 for p in self.points if p.killed)

    @property
    def ok(self) -> bool:
        bad = ("lost", "changed", "extra")
        return (all(self.final["total"][k] == 0 for k in bad)
                and all(self.delivered["total"][k] == 0 for k in bad)
                and self.final_duplicate_ids == 0)

    def render(self) -> str:
        f, d = self.final["total"], self.delivered["total"]
        lines = [f"chaos {self.scenario}: {self.killed} kill -9 points (seed {self.seed}, by "
                 f"{self.by}), {self.resumes} resumes, {self.chaos_seconds:.0f} s "
                 f"(reference run {self.reference_seconds:.0f} s)",
                 "  #  target  at    resumed_from  alive_s  raw_bytes    events  torn  "
                 "new_recs  seen_bf  lost changed extra"]
        for p in self.points:
            if p.index == 0:
                lines.append(f"final resume: lost {p.lost}, changed {p.changed}, extra "
                             f"{p.extra} (attributed to the run to the end)")
                continue
            if not p.killed:
                lines.append(f"{p.index:>3}  {p.target:6.1%}  run ended before this point")
                continue
            lines.append(f"{p.index:>3}  {p.target:6.1%} {p.at:6.1%} "
                         f"{p.resumed_from_bytes:>12,} {p.seconds_alive:7.1f} "
                         f"{p.raw_bytes_at_kill:>10,} {p.events_read_at_kill:>9,} "
                         f"{p.torn_lines:>5} {p.new_records:>9,} {p.seen_before:>8,} "
                         f"{p.lost:>5} {p.changed:>7} {p.extra:>5}")
        lines.append(f"final files: {f['ref']:,} reference records; lost {f['lost']}, "
                     f"changed {f['changed']}, extra {f['extra']}, duplicate ids "
                     f"{self.final_duplicate_ids}; byte-identical to the reference: "
                     f"{'yes' if self.final_byte_identical else 'NO'}")
        lines.append(f"delivered (every line ever in raw/): lost {d['lost']}, changed "
                     f"{d['changed']}, extra {d['extra']}")
        for t, p in self.final["per_topic"].items():
            if p["lost"] or p["changed"] or p["extra"]:
                lines.append(f"  {t}: {p}")
        return "\n".join(lines)


_TS_CACHE: dict[str, dict[str, float]] = {}


def _ts_of(ref: str, topic: str, rid: str) -> float:
    key = os.path.join(ref, topic)
    if key not in _TS_CACHE:
        m: dict[str, float] = {}
        with open(os.path.join(ref, topic + ".jsonl"), "rb") as f:
            for line in f:
                r = orjson.loads(line)
                m[record_id(topic, r)] = float(r.get("ts") or 0.0)
        _TS_CACHE[key] = m
    return _TS_CACHE[key].get(rid, float("inf"))


def _deliver(out: str, ref: dict[str, dict[str, bytes]], seen: dict[str, dict[str, bytes]],
             first_seen_in: dict[tuple[str, str], int], kp: KillPoint) -> None:
    """Fold the complete lines now in OUT/raw into the delivered view."""
    base = os.path.join(out, "raw")
    for t in FILES:
        path = os.path.join(base, t + ".jsonl")
        if not os.path.exists(path):
            continue
        with open(path, "rb") as f:
            data = f.read()
        lines = data.split(b"\n")
        kp.torn_lines += bool(lines and lines[-1])
        for line in lines[:-1]:
            if not line.strip():
                continue
            body = line.split(b"\t", 1)[1]
            rec = orjson.loads(body)
            rid, d = record_id(t, rec), _digest(body)
            kp.max_ts = max(kp.max_ts, float(rec.get("ts") or 0.0))
            old = seen[t].get(rid)
            if old is None:
                seen[t][rid] = d
                first_seen_in[(t, rid)] = kp.index
                kp.new_records += 1
                if rid not in ref[t]:
                    kp.extra += 1
                elif ref[t][rid] != d:
                    kp.changed += 1
            elif old == d:
                kp.seen_before += 1
            else:  # the same id delivered again with other bytes
                kp.changed += 1
                seen[t][rid] = d


def _same_file(a: str, b: str) -> bool:
    if not os.path.exists(a):
        return not os.path.exists(b)
    if not os.path.exists(b):
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return fa.read() == fb.read()
