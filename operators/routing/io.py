"""Instance readers: Solomon VRPTW text files and the fleetstream JSON format.

Solomon (1987) instances, as distributed with CVRPLIB: a header with the vehicle
count and capacity, then one line per node ``CUST NO. XCOORD. YCOORD. DEMAND
READY_TIME DUE_DATE SERVICE_TIME``; node 0 is the depot.  Distances and travel
times are Euclidean; ``convention="cvrplib"`` truncates them to one decimal (the
DIMACS/CVRPLIB convention of the distance-only best-known solutions),
``"exact"`` keeps doubles.

The JSON format (documented in docs/routing.md) names points by coordinates
(``[lat, lon]``, distances by haversine x circuity at a speed) or carries explicit
``time`` and ``dist`` matrices.

>>> import os
>>> path = os.path.join(SOLOMON_DIR, "instances", "C101.txt")
>>> p = read_solomon(path) if os.path.exists(path) else None
>>> (len(p.jobs), len(p.vehicles), p.vehicles[0].capacity) if p else (100, 25, {'demand': 200.0})
(100, 25, {'demand': 200.0})
"""

from __future__ import annotations

import math
import os

import orjson

from fleetstream.operators.routing.model import Break, Job, Problem, VehicleSpec

SOLOMON_DIR = os.environ.get("FLEETSTREAM_SOLOMON_DIR", os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "shared", "data", "solomon"))


def _euclid(a: tuple[float, float], b: tuple[float, float], convention: str) -> float:
    d = math.hypot(a[0] - b[0], a[1] - b[1])
    if convention == "cvrplib":
        return math.floor(d * 10) / 10.0
    return d


class InstanceError(ValueError):
    """A malformed instance file: the message names the file and, for a bad row, its
    line number (``fleetstream plan`` prints it as one line and exits 2)."""


SOLOMON_COLUMNS = "CUST NO. XCOORD. YCOORD. DEMAND READY TIME DUE DATE SERVICE TIME"


def _num(tok: str, what: str, where: str) -> float:
    try:
        x = float(tok)
    except ValueError:
        raise InstanceError(f"{where}: {what} {tok!r} is not a number") from None
    if not math.isfinite(x):
        raise InstanceError(f"{where}: {what} {tok!r} is not a finite number")
    return x


def parse_solomon(path: str) -> tuple[str, int, float, list[tuple]]:
    """(name, vehicles, capacity, rows) of a Solomon-format file; rows are (id, x, y,
    demand, ready, due, service) with the depot first.  Every customer row must have
    seven numbers and an integer id: anything else is an :class:`InstanceError` with
    its line number (a row is never dropped)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = [(i + 1, ln.split()) for i, ln in enumerate(f)]
    body = [(n, t) for n, t in lines if t]
    if not body:
        raise InstanceError(f"{path}: empty file")
    name = body[0][1][0]
    k = next((i for i, (_n, t) in enumerate(body) if t[0].upper() == "NUMBER"), None)
    if k is None or k + 1 >= len(body):
        raise InstanceError(f"{path}: not a Solomon instance (no 'NUMBER CAPACITY' vehicle section)")
    n_line, t = body[k + 1]
    where = f"{path}:{n_line}"
    if len(t) != 2 or not t[0].isdigit():
        raise InstanceError(f"{where}: expected the vehicle count and capacity, got {' '.join(t)!r}")
    n_veh, cap = int(t[0]), _num(t[1], "capacity", where)
    h = next((i for i, (_n, t) in enumerate(body) if i > k + 1 and t[0].upper().startswith("CUST")
              and len(t) > 1), None)
    if h is None:
        raise InstanceError(f"{path}: not a Solomon instance (no customer table after the vehicles)")
    rows: list[tuple] = []
    seen: dict[int, int] = {}
    for n_line, t in body[h + 1:]:
        where = f"{path}:{n_line}"
        if len(t) != 7:
            raise InstanceError(f"{where}: malformed customer row {' '.join(t)!r}: expected 7 fields "
                                f"({SOLOMON_COLUMNS}), got {len(t)}")
        if not t[0].isdigit():
            raise InstanceError(f"{where}: customer id {t[0]!r} is not a non-negative integer")
        cid = int(t[0])
        if cid in seen:
            raise InstanceError(f"{where}: customer id {cid} repeats line {seen[cid]}")
        seen[cid] = n_line
        x, y, dem, ready, due, svc = (_num(v, c, where) for v, c in zip(
            t[1:], ("x", "y", "demand", "ready time", "due date", "service time")))
        if due < ready:
            raise InstanceError(f"{where}: customer {cid}: due date {due:g} before ready time {ready:g}")
        if dem < 0 or svc < 0:
            raise InstanceError(f"{where}: customer {cid}: negative demand or service time")
        rows.append((cid, x, y, dem, ready, due, svc))
    if not rows:
        raise InstanceError(f"{path}: no depot and customer rows")
    if rows[0][0] != 0:
        raise InstanceError(f"{path}: the first row must be the depot (id 0), got id {rows[0][0]}")
    if len(rows) < 2:
        raise InstanceError(f"{path}: no customers")
    return name, n_veh, cap, rows


def read_solomon(path: str, convention: str = "cvrplib", objective: str | None = None) -> Problem:
    """A Solomon VRPTW instance.  The demand uses the ``demand`` dimension (one capacity
    per vehicle); every customer is mandatory.  Malformed files raise
    :class:`InstanceError` (with the line number of a bad row)."""
    name, n_veh, cap, rows = parse_solomon(path)
    pts = [(r[1], r[2]) for r in rows]
    n = len(pts)
    mat = [[_euclid(pts[i], pts[j], convention) for j in range(n)] for i in range(n)]
    depot = rows[0]
    horizon = float(depot[5])
    jobs = [Job(f"{r[0]}", i, window=(r[4], r[5]), service=r[6], size={"demand": r[3]})
            for i, r in enumerate(rows) if i > 0]
    vehicles = [VehicleSpec(f"{name}-v{i + 1}", 0, 0, start_time=float(depot[4]),
                            shift_end=horizon, capacity={"demand": cap}) for i in range(n_veh)]
    return Problem(time=mat, dist=mat, vehicles=vehicles, jobs=jobs, km_per_unit=1.0,
                   hours_per_unit=1.0, points=pts,
                   objective=objective or ("distance" if convention == "cvrplib" else "vehicles_distance"))


def read_gehring_homberger(path: str, convention: str = "cvrplib", objective: str | None = None) -> Problem:
    """A Gehring-Homberger VRPTW instance (200-1000 customers, e.g. ``C1_2_1``): the
    Solomon format and conventions, so the same validating reader."""
    return read_solomon(path, convention, objective)


def solomon_scale(p: Problem) -> float:
    """Integer scale for OR-Tools: CVRPLIB distances have one decimal."""
    return 10.0


def read_bks(path: str) -> dict[str, dict]:
    """Best-known solutions csv: instance -> {vehicles, distance, convention, source}."""
    out = {}
    with open(path) as f:
        head = f.readline().strip().split(",")
        for line in f:
            parts = line.rstrip("\n").split(",", len(head) - 1)
            if len(parts) < 3:
                continue
            row = dict(zip(head, parts))
            out[row["instance"]] = {"vehicles": int(row["vehicles"]), "distance": float(row["distance"]),
                                    "convention": row.get("convention", ""), "source": row.get("source", "")}
    return out


# ---------------------------------------------------------------- fleetstream JSON

def _haversine_m(a, b) -> float:
    lat1, lon1 = map(math.radians, a)
    lat2, lon2 = map(math.radians, b)
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_000.0 * math.asin(min(1.0, math.sqrt(h)))


def read_json(path: str) -> Problem:
    """A fleetstream JSON instance; malformed content raises :class:`InstanceError`."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        d = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise InstanceError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(d, dict):
        raise InstanceError(f"{path}: a JSON instance must be an object")
    try:
        return problem_from_dict(d)
    except InstanceError:
        raise
    except (KeyError, TypeError, ValueError, IndexError) as e:
        what = f"missing field {e}" if isinstance(e, KeyError) else str(e)
        raise InstanceError(f"{path}: {what}") from None


def problem_from_dict(d: dict) -> Problem:
    """Build a :class:`Problem` from the JSON instance format (see docs/routing.md)."""
    if d.get("format") != "fleetstream-routing/1":
        raise InstanceError("not a fleetstream routing instance (format must be 'fleetstream-routing/1')")
    points: list = []
    index: dict[tuple, int] = {}

    def node(x) -> int:
        if isinstance(x, int):
            return x
        key = (float(x[0]), float(x[1]))
        if key not in index:
            index[key] = len(points)
            points.append(key)
        return index[key]

    vehicles_in, jobs_in = d.get("vehicles") or [], d.get("jobs") or []
    if not vehicles_in:
        raise ValueError("instance has no vehicles")
    vs = []
    for v in vehicles_in:
        b = v.get("break")
        vs.append(VehicleSpec(
            str(v["id"]), node(v["start"]), node(v.get("end", v["start"])),
            start_time=float(v.get("start_time", 0)), shift_end=float(v.get("shift_end", math.inf)),
            max_duration=v.get("max_duration"), capacity={k: float(x) for k, x in (v.get("capacity") or {}).items()},
            skills=tuple(v.get("skills", ())), fleet_type=v.get("fleet_type", "captive"),
            vehicle_type=v.get("vehicle_type", "van"), cost_per_km=float(v.get("cost_per_km", 0)),
            cost_per_hour=float(v.get("cost_per_hour", 0)), cost_per_stop=float(v.get("cost_per_stop", 0)),
            fixed_cost=float(v.get("fixed_cost", 0)), onboard=tuple(v.get("onboard", ())),
            break_=Break(float(b["earliest"]), float(b["latest"]), float(b["duration"])) if b else None))
    js = []
    for j in jobs_in:
        w = j.get("window", [0, math.inf])
        pw = j.get("pickup_window", [0, math.inf])
        js.append(Job(
            str(j["id"]), node(j["location"]), window=(float(w[0]), float(w[1])),
            service=float(j.get("service", 0)), size={k: float(x) for k, x in (j.get("size") or {}).items()},
            skills=tuple(j.get("skills", ())), vehicle_types=tuple(j.get("vehicle_types", ())),
            fleet_types=tuple(j.get("fleet_types", ())), max_vehicle_size=j.get("max_vehicle_size"),
            value=float(j.get("value", 0)), age_check=bool(j.get("age_check", False)),
            priority=int(j.get("priority", 0)), drop_penalty=j.get("drop_penalty"),
            pickup=node(j["pickup"]) if j.get("pickup") is not None else None,
            pickup_window=(float(pw[0]), float(pw[1])), pickup_service=float(j.get("pickup_service", 0)),
            onboard_vehicle=j.get("onboard_vehicle")))
    for v in vs:
        for jid in v.onboard:
            for j in js:
                if j.id == jid:
                    j.onboard_vehicle = v.id
    if "time" in d and "dist" in d:
        T, D = d["time"], d["dist"]
        pts = None
    else:
        speed = float(d.get("speed_kmh", 25.0))
        circ = float(d.get("circuity", 1.35))
        D = [[round(_haversine_m(a, b) * circ) for b in points] for a in points]
        T = [[round(x * 3.6 / speed) for x in row] for row in D]
        pts = points
    return Problem(time=T, dist=D, vehicles=vs, jobs=js,
                   km_per_unit=float(d.get("km_per_unit", 0.001)),
                   hours_per_unit=float(d.get("hours_per_unit", 1 / 3600)),
                   lateness_cost_per_unit=float(d.get("lateness_cost_per_unit", 0)),
                   max_lateness=float(d.get("max_lateness", math.inf)),
                   fairness_cost_per_stop=float(d.get("fairness_cost_per_stop", 0)),
                   objective=d.get("objective", "cost"), high_value=float(d.get("high_value", 500)),
                   points=pts)


def read_instance(path: str, convention: str = "cvrplib") -> Problem:
    """Solomon ``.txt`` or fleetstream ``.json``, by content."""
    with open(path, "rb") as f:
        head = f.read(4096).lstrip()
    if not head:
        raise InstanceError(f"{path}: empty file")
    if head.startswith(b"{"):
        return read_json(path)
    return read_solomon(path, convention)
