"""Text from data renders as text (issue #11, stored XSS in the evaluate report):
a zone named ``<script>alert(1)</script>`` and a replay folder named
``<img src=x onerror=alert(1)>`` show up escaped, run nothing, and the page stays
free of script and img elements."""

from __future__ import annotations

import copy
import os

import pytest

from fleetstream.report.build import model_report
from fleetstream.report.metrics import NA

EVIL_ZONE = "<script>alert(1)</script>"
EVIL_PATH = "<img src=x onerror=alert(1)>"


def _evil(small_eval: dict) -> tuple[list, list, list, dict]:
    raws = copy.deepcopy(small_eval["raws"])
    for raw in raws:
        raw["pred"]["zone"] = [EVIL_ZONE for _ in raw["pred"]["zone"]]
        for w in raw["workload"]:
            w["fleet_type"] = EVIL_ZONE
    meta = {**small_eval["meta"], "replays": [EVIL_PATH], "scenarios": [EVIL_ZONE]}
    return copy.deepcopy(small_eval["cards"]), raws, [EVIL_PATH], meta


@pytest.fixture(scope="module")
def evil_html(small_eval) -> str:
    return model_report(*_evil(small_eval))[0]


def test_data_text_is_escaped_in_the_html(evil_html):
    html = evil_html
    assert EVIL_ZONE not in html and EVIL_PATH not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<script" not in html.lower() and "<img" not in html.lower()


def test_evil_names_render_as_text_in_chromium(evil_html, browser, tmp_path, artifacts):
    from selenium.common.exceptions import NoAlertPresentException

    path = str(tmp_path / "report.html")
    with open(path, "w", encoding="utf-8") as f:
        f.write(evil_html)
    severe = browser.load(path)
    d = browser.driver
    with pytest.raises(NoAlertPresentException):
        d.switch_to.alert.text
    assert severe == [], severe
    assert d.execute_script("return document.scripts.length") == 0
    assert d.execute_script("return document.images.length") == 0
    text = d.execute_script("return document.body.innerText")
    assert EVIL_ZONE in text and EVIL_PATH in text
    browser.screenshot(os.path.join(artifacts, "evaluate-xss.png"), max_height=3000)


def test_same_data_same_report_bytes(small_eval):
    """Charts carry no date and a fixed hash salt: the page is a function of its data."""
    a, _ = model_report(
        small_eval["cards"], small_eval["raws"], small_eval["seeds"], small_eval["meta"]
    )
    assert open(os.path.join(small_eval["out"], "report.html"), encoding="utf-8").read() == a


def test_missing_metrics_say_why(small_eval):
    """No late-risk predictions and no alert: the report says n/a (reason), never nan/None."""
    raws = copy.deepcopy(small_eval["raws"])
    cards = copy.deepcopy(small_eval["cards"])
    for raw in raws:
        for m in ("30", "60"):
            raw["late"][m] = {"p": [], "y": [], "slack": []}
        raw["leads_min"] = []
    for c in cards:
        c["late_risk"]["30min_before_window_end"]["roc_auc"] = NA("no predictions")
        c["alerts"]["median_lead_before_window_end_min"] = NA("no true alert")
    html, summ = model_report(cards, raws, small_eval["seeds"], small_eval["meta"])
    assert (
        "n/a (no predictions)" in html
        and "n/a (no late-risk alert on an order that was late)" in html
    )
    late = next(t for t in summ["targets"] if t["kpi"] == "late_auc_30")
    assert late["status"] == "n/a" and late["shown"].startswith("n/a (")
    for bad in (">nan<", ">None<", " nan ", " None "):
        assert bad not in html
