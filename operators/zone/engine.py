"""Stage 2: the zone engine, all decision logic for one zone.

Plain Python, no Bytewax import: the same class runs in the Bytewax flow, in the
closed-loop simulator and in unit tests.  It consumes validated events of one
zone **in input order** (``process(event)``) and returns output records as
``(topic, record)`` pairs.  Its clock is the largest event time it has seen;
periodic work (proposal expiry, stale-vehicle checks, the zone plan,
re-optimization, assignment of pending orders) runs when that clock crosses the
next sweep time.  Nothing here reads the wall clock or an unseeded random source,
so a replay gives byte-identical output.

The engine only routes: each event type has one handler in :attr:`ZoneEngine.handlers`,
a method of one capability object over the shared :class:`ZoneState`:

========================  =====================================================
``world``                 travel times, legs, customer context (``world.py``)
``forecasting``           ETAs, intervals, risks, learning (``forecasting.py``)
``response``              re-route / redispatch / alert on risk (``response.py``)
``assignment``            insertion, zone plan, re-optimization (``assignment.py``)
``governance``            autonomy, proposals, approvals, effect (``governance.py``)
``overrides``             dispatcher's pins, locks, order changes (``overrides.py``)
``fleet``                 shifts, unavailability, pings (``fleet.py``)
``lifecycle``             order events (``orders.py``)
``emit``                  output records (``records.py``)
========================  =====================================================
"""

from __future__ import annotations

import math
import pickle
from dataclasses import dataclass, replace
from typing import Any, Callable

from fleetstream.contract.events import (Approval, Condition, CustomerProfile, CustomerReply,
                                         Event, OrderCancelled,
                                         OrderCreated, OrderDelivered, OrderFailed, OrderPickedUp,
                                         OrderPin, OrderUnpin, OrderUpdate, Ping, RouteLock,
                                         RouteUnlock, ShiftEnd, ShiftStart, StopArrived,
                                         VehicleUnavailable)
from fleetstream.contract.settings import EngineSettings, LimitsSettings
from fleetstream.operators.balance import balanced_plan
from fleetstream.operators.estimators import ModelSeats
from fleetstream.operators.jobs import SolverJobs
from fleetstream.operators.notify import CustomerMessages
from fleetstream.operators.routing.engine_adapter import RoutingConfig
from fleetstream.operators.routing.solver import Budget
from fleetstream.operators.routing.strategy import ORToolsStrategy, PyVRPStrategy
from fleetstream.operators.state import Order, Vehicle
from fleetstream.operators.traveltime import HaversineProvider, Point, TravelTimeProvider
from fleetstream.operators.zone.assignment import Assignment
from fleetstream.operators.zone.contact import ContactAhead
from fleetstream.operators.zone.fleet import Fleet
from fleetstream.operators.zone.forecasting import Forecasting, Observer
from fleetstream.operators.zone.governance import Governance
from fleetstream.operators.zone.health import CLOCK_STALLED
from fleetstream.operators.zone.orders import OrderLifecycle
from fleetstream.operators.zone.overrides import Overrides
from fleetstream.operators.zone.records import Emitter, Out
from fleetstream.operators.zone.response import Response
from fleetstream.operators.zone.retention import Retention
from fleetstream.operators.zone.state import STATE_VERSION, ZoneState
from fleetstream.operators.zone.world import World

Handler = Callable[[Any, list[Out]], None]


def routing_config(s: EngineSettings) -> RoutingConfig:
    """The routing seat's configuration from the engine settings (``routing_*``)."""
    return RoutingConfig(
        plan_budget=Budget(solution_limit=s.routing_plan_solutions, guard_s=s.routing_guard_s),
        guard_s=s.routing_guard_s,
        plan_enabled=s.routing_plan, reopt_interval_s=s.routing_reopt_interval_s,
        reopt_min_gain=s.routing_reopt_min_gain,
        redispatch_change_cost=s.routing_redispatch_change_cost,
        redispatch_candidates=s.routing_redispatch_candidates,
        lateness_cost_per_min=s.routing_lateness_cost_per_min,
        window_margin_s=s.routing_window_margin_s, km_surcharge=s.routing_km_surcharge,
        learned_pace=s.routing_learned_pace)


class _PlanBalance:
    """Zone plans with workload balance (``operators.balance.balanced_plan``): the
    unbalanced plan, then each depot vehicle capped within its peer group at the
    group's share of that plan, kept only if no later, no more left out, at most 3 %
    longer.  Every other verb is the base strategy's."""

    def plan(self, vehicles: list, orders: list, current: dict[str, list], now: float,
             tt: Callable, dist: Callable) -> Any:
        return balanced_plan(self, vehicles, orders, current, now, tt, dist)


@dataclass
class BalancedORToolsStrategy(_PlanBalance, ORToolsStrategy):
    """:class:`ORToolsStrategy` whose zone plans are balanced (``_PlanBalance``)."""


@dataclass
class BalancedPyVRPStrategy(_PlanBalance, PyVRPStrategy):
    """:class:`PyVRPStrategy` whose zone plans are balanced (``_PlanBalance``)."""


def default_strategy(s: EngineSettings) -> Any:
    """The routing strategy the settings ask for (``routing_plan_backend``); with a
    ``balance_weight`` above 0 its zone plans are balanced (``_PlanBalance``)."""
    balanced = s.balance_weight > 0
    if s.routing_plan_backend == "pyvrp":
        cfg = replace(routing_config(s), fairness_cost_per_stop=0.0,
                      plan_budget=Budget(solution_limit=s.routing_plan_solutions,
                                         iterations=s.routing_plan_iterations,
                                         guard_s=s.routing_guard_s))
        return BalancedPyVRPStrategy(cfg) if balanced else PyVRPStrategy(cfg)
    cfg = routing_config(s)
    return BalancedORToolsStrategy(cfg) if balanced else ORToolsStrategy(cfg)


class ZoneEngine:
    """Vehicles, routes, orders, models and governance of one zone."""

    def __init__(self, zone: str, settings: EngineSettings | None = None,
                 provider: TravelTimeProvider | None = None, strategy: Any = None,
                 seats: ModelSeats | None = None, state: ZoneState | None = None,
                 limits: LimitsSettings | None = None):
        self.settings = settings or EngineSettings()
        self.limits = limits or LimitsSettings()  # condition clamps, expiry, retention
        self.provider = provider or HaversineProvider(tz=self.settings.timezone)
        if strategy is None:
            strategy = default_strategy(self.settings)
        self._strategy = strategy
        self._seats = seats or ModelSeats()
        self._observer: Observer | None = None   # evaluation hook
        self.state = state if state is not None else ZoneState(zone)
        # Solver jobs (zone plans) run off the event path; pending ones are in the snapshot.
        self.jobs = SolverJobs(workers=self.settings.solver_workers)
        self._wire()

    def _wire(self) -> None:
        """Build the capability objects over the state and the event -> handler table
        (again whenever the strategy, the seats or the observer change)."""
        st, s, seats = self.state, self.settings, self._seats
        self.emit = Emitter(st, seats, CustomerMessages(s))
        self.world = World(st, s, self.provider, self.limits, self.emit, seats)
        self.governance = Governance(st, s, seats, self.world, self.emit)
        self.forecasting = Forecasting(st, s, seats, self.world, self.emit, self._observer)
        self.assignment = Assignment(st, s, self.world, self.governance, self.emit, self._strategy,
                                     self.jobs)
        self.response = Response(st, s, self.world, self.governance, self.assignment, self.emit,
                                 self._strategy)
        self.fleet = Fleet(st, s, self.world, self.forecasting, self.response, self.emit)
        self.lifecycle = OrderLifecycle(st, self.world, self.forecasting, self.governance, self.emit,
                                        self._observer)
        self.overrides = Overrides(st, s, self.world, self.governance, self.emit, self._strategy)
        self.retention = Retention(st, self.limits, seats, self.lifecycle, self.emit)
        self.contact = ContactAhead(st, s, self.world, seats, self.governance,
                                    self.lifecycle.recovery, self.emit, self.lifecycle.forget)
        self.handlers: dict[str, Handler] = {
            ShiftStart.TYPE: self.fleet.on_shift_start,
            ShiftEnd.TYPE: self.fleet.on_shift_end,
            VehicleUnavailable.TYPE: self._on_vehicle_unavailable,
            Ping.TYPE: self.fleet.on_ping,
            OrderCreated.TYPE: self.lifecycle.on_order_created,
            OrderCancelled.TYPE: self.lifecycle.on_order_cancelled,
            StopArrived.TYPE: self.lifecycle.on_stop_arrived,
            OrderPickedUp.TYPE: self.lifecycle.on_order_picked_up,
            OrderDelivered.TYPE: self.lifecycle.on_order_delivered,
            OrderFailed.TYPE: self.lifecycle.on_order_failed,
            CustomerReply.TYPE: self.contact.on_customer_reply,
            Condition.TYPE: self.world.on_condition,
            CustomerProfile.TYPE: self.world.on_customer_profile,
            Approval.TYPE: self.governance.on_approval,
            OrderPin.TYPE: self.overrides.on_order_pin,
            OrderUnpin.TYPE: self.overrides.on_order_unpin,
            RouteLock.TYPE: self.overrides.on_route_lock,
            RouteUnlock.TYPE: self.overrides.on_route_unlock,
            OrderUpdate.TYPE: self.overrides.on_order_update,
        }

    # ------------------------------------------------------------------ entry

    def process(self, ev: Event) -> list[Out]:
        """Apply one event; returns output records.  Events must come in input order."""
        st, iv = self.state, self.settings.sweep_interval_s
        out: list[Out] = []
        due = self.jobs.next_due_ts
        if due is not None and ev.ts >= due:
            self.apply_due_jobs(ev.ts, out)
        if ev.ts > st.clock:
            st.clock = ev.ts
            st.still_events = 0
            st.stall_alerted = False
        else:
            st.still_events += 1
            if st.still_events == self.limits.clock_stall_events and not st.stall_alerted:
                self._stall_alert(ev, out)
        if st.next_sweep_ts is None:
            st.next_sweep_ts = (math.floor(ev.ts / iv) + 1) * iv
        self.handlers[ev.TYPE](ev, out)
        if st.clock >= st.next_sweep_ts:
            self.sweep(st.clock, [ev.event_id], out)
            st.next_sweep_ts = (math.floor(st.clock / iv) + 1) * iv
        return out

    def _stall_alert(self, ev: Event, out: list[Out]) -> None:
        """The zone clock has not advanced over ``limits.clock_stall_events`` events
        (docs/limits.md, "Stalled clock"): most likely one event dated ahead moved it."""
        st = self.state
        st.stall_alerted = True
        st.count("clock_stalls")
        behind = st.clock - ev.ts
        self.emit.alert(out, ev.ts, CLOCK_STALLED, "warning",
                        f"Zone {st.zone} clock stalled: {st.still_events} consecutive events did "
                        f"not advance it (limits.clock_stall_events); the latest is "
                        f"{behind:.0f} s behind it, so an event dated ahead may have moved it",
                        None, [], {"events": st.still_events, "clock": st.clock,
                                   "behind_s": round(behind, 1)}, [ev.event_id])

    def apply_due_jobs(self, clock: float, out: list[Out]) -> None:
        """Apply every solver job due at or before ``clock``, each at its own due time
        (event time), in due order: before the event that reached it is handled."""
        for job in self.jobs.due(clock):
            res = self.jobs.result(job)  # waits if the solve is still running
            (self.response if job.kind == "risk" else self.assignment).apply_job(job, res, out)

    def _on_vehicle_unavailable(self, ev: Any, out: list[Out]) -> None:
        if ev.vehicle_id not in self.state.vehicles:
            return
        self.fleet.on_vehicle_unavailable(ev, out)
        # Try to re-home what can move right away rather than at the next sweep.
        self.sweep(ev.ts, [ev.event_id], out, kind="redispatch")

    def sweep(self, now: float, triggers: list[str], out: list[Out], kind: str = "assign") -> None:
        """Periodic work: expire proposals, stale vehicles, plan, re-optimize, assign
        pending orders (``kind`` of the assignment decisions: assign or redispatch)."""
        self.governance.expire_proposals(now, triggers, out)
        self.fleet.stale_alerts(now, triggers, out)
        self.assignment.maybe_plan(now, triggers, out)
        self.assignment.maybe_reoptimize(now, triggers, out)
        self.assignment.assign_pending(now, triggers, out, kind)
        self.contact.move_risky(now, triggers, out)
        self.retention.maybe_run(now, triggers, out)

    # ------------------------------------------------------------------ seats

    @property
    def strategy(self) -> Any:
        """The routing strategy (a ``RoutingStrategy``); setting it rewires the engine."""
        return self._strategy

    @strategy.setter
    def strategy(self, strategy: Any) -> None:
        self._strategy = strategy
        self._wire()

    @property
    def seats(self) -> ModelSeats:
        return self._seats

    @seats.setter
    def seats(self, seats: ModelSeats) -> None:
        self._seats = seats
        self._wire()

    @property
    def observer(self) -> Observer | None:
        return self._observer

    @observer.setter
    def observer(self, observer: Observer | None) -> None:
        self._observer = observer
        self._wire()

    # ------------------------------------------------------------------ views of the state

    @property
    def zone(self) -> str:
        return self.state.zone

    @property
    def n_out(self) -> int:
        return self.state.n_out

    @n_out.setter
    def n_out(self, n: int) -> None:  # the pipeline numbers its engine_error alerts here
        self.state.n_out = n

    @property
    def stats(self) -> dict[str, float]:
        return self.state.stats

    @property
    def vehicles(self) -> dict[str, Vehicle]:
        return self.state.vehicles

    @property
    def orders(self) -> dict[str, Order]:
        return self.state.orders

    def tt(self, a: Point, b: Point, ts: float) -> float:
        """Planning travel time under the current conditions (``TravelModel.tt``)."""
        return self.world.travel.tt(a, b, ts)

    def dist(self, a: Point, b: Point) -> float:
        return self.world.travel.dist(a, b)

    # ------------------------------------------------------------------ snapshot

    def snapshot(self) -> bytes:
        """Plain, versioned state (pickled dicts and lists only)."""
        return pickle.dumps({**self.state.dump(), "seats": self._seats.snapshot(),
                             "jobs": self.jobs.snapshot()}, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def restore(cls, blob: bytes, settings: EngineSettings | None = None,
                provider: TravelTimeProvider | None = None, strategy: Any = None,
                limits: LimitsSettings | None = None) -> "ZoneEngine":
        st = pickle.loads(blob)
        if st["state_version"] not in (3, STATE_VERSION):
            raise ValueError(f"zone state version {st['state_version']} is not {STATE_VERSION}")
        eng = cls(st["zone"], settings, provider, strategy, ModelSeats.restore(st["seats"]),
                  state=ZoneState.load(st), limits=limits)
        eng.jobs.restore(st["jobs"])
        eng.jobs.resubmit_all()  # solving again gives the same results
        return eng
