"""Dispatcher overrides from the console (replay mode): the /api/override endpoint writes
valid override events to approvals.jsonl (with the approvals' token and origin checks),
and a replay merged with them (``fleetstream console merge``) obeys them: override
decisions recorded, the pinned order on the chosen vehicle, the locked route left alone."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request

import orjson
import pytest
from conftest import ROOT, SMALL, shot
from fleetstream.connectors.files import write_replay
from selenium.webdriver.common.by import By
from test_console_live import _first_plan_prefix
from test_console_replay import _click, _load, _post, _records, _text, _wait

from fleetstream.console.headless import ConsoleProcess
from fleetstream.contract.events import TOPIC_APPROVALS, ValidationError, decode_event

pytestmark = pytest.mark.slow


def _replay(src: str, out: str) -> list[dict]:
    r = subprocess.run([sys.executable, "-m", "fleetstream.cli", "replay", src, "--out", out, "-q"],
                       check=False, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    with open(os.path.join(out, "fs.decisions.jsonl"), "rb") as f:
        return [orjson.loads(x) for x in f if x.strip()]


def _stops_at(decisions: list[dict], t: float) -> dict[str, list[tuple[str, str]]]:
    """Each vehicle's route (order id, stop kind) after the applied decisions up to ``t``."""
    routes: dict[str, list[tuple[str, str]]] = {}
    for d in decisions:
        if d["ts"] <= t and d["status"] == "applied":
            for vid, stops in d["routes"].items():
                routes[vid] = [(s["order_id"], s["stop"]) for s in stops]
    return routes


def _routes_at(decisions: list[dict], t: float) -> dict[str, list[str]]:
    """Each vehicle's route (order ids) after the applied decisions up to ``t``."""
    routes: dict[str, list[str]] = {}
    for d in decisions:
        if d["ts"] <= t and d["status"] == "applied":
            for vid, stops in d["routes"].items():
                routes[vid] = [s["order_id"] for s in stops]
    return routes


def test_overrides_from_the_console_are_written_and_obeyed(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    prefix = _first_plan_prefix(minutes_after=120)
    write_replay(str(src / "events.jsonl.gz"), prefix)
    # orders the recorded world picks up in the prefix: it was recorded without the pin,
    # so such an order goes on board the recorded van whatever the pin says (a pickup
    # is a fact the engine follows); pin one the world leaves where the engine puts it
    picked: dict[str, str] = {}
    for m in prefix:
        try:
            ev = decode_event(m.value, m.topic)
        except ValidationError:
            continue
        if ev.TYPE == "order_picked_up":
            picked[ev.order_id] = ev.vehicle_id
    out1 = str(tmp_path / "out1")
    first = _replay(str(src), out1)
    assign = [d for d in first if d["kind"] == "assign" and d["status"] == "applied"]
    # pin right after the first plan (the vans are still at the depot: parcels can move),
    # lock later the route the engine changes most afterwards (without the lock)
    t_pin = assign[0]["ts"] + 1
    routes = {vid: r for vid, r in _routes_at(first, t_pin).items() if r}
    vids = sorted(routes, key=lambda v: (-len(routes[v]), v))
    # an order of the longest route that the recorded world loads on another van (the
    # pin's target) or not at all in the prefix; the next longest route if it loads them all
    target, moves = vids[-1], []
    for source in vids[:-1]:
        moves = [(oid, picked.get(oid, target)) for oid in routes[source]
                 if picked.get(oid, target) != source]
        if moves:
            break
    if not moves:
        # a world recorded by this engine loads every order of every route on the van
        # the plan gave it: make the world load the last order of the longest route on
        # the pin's target instead (its pickup after the pin by the target, what
        # followed it dropped from the prefix), as a world that obeyed the pin would
        source = vids[0]
        gone = routes[source][-1]

        def as_pinned(m):
            try:
                ev = decode_event(m.value, m.topic)
            except ValidationError:
                return m
            if ev.ts <= t_pin or getattr(ev, "order_id", None) != gone:
                return m
            if ev.TYPE != "order_picked_up":
                return None
            return m._replace(value=orjson.dumps({**orjson.loads(m.value), "vehicle_id": target}))

        prefix = [x for x in map(as_pinned, prefix) if x is not None]
        write_replay(str(src / "events.jsonl.gz"), prefix)
        shutil.rmtree(out1)
        before = [d for d in first if d["ts"] <= t_pin]
        first = _replay(str(src), out1)
        assert [d for d in first if d["ts"] <= t_pin] == before
        moves = [(gone, target)]
    pinned, target = moves[-1]
    t = t_pin + 1800
    touched: dict[str, int] = {}
    for d in first:
        if d["ts"] > t:
            for vid in d["routes"]:
                touched[vid] = touched.get(vid, 0) + 1
    assert touched
    locked = max(sorted(touched), key=lambda v: touched[v])
    console = ConsoleProcess("--replay", out1, "--user", "tester",
                             log_path=str(tmp_path / "console.log"))
    try:
        with urllib.request.urlopen(console.url) as r:
            token = r.read().decode().split('name="console-token" content="')[1].split('"')[0]
        url, h = console.url + "api/override", {"X-Console-Token": token}
        # the approvals' checks: token and origin
        assert _post(url, {"action": "route_lock", "vehicle_id": locked}, {}) == 403
        assert _post(url, {"action": "route_lock", "vehicle_id": locked},
                     {**h, "Origin": "http://evil.test"}) == 403
        assert _post(url, {"action": "route_lock", "vehicle_id": "nope", "t": t}, h) == 404
        assert _post(url, {"action": "order_update", "order_id": pinned, "t": t}, h) == 400
        assert _post(url, {"action": "route_lock", "vehicle_id": locked, "t": t,
                           "reason": "driver's choice"}, h) == 200
        assert _post(url, {"action": "order_pin", "order_id": pinned, "vehicle_id": target,
                           "t": t_pin}, h) == 200
    finally:
        console.stop()
    with open(os.path.join(out1, "approvals.jsonl"), "rb") as f:
        lines = [orjson.loads(x) for x in f if x.strip()]
    evs = [decode_event(x["value"], x["topic"]) for x in lines]
    assert [x["topic"] for x in lines] == [TOPIC_APPROVALS] * 2
    assert [e.TYPE for e in evs] == ["route_lock", "order_pin"]
    assert (evs[0].vehicle_id, evs[0].by, evs[0].reason) == (locked, "tester", "driver's choice")
    assert (evs[1].order_id, evs[1].vehicle_id) == (pinned, target)
    assert evs[1].ts < evs[0].ts
    assert lines[0]["key"] == evs[0].zone

    merged = tmp_path / "merged"
    r = subprocess.run([sys.executable, "-m", "fleetstream.cli", "console", "merge", str(src),
                        os.path.join(out1, "approvals.jsonl"), "--out", str(merged)],
                       check=False, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    second = _replay(str(merged), str(tmp_path / "out2"))
    ov = [d for d in second if d["kind"] == "override"]
    assert [(d["status"], d["autonomy"], d["explanation"]["approved_by"]) for d in ov] == \
        [("applied", "manual", "tester")] * 2
    assert [d["trigger_event_ids"] for d in ov] == [[evs[1].event_id], [evs[0].event_id]]
    t_lock = ov[1]["ts"]
    # before the overrides: the same decisions
    t0 = ov[0]["ts"]
    assert [d for d in first if d["ts"] < t0] == [d for d in second if d["ts"] < t0]
    # the pinned order is on its vehicle to the end, the locked route only loses served stops
    pin = ov[0]["routes"]
    assert pinned in [x["order_id"] for x in pin[target]]
    assert pinned not in [x["order_id"] for x in pin.get(source, [])]
    for d in second:
        if d["ts"] >= t0:   # nothing puts it on another vehicle afterwards
            assert all(vid == target for vid, r in d["routes"].items()
                       if pinned in [x["order_id"] for x in r]), \
                (d["decision_id"], d["kind"], d["status"], d["explanation"].get("summary"))
    later = [d for d in second if d["ts"] >= t_lock and d["kind"] != "override"]
    assert not [d for d in later if locked in d["routes"] and d["kind"] != "unassign"]
    assert not [d for d in later if pinned in d["order_ids"] and d["kind"] == "redispatch"]
    assert later  # the engine kept deciding for the other routes meanwhile


def test_inspector_locks_a_route_and_pins_an_order(page, console, console_dir):
    """In the browser (replay mode): the inspector's override buttons write valid
    route_lock and order_pin events to approvals.jsonl."""
    d = next(x for x in _records(console_dir, "fs.decisions")
             if x["kind"] == "reroute" and x["status"] == "applied" and x["order_ids"])
    vid = next(iter(d["routes"]))
    other = next(x for x in _records(console_dir, "fs.decisions")
                 for v in x["routes"] if v != vid)
    target = next(v for v in other["routes"] if v != vid)
    _load(page, f"{console.url}?t={d['ts']}")
    _click(page, f'#decisions li[data-id="{d["decision_id"]}"] a')
    _wait(page, 10).until(lambda p: p.find_element(By.ID, "inspector")
                          .get_attribute("data-id") == d["decision_id"])
    assert "Overrides" in _text(page, "#inspector")
    _click(page, f'#overrides div[data-vehicle="{vid}"] .ov-lock')
    page.execute_script("document.querySelector('#overrides .ov-vehicle').value = arguments[0];",
                        target)
    _click(page, "#overrides .ov-pin")
    path = os.path.join(console_dir, "approvals.jsonl")

    def written() -> list:
        if not os.path.exists(path):
            return []
        with open(path, "rb") as f:
            return [orjson.loads(x) for x in f if x.strip()]
    _wait(page, 10).until(lambda _p: len(written()) >= 2)
    evs = [decode_event(x["value"], x["topic"]) for x in written()]
    assert [e.TYPE for e in evs] == ["route_lock", "order_pin"]
    assert (evs[0].vehicle_id, evs[0].zone, evs[0].by) == (vid, d["zone"], "tester")
    assert (evs[1].order_id, evs[1].vehicle_id) == (d["order_ids"][0], target)
    assert all(e.ts >= d["ts"] - 1 for e in evs)


def _hhmm(ts: float) -> str:
    return time.strftime("%H:%M", time.gmtime(ts))


def test_inspector_changes_a_window_and_an_address_and_the_engine_records_them(
        page, small_out, tmp_path):
    """In the browser (replay mode): the inspector's **change window…** and **change
    address…** forms write valid order_update events; the replay merged with them
    records both as override decisions, and the order's stop moves to the new address
    in the engine's later routes."""
    from fleetstream.console.merge import merge_approvals
    from fleetstream.contract.settings import EngineSettings
    from fleetstream.replay import run_replay

    out = str(tmp_path / "out")
    shutil.copytree(small_out, out)
    decs = _records(out, "fs.decisions")
    done = {o["order_id"]: o["ts"] for o in _records(out, "fs.outcomes")}
    # an order assigned by insertion that is delivered more than an hour later
    d, oid = next((d, oid) for d in decs if d["kind"] == "assign" and d["status"] == "applied"
                  and d["explanation"]["reasons"][0]["rule"] == "cheapest_feasible_insertion"
                  and d["explanation"].get("alternatives")
                  for oid in d["order_ids"] if done.get(oid, 0) > d["ts"] + 3600)
    stop = next(s for r in d["routes"].values() for s in r
                if s["order_id"] == oid and s["stop"] == "delivery")
    new_loc = {"lat": round(stop["location"]["lat"] + 0.002, 6), "lon": stop["location"]["lon"]}
    ws = (int(d["ts"]) // 3600) * 3600
    we = min(ws + 8 * 3600, (int(d["ts"]) // 86400) * 86400 + 86340)
    t = d["ts"] + 2
    console = ConsoleProcess("--replay", out, "--user", "tester",
                             log_path=str(tmp_path / "console.log"))
    try:
        _load(page, f"{console.url}?t={t}")
        _click(page, f'#decisions li[data-id="{d["decision_id"]}"] a')
        _wait(page, 10).until(lambda p: p.find_element(By.ID, "inspector")
                              .get_attribute("data-id") == d["decision_id"])
        assert "null" not in _text(page, "#inspector").split("\n")  # no stray parts
        # the alternatives the insertion costed, as a table: one row per order
        alts = d["explanation"]["alternatives"]
        rows = page.execute_script(
            "return [...document.querySelectorAll('#inspector table.alternatives tr[data-order]')]"
            ".map(r => [r.dataset.order, r.querySelector('.options').textContent])")
        assert [r[0] for r in rows] == [a["order_id"] for a in alts]
        for (_oid, text), a in zip(rows, alts):
            for o in a["options"]:
                assert (o.get("vehicle") or "leave unassigned") in text
        page.execute_script("document.querySelector('#inspector table.alternatives')"
                            ".scrollIntoView({block: 'center'});")
        shot(page, "console-alternatives.png")
        # the address field starts from the order's current delivery location
        page.execute_script("const s = document.querySelectorAll('#overrides .ov-order');"
                            "for (const x of s) { x.value = arguments[0]; "
                            "x.dispatchEvent(new Event('change')); }", oid)
        assert page.execute_script("return document.querySelector('#overrides "
                                   ".ov-address-input').value") == \
            f"{stop['location']['lat']}, {stop['location']['lon']}"
        page.execute_script("document.querySelector('#overrides .ov-ws').value = arguments[0];"
                            "document.querySelector('#overrides .ov-we').value = arguments[1];",
                            _hhmm(ws), _hhmm(we))
        _click(page, "#overrides .ov-window")
        path = os.path.join(out, "approvals.jsonl")

        def written() -> list:
            if not os.path.exists(path):
                return []
            with open(path, "rb") as f:
                return [orjson.loads(x) for x in f if x.strip()]
        _wait(page, 10).until(lambda _p: len(written()) >= 1)
        # a malformed address is refused in the page: nothing written
        page.execute_script("document.querySelector('#overrides .ov-address-input').value = "
                            "'somewhere';")
        said = page.execute_script("document.querySelector('#overrides .ov-address').click();"
                                   "return document.getElementById('conn').textContent;")
        assert "lat, lon" in said
        page.execute_script("document.querySelector('#overrides .ov-address-input').value = "
                            "arguments[0];", f"{new_loc['lat']}, {new_loc['lon']}")
        _click(page, "#overrides .ov-address")
        _wait(page, 10).until(lambda _p: len(written()) >= 2)
        # what the action did stays in the header (not wiped by the next refresh)
        time.sleep(1.0)
        assert "order_update" in _text(page, "#conn") and "approvals.jsonl" in _text(page, "#conn")
        page.execute_script("document.getElementById('overrides').scrollIntoView();")
        shot(page, "console-overrides.png")
    finally:
        page.get("about:blank")  # no event stream left retrying a stopped server
        console.stop()
    lines = written()
    evs = [decode_event(x["value"], x["topic"]) for x in lines]
    assert [(e.TYPE, e.order_id, e.by) for e in evs] == [("order_update", oid, "tester")] * 2
    assert (evs[0].window_start, evs[0].window_end, evs[0].location) == (ws, we, None)
    assert (evs[1].window_start, evs[1].window_end) == (None, None)
    assert evs[1].location == (new_loc["lat"], new_loc["lon"])
    assert all(e.ts == pytest.approx(t, abs=0.01) for e in evs)

    merged = str(tmp_path / "merged")
    merge_approvals(SMALL, path, merged)
    out2 = tmp_path / "out2"
    run_replay(merged, str(out2), EngineSettings(autonomy_reroute="propose"))
    second = _records(str(out2), "fs.decisions")
    ov = [x for x in second if x["kind"] == "override"]
    assert [(x["status"], x["autonomy"], x["explanation"]["approved_by"], x["order_ids"])
            for x in ov] == [("applied", "manual", "tester", [oid])] * 2
    assert [x["trigger_event_ids"] for x in ov] == [[evs[0].event_id], [evs[1].event_id]]
    changes = [x["explanation"]["reasons"][0]["changes"] for x in ov]
    assert changes == [{"window_start": ws, "window_end": we}, {"location": new_loc}]
    # the order's stop is at its new address on every later route that has it
    after = second[second.index(ov[1]):]
    later = [s for x in after if x["status"] == "applied" for r in x["routes"].values() for s in r
             if s["order_id"] == oid and s["stop"] == "delivery"]
    assert later and all(s["location"] == new_loc for s in later)
    assert all(s["window_end"] == we for s in later)
    # before the overrides: the same decisions
    assert [x for x in decs if x["ts"] < ov[0]["ts"]] == \
        [x for x in second if x["ts"] < ov[0]["ts"]]
