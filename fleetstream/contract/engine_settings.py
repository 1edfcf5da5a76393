"""The ``[engine]`` settings: the decision behaviour of the zone engine
(:class:`EngineSettings`), the valid range of each numeric one (:data:`ENGINE_RANGES`)
and their checks.

Split out of :mod:`fleetstream.contract.settings`, which re-exports every name here
and loads the sections (TOML, environment, ``--set``).  Each key, its default and its
range are documented in docs/configuration.md.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

AUTONOMY_LEVELS = ("auto", "propose", "off")


@dataclass
class EngineSettings:
    """Decision behaviour of the zone engine.  All times are event-time seconds."""

    sweep_interval_s: float = 60.0
    """Assign pending orders and expire proposals every this many seconds."""
    eta_refresh_s: float = 60.0
    """Recompute a vehicle's stop ETAs at most this often while it drives."""
    eta_publish_delta_s: float = 120.0
    """Publish an order's ETA when it moved by more than this since the last one."""
    eta_publish_min_period_s: float = 300.0
    """... and at most once per this period per order."""
    notify_eta_shift_s: float = 900.0
    """Tell the customer when the ETA moved this much since they were last told."""
    notify_min_period_s: float = 3600.0
    """... and at most once per this period per order (customers hate message storms)."""
    late_risk_on: float = 0.6
    """Late-risk probability that raises the trigger."""
    late_risk_off: float = 0.3
    """Probability below which a raised trigger clears (hysteresis)."""
    failure_risk_on: float = 0.5
    """Failure-risk probability that raises a failure-risk alert."""
    failure_attempt_cost: float = 0.0
    """Cost (currency) of a failed delivery attempt (a wasted stop and a redelivery).
    Above 0, a delivery with a failure-risk alert is moved once, on its own route, to
    the feasible place where its predicted failure risk times this cost plus the added
    route cost is lowest (docs/governance.md, "Contact ahead"); 0: off."""
    plan_stated_hours_s: float = 0.0
    """Above 0: a delivery whose window reaches outside the hours its customer says
    someone is there (``customer_profile.available_hours``, local time of
    ``engine.timezone``) is planned in the longest stretch of its window inside them,
    when that stretch is at least this long (seconds); the engine's window for the
    order becomes that stretch (plans, late risk and messages use it).  0: off (no
    policy uses it: 3600 cost about 4 on-time points on andorra; docs/governance.md,
    "Contact ahead")."""
    hold_unavailable: bool = True
    """A ``customer_reply`` ``unavailable`` with no hours (nobody can receive the delivery
    before its window closes) takes the delivery off its route: no driver is sent to a
    door the customer says nobody will open; the order ends ``not_served`` (reason
    ``customer_unavailable``) and the customer is told a new delivery will be arranged
    (docs/governance.md, "Contact ahead").  False: the attempt is made as planned."""
    trigger_cooldown_s: float = 900.0
    """At most one re-route/redispatch trigger per vehicle in this period."""
    stale_vehicle_s: float = 300.0
    """An active vehicle silent this long is reported stale."""
    proposal_ttl_s: float = 900.0
    """A proposal not answered in this time expires."""
    redispatch_min_gain_s: float = 300.0
    """Redispatch only when it saves at least this much lateness (seconds)."""
    plan_settle_s: float = 120.0
    """Parcels wait for the wave of shift starts to settle: they are planned only when no
    vehicle started its shift in the last this many seconds."""
    plan_time_factor: float = 1.2
    """Planning inflates provider travel times by this factor (a buffer for congestion the
    provider does not know); ETAs use the learned model instead."""
    balance_cost_per_stop: float = 1.5
    """Deprecated, no longer read: replaced by ``balance_weight`` (kept so existing
    configuration files still load)."""
    # -- workload balance (docs/routing.md, "Workload balance") --
    balance_weight: float = 30.0
    """Weight of the workload-balance objective (operators/balance.py): the extra cost,
    in currency units, of one more order for a driver whose load (orders and working
    time) is twice the mean of its peers (same zone, fleet type and shift); a driver
    below the mean gets a bonus.  0: plain cheapest insertion."""
    # -- end workload balance --
    unassigned_retry_s: float = 300.0
    """An order that found no feasible vehicle is tried again after this long (the next
    sweep after that), not at every sweep."""
    max_insert_candidates: int = 12
    """Vehicles considered per order insertion (nearest first)."""
    proposal_fallback: str = "apply"
    """What happens to a proposal nobody answered within ``proposal_ttl_s`` (an alert is
    raised either way): ``apply`` applies it if the parts of the routes it touched are
    unchanged (else it expires and the orders are planned again), ``keep`` keeps it open
    for an answer (docs/governance.md)."""
    rejection_hold_s: float = 1800.0
    """A rejected proposal (or an ``off`` decision) is not decided again for the same
    orders until this long has passed, unless the situation changed materially
    (docs/governance.md, "Material change")."""
    timezone: str = "UTC"
    """IANA time zone of the zone's customers (e.g. Europe/Berlin): customer messages
    show local clock times."""
    notify_quiet_hours: str = ""
    """Local hours without customer updates, ``HH:MM-HH:MM`` (e.g. 21:00-08:00; empty:
    none).  An update due in them is sent when they end if still true."""
    notify_customer_max_per_day: int = 3
    """Messages per customer per local day at most; one is kept for a possible
    'will not be served' message of each of the customer's open orders, which is always
    sent (updates take at most this minus the open orders; docs/notifications.md)."""
    notify_customer_interval_s: float = 3600.0
    """At most one update per customer in this period, unless the promised time moved
    by more than ``notify_window_change_s``."""
    notify_window_change_s: float = 1800.0
    """A change of the promised arrival this large is told even within
    ``notify_customer_interval_s``."""
    autonomy_assign: str = "auto"
    """Order assignment: ``auto`` applies, ``propose`` waits for an approval on
    ``fs.approvals``, ``off`` only alerts."""
    autonomy_reroute: str = "auto"
    """Re-sequencing a route (late-risk response and periodic re-optimization); same levels."""
    autonomy_redispatch: str = "auto"
    """Moving orders to another vehicle (late risk, breakdowns); same levels."""
    interval_z80: float = 1.2816
    """z-score of the 80 % ETA interval of the baseline (unlearned) seat (> 0)."""
    interval_z95: float = 1.96
    """z-score of the 95 % interval; must be above ``interval_z80``."""
    routing_plan: bool = True
    """Plan each zone with OR-Tools at the first sweep after the shift starts settle
    (false: parcels are inserted one by one)."""
    routing_plan_solutions: int = 300
    """Search budget of the zone plan, in OR-Tools solutions (not seconds: replays
    must give the same plan on any machine)."""
    routing_reopt_interval_s: float = 1800.0
    """Re-optimize every active route this often (needs autonomy_reroute on)."""
    routing_reopt_min_gain: float = 2.0
    """A re-sequence is decided only if it saves at least this much (currency units)."""
    routing_redispatch_change_cost: float = 4.0
    """A redispatch must save more than this (currency units): plan stability."""
    routing_redispatch_candidates: int = 8
    """Vehicles (nearest compatible, any fleet type) costed per redispatch."""
    routing_lateness_cost_per_min: float = 2.0
    """Soft cost of a minute past a window end when re-routing (currency units)."""
    routing_km_surcharge: float = 0.0
    """Currency per km added to every vehicle's own cost per km in zone plans, re-routes,
    periodic re-optimization and redispatch: a search then buys a km only for a larger
    saving of time or lateness (the cheapest insertion of a new order keeps the
    vehicle's own price).  0 (the default): each vehicle's own price.  The
    ``predictive`` policy uses 2.0 (docs/routing-policies.md, "The km price")."""
    access_knowledge_price: float = 0.0
    """Currency the routing pays for giving a hard-access delivery (access instructions
    in the customer's profile, or an access failure there) to a driver who has not
    delivered at that door while one who has could take it: the cheapest insertion of
    a new order adds it to the other candidates' cost, and the zone plan moves such a
    delivery to a knowing driver when that costs less (operators/knowledge.py;
    docs/routing.md, "Drivers who know the door").  0 (the default): off."""
    routing_window_margin_s: float = 0.0
    """Plan to arrive this long before each window end: zone plans, re-routes, periodic
    re-optimization and redispatch cost lateness from the window end minus this margin
    (never before the window start), so a route keeps slack against travel times that
    run longer than planned.  0 (the default): the window end itself.  The
    ``predictive`` policy uses 600 (docs/routing-policies.md, "The window margin")."""
    routing_learned_pace: bool = False
    """Re-route with the driver's learned pace scaling the planning travel times."""
    routing_learned_travel: bool = False
    """Plan, insert and re-route with travel times learned from the zone's finished legs
    (the ETA seat's curve of true against provider leg time, plus its learned time at a
    stop; read every 15 minutes of event time) instead of provider x
    ``plan_time_factor``; rule-based seats keep the buffer.  See docs/routing.md,
    "Learned travel times"."""
    routing_rider_pace: bool = True
    """Plan, insert and re-route a rider (a bike or cargo bike: ``RIDER_KMH``) at the
    rider's pace when it is slower than the provider's car time: the pace the ETA seat
    learns per vehicle type from the zone's legs (rule-based seats: the prior speeds,
    15 / 12 km/h), read every 15 minutes of event time.  Off: a rider's leg is a car's,
    as before 2026-12-01 (docs/routing.md, "Riders")."""
    routing_plan_backend: str = "ortools"
    """Zone plans by ``ortools`` (default) or ``pyvrp`` (PyVRP where it expresses the
    zone's problem exactly, without the fairness term; OR-Tools otherwise; bounded by
    ``routing_plan_iterations``).  See docs/routing.md, "Backends"."""
    routing_plan_iterations: int = 3000
    """PyVRP zone plans: iterations of its search (a count, never seconds)."""
    routing_guard_s: float = 900.0
    """Wall-clock safety guard of one solve (seconds).  It only stops a runaway search:
    results are bounded by solution and iteration counts, never by time.  A solve that
    hits the guard is reported (counter, log line and ``guard_hit`` on the decision),
    because its result then depends on machine speed."""
    plan_solve_allowance_s: float = 120.0
    """Event time between a zone plan's request and its application.  The plan is solved
    off the event path (a solver job) on the state at the request; its result is applied
    when the zone's event clock reaches request time + this allowance, on any machine
    and worker count.  A replay waits for a result that is not ready by then; live mode
    waits too and reports the wait."""
    risk_solve_allowance_s: float = 0.0
    """Event time between a late-risk trigger and its re-route / redispatch decision when
    the search runs as a solver job off the event path (0: decided inline, at the
    trigger).  The decision is taken at trigger + allowance on the state then, for the
    orders still on the route and still at risk (docs/architecture.md, solver jobs)."""
    solver_workers: int = -1
    """Processes that solve solver jobs (zone plans) off the event path: -1 = one per
    CPU core, 0 = solve inline in the zone (same decisions, no parallelism)."""
    travel_provider: str = "haversine"
    """Travel times of the engine (ETAs, insertion, plans): ``haversine`` (straight
    distance x circuity over an hourly speed profile; works anywhere) or ``map``
    (shortest paths on the shipped road graph ``travel_map``, free-flow speeds;
    haversine for points off the map).  See docs/roads.md."""
    travel_map: str = "andorra"
    """The road graph of the ``map`` provider: a shipped name
    (``fleetstream/roads/data/NAME.npz``) or the path of a ``.npz`` written by
    scripts/osm_to_graph.py from your own OpenStreetMap extract (docs/roads.md)."""
    travel_map_speed_factor: float = 1.0
    """The ``map`` provider's speeds are the map's free-flow speeds times this factor
    (below 1: slower than posted, a planning buffer for towns and parking)."""
    travel_map_junction_s: float = 0.0
    """The ``map`` provider adds this many seconds on entering a road junction."""
    # -- plan stability (operators/zone/stability.py, docs/models.md) --
    plan_frozen_s: float = 1800.0
    """Frozen horizon: the stops a vehicle is planned to reach within this many seconds
    keep their order and vehicle when the engine re-sequences (periodic
    re-optimization) and no new order's or retried delivery's stop goes in front of
    them (0: only ``plan_frozen_stops`` and the stop being served).  A customer's ETA
    for the next half hour then holds unless an exception is predicted."""
    plan_frozen_stops: int = 1
    """... and at least this many first stops of every route are frozen."""
    plan_frozen_exceptions: str = "at_risk"
    """How the frozen head binds the exception responses (the late-risk re-route and
    redispatch, the failure-risk move of a risky delivery): ``at_risk`` (the stops at
    risk may go into the head, whose other stops keep their order in a late-risk
    re-route; a redispatched order goes after its new vehicle's head unless it is late
    there and on time before it; risky moves may insert into it), ``free`` (a predicted
    exception may re-sequence the head) or ``bound`` (exceptions respect the head as
    the plan does).  docs/models-intervals.md, "The frozen horizon is the default"."""
    promise_delay_price: float = 0.0
    """Promise keeping: the price (currency per hour) of each hour by which a stop already
    on a route, with its ETA published, arrives later because of a new decision.  The
    cheapest insertion of new orders adds it for the stops after the new one, and the
    periodic re-optimization re-sequences a route only when its cost gain exceeds
    ``routing_reopt_min_gain`` plus it for the stops the new sequence delays (0: off;
    docs/models-intervals.md "Promise keeping")."""
    # -- end plan stability --

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.type == "float" and not isinstance(v, float):
                setattr(self, f.name, float(v))
        for name in ("autonomy_assign", "autonomy_reroute", "autonomy_redispatch"):
            if getattr(self, name) not in AUTONOMY_LEVELS:
                raise ValueError(f"{name} must be one of {AUTONOMY_LEVELS}")
        if self.travel_provider not in TRAVEL_PROVIDERS:
            raise ValueError(f"travel_provider must be one of {TRAVEL_PROVIDERS}, "
                             f"got {self.travel_provider!r}")
        if not isinstance(self.travel_map, str) or not self.travel_map.strip():
            raise ValueError("travel_map must name a shipped road graph (e.g. 'andorra') or "
                             "the path of a .npz written by scripts/osm_to_graph.py")
        if self.plan_frozen_exceptions not in FROZEN_EXCEPTIONS:
            raise ValueError(f"plan_frozen_exceptions must be one of {FROZEN_EXCEPTIONS}, "
                             f"got {self.plan_frozen_exceptions!r}")
        if self.proposal_fallback not in ("apply", "keep"):
            raise ValueError("proposal_fallback must be 'apply' or 'keep'")
        _check_timezone(self.timezone)
        _check_quiet_hours(self.notify_quiet_hours)
        if self.routing_plan_backend not in ("ortools", "pyvrp"):
            raise ValueError("routing_plan_backend must be 'ortools' or 'pyvrp'")
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.type in ("float", "int") and not _in_range(v, ENGINE_RANGES[f.name]):
                raise ValueError(f"{f.name} must be {ENGINE_RANGES[f.name]}, got {v!r}")
        if not self.late_risk_off < self.late_risk_on:
            raise ValueError(f"late_risk_off ({self.late_risk_off}) must be below "
                             f"late_risk_on ({self.late_risk_on}) for hysteresis")
        if not self.interval_z95 > self.interval_z80:
            raise ValueError(f"interval_z95 ({self.interval_z95}) must be above "
                             f"interval_z80 ({self.interval_z80}): the 95 % interval "
                             "contains the 80 % one")

    def autonomy(self, kind: str) -> str:
        return getattr(self, f"autonomy_{kind}", "auto")


TRAVEL_PROVIDERS = ("haversine", "map")
FROZEN_EXCEPTIONS = ("at_risk", "free", "bound")   # plan_frozen_exceptions

ENGINE_RANGES: dict[str, str] = {
    # The valid range of every numeric [engine] setting (docs/configuration.md shows the
    # same).  Floats must also be finite.  "(0, 1]" is a probability threshold.
    "sweep_interval_s": "> 0", "eta_refresh_s": "> 0", "eta_publish_delta_s": ">= 0",
    "eta_publish_min_period_s": ">= 0", "notify_eta_shift_s": ">= 0",
    "notify_min_period_s": ">= 0", "late_risk_on": "in (0, 1]", "late_risk_off": "in [0, 1)",
    "failure_risk_on": "in (0, 1]", "failure_attempt_cost": ">= 0", "plan_stated_hours_s": ">= 0", "trigger_cooldown_s": ">= 0", "stale_vehicle_s": "> 0",
    "proposal_ttl_s": "> 0", "rejection_hold_s": ">= 0", "notify_customer_max_per_day": ">= 1",
    "notify_customer_interval_s": ">= 0", "notify_window_change_s": ">= 0", "redispatch_min_gain_s": ">= 0", "plan_settle_s": ">= 0",
    "plan_time_factor": "> 0", "balance_cost_per_stop": ">= 0", "balance_weight": ">= 0", "unassigned_retry_s": ">= 0",
    "max_insert_candidates": ">= 1", "interval_z80": "> 0", "interval_z95": "> 0",
    "routing_plan_solutions": ">= 1", "routing_reopt_interval_s": "> 0",
    "routing_reopt_min_gain": ">= 0", "routing_redispatch_change_cost": ">= 0",
    "routing_redispatch_candidates": ">= 1", "routing_lateness_cost_per_min": ">= 0",
    "routing_window_margin_s": ">= 0", "routing_km_surcharge": ">= 0", "access_knowledge_price": ">= 0",
    "routing_plan_iterations": ">= 1", "routing_guard_s": "> 0",
    "plan_solve_allowance_s": ">= 0", "risk_solve_allowance_s": ">= 0",
    "solver_workers": ">= -1",
    "travel_map_speed_factor": "> 0", "travel_map_junction_s": ">= 0",
    "plan_frozen_s": ">= 0", "plan_frozen_stops": ">= 0",   # plan stability
    "promise_delay_price": ">= 0",
}


def _check_timezone(name: str) -> None:
    """``name`` is an IANA time zone this machine knows (zoneinfo)."""
    import zoneinfo
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"timezone must be an IANA time zone name such as Europe/Berlin, "
                         f"got {name!r}") from None


def _check_quiet_hours(spec: str) -> None:
    """``spec`` is empty or ``HH:MM-HH:MM`` (docs/notifications.md)."""
    if spec == "":
        return
    parts = spec.split("-")
    ok = len(parts) == 2
    for p in parts if ok else ():
        hm = p.strip().split(":")
        ok = ok and len(hm) == 2 and all(x.isdigit() for x in hm) \
            and int(hm[0]) < 24 and int(hm[1]) < 60
    if not ok:
        raise ValueError(f"notify_quiet_hours must be empty or HH:MM-HH:MM (e.g. 21:00-08:00), "
                         f"got {spec!r}")


def _in_range(v: Any, rng: str) -> bool:
    """``v`` (a number) within ``rng`` ("> 0", ">= 1", "in (0, 1]", ...); NaN never is."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return False
    if rng.startswith("in "):
        lo_b, lo, hi, hi_b = rng[3], float(rng[4:].split(",")[0]), \
            float(rng.split(",")[1].strip()[:-1]), rng[-1]
        return (v >= lo if lo_b == "[" else v > lo) and (v <= hi if hi_b == "]" else v < hi)
    op, bound = rng.split()
    return v > float(bound) if op == ">" else v >= float(bound)

