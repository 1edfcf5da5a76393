"""The simulator on the Andorra road graph: deterministic, pings on the roads,
and a world whose travel times are not the map provider's."""

from __future__ import annotations

import gzip
import os
import random

import numpy as np
import orjson
import pytest

from fleetstream.connectors.files import read_replay
from fleetstream.engine import LocalEngine
from fleetstream.operators.traveltime_map import MapProvider
from fleetstream.roads.network import MapNetwork
from fleetstream.sim.loop import Simulation
from fleetstream.sim.roadmotion import road_truth
from fleetstream.sim.world import Scenario

MINI = Scenario(name="andorra-mini", seed=5, zones=1, vehicles_per_zone=4, parcels_per_zone=30,
                on_demand_per_zone=8, shift_h=4.0, incidents=1, breakdowns=0, weather=True,
                malformed=6, road_map="andorra")


def _run(out: str) -> tuple[Simulation, dict[str, bytes], str]:
    sim = Simulation(MINI, LocalEngine())
    sim.run()
    sim.write(out)
    files = {}
    for root, _d, fs in os.walk(out):
        for f in fs:
            p = os.path.join(root, f)
            files[os.path.relpath(p, out)] = open(p, "rb").read()
    return sim, files, out


@pytest.fixture(scope="module")
def mini(tmp_path_factory):
    return _run(str(tmp_path_factory.mktemp("andorra-a")))


@pytest.mark.slow
def test_same_seed_same_bytes(mini, tmp_path):
    _, again, _ = _run(str(tmp_path / "b"))
    assert mini[1] == again
    assert set(again) >= {"events.jsonl.gz", "truth/legs.jsonl.gz", "truth/customers.jsonl.gz"}


def test_replaying_the_recording_gives_the_closed_loop_decisions(mini):
    sim, _, path = mini
    eng = LocalEngine()
    assert [o for m in read_replay(path) for o in eng.process(m)] == sim.outputs


def test_the_day_happens_on_the_map(mini):
    sim, files, _ = mini
    g = road_truth("andorra").graph
    kpis = sim.kpis()
    assert kpis["delivered"] > 0.5 * kpis["orders"] and kpis["km"] > 10
    # Customers, depots and stores sit on road nodes.
    pts = [c.location for c in sim.world.customers] + [z.depot for z in sim.world.zones] + [
        s for z in sim.world.zones for s in z.stores]
    assert g.snap(pts)[1].max() < 0.2
    customers = [orjson.loads(x) for x in gzip.decompress(files["truth/customers.jsonl.gz"]).splitlines()]
    assert {"building", "parking_s", "walk_s"} <= set(customers[0])
    legs = [orjson.loads(x) for x in gzip.decompress(files["truth/legs.jsonl.gz"]).splitlines()]
    assert legs and all("map_s" in leg and leg["road_m"] >= 0 for leg in legs)


def moving_pings(events_gz: bytes, vehicles) -> list[tuple[float, float]]:
    """(lat, lon) of the simulated vehicles' pings while moving, from a recording's
    events.jsonl.gz (the injected malformed messages skipped)."""
    pings = []
    for line in gzip.decompress(events_gz).splitlines():
        env = orjson.loads(line)
        if env["topic"] != "fs.telemetry" or "value" not in env:
            continue
        try:
            ev = orjson.loads(env["value"])
        except orjson.JSONDecodeError:
            continue                                   # the injected malformed messages
        if isinstance(ev, dict) and ev.get("type") == "ping" and str(ev.get("event_id", "")).startswith("p") \
                and ev.get("vehicle_id") in vehicles:
            pings.append((ev["lat"], ev["lon"], ev["speed_kmh"]))
    return [(la, lo) for la, lo, s in pings if s > 0]


def test_pings_are_on_the_roads(mini):
    """Every ping of a driving vehicle lies within GPS noise of an edge (the jitter has
    a standard deviation of about 8 m a coordinate), and the noiseless positions
    along the legs lie on the edges."""
    sim, files, _ = mini
    g = road_truth("andorra").graph
    moving = moving_pings(files["events.jsonl.gz"], sim.vehicles)
    assert len(moving) > 100
    d = g.distance_to_edges_m(moving, radius_m=100.0)
    assert np.percentile(d, 99) < 30 and d.max() < 50
    # Noiseless: positions along real legs of this world.
    truth = road_truth("andorra")
    rng = random.Random(1)
    lat, lon = g.lat, g.lon
    exact = []
    for _ in range(20):
        a, b = rng.randrange(g.n_nodes), rng.randrange(g.n_nodes)
        leg = truth.leg(rng, a, b, 1772438400.0, "van", 1.0, [], 1.0, None, "end")
        for k in range(10):
            exact.append(leg.pos_at(leg.startup_s + leg.drive_s * (k + 0.5) / 10))
    assert g.distance_to_edges_m(exact, radius_m=50.0).max() < 0.5
    assert (lat.min() <= min(p[0] for p in exact)) and (lon.max() >= max(p[1] for p in exact))


def test_truth_is_not_the_map_provider_and_depends_on_leg_length():
    """Measured: the world's time over the map provider's falls with leg length
    (short legs: pulling out, parking, junctions in town; long legs: open roads)."""
    truth = road_truth("andorra")
    g, p = truth.graph, truth.placement
    prov = MapProvider(MapNetwork("andorra"))
    rng = random.Random(11)
    nodes = np.arange(g.n_nodes)
    rows = []
    for _ in range(160):
        a, b = p.draw(rng, nodes, p.weight), p.draw(rng, nodes, p.weight)
        if a == b:
            continue
        site = p.customer_site(rng, nodes)
        t = 1772409600.0 + rng.uniform(7, 18) * 3600
        leg = truth.leg(rng, a, b, t, "van", 1.0, [], 1.0, site, "delivery")
        m = prov.travel_s((g.lat[a], g.lon[a]), (g.lat[b], g.lon[b]), t)
        rows.append((leg.road_m, leg.total_s / m))
    r = np.array(rows)
    short = np.median(r[r[:, 0] < 1500, 1])
    long_ = np.median(r[r[:, 0] > 8000, 1])
    assert (r[:, 0] < 1500).sum() >= 15 and (r[:, 0] > 8000).sum() >= 15
    assert short > 1.6 * long_, (short, long_)
    assert 0.8 < long_ < 2.0, long_
    # Not a constant multiple of the provider: the spread of the ratio is wide.
    assert np.std(np.log(r[:, 1])) > 0.2
