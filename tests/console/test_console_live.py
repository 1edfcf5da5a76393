"""The console in live mode against the real broker and Redis: a live engine with
``autonomy_assign=propose`` proposes the first plan; a dispatcher approves a
proposal in the browser; the console publishes the approval event to
fs.approvals, the engine applies the proposal (an ``applied`` decision that
refers to it, approved by the dispatcher), and the page shows it, pushed by SSE.
An address changed in the inspector goes to fs.approvals as an order_update and
comes back as the engine's override decision.  An alert written to the read model
appears; its acknowledgement is stored under the console's own key prefix."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import orjson
import pytest
from conftest import ROOT, SMALL, shot
from fleetstream.connectors.files import read_replay
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from fleetstream.console.headless import ConsoleProcess
from fleetstream.contract.events import ValidationError, decode_event


def _wait(d, timeout_s: float) -> WebDriverWait:
    """A wait that retries when the page re-rendered under an element it held."""
    return WebDriverWait(d, timeout_s, ignored_exceptions=(StaleElementReferenceException,))


pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _until(cond, timeout_s: float, what: str):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        got = cond()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def _first_plan_prefix(minutes_after: float = 5.0) -> list:
    """The events of replay_data/small up to a few minutes after the first shifts
    start: the first plan is proposed, and no proposal is old enough to expire."""
    msgs = list(read_replay(SMALL))
    first = None
    for i, m in enumerate(msgs):
        if m.topic == "fs.fleet":
            try:
                ev = decode_event(m.value, m.topic)
            except ValidationError:
                continue
            if ev.TYPE == "shift_start":
                first = ev.ts
                break
    assert first is not None
    cut = first + 600 + minutes_after * 60  # plan_settle_s and the first wave
    keep = []
    for m in msgs:
        try:
            ts = decode_event(m.value, m.topic).ts
        except ValidationError:
            keep.append(m)
            continue
        if ts > cut:
            break
        keep.append(m)
    return keep


def test_approval_in_the_browser_round_trips_into_the_engine(services, driver, tmp_path):
    import redis
    from confluent_kafka.admin import AdminClient
    from fleetstream.connectors.kafka import ensure_topics, publish
    bootstrap, url = services
    prefix = f"tc{uuid.uuid4().hex[:8]}."
    kp = f"itc{uuid.uuid4().hex[:8]}:"
    r = redis.Redis.from_url(url)
    log = open(tmp_path / "engine.log", "ab")  # noqa: SIM115 - closed below
    engine = console = None
    try:
        ensure_topics(bootstrap, prefix, partitions=1)
        msgs = _first_plan_prefix()
        publish(bootstrap, msgs, prefix)
        engine = subprocess.Popen(
            [sys.executable, "-m", "fleetstream.live", "--bootstrap", bootstrap, "--redis", url,
             "--set", f"kafka.topic_prefix={prefix}", "--set", f"redis.key_prefix={kp}",
             "--set", "engine.autonomy_assign=propose", "--epoch-interval", "0.5", "-q"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        zone_props = f"{kp}z:Z1:proposals"
        _until(lambda: r.hlen(zone_props) > 0 or engine.poll() is not None, 90,
               "the engine's first proposals in Redis")
        assert engine.poll() is None, (tmp_path / "engine.log").read_bytes()[-2000:]
        console = ConsoleProcess("--redis", url, "--key-prefix", kp, "--console-prefix",
                                 kp + "console:", "--bootstrap", bootstrap, "--set",
                                 f"kafka.topic_prefix={prefix}", "--user", "tester",
                                 log_path=str(tmp_path / "console.log"))
        page = driver
        page.get(console.url)
        _wait(page, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#approvals li"))
        pid = page.execute_script("return document.querySelector('#approvals li').dataset.id")
        assert r.hexists(zone_props, pid)
        # every vehicle with a position in the read model is drawn
        with_pos = {k for k in r.scan_iter(match=kp + "v:*") if r.hget(k, "lat") is not None}
        _wait(page, 10).until(lambda d: d.execute_script(
            "return document.querySelectorAll('#vehicles g.vehicle').length") == len(with_pos))
        assert len(with_pos) >= 10
        page.execute_script("document.querySelector(`#approvals li[data-id='${arguments[0]}'] "
                            "button.approve`).click()", pid)

        def applied():
            for _sid, f in r.xrange(kp + "decisions"):
                rec = orjson.loads(f[b"record"])
                if rec.get("refers_to") == pid:
                    return rec
            return None
        rec = _until(applied, 60, f"the engine's answer to {pid}")
        assert rec["status"] == "applied", rec
        assert rec["explanation"].get("approved_by") == "tester"
        assert rec["routes"], rec
        # the page learns it by itself (SSE): the applied decision is listed
        _wait(page, 15).until(lambda d: d.find_elements(
            By.CSS_SELECTOR, f'#decisions li[data-id="{rec["decision_id"]}"]'))
        answer = orjson.loads(r.hget(kp + "console:answers", pid))
        assert answer["approved"] is True and answer["by"] == "tester"
        # an address change from the inspector reaches the engine, which records it
        oid = rec["order_ids"][0]
        stop = next(x for rt in rec["routes"].values() for x in rt
                    if x["order_id"] == oid and x["stop"] == "delivery")
        new_loc = {"lat": round(stop["location"]["lat"] + 0.002, 6),
                   "lon": stop["location"]["lon"]}
        page.execute_script("document.querySelector(`#decisions li[data-id='${arguments[0]}'] "
                            "a`).click()", rec["decision_id"])
        _wait(page, 10).until(lambda d: d.find_element(By.ID, "inspector")
                              .get_attribute("data-id") == rec["decision_id"])
        page.execute_script(
            "const s = document.querySelectorAll('#overrides .ov-order');"
            "for (const x of s) { x.value = arguments[0]; x.dispatchEvent(new Event('change')); }"
            "document.querySelector('#overrides .ov-address-input').value = arguments[1];"
            "document.querySelector('#overrides .ov-address').click();",
            oid, f"{new_loc['lat']}, {new_loc['lon']}")

        def overridden():
            for _sid, f in r.xrange(kp + "decisions"):
                x = orjson.loads(f[b"record"])
                if x["kind"] == "override" and x["order_ids"] == [oid]:
                    return x
            return None
        ov = _until(overridden, 60, f"the engine's override decision for {oid}")
        assert (ov["status"], ov["autonomy"], ov["explanation"]["approved_by"]) == \
            ("applied", "manual", "tester")
        assert ov["explanation"]["reasons"][0]["changes"] == {"location": new_loc}
        _wait(page, 15).until(lambda d: d.find_elements(
            By.CSS_SELECTOR, f'#decisions li[data-id="{ov["decision_id"]}"]'))
        # an alert in the read model reaches the page; its ack goes to the console's keys
        from fleetstream.connectors.redis_store import RedisReadModel
        clock = float(r.hget(f"{kp}z:Z1", "ts"))
        aid = f"A-Z1-{int(clock)}-99999"
        rm = RedisReadModel(url, kp, ttl_s=600)
        rm.write([("fs.alerts", {"alert_id": aid, "ts": clock, "v": 1, "zone": "Z1",
                                 "kind": "stale_vehicle", "severity": "critical",
                                 "message": "<b>VZ1-000</b> silent", "order_ids": [],
                                 "vehicle_id": "VZ1-000"})])
        assert rm.flush()
        rm.close()
        _wait(page, 10).until(lambda d: d.execute_script(
            "return document.querySelector(`#alerts li[data-id='${arguments[0]}'] button.ack`)"
            " !== null", aid))
        assert page.execute_script("return document.querySelectorAll('#alerts b').length") == 0
        page.execute_script("document.querySelector(`#alerts li[data-id='${arguments[0]}'] "
                            "button.ack`).click()", aid)
        _until(lambda: r.hget(kp + "console:acks", aid), 10, "the ack in Redis")
        assert orjson.loads(r.hget(kp + "console:acks", aid))["by"] == "tester"
        _wait(page, 10).until(lambda d: d.execute_script(
            "return document.querySelector(`#alerts li[data-id='${arguments[0]}']`)"
            ".classList.contains('acked')", aid))
        shot(page, "console-live.png")
        errors = [e["message"] for e in page.get_log("browser") if e.get("level") == "SEVERE"]
        assert not errors, errors
    finally:
        if console is not None:
            console.stop()
        if engine is not None and engine.poll() is None:
            engine.kill()
            engine.wait(30)
        log.close()
        for k in r.scan_iter(match=kp + "*", count=1000):
            r.delete(k)
        try:
            admin = AdminClient({"bootstrap.servers": bootstrap})
            mine = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix)]
            for fut in (admin.delete_topics(mine, operation_timeout=30).values() if mine else ()):
                fut.result()
        except Exception as e:  # noqa: BLE001 - cleanup must not fail the test
            print(f"could not delete the topics {prefix}*: {e}")
