"""The evaluation report of a replay of replay_data/small renders in headless
Chromium with no console error, has every section, no nan/None/null anywhere, and a
screenshot is kept as a test artifact (issue #13, Targets)."""

from __future__ import annotations

import os
import re

import orjson

SECTIONS = (
    "Verdict against the targets",
    "KPIs",
    "Run",
    "Risk models: reliability",
    "Risk models: ROC and precision-recall",
    "Intervals by horizon",
    "Intervals by hour of the day",
    "ETA error by leg length",
    "Alert lead time",
    "Per-driver workload",
    "By zone",
    "By hour of prediction (UTC)",
    "By horizon",
)
NOT_A_NUMBER = re.compile(r"\b(nan|NaN|None|null|inf)\b")


def test_small_report_renders_in_chromium_without_console_errors(small_eval, browser, artifacts):
    path = os.path.join(small_eval["out"], "report.html")
    severe = browser.load(path)
    assert severe == [], f"console errors: {severe}"
    d = browser.driver
    text = d.execute_script("return document.body.innerText")
    for s in SECTIONS:
        assert s in text, f"section {s!r} missing"
    assert "single seed" in text and "engine commit" in text and "settings hash" in text
    assert d.execute_script("return document.scripts.length") == 0
    # every chart is an inline SVG that lays out at a readable size
    widths = d.execute_script(
        "return Array.from(document.querySelectorAll('figure.chart svg'))"
        ".map(s => s.getBoundingClientRect().width)"
    )
    assert len(widths) >= 6 and min(widths) > 300, widths
    # no external resource: every URL is a data: URL or an in-page reference
    html = open(path, encoding="utf-8").read()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//|file:)""", html)
    shot = os.path.join(artifacts, "evaluate-small.png")
    browser.screenshot(shot)
    assert os.path.getsize(shot) > 20_000


def test_no_nan_none_or_null_in_any_output(small_eval, browser):
    out = small_eval["out"]
    for name in ("scorecard.json", "summary.json"):
        raw = open(os.path.join(out, name), "rb").read()
        assert b"null" not in raw and b"NaN" not in raw, name
        orjson.loads(raw)
    browser.load(os.path.join(out, "report.html"))
    text = browser.driver.execute_script("return document.body.innerText")
    svg_text = browser.driver.execute_script(
        "return Array.from(document.querySelectorAll('svg text')).map(t => t.textContent).join(' ')"
    )
    assert not NOT_A_NUMBER.search(text), NOT_A_NUMBER.search(text)
    assert not NOT_A_NUMBER.search(svg_text), NOT_A_NUMBER.search(svg_text)
    # hours are h:mm or minutes, never decimal hours like "8.88 h"
    assert not re.search(r"\d+\.\d+\s*h\b", text + " " + svg_text)


def test_single_seed_figures_are_never_claimed(small_eval):
    summ = small_eval["summary"]
    assert summ["seeds"] == ["7"]
    assert summ["targets"], "no target judged"
    for t in summ["targets"]:
        assert t["status"] in ("indicative", "n/a"), t
        if t["status"] == "indicative":
            assert "one seed only: not a claim" in t["note"]
    html = open(os.path.join(small_eval["out"], "report.html"), encoding="utf-8").read()
    assert "single seed: every figure below is from one seed and is not a claim" in html
