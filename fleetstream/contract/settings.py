"""Typed, validated, defaulted settings, loadable from TOML and the environment.

Precedence: defaults < TOML file (``--config``) < environment variables
``FLEETSTREAM_<SECTION>__<FIELD>`` (for example ``FLEETSTREAM_ENGINE__SWEEP_INTERVAL_S=30``)
< explicit command-line flags.

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
    """Insertion cost added per stop already on a route, to spread work across drivers
    (currency units)."""
    unassigned_retry_s: float = 300.0
    """An order that found no feasible vehicle is tried again after this long (the next
    sweep after that), not at every sweep."""
    max_insert_candidates: int = 12
    """Vehicles considered per order insertion (nearest first)."""
    autonomy_assign: str = "auto"
    autonomy_reroute: str = "auto"
    autonomy_redispatch: str = "auto"
    interval_z80: float = 1.2816
    interval_z95: float = 1.96
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

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.type == "float" and not isinstance(v, float):
                setattr(self, f.name, float(v))
        for name in ("autonomy_assign", "autonomy_reroute", "autonomy_redispatch"):
            if getattr(self, name) not in AUTONOMY_LEVELS:
                raise ValueError(f"{name} must be one of {AUTONOMY_LEVELS}")
        if not 0 < self.late_risk_on <= 1:
            raise ValueError("late_risk_on must be in (0, 1]")
        if not self.late_risk_off < self.late_risk_on:
            raise ValueError(f"late_risk_off ({self.late_risk_off}) must be below "
                             f"late_risk_on ({self.late_risk_on}) for hysteresis")
        for name in ("sweep_interval_s", "eta_refresh_s", "stale_vehicle_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0")
        for f in dataclasses.fields(self):
            if f.name.endswith("_s") and getattr(self, f.name) < 0:
                raise ValueError(f"{f.name} must be >= 0")
        for name in ("proposal_ttl_s", "plan_time_factor", "interval_z80"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0")
        if self.max_insert_candidates < 1:
            raise ValueError("max_insert_candidates must be >= 1")
        for name in ("routing_plan_solutions", "routing_redispatch_candidates"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if self.routing_reopt_interval_s <= 0:
            raise ValueError("routing_reopt_interval_s must be > 0")
        if self.routing_plan_backend not in ("ortools", "pyvrp"):
            raise ValueError("routing_plan_backend must be 'ortools' or 'pyvrp'")
        if self.routing_plan_iterations < 1:
            raise ValueError("routing_plan_iterations must be >= 1")
        if not self.routing_guard_s > 0:
            raise ValueError("routing_guard_s must be > 0")
        if self.solver_workers < -1:
            raise ValueError("solver_workers must be -1 (one per core), 0 (inline) or more")
        for name in ("routing_reopt_min_gain", "routing_redispatch_change_cost",
                     "routing_lateness_cost_per_min"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")

    def autonomy(self, kind: str) -> str:
        return getattr(self, f"autonomy_{kind}", "auto")


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
    skew_rebase_events: int = 2
    """After a quiet period longer than ``event_skew_s`` the stream itself has moved on:
    this many consecutive too-far-ahead events, from as many distinct entities and within
    ``event_skew_s`` of each other, move the watermark (the last of them is accepted,
    the earlier ones stay dead-lettered).  0: never (strict)."""
    ping_lead_s: float = 600.0
    """A vehicle's last ping more than this ahead of the lane watermark (but within the
    skew) is taken for a clock glitch: the vehicle's later pings are not dropped as
    stale because of it."""
    min_event_ts: float = 0.0
    """Earliest accepted event time ``ts`` (epoch seconds UTC)."""
    max_event_ts: float = 4_102_444_800.0
    """Event times at or after this (default 2100-01-01T00:00:00Z) are rejected."""

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


@dataclass
class KafkaSettings:
    """Kafka connection.  Extra librdkafka settings (SASL/SSL...) go in ``config``."""

    bootstrap: str = "127.0.0.1:19092"
    topic_prefix: str = ""
    """Prepended to every topic name (shadow mode publishes under another prefix)."""
    output_prefix: str = ""
    """Extra prefix for output topics only (e.g. ``shadow.``)."""
    partitions: int = 4
    replication: int = 1
    config: dict = field(default_factory=dict)
    """librdkafka properties passed through; secrets are never logged."""

    def __post_init__(self) -> None:
        if self.partitions < 1 or self.replication < 1:
            raise ValueError("kafka.partitions and kafka.replication must be >= 1")


@dataclass
class RedisSettings:
    url: str = ""
    """Empty: no Redis read model (embedded default)."""
    key_prefix: str = "fs:"
    ttl_s: int = 86400
    stream_maxlen: int = 100000

    def __post_init__(self) -> None:
        if self.ttl_s < 1 or self.stream_maxlen < 1:
            raise ValueError("redis.ttl_s and redis.stream_maxlen must be >= 1")


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
            with open(path, "rb") as f:
                raw = f.read()
            is_json = path.endswith(".json")
            try:
                data = orjson.loads(raw) if is_json else tomllib.loads(raw.decode("utf-8"))
            except (tomllib.TOMLDecodeError, orjson.JSONDecodeError, UnicodeDecodeError) as e:
                raise ValueError(f"{path}: not a valid {'JSON' if is_json else 'TOML'} "
                                 f"settings file: {e}") from None
        env = os.environ if env is None else env
        flat: dict[str, Any] = {}
        for k, v in env.items():
            if not k.startswith("FLEETSTREAM_"):
                continue
            rest = k[len("FLEETSTREAM_"):].lower()
            if "__" in rest:
                sec, _, name = rest.partition("__")
                flat[f"{sec}.{name}"] = v
            elif rest in _TOP_LEVEL:
                flat[rest] = v
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
        return cls(**{s: _build(c, data.get(s, {})) for s, c in _SECTIONS.items()},
                   workers=workers)


_TOP_LEVEL = {"workers"}


def _coerce(qual: str, t: str, v: Any) -> Any:
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
            raise ValueError(f"{qual}: expected a JSON object, got {v[:40]!r}") from None
    if t == "dict" and not isinstance(v, dict):
        raise ValueError(f"{qual}: expected an object, got {type(v).__name__}")
    return v


_SECTIONS = {"engine": EngineSettings, "kafka": KafkaSettings, "redis": RedisSettings,
             "limits": LimitsSettings}


def _build(cls: type, values: Mapping[str, Any]) -> Any:
    known = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for k, v in values.items():
        if k not in known:
            raise ValueError(f"unknown setting {cls.__name__}.{k}")
        kwargs[k] = _coerce(f"{cls.__name__}.{k}", known[k].type, v)
    return cls(**kwargs)
