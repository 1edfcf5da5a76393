"""The simulated world: zones, depots, stores, customers, fleet and orders.

Everything is drawn from one seeded ``random.Random``; the same ``Scenario``
gives the same world, byte for byte.  What the engine may know goes into input
events; what only the world knows (true customer availability, driver pace,
true congestion) stays here and in the ground-truth files.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from fleetstream.sim import availability

DAY0 = 1772409600.0  # 2026-03-02 00:00:00 UTC, a Monday
LANGUAGES = (("en", 0.5), ("de", 0.25), ("es", 0.1), ("fr", 0.05), ("pl", 0.05), ("tr", 0.05))
CITY = (52.52, 13.405)

# True congestion by local hour: the plane world's multiplier on its own free-flow
# driving times (sim/planetruth.py; deeper on arterials than on local streets).
TRUE_CONGESTION = (
    0.85, 0.85, 0.85, 0.85, 0.85, 0.9, 1.0, 1.25, 1.4, 1.2, 1.05, 1.0,
    1.05, 1.05, 1.05, 1.15, 1.3, 1.45, 1.3, 1.1, 0.95, 0.9, 0.9, 0.85,
)

VEHICLE_SPECS = {
    # type: capacity, speed factor (unused since the plane's own truth, sim/planetruth.py:
    # kept for the draws), ignores congestion
    "bike": ({"weight_kg": 15.0, "volume_l": 60.0, "count": 4.0}, 0.75, True),
    "cargo_bike": ({"weight_kg": 120.0, "volume_l": 500.0, "count": 25.0}, 0.7, True),
    "car": ({"weight_kg": 300.0, "volume_l": 1500.0, "count": 35.0}, 1.0, False),
    "van": ({"weight_kg": 900.0, "volume_l": 8000.0, "count": 70.0}, 1.05, False),
    "truck": ({"weight_kg": 2500.0, "volume_l": 20000.0, "count": 120.0}, 1.2, False),
}
FLEET_COSTS = {  # per km, per hour, per stop, fixed
    "captive": (0.35, 28.0, 0.0, 40.0),
    "3pl": (0.45, 24.0, 0.0, 60.0),
    "gig": (0.0, 0.0, 3.2, 0.0),
}


@dataclass(frozen=True)
class Scenario:
    """Size and shape of a simulated day.  ``seed`` fixes everything."""

    name: str = "small"
    seed: int = 7
    zones: int = 1
    vehicles_per_zone: int = 15
    parcels_per_zone: int = 250
    on_demand_per_zone: int = 50
    day_start_h: float = 7.0
    shift_h: float = 9.0
    zone_radius_km: float = 4.0
    incidents: int = 1
    breakdowns: int = 0
    weather: bool = False
    duplicate_rate: float = 0.004
    late_ping_rate: float = 0.01
    malformed: int = 12
    redispatch_autonomy: str = "auto"
    approve_prob: float = 0.85
    # A shipped road graph (fleetstream/roads/data/NAME.npz): the day happens on its
    # roads (fleetstream/sim/roadworld.py, roadtruth.py).  None: the plain plane world.
    road_map: str | None = None
    # Day index from DAY0 (a Monday): the same zones and customers (their schedules
    # follow the day of the week), a new fleet and new orders drawn for the day.
    # benchmarks/failure_risk.py runs consecutive days; 0 is the one-day world.
    day: int = 0
    # Share of customers contacted ahead (the engine's failure_risk alerts) who reply
    # and arrange for the delivery (sim/availability.py after_contact); 0: nobody is
    # contacted (the recordings' default).  benchmarks/failure_risk.py --contact-reply.
    contact_reply: float = 0.0
    # Drivers who know a hard door (sim/availability.py KNOWN_ACCESS_FACTOR): at an
    # address with access instructions, a driver who delivered there before fails for
    # access far less often and finds the entrance at once.  Off: access does not
    # depend on the driver (every earlier figure's world).
    driver_knowledge: bool = False
    # The world's local clock (an IANA zone, fleetstream/sim/clock.py): customers'
    # schedules and stated hours, businesses' opening hours and the road map's rush
    # hours are its local times, daylight saving included.  None: customers keep UTC
    # hours and a road map its fixed offset (roadtruth.LOCAL_UTC_OFFSET_H; every
    # earlier figure's world).  The engine reads its own engine.timezone.
    timezone: str | None = None

    def fields(self) -> dict:
        """The scenario's parameters for the manifest (``road_map``, ``day`` and
        ``contact_reply``, ``driver_knowledge``, ``timezone`` only when set, so the plane
        scenarios' manifests are unchanged)."""
        d = dict(self.__dict__)
        if d.get("road_map") is None:
            d.pop("road_map", None)
        if not d.get("day"):
            d.pop("day", None)
        if not d.get("contact_reply"):
            d.pop("contact_reply", None)
        if not d.get("driver_knowledge"):
            d.pop("driver_knowledge", None)
        if d.get("timezone") is None:
            d.pop("timezone", None)
        return d

    @classmethod
    def preset(cls, name: str, seed: int | None = None,
               road_map: str | None = None) -> "Scenario":
        """The scenario ``name`` (``SCENARIOS``), with its own seed unless ``seed``,
        placed on the road graph ``road_map`` when given (a shipped name or the path
        of a ``.npz`` written by scripts/osm_to_graph.py: the scenario's zones, fleet
        and orders on that map's roads, docs/simulator.md "Your own map")."""
        presets = {
            "tiny": cls(name="tiny", seed=3, vehicles_per_zone=4, parcels_per_zone=40,
                        on_demand_per_zone=10, shift_h=5.0, malformed=6),
            "small": cls(),
            "metro": cls(name="metro", seed=11, zones=4, vehicles_per_zone=40,
                         parcels_per_zone=850, on_demand_per_zone=250, shift_h=10.0,
                         zone_radius_km=5.0, incidents=3, breakdowns=2, weather=True,
                         malformed=40),
            "disrupted": cls(name="disrupted", seed=21, zones=1, vehicles_per_zone=20,
                             parcels_per_zone=380, on_demand_per_zone=120, shift_h=9.0,
                             incidents=2, breakdowns=1, weather=True),
            # Eight small zones: the scale-out scenario (benchmarks/scaleout.py).
            "zones8": cls(name="zones8", seed=17, zones=8, vehicles_per_zone=10,
                          parcels_per_zone=180, on_demand_per_zone=40, shift_h=8.0,
                          incidents=3, breakdowns=2, weather=True, malformed=24),
            # Two zones on the real roads of Andorra (OpenStreetMap): docs/roads.md.
            "andorra": cls(name="andorra", seed=5, zones=2, vehicles_per_zone=12,
                           parcels_per_zone=200, on_demand_per_zone=50, shift_h=9.0,
                           incidents=2, breakdowns=1, weather=True, malformed=12,
                           road_map="andorra"),
        }
        if name not in presets:
            raise ValueError(f"unknown scenario {name!r} (one of {', '.join(SCENARIOS)})")
        sc = presets[name]
        if seed is not None:
            sc = Scenario(**{**sc.__dict__, "seed": seed})
        if road_map is not None:
            sc = Scenario(**{**sc.__dict__, "road_map": road_map})
        return sc


@dataclass
class Customer:
    id: str
    zone: str
    location: tuple
    language: str
    archetype: str              # commuter | home | mixed (legacy draw, kept for the stream)
    access_difficulty: float    # legacy draw (kept for the stream); truth: avail.p_access_fail
    preferred_drop: str | None
    access_instructions: str | None
    notes: str | None
    service_requirements: list
    site: object = None         # truth on a road map: roadworld.Site (building, parking, walk)
    avail: object = None        # truth: availability.Availability (weekly schedule, access)

    def p_home(self, ts: float) -> float:
        """P(someone answers the door) at epoch ``ts`` (sim/availability.py)."""
        return self.avail.p_home(ts)

    def p_access_fail(self) -> float:
        """P(an attempt fails for access: a code, a gate, a badge the driver lacks)."""
        return self.avail.p_access_fail


@dataclass
class SimVehicle:
    id: str
    driver_id: str
    zone: str
    fleet_type: str
    vehicle_type: str
    capacity: dict
    skills: list
    depot: tuple
    shift_start: float
    shift_end: float
    pace: float                 # truth: this driver's travel-time multiplier
    costs: tuple
    # dynamic
    state: str = "off"
    pos: tuple = (0.0, 0.0)
    plan: list = field(default_factory=list)
    loaded: set = field(default_factory=set)
    leg: tuple | None = None    # (from, to, t0, t1, (oid, stop), token, true_s, provider_s)
    token: int = 0
    km: float = 0.0
    stops_done: int = 0
    finished_ts: float | None = None


@dataclass
class Zone:
    id: str
    center: tuple
    depot: tuple
    stores: list
    density: float  # truth: extra congestion multiplier of this zone


@dataclass
class SimOrder:
    id: str
    zone: str
    customer: Customer
    kind: str
    location: tuple
    pickup: tuple | None
    created_ts: float
    window: tuple
    size: dict
    service_s: float
    skills: list
    vehicle_types: list
    fleet_types: list
    priority: int
    value: float
    cancel_ts: float | None = None
    outcome: str | None = None
    outcome_ts: float | None = None
    status: str = "open"
    attempts: int = 0               # delivery attempts made (a failed one may be retried)
    holder: str | None = None       # the vehicle it is physically on (loaded or picked up)
    handovers: int = 0              # times it moved from a vehicle out of service to another


SCENARIOS = ("tiny", "small", "metro", "disrupted", "zones8", "andorra")


def _offset(center: tuple, rng: random.Random, radius_km: float) -> tuple:
    r = radius_km * math.sqrt(rng.random())
    a = rng.random() * 2 * math.pi
    dlat = r * math.cos(a) / 111.0
    dlon = r * math.sin(a) / (111.0 * math.cos(math.radians(center[0])))
    return (round(center[0] + dlat, 6), round(center[1] + dlon, 6))


_pick = availability._pick  # a weighted choice (one implementation for the simulator)


class World:
    def __init__(self, sc: Scenario):
        if sc.day:
            self._next_day(sc)
            return
        self.sc = sc
        rng = self.rng = random.Random(sc.seed)
        self.day0 = DAY0
        self.zones: list[Zone] = []
        self.placement = None
        if sc.road_map:
            self._place_on_map()
        for z in range(0 if sc.road_map else sc.zones):
            ang = 2 * math.pi * z / max(1, sc.zones)
            dist = 0.0 if sc.zones == 1 else 0.09
            center = (CITY[0] + dist * math.cos(ang), CITY[1] + dist * 1.6 * math.sin(ang))
            zid = f"Z{z + 1}"
            self.zones.append(Zone(zid, center, _offset(center, rng, 0.5),
                                   [_offset(center, rng, sc.zone_radius_km * 0.8) for _ in range(6)],
                                   density=[1.1, 0.95, 1.0, 1.05, 0.9][z % 5]))
        self.customers: list[Customer] = []
        self.vehicles: list[SimVehicle] = []
        self.orders: list[SimOrder] = []
        for zone in self.zones:
            self._make_customers(zone)
            self._make_fleet(zone)
            self._make_orders(zone)

    def _next_day(self, sc: Scenario) -> None:
        """Day ``sc.day`` of the world of day 0: same zones and customers, a fleet and
        orders of its own (drawn from a stream of the seed and the day)."""
        base = World(Scenario(**{**sc.__dict__, "day": 0}))
        self.sc = sc
        self.rng = random.Random(sc.seed * 10_007 + sc.day)
        self.day0 = DAY0 + 86400.0 * sc.day
        self.zones, self.placement, self.customers = base.zones, base.placement, base.customers
        self.zone_nodes = getattr(base, "zone_nodes", None)
        self.vehicles, self.orders = [], []
        for zone in self.zones:
            self._make_fleet(zone)
            self._make_orders(zone)

    # ------------------------------------------------------------------
    def _place_on_map(self) -> None:
        """Zones, depots and stores on the road map's towns (roadworld.py)."""
        from fleetstream.sim.roadworld import RoadPlacement
        sc, rng = self.sc, self.rng
        p = self.placement = RoadPlacement(sc.road_map)
        self.zone_nodes = p.zone_nodes(sc.zones)
        for z, nodes in enumerate(self.zone_nodes):
            center = p.centre(sc.zones, z)
            depot = self._node_point(p.depot(rng, nodes, center))
            stores = [self._node_point(p.store(rng, nodes)) for _ in range(6)]
            self.zones.append(Zone(f"Z{z + 1}", center, depot, stores,
                                   density=[1.1, 0.95, 1.0, 1.05, 0.9][z % 5]))

    def _node_point(self, node: int) -> tuple:
        g = self.placement.graph
        return (round(float(g.lat[node]), 6), round(float(g.lon[node]), 6))

    def _site(self, zone: Zone) -> tuple:
        """(location, road-map site or None) of a new customer."""
        if self.placement is None:
            return _offset(zone.center, self.rng, self.sc.zone_radius_km), None
        nodes = self.zone_nodes[int(zone.id[1:]) - 1]
        site = self.placement.customer_site(self.rng, nodes)
        return self._node_point(site.node), site

    def _make_customers(self, zone: Zone) -> None:
        sc, rng = self.sc, self.rng
        n = int((sc.parcels_per_zone + sc.on_demand_per_zone) * 0.85)
        for i in range(n):
            arche = _pick(rng, [("commuter", 0.4), ("home", 0.3), ("mixed", 0.3)])
            hard = rng.random() < 0.15
            location, site = self._site(zone)
            self.customers.append(Customer(
                id=f"C{zone.id}-{i:05d}", zone=zone.id,
                location=location,
                language=_pick(rng, LANGUAGES), archetype=arche,
                access_difficulty=rng.uniform(0.08, 0.25) if hard else rng.uniform(0.0, 0.02),
                preferred_drop=rng.choice([None, None, "front door", "reception",
                                           "neighbour at no. 12", "parcel box"]),
                access_instructions=(rng.choice(["gate code 4711", "ring twice, 4th floor "
                                                 "no lift", "back entrance via courtyard"])
                                     if hard else None),
                notes=rng.choice([None, None, None, "dog in garden", "call on arrival"]),
                service_requirements=["call_ahead"] if rng.random() < 0.05 else [],
                site=site,
            ))
            c = self.customers[-1]   # its schedule comes from its own stream (availability.py)
            c.avail = availability.draw(sc.seed, c.id, site.building if site is not None else None,
                                        hard, sc.timezone)

    def _make_fleet(self, zone: Zone) -> None:
        sc, rng = self.sc, self.rng
        t0 = self.day0 + sc.day_start_h * 3600
        for i in range(sc.vehicles_per_zone):
            u = i / max(1, sc.vehicles_per_zone)
            if u < 0.55:
                fleet, vtype = "captive", rng.choice(["van", "van", "van", "truck"])
                start = t0
            elif u < 0.8:
                fleet, vtype = "3pl", rng.choice(["van", "car"])
                start = t0
            else:
                fleet, vtype = "gig", rng.choice(["bike", "cargo_bike", "car", "car"])
                start = t0 + 2 * 3600
            skills = []
            if fleet != "gig" and rng.random() < 0.6:
                skills.append("age_check")
            if fleet == "captive" and rng.random() < 0.2:
                skills.append("hazmat")
            if vtype in ("van", "truck") and rng.random() < 0.4:
                skills.append("heavy_lift")
            cap, _, _ = VEHICLE_SPECS[vtype]
            self.vehicles.append(SimVehicle(
                id=f"V{zone.id}-{i:03d}", driver_id=f"D{zone.id}-{i:03d}", zone=zone.id,
                fleet_type=fleet, vehicle_type=vtype, capacity=dict(cap), skills=skills,
                depot=zone.depot, shift_start=start + rng.uniform(-90, 60),
                shift_end=start + sc.shift_h * 3600, pace=math.exp(rng.gauss(0, 0.12)),
                costs=FLEET_COSTS[fleet], pos=zone.depot))

    def _make_orders(self, zone: Zone) -> None:
        sc, rng = self.sc, self.rng
        custs = [c for c in self.customers if c.zone == zone.id]
        t0 = self.day0 + sc.day_start_h * 3600
        n = 0
        for _ in range(sc.parcels_per_zone):
            c = rng.choice(custs)
            slot = _pick(rng, [("day", 0.45), ("2h", 0.4), ("1h", 0.15)])
            if slot == "day":
                w = (t0 + 1800, t0 + (sc.shift_h - 0.5) * 3600)
            else:
                length = 7200 if slot == "2h" else 3600
                s = t0 + 1800 + rng.randrange(0, int((sc.shift_h - 1.0) * 3600 - length), 1800)
                w = (s, s + length)
            self.orders.append(self._order(zone, c, n, "parcel", None,
                                           t0 - rng.uniform(3600, 7200), w))
            n += 1
        for _ in range(sc.on_demand_per_zone):
            c = rng.choice(custs)
            created = t0 + 2 * 3600 + rng.uniform(0, (sc.shift_h - 3.5) * 3600)
            w = (created, created + rng.choice([3600, 5400, 7200]))
            self.orders.append(self._order(zone, c, n, "on_demand", rng.choice(zone.stores),
                                           created, w))
            n += 1
        for o in self.orders[-n:]:
            if rng.random() < 0.02:
                o.cancel_ts = o.created_ts + rng.uniform(300, 3600)

    def _order(self, zone: Zone, c: Customer, n: int, kind: str, pickup, created, window):
        rng = self.rng
        heavy = rng.random() < 0.03
        w = round(rng.uniform(25, 40), 1) if heavy else round(min(30.0, rng.lognormvariate(0.6, 0.8)), 2)
        vol = round(min(200.0, w * rng.uniform(3, 8)), 1)
        skills = []
        if heavy:
            skills.append("heavy_lift")
        if rng.random() < 0.05:
            skills.append("age_check")
        if rng.random() < 0.01:
            skills.append("hazmat")
        vtypes: list = []
        if vol > 60 or heavy:
            vtypes = ["car", "van", "truck"]
        elif rng.random() < 0.1:
            vtypes = ["bike", "cargo_bike", "car", "van"]  # access: no trucks in the street
        value = round(rng.lognormvariate(3.5, 1.0), 2)
        return SimOrder(
            id=f"O{zone.id}-{n:05d}", zone=zone.id, customer=c, kind=kind, location=c.location,
            pickup=pickup, created_ts=created, window=window, size={"weight_kg": w, "volume_l": vol},
            service_s=round(rng.uniform(60, 240) + (120 if heavy else 0)), skills=skills,
            vehicle_types=vtypes, fleet_types=[], priority=_pick(rng, [(0, 0.7), (1, 0.2), (2, 0.1)]),
            value=value)
