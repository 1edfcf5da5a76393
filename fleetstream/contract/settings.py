"""Typed, validated, defaulted settings, loadable from TOML and the environment.

Precedence, the same for every section: defaults < TOML file (``--config``) <
environment variables ``FLEETSTREAM_<SECTION>__<FIELD>`` (for example
``FLEETSTREAM_ENGINE__SWEEP_INTERVAL_S=30``; ``FLEETSTREAM_WORKERS``) < ``--set`` and
the command's own flags.  The environment layer (:func:`read_environment`) also accepts
the two old single-underscore spellings for one release, with a one-line deprecation
warning, and names every other unknown ``FLEETSTREAM_*`` variable with the closest
known name (docs/configuration.md).

>>> s = EngineSettings(sweep_interval_s=30)
>>> s.sweep_interval_s
30.0
>>> EngineSettings(late_risk_on=0.2, late_risk_off=0.5)
Traceback (most recent call last):
...
ValueError: late_risk_off (0.5) must be below late_risk_on (0.2) for hysteresis
"""

from __future__ import annotations

import dataclasses
import math
import os

import orjson
import tomllib
from dataclasses import dataclass, field
from typing import Any, Mapping

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
    routing_learned_pace: bool = False
    """Re-route with the driver's learned pace scaling the planning travel times."""
    routing_learned_travel: bool = False
    """Plan, insert and re-route with travel times learned from the zone's finished legs
    (the ETA seat's curve of true against provider leg time, plus its learned time at a
    stop; read every 15 minutes of event time) instead of provider x
    ``plan_time_factor``; rule-based seats keep the buffer.  See docs/routing.md,
    "Learned travel times"."""
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
    """The shipped road graph of the ``map`` provider (``fleetstream/roads/data/NAME.npz``)."""
    travel_map_speed_factor: float = 1.0
    """The ``map`` provider's speeds are the map's free-flow speeds times this factor
    (below 1: slower than posted, a planning buffer for towns and parking)."""
    travel_map_junction_s: float = 0.0
    """The ``map`` provider adds this many seconds on entering a road junction."""
    # -- plan stability (operators/zone/stability.py, docs/models.md) --
    plan_frozen_s: float = 0.0
    """Frozen horizon: the stops a vehicle is planned to reach within this many seconds
    keep their order and vehicle when the engine re-sequences or redispatches (0: only
    ``plan_frozen_stops`` and the stop being served)."""
    plan_frozen_stops: int = 0
    """... and at least this many first stops of every route are frozen."""
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
            raise ValueError("travel_map must name a shipped road graph (e.g. 'andorra')")
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
    "routing_plan_iterations": ">= 1", "routing_guard_s": "> 0",
    "plan_solve_allowance_s": ">= 0", "risk_solve_allowance_s": ">= 0",
    "solver_workers": ">= -1",
    "travel_map_speed_factor": "> 0", "travel_map_junction_s": ">= 0",
    "plan_frozen_s": ">= 0", "plan_frozen_stops": ">= 0",   # plan stability
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


@dataclass
class LimitsSettings:
    """Input hygiene, applied before any decision (docs/limits.md).  A message or event
    over a limit is dead-lettered (``fs.dlq``) with a reason naming the limit."""

    max_message_bytes: int = 262_144
    """Largest accepted message (topic + key + value bytes), checked before parsing.  A
    larger one is dead-lettered; its ``raw`` keeps only the first this many bytes."""
    event_skew_s: float = 21_600.0
    """An event whose ``ts`` is more than this ahead of its input lane's watermark (the
    largest event time accepted so far on the lane) is dead-lettered and moves no clock.
    The first event of a lane sets the watermark."""
    skew_rebase_events: int = 3
    """A too-far-ahead event is held, not yet dead-lettered.  After a quiet period
    longer than ``event_skew_s`` the stream itself has moved on: consecutive
    too-far-ahead events from this many distinct entities, within ``event_skew_s`` of
    each other, move the watermark, and all the held ones are accepted in input order
    (nothing is lost).  An on-time event next, or the end of the input, makes the held
    ones dead letters.  0: never hold, dead-letter at once (strict)."""
    ping_lead_s: float = 600.0
    """A vehicle's last ping more than this ahead of the lane watermark (but within the
    skew) is taken for a clock glitch: the vehicle's later pings are not dropped as
    stale because of it."""
    min_event_ts: float = 0.0
    """Earliest accepted event time ``ts`` (epoch seconds UTC)."""
    max_event_ts: float = 4_102_444_800.0
    """Event times at or after this (default 2100-01-01T00:00:00Z) are rejected."""
    zones: Any = ""
    """Allow-list of zone ids (a list, or one string of comma-separated ids).  Set: only
    these zones exist; an event naming another zone is dead-lettered.  Empty (default):
    a zone exists once a ``shift_start`` names it (fleet configuration); before that, at
    most ``max_unconfirmed_zones`` zones named only by other events are admitted."""
    max_zones: int = 256
    """Most zones one input lane creates (a zone engine each); an event naming a further
    zone is dead-lettered."""
    max_unconfirmed_zones: int = 16
    """With no ``zones`` allow-list: most zones admitted before any ``shift_start`` names
    them (orders and customer profiles usually arrive before the first shift).  A zone
    name seen only in such events keeps its place until a ``shift_start`` confirms it."""
    condition_factor_min: float = 0.2
    """Smallest travel-time factor of one condition and of several combined; smaller ones
    are clamped up to it (the clamp is counted and alerted)."""
    condition_factor_max: float = 10.0
    """Largest travel-time factor of one condition and of several overlapping conditions
    combined (their product); larger ones are clamped down to it."""
    max_conditions: int = 512
    """Most live condition reports a zone keeps; past it the report ending first is
    dropped (counted)."""
    order_grace_s: float = 21_600.0
    """An order with no delivered/failed/cancelled event expires this long (event time)
    after its window end: an ``fs.outcomes`` record says so and it leaves the state."""
    retention_s: float = 172_800.0
    """Vehicles whose shift ended (or that were unavailable) and customers with no open
    order are forgotten this long (event time) after they were last seen, with the
    vehicle's learned residual in the ETA model."""
    clock_stall_events: int = 5_000
    """A zone whose clock has not advanced over this many consecutive events raises a
    ``clock stalled`` alert (once per stall).  An input lane whose watermark has not
    advanced over this many consecutive accepted events dated behind it does too (in the
    zone of the event that completes the count).  0: never."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.type == "float" and not isinstance(v, float):
                setattr(self, f.name, float(v))
        if self.max_message_bytes < 1024:
            raise ValueError("limits.max_message_bytes must be >= 1024")
        if not self.event_skew_s > 0:
            raise ValueError("limits.event_skew_s must be > 0")
        if not self.ping_lead_s > 0:
            raise ValueError("limits.ping_lead_s must be > 0")
        if self.skew_rebase_events < 0:
            raise ValueError("limits.skew_rebase_events must be >= 0 (0: never)")
        if not 0 <= self.min_event_ts < self.max_event_ts:
            raise ValueError("limits: need 0 <= min_event_ts < max_event_ts")
        zones = self.zones
        if isinstance(zones, str):
            zones = [z.strip() for z in zones.split(",") if z.strip()]
        if not isinstance(zones, (list, tuple)) or not all(isinstance(z, str) and z
                                                           for z in zones):
            raise ValueError("limits.zones must be a list of zone ids (or one "
                             "comma-separated string)")
        self.zones = tuple(zones)
        for name in ("max_zones", "max_conditions"):
            if getattr(self, name) < 1:
                raise ValueError(f"limits.{name} must be >= 1")
        if self.max_unconfirmed_zones < 0 or self.clock_stall_events < 0:
            raise ValueError("limits.max_unconfirmed_zones and limits.clock_stall_events "
                             "must be >= 0")
        if not 0 < self.condition_factor_min <= 1 <= self.condition_factor_max:
            raise ValueError("limits: need 0 < condition_factor_min <= 1 <= "
                             "condition_factor_max")
        if not self.order_grace_s >= 0 or not self.retention_s > 0:
            raise ValueError("limits: need order_grace_s >= 0 and retention_s > 0")


@dataclass
class KafkaSettings:
    """Kafka connection.  Extra librdkafka settings (SASL/SSL...) go in ``config``."""

    bootstrap: str = "127.0.0.1:19092"
    topic_prefix: str = ""
    """Prepended to every topic name (shadow mode publishes under another prefix)."""
    output_prefix: str = ""
    """Extra prefix for output topics only (e.g. ``shadow.``)."""
    partitions: int = 4
    """Partitions of each topic ``fleetstream topics`` creates (>= 1)."""
    replication: int = 1
    """Replication factor of each created topic (>= 1)."""
    config: dict = field(default_factory=dict)
    """librdkafka properties passed through (string, number or boolean values); secrets
    are never logged, and an error about this setting never shows its value."""

    def __post_init__(self) -> None:
        if self.partitions < 1 or self.replication < 1:
            raise ValueError("kafka.partitions and kafka.replication must be >= 1")
        for k, v in self.config.items():
            if not isinstance(k, str) or not isinstance(v, (str, int, float, bool)):
                raise ValueError("kafka.config: every librdkafka property must be a string, "
                                 "number or boolean (values are not shown: they may be "
                                 "secrets)")


@dataclass
class RedisSettings:
    """The Redis read model (docs/redis.md)."""

    url: str = ""
    """``redis://``, ``rediss://`` or ``unix://`` URL; empty: no Redis read model
    (embedded default).  May hold a password: never shown in errors or logs."""
    key_prefix: str = "fs:"
    """Prepended to every key the engine writes."""
    ttl_s: int = 86400
    """Expiry of the per-entity keys, seconds (>= 1)."""
    stream_maxlen: int = 100000
    """Approximate length cap of each Redis stream (>= 1)."""

    def __post_init__(self) -> None:
        if self.ttl_s < 1 or self.stream_maxlen < 1:
            raise ValueError("redis.ttl_s and redis.stream_maxlen must be >= 1")
        if self.url and not self.url.startswith(REDIS_SCHEMES):
            raise ValueError("redis.url must be empty or a " + ", ".join(REDIS_SCHEMES)
                             + " URL (the value is not shown: it may hold a password)")


REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


@dataclass
class Settings:
    engine: EngineSettings = field(default_factory=EngineSettings)
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    limits: LimitsSettings = field(default_factory=LimitsSettings)
    workers: int = 1

    @classmethod
    def load(cls, path: str | None = None, env: Mapping[str, str] | None = None,
             overrides: Mapping[str, Any] | None = None) -> "Settings":
        """Defaults, then the TOML file, then ``FLEETSTREAM_*`` variables, then overrides
        (``{"engine.sweep_interval_s": 30}``)."""
        data: dict[str, Any] = {}
        if path:
            if os.path.isdir(path):
                raise ValueError(f"{path}: is a directory, not a settings file")
            with open(path, "rb") as f:
                raw = f.read()
            is_json = path.endswith(".json")
            try:
                data = orjson.loads(raw) if is_json else tomllib.loads(raw.decode("utf-8"))
            except (tomllib.TOMLDecodeError, orjson.JSONDecodeError, UnicodeDecodeError) as e:
                raise ValueError(f"{path}: not a valid {'JSON' if is_json else 'TOML'} "
                                 f"settings file: {e}") from None
        env = os.environ if env is None else env
        flat, notes = read_environment(env)
        for note in notes:
            warn_once(note)
        flat.update(overrides or {})
        for dotted, v in flat.items():
            if "." in dotted:
                sec, _, name = dotted.partition(".")
                data.setdefault(sec, {})[name] = v
            else:
                data[dotted] = v
        unknown = sorted(set(data) - set(_SECTIONS) - _TOP_LEVEL)
        if unknown:
            raise ValueError(f"unknown settings section or key: {', '.join(unknown)} "
                             f"(known: {', '.join([*_SECTIONS, *sorted(_TOP_LEVEL)])})")
        workers = _coerce("workers", "int", data.get("workers", 1))
        if workers < 1:
            raise ValueError("workers must be >= 1")
        return cls(**{s: _build(s, c, data.get(s, {})) for s, c in _SECTIONS.items()},
                   workers=workers)


_TOP_LEVEL = {"workers"}

# ---------------------------------------------------------------- environment layer
# (kept by hand, not pydantic-settings: docs/configuration.md says why)

ENV_PREFIX = "FLEETSTREAM_"

DEPRECATED_ENV = {"FLEETSTREAM_KAFKA_BOOTSTRAP": "kafka.bootstrap",
                  "FLEETSTREAM_REDIS_URL": "redis.url"}
"""Old single-underscore spellings, accepted for one release (0.1.x) with a warning;
the new spelling wins when both are set."""

PROCESS_ENV = {
    "FLEETSTREAM_DEBUG": "1: show the traceback of an internal error (docs/operations.md)",
    "FLEETSTREAM_LOG_LEVEL": "default --log-level (docs/observability.md)",
    "FLEETSTREAM_LOG_FORMAT": "default --log-format (docs/observability.md)",
    "FLEETSTREAM_METRICS_PORT": "default --metrics-port (docs/observability.md)",
    "FLEETSTREAM_METRICS_HOST": "default --metrics-host (docs/observability.md)",
    "FLEETSTREAM_HEALTH_STALL_S": "default --health-stall-s (docs/observability.md)",
    "FLEETSTREAM_RUN_ID": "default --run-id (docs/observability.md)",
    "FLEETSTREAM_SOLOMON_DIR": "where `fleetstream plan` finds Solomon instances",
    "FLEETSTREAM_CHROMIUM": "headless Chromium for report and console screenshots",
    "FLEETSTREAM_CHROMEDRIVER": "chromedriver for the same",
    "FLEETSTREAM_ARTIFACTS": "where tests keep screenshots",
    "FLEETSTREAM_SKIP_SERVICES": "scripts/test.sh: do not start Kafka and Redis",
    "FLEETSTREAM_SERVICES_DIR": "scripts/services.sh: where the services live",
    "FLEETSTREAM_SERVICES_TIMEOUT": "scripts/services.sh: start-up timeout",
    "FLEETSTREAM_KAFKA_PORT": "scripts/services.sh: the broker's port",
    "FLEETSTREAM_KAFKA_CONTROLLER_PORT": "scripts/services.sh: the controller's port",
    "FLEETSTREAM_KAFKA_HEAP": "scripts/services.sh: the broker's heap",
    "FLEETSTREAM_KAFKA_VERSION": "scripts/services.sh: the Kafka version",
    "FLEETSTREAM_REDIS_PORT": "scripts/services.sh: Redis's port",
}
"""Documented process variables under the prefix that are not settings (known: no
warning)."""


def env_name(dotted: str) -> str:
    """``kafka.bootstrap`` -> ``FLEETSTREAM_KAFKA__BOOTSTRAP``; ``workers`` ->
    ``FLEETSTREAM_WORKERS``."""
    sec, dot, key = dotted.partition(".")
    return ENV_PREFIX + (f"{sec}__{key}" if dot else sec).upper()


def setting_env_names() -> dict[str, str]:
    """Every setting's environment variable -> ``section.key``."""
    out = {env_name(t): t for t in sorted(_TOP_LEVEL)}
    for sec, cls in _SECTIONS.items():
        for f in dataclasses.fields(cls):
            out[env_name(f"{sec}.{f.name}")] = f"{sec}.{f.name}"
    return out


def read_environment(env: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """The ``FLEETSTREAM_*`` variables of ``env`` as ``{"section.key": value}``, and the
    warnings to show (one line each; never a value: it may be a secret).

    ``FLEETSTREAM_<SECTION>__<KEY>`` (and ``FLEETSTREAM_WORKERS``) are settings; an
    unknown section or key there is an error later, naming it (a typo in a setting
    must not pass silently).  The old spellings of :data:`DEPRECATED_ENV` are read with
    a deprecation warning (the new spelling wins when both are set).  Any other
    variable under the prefix that is not a documented process variable
    (:data:`PROCESS_ENV`) is reported with the closest known name and ignored.
    """
    flat: dict[str, str] = {}
    notes: list[str] = []
    old: dict[str, str] = {}
    for k in sorted(env):
        if not k.startswith(ENV_PREFIX):
            continue
        v = env[k]
        rest = k[len(ENV_PREFIX):].lower()
        if "__" in rest:
            sec, _, name = rest.partition("__")
            flat[f"{sec}.{name}"] = v
        elif rest in _TOP_LEVEL:
            flat[rest] = v
        elif k in DEPRECATED_ENV:
            new = env_name(DEPRECATED_ENV[k])
            old[DEPRECATED_ENV[k]] = v
            if new not in env:
                notes.append(f"fleetstream: warning: {k} is deprecated, use {new} (the old "
                             "spelling is read until the next release; docs/configuration.md)")
            elif env[new] != v:  # both set, and they disagree: say which one counts
                notes.append(f"fleetstream: warning: {k} is deprecated and ignored: {new} is "
                             "set (docs/configuration.md)")
            # both set to the same value (a shell that evaluated the old and the new
            # `scripts/services.sh env`): nothing depends on the old one, nothing to say
        elif k not in PROCESS_ENV:
            import difflib
            known = [*setting_env_names(), *PROCESS_ENV]
            close = difflib.get_close_matches(k, known, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]}?)" if close else \
                " (settings are FLEETSTREAM_<SECTION>__<KEY>)"
            notes.append(f"fleetstream: warning: unknown environment variable {k} is "
                         f"ignored{hint}")
    for dotted, v in old.items():
        flat.setdefault(dotted, v)
    return flat, notes


_WARNED: set[str] = set()


def warn_once(note: str) -> None:
    """One line on stderr, once per process (settings are loaded more than once)."""
    if note not in _WARNED:
        _WARNED.add(note)
        import sys
        print(note, file=sys.stderr, flush=True)


SECRET_SECTIONS = ("kafka", "redis")
"""Sections whose values may hold credentials: errors name the setting, never the value."""


def _coerce(qual: str, t: str, v: Any) -> Any:
    """``v`` as type ``t`` for setting ``qual`` (``section.key``).  Errors about settings
    of :data:`SECRET_SECTIONS` never show the value (it may be a password)."""
    if qual.split(".")[0] not in SECRET_SECTIONS:
        return _coerce_value(qual, t, v)
    try:
        return _coerce_value(qual, t, v)
    except ValueError as e:
        msg = str(e).split(", got ")[0]
    # raised outside the handler: no __context__ holding the value either
    raise ValueError(msg + " (the value is not shown: it may hold secrets)")


def _coerce_value(qual: str, t: str, v: Any) -> Any:
    if t == "str":
        if not isinstance(v, str):
            raise ValueError(f"{qual}: expected a string, got {type(v).__name__}")
        return v
    if t == "bool":
        if isinstance(v, bool):
            return v
        if isinstance(v, str) and v.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
            return v.strip().lower() in ("true", "1", "yes")
        raise ValueError(f"{qual}: expected true or false, got {v!r}")
    if t in ("float", "int"):
        if isinstance(v, bool):
            raise ValueError(f"{qual}: expected a number, got {v!r}")
        try:
            n = float(v) if t == "float" else int(v)
        except (TypeError, ValueError):
            raise ValueError(f"{qual}: expected {'a number' if t == 'float' else 'an integer'}"
                             f", got {v!r}") from None
        if t == "int" and isinstance(v, float) and v != n:
            raise ValueError(f"{qual}: expected an integer, got {v!r}")
        if t == "float" and not math.isfinite(n):
            raise ValueError(f"{qual}: must be finite, got {v!r}")
        return n
    if t == "dict" and isinstance(v, str):
        try:
            v = orjson.loads(v)
        except orjson.JSONDecodeError:
            raise ValueError(f"{qual}: expected a JSON object (not valid JSON)") from None
    if t == "dict" and not isinstance(v, dict):
        raise ValueError(f"{qual}: expected an object, got {type(v).__name__}")
    return v


_SECTIONS = {"engine": EngineSettings, "kafka": KafkaSettings, "redis": RedisSettings,
             "limits": LimitsSettings}


def _build(section: str, cls: type, values: Any) -> Any:
    if not isinstance(values, Mapping):
        raise ValueError(f"[{section}] must be a table of settings, not a "
                         f"{type(values).__name__}")
    known = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for k, v in values.items():
        if k not in known:
            raise ValueError(f"unknown setting {section}.{k} (known: "
                             f"{', '.join(sorted(known))})")
        kwargs[k] = _coerce(f"{section}.{k}", known[k].type, v)
    return cls(**kwargs)
