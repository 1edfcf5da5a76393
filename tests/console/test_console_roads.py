"""Road background: a replay in the area of a shipped road graph (Andorra) gets
the graph's roads drawn under the routes; the endpoint answers only for covered
areas and checks its box."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

import orjson
import pytest
from conftest import shot
from fleetstream.connectors.files import write_replay
from fleetstream.operators.pipeline import InMsg
from selenium.webdriver.support.ui import WebDriverWait

from fleetstream.console.headless import ConsoleProcess
from fleetstream.console.roads import road_segments

pytestmark = pytest.mark.slow

DEPOT = (42.5078, 1.5211)  # Andorra la Vella
STOPS = [(42.5100, 1.5300), (42.5050, 1.5350), (42.5000, 1.5250)]
T0 = 1772434800.0


def _andorra_day(tmp_path) -> str:
    """A hand-made replay output folder: one van, its route, a few fixes."""
    inp, out = tmp_path / "in", tmp_path / "out"
    inp.mkdir()
    out.mkdir()
    evs = [{"type": "shift_start", "event_id": "ss1", "ts": T0, "v": 1, "vehicle_id": "V1",
            "driver_id": "D1", "zone": "AD", "fleet_type": "captive", "vehicle_type": "van",
            "capacity": {"weight_kg": 500, "volume_l": 3000}, "start": {"lat": DEPOT[0], "lon": DEPOT[1]},
            "end": {"lat": DEPOT[0], "lon": DEPOT[1]}, "shift_end_ts": T0 + 8 * 3600,
            "cost_per_km": 0.3, "cost_per_hour": 25}]
    for i, (la, lo) in enumerate(STOPS):
        evs.append({"type": "order_created", "event_id": f"oc{i}", "ts": T0 + 1 + i, "v": 1,
                    "order_id": f"O{i}", "zone": "AD", "customer_id": f"C{i}", "kind": "parcel",
                    "location": {"lat": la, "lon": lo}, "window_start": T0, "window_end": T0 + 4 * 3600,
                    "size": {"weight_kg": 1, "volume_l": 1}, "service_s": 60, "priority": 0})
    for i in range(5):
        evs.append({"type": "ping", "event_id": f"p{i}", "ts": T0 + 60 * (i + 1), "v": 1,
                    "vehicle_id": "V1", "lat": DEPOT[0] + 0.0005 * i, "lon": DEPOT[1] + 0.001 * i,
                    "speed_kmh": 20, "heading": 60})
    write_replay(str(inp / "events.jsonl.gz"),
                 [InMsg(i, "fs.fleet" if e["type"] == "shift_start" else
                        "fs.telemetry" if e["type"] == "ping" else "fs.orders", None,
                        orjson.dumps(e)) for i, e in enumerate(evs)])
    route = [{"order_id": f"O{i}", "stop": "delivery", "eta": T0 + 900 * (i + 1),
              "window_end": T0 + 4 * 3600, "location": {"lat": la, "lon": lo}}
             for i, (la, lo) in enumerate(STOPS)]
    dec = {"decision_id": "D-AD-1-1", "ts": T0 + 30, "v": 1, "zone": "AD", "kind": "assign",
           "status": "applied", "autonomy": "auto", "order_ids": ["O0", "O1", "O2"],
           "routes": {"V1": route}, "trigger_event_ids": ["oc2"], "models": {},
           "explanation": {"summary": "3 orders added to V1"}}
    (out / "fs.decisions.jsonl").write_bytes(orjson.dumps(dec) + b"\n")
    for t in ("fs.alerts", "fs.eta", "fs.outcomes"):
        (out / f"{t}.jsonl").write_bytes(b"")
    (out / ".fleetstream-run.json").write_text(json.dumps({"replay": str(inp)}))
    return str(out)


def test_segments_cover_only_graph_areas():
    got = road_segments(42.49, 1.50, 42.52, 1.55)
    assert got["graphs"] == ["andorra"] and len(got["segments"]) > 100
    assert "OpenStreetMap" in got["attribution"]
    assert all(42.40 < s[0] < 42.65 and len(s) == 5 for s in got["segments"])
    assert road_segments(52.4, 13.3, 52.6, 13.5)["segments"] == []  # Berlin: no graph shipped


def test_a_graph_file_given_to_the_console_is_drawn(tmp_path):
    """``fleetstream console --road-map FILE``: a city converted by the operator (here the
    shipped Helsinki graph under another name) is drawn besides the shipped ones."""
    import shutil

    from fleetstream.roads.graph import DATA_DIR
    path = str(tmp_path / "mycity.npz")
    shutil.copy(os.path.join(DATA_DIR, "helsinki.npz"), path)
    box = (60.16, 24.93, 60.18, 24.96)
    shipped = road_segments(*box)
    both = road_segments(*box, extra=(path,))
    assert shipped["graphs"] == ["helsinki"] and len(shipped["segments"]) > 500
    assert both["graphs"] == ["helsinki", "helsinki"]           # the file's own name
    assert len(both["segments"]) == 2 * len(shipped["segments"])
    assert road_segments(*box, extra=("helsinki",))["graphs"] == ["helsinki"]   # no double
    r = subprocess.run([sys.executable, "-m", "fleetstream.cli", "console", "--replay",
                        str(tmp_path), "--road-map", str(tmp_path / "none.npz")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "--road-map" in r.stderr and "no such file" in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_map_draws_roads_under_the_routes(page, tmp_path):
    out = _andorra_day(tmp_path)
    c = ConsoleProcess("--replay", out, log_path=str(tmp_path / "console.log"))
    try:
        page.get(c.url)
        WebDriverWait(page, 20).until(lambda d: d.execute_script(
            "const p = document.querySelectorAll('#roads path.road');"
            "return p.length === 2 && p[0].getAttribute('d').length > 1000;"))
        assert page.execute_script("return document.querySelectorAll('#vehicles g.vehicle').length") == 1
        assert page.execute_script("return document.querySelectorAll('#stops circle').length") == 3
        # the roads are behind everything else
        assert page.execute_script("return document.getElementById('map').firstElementChild.id") == "roads"
        shot(page, "console-roads.png")
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(c.url + "api/roads?bbox=1,2,x,4")
        assert e.value.code == 400
    finally:
        page.get("about:blank")  # close the event stream before the server goes
        c.stop()
