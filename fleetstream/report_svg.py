"""Tiny dependency-free SVG line charts for the evaluation report.

>>> svg = line_chart("t", [("a", [(0, 0), (1, 1)])], "x", "y")
>>> svg.startswith("<svg") and "polyline" in svg
True
"""

from __future__ import annotations

from html import escape

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def line_chart(title: str, series: list[tuple[str, list[tuple[float, float]]]], xlabel: str,
               ylabel: str, width: int = 520, height: int = 300,
               ref: list[tuple[float, float]] | None = None,
               refs: list[list[tuple[float, float]]] | None = None) -> str:
    """Polyline chart; ``ref`` (and each of ``refs``) is drawn as a dashed grey
    reference line (e.g. the diagonal of a calibration plot, a nominal coverage)."""
    refs = ([ref] if ref else []) + list(refs or [])
    pts = [p for _, s in series for p in s] + [p for r in refs for p in r]
    if not pts:
        return f"<p>{escape(title)}: no data</p>"
    x0, x1 = min(p[0] for p in pts), max(p[0] for p in pts)
    y0, y1 = min(0.0, min(p[1] for p in pts)), max(p[1] for p in pts)
    if x1 == x0:
        x1 = x0 + 1
    if y1 == y0:
        y1 = y0 + 1
    ml, mr, mt, mb = 55, 110, 30, 40
    w, h = width - ml - mr, height - mt - mb

    def sx(x: float) -> float:
        return ml + (x - x0) / (x1 - x0) * w

    def sy(y: float) -> float:
        return mt + h - (y - y0) / (y1 - y0) * h

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="11">',
           f'<text x="{width / 2}" y="16" text-anchor="middle" font-size="13">{escape(title)}</text>',
           f'<rect x="{ml}" y="{mt}" width="{w}" height="{h}" fill="none" stroke="#999"/>']
    for i in range(5):
        yv = y0 + (y1 - y0) * i / 4
        xv = x0 + (x1 - x0) * i / 4
        out.append(f'<text x="{ml - 4}" y="{sy(yv) + 4:.1f}" text-anchor="end">{yv:.3g}</text>')
        out.append(f'<text x="{sx(xv):.1f}" y="{mt + h + 14}" text-anchor="middle">{xv:.3g}</text>')
    out.append(f'<text x="{ml + w / 2}" y="{height - 6}" text-anchor="middle">{escape(xlabel)}</text>')
    out.append(f'<text x="12" y="{mt + h / 2}" transform="rotate(-90 12 {mt + h / 2})" '
               f'text-anchor="middle">{escape(ylabel)}</text>')
    for r in refs:
        p = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in r)
        out.append(f'<polyline points="{p}" fill="none" stroke="#aaa" stroke-dasharray="4 3"/>')
    for i, (name, s) in enumerate(series):
        c = COLORS[i % len(COLORS)]
        p = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in s)
        out.append(f'<polyline points="{p}" fill="none" stroke="{c}" stroke-width="1.8"/>')
        for x, y in s:
            out.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.2" fill="{c}"/>')
        out.append(f'<text x="{ml + w + 8}" y="{mt + 14 + 16 * i}" fill="{c}">{escape(name)}</text>')
    out.append("</svg>")
    return "\n".join(out)
