"""Placing a scenario on a road map: zones, depots, stores and customers.

The towns of the map (name, centre, population) make a population field; each
road node gets a weight from it and from the roads that meet there (residential
streets and junctions in town carry more doors than a mountain road).
Customers are drawn at nodes by that weight, stores near the busier roads, each
zone's depot on a main road at the edge of its main town.  Every customer also
gets a building (house, apartment, shop, office) and hidden stop-level truth:
how long finding a place to stop takes there, and how long the walk to the door
is (floors, lifts).  The engine sees none of that; it sees a location.

Everything is drawn from the world's seeded ``random.Random`` and the shipped
graph, so the same scenario gives the same placement.
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass

import numpy as np

from fleetstream.roads.graph import RoadGraph, load_graph


@dataclass(frozen=True)
class Town:
    name: str
    lat: float
    lon: float
    population: int


# The parishes and villages of Andorra (approximate centres and populations,
# public geography); the population field of the `andorra` scenario.
ANDORRA_TOWNS = (
    Town("Andorra la Vella", 42.5063, 1.5218, 22_000),
    Town("Escaldes-Engordany", 42.5096, 1.5387, 14_000),
    Town("Encamp", 42.5360, 1.5830, 11_000),
    Town("La Massana", 42.5450, 1.5148, 10_000),
    Town("Sant Julia de Loria", 42.4637, 1.4913, 9_000),
    Town("Ordino", 42.5560, 1.5331, 5_000),
    Town("Canillo", 42.5676, 1.5976, 4_000),
    Town("Santa Coloma", 42.4950, 1.4990, 3_000),
    Town("Arinsal", 42.5719, 1.4845, 1_800),
    Town("Pas de la Casa", 42.5425, 1.7336, 2_500),
    Town("Soldeu", 42.5766, 1.6676, 1_000),
)

# Which towns make each zone, by number of zones (the first town is the zone's centre).
ANDORRA_ZONES = {
    1: (tuple(t.name for t in ANDORRA_TOWNS),),
    2: (("Andorra la Vella", "Escaldes-Engordany", "Sant Julia de Loria", "Santa Coloma"),
        ("Encamp", "La Massana", "Ordino", "Canillo", "Arinsal", "Pas de la Casa", "Soldeu")),
    3: (("Andorra la Vella", "Sant Julia de Loria", "Santa Coloma"),
        ("Escaldes-Engordany", "Encamp", "Canillo", "Pas de la Casa", "Soldeu"),
        ("La Massana", "Ordino", "Arinsal")),
}

MAPS = {"andorra": (ANDORRA_TOWNS, ANDORRA_ZONES)}

# Doors per node by the best road class meeting there.
CLASS_DOORS = {"residential": 3.0, "living_street": 3.0, "tertiary": 2.0, "unclassified": 1.2,
               "secondary": 1.0, "primary": 1.2, "road": 0.5}

# Buildings by setting: (building, weight).
BUILDINGS = {
    "core": (("apartment", 0.55), ("shop", 0.2), ("office", 0.15), ("house", 0.1)),
    "town": (("apartment", 0.45), ("house", 0.4), ("shop", 0.1), ("office", 0.05)),
    "rural": (("house", 0.85), ("apartment", 0.1), ("shop", 0.05)),
}


@dataclass(frozen=True)
class Site:
    """Stop-level truth of a customer's door (hidden from the engine)."""

    node: int
    building: str
    setting: str          # core | town | rural
    floor: int
    lift: bool
    parking_s: float      # typical time to find a place to stop, before noise and hour
    walk_s: float         # walk from the vehicle to the door, one way


def node_doors(g: RoadGraph) -> np.ndarray:
    """Doors per node: the best road class meeting there (``CLASS_DOORS``), half as
    many again at a junction."""
    best = np.zeros(g.n_nodes)
    for ci, name in enumerate(g.classes):
        m = g.road_class == ci
        doors = CLASS_DOORS.get(name, 0.2)
        np.maximum.at(best, g.u[m], doors)
        np.maximum.at(best, g.v[m], doors)
    return best * (1.0 + 0.5 * (g.degree >= 3))


# Towns of a map without a town list (``derive_towns``): doors are counted in cells of
# TOWN_CELL_M, summed over a box of TOWN_BOX cells; a town is a box at least
# TOWN_SPACING_M from a bigger one, holding at least TOWN_MIN_SHARE of the biggest box's
# doors, at most MAX_TOWNS; TOWN_PEOPLE_PER_DOOR people per door in its box.
TOWN_CELL_M = 250.0
TOWN_BOX = 5
TOWN_SPACING_M = 1500.0
TOWN_MIN_SHARE = 0.05
MAX_TOWNS = 12
TOWN_PEOPLE_PER_DOOR = 10.0
MIN_ZONE_NODES = 20


def derive_towns(g: RoadGraph) -> tuple[Town, ...]:
    """The population field of a map that has no town list: where its streets are
    densest.  Deterministic (the graph alone decides), so any extract converted by
    scripts/osm_to_graph.py can carry a world."""
    from scipy.ndimage import uniform_filter
    w = node_doors(g)
    x0, y0 = g.xy.min(axis=0)
    ix = ((g.xy[:, 0] - x0) // TOWN_CELL_M).astype(np.int64)
    iy = ((g.xy[:, 1] - y0) // TOWN_CELL_M).astype(np.int64)
    grid = np.zeros((int(ix.max()) + 1, int(iy.max()) + 1))
    np.add.at(grid, (ix, iy), w)
    box = uniform_filter(grid, size=TOWN_BOX, mode="constant") * TOWN_BOX ** 2
    occupied = np.zeros_like(grid, dtype=bool)
    occupied[ix, iy] = True
    flat = np.flatnonzero(occupied.ravel())
    order = flat[np.lexsort((flat, -box.ravel()[flat]))]   # most doors first, ties by cell
    top = float(box.ravel()[order[0]])
    picked: list[tuple[float, float, float]] = []   # (x, y, doors in the box)
    for c in order:
        mass = float(box.ravel()[c])
        if len(picked) >= MAX_TOWNS or mass < TOWN_MIN_SHARE * top:
            break
        cx, cy = divmod(int(c), grid.shape[1])
        px, py = x0 + (cx + 0.5) * TOWN_CELL_M, y0 + (cy + 0.5) * TOWN_CELL_M
        if all(math.hypot(px - qx, py - qy) >= TOWN_SPACING_M for qx, qy, _ in picked):
            picked.append((px, py, mass))
    towns = []
    for k, (px, py, mass) in enumerate(picked):
        node = int(np.argmin(np.hypot(g.xy[:, 0] - px, g.xy[:, 1] - py)))   # the town's centre
        towns.append(Town(f"{g.name} {k + 1}", round(float(g.lat[node]), 6),
                          round(float(g.lon[node]), 6),
                          max(100, int(round(mass * TOWN_PEOPLE_PER_DOOR, -2)))))
    return tuple(towns)


def check_road_map(name: str, zones: int) -> RoadPlacement:
    """The placement of a world of ``zones`` zones on road graph ``name``, or a
    ``ValueError`` of one line (no such graph, not a graph file, too small for the
    zones) before anything is simulated."""
    from fleetstream.roads.graph import GraphNotFound
    try:
        p = RoadPlacement(name)
        p.zone_nodes(zones)
    except GraphNotFound as e:
        raise ValueError(e.args[0]) from None
    return p


def map_mismatch(road_map: str | None, provider: str, travel_map: str) -> str | None:
    """One line when a world placed on ``road_map`` is decided by an engine whose
    travel times do not come from the same graph (``engine.travel_provider`` not
    ``map``, or ``engine.travel_map`` another graph): legitimate (the haversine engine
    on a road world is a comparison the docs make), but usually a forgotten
    ``--config``.  None when they agree or no map is given."""
    if road_map is None:
        return None
    from fleetstream.roads.graph import GraphNotFound
    try:
        g = load_graph(road_map)
    except GraphNotFound:
        return None   # refused elsewhere, in its own words
    if provider != "map":
        return (f"the simulated world is on the road map {g.name}, the engine times legs "
                f"with the {provider} provider (engine.travel_provider)")
    try:
        e = load_graph(travel_map)
    except GraphNotFound:
        return None
    if (e.meta.get("source_sha256"), e.n_nodes, e.n_edges) != (
            g.meta.get("source_sha256"), g.n_nodes, g.n_edges):
        return (f"the simulated world is on the road map {g.name}, the engine's map "
                f"provider on {e.name} (engine.travel_map)")
    return None


class RoadPlacement:
    """Population field and placement on a road graph: a shipped one with its town
    list (``MAPS``), or any graph written by scripts/osm_to_graph.py (a name shipped
    in fleetstream/roads/data or a path to its ``.npz``), whose towns are derived from
    its streets (``derive_towns``) and whose zones split its doors (``zone_nodes``)."""

    def __init__(self, map_name: str):
        self.graph: RoadGraph = load_graph(map_name)
        g = self.graph
        self.map_name = g.name
        if g.n_nodes < MIN_ZONE_NODES:
            raise ValueError(f"map {map_name!r} has {g.n_nodes} nodes: too few to place a "
                             f"world on (at least {MIN_ZONE_NODES})")
        known = MAPS.get(map_name)
        self.towns, self.layouts = known if known else (derive_towns(g), None)
        if not self.towns:
            raise ValueError(f"map {map_name!r}: no streets to place a world on")
        tx, ty = g.project([t.lat for t in self.towns], [t.lon for t in self.towns])
        dx = g.xy[:, 0][:, None] - tx[None, :]
        dy = g.xy[:, 1][:, None] - ty[None, :]
        dist = np.sqrt(dx * dx + dy * dy)                       # [node, town] metres
        pop = np.array([t.population for t in self.towns], dtype=np.float64)
        radius = 250.0 * np.sqrt(pop / 1000.0)                  # town radius grows with population
        self.town_of = np.argmin(dist / radius[None, :], axis=1)
        self.density = (pop[None, :] / 1000.0 * np.exp(-dist / radius[None, :])).sum(axis=1)
        self.weight = node_doors(g) * self.density
        self.main_road = np.zeros(g.n_nodes, dtype=bool)
        for name in ("primary", "secondary"):
            ci = g.class_of(name)
            if ci >= 0:
                self.main_road[g.u[g.road_class == ci]] = True
        self._split: dict[int, tuple] = {}

    # ------------------------------------------------------------------ zones

    def zone_towns(self, zones: int) -> tuple:
        if self.layouts is None:
            return self._zones(zones)[1]
        if zones not in self.layouts:
            raise ValueError(f"map {self.map_name!r} has layouts for {sorted(self.layouts)} "
                             f"zones, not {zones}")
        return self.layouts[zones]

    def zone_nodes(self, zones: int) -> list[np.ndarray]:
        """Node indices of each zone: the nodes whose nearest town belongs to it (a map
        with a town list), or a split of the map's doors into ``zones`` compact parts."""
        if self.layouts is None:
            return list(self._zones(zones)[0])
        names = [t.name for t in self.towns]
        out = []
        for group in self.zone_towns(zones):
            ids = [names.index(n) for n in group]
            out.append(np.flatnonzero(np.isin(self.town_of, ids)))
        return out

    def _zones(self, zones: int) -> tuple:
        """(node indices, town names, centre) per zone of a map without a
        town list: weighted k-means of the nodes by their doors, started from the
        biggest town and then the nodes farthest from the centres so far; twenty
        rounds, no randomness."""
        if zones in self._split:
            return self._split[zones]
        g, w = self.graph, self.weight + 1e-9
        if zones < 1 or g.n_nodes < zones * MIN_ZONE_NODES:
            raise ValueError(f"map {self.map_name!r} has {g.n_nodes} nodes: too few for "
                             f"{zones} zone(s) (at least {MIN_ZONE_NODES} per zone)")
        t0 = self.towns[0]
        cx, cy = g.project(t0.lat, t0.lon)
        centres = [np.array([float(cx), float(cy)])]
        while len(centres) < zones:
            d = np.min([np.hypot(*(g.xy - c).T) for c in centres], axis=0)
            centres.append(g.xy[int(np.argmax(d))].copy())
        c = np.array(centres)
        for _ in range(20):
            lab = np.argmin(((g.xy[:, None, :] - c[None, :, :]) ** 2).sum(axis=2), axis=1)
            for k in range(zones):
                m = lab == k
                if m.any():
                    c[k] = (g.xy[m] * w[m, None]).sum(axis=0) / w[m].sum()
        parts = tuple(np.flatnonzero(lab == k) for k in range(zones))
        small = [len(p) for p in parts if len(p) < MIN_ZONE_NODES]
        if small:
            raise ValueError(f"map {self.map_name!r}: a zone of {small[0]} nodes when split "
                             f"into {zones} (at least {MIN_ZONE_NODES} per zone)")
        tnode = [int(np.argmin(np.hypot(*(g.xy - np.array(g.project(t.lat, t.lon)).ravel()).T)))
                 for t in self.towns]
        names, centres_ll = [], []
        for p in parts:   # the zone's centre: the biggest town centred in it, else its densest node
            inside = set(p.tolist())
            mine = [k for k, n in enumerate(tnode) if n in inside]
            names.append(tuple(self.towns[k].name for k in mine))
            node = tnode[mine[0]] if mine else int(p[np.argmax(self.density[p])])
            centres_ll.append((round(float(g.lat[node]), 6), round(float(g.lon[node]), 6)))
        self._split[zones] = (parts, tuple(names), tuple(centres_ll))
        return self._split[zones]

    def centre(self, zones: int, z: int) -> tuple[float, float]:
        if self.layouts is None:
            return self._zones(zones)[2][z]
        t = next(t for t in self.towns if t.name == self.zone_towns(zones)[z][0])
        return (t.lat, t.lon)

    def setting(self, node: int) -> str:
        d = self.density[node]
        return "core" if d > 12.0 else "town" if d > 1.5 else "rural"

    # ------------------------------------------------------------------ draws

    @staticmethod
    def draw(rng: random.Random, nodes: np.ndarray, weights: np.ndarray) -> int:
        """One node of ``nodes`` with probability proportional to ``weights``."""
        cum = np.cumsum(weights).tolist()
        i = bisect.bisect_right(cum, rng.random() * cum[-1])
        return int(nodes[min(i, len(nodes) - 1)])

    def depot(self, rng: random.Random, nodes: np.ndarray, centre: tuple) -> int:
        """A main-road node 0.8-2.5 km from the zone's main town centre."""
        cx, cy = self.graph.project(centre[0], centre[1])
        d = np.hypot(self.graph.xy[nodes, 0] - cx, self.graph.xy[nodes, 1] - cy)
        cand = nodes[self.main_road[nodes] & (d > 800) & (d < 2500)]
        if len(cand) == 0:
            cand = nodes[self.main_road[nodes]] if self.main_road[nodes].any() else nodes
        return int(cand[rng.randrange(len(cand))])

    def store(self, rng: random.Random, nodes: np.ndarray) -> int:
        return self.draw(rng, nodes, self.weight[nodes] * np.where(self.main_road[nodes], 3.0, 1.0))

    def customer_site(self, rng: random.Random, nodes: np.ndarray) -> Site:
        node = self.draw(rng, nodes, self.weight[nodes])
        setting = self.setting(node)
        x = rng.random() * sum(w for _, w in BUILDINGS[setting])
        building = BUILDINGS[setting][-1][0]
        for b, w in BUILDINGS[setting]:
            x -= w
            if x <= 0:
                building = b
                break
        floor = rng.randrange(0, 9) if building == "apartment" else (
            rng.randrange(0, 4) if building == "office" else 0)
        lift = building in ("apartment", "office") and rng.random() < (0.75 if floor > 3 else 0.45)
        # Parking: a long hunt in the dense centre, little at a house in a village;
        # each door has its own luck (a loading bay, a private drive...).
        base = {"core": 100.0, "town": 40.0, "rural": 10.0}[setting]
        base *= {"apartment": 1.0, "shop": 0.8, "office": 1.1, "house": 0.5}[building]
        parking = base * math.exp(rng.gauss(0.0, 0.5))
        walk = {"house": 15.0, "shop": 20.0, "office": 45.0, "apartment": 35.0}[building]
        walk += floor * (8.0 if lift else 18.0) + (25.0 if lift else 0.0)
        walk *= math.exp(rng.gauss(0.0, 0.25))
        return Site(node, building, setting, floor, lift, round(parking, 1), round(walk, 1))
