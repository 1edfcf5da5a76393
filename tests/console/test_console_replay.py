"""The console in replay mode, driven by headless Chromium: the map draws every
vehicle, the alert feed shows the replay's alerts (ordered, acknowledgeable), the
scrubber moves the state through event time, approvals are written as valid
approval events, data with markup stays text, and POSTs need the page's token."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request

import orjson
import pytest
from conftest import SMALL, shot
from fleetstream.connectors.files import parse_envelope, read_replay
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from fleetstream.contract.events import Approval, ValidationError, decode_event


def _wait(d, timeout_s: float) -> WebDriverWait:
    """A wait that retries when the page re-rendered under an element it held."""
    return WebDriverWait(d, timeout_s, ignored_exceptions=(StaleElementReferenceException,))


pytestmark = pytest.mark.slow


def _records(d: str, topic: str) -> list[dict]:
    with open(os.path.join(d, topic + ".jsonl"), "rb") as f:
        return [orjson.loads(x) for x in f if x.strip()]


def _shift_starts() -> dict[str, float]:
    """Vehicle -> first shift_start time, read from the replay input directly."""
    out: dict[str, float] = {}
    for m in read_replay(SMALL):
        if m.topic != "fs.fleet":
            continue
        try:
            ev = decode_event(m.value, m.topic)
        except ValidationError:
            continue
        if ev.TYPE == "shift_start":
            out.setdefault(ev.vehicle_id, ev.ts)
    return out


def _open_proposals(out_dir: str, t: float) -> list[dict]:
    decs = _records(out_dir, "fs.decisions")
    answered = {d["refers_to"] for d in decs if d.get("refers_to") and d["ts"] <= t}
    return [d for d in decs if d["status"] == "proposed" and d["ts"] <= t
            and d["decision_id"] not in answered]


def _load(d, url: str) -> None:
    d.get(url)
    _wait(d, 20).until(lambda d: d.find_element(By.TAG_NAME, "body")
                               .get_attribute("data-painted") == "1")


def _click(d, css: str) -> None:
    """Click in one script (the page may re-render between a find and a click)."""
    assert d.execute_script("const e = document.querySelector(arguments[0]); "
                            "if (!e) return false; e.click(); return true;", css), css


def _attrs(d, css: str, key: str) -> list:
    """``data-KEY`` of every element matching ``css``, read in one script."""
    return d.execute_script("return [...document.querySelectorAll(arguments[0])]"
                            ".map(e => e.dataset[arguments[1]])", css, key)


def _text(d, css: str) -> str:
    return d.execute_script("const e = document.querySelector(arguments[0]);"
                            "return e ? e.innerText : null;", css)


def _busy_time(out_dir: str) -> float:
    """An event time with open proposals: just after the third proposal."""
    props = [d for d in _records(out_dir, "fs.decisions") if d["status"] == "proposed"]
    return props[2]["ts"] + 1.0


def test_map_draws_every_vehicle_with_routes(page, console, console_dir):
    t = _busy_time(console_dir)
    _load(page, f"{console.url}?t={t}")
    want = sum(1 for ts in _shift_starts().values() if ts <= t)
    got = page.execute_script("return document.querySelectorAll('#vehicles g.vehicle').length")
    assert want > 5 and got == want, f"{got} vehicles drawn, {want} on shift at {t}"
    assert page.execute_script("return document.querySelectorAll('#routes polyline').length") > 0
    stops = page.execute_script("return document.querySelectorAll('#stops circle').length")
    assert stops > 20
    assert page.execute_script("return document.querySelectorAll('#depots rect').length") >= 1
    # the hover box shows the ETA interval of a stop
    page.execute_script("""const c = document.querySelector('#stops circle');
        const r = c.getBoundingClientRect();
        c.dispatchEvent(new MouseEvent('mousemove', {clientX: r.x, clientY: r.y, bubbles: true}));""")
    text = page.find_element(By.ID, "hover").text
    assert "ETA" in text and "window ends" in text, text
    shot(page, "console-replay-map.png")


def test_alert_feed_orders_and_acknowledges(page, console, console_dir):
    alerts = _records(console_dir, "fs.alerts")
    a = alerts[0]
    # the feed shows the alerts of the last ALERT_OPEN_S (2 h) before the scrubber time
    t_feed = max(x["ts"] for x in alerts if x["ts"] <= a["ts"] + 3600) + 1
    _load(page, f"{console.url}?t={t_feed}")
    ids = _attrs(page, "#alerts li", "id")
    assert a["alert_id"] in ids, ids
    sev = _attrs(page, "#alerts li", "severity")
    rank = {"critical": 0, "warning": 1, "info": 2}
    assert sev == sorted(sev, key=lambda s: rank.get(s, 3)), sev
    assert a["message"] in _text(page, f'#alerts li[data-id="{a["alert_id"]}"]')
    _click(page, f'#alerts li[data-id="{a["alert_id"]}"] button.ack')
    _wait(page, 10).until(lambda d: "acked" in d.find_element(
        By.CSS_SELECTOR, f'#alerts li[data-id="{a["alert_id"]}"]').get_attribute("class"))
    with urllib.request.urlopen(console.url + f"api/state?t={t_feed}") as r:
        st = json.loads(r.read())
    acked = {x["alert_id"]: x["ack"] for x in st["alerts"]}
    assert acked[a["alert_id"]]["by"] == "tester"
    shot(page, "console-alerts.png")


def test_scrubber_moves_the_state(page, console, console_dir):
    t = _busy_time(console_dir)
    _load(page, f"{console.url}?t={t}")

    def snapshot():
        return page.execute_script("""return {
            clock: document.getElementById('clock').textContent,
            pos: [...document.querySelectorAll('#vehicles g.vehicle')].map(g => g.getAttribute('transform')).join('|'),
            delivered: window.__console.state.kpi.all.delivered};""")
    before = snapshot()
    page.execute_script("""const r = document.getElementById('time');
        r.value = String(Number(r.value) + 3 * 3600);
        r.dispatchEvent(new Event('input'));""")
    _wait(page, 10).until(lambda d: snapshot()["clock"] != before["clock"])
    _wait(page, 10).until(lambda d: snapshot()["pos"] != before["pos"])
    after = snapshot()
    assert after["delivered"] > before["delivered"], (before["delivered"], after["delivered"])


def test_approvals_write_valid_events(page, console, console_dir):
    t = _busy_time(console_dir)
    open_ = _open_proposals(console_dir, t)
    assert len(open_) >= 3
    _load(page, f"{console.url}?t={t}")
    shown = _attrs(page, "#approvals li", "id")
    assert shown == [d["decision_id"] for d in open_]
    path = os.path.join(console_dir, "approvals.jsonl")

    def lines() -> list:
        if not os.path.exists(path):
            return []
        with open(path, "rb") as f:
            return [decode_event(parse_envelope(i, x).value, "fs.approvals")
                    for i, x in enumerate(f) if x.strip()]
    # approve one
    first = open_[0]["decision_id"]
    _click(page, f'#approvals li[data-id="{first}"] button.approve')
    _wait(page, 10).until(lambda d: len(lines()) == 1)
    # reject one with a reason (the dialog)
    second = open_[1]["decision_id"]
    _click(page, f'#approvals li[data-id="{second}"] button.reject')
    page.find_element(By.ID, "reject-reason").send_keys("driver on break")
    page.find_element(By.ID, "reject-ok").click()
    _wait(page, 10).until(lambda d: len(lines()) == 2)
    # approve the rest as a batch
    _wait(page, 10).until(lambda d: len(_attrs(d, "#approvals li .answered", "x")) == 2)
    _click(page, "#select-all")
    _click(page, "#approve-batch")
    _wait(page, 10).until(lambda d: len(lines()) == len(open_))
    evs = lines()
    assert all(isinstance(e, Approval) for e in evs)
    by_id = {e.decision_id: e for e in evs}
    assert set(by_id) == {d["decision_id"] for d in open_}
    assert by_id[first].approved and not by_id[second].approved
    assert all(e.by == "tester" and e.zone == "Z1" for e in evs)
    for d in open_:
        assert by_id[d["decision_id"]].ts >= d["ts"] + 1.0
    # an answered proposal cannot be answered again
    assert _post_answer(console, first) == 404
    assert len(lines()) == len(open_)
    _wait(page, 10).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#approvals .answered")) == len(open_))
    assert "driver on break" in _text(page, f'#approvals li[data-id="{second}"]')
    shot(page, "console-approvals.png")


def _post_answer(console, did: str) -> int:
    with urllib.request.urlopen(console.url) as r:
        token = r.read().decode().split('name="console-token" content="')[1].split('"')[0]
    return _post(console.url + "api/answer", {"decision_ids": [did], "approved": False,
                                              "reason": "again"}, {"X-Console-Token": token})


def test_inspector_shows_explanation_triggers_and_models(page, console, console_dir):
    d = next(x for x in _records(console_dir, "fs.decisions") if x["kind"] == "reroute")
    _load(page, f"{console.url}?t={d['ts']}")
    _click(page, f'#decisions li[data-id="{d["decision_id"]}"] a')
    _wait(page, 10).until(lambda p: p.find_element(By.ID, "inspector")
                                  .get_attribute("data-id") == d["decision_id"])
    text = _text(page, "#inspector")
    assert d["explanation"]["summary"] in text
    for tid in d["trigger_event_ids"]:
        assert tid in text
    for seat, mv in d["models"].items():
        assert seat in text and mv["version"] in text


def test_markup_in_data_stays_text_and_appends_show_live(page, console, console_dir):
    """A zone name and an alert message holding markup are shown as text (no element
    made from them, no script run); the appended alert reaches a following page."""
    _load(page, console.url)  # follows the end
    t_max = page.execute_script("return window.__console.state.t_max")
    bad = '<img src=x onerror="window.__pwned=1"><b class="boom">bold</b>'
    rec = {"alert_id": "A-X-1-1", "ts": t_max + 5, "v": 1, "zone": '<i class="boom">Zx</i>',
           "kind": "engine_error", "severity": "critical", "message": bad, "order_ids": []}
    with open(os.path.join(console_dir, "fs.alerts.jsonl"), "ab") as f:
        f.write(orjson.dumps(rec) + b"\n")
    t0 = time.monotonic()
    _wait(page, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, '#alerts li[data-id="A-X-1-1"]'))
    assert time.monotonic() - t0 < 5
    text = _text(page, '#alerts li[data-id="A-X-1-1"]')
    assert bad in text and '<i class="boom">Zx</i>' in text
    assert page.execute_script("return document.querySelectorAll('.boom, #alerts img').length") == 0
    assert page.execute_script("return window.__pwned === undefined")
    # critical first
    assert _attrs(page, "#alerts li", "id")[0] == "A-X-1-1"


def _post(url: str, body: dict, headers: dict) -> int:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_posts_need_the_token_and_same_origin(console):
    with urllib.request.urlopen(console.url) as r:
        page = r.read().decode()
    assert r.headers["Content-Security-Policy"].startswith("default-src 'self'")
    token = page.split('name="console-token" content="')[1].split('"')[0]
    body = {"decision_ids": ["D-Z1-0-0"], "approved": True}
    assert _post(console.url + "api/answer", body, {}) == 403
    assert _post(console.url + "api/answer", body, {"X-Console-Token": "wrong"}) == 403
    assert _post(console.url + "api/answer", body, {"X-Console-Token": token,
                                                    "Origin": "http://evil.example"}) == 403
    # the right token and origin get through to the data source: not a proposal
    assert _post(console.url + "api/answer", body, {"X-Console-Token": token,
                                                    "Origin": console.url.rstrip("/")}) == 404
    assert _post(console.url + "api/ack", {"alert_id": "nope"}, {"X-Console-Token": token}) == 404
