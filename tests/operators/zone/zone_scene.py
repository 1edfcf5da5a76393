"""Small hand-built zones for the capability tests: validated events (the real
contract path), vehicles and orders, and a zone wired like the engine wires it."""

from __future__ import annotations

from dataclasses import dataclass

from fleetstream.contract.events import SCHEMA_VERSION, Event, validate
from fleetstream.contract.settings import EngineSettings
from fleetstream.operators.estimators import ModelSeats
from fleetstream.operators.state import ACTIVE, ASSIGNED, DELIVERY, ONBOARD, Order, Vehicle
from fleetstream.operators.zone.engine import ZoneEngine

T0 = 1772438400.0          # 08:00 UTC
DEPOT = (52.52, 13.405)


def pt(dlat: float, dlon: float) -> tuple[float, float]:
    """A point ``dlat``/``dlon`` degrees from the depot."""
    return (round(DEPOT[0] + dlat, 6), round(DEPOT[1] + dlon, 6))


def _p(p: tuple[float, float]) -> dict:
    return {"lat": p[0], "lon": p[1]}


class Feed:
    """Validated events with numbered ids."""

    def __init__(self, zone: str = "Z"):
        self.zone = zone
        self.n = 0

    def ev(self, type_: str, ts: float, **kw) -> Event:
        self.n += 1
        return validate({"type": type_, "event_id": f"e{self.n}", "ts": ts, "v": SCHEMA_VERSION, **kw})

    def shift(self, vid: str, ts: float = T0, fleet: str = "captive", vtype: str = "van",
              start: tuple = DEPOT, hours: float = 9.0) -> Event:
        return self.ev("shift_start", ts, vehicle_id=vid, driver_id="d" + vid, zone=self.zone,
                       fleet_type=fleet, vehicle_type=vtype,
                       capacity={"weight_kg": 800, "volume_l": 8000}, start=_p(start),
                       end=_p(start), shift_end_ts=ts + hours * 3600, cost_per_km=0.35,
                       cost_per_hour=28.0, skills=[])

    def order(self, oid: str, ts: float, loc: tuple, ws: float, we: float, kind: str = "parcel",
              pickup: tuple | None = None, customer: str | None = None) -> Event:
        kw = {"pickup": _p(pickup)} if pickup else {}
        return self.ev("order_created", ts, order_id=oid, zone=self.zone,
                       customer_id=customer or "c" + oid, kind=kind, location=_p(loc),
                       window_start=ws, window_end=we, size={"weight_kg": 2, "volume_l": 10},
                       service_s=120, priority=0, skills=[], vehicle_types=[], fleet_types=[], **kw)

    def ping(self, vid: str, ts: float, pos: tuple, speed: float = 25.0) -> Event:
        return self.ev("ping", ts, vehicle_id=vid, lat=pos[0], lon=pos[1], speed_kmh=speed, heading=0)


def vehicle(feed: Feed, vid: str, active: bool = False, pos: tuple = DEPOT, **kw) -> Vehicle:
    v = Vehicle.from_event(feed.shift(vid, **kw))
    if active:
        v.status, v.pos, v.pos_ts = ACTIVE, pos, T0
    return v


def order(feed: Feed, oid: str, loc: tuple, ws: float, we: float, **kw) -> Order:
    return Order.from_event(feed.order(oid, T0 - 3600, loc, ws, we, **kw))


def put_on(v: Vehicle, orders: list[Order], stops: list[tuple[str, str]] | None = None) -> None:
    """Assign ``orders`` to ``v`` (delivery stops in this order unless ``stops``)."""
    v.route = stops if stops is not None else [(o.id, DELIVERY) for o in orders]
    for o in orders:
        o.status, o.vehicle_id = ASSIGNED, v.id


def engine(vehicles: list[Vehicle], orders: list[Order], settings: EngineSettings | None = None,
           strategy=None, seats: ModelSeats | None = None, zone: str = "Z") -> ZoneEngine:
    eng = ZoneEngine(zone, settings or EngineSettings(), strategy=strategy, seats=seats)
    for v in vehicles:
        eng.state.vehicles[v.id] = v
    for o in orders:
        eng.state.orders[o.id] = o
        eng.state.customers.setdefault(o.customer_id, {"language": "en"})
    return eng


def loaded_van(feed: Feed, n: int = 3, window_end: float = T0 + 8 * 3600
               ) -> tuple[ZoneEngine, list[Order]]:
    """A zone with one active van ``V1`` near the depot carrying ``n`` parcels
    (``o1``..``on``, on board, delivered in that order), windows T0..``window_end``."""
    v1 = vehicle(feed, "V1", active=True, pos=pt(0.01, 0.01))
    orders = [order(feed, f"o{i}", pt(0.012 + 0.004 * i, 0.008), T0, window_end)
              for i in range(1, n + 1)]
    for o in orders:
        o.status, o.vehicle_id = ONBOARD, "V1"
    v1.onboard = [o.id for o in orders]
    v1.route = [(o.id, DELIVERY) for o in orders]
    return engine([v1], orders), orders


@dataclass
class ScriptedLateRisk:
    """A late-risk seat that answers the probability the test sets."""

    p: float = 0.0
    version: str = "scripted-1"
    n_learned: int = 0

    def predict_proba(self, x: dict) -> float:
        return self.p

    def learn(self, x: dict, y: bool) -> None:
        self.n_learned += 1

    def snapshot(self) -> dict:
        return {"p": self.p, "n_learned": self.n_learned}

    @classmethod
    def restore(cls, snap: dict) -> "ScriptedLateRisk":
        return cls(p=snap["p"], n_learned=snap["n_learned"])
