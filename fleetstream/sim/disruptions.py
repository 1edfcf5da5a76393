"""The day's disruptions and bad input: incidents (true slow-downs, reported as
``condition`` events a few minutes late with an estimated factor), weather, vehicle
breakdowns, and a few malformed messages of each kind.

A mixin of :class:`fleetstream.sim.loop.Simulation`; :class:`Incident` is importable
from fleetstream.sim.loop too.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from fleetstream.contract.events import TOPIC_CONDITIONS, TOPIC_FLEET, TOPIC_ORDERS, TOPIC_TELEMETRY
from fleetstream.sim.world import SimVehicle


@dataclass
class Incident:
    zone: str
    center: tuple
    radius_m: float
    start: float
    end: float
    factor: float


class Disruptions:
    """Incidents, weather, breakdowns and malformed messages (Simulation's state)."""

    def _plan_disruptions(self, t_first: float) -> None:
        sc, rng = self.sc, self.rng
        for i in range(sc.incidents):
            zone = self.world.zones[i % len(self.world.zones)]
            start = t_first + rng.uniform(1.0, sc.shift_h - 3) * 3600
            # On a road map the towns are small: the area is a neighbourhood (0.4x).
            radius = rng.uniform(1200, 2000) * (0.4 if self.roads is not None else 1.0)
            inc = Incident(zone.id, zone.stores[i % len(zone.stores)], radius,
                           start, start + rng.uniform(3600, 5400), rng.uniform(2.0, 3.0))
            self.incidents.append(inc)
            self.at(start + 300, self._report_incident, inc)
        if sc.weather:
            for zone in self.world.zones:
                s = t_first + rng.uniform(3, 5) * 3600
                e = s + 7200
                fac = round(rng.uniform(1.15, 1.3), 2)
                self.weather.setdefault(zone.id, []).append((s, e, fac))
                self.at(s - 600, self._emit_condition, zone.id, "weather", fac, s, e, None)
        fleet = [v for v in self.world.vehicles if v.fleet_type != "gig"]
        for i in range(sc.breakdowns):
            v = fleet[rng.randrange(len(fleet))]
            self.at(t_first + rng.uniform(2.5, 5) * 3600, self._breakdown, v)

    def _report_incident(self, inc: Incident) -> None:
        est = round(inc.factor * self.rng.uniform(0.85, 1.15), 2)
        self._emit_condition(inc.zone, "incident", est, self.now, inc.end,
                             {"lat": inc.center[0], "lon": inc.center[1], "radius_m": round(inc.radius_m)})

    def _emit_condition(self, zone: str, kind: str, factor: float, s: float, e: float, area) -> None:
        ev = {"type": "condition", "event_id": self._new_id("cn"), "ts": round(self.now, 3),
              "zone": zone, "kind": kind, "factor": factor, "start_ts": round(s, 3),
              "end_ts": round(e, 3)}
        if area:
            ev["area"] = area
        self.emit(TOPIC_CONDITIONS, zone, ev)

    def _breakdown(self, v: SimVehicle) -> None:
        if v.state in ("off", "broken", "depot"):
            return
        v.pos = self._pos_at(v, self.now)
        v.state = "broken"
        v.token += 1
        planned = {s[0] for s in v.plan}
        for oid in list(v.loaded):
            o = self.orders[oid]
            if o.outcome is None or oid in planned:   # (not a failed parcel going back)
                o.outcome, o.outcome_ts = "stranded", self.now
        self.emit(TOPIC_FLEET, v.id, {"type": "vehicle_unavailable", "event_id": self._new_id("vu"),
                                      "ts": round(self.now, 3), "vehicle_id": v.id,
                                      "reason": "breakdown"})

    def _plan_malformed(self, t_first: float) -> None:
        """A few broken messages, one of each kind, spread over the day."""
        rng = self.rng
        v0 = self.world.vehicles[0].id
        kinds: list[tuple[str, str | None, bytes]] = [
            (TOPIC_TELEMETRY, v0, b'{"type":"ping","event_id":"bad-json",'),
            (TOPIC_TELEMETRY, v0, b'\xff\xfe not utf-8 \x00'),
            (TOPIC_TELEMETRY, v0, b'["not", "an", "object"]'),
            (TOPIC_TELEMETRY, v0, orjson.dumps({"type": "ping", "event_id": "bad-lat", "ts": t_first + 100,
                                                "v": 1, "vehicle_id": v0, "lat": 123.0, "lon": 13.4,
                                                "speed_kmh": 10, "heading": 0})),
            (TOPIC_TELEMETRY, "VX-ghost", orjson.dumps({"type": "ping", "event_id": "ghost", "ts": t_first + 100,
                                                        "v": 1, "vehicle_id": "VX-ghost", "lat": 52.5,
                                                        "lon": 13.4, "speed_kmh": 10, "heading": 0})),
            (TOPIC_ORDERS, "O-bad", orjson.dumps({"type": "order_created", "event_id": "no-window",
                                                  "ts": t_first, "v": 1, "order_id": "O-bad"})),
            (TOPIC_ORDERS, "O-bad2", orjson.dumps({"type": "ping", "event_id": "wrong-topic",
                                                   "ts": t_first, "v": 1})),
            (TOPIC_FLEET, v0, orjson.dumps({"type": "shift_start", "event_id": "naive-ts",
                                            "ts": "2026-03-02T07:00:00", "v": 1})),
            (TOPIC_TELEMETRY, v0, orjson.dumps({"type": "ping", "event_id": "v2", "ts": t_first,
                                                "v": 2, "vehicle_id": v0, "lat": 52.5, "lon": 13.4,
                                                "speed_kmh": 10, "heading": 0})),
            (TOPIC_ORDERS, "O-ghost", orjson.dumps({"type": "order_delivered", "event_id": "ghost-order",
                                                    "ts": t_first + 200, "v": 1, "order_id": "O-ghost",
                                                    "vehicle_id": v0})),
            (TOPIC_TELEMETRY, v0, orjson.dumps({"type": "ping", "event_id": "speed-str", "ts": t_first,
                                                "v": 1, "vehicle_id": v0, "lat": 52.5, "lon": 13.4,
                                                "speed_kmh": "fast", "heading": 0})),
            (TOPIC_CONDITIONS, "Z1", orjson.dumps({"type": "condition", "event_id": "bad-factor",
                                                   "ts": t_first, "v": 1, "zone": "Z1",
                                                   "kind": "traffic", "factor": 0,
                                                   "start_ts": t_first, "end_ts": t_first + 60})),
        ]
        for i in range(self.sc.malformed):
            topic, key, raw = kinds[i % len(kinds)]
            t = t_first + rng.uniform(0, self.sc.shift_h * 3600)
            self.at(t, self._deliver, topic, key, raw)
