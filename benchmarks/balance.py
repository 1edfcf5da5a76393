"""Workload balance on closed-loop days (issue #10 item 5; docs/routing.md, "Workload balance").

For each seed of a scenario, one simulated day with the engine in the loop, measured on
the world's own truth (what drivers really did, not the engine's view):

- ``stops_cv``: standard deviation / mean of stops done per *active* captive driver
  (captive, at least one stop, not broken down), pooled over the zones (target: at most
  0.25);
  ``stops_cv_all`` counts every captive driver on shift (zeros included);
- ``captive_zero``: captive drivers with no stop all day;
- ``idle_waiting``: captive drivers seen idle (on shift, nothing in their plan, more than
  30 min before shift end) at a 5-minute sample while at least one order they could carry
  (fleet type, skills and vehicle type allowed; its window still reachable from where
  the driver is, at the simulator's base travel time) was open, created at least 2
  minutes before and not in any plan;
  ``idle_waiting_samples``: such (driver, sample) pairs (target: 0 drivers);
- ``drive_h_cv``: sd / mean of driving hours per active captive driver;
- ``stops_3pl`` / ``stops_gig``: stops done by 3PL and gig vehicles;
- ``km``, ``on_time_rate``, ``delivered``, ``cost``: the day's KPIs (``Simulation.kpis``);
- ``plans``: per zone plan, the plan balance's verdict (``kept`` balanced or unbalanced,
  the ``reason``, and late stops, orders left out and km of the unbalanced and the
  balanced plan, on the engine's planning travel times; ``operators.balance.balanced_plan``).

Usage::

    .venv/bin/python benchmarks/balance.py andorra --seeds 1,2,3 --weights 0,8

``--weights`` runs the engine with each ``EngineSettings.balance_weight`` (0: the
unbalanced plan) on every seed, in one process (the same code).  One JSON line per day,
then per weight and figure the mean, sd and per-seed values, and the km change of each
weight against weight 0 per seed.  A progress line per day goes to stderr.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

import orjson

SAMPLE_S = 300.0
WAIT_S = 120.0   # an order counts as waiting after two sweeps (engine sweep: 60 s)


def _cv(xs: list[float]) -> float:
    if len(xs) < 2 or statistics.fmean(xs) == 0:
        return 0.0
    return statistics.pstdev(xs) / statistics.fmean(xs)


class IdleSampler:
    """Every ``SAMPLE_S`` of simulated time: captive drivers idle while orders wait.
    Reads the world only; schedules itself in the simulation's event heap (it changes no
    state, so the day is the same with or without it)."""

    def __init__(self, sim: Any):
        self.sim = sim
        self.drivers: set[str] = set()
        self.samples = 0

    def start(self) -> None:
        w = self.sim.world
        t0 = min(v.shift_start for v in w.vehicles)
        end = max(v.shift_end for v in w.vehicles)
        t = t0 + 1800.0   # after the first plan could be applied
        while t < end:
            self.sim.at(t, self.sample)
            t += SAMPLE_S

    def sample(self) -> None:
        sim, now = self.sim, self.sim.now
        planned = {oid for v in sim.world.vehicles for oid, _ in v.plan}
        waiting: dict[str, list] = {}
        for o in sim.world.orders:
            if (o.status == "open" and o.created_ts <= now - WAIT_S and o.window[1] > now
                    and o.id not in planned and (not o.fleet_types or "captive" in o.fleet_types)):
                waiting.setdefault(o.zone, []).append(o)
        if not waiting:
            return
        for v in sim.world.vehicles:
            if (v.fleet_type == "captive" and v.state in ("idle", "depot") and not v.plan
                    and v.shift_start <= now < v.shift_end - 1800
                    and any(_can_carry(sim, v, o, now) for o in waiting.get(v.zone, ()))):
                self.drivers.add(v.id)
                self.samples += 1


def _can_carry(sim: Any, v: Any, o: Any, now: float) -> bool:
    """The driver may carry the order (skills, vehicle type: the world's own reading of
    its requirements) and can still make its window: from where it is, by the pickup
    (on-demand) or the depot (a parcel), to the customer before the window ends, at the
    simulator's base travel time (``sim.provider``, no congestion: optimistic)."""
    if not (set(o.skills) <= set(v.skills)
            and (not o.vehicle_types or v.vehicle_type in o.vehicle_types)):
        return False
    tt = sim.provider.travel_s
    via = o.pickup if o.kind == "on_demand" and o.pickup is not None else v.depot
    t = now + tt(v.pos, via, now) + (120.0 if via is not v.depot else 0.0)
    return t + tt(via, o.location, t) <= o.window[1]


def day(scenario: str, seed: int, weight: float | None) -> dict:
    from fleetstream.operators.zone.assignment import Assignment

    plans: list[dict] = []
    inner = Assignment.apply_plan

    def recording(self: Any, req: Any, res: Any, *args: Any, **kw: Any) -> Any:
        # records the plan balance's verdict (solved in a solver process); changes nothing
        if res is not None and "plan_balance" in res.stats:
            plans.append(dict(res.stats["plan_balance"]))
        return inner(self, req, res, *args, **kw)

    Assignment.apply_plan = recording  # type: ignore[method-assign]
    try:
        return _day(scenario, seed, weight, plans)
    finally:
        Assignment.apply_plan = inner  # type: ignore[method-assign]


def _day(scenario: str, seed: int, weight: float | None, plans: list[dict]) -> dict:
    from fleetstream.contract.settings import EngineSettings
    from fleetstream.engine import LocalEngine
    from fleetstream.sim.loop import Simulation
    from fleetstream.sim.world import Scenario

    sc = Scenario.preset(scenario, seed)
    settings = EngineSettings() if weight is None else EngineSettings(balance_weight=weight)
    sim = Simulation(sc, LocalEngine(settings=settings))
    idle = IdleSampler(sim)
    idle.start()
    sim.run()
    k = sim.kpis()
    drive: dict[str, float] = {}
    for leg in sim.truth_legs:
        drive[leg["vehicle_id"]] = drive.get(leg["vehicle_id"], 0.0) + (
            leg["arrive_ts"] - leg["depart_ts"]) / 3600.0
    # captive drivers on a full shift (a vehicle that broke down is left out: its few
    # stops are the breakdown's, not the dispatcher's; ``captive_broken`` counts them)
    broken = [v for v in sim.world.vehicles if v.fleet_type == "captive" and v.state == "broken"]
    cap = [v for v in sim.world.vehicles if v.fleet_type == "captive" and v.state != "broken"]
    active = [v for v in cap if v.stops_done > 0]
    stops = [float(v.stops_done) for v in active]
    return {
        "scenario": scenario, "seed": seed, "weight": settings.balance_weight,
        "captive": len(cap), "captive_active": len(active), "captive_broken": len(broken),
        "stops_min": min(stops) if stops else 0, "stops_max": max(stops) if stops else 0,
        "stops_mean": round(statistics.fmean(stops), 2) if stops else 0.0,
        "stops_cv": round(_cv(stops), 4),
        "stops_cv_all": round(_cv([float(v.stops_done) for v in cap]), 4),
        "captive_zero": len(cap) - len(active),
        "idle_waiting": len(idle.drivers), "idle_waiting_samples": idle.samples,
        "drive_h_cv": round(_cv([drive.get(v.id, 0.0) for v in active]), 4),
        "drive_h_max": round(max((drive.get(v.id, 0.0) for v in active), default=0.0), 2),
        "stops_3pl": sum(v.stops_done for v in sim.world.vehicles if v.fleet_type == "3pl"),
        "stops_gig": sum(v.stops_done for v in sim.world.vehicles if v.fleet_type == "gig"),
        "km": k["km"], "on_time_rate": k["on_time_rate"], "delivered": k["delivered"],
        "cost": k["cost"], "plans": plans,
    }


FIGURES = ("stops_cv", "stops_cv_all", "captive_zero", "idle_waiting", "idle_waiting_samples",
           "drive_h_cv", "stops_3pl", "stops_gig", "km", "on_time_rate", "delivered", "cost")


def summary(rows: list[dict]) -> dict:
    out = {}
    for f in FIGURES:
        xs = [r[f] for r in rows]
        out[f] = {"mean": round(statistics.fmean(xs), 4),
                  "sd": round(statistics.stdev(xs), 4) if len(xs) > 1 else 0.0, "per_seed": xs}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="benchmarks/balance.py", description=__doc__.split("\n\n")[0])
    p.add_argument("scenario", help="scenario name (fleetstream simulate --scenario), e.g. andorra")
    p.add_argument("--seeds", default="1,2,3", help="comma-separated seeds (default 1,2,3)")
    p.add_argument("--weights", default=None,
                   help="comma-separated EngineSettings.balance_weight values, each run on every "
                        "seed in the same process (e.g. 0,8: the unbalanced plan, then the "
                        "balanced one; default: the setting's default only)")
    a = p.parse_args(argv)
    weights = [None] if a.weights is None else [float(x) for x in a.weights.split(",")]
    seeds = [int(x) for x in a.seeds.split(",")]
    rows: dict = {w: [] for w in weights}
    for s in seeds:
        for w in weights:
            t = time.perf_counter()
            r = day(a.scenario, s, w)
            rows[w].append(r)
            print(orjson.dumps(r).decode(), flush=True)
            print(f"seed {s} weight {r['weight']}: {time.perf_counter() - t:.0f} s", file=sys.stderr,
                  flush=True)
    out = {"summary": {str(rs[0]["weight"]): summary(rs) for rs in rows.values()}}
    if 0.0 in rows and len(rows) > 1:   # km against the unbalanced plan, per seed
        base = rows[0.0]
        out["km_vs_unbalanced_pct"] = {
            str(rs[0]["weight"]): [round(100.0 * (r["km"] / b["km"] - 1.0), 2)
                                   for r, b in zip(rs, base)]
            for w, rs in rows.items() if w != 0.0}
    print(orjson.dumps(out).decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
