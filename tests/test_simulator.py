"""The world simulator: seeded, deterministic, ground truth kept apart."""

from __future__ import annotations

import gzip
import os

import orjson

from fleetstream.engine import LocalEngine
from fleetstream.sim.record import record
from fleetstream.connectors.files import read_replay


def _bytes(folder: str) -> dict[str, bytes]:
    out = {}
    for root, _dirs, files in os.walk(folder):
        for f in files:
            p = os.path.join(root, f)
            out[os.path.relpath(p, folder)] = open(p, "rb").read()
    return out


def test_same_seed_same_bytes(tmp_path, tiny):
    """Simulating the same scenario and seed twice writes byte-identical files."""
    record("tiny", str(tmp_path / "again"), progress=False)
    assert _bytes(tiny.path) == _bytes(str(tmp_path / "again"))


def test_other_seed_other_day(tmp_path, tiny):
    """A different seed gives a different recording."""
    record("tiny", str(tmp_path / "other"), seed=99, progress=False)
    assert _bytes(tiny.path)["events.jsonl.gz"] != _bytes(str(tmp_path / "other"))["events.jsonl.gz"]


def test_truth_is_kept_out_of_the_input(tiny):
    """Ground truth (availability, true leg times) is in truth/, never in the input stream."""
    raw = gzip.open(os.path.join(tiny.path, "events.jsonl.gz")).read()
    for secret in (b"archetype", b"true_s", b"access_difficulty", b"pace", b"household",
                   b"absent_blocks", b"p_access_fail", b"p_fail"):
        assert secret not in raw
    assert b"building_type" in raw and b"available_hours" in raw   # what a profile may say
    legs = [orjson.loads(x) for x in gzip.open(os.path.join(tiny.path, "truth", "legs.jsonl.gz"))]
    assert legs and all(leg["true_s"] > 0 and leg["provider_s"] >= 0 for leg in legs)
    attempts = [orjson.loads(x) for x in gzip.open(os.path.join(tiny.path, "truth", "attempts.jsonl.gz"))]
    assert {"home", "access_ok", "p_fail"} <= set(attempts[0])
    with gzip.open(os.path.join(tiny.path, "truth", "customers.jsonl.gz")) as f:
        custs = [orjson.loads(x) for x in f]
    assert {"building_type", "household", "absent_blocks", "p_access_fail"} <= set(custs[0])


def test_recording_has_every_kind_of_input(tiny):
    """The stream carries pings, fleet, orders, conditions and profiles, plus noise:
    duplicates, late pings and malformed messages."""
    msgs = list(read_replay(tiny.path))
    topics = {m.topic for m in msgs}
    assert {"fs.telemetry", "fs.fleet", "fs.orders", "fs.conditions", "fs.customers"} <= topics
    values = [m.value for m in msgs]
    assert len(values) > len(set(values)), "expected duplicated messages"
    manifest = orjson.loads(open(os.path.join(tiny.path, "manifest.json"), "rb").read())
    assert manifest["sizes"]["malformed_injected"] >= 6
    assert manifest["sizes"]["late_pings_injected"] >= 1
    assert manifest["sizes"]["events"] == len(msgs)


def test_closed_loop_applies_decisions(tiny):
    """In closed loop the vehicles follow the engine: orders get delivered."""
    kpis = tiny.sim.kpis()
    assert kpis["delivered"] > 0.7 * kpis["orders"]
    assert kpis["decisions"] > 0


def test_replaying_the_recording_gives_the_closed_loop_decisions(tiny):
    """Feeding the recording to a fresh engine reproduces every output the loop saw."""
    eng = LocalEngine()
    outs = [o for m in read_replay(tiny.path) for o in eng.process(m)]
    assert outs == tiny.sim.outputs


def _world_digest() -> str:
    import hashlib

    from fleetstream.sim.world import Scenario, World
    h = hashlib.sha256()
    for name in ("tiny", "small", "metro"):
        w = World(Scenario.preset(name))
        for z in w.zones:
            h.update(repr((z.id, z.center, z.depot, z.stores, z.density)).encode())
        for c in w.customers:
            h.update(repr((c.id, c.location, c.language, c.archetype, round(c.access_difficulty, 12),
                           c.preferred_drop, c.access_instructions, c.notes,
                           c.service_requirements)).encode())
        for v in w.vehicles:
            h.update(repr((v.id, v.vehicle_type, v.skills, round(v.shift_start, 6),
                           round(v.pace, 12))).encode())
        for o in w.orders:
            h.update(repr((o.id, o.customer.id, o.kind, o.pickup, o.created_ts, o.window, o.size,
                           o.service_s, o.skills, o.vehicle_types, o.priority, o.value,
                           o.cancel_ts)).encode())
    return h.hexdigest()


def test_plane_worlds_are_what_they_were():
    """The plane scenarios draw the same zones, customers, fleet and orders as before
    the road world existed (recordings stay comparable across versions)."""
    assert _world_digest() == "2fbc237434c43ff5796beb73080f9bf8e061b7b9fc9add6c343ac94426264eb4"


def test_scenario_names_and_manifest_fields():
    from fleetstream.sim.world import SCENARIOS, Scenario
    for name in SCENARIOS:
        assert Scenario.preset(name).name == name
    assert "road_map" not in Scenario.preset("small").fields()
    assert Scenario.preset("andorra").fields()["road_map"] == "andorra"
    import pytest
    with pytest.raises(ValueError, match="unknown scenario 'atlantis'"):
        Scenario.preset("atlantis")


def test_a_hand_over_happens_where_the_broken_van_really_is():
    """The world's side of recovery (fleetstream/sim/handover.py): a van sent to collect
    a load drives to the broken van's true position (not the engine's pickup point), the
    parcel changes vans, and a failed parcel stays on board for a re-attempt."""
    from types import SimpleNamespace

    from fleetstream.sim import handover
    from fleetstream.sim.world import SimOrder, SimVehicle

    def van(vid, state, pos):
        return SimVehicle(vid, "d" + vid, "Z1", "captive", "van", {}, [], (0.0, 0.0), 0.0,
                          9e9, 1.0, (0, 0, 0, 0), state=state, pos=pos)

    broken, rescuer = van("V1", "broken", (42.5, 1.5)), van("V2", "driving", (42.6, 1.6))
    o = SimOrder("o1", "Z1", None, "parcel", (42.55, 1.55), None, 0.0, (0.0, 9e9), {}, 60.0,
                 [], [], [], 0, 10.0, status="loaded", holder="V1", outcome="stranded")
    broken.loaded.add("o1")
    sim = SimpleNamespace(vehicles={"V1": broken, "V2": rescuer})
    assert handover.holder_out_of_service(sim, o, rescuer) is broken
    assert handover.holder_out_of_service(sim, o, broken) is None
    broken.state = "driving"   # a van in service keeps its load
    assert handover.holder_out_of_service(sim, o, rescuer) is None
    broken.state = "broken"
    assert handover.take_over(sim, o, rescuer)
    assert (o.holder, o.handovers, o.outcome) == ("V2", 1, None)
    assert "o1" in rescuer.loaded and "o1" not in broken.loaded
    assert not handover.take_over(sim, o, rescuer), "only once"
