"""Named constraints, one function each, every rejection a :class:`Reason`.

This module is the one implementation of "can this vehicle serve this order, and if
not why": the zone engine's insertion (``operators/dispatch.py``), the plan and
re-route construction (``solver``, ``local_search``, the OR-Tools and PyVRP
backends through :func:`compatible`) all ask it.  The engine's own objects
(``operators.state.Order`` / ``Vehicle``) are seen through :class:`EngineJob` and
:class:`EngineVehicle`, which present them under the routing model's names.  The
independent checker (``checker.py``) recomputes the route-level constraints with its
own code; ``tests/routing/test_constraints_shared.py`` asserts both agree.

Two kinds:

- *static* constraints decide whether a vehicle can ever serve a job, whatever the
  route (skills, vehicle type, access, fleet rules, capacity of one job, on-board);
  :func:`static_reasons` lists all that fail;
- *route* constraints (capacity over the route, time windows, shift end, maximum
  duration, break, pickup before delivery) are checked on a whole route by
  :mod:`operators.routing.checker`, with the same names.

>>> from fleetstream.operators.routing.model import Job, VehicleSpec
>>> v = VehicleSpec("bike-1", 0, 0, vehicle_type="bike", fleet_type="gig",
...                 capacity={"weight_kg": 15})
>>> j = Job("o1", 1, size={"weight_kg": 30}, skills=("hazmat",), value=900)
>>> [r.constraint for r in static_reasons(j, v)]
['skills', 'fleet_rule', 'capacity_weight_kg']
>>> static_reasons(j, v)[0].text
'driver of bike-1 lacks skill(s) hazmat'
"""

from __future__ import annotations

from dataclasses import dataclass

from fleetstream.operators.routing.model import SIZE_CLASS, Job, VehicleSpec
from fleetstream.operators.state import AT_DEPOT, ONBOARD

C_CAPACITY = "capacity"            # suffixed with the dimension: capacity_weight_kg ...
C_COUNT = "capacity_count"
C_WINDOW = "time_window"
C_SHIFT = "shift_end"
C_DURATION = "max_duration"
C_BREAK = "break"
C_SKILLS = "skills"
C_VTYPE = "vehicle_type"
C_ACCESS = "access"
C_FLEET = "fleet_type"
C_FLEET_RULE = "fleet_rule"
C_ONBOARD = "onboard"
C_DEPOT = "loaded_at_depot"
C_PAIRING = "pickup_delivery"
C_MISSING = "missing"
C_DUPLICATE = "duplicate"
C_UNKNOWN = "unknown_job"
C_UNAVAILABLE = "vehicle_unavailable"
SIZE_LIMIT = "size_limit"   # marks an order's vehicle_types narrowed by a customer's size limit
ACCESS_PREFIX = "access:"   # a driver skill naming an access credential: access:<code>
C_DRIVE = "max_drive"

ALL_CONSTRAINTS = (C_CAPACITY, C_COUNT, C_WINDOW, C_SHIFT, C_DURATION, C_BREAK, C_DRIVE, C_SKILLS,
                   C_VTYPE, C_ACCESS, C_FLEET, C_FLEET_RULE, C_ONBOARD, C_DEPOT, C_PAIRING,
                   C_UNAVAILABLE)


@dataclass(frozen=True)
class Reason:
    """One constraint that blocks a job on a vehicle, with a sentence and its numbers."""

    constraint: str
    text: str
    vehicle_id: str | None = None
    job_id: str | None = None
    amount: float | None = None

    def as_dict(self) -> dict:
        d = {"constraint": self.constraint, "text": self.text}
        if self.vehicle_id is not None:
            d["vehicle_id"] = self.vehicle_id
        if self.job_id is not None:
            d["job_id"] = self.job_id
        if self.amount is not None:
            d["amount"] = round(self.amount, 3)
        return d


def skills(j: Job, v: VehicleSpec) -> Reason | None:
    missing = [s for s in j.skills if s not in v.skills]
    if missing:
        if all(s.startswith(ACCESS_PREFIX) for s in missing):
            return Reason(C_ACCESS, f"driver of {v.id} has no access credential for "
                          f"{', '.join(s[len(ACCESS_PREFIX):] for s in missing)}", v.id, j.id)
        return Reason(C_SKILLS, f"driver of {v.id} lacks skill(s) {', '.join(missing)}", v.id, j.id)
    return None


def vehicle_type(j: Job, v: VehicleSpec) -> Reason | None:
    if j.vehicle_types and v.vehicle_type not in j.vehicle_types:
        if SIZE_LIMIT in j.vehicle_types:
            return Reason(C_ACCESS, f"a {v.vehicle_type} cannot access the customer "
                          f"(vehicle size limit: {'/'.join(t for t in j.vehicle_types if t != SIZE_LIMIT)})",
                          v.id, j.id)
        return Reason(C_VTYPE, f"{v.id} is a {v.vehicle_type}; the order needs "
                      f"{'/'.join(j.vehicle_types)}", v.id, j.id)
    return None


def access(j: Job, v: VehicleSpec) -> Reason | None:
    if j.max_vehicle_size and SIZE_CLASS.get(v.vehicle_type, 0) > SIZE_CLASS.get(j.max_vehicle_size, 99):
        return Reason(C_ACCESS, f"a {v.vehicle_type} cannot access the customer "
                      f"(largest allowed: {j.max_vehicle_size})", v.id, j.id)
    missing = [c for c in getattr(j, "access_codes", ()) if ACCESS_PREFIX + c not in v.skills]
    if missing:
        return Reason(C_ACCESS, f"driver of {v.id} has no access credential for "
                      f"{', '.join(missing)}", v.id, j.id)
    return None


def available(j: Job, v: VehicleSpec) -> Reason | None:
    if not getattr(v, "available", True):
        return Reason(C_UNAVAILABLE, f"{v.id} is out of service", v.id, j.id)
    return None


def fleet_type(j: Job, v: VehicleSpec) -> Reason | None:
    if j.fleet_types and v.fleet_type not in j.fleet_types:
        return Reason(C_FLEET, f"{v.id} is {v.fleet_type}; the order allows "
                      f"{'/'.join(j.fleet_types)}", v.id, j.id)
    return None


def fleet_rule(j: Job, v: VehicleSpec, high_value: float = 500.0,
               gig_no_age_check: bool = True) -> Reason | None:
    if v.fleet_type != "gig":
        return None
    if j.value >= high_value:
        return Reason(C_FLEET_RULE, f"no gig courier for high-value orders "
                      f"({j.value:.0f} >= {high_value:.0f})", v.id, j.id, j.value)
    if gig_no_age_check and (j.age_check or "age_check" in j.skills):
        return Reason(C_FLEET_RULE, "no gig courier for age-checked orders", v.id, j.id)
    return None


def single_capacity(j: Job, v: VehicleSpec) -> Reason | None:
    for dim, q in j.size.items():
        cap = v.capacity.get(dim)
        if cap is not None and q > cap + 1e-9:
            return Reason(f"{C_CAPACITY}_{dim}", f"{dim} {q:g} exceeds {v.id}'s capacity "
                          f"{cap:g}", v.id, j.id, q - cap)
    return None


def onboard(j: Job, v: VehicleSpec) -> Reason | None:
    if j.onboard_vehicle is not None and j.onboard_vehicle != v.id:
        return Reason(C_ONBOARD, f"the parcel is on board {j.onboard_vehicle} and stays there",
                      v.id, j.id)
    return None


def loaded_at_depot(j: Job, v: VehicleSpec) -> Reason | None:
    if j.depot_loaded and not v.at_depot:
        return Reason(C_DEPOT, f"the parcel is at the depot and {v.id} has left it", v.id, j.id)
    return None


CHECKS = (available, onboard, loaded_at_depot, skills, vehicle_type, access, fleet_type)
"""The static checks without parameters, in the order :func:`static_reasons` reports
them (then the fleet rule, then the single-job capacity)."""


def static_reasons(j: Job, v: VehicleSpec, high_value: float = 500.0,
                   gig_no_age_check: bool = True) -> list[Reason]:
    """Every static constraint that rules ``v`` out for ``j`` (empty: compatible)."""
    out = []
    for check in CHECKS:
        r = check(j, v)
        if r:
            out.append(r)
    r = fleet_rule(j, v, high_value, gig_no_age_check)
    if r:
        out.append(r)
    r = single_capacity(j, v)
    if r:
        out.append(r)
    return out


def compatible(j: Job, v: VehicleSpec, high_value: float = 500.0,
               gig_no_age_check: bool = True) -> bool:
    return not static_reasons(j, v, high_value, gig_no_age_check)


def first_reason(j: Job, v: VehicleSpec, high_value: float = 500.0,
                 gig_no_age_check: bool = True) -> str | None:
    """The name of the first static constraint that rules ``v`` out for ``j`` (the
    first of :func:`static_reasons`), or None: the insertion's fast question."""
    for check in CHECKS:
        r = check(j, v)
        if r:
            return r.constraint
    r = fleet_rule(j, v, high_value, gig_no_age_check) or single_capacity(j, v)
    return r.constraint if r else None


# ---------------------------------------------------------------- engine objects


class EngineJob:
    """An engine ``Order`` under the routing model's :class:`Job` names (read-only,
    computed once), with the customer's requirements (:class:`CustomerRequirements`)
    merged in when given."""

    __slots__ = ("id", "skills", "vehicle_types", "fleet_types", "max_vehicle_size",
                 "access_codes", "value", "age_check", "size", "depot_loaded",
                 "onboard_vehicle")

    def __init__(self, o, req: "CustomerRequirements | None" = None):
        onboard = o.status == ONBOARD
        self.id = o.id
        sk = tuple(o.skills)
        if req is not None and req.skills:
            sk = sk + tuple(s for s in req.skills if s not in sk)
        self.skills = sk
        self.vehicle_types = tuple(o.vehicle_types)
        self.fleet_types = tuple(o.fleet_types)
        self.max_vehicle_size = req.max_vehicle_size if req is not None else None
        self.access_codes = tuple(req.access_codes) if req is not None else ()
        self.value = o.value
        self.age_check = "age_check" in sk
        self.size = o.size
        self.depot_loaded = o.kind == "parcel" and not onboard
        self.onboard_vehicle = o.vehicle_id if onboard else None


class EngineVehicle:
    """An engine ``Vehicle`` under the routing model's :class:`VehicleSpec` names."""

    __slots__ = ("id", "skills", "vehicle_type", "fleet_type", "capacity", "at_depot",
                 "available")

    def __init__(self, v):
        self.id = v.id
        self.skills = v.skills
        self.vehicle_type = v.vehicle_type
        self.fleet_type = v.fleet_type
        self.capacity = v.capacity
        self.at_depot = v.status == AT_DEPOT
        self.available = v.available


@dataclass(frozen=True)
class CustomerRequirements:
    """What a customer's profile requires of every order to that customer
    (``customer_profile`` event): driver skills (e.g. ``age_check``), the largest
    vehicle type that can reach the address, access credentials the driver needs
    (driver skill ``access:<code>``), and daily access hours (seconds of the UTC day,
    ``[(start, end), ...]``; service must start inside one of them)."""

    skills: tuple[str, ...] = ()
    max_vehicle_size: str | None = None
    access_codes: tuple[str, ...] = ()
    access_hours: tuple[tuple[float, float], ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.skills or self.max_vehicle_size or self.access_codes or self.access_hours)


def access_window(window: tuple[float, float], hours: tuple[tuple[float, float], ...],
                  day_s: float = 86400.0) -> tuple[float, float] | None:
    """The order window narrowed to the customer's daily access hours: the earliest
    non-empty intersection of ``window`` (epoch seconds) with a daily interval of
    ``hours`` (seconds of the day; an interval with end < start runs past midnight),
    or None when none is open inside the window (constraint ``access``).  Without
    hours the window is unchanged.

    >>> access_window((86400 + 3600, 86400 + 7 * 3600), ((4 * 3600, 5 * 3600),))
    (100800.0, 104400.0)
    >>> access_window((3600, 7200), ((4 * 3600, 5 * 3600),)) is None
    True
    """
    if not hours:
        return window
    w0, w1 = window
    best = None
    d0 = int(w0 // day_s) - 1
    d1 = int(w1 // day_s) + 1
    for d in range(d0, d1 + 1):
        base = d * day_s
        for h0, h1 in hours:
            a = base + h0
            b = base + (h1 if h1 >= h0 else h1 + day_s)
            lo, hi = max(w0, a), min(w1, b)
            if lo <= hi and (best is None or lo < best[0]):
                best = (float(lo), float(hi))
    return best


# ---------------------------------------------------------------- hours of service


def engine_break(v, now: float):
    """The break an engine vehicle's driver still has to take, in epoch seconds (a
    :class:`~operators.routing.model.Break`), or None: no break on the shift
    (``shift_start`` without break fields), or its latest start already passed
    (taken, or missed: nothing left to plan).  The fields are those of
    ``shift_start``: ``break_s`` (a break only with it), ``break_earliest_ts``
    (default: the shift start), ``break_latest_ts`` (default: the shift end; never
    before the earliest)."""
    from fleetstream.operators.routing.model import Break
    d = getattr(v, "break_s", None)
    if d is None:
        return None
    e = v.break_earliest_ts if v.break_earliest_ts is not None else v.shift_start_ts
    latest = v.break_latest_ts if v.break_latest_ts is not None else v.shift_end_ts
    latest = max(latest, e)
    if now > latest:
        return None
    return Break(float(e), float(latest), float(d))


def engine_drive_left(v) -> float | None:
    """Driving time an engine vehicle's driver may still do this shift (seconds), or
    None without a limit (``shift_start.max_drive_s``)."""
    m = getattr(v, "max_drive_s", None)
    if m is None:
        return None
    return m - (getattr(v, "driven_s", None) or 0.0)


# ---------------------------------------------------------------- customer requirements

SKILL_REQUIREMENTS = ("age_check", "id_check", "hazmat", "heavy_lift", "two_person")
"""``customer_profile.service_requirements`` that are driver skills (the others, such
as ``call_ahead``, are instructions for the driver, not constraints)."""


def requirements_from_profile(c: dict | None) -> CustomerRequirements | None:
    """A customer's constraints from its stored profile (the ``customer_profile``
    fields ``service_requirements``, ``max_vehicle_type``, ``access_codes`` and
    ``access_hours``), or None when the profile asks nothing."""
    if not c:
        return None
    hours = []
    for h in c.get("access_hours") or ():
        a, b = h.split("-")
        hours.append((_hm(a), _hm(b)))
    req = CustomerRequirements(
        skills=tuple(r for r in (c.get("service_requirements") or ()) if r in SKILL_REQUIREMENTS),
        max_vehicle_size=c.get("max_vehicle_type"),
        access_codes=tuple(c.get("access_codes") or ()),
        access_hours=tuple(hours))
    return None if req.empty else req


def _hm(x: str) -> float:
    h, m = x.split(":")
    return int(h) * 3600.0 + int(m) * 60.0


def apply_requirements(o, req: CustomerRequirements | None) -> str | None:
    """Fold a customer's requirements into an engine order (once, when it is created):
    required skills and access credentials (skill ``access:<code>``) join its skills, a
    vehicle-size limit narrows its vehicle types (marked ``size_limit``, so a
    rejection is named ``access``), access hours narrow its delivery window.  Returns
    ``access`` when no access hour is open inside the order's window (the window is
    then left as it was and the order cannot be served: the caller reports it)."""
    if req is None:
        return None
    sk = list(o.skills)
    for s in req.skills + tuple(ACCESS_PREFIX + c for c in req.access_codes):
        if s not in sk:
            sk.append(s)
    o.skills = sk
    if req.max_vehicle_size:
        cap = SIZE_CLASS.get(req.max_vehicle_size, 99)
        fits = [t for t, k in sorted(SIZE_CLASS.items(), key=lambda kv: kv[1]) if k <= cap]
        allowed = [t for t in (o.vehicle_types or fits) if t in fits]
        o.vehicle_types = allowed + [SIZE_LIMIT]
    if req.access_hours:
        w = access_window((o.window_start, o.window_end), req.access_hours)
        if w is None:
            return C_ACCESS
        o.window_start, o.window_end = w
    return None
