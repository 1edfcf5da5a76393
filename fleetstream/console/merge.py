"""Re-run a replay with the approvals given in the console (replay mode).

The console writes each answer as one line of the replay input format into
``OUT_DIR/approvals.jsonl``.  ``merge_approvals`` writes a new replay folder whose
events are the original ones with the approvals inserted in event-time order:
each after the last original event at or before its ``ts`` (so it arrives while
its proposal is still open, exactly where the dispatcher answered it).
"""

from __future__ import annotations

import bisect
import os
import shutil

import orjson

from fleetstream.connectors.files import events_path, parse_envelope, read_replay, write_replay
from fleetstream.contract.events import TOPIC_APPROVALS, decode_event


def _ts(value: bytes) -> float | None:
    try:
        return float(orjson.loads(value)["ts"])
    except Exception:  # noqa: BLE001 - malformed input keeps its place
        return None


def merge_approvals(replay: str, approvals: str, out: str) -> tuple[int, int]:
    """Returns (approvals merged, events written)."""
    events_path(replay)
    if os.path.exists(out) and os.listdir(out):
        raise ValueError(f"--out {out}: exists and is not empty")
    adds = []
    with open(approvals, "rb") as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            m = parse_envelope(i, line)
            if m.topic != TOPIC_APPROVALS:
                raise ValueError(f"{approvals}:{i}: not an fs.approvals envelope")
            ev = decode_event(m.value, m.topic)  # a clear error for a damaged line
            adds.append((ev.ts, i, m))
    adds.sort(key=lambda x: (x[0], x[1]))
    msgs = list(read_replay(replay))
    # running maximum of event time: an approval goes after the last event at or
    # before its ts in arrival order (ts of input events never decreases by much)
    hi, cur = [], float("-inf")
    for m in msgs:
        t = _ts(m.value)
        cur = max(cur, t) if t is not None else cur
        hi.append(cur)
    merged = []
    j = 0
    for ts, _i, m in adds:
        k = bisect.bisect_right(hi, ts)
        merged.extend(msgs[j:k])
        merged.append(m)
        j = max(j, k)
    merged.extend(msgs[j:])
    os.makedirs(out, exist_ok=True)
    write_replay(os.path.join(out, "events.jsonl.gz"), merged)
    man = os.path.join(replay, "manifest.json") if os.path.isdir(replay) else None
    if man and os.path.exists(man):
        shutil.copy(man, os.path.join(out, "manifest.json"))
    return len(adds), len(merged)
