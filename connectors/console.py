"""A concise, human-readable alert printer for the terminal."""

from __future__ import annotations

import sys
from typing import IO

import orjson

_MARK = {"critical": "!!", "warning": "! ", "info": "  "}


def format_alert(a: dict) -> str:
    """One line per alert: time, zone, severity, kind, message.

    >>> format_alert({"ts": 1772438400.0, "zone": "Z1", "severity": "warning",
    ...               "kind": "late_risk", "message": "2 stops of V1 at risk"})
    '08:00:00 Z1 !  late_risk          2 stops of V1 at risk'
    """
    s = int(a["ts"]) % 86400
    clock = f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
    return f"{clock} {a['zone']} {_MARK.get(a['severity'], '  ')} {a['kind']:<18} {a['message']}"


def print_alerts(path: str, limit: int = 50, out: IO[str] = sys.stdout) -> int:
    n = 0
    with open(path, "rb") as f:
        for line in f:
            if n >= limit:
                break
            print(format_alert(orjson.loads(line)), file=out)
            n += 1
    return n
