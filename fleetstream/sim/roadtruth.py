"""The road world's true travel times: the simulator's own speed model.

This is the world, not the engine's estimate: nothing here is shared with the
travel-time providers (``operators/traveltime*.py``), which know only the map's
posted or default speeds.  Vehicles drive the map's fastest free-flow route
(what a navigation app would choose); how long that takes is decided here:

* **True road speeds** differ from the posted ones: a cruising speed per road
  class (faster than posted on open primary roads, slower on mountain secondary
  roads), slowed by town density, capped by curvature (hairpins: the turn angle
  at each bend and the segment lengths give a radius; lateral acceleration
  4.0 m/s^2), and a fixed per-road variation (the same roads every day).
* **Junctions**: a delay entering each junction, longer in town.
* **Time of day**, in the world's local time (UTC+1 in Andorra in March, while the
  engine's hours are UTC), per road group: main roads jam in the morning, at
  lunch and in the evening; local streets barely; the effect grows with town
  density.
* **Incidents** slow the edges of an area; **weather** slows everything,
  mountain roads more than town streets.
* **Vehicles**: trucks slower (more on bends), bikes ride at their own pace and
  ignore jams.  **Drivers** keep their hidden pace.
* **Stops**: pulling out (5-30 s), the hunt for a place to stop at the end
  (per customer's door and building, busier at midday) and walking to the door
  and back (floors, lifts: added to the service time).
* A lognormal noise (sigma 0.07) per leg on the driving time.

So short legs are slow relative to any free-flow estimate (pulling out,
parking, junctions in town) while long legs on open primary roads are close to
or faster than free flow: the ratio true/provider falls with trip length, as in
real trip data.
"""

from __future__ import annotations

import math
import random
import zlib
from dataclasses import dataclass

import numpy as np

from fleetstream.roads.routing import Router
from fleetstream.sim.clock import local_s
from fleetstream.sim.roadworld import RoadPlacement, Site

# Cruising speed (km/h) per class on an open road, before town, bends and hour.
TRUE_CLASS_KMH = {"primary": 90.0, "primary_link": 40.0, "secondary": 54.0, "secondary_link": 34.0,
                  "tertiary": 38.0, "unclassified": 32.0, "residential": 25.0,
                  "living_street": 10.0, "road": 22.0}
MAIN = {"primary", "primary_link", "secondary", "secondary_link", "trunk", "motorway"}
# Speed multiplier by local hour on main roads and on local streets (full town density).
MAIN_PROFILE = (1.0, 1.0, 1.0, 1.0, 1.0, 0.98, 0.92, 0.78, 0.58, 0.68, 0.8, 0.78,
                0.7, 0.66, 0.74, 0.8, 0.76, 0.62, 0.55, 0.66, 0.82, 0.92, 0.96, 1.0)
LOCAL_PROFILE = (1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.97, 0.92, 0.85, 0.9, 0.93, 0.92,
                 0.88, 0.88, 0.92, 0.93, 0.9, 0.86, 0.84, 0.9, 0.95, 0.98, 1.0, 1.0)
LOCAL_UTC_OFFSET_H = {"andorra": 1}
LATERAL_ACCEL = 4.0   # m/s^2: cornering on mountain roads
BIKE_KMH = {"bike": 16.0, "cargo_bike": 13.0}
VEHICLE_SPEED = {"car": 1.0, "van": 0.95, "truck": 0.86}


@dataclass
class RoadLeg:
    """One driven leg: the path, when each edge ends, and what the stop took."""

    nodes: np.ndarray      # node indices, start .. end
    edges: np.ndarray      # edge indices along the path
    lat: np.ndarray        # node coordinates along the path
    lon: np.ndarray
    edge_end_s: np.ndarray  # seconds after the start of driving at which each edge ends
    edge_kmh: np.ndarray   # true speed on each edge (for the pings)
    startup_s: float       # pulling out before driving
    drive_s: float         # on the road
    parking_s: float       # looking for a place to stop at the end
    road_m: float

    @property
    def total_s(self) -> float:
        return self.startup_s + self.drive_s + self.parking_s

    def _edge_at(self, dt: float) -> tuple[int, float] | None:
        """(edge position along the path, fraction done) at ``dt`` seconds after the
        start, or None when not on an edge (pulling out, parking, done)."""
        x = dt - self.startup_s
        if x < 0 or x >= self.drive_s or len(self.edges) == 0:
            return None
        i = int(np.searchsorted(self.edge_end_s, x, side="right"))
        i = min(i, len(self.edges) - 1)
        t0 = self.edge_end_s[i - 1] if i > 0 else 0.0
        span = self.edge_end_s[i] - t0
        return i, (0.0 if span <= 0 else min(1.0, (x - t0) / span))

    def pos_at(self, dt: float) -> tuple[float, float]:
        at = self._edge_at(dt)
        if at is None:
            k = 0 if dt - self.startup_s < 0 else len(self.nodes) - 1
            return (float(self.lat[k]), float(self.lon[k]))
        i, f = at
        return (float(self.lat[i] + (self.lat[i + 1] - self.lat[i]) * f),
                float(self.lon[i] + (self.lon[i + 1] - self.lon[i]) * f))

    def motion_at(self, dt: float) -> tuple[float, float]:
        """(true speed km/h, heading degrees clockwise from north) at ``dt``."""
        at = self._edge_at(dt)
        if at is None:
            return 0.0, 0.0
        i = at[0]
        dlat = self.lat[i + 1] - self.lat[i]
        dlon = (self.lon[i + 1] - self.lon[i]) * math.cos(math.radians(float(self.lat[i])))
        return float(self.edge_kmh[i]), math.degrees(math.atan2(dlon, dlat)) % 360

    def node_ahead(self, dt: float) -> int:
        """The node a vehicle reaches next (where it can turn round)."""
        at = self._edge_at(dt)
        if at is None:
            return int(self.nodes[0] if dt - self.startup_s < 0 else self.nodes[-1])
        return int(self.nodes[at[0] + 1])


class RoadTruth:
    """The true speed model of one map (static part computed once)."""

    def __init__(self, placement: RoadPlacement, utc_offset_h: int | None = None,
                 tz: str | None = None):
        self.placement = p = placement
        self.graph = g = placement.graph
        self.router = Router(g, cache_rows=160)
        self.utc_offset_h = LOCAL_UTC_OFFSET_H.get(p.map_name, 0) if utc_offset_h is None \
            else utc_offset_h
        # The world's local clock (Scenario.timezone, sim/clock.py): rush hours follow
        # its offset at each instant, daylight saving included; None: the fixed offset.
        self.tz = tz
        names = [g.classes[c] for c in g.road_class]
        dens = (p.density[g.u] + p.density[g.v]) / 2
        self.urban = dens / (dens + 4.0)                                   # 0 open road .. 1 dense core
        base = np.array([TRUE_CLASS_KMH.get(n, 28.0) for n in names])
        base = np.where(g.speed_posted, 0.6 * g.speed_kmh * 1.1 + 0.4 * base, base)
        base = base * (1.0 - 0.2 * self.urban)
        cap = self._curve_cap_kmh()
        self.curvy = cap < base
        vary = np.random.default_rng(zlib.crc32(p.map_name.encode())).lognormal(0.0, 0.1, g.n_edges)
        self.free_kmh = np.maximum(8.0, np.minimum(base, cap) * vary)
        self.main = np.array([n in MAIN for n in names])
        self.junction = g.degree[g.v] >= 3      # the edge ends at a junction
        self.mid_xy = (g.xy[g.u] + g.xy[g.v]) / 2

    def _curve_cap_kmh(self) -> np.ndarray:
        """Speed limit from the bend at each end of an edge (nodes with two neighbours)."""
        g = self.graph
        cap_node = np.full(g.n_nodes, np.inf)
        two = np.flatnonzero(g.degree == 2)
        # For a node of degree 2, its two out-edges (two-way) or in+out edges (one-way).
        e_in = {}
        for e in range(g.n_edges):
            e_in.setdefault(int(g.v[e]), []).append(e)
        for n in two.tolist():
            outs = list(range(g.out_ptr[n], g.out_ptr[n + 1]))
            ins = e_in.get(n, [])
            nb = sorted({int(g.v[e]) for e in outs} | {int(g.u[e]) for e in ins})
            if len(nb) != 2:
                continue
            a, b = nb
            v1 = g.xy[n] - g.xy[a]
            v2 = g.xy[b] - g.xy[n]
            l1, l2 = float(np.hypot(*v1)), float(np.hypot(*v2))
            if l1 < 0.5 or l2 < 0.5:
                continue
            cosang = float(np.dot(v1, v2) / (l1 * l2))
            theta = math.acos(max(-1.0, min(1.0, cosang)))
            if theta < 0.05:
                continue
            radius = (min(l1, l2) / 2) / math.tan(theta / 2)
            cap_node[n] = max(12.0, math.sqrt(LATERAL_ACCEL * radius) * 3.6)
        return np.minimum(cap_node[g.u], cap_node[g.v])

    def _junction_s(self, edges: np.ndarray) -> np.ndarray:
        """Delay entering each junction of a path: going straight on along a main road
        costs little (a light now and then); turning, or leaving or joining another
        class of road, costs more, and more in town."""
        out = np.zeros(len(edges))
        if len(edges) < 2:
            return out
        at = np.flatnonzero(self.junction[edges[:-1]])
        cur, nxt = edges[at], edges[at + 1]
        g = self.graph
        straight = (g.road_class[cur] == g.road_class[nxt]) & self.main[cur]
        urb = self.urban[cur]
        out[at] = np.where(straight, 0.1 + 0.8 * urb, 1.5 + 6.0 * urb)
        return out

    def local_hour(self, ts: float) -> int:
        if self.tz is not None:
            return int(local_s(self.tz, ts) // 3600) % 24
        return int((ts // 3600) + self.utc_offset_h) % 24

    # ------------------------------------------------------------------ legs

    def leg(self, rng: random.Random, a_node: int, b_node: int, t: float, vehicle_type: str,
            pace: float, incidents: list, weather: float, site: Site | None,
            stop: str) -> RoadLeg:
        g = self.graph
        nodes = self.router.path(a_node, b_node)
        edges = g.edge_ids(nodes)
        h = self.local_hour(t)
        kmh = self.free_kmh[edges].copy()
        bike = vehicle_type in BIKE_KMH
        if bike:
            kmh = np.minimum(kmh, BIKE_KMH[vehicle_type])
        else:
            prof = np.where(self.main[edges], MAIN_PROFILE[h], LOCAL_PROFILE[h])
            kmh = kmh * (1.0 - (1.0 - prof) * (0.1 + 0.9 * self.urban[edges]))
            kmh = kmh * VEHICLE_SPEED.get(vehicle_type, 1.0)
            if vehicle_type == "truck":
                kmh = np.where(self.curvy[edges], kmh * 0.85, kmh)
        for inc in incidents:
            if inc.start <= t < inc.end:
                cx, cy = g.project(inc.center[0], inc.center[1])
                mid = self.mid_xy[edges]
                hit = np.hypot(mid[:, 0] - cx, mid[:, 1] - cy) <= inc.radius_m
                f = inc.factor if not bike else 1.0 + (inc.factor - 1.0) * 0.3
                kmh = np.where(hit, kmh / f, kmh)
        if weather != 1.0:
            kmh = kmh / (1.0 + (weather - 1.0) * (1.5 - self.urban[edges]))
        secs = g.length_m[edges] / (kmh / 3.6) + self._junction_s(edges) * (0.5 if bike else 1.0)
        noise = math.exp(rng.gauss(0.0, 0.07))
        secs = secs * (pace * noise)
        end_s = np.cumsum(secs)
        drive = float(end_s[-1]) if len(end_s) else 0.0
        startup = rng.uniform(5, 15) if bike else rng.uniform(5, 30)
        parking = 0.0
        if len(edges) == 0:            # the same door again: no driving, no parking
            startup = 0.0
        elif stop == "delivery" and site is not None:
            busy = 1.3 if 11 <= h < 15 else 1.1 if 16 <= h < 20 else 0.85
            parking = site.parking_s * busy * math.exp(rng.gauss(0.0, 0.3))
            if bike:
                parking = min(parking, rng.uniform(5, 20))
        elif stop == "pickup":
            parking = (20.0 if bike else 60.0) * math.exp(rng.gauss(0.0, 0.4))
        return RoadLeg(nodes, edges, g.lat[nodes], g.lon[nodes], end_s, kmh, startup, drive,
                       parking, float(g.length_m[edges].sum()))

    def walk_s(self, rng: random.Random, site: Site | None) -> float:
        """Walking to the door and back at a delivery."""
        if site is None:
            return 0.0
        return 2.0 * site.walk_s * math.exp(rng.gauss(0.0, 0.2))
