"""``engine.travel_provider = "map"`` gives every zone engine the map provider, also
after a restore and in solver jobs, and replays stay byte-identical."""

from __future__ import annotations

import pickle

import pytest

from fleetstream.connectors.files import read_replay
from fleetstream.contract.settings import EngineSettings
from fleetstream.engine import LocalEngine
from fleetstream.operators.traveltime import HaversineProvider
from fleetstream.operators.traveltime_map import MapProvider
from fleetstream.sim.loop import Simulation
from fleetstream.sim.world import Scenario
from fleetstream.wiring import build_zone_engine, restore_zone_engine

MINI = Scenario(name="andorra-mini", seed=6, zones=1, vehicles_per_zone=4, parcels_per_zone=30,
                on_demand_per_zone=8, shift_h=4.0, incidents=1, breakdowns=0, weather=True,
                malformed=6, road_map="andorra")
MAP = dict(travel_provider="map", travel_map_speed_factor=0.6, solver_workers=0)


def test_settings_select_and_validate_the_provider():
    assert isinstance(build_zone_engine("Z", EngineSettings()).provider, HaversineProvider)
    eng = build_zone_engine("Z", EngineSettings(**MAP))
    assert isinstance(eng.provider, MapProvider)
    assert eng.provider.network.speed_factor == 0.6
    again = restore_zone_engine(eng.snapshot(), EngineSettings(**MAP))
    assert again.provider is eng.provider          # one network per process
    back = pickle.loads(pickle.dumps(eng.provider))  # solver jobs pickle it
    p, q = (42.5078, 1.5211), (42.5448, 1.5151)
    assert back.travel_s(p, q, 0.0) == eng.provider.travel_s(p, q, 0.0)
    with pytest.raises(ValueError, match="travel_provider"):
        EngineSettings(travel_provider="osrm")
    with pytest.raises(ValueError, match="travel_map_speed_factor"):
        EngineSettings(travel_map_speed_factor=0.0)
    with pytest.raises(ValueError, match="engine.travel_map: no road graph .atlantis."):
        build_zone_engine("Z", EngineSettings(travel_provider="map", travel_map="atlantis"))


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("andorra-map"))
    sim = Simulation(MINI, LocalEngine(EngineSettings(**MAP)))
    sim.run()
    sim.write(out)
    return sim, out


def _replay(path: str, settings: EngineSettings, cut: int | None = None) -> list:
    eng = LocalEngine(settings)
    out = []
    for i, m in enumerate(read_replay(path)):
        if i == cut:   # kill and resume: every zone from its snapshot
            eng.zones = {z: restore_zone_engine(ze.snapshot(), settings)
                         for z, ze in eng.zones.items()}
        out.extend(eng.process(m))
    return out


@pytest.mark.slow
def test_map_replays_are_identical_twice_and_after_a_resume(day):
    sim, path = day
    s = EngineSettings(**MAP)
    a = _replay(path, s)
    assert a == sim.outputs                     # the closed loop decided the same
    assert _replay(path, s) == a
    n = sum(1 for _ in read_replay(path))
    assert _replay(path, s, cut=n // 2) == a
    hav = _replay(path, EngineSettings(solver_workers=0))
    assert hav != a                             # the setting does change the travel times
