"""File replay in, JSON Lines files out: the embedded default (no services).

A replay folder holds ``events.jsonl.gz`` (or ``events.jsonl``): one envelope
per line, in arrival order::

    {"topic": "fs.telemetry", "key": "V1", "value": "<the message text>"}

``value`` is the message exactly as it was on the wire; messages that are not
UTF-8 are kept as ``value_b64``.  The line number is the message's ``seq``.

Outputs go to one JSON Lines file per topic in an out directory.  While the
flow runs, each line is written with a sort prefix to ``out/raw/``; when it
ends, :func:`finalize` writes ``out/<topic>.jsonl`` in a canonical order (event
time, zone, per-zone sequence), which is what makes the files byte-identical
across runs and worker counts.
"""

from __future__ import annotations

import base64
import gzip
import os
import sys
import time
from datetime import datetime, timedelta, timezone
from typing import IO, Iterator

import orjson
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.outputs import FixedPartitionedSink, StatefulSinkPartition

from fleetstream.operators.pipeline import InMsg

EVENTS_FILE = "events.jsonl.gz"


def events_path(replay: str) -> str:
    """The events file of a replay folder (or the file itself)."""
    if os.path.isdir(replay):
        for name in (EVENTS_FILE, "events.jsonl"):
            p = os.path.join(replay, name)
            if os.path.exists(p):
                return p
        raise FileNotFoundError(f"no {EVENTS_FILE} or events.jsonl in {replay}")
    return replay


def _open(path: str) -> IO[bytes]:
    return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")


def parse_envelope(seq: int, line: bytes) -> InMsg:
    """One replay line -> InMsg.  A line that is not a valid envelope becomes a
    message on topic ``?`` whose value is the whole line (it will dead-letter)."""
    try:
        env = orjson.loads(line)
        topic = env["topic"]
        if "value" in env:
            value = env["value"].encode("utf-8")
        else:
            value = base64.b64decode(env["value_b64"])
        return InMsg(seq, topic, env.get("key"), value)
    except Exception:  # noqa: BLE001 - a corrupt line must not stop the replay
        return InMsg(seq, "?", None, line.rstrip(b"\n"))


def read_replay(replay: str, start: int = 0) -> Iterator[InMsg]:
    """All messages of a replay, in order, from line ``start``."""
    with _open(events_path(replay)) as f:
        for seq, line in enumerate(f):
            if seq >= start and line.strip():
                yield parse_envelope(seq, line)


def write_replay(path: str, msgs: list[InMsg]) -> None:
    """Write messages as a replay file (gzip when the name ends in .gz)."""
    opener = (lambda: gzip.GzipFile(path, "wb", mtime=0)) if path.endswith(".gz") else (
        lambda: open(path, "wb"))
    with opener() as f:
        for m in msgs:
            env: dict = {"topic": m.topic, "key": m.key}
            try:
                env["value"] = m.value.decode("utf-8")
            except UnicodeDecodeError:
                env["value_b64"] = base64.b64encode(m.value).decode("ascii")
            f.write(orjson.dumps(env) + b"\n")


def count_lines(replay: str) -> int:
    n = 0
    with _open(events_path(replay)) as f:
        for _ in f:
            n += 1
    return n


class _ReplayPartition(StatefulSourcePartition[InMsg, int]):
    def __init__(self, path: str, resume: int | None, batch: int, speed: float | None,
                 total: int | None, progress: bool, crash_at: int | None = None,
                 chunked: bool = False):
        self.chunked = chunked
        self.f = _open(path)
        self.crash_at = crash_at
        self.seq = 0
        start = resume or 0
        while self.seq < start:  # skip what was already processed before a restart
            if not self.f.readline():
                break
            self.seq += 1
        self.batch = batch
        self.speed = speed
        self.total = total
        self.progress = progress
        self.t0 = time.perf_counter()
        self.next_report = self.t0 + 2.0
        self.first_ts: float | None = None
        self.wall0: datetime | None = None
        self.awake: datetime | None = None

    def next_batch(self) -> list:
        if self.crash_at is not None and self.seq >= self.crash_at:
            raise SimulatedCrash(f"simulated crash at line {self.seq}")
        out = []
        for _ in range(self.batch):
            line = self.f.readline()
            if not line:
                if not out:
                    self._report(final=True)
                    raise StopIteration()
                break
            if line.strip():
                out.append(parse_envelope(self.seq, line))
            self.seq += 1
        if self.speed:
            self._pace(out)
        if self.progress and time.perf_counter() >= self.next_report:
            self._report()
        if self.chunked:
            return [out] if out else []
        return out

    def _pace(self, batch: list[InMsg]) -> None:
        # Demo pacing: emit the next batch when its event time is due at `speed` x.
        ts = None
        for m in reversed(batch):
            try:
                ts = float(orjson.loads(m.value)["ts"])
                break
            except Exception:  # noqa: BLE001
                continue
        if ts is None:
            return
        now = datetime.now(timezone.utc)  # pacing only: never reaches decision code
        if self.first_ts is None:
            self.first_ts, self.wall0 = ts, now
        self.awake = self.wall0 + timedelta(seconds=(ts - self.first_ts) / self.speed)  # type: ignore[operator]

    def next_awake(self) -> datetime | None:
        return self.awake

    def _report(self, final: bool = False) -> None:
        if not self.progress:
            return
        el = time.perf_counter() - self.t0
        self.next_report = time.perf_counter() + 2.0
        pct = f" ({100 * self.seq / self.total:.0f}%)" if self.total else ""
        rate = self.seq / el if el > 0 else 0.0
        print(f"  read {self.seq:,} events{pct}  {rate:,.0f} ev/s"
              + ("  done" if final else ""), file=sys.stderr, flush=True)

    def snapshot(self) -> int:
        return self.seq

    def close(self) -> None:
        self.f.close()


class SimulatedCrash(RuntimeError):
    """Raised by ``ReplaySource(crash_at=N)``: a test hook that kills a run mid-way."""


class ReplaySource(FixedPartitionedSource[InMsg, int]):
    """One ordered partition over a replay file; resume state is the line number.
    ``chunked``: emit each batch as one item, the list of its messages."""

    def __init__(self, replay: str, batch_size: int = 2000, speed: float | None = None,
                 progress: bool = False, total: int | None = None, crash_at: int | None = None,
                 chunked: bool = False):
        self.chunked = chunked
        self.crash_at = crash_at
        self.path = events_path(replay)
        self.batch_size = batch_size
        self.speed = speed
        self.progress = progress
        self.total = total

    def list_parts(self) -> list[str]:
        return ["events"]

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _ReplayPartition:
        return _ReplayPartition(self.path, resume_state, self.batch_size, self.speed,
                                self.total, self.progress, self.crash_at, self.chunked)


# ------------------------------------------------------------------------ outputs

RAW_DIR = "raw"


def sort_prefix(ts: float, zone: str, n: int) -> str:
    """Canonical order of output lines: event time, zone, per-zone sequence."""
    return f"{ts:017.3f}|{zone}|{n:012d}"


class _LinesPartition(StatefulSinkPartition[str, int]):
    def __init__(self, path: str, resume: int | None):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.f = open(path, "ab")
        self.f.seek(resume or 0)
        self.f.truncate()

    def write_batch(self, values: list[str]) -> None:
        self.f.write("".join(v + "\n" for v in values).encode("utf-8"))
        self.f.flush()

    def snapshot(self) -> int:
        return self.f.tell()

    def close(self) -> None:
        self.f.close()


class OutputFiles(FixedPartitionedSink[str, int]):
    """One raw file per output topic in ``out/raw``; items are ``(topic, text)``, the
    text one line or several joined by newlines.
    The partition's resume state is the file length, so a resumed run truncates
    what was written after the last snapshot and nothing is duplicated."""

    def __init__(self, out_dir: str, topics: list[str]):
        self.out_dir = out_dir
        self.topics = sorted(topics)  # Bytewax indexes part_fn results into the sorted list

    def list_parts(self) -> list[str]:
        return self.topics

    def part_fn(self, item_key: str) -> int:
        return self.topics.index(item_key)

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _LinesPartition:
        return _LinesPartition(os.path.join(self.out_dir, RAW_DIR, for_part + ".jsonl"), resume_state)


def finalize(out_dir: str, topics: list[str]) -> dict[str, int]:
    """Sort each raw file into ``out/<topic>.jsonl``; returns line counts."""
    counts = {}
    for t in topics:
        raw = os.path.join(out_dir, RAW_DIR, t + ".jsonl")
        lines: list[str] = []
        if os.path.exists(raw):
            with open(raw, "r", encoding="utf-8") as f:
                lines = [ln.rstrip("\n") for ln in f if ln.strip()]
        lines.sort()
        with open(os.path.join(out_dir, t + ".jsonl"), "w", encoding="utf-8") as f:
            for ln in lines:
                f.write(ln.split("\t", 1)[1] + "\n")
        counts[t] = len(lines)
    return counts
