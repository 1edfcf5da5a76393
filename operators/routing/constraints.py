"""Named constraints, one function each, every rejection a :class:`Reason`.

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

ALL_CONSTRAINTS = (C_CAPACITY, C_COUNT, C_WINDOW, C_SHIFT, C_DURATION, C_BREAK, C_SKILLS,
                   C_VTYPE, C_ACCESS, C_FLEET, C_FLEET_RULE, C_ONBOARD, C_DEPOT, C_PAIRING)


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
        return Reason(C_SKILLS, f"driver of {v.id} lacks skill(s) {', '.join(missing)}", v.id, j.id)
    return None


def vehicle_type(j: Job, v: VehicleSpec) -> Reason | None:
    if j.vehicle_types and v.vehicle_type not in j.vehicle_types:
        return Reason(C_VTYPE, f"{v.id} is a {v.vehicle_type}; the order needs "
                      f"{'/'.join(j.vehicle_types)}", v.id, j.id)
    return None


def access(j: Job, v: VehicleSpec) -> Reason | None:
    if j.max_vehicle_size and SIZE_CLASS.get(v.vehicle_type, 0) > SIZE_CLASS.get(j.max_vehicle_size, 99):
        return Reason(C_ACCESS, f"a {v.vehicle_type} cannot access the customer "
                      f"(largest allowed: {j.max_vehicle_size})", v.id, j.id)
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


def static_reasons(j: Job, v: VehicleSpec, high_value: float = 500.0,
                   gig_no_age_check: bool = True) -> list[Reason]:
    """Every static constraint that rules ``v`` out for ``j`` (empty: compatible)."""
    out = []
    for check in (onboard, loaded_at_depot, skills, vehicle_type, access, fleet_type):
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
