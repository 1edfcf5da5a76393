"""Formatting of figures for text and HTML: units, h:mm, and ``n/a (reason)``.

>>> fmt(0.8123, "share"), fmt(754.0, "s"), fmt(1.75, "h"), fmt("n/a (no data)", "auc")
('81.2 %', '12.6 min', '1:45', 'n/a (no data)')
>>> fmt(-0.031, "share", signed=True), fmt(2.5, "points", signed=True)
('-3.1 %', '+2.5 pts')
>>> hmm(8.88)
'8:53'
"""

from __future__ import annotations

from typing import Any

from fleetstream.report.metrics import is_num


def hmm(hours: float) -> str:
    """Hours as h:mm (8.88 -> 8:53)."""
    m = int(round(hours * 60))
    sign = "-" if m < 0 else ""
    m = abs(m)
    return f"{sign}{m // 60}:{m % 60:02d}"


def fmt(v: Any, unit: str, signed: bool = False) -> str:
    if not is_num(v):
        return str(v) if isinstance(v, str) else "n/a (not available)"
    s = "+" if signed else ""
    if unit == "share":
        return f"{100 * v:{s}.1f} %"
    if unit == "points":
        return f"{v:{s}.1f} pts"
    if unit == "s":
        return f"{v / 60:{s}.1f} min"
    if unit == "min":
        return f"{v:{s}.1f} min"
    if unit == "auc":
        return f"{v:{s}.3f}"
    if unit == "h":
        return ("+" if signed and v >= 0 else "") + hmm(v)
    if unit == "km":
        return f"{v:{s},.1f} km"
    if unit == "count":
        return f"{v:{s},.0f}" if float(v).is_integer() else f"{v:{s},.1f}"
    return f"{v:{s},.2f}"


def fmt_sd(v: Any, unit: str) -> str:
    """A standard deviation in the unit of its KPI (never signed)."""
    if not is_num(v):
        return str(v)
    return fmt(v, unit)


def threshold(op: str, thr: float, unit: str) -> str:
    word = {">=": "≥", "<=": "≤", ">": ">", "<": "<"}[op]
    return f"{word} {fmt(thr, unit, signed=thr < 0 or unit == 'points' and op == '>')}"
