"""Vehicles on the road map: legs along shortest paths, positions on the road
geometry for the pings, and the truth written beside each leg.

The :class:`~fleetstream.sim.loop.Simulation` delegates to :class:`RoadMotion`
when its scenario has a ``road_map``; the plane scenarios never touch it.
"""

from __future__ import annotations

import functools
from typing import Any

from fleetstream.operators.traveltime_map import MapProvider
from fleetstream.roads.network import MapNetwork
from fleetstream.sim.roadtruth import RoadLeg, RoadTruth
from fleetstream.sim.roadworld import RoadPlacement, Site


@functools.lru_cache(maxsize=4)
def road_truth(map_name: str, tz: str | None = None) -> RoadTruth:
    """The static part of a map's speed model, built once per process and world clock
    (``Scenario.timezone``; it holds no state that changes an answer: the router's
    cache only saves searches)."""
    return RoadTruth(RoadPlacement(map_name), tz=tz)


class RoadMotion:
    def __init__(self, sim: Any):
        self.sim = sim
        name = sim.sc.road_map
        self.truth = road_truth(name, sim.sc.timezone)
        self.graph = self.truth.graph
        # What the map provider would have said: recorded as ``map_s`` for scoring.
        self.map_provider = MapProvider(MapNetwork(name))

    def _node(self, p: tuple) -> int:
        idx, _ = self.graph.snap([p])
        return int(idx[0])

    def _weather(self, zone: str, t: float) -> float:
        f = 1.0
        for s, e, fac in self.sim.weather.get(zone, []):
            if s <= t < e:
                f *= fac
        return f

    def drive(self, v, target: tuple, to: tuple) -> None:
        sim = self.sim
        v.token += 1
        oid, stop = target
        site = None
        if stop == "delivery" and oid in sim.orders:
            site = sim.orders[oid].customer.site
        leg = self.truth.leg(sim.rng, self._node(v.pos), self._node(to), sim.now, v.vehicle_type,
                             v.pace, sim.incidents, self._weather(v.zone, sim.now), site, stop)
        true_s = max(20.0, leg.total_s)
        v.leg = (v.pos, to, sim.now, sim.now + true_s, target, v.token, true_s,
                 sim.provider.travel_s(v.pos, to, sim.now), leg)
        v.state = "driving"
        sim.at(sim.now + true_s, sim._arrive, v, v.token)

    def pos_at(self, v, t: float) -> tuple:
        leg: RoadLeg = v.leg[8]
        return leg.pos_at(t - v.leg[2])

    def motion_at(self, v, t: float) -> tuple[float, float]:
        leg: RoadLeg = v.leg[8]
        return leg.motion_at(t - v.leg[2])

    def stop_leg(self, v) -> None:
        """Turn round: the vehicle goes on to the next node of its path and stops its
        leg there (the distance so far counts)."""
        leg: RoadLeg = v.leg[8]
        node = leg.node_ahead(self.sim.now - v.leg[2])
        k = int((leg.nodes == node).argmax())
        v.km += float(self.graph.length_m[leg.edges[:k]].sum()) / 1000.0
        v.pos = (round(float(self.graph.lat[node]), 6), round(float(self.graph.lon[node]), 6))

    def truth_fields(self, v, leg: RoadLeg, a: tuple, b: tuple, t0: float) -> dict:
        return {"map_s": round(self.map_provider.travel_s(a, b, t0), 2),
                "road_m": round(leg.road_m, 1), "startup_s": round(leg.startup_s, 1),
                "drive_s": round(leg.drive_s, 1), "parking_s": round(leg.parking_s, 1)}

    def walk_s(self, customer, rng) -> float:
        """The walk to ``customer``'s door and back, drawn from ``rng`` (the attempt's
        own stream: Simulation.stream)."""
        return self.truth.walk_s(rng, customer.site)

    @staticmethod
    def site_fields(site: Site) -> dict:
        return {"node": site.node, "building": site.building, "setting": site.setting,
                "floor": site.floor, "lift": site.lift, "parking_s": site.parking_s,
                "walk_s": site.walk_s}
