"""The routing model: a matrix-based problem with named constraints.

A :class:`Problem` is what every entry point (``plan``, ``reroute``,
``redispatch``), the OR-Tools adapter, the pure-Python local search and the
independent checker agree on.  It is deliberately plain data:

- ``time[i][j]`` and ``dist[i][j]``: travel time and distance between node
  indices, in the problem's units (the engine uses integer seconds and metres;
  Solomon instances use their own abstract units, with time = distance);
- :class:`VehicleSpec`: one vehicle or driver (start/end node, start time, shift
  end, capacity per dimension, skills, fleet and vehicle type, costs, break, maximum
  driving time);
- :class:`Job`: one order (a delivery node, optionally a pickup node first),
  with its window, service time, size, requirements and drop penalty.

Units: times are in ``time`` units (seconds in the engine), ``km_per_unit`` and
``hours_per_unit`` convert distance and time for the costs, costs are in
currency units.

>>> p = Problem(time=[[0, 5], [5, 0]], dist=[[0, 5], [5, 0]],
...             vehicles=[VehicleSpec("v1", start=0, end=0, shift_end=100)],
...             jobs=[Job("o1", node=1, window=(0, 50), service=2)])
>>> p.n_nodes, p.job("o1").window
(2, (0, 50))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

INF = float("inf")

# Vehicle size classes for customer access restrictions (larger number = bigger vehicle).
SIZE_CLASS = {"bike": 1, "cargo_bike": 2, "car": 3, "van": 4, "truck": 5}
DIMENSIONS = ("weight_kg", "volume_l")


@dataclass(frozen=True)
class Break:
    """A driver break of ``duration`` that must *start* within [earliest, latest].

    It can be taken between stops (during the drive or while waiting), never during a
    service; a route that ends before ``earliest`` needs no break."""

    earliest: float
    latest: float
    duration: float

    def __post_init__(self) -> None:
        if self.latest < self.earliest or self.duration < 0:
            raise ValueError("break needs earliest <= latest and duration >= 0")


@dataclass
class VehicleSpec:
    """One vehicle with its driver for this problem.

    ``onboard`` lists job ids physically on the vehicle (loaded parcels, picked-up
    on-demand orders): they must be delivered by this vehicle."""

    id: str
    start: int
    end: int
    start_time: float = 0.0
    shift_end: float = INF
    max_duration: float | None = None
    max_drive: float | None = None
    """Hours of service: the most driving time (travel between stops, without service
    and waiting) the route may take; None: no limit."""
    capacity: dict[str, float] = field(default_factory=dict)
    skills: tuple[str, ...] = ()
    fleet_type: str = "captive"
    vehicle_type: str = "van"
    cost_per_km: float = 0.0
    cost_per_hour: float = 0.0
    cost_per_stop: float = 0.0
    fixed_cost: float = 0.0
    break_: Break | None = None
    onboard: tuple[str, ...] = ()
    at_depot: bool = True
    """False once the vehicle has left the depot: parcels loaded there cannot join it."""

    def __post_init__(self) -> None:
        if self.shift_end < self.start_time:
            raise ValueError(f"vehicle {self.id}: shift_end before start_time")
        self.skills = tuple(self.skills)
        self.onboard = tuple(self.onboard)


@dataclass
class Job:
    """One order: deliver at ``node`` within ``window``; with ``pickup`` set, pick it up
    there first (same vehicle, pickup before delivery).

    ``drop_penalty`` None means mandatory; otherwise the solver may leave the job out
    at that cost (currency units) and reports why."""

    id: str
    node: int
    window: tuple[float, float] = (0.0, INF)
    service: float = 0.0
    size: dict[str, float] = field(default_factory=dict)
    skills: tuple[str, ...] = ()
    vehicle_types: tuple[str, ...] = ()
    fleet_types: tuple[str, ...] = ()
    max_vehicle_size: str | None = None
    """Access restriction: the largest vehicle type that can reach the customer."""
    access_codes: tuple[str, ...] = ()
    """Access restriction: credentials the driver needs (driver skill ``access:<code>``)."""
    value: float = 0.0
    age_check: bool = False
    priority: int = 0
    drop_penalty: float | None = None
    pickup: int | None = None
    pickup_window: tuple[float, float] = (0.0, INF)
    pickup_service: float = 0.0
    depot_loaded: bool = False
    """A parcel still at the depot: only a vehicle still at the depot can take it."""
    onboard_vehicle: str | None = None
    """Set when the job is physically on a vehicle: only that vehicle may deliver it and
    its pickup (if any) is already done."""

    def __post_init__(self) -> None:
        self.skills = tuple(self.skills)
        self.vehicle_types = tuple(self.vehicle_types)
        self.fleet_types = tuple(self.fleet_types)
        self.access_codes = tuple(self.access_codes)
        if self.window[1] < self.window[0]:
            raise ValueError(f"job {self.id}: window end before start")

    @property
    def has_pickup(self) -> bool:
        return self.pickup is not None and self.onboard_vehicle is None


@dataclass
class Problem:
    """A routing instance.  See the module docstring for units."""

    time: Sequence[Sequence[float]]
    dist: Sequence[Sequence[float]]
    vehicles: list[VehicleSpec]
    jobs: list[Job]
    km_per_unit: float = 0.001
    hours_per_unit: float = 1.0 / 3600.0
    lateness_cost_per_unit: float = 0.0
    """0: time windows are hard.  > 0: a window end may be exceeded at this cost per
    time unit (soft lateness, still bounded by the vehicle's shift end)."""
    max_lateness: float = INF
    """With soft windows: the most a window end may be exceeded."""
    fairness_cost_per_stop: float = 0.0
    """Cost per stop above the fair share (ceil(stops / used vehicles)) on any route."""
    objective: str = "cost"
    """``cost`` (fleet costs), ``distance`` (total distance only, CVRPLIB convention) or
    ``vehicles_distance`` (fewest vehicles, then distance: Solomon's hierarchical
    convention)."""
    high_value: float = 500.0
    """Fleet rule: declared value from which gig couriers are not used."""
    gig_forbidden_age_check: bool = True
    """Fleet rule: gig couriers do not deliver age-checked parcels."""
    points: list[tuple[float, float]] | None = None
    """Optional coordinates per node (for output and plots only)."""
    vehicle_time: dict = field(default_factory=dict)
    """Travel-time matrices of the vehicles that do not drive at ``time`` (a bicycle
    rides at its own pace), by vehicle id, each the shape of ``time``; the other
    vehicles use ``time``.  Every solver, bound and checker reads a vehicle's times with
    :meth:`time_for`."""

    def __post_init__(self) -> None:
        n = len(self.time)
        if len(self.dist) != n or any(len(r) != n for r in self.time) or any(len(r) != n for r in self.dist):
            raise ValueError("time and dist must be square matrices of the same size")
        ids = [j.id for j in self.jobs]
        if len(set(ids)) != len(ids):
            raise ValueError("job ids must be unique")
        vids = [v.id for v in self.vehicles]
        if len(set(vids)) != len(vids):
            raise ValueError("vehicle ids must be unique")
        if self.objective not in ("cost", "distance", "vehicles_distance"):
            raise ValueError(f"unknown objective {self.objective!r}")
        for j in self.jobs:
            for node in (j.node, j.pickup):
                if node is not None and not 0 <= node < n:
                    raise ValueError(f"job {j.id}: node {node} outside the matrix")
        for vid, m in self.vehicle_time.items():
            if len(m) != n or any(len(r) != n for r in m):
                raise ValueError(f"vehicle {vid}: its time matrix must be the shape of time")
        self._jobs = {j.id: j for j in self.jobs}
        self._vehicles = {v.id: v for v in self.vehicles}

    @property
    def n_nodes(self) -> int:
        return len(self.time)

    def job(self, jid: str) -> Job:
        return self._jobs[jid]

    def time_for(self, vid: str) -> Sequence[Sequence[float]]:
        """The travel times of vehicle ``vid`` (its own matrix, else ``time``)."""
        return self.vehicle_time.get(vid, self.time)

    def vehicle(self, vid: str) -> VehicleSpec:
        return self._vehicles[vid]

    def has_job(self, jid: str) -> bool:
        return jid in self._jobs

    def has_vehicle(self, vid: str) -> bool:
        return vid in self._vehicles


PICKUP = "pickup"
DELIVERY = "delivery"
Stop = tuple[str, str]           # (job id, PICKUP | DELIVERY)
Routes = dict[str, list[Stop]]   # vehicle id -> ordered stops


def stop_node(job: Job, kind: str) -> int:
    return job.pickup if kind == PICKUP else job.node  # type: ignore[return-value]


def stop_window(job: Job, kind: str) -> tuple[float, float]:
    return job.pickup_window if kind == PICKUP else job.window


def stop_service(job: Job, kind: str) -> float:
    return job.pickup_service if kind == PICKUP else job.service


def job_stops(job: Job) -> list[Stop]:
    return [(job.id, PICKUP), (job.id, DELIVERY)] if job.has_pickup else [(job.id, DELIVERY)]
