"""The closed loop: the world produces events, the engine decides, the world obeys.

Every input event the world produces is fed to the engine (``LocalEngine``, the
same steps as the Bytewax flow) in arrival order and recorded in that order;
the engine's applied decisions become the vehicles' plans; proposals are
answered by a simulated dispatcher.  Replaying the recording through the flow
therefore reproduces the decisions the loop saw.

The world's truth (true leg times, customer availability, outcomes) is written
apart from the input stream, to score models honestly.
"""

from __future__ import annotations

import base64
import heapq
import math
import random
from typing import Any, Callable

import orjson

from fleetstream.contract.events import TOPIC_CUSTOMERS, TOPIC_FLEET, TOPIC_ORDERS, TOPIC_TELEMETRY
from fleetstream.contract.outputs import TOPIC_ALERTS, TOPIC_DECISIONS
from fleetstream.operators.pipeline import InMsg
from fleetstream.operators.traveltime import HaversineProvider, haversine_m
from fleetstream.sim import availability, handover
from fleetstream.sim.decisions import DecisionHandling
from fleetstream.sim.dispatcher import SimDispatcher
from fleetstream.sim.disruptions import Disruptions, Incident
from fleetstream.sim.outputs import TruthOutputs, _write_lines
from fleetstream.sim.planetruth import PlaneLeg, PlaneTruth, crow_m
from fleetstream.sim.world import (
    Scenario,
    SimOrder,
    SimVehicle,
    World,
)

# Split by responsibility (each part a mixin of Simulation, every name importable
# from here as before): sim/decisions.py (applied decisions, dispatcher answers,
# contact ahead), sim/disruptions.py (Incident, weather, breakdowns, malformed
# input), sim/outputs.py (truth records, KPIs, manifest, files).
__all__ = [
    "DecisionHandling",
    "Disruptions",
    "Envelope",
    "Incident",
    "Simulation",
    "TruthOutputs",
    "_write_lines",
]

Envelope = dict[str, Any]


class Simulation(DecisionHandling, Disruptions, TruthOutputs):
    """One simulated day in closed loop with an engine.

    ``engine`` is anything with ``process(InMsg) -> [(topic, key, record)]``;
    ``None`` runs the world open-loop (no decisions: nothing moves).
    """

    def __init__(self, scenario: Scenario, engine: Any, progress: Callable[[str], None] | None = None):
        self.sc = scenario
        self.world = World(scenario)
        self.engine = engine
        self.rng = random.Random(scenario.seed * 1_000_003 + 17)
        self.dispatcher = SimDispatcher(scenario.seed, scenario.approve_prob)  # fleetstream/sim/dispatcher.py
        self.provider = HaversineProvider()   # the engine's default: recorded for scoring only
        self.plane = PlaneTruth(scenario.seed, scenario.timezone)   # the plane's own truth
        self.progress = progress
        self.heap: list = []
        self.counter = 0
        self.now = self.world.day0
        self.recorded: list[bytes] = []
        self.outputs: list[tuple[str, str, dict]] = []
        self.truth_legs: list[dict] = []
        self.truth_attempts: list[dict] = []
        self.vehicles = {v.id: v for v in self.world.vehicles}
        self.orders = {o.id: o for o in self.world.orders}
        self.incidents: list[Incident] = []
        self.weather: dict[str, list[tuple[float, float, float]]] = {}
        self.eid = 0
        self.decisions_seen = 0
        self.late_ping_count = 0
        self.dup_count = 0
        # Contact ahead (Scenario.contact_reply): each order's reply draws from its own
        # stream (:meth:`stream`), so that a day without it draws what it drew before.
        self.contacted: set[str] = set()
        self.arranged: dict[str, float] = {}    # order -> from when the customer arranged
        # Drivers who know a hard door (Scenario.driver_knowledge): (driver, customer)
        # pairs with a delivery there in this run; a multi-day benchmark carries it.
        self.known_access: set[tuple[str, str]] = set()
        # On a road map: the world's true speed model and the map provider's view
        # (recorded beside each leg for scoring; the engine runs its own provider).
        self.roads = None
        if scenario.road_map:
            from fleetstream.sim.roadmotion import RoadMotion
            self.roads = RoadMotion(self)

    def stream(self, kind: str, *key: object) -> random.Random:
        """A random stream of its own for one thing of the world: an order's attempt at
        the door, its collection, its customer's reply to a contact.  Its draws are the
        same whatever happened before in the day, so two engines run on one seed face
        the same luck at the same door (common random numbers: a policy comparison
        measures the decisions, not the dice; docs/simulator.md).  Seeded by a string
        (SHA-512 of it), so identical across processes and ``PYTHONHASHSEED``."""
        return random.Random(f"{self.sc.seed}:{kind}:" + ":".join(map(str, key)))

    # ------------------------------------------------------------------ scheduling

    def at(self, t: float, fn: Callable, *args: Any) -> None:
        self.counter += 1
        heapq.heappush(self.heap, (t, self.counter, fn, args))

    def _new_id(self, prefix: str) -> str:
        self.eid += 1
        return f"{prefix}{self.eid:08d}"

    def emit(self, topic: str, key: str, ev: dict, delay: float = 0.0) -> None:
        """Record and deliver an input event ``delay`` seconds after its event time."""
        ev.setdefault("v", 1)
        raw = orjson.dumps(ev)
        self.at(ev["ts"] + delay, self._deliver, topic, key, raw)
        if self.rng.random() < self.sc.duplicate_rate:
            self.dup_count += 1
            self.at(ev["ts"] + delay + self.rng.uniform(1, 40), self._deliver, topic, key, raw)

    def _deliver(self, topic: str, key: str | None, raw: bytes) -> None:
        seq = len(self.recorded)
        env: Envelope = {"topic": topic, "key": key}
        try:
            env["value"] = raw.decode("utf-8")
        except UnicodeDecodeError:
            env["value_b64"] = base64.b64encode(raw).decode("ascii")
        self.recorded.append(orjson.dumps(env))
        if self.engine is None:
            return
        outs = self.engine.process(InMsg(seq, topic, key, raw))
        for out in outs:
            self.outputs.append(out)
            if out[0] == TOPIC_DECISIONS:
                self._on_decision(out[2])
            elif out[0] == TOPIC_ALERTS and self.sc.contact_reply > 0:
                self._contact_ahead(out[2])

    # ------------------------------------------------------------------ run

    def run(self) -> None:
        w, sc = self.world, self.sc
        t_first = min(v.shift_start for v in w.vehicles)
        for c in w.customers:
            ev = {"type": "customer_profile", "event_id": self._new_id("cp"), "ts": round(w.day0 + 3600, 3),
                  "customer_id": c.id, "zone": c.zone, "language": c.language,
                  "service_requirements": c.service_requirements}
            for k in ("preferred_drop", "access_instructions", "notes"):
                if getattr(c, k):
                    ev[k] = getattr(c, k)
            ev.update(c.avail.profile())   # building type, stated hours (sim/availability.py)
            self.emit(TOPIC_CUSTOMERS, c.id, ev)
        for o in w.orders:
            self.at(o.created_ts, self._create_order, o)
            if o.cancel_ts is not None:
                self.at(o.cancel_ts, self._cancel_order, o)
        for v in w.vehicles:
            self.at(v.shift_start, self._shift_start, v)
        self._plan_disruptions(t_first)
        self._plan_malformed(t_first)
        end = max(v.shift_end for v in w.vehicles) + 3 * 3600
        last_report = self.now
        n = 0
        while self.heap:
            t, _, fn, args = heapq.heappop(self.heap)
            if t > end:
                break
            self.now = t
            fn(*args)
            n += 1
            if self.progress and t - last_report >= 3600:
                last_report = t
                self.progress(f"sim {self._clock(t)}  events={len(self.recorded):,}  "
                              f"decisions={self.decisions_seen:,}")

    @staticmethod
    def _clock(t: float) -> str:
        s = int(t) % 86400
        return f"{s // 3600:02d}:{s % 3600 // 60:02d}"

    # ------------------------------------------------------------------ orders

    def _create_order(self, o: SimOrder) -> None:
        ev = {"type": "order_created", "event_id": self._new_id("oc"), "ts": round(o.created_ts, 3),
              "order_id": o.id, "zone": o.zone, "customer_id": o.customer.id, "kind": o.kind,
              "location": {"lat": o.location[0], "lon": o.location[1]},
              "window_start": o.window[0], "window_end": o.window[1], "size": o.size,
              "service_s": o.service_s, "priority": o.priority, "skills": o.skills,
              "vehicle_types": o.vehicle_types, "fleet_types": o.fleet_types, "value": o.value}
        if o.pickup is not None:
            ev["pickup"] = {"lat": o.pickup[0], "lon": o.pickup[1]}
        self.emit(TOPIC_ORDERS, o.id, ev)

    def _cancel_order(self, o: SimOrder) -> None:
        if o.status != "open":
            return
        o.status = "cancelled"
        o.outcome, o.outcome_ts = "cancelled", self.now
        self.emit(TOPIC_ORDERS, o.id, {"type": "order_cancelled", "event_id": self._new_id("ox"),
                                       "ts": round(self.now, 3), "order_id": o.id,
                                       "reason": "customer request"})
        for v in self.vehicles.values():
            v.plan = [s for s in v.plan if s[0] != o.id]

    # ------------------------------------------------------------------ fleet

    def _shift_start(self, v: SimVehicle) -> None:
        v.state = "depot"
        v.pos = v.depot
        c = v.costs
        self.emit(TOPIC_FLEET, v.id, {
            "type": "shift_start", "event_id": self._new_id("ss"), "ts": round(self.now, 3),
            "vehicle_id": v.id, "driver_id": v.driver_id, "zone": v.zone,
            "fleet_type": v.fleet_type, "vehicle_type": v.vehicle_type, "capacity": v.capacity,
            "skills": v.skills, "start": {"lat": v.depot[0], "lon": v.depot[1]},
            "end": {"lat": v.depot[0], "lon": v.depot[1]}, "shift_end_ts": round(v.shift_end, 3),
            "cost_per_km": c[0], "cost_per_hour": c[1], "cost_per_stop": c[2], "fixed_cost": c[3]})
        self.at(self.now + 5, self._ping, v, v.token)
        self.at(self.now + 1200, self._try_depart, v)
        self.at(v.shift_end, self._end_check, v)

    def _end_check(self, v: SimVehicle) -> None:
        if v.state in ("idle", "depot"):
            v.state = "idle"
            self._next_stop(v)

    def _try_depart(self, v: SimVehicle) -> None:
        if v.state != "depot":
            return
        parcels = [oid for oid, stop in v.plan if stop == "delivery"
                   and self.orders[oid].kind == "parcel" and self.orders[oid].status == "open"]
        if not v.plan:
            if self.now < v.shift_end:
                self.at(self.now + 300, self._try_depart, v)
            else:
                self._finish_shift(v)
            return
        for i, oid in enumerate(parcels):
            v.loaded.add(oid)
            self.orders[oid].status = "loaded"
            self.orders[oid].holder = v.id
            self.emit(TOPIC_ORDERS, oid, {"type": "order_picked_up", "event_id": self._new_id("pu"),
                                          "ts": round(self.now + i * 0.5, 3), "order_id": oid,
                                          "vehicle_id": v.id})
        self.at(self.now + len(parcels) * 0.5 + 60, self._next_stop, v)
        v.state = "loading"

    def _next_stop(self, v: SimVehicle) -> None:
        if v.state in ("off", "broken"):
            return
        while v.plan:
            oid, stop = v.plan[0]
            o = self.orders[oid]
            ok = (o.status == "open" and stop == "pickup") or (
                stop == "delivery" and oid in v.loaded and o.status in ("loaded", "picked"))
            if ok:
                self._drive(v, v.plan[0], o.pickup if stop == "pickup" else o.location)
                return
            if stop == "pickup":
                # A hand-over: the order is on a vehicle out of service; drive to where
                # that vehicle really is (the world's own position, not the engine's).
                holder = handover.holder_out_of_service(self, o, v)
                if holder is not None:
                    self._drive(v, v.plan[0], holder.pos)
                    return
            v.plan.pop(0)  # cannot execute: not on board, cancelled, or done
        if self.now >= v.shift_end - 1800 or self._all_done(v):
            if haversine_m(v.pos, v.depot) > 50:
                self._drive(v, ("__depot__", "end"), v.depot)
            else:
                self._finish_shift(v)
        else:
            v.state = "idle"

    def _all_done(self, v: SimVehicle) -> bool:
        return self.now >= v.shift_end

    def _plane_leg(self, v: SimVehicle, target: tuple, a: tuple, b: tuple, t: float) -> PlaneLeg:
        """The plane world's truth of one leg (fleetstream/sim/planetruth.py: its own
        hidden streets and speeds, nothing of the engine's providers)."""
        zone = next(z for z in self.world.zones if z.id == v.zone)
        slow = 1.0
        for inc in self.incidents:
            if inc.start <= t < inc.end and (crow_m(a, inc.center) <= inc.radius_m or
                                             crow_m(b, inc.center) <= inc.radius_m):
                slow *= inc.factor
        weather = 1.0
        for s, e, fac in self.weather.get(v.zone, []):
            if s <= t < e:
                weather *= fac
        oid, stop = target
        building = None
        if stop == "delivery" and oid in self.orders:
            avail = self.orders[oid].customer.avail
            building = getattr(avail, "building", None)
        return self.plane.leg(self.rng, a, b, t, v.vehicle_type, v.pace, zone.density, slow,
                              weather, building, stop)

    def _drive(self, v: SimVehicle, target: tuple, to: tuple) -> None:
        if self.roads is not None:
            self.roads.drive(v, target, to)
            return
        v.token += 1
        leg = self._plane_leg(v, target, v.pos, to, self.now)
        true_s = max(20.0, leg.total_s)
        # provider_s: what the engine's default provider says, recorded beside the truth
        # for scoring (truth/legs); the truth above never reads it
        v.leg = (v.pos, to, self.now, self.now + true_s, target, v.token, true_s,
                 self.provider.travel_s(v.pos, to, self.now), None, leg)
        v.state = "driving"
        self.at(self.now + true_s, self._arrive, v, v.token)

    def _pos_at(self, v: SimVehicle, t: float) -> tuple:
        if v.state != "driving" or v.leg is None:
            return v.pos
        if self.roads is not None:
            return self.roads.pos_at(v, t)
        a, b, t0, t1 = v.leg[:4]
        f = 0.0 if t1 <= t0 else min(1.0, max(0.0, (t - t0) / (t1 - t0)))
        return (a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f)

    def _arrive(self, v: SimVehicle, token: int) -> None:
        if token != v.token or v.state != "driving":
            return
        a, b, t0, t1, target, _, true_s, prov = v.leg[:8]  # type: ignore[misc]
        road = v.leg[8] if len(v.leg) > 8 else None
        plane = v.leg[9] if len(v.leg) > 9 else None
        if road is not None:
            v.km += road.road_m / 1000.0
        elif plane is not None:
            v.km += plane.road_m / 1000.0
        v.pos = b
        v.leg = None
        oid, stop = target
        if oid == "__depot__":
            self._finish_shift(v)
            return
        o = self.orders[oid]
        leg = {"vehicle_id": v.id, "order_id": oid, "stop": stop,
               "depart_ts": round(t0, 3), "arrive_ts": round(self.now, 3),
               "true_s": round(true_s, 2), "provider_s": round(prov, 2),
               "zone": v.zone, "vehicle_type": v.vehicle_type}
        if road is not None:
            leg.update(self.roads.truth_fields(v, road, a, b, t0))
        elif plane is not None:
            leg.update({"road_m": round(plane.road_m, 1), "startup_s": round(plane.startup_s, 1),
                        "drive_s": round(plane.drive_s, 1), "parking_s": round(plane.parking_s, 1)})
        self.truth_legs.append(leg)
        v.state = "serving"
        self.emit(TOPIC_ORDERS, oid, {"type": "stop_arrived", "event_id": self._new_id("sa"),
                                      "ts": round(self.now, 3), "order_id": oid,
                                      "vehicle_id": v.id, "stop_kind": stop})
        if stop == "pickup":
            if handover.holder_out_of_service(self, o, v) is not None:
                done = self.now + handover.transfer_s(self.rng)
            else:
                done = self.now + 120 * self.stream("pickup", oid, v.id).uniform(0.6, 1.8)
            self.at(done, self._picked, v, o)
        else:
            start = max(self.now, o.window[0])
            c = o.customer
            p_home, p_acc = c.p_home(start), c.p_access_fail()   # sim/availability.py
            knew = self.driver_knows(v.driver_id, c) if self.sc.driver_knowledge else None
            if knew:
                p_acc *= availability.KNOWN_ACCESS_FACTOR
            if start >= self.arranged.get(oid, math.inf):   # contacted ahead: arranged for it
                p_home = availability.after_contact(p_home)
            door = self.stream("door", oid, o.attempts)    # this attempt's own luck
            home = door.random() < p_home
            access = door.random() >= p_acc
            ok = home and access
            reason = None if ok else ("access" if not access else "not_home")
            svc = o.service_s * door.uniform(0.7, 1.5) if ok else door.uniform(60, 180)
            if self.roads is not None:
                svc += self.roads.walk_s(c, door)
            if knew is False:                          # new to a hard door: finding the way in
                svc += door.uniform(*availability.ACCESS_SEARCH_S)
            self.truth_attempts.append({"order_id": oid, "customer_id": c.id, "ts": round(start, 3),
                                        "home": home, "access_ok": access,
                                        "p_fail": round(1.0 - p_home * (1.0 - p_acc), 4),
                                        "window_end": o.window[1], "arrived_ts": round(self.now, 3),
                                        "late": self.now > o.window[1]})
            if knew is not None:
                self.truth_attempts[-1].update({"driver_id": v.driver_id, "driver_knew": knew})
            self.at(start + svc, self._complete, v, o, ok, reason)

    def driver_knows(self, driver_id: str, c: Any) -> bool | None:
        """Whether the driver knows the way in at ``c`` (Scenario.driver_knowledge):
        None at an address without access instructions (nothing to know); else a
        delivery there earlier in the run, or the history before it
        (availability.PRIOR_KNOWN, the pair's own stream)."""
        if not c.avail.hard_access:
            return None
        if (driver_id, c.id) in self.known_access:
            return True
        return self.stream("knows", driver_id, c.id).random() < availability.PRIOR_KNOWN

    def _picked(self, v: SimVehicle, o: SimOrder) -> None:
        if v.state == "broken":
            return
        if o.status == "open":
            o.status = "picked"
            o.holder = v.id
            v.loaded.add(o.id)
            self.emit(TOPIC_ORDERS, o.id, {"type": "order_picked_up", "event_id": self._new_id("pu"),
                                           "ts": round(self.now, 3), "order_id": o.id,
                                           "vehicle_id": v.id})
        elif handover.take_over(self, o, v):
            self.emit(TOPIC_ORDERS, o.id, {"type": "order_picked_up", "event_id": self._new_id("pu"),
                                           "ts": round(self.now, 3), "order_id": o.id,
                                           "vehicle_id": v.id})
        if v.plan and v.plan[0] == (o.id, "pickup"):
            v.plan.pop(0)
        self._next_stop(v)

    def _complete(self, v: SimVehicle, o: SimOrder, ok: bool, reason: str | None) -> None:
        if v.state == "broken":
            return
        v.stops_done += 1
        o.attempts += 1
        if ok:
            o.status = "delivered"
            v.loaded.discard(o.id)
            o.holder = None
            if self.sc.driver_knowledge:        # the driver now knows the way in
                self.known_access.add((v.driver_id, o.customer.id))
        # A failed parcel stays on board (status unchanged): the engine may plan another
        # attempt; if not, the driver takes it back.  Its outcome is failed until then.
        o.outcome, o.outcome_ts = ("delivered" if ok else "failed"), self.now
        ev = {"type": "order_delivered" if ok else "order_failed",
              "event_id": self._new_id("od"), "ts": round(self.now, 3), "order_id": o.id,
              "vehicle_id": v.id}
        if not ok:
            ev["reason"] = reason
        self.emit(TOPIC_ORDERS, o.id, ev)
        if v.plan and v.plan[0] == (o.id, "delivery"):
            v.plan.pop(0)
        self._next_stop(v)

    def _finish_shift(self, v: SimVehicle) -> None:
        if v.state == "off":
            return
        v.state = "off"
        v.finished_ts = self.now
        v.token += 1
        self.emit(TOPIC_FLEET, v.id, {"type": "shift_end", "event_id": self._new_id("se"),
                                      "ts": round(self.now, 3), "vehicle_id": v.id})

    def _ping(self, v: SimVehicle, token: int) -> None:
        if v.state in ("off", "broken"):
            return
        pos = self._pos_at(v, self.now)
        moving = v.state == "driving"
        lat = pos[0] + self.rng.gauss(0, 0.00007)
        lon = pos[1] + self.rng.gauss(0, 0.0001)
        speed = 0.0
        heading = 0.0
        if moving and v.leg is not None and self.roads is not None:
            kmh, heading = self.roads.motion_at(v, self.now)
            speed = min(249.0, kmh * self.rng.uniform(0.85, 1.15))
        elif moving and v.leg is not None:
            a, b, t0, t1 = v.leg[:4]
            d = v.leg[9].road_m if len(v.leg) > 9 else crow_m(a, b)
            speed = min(249.0, max(0.0, d / max(1.0, t1 - t0) * 3.6 * self.rng.uniform(0.8, 1.2)))
            heading = math.degrees(math.atan2(b[1] - a[1], b[0] - a[0])) % 360
        ev = {"type": "ping", "event_id": self._new_id("p"), "ts": round(self.now, 3),
              "vehicle_id": v.id, "lat": round(lat, 6), "lon": round(lon, 6),
              "speed_kmh": round(speed, 1), "heading": round(heading, 1)}
        late = self.rng.random() < self.sc.late_ping_rate
        if late:
            self.late_ping_count += 1
        self.emit(TOPIC_TELEMETRY, v.id, ev, delay=self.rng.uniform(30, 120) if late else 0.0)
        gap = self.rng.uniform(10, 30) if moving else 60.0
        self.at(self.now + gap, self._ping, v, token)
