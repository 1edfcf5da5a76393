"""The zone's plain-data state, shared by every capability object of the zone.

Everything a zone knows lives in one :class:`ZoneState`: vehicles, orders,
customers, live conditions, open proposals, counters and clocks.  The capability
objects (``world``, ``forecasting``, ``response``, ``assignment``, ``governance``,
``fleet``, ``orders``) hold no state of their own, so a snapshot is this object's
``dump()`` (plain dicts and lists) and a restore is :meth:`ZoneState.load`.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from typing import Any

from fleetstream.operators.state import Order, Vehicle

STATE_VERSION = 4
"""Version of the snapshot layout: a snapshot of another version does not load (version 3
loads: its conditions gain an unknown kind and their start as report time)."""
INFLOW_S = 3600.0
"""How long a created order counts as inflow (``ZoneState.inflow_per_vehicle_h``)."""

Condition = tuple[float, float, float, Any, str, Any, float]
"""A live condition: (start_ts, end_ts, factor (clamped), area (lat, lon, radius_m) or None,
event_id, kind, report ts)."""


@dataclass
class ZoneState:
    """Vehicles, orders, customers, conditions, proposals, stats, counters and clocks.

    >>> st = ZoneState("Z1")
    >>> st.next_id("A", 3600.9), st.next_id("D", 3601.0)
    ('A-Z1-3600-1', 'D-Z1-3601-2')
    >>> st.count("x"); st.count("x", 2); st.stats
    {'x': 3}
    """

    zone: str
    clock: float = -1e18                 # largest event time seen
    n_out: int = 0                       # output records numbered so far (ids)
    next_sweep_ts: float | None = None
    vehicles: dict[str, Vehicle] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    customers: dict[str, dict] = field(default_factory=dict)
    conditions: list[Condition] = field(default_factory=list)
    proposals: dict[str, dict] = field(default_factory=dict)
    stats: dict[str, float] = field(default_factory=dict)
    last_shift_start_ts: float = -1e18
    # hour -> [sum of true/provider travel-time ratios, n]
    hist: dict[int, list[float]] = field(default_factory=dict)
    plan_wave_ts: float = -1e18          # event time of the last zone plan
    next_reopt_ts: float | None = None   # (name kept for the snapshot) last sweep index re-optimized
    # vid -> (route judged by the last periodic re-optimization, active conditions then)
    reopt_seen: dict[str, tuple[list, tuple]] = field(default_factory=dict)
    # While a zone plan is being solved (a solver job): the orders and vehicles it
    # covers.  Sweeps neither insert these orders nor insert into these vehicles, so
    # the plan's result can be applied as it is (docs/architecture.md, solver jobs).
    plan_orders: set[str] = field(default_factory=set)
    plan_vehicles: set[str] = field(default_factory=set)
    # Retention (operators/zone/retention.py): when each customer was last seen, and
    # the event time of the next housekeeping pass.
    customer_seen: dict[str, float] = field(default_factory=dict)
    next_housekeeping_ts: float = -1e18
    # Stalled clock (docs/limits.md): consecutive events that did not advance the clock.
    still_events: int = 0
    stall_alerted: bool = False
    # Dispatcher overrides (operators/zone/overrides.py): pinned order -> its vehicle, and
    # the vehicles whose route is locked.  Nothing moves a pinned order to another vehicle
    # and nothing re-sequences or inserts into a locked route.
    pinned: dict[str, str] = field(default_factory=dict)
    locked: set[str] = field(default_factory=set)
    # Workload balance (operators/balance.py): orders each vehicle finished (delivered or
    # finally failed) in its current shift, vid -> [shift_start_ts, count]; finished
    # orders leave ``orders``, so this is what keeps them in a driver's load.
    done: dict[str, list[float]] = field(default_factory=dict)
    # Learned planning travel times (engine.routing_learned_travel; operators/zone/world.py):
    # (curve points, seconds per leg) read from the ETA seat, and when to read it again.
    learned_travel: tuple | None = None
    travel_refresh_ts: float = -1e18
    # Riders' paces for the plans (engine.routing_rider_pace; operators/zone/world.py):
    # ((vehicle type, s per km), ...) read from the ETA seat, and when to read it again.
    rider_pace: tuple = ()
    rider_refresh_ts: float = -1e18
    # Inserted work ahead (models/intervals.py, ``interval-aci-6``): event times of the
    # orders created in the last hour while a vehicle was on shift (``note_inflow``).
    inflow: list[float] = field(default_factory=list)

    def count(self, key: str, n: float = 1) -> None:
        self.stats[key] = self.stats.get(key, 0) + n

    def next_id(self, prefix: str, now: float) -> str:
        self.n_out += 1
        return f"{prefix}-{self.zone}-{int(now)}-{self.n_out}"

    def in_proposal(self, vid: str) -> bool:
        """Is vehicle ``vid`` part of a proposal waiting for an answer?"""
        return any(vid in prop["routes"] for prop in self.proposals.values())

    def untouchable(self, vid: str) -> bool:
        """May the engine not change vehicle ``vid``'s route by itself (in a proposal,
        or locked by a dispatcher)?"""
        return vid in self.locked or self.in_proposal(vid)

    def note_inflow(self, ts: float) -> None:
        """An order created at ``ts``: counted as inflow when a vehicle is on shift (its
        stop joins running routes), kept for an hour (``INFLOW_S``)."""
        if not math.isfinite(ts) or not any(v.available for v in self.vehicles.values()):
            return
        bisect.insort(self.inflow, ts)   # in time order, whatever order the events came in
        self._prune_inflow(max(ts, self.clock))

    def _prune_inflow(self, now: float) -> None:
        i = bisect.bisect_right(self.inflow, now - INFLOW_S)
        if i:
            del self.inflow[:i]

    def inflow_per_vehicle_h(self, now: float) -> float:
        """Orders created in the last hour while vehicles were on shift, per vehicle on
        shift now (0 with none on shift).

        >>> st = ZoneState("Z1"); st.inflow = [0.0, 1800.0, 3000.0]
        >>> st.inflow_per_vehicle_h(4000.0)   # no vehicle on shift
        0.0
        """
        k = len(self.inflow) - bisect.bisect_right(self.inflow, now - INFLOW_S)
        if not k:
            return 0.0
        n = sum(1 for v in self.vehicles.values() if v.available)
        return k / n if n else 0.0

    def dump(self) -> dict[str, Any]:
        """Plain dicts and lists (the snapshot layout of ``STATE_VERSION``; the override
        keys only when there are overrides, and the done counts only when there are some, so
        snapshots without any stay as they were; likewise the learned planning times)."""
        d = self._dump()
        if self.pinned:
            d["pinned"] = dict(self.pinned)
        if self.locked:
            d["locked"] = sorted(self.locked)
        if self.done:
            d["done"] = {vid: list(x) for vid, x in sorted(self.done.items())}
        if self.learned_travel is not None or self.travel_refresh_ts > -1e18:
            d["learned_travel"] = self.learned_travel
            d["travel_refresh_ts"] = self.travel_refresh_ts
        if self.rider_pace or self.rider_refresh_ts > -1e18:
            d["rider_pace"] = [list(x) for x in self.rider_pace]
            d["rider_refresh_ts"] = self.rider_refresh_ts
        if self.inflow:
            d["inflow"] = list(self.inflow)
        return d

    def _dump(self) -> dict[str, Any]:
        return {
            "state_version": STATE_VERSION, "zone": self.zone, "clock": self.clock,
            "n_out": self.n_out, "next_sweep_ts": self.next_sweep_ts,
            "last_shift_start_ts": self.last_shift_start_ts, "hist": self.hist,
            "vehicles": [v.dump() for v in self.vehicles.values()],
            "orders": [o.dump() for o in self.orders.values()],
            "customers": self.customers, "conditions": self.conditions,
            "proposals": self.proposals, "stats": self.stats,
            "plan_wave_ts": self.plan_wave_ts, "next_reopt_ts": self.next_reopt_ts,
            "reopt_seen": self.reopt_seen, "plan_orders": sorted(self.plan_orders),
            "plan_vehicles": sorted(self.plan_vehicles),
            "customer_seen": self.customer_seen,
            "next_housekeeping_ts": self.next_housekeeping_ts,
            "still_events": self.still_events, "stall_alerted": self.stall_alerted,
        }

    @classmethod
    def load(cls, st: dict[str, Any]) -> "ZoneState":
        if st["state_version"] == 3:
            st = {**st, "state_version": STATE_VERSION,
                  "conditions": [tuple(c) + (None, c[0]) for c in st["conditions"]]}
        if st["state_version"] != STATE_VERSION:
            raise ValueError(f"zone state version {st['state_version']} is not {STATE_VERSION}")
        return cls(
            zone=st["zone"], clock=st["clock"], n_out=st["n_out"], next_sweep_ts=st["next_sweep_ts"],
            vehicles={d["id"]: Vehicle.load(d) for d in st["vehicles"]},
            orders={d["id"]: Order.load(d) for d in st["orders"]},
            customers=st["customers"], conditions=st["conditions"], proposals=st["proposals"],
            stats=st["stats"], last_shift_start_ts=st["last_shift_start_ts"], hist=st["hist"],
            plan_wave_ts=st["plan_wave_ts"], next_reopt_ts=st["next_reopt_ts"],
            reopt_seen=st["reopt_seen"], plan_orders=set(st["plan_orders"]),
            plan_vehicles=set(st["plan_vehicles"]),
            customer_seen=st.get("customer_seen", {}),
            next_housekeeping_ts=st.get("next_housekeeping_ts", -1e18),
            still_events=st.get("still_events", 0), stall_alerted=st.get("stall_alerted", False),
            pinned=dict(st.get("pinned", {})), locked=set(st.get("locked", ())),
            done={vid: list(x) for vid, x in st.get("done", {}).items()},
            learned_travel=_curve(st.get("learned_travel")),
            travel_refresh_ts=st.get("travel_refresh_ts", -1e18),
            rider_pace=tuple((str(vt), float(s)) for vt, s in st.get("rider_pace", ())),
            rider_refresh_ts=st.get("rider_refresh_ts", -1e18),
            inflow=[float(t) for t in st.get("inflow", ())])


def _curve(x: Any) -> tuple | None:
    """The learned planning times of a snapshot as tuples (a pickled value may come back
    as lists from other encodings)."""
    if x is None:
        return None
    pts, extra = x
    return (tuple((float(a), float(b)) for a, b in pts), float(extra))


def seen_customer(state: ZoneState, customer_id: str, ts: float) -> None:
    """Note that ``customer_id`` was seen at event time ``ts`` (retention)."""
    seen = state.customer_seen
    if ts > seen.get(customer_id, -1e18):
        seen[customer_id] = ts
