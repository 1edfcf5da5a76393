"""What a simulated day writes: the recording (input stream), the ground truth
(legs, attempts, orders, customers), the closed-loop KPIs and the manifest.

A mixin of :class:`fleetstream.sim.loop.Simulation` (importable from there too).
"""

from __future__ import annotations

import gzip
import os
from typing import Iterable

import orjson


class TruthOutputs:
    """The truth records, KPIs, manifest and files of a day (Simulation's state)."""

    def truth_orders(self) -> Iterable[dict]:
        for o in self.world.orders:
            yield {"order_id": o.id, "zone": o.zone, "kind": o.kind, "customer_id": o.customer.id,
                   "window_start": o.window[0], "window_end": o.window[1],
                   "outcome": o.outcome or "not_served", "outcome_ts": o.outcome_ts,
                   "on_time": bool(o.outcome in ("delivered", "failed") and o.outcome_ts is not None
                                   and self._arrival_of(o.id) is not None
                                   and self._arrival_of(o.id) <= o.window[1])}

    def _arrival_of(self, oid: str) -> float | None:
        if not hasattr(self, "_arrivals"):
            self._arrivals = {a["order_id"]: a["arrived_ts"] for a in self.truth_attempts}
        return self._arrivals.get(oid)

    def truth_customers(self) -> Iterable[dict]:
        for c in self.world.customers:
            out = {"customer_id": c.id, "zone": c.zone, **c.avail.truth()}
            if c.site is not None:
                out.update(self.roads.site_fields(c.site))
            yield out

    def kpis(self) -> dict:
        orders = list(self.truth_orders())
        served = [o for o in orders if o["outcome"] in ("delivered", "failed")]
        total_km = sum(v.km for v in self.world.vehicles)
        cost = 0.0
        overtime_h = 0.0
        stops = []
        for v in self.world.vehicles:
            hours = max(0.0, ((v.finished_ts or v.shift_end) - v.shift_start) / 3600)
            cost += v.km * v.costs[0] + hours * v.costs[1] + v.stops_done * v.costs[2] + (
                v.costs[3] if v.stops_done else 0)
            if v.finished_ts and v.finished_ts > v.shift_end:
                overtime_h += (v.finished_ts - v.shift_end) / 3600
            if v.fleet_type != "gig":
                stops.append(v.stops_done)
        n = max(1, len([o for o in orders if o["outcome"] != "cancelled"]))
        return {
            "orders": len(orders),
            "on_time_rate": round(sum(1 for o in orders if o["on_time"]) / n, 4),
            # delivered (not a failed attempt) by the window end: the customer got it
            "delivered_on_time_rate": round(sum(1 for o in orders if o["on_time"]
                                                and o["outcome"] == "delivered") / n, 4),
            "delivered": sum(1 for o in orders if o["outcome"] == "delivered"),
            "failed_attempts": sum(1 for a in self.truth_attempts
                                   if not (a["home"] and a["access_ok"])),
            "orders_failed": sum(1 for o in orders if o["outcome"] == "failed"),
            "retried": sum(1 for o in self.world.orders if o.attempts > 1),
            "handed_over": sum(1 for o in self.world.orders if o.handovers),
            "not_served": sum(1 for o in orders if o["outcome"] == "not_served"),
            "contacted": len(self.contacted),
            "stranded": sum(1 for o in orders if o["outcome"] == "stranded"),
            "km": round(total_km, 1),
            "cost": round(cost, 1),
            "overtime_h": round(overtime_h, 2),
            "decisions": self.decisions_seen,
            "stops_per_driver_spread": (max(stops) - min(stops)) if stops else 0,
            "served": len(served),
        }

    def write(self, out_dir: str) -> dict:
        """Write the recording (input stream), the ground truth and a manifest."""
        os.makedirs(os.path.join(out_dir, "truth"), exist_ok=True)
        _write_lines(os.path.join(out_dir, "events.jsonl.gz"), self.recorded)
        _write_lines(os.path.join(out_dir, "truth", "legs.jsonl.gz"),
                     [orjson.dumps(x) for x in self.truth_legs])
        _write_lines(os.path.join(out_dir, "truth", "attempts.jsonl.gz"),
                     [orjson.dumps(x) for x in self.truth_attempts])
        _write_lines(os.path.join(out_dir, "truth", "orders.jsonl.gz"),
                     [orjson.dumps(x) for x in self.truth_orders()])
        _write_lines(os.path.join(out_dir, "truth", "customers.jsonl.gz"),
                     [orjson.dumps(x) for x in self.truth_customers()])
        return self.manifest()

    def manifest(self) -> dict:
        sc = self.sc
        ts = [v.shift_start for v in self.world.vehicles]
        return {
            "name": sc.name, "seed": sc.seed, "scenario": sc.fields(),
            "format": "events.jsonl.gz: one JSON envelope per line {topic, key, value} in "
                      "arrival order; value is the message text (value_b64 when not UTF-8)",
            "sizes": {"zones": sc.zones, "vehicles": len(self.world.vehicles),
                      "orders": len(self.world.orders),
                      "parcels": sum(1 for o in self.world.orders if o.kind == "parcel"),
                      "on_demand": sum(1 for o in self.world.orders if o.kind == "on_demand"),
                      "customers": len(self.world.customers), "events": len(self.recorded),
                      "duplicates_injected": self.dup_count,
                      "late_pings_injected": self.late_ping_count,
                      "malformed_injected": sc.malformed},
            "time_span": {"day0": self.world.day0, "first_shift_start": min(ts),
                          "last_event": self.now},
            "incidents": [{"zone": i.zone, "lat": i.center[0], "lon": i.center[1],
                           "radius_m": round(i.radius_m), "start": round(i.start, 1),
                           "end": round(i.end, 1), "true_factor": round(i.factor, 2)}
                          for i in self.incidents],
            "weather": {z: [list(map(lambda x: round(x, 2), w)) for w in ws]
                        for z, ws in self.weather.items()},
            "closed_loop_kpis": self.kpis(),
        }


def _write_lines(path: str, lines: list[bytes]) -> None:
    # mtime=0: the same content gives the same bytes.
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0,
                                                 filename="", compresslevel=6) as f:
        for line in lines:
            f.write(line)
            f.write(b"\n")
