"""The ETA seat on a file of trips: how it does on travel times it was never built on.

``fleetstream models trips FILE`` (docs/models-eta.md, "Your own trips") streams a table
of trips (taxi rides, a courier fleet's legs from another system: anything with a start
time, two points and a duration) through the engine's own ETA seat and travel-time
provider, in event time, as the engine would meet them (times in ISO 8601, epoch seconds or
a ``time_format``; the two points from their columns or a ``polyline``'s ends):

- at each trip's **start** the seat predicts its duration (``RiverEta.predict_ratio`` x
  the provider's time, or the zero-length leg's estimate when the provider says 0 s),
  knowing only the trips that **ended** at or before its start (progressive validation:
  no trip is scored by a seat that has learned it or anything that ended after it began);
- at each trip's **end** the seat learns it, exactly as the engine learns a driven leg
  (``operators/zone/forecasting.py``: legs the provider times under 30 s are not
  learned, zero-length legs teach the zero-leg time, the vehicle's pace follows its
  ratios when the file names vehicles).

It reports the seat's and the provider's mean absolute error in seconds, the reduction
(the issue's target: 35 %), the ten leg-length deciles with the paired difference and
its standard error (``fleetstream.report.scorecard.length_deciles``: a decile worse
than the provider, and whether beyond two standard errors), the error per local hour
and what the seat's guard answered.  Rows that cannot be a trip (a missing or
non-numeric field, a coordinate off the globe, a duration not above 0 or over
``max_duration_s``) are not used and are counted by reason; ``rejects`` keeps each
with its line number, reason and text.  The file is streamed: rows out of start order
by up to ``reorder_s`` give the sorted file's report (:func:`score_stream`).  No clock,
no randomness: the same file gives the same report.
"""

from __future__ import annotations

import csv
import gzip
import heapq
import io
import math
import statistics
import sys
from array import array
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterator

import orjson

FIELDS = ("start_ts", "start_lat", "start_lon", "end_lat", "end_lon")
"""Required columns (after ``columns`` renames); plus ``duration_s`` or ``end_ts``."""
OPTIONAL = ("duration_s", "end_ts", "vehicle_id", "vehicle_type", "fleet_type", "zone",
            "polyline")
POINTS = FIELDS[1:]   # the two points: a polyline may stand in for them
DEFAULT_ZONE = "trips"
MAX_DURATION_S = 6 * 3600.0
PROGRESS_EVERY = 100_000


class TripsError(ValueError):
    """A file or option that cannot be read at all (one line, exit 2)."""


@dataclass(slots=True)
class Trip:
    line: int
    start: float
    end: float
    a: tuple
    b: tuple
    vehicle_id: str | None
    vehicle_type: str
    fleet_type: str
    zone: str


@dataclass
class Rejects:
    """Rows not used, by reason; the first ``keep`` of them with their text, and every
    one handed to ``sink`` (``{"line", "reason", "raw"}``) as it is read."""

    counts: dict = field(default_factory=dict)
    rows: list = field(default_factory=list)
    keep: int = 0
    sink: Any = None

    def add(self, line: int, reason: str, raw: str) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + 1
        row = {"line": line, "reason": reason, "raw": raw}
        if len(self.rows) < self.keep:
            self.rows.append(row)
        if self.sink is not None:
            self.sink(row)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def parse_columns(spec: str | None) -> dict:
    """``start_ts=pickup_datetime,end_ts=dropoff_datetime`` -> {file column: field}."""
    out: dict[str, str] = {}
    for part in (spec or "").split(","):
        if not part.strip():
            continue
        k, sep, v = part.partition("=")
        k, v = k.strip(), v.strip()
        if not sep or not k or not v:
            raise TripsError(f"--columns: {part.strip()!r} is not FIELD=COLUMN")
        if k not in FIELDS + OPTIONAL:
            raise TripsError(f"--columns: unknown field {k!r} (fields: "
                             f"{', '.join(FIELDS + OPTIONAL)})")
        out[v] = k
    return out


def _open_binary(path: str):
    if path == "-":
        return sys.stdin.buffer
    raw = open(path, "rb")  # noqa: SIM115 - closed by the caller
    return gzip.GzipFile(fileobj=raw) if path.endswith(".gz") else raw


def _rows(path: str, renames: dict,
          polyline_step_s: float | None = None) -> Iterator[tuple[int, dict | None, str]]:
    """(line number, row with canonical keys or None when unreadable, raw text).  Bytes
    that are not UTF-8 never stop the reading: a JSON line with them is unreadable, a
    CSV row carries U+FFFD where they were (and then fails on the field they hit)."""
    jsonl = ".jsonl" in path or ".ndjson" in path
    b = _open_binary(path)
    f = None if jsonl else io.TextIOWrapper(b, encoding="utf-8", errors="replace", newline="")
    try:
        if jsonl:
            for i, line in enumerate(b, 1):
                if not line.strip():
                    continue
                text = line.rstrip(b"\r\n").decode("utf-8", "replace")
                try:
                    d = orjson.loads(line)
                except orjson.JSONDecodeError:
                    yield i, None, text
                    continue
                if not isinstance(d, dict):
                    yield i, None, text
                    continue
                yield i, {renames.get(k, k): v for k, v in d.items()}, text
            return
        reader = csv.reader(f)
        try:
            header = next(reader)
        except StopIteration:
            raise TripsError(f"{path}: empty file (a CSV header line is needed)") from None
        except (csv.Error, UnicodeDecodeError) as e:
            raise TripsError(f"{path}: not a readable CSV file ({e})") from None
        keys = [renames.get(h.strip(), h.strip()) for h in header]
        have = set(keys)
        poly = "polyline" in have   # its first and last points, and its length in time
        missing = [k for k in FIELDS if k not in have and not (poly and k in POINTS)]
        if not ({"duration_s", "end_ts"} & have) and not (poly and polyline_step_s):
            missing.append("duration_s or end_ts" + (" (or --polyline-step-s)" if poly else ""))
        if missing:
            raise TripsError(f"{path}: no column for {', '.join(missing)} (columns: "
                             f"{', '.join(h.strip() for h in header[:12])}; map yours "
                             "with --columns FIELD=COLUMN)")
        line = 1
        while True:
            try:
                rec = next(reader)
            except StopIteration:
                return
            except (csv.Error, UnicodeDecodeError) as e:
                line += 1
                yield line, None, f"(unreadable: {e})"
                continue
            line = reader.line_num
            if not rec or not any(c.strip() for c in rec):
                continue
            raw = ",".join(rec)
            if len(rec) != len(keys):
                yield line, None, raw
                continue
            yield line, dict(zip(keys, rec)), raw
    finally:
        if f is not None:
            f.detach()
        if b is not getattr(sys.stdin, "buffer", None):
            b.close()


def parse_time(v: Any, tz: str, fmt: str | None = None) -> float:
    """Epoch seconds from a number, or from a time written as ``fmt`` (``strptime``
    directives, e.g. ``%m/%d/%Y %I:%M:%S %p``), or without ``fmt`` in ISO 8601; a time
    without a UTC offset is the local time of ``tz`` (trip files often keep local
    times)."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        t = float(v)
    else:
        s = str(v).strip()
        try:
            t = float(s)
        except ValueError:
            try:
                d = (datetime.strptime(s, fmt) if fmt else
                     datetime.fromisoformat(s.replace("Z", "+00:00").replace("z", "+00:00")))
            except ValueError:
                raise ValueError("unreadable time") from None
            if d.tzinfo is None:
                from fleetstream.operators.localtime import zone_info
                d = d.replace(tzinfo=zone_info(tz))
            t = d.timestamp()
    if not math.isfinite(t) or not 0 <= t < 4102444800.0:
        raise ValueError("time out of range")
    return t


def check_options(time_format: str | None = None, polyline_step_s: float | None = None) -> None:
    """Options that cannot read a file, refused before any row (:class:`TripsError`): a
    ``--time-format`` that does not read a date (``strptime`` directives for at least
    the day), a ``--polyline-step-s`` that is not a number of seconds above 0."""
    if time_format is not None:
        probe = datetime(2026, 3, 4, 17, 5, 6, tzinfo=timezone.utc)
        try:
            back = datetime.strptime(probe.strftime(time_format), time_format)
        except ValueError as e:
            raise TripsError(f"--time-format {time_format!r}: {e}") from None
        if back.date() == datetime(1900, 1, 1).date():   # no directive of the date
            raise TripsError(f"--time-format {time_format!r}: needs the date (strptime "
                             "directives such as %Y-%m-%d or %m/%d/%Y)")
    if polyline_step_s is not None and not (math.isfinite(polyline_step_s)
                                            and polyline_step_s > 0):
        raise TripsError(f"--polyline-step-s must be a number of seconds above 0, "
                         f"not {polyline_step_s}")


def _num(v: Any) -> float:
    if isinstance(v, bool):
        raise ValueError("not a number")
    f = float(v)
    if not math.isfinite(f):
        raise ValueError("not finite")
    return f


def _polyline(v: Any) -> list:
    """The points of a polyline field: a JSON list (or its text) of ``[lon, lat]`` pairs
    (GeoJSON order, as Porto's taxi trips write them); raises ValueError."""
    try:
        pts = orjson.loads(v) if isinstance(v, (str, bytes)) else v
    except orjson.JSONDecodeError:
        raise ValueError("polyline not a JSON list") from None
    if not isinstance(pts, list) or len(pts) < 2:
        raise ValueError("polyline with fewer than 2 points")
    for p in (pts[0], pts[-1]):
        if not (isinstance(p, list) and len(p) == 2):
            raise ValueError("polyline point not [lon, lat]")
    return pts


def _trip(line: int, r: dict, tz: str, max_s: float, fmt: str | None = None,
          step_s: float | None = None) -> Trip | str:
    """A trip, or the reason the row is not one.  A ``polyline`` gives the points the
    row leaves empty, and with ``step_s`` (seconds between its points) the duration."""
    n_points = 0
    if r.get("polyline") not in (None, ""):
        try:
            pts = _polyline(r["polyline"])
        except ValueError as e:
            return str(e)
        n_points = len(pts)
        r = dict(r)
        for k, v in (("start_lon", pts[0][0]), ("start_lat", pts[0][1]),
                     ("end_lon", pts[-1][0]), ("end_lat", pts[-1][1])):
            if r.get(k) in (None, ""):
                r[k] = v
    for k in FIELDS:
        if r.get(k) in (None, ""):
            return f"missing {k}"
    try:
        start = parse_time(r["start_ts"], tz, fmt)
    except (ValueError, OverflowError):
        return "unreadable start_ts"
    try:
        la, lo, lb, mb = (_num(r[k]) for k in POINTS)
    except (ValueError, TypeError):
        return "coordinate not a finite number"
    if not (-90 <= la <= 90 and -90 <= lb <= 90 and -180 <= lo <= 180 and -180 <= mb <= 180):
        return "coordinate off the globe"
    if (la == 0 and lo == 0) or (lb == 0 and mb == 0):
        return "coordinate at 0,0 (a missing position)"
    dur = r.get("duration_s")
    if dur not in (None, ""):
        try:
            d = _num(dur)
        except (ValueError, TypeError):
            return "duration_s not a finite number"
    elif r.get("end_ts") not in (None, ""):
        try:
            d = parse_time(r["end_ts"], tz, fmt) - start
        except (ValueError, OverflowError):
            return "unreadable end_ts"
    elif n_points and step_s:
        d = (n_points - 1) * step_s
    else:
        return "missing duration_s and end_ts"
    if not d > 0:
        return "duration not above 0"
    if d > max_s:
        return "duration over --max-duration-s"
    vid = r.get("vehicle_id")
    return Trip(line, start, start + d, (la, lo), (lb, mb),
                str(vid) if vid not in (None, "") else None,
                str(r.get("vehicle_type") or "car"), str(r.get("fleet_type") or "?"),
                str(r.get("zone") or DEFAULT_ZONE))


def iter_trips(path: str, columns: str | None = None, tz: str = "UTC",
               max_duration_s: float = MAX_DURATION_S, limit: int | None = None,
               rejects: Rejects | None = None, time_format: str | None = None,
               polyline_step_s: float | None = None) -> Iterator[tuple[Trip, str]]:
    """``(trip, raw text)`` for each usable row of ``path`` (CSV with a header, or JSON
    Lines; ``.gz`` too), in file order; the rows not used go to ``rejects`` by reason.
    ``time_format``: how the file writes its times (:func:`parse_time`);
    ``polyline_step_s``: the seconds between a ``polyline``'s points (its duration when
    the row has neither ``duration_s`` nor ``end_ts``)."""
    renames = parse_columns(columns)
    check_options(time_format, polyline_step_s)
    rej = rejects if rejects is not None else Rejects()
    n = 0
    for line, r, raw in _rows(path, renames, polyline_step_s):
        if limit is not None and n >= limit:
            return
        n += 1
        if r is None:
            rej.add(line, "unreadable row", raw)
            continue
        t = _trip(line, r, tz, max_duration_s, time_format, polyline_step_s)
        if isinstance(t, str):
            rej.add(line, t, raw)
        else:
            yield t, raw


def read_trips(path: str, columns: str | None = None, tz: str = "UTC",
               max_duration_s: float = MAX_DURATION_S, limit: int | None = None,
               keep_rejects: int = 0, sink=None, time_format: str | None = None,
               polyline_step_s: float | None = None) -> tuple[list[Trip], Rejects]:
    """The usable trips of ``path`` as a list, and the rows not used, by reason
    (``sink``: called with each as it is read)."""
    rej = Rejects(keep=keep_rejects, sink=sink)
    trips = [t for t, _raw in iter_trips(path, columns, tz, max_duration_s, limit, rej,
                                         time_format, polyline_step_s)]
    return trips, rej


def _seat(kind: str):
    from fleetstream.models.eta import RiverEta
    return RiverEta(kind, seed=7)


OUT_OF_ORDER = "start earlier than a trip already scored (out of order by more than --reorder-s)"


def score_stream(items, provider, tz: str = "UTC", kind: str = "linear",
                 reorder_s: float = math.inf, rejects: Rejects | None = None,
                 progress=None, keep_errors: bool = False) -> dict:
    """Stream trips through a fresh seat per zone in event time (module docstring) and
    score every trip's prediction made at its start.

    ``items``: trips, or ``(trip, raw text)``, in file order.  A file need not be sorted:
    trips are held until the latest start read is ``reorder_s`` past theirs and released
    in start order (ties in file order), so any disorder within ``reorder_s`` gives the
    same report as the sorted file (``math.inf``: hold all, then sort); a trip whose start
    is earlier than one already released is not scored and goes to ``rejects``.  Memory:
    the trips of ``reorder_s`` plus those still driving, and four numbers per trip scored.
    ``keep_errors``: the result's ``_errors`` holds every trip's length and both absolute
    errors (to pool files)."""
    from fleetstream.operators.localtime import LocalClock
    from fleetstream.operators.zone.forecasting import leg_ratio, next_pace
    from fleetstream.report.scorecard import length_deciles, worse_deciles

    clock = LocalClock(tz)
    rej = rejects if rejects is not None else Rejects()
    seats: dict[str, Any] = {}
    pace: dict[str, float] = {}
    held: list = []      # heap (start, seq, trip): read, not yet predicted
    driving: list = []   # heap (end, seq, trip, x, provider_s, predicted_s)
    dist, err_m, err_p, hours = array("d"), array("d"), array("d"), array("b")
    counts = {"not_learned": 0, "scored": 0}
    turns = getattr(provider, "turns", None)

    def seat_of(zone: str):
        seat = seats.get(zone)
        if seat is None:
            seat = seats[zone] = _seat(kind)
        return seat

    def arrive(until: float) -> None:
        """Score and learn every trip that ended at or before ``until``."""
        while driving and driving[0][0] <= until:
            _e, _q, t, x, prov, pred = heapq.heappop(driving)
            seat = seat_of(t.zone)
            actual = t.end - t.start
            dist.append(x["dist_km"])
            err_m.append(abs(actual - pred))
            err_p.append(abs(actual - prov))
            hours.append(int(x["hour"]))
            ratio = leg_ratio(seat, prov, actual)   # the engine's rule (forecasting.py)
            if ratio is None:
                if prov > 0.0:
                    counts["not_learned"] += 1
            else:
                seat.learn(x, ratio)
                if t.vehicle_id is not None:
                    pace[t.vehicle_id] = next_pace(pace.get(t.vehicle_id, 1.0), ratio)

    def depart(seq: int, t: Trip) -> None:
        """Predict ``t`` at its start, after learning every trip ended by then."""
        arrive(t.start)
        seat = seat_of(t.zone)
        prov = float(provider.travel_s(t.a, t.b, t.start, 1.0))
        loc = clock.local(t.start)
        x = {"dist_km": provider.distance_m(t.a, t.b) / 1000.0, "provider_s": prov,
             "hour": (loc % 86400) / 3600.0, "dow": int(loc // 86400 + 3) % 7,
             "zone": t.zone, "vehicle_type": t.vehicle_type, "fleet_type": t.fleet_type,
             "driver_pace": pace.get(t.vehicle_id, 1.0) if t.vehicle_id else 1.0,
             "condition_factor": 1.0, "stops_ahead": 0, "speed_kmh": 0.0}
        if t.vehicle_id is not None:
            x["vehicle_id"] = t.vehicle_id
        if turns is not None:
            k = turns(t.a, t.b)
            if k is not None:
                x["turns"] = k
        pred = seat.predict_ratio(x) * prov if prov > 0 else seat.zero_leg_s()
        heapq.heappush(driving, (t.end, seq, t, x, prov, pred))
        counts["scored"] += 1
        if progress is not None and counts["scored"] % PROGRESS_EVERY == 0:
            progress(counts["scored"])

    latest = -math.inf       # the latest start read
    released = -math.inf     # the start of the last trip predicted
    for seq, item in enumerate(items):
        t, raw = item if isinstance(item, tuple) else (item, "")
        if t.start < released:
            rej.add(t.line, OUT_OF_ORDER, raw)
            continue
        heapq.heappush(held, (t.start, seq, t))
        if t.start > latest:
            latest = t.start
        while held and held[0][0] <= latest - reorder_s:
            st, q, tr = heapq.heappop(held)
            released = st
            depart(q, tr)
    while held:
        st, q, tr = heapq.heappop(held)
        depart(q, tr)
    arrive(math.inf)

    n = len(err_m)
    sm, sp = math.fsum(err_m), math.fsum(err_p)
    dec = length_deciles(dist, err_m, err_p)
    worse, beyond = worse_deciles(dec)
    by_hour: dict[int, list] = {}
    for h, em, ep in zip(hours, err_m, err_p):
        b = by_hour.setdefault(h, [0, 0.0, 0.0])
        b[0] += 1
        b[1] += em
        b[2] += ep
    answers: dict[str, int] = {}
    line = {}
    implausible = 0
    for z, seat in sorted(seats.items()):
        m = seat.metrics()
        implausible += int(m.get("implausible_legs", 0))
        for k, v in m.items():
            if k.startswith("answered_"):
                answers[k[9:]] = answers.get(k[9:], 0) + v
        line[z] = {k: m[k] for k in ("line_slope", "line_fixed_s", "zero_leg_s") if k in m}
    res = {
        "trips": n, "zones": sorted(seats), "seat_version": next(
            (s.version for s in seats.values() if hasattr(s, "version")), None),
        "provider": getattr(provider, "name", type(provider).__name__),
        "seat_mae_s": sm / n if n else float("nan"),
        "provider_mae_s": sp / n if n else float("nan"),
        "reduction_pct": 100.0 * (1.0 - sm / sp) if sp else float("nan"),
        "median_abs_error_s": {"seat": statistics.median(err_m) if n else float("nan"),
                               "provider": statistics.median(err_p) if n else float("nan")},
        "worse_deciles": worse, "worse_deciles_beyond_noise": beyond, "deciles": dec,
        "by_hour": {f"{h:02d}": {"trips": b[0], "seat_mae_s": b[1] / b[0],
                                 "provider_mae_s": b[2] / b[0]}
                    for h, b in sorted(by_hour.items())},
        "answers": answers, "line": line, "not_learned_under_30s": counts["not_learned"],
        "not_learned_implausible": implausible,
    }
    if keep_errors:
        res["_errors"] = {"dist_km": list(dist), "err_model_s": list(err_m),
                          "err_provider_s": list(err_p)}
    return res


def score_trips(trips: list[Trip], provider, tz: str = "UTC", kind: str = "linear",
                progress=None, keep_errors: bool = False) -> dict:
    """:func:`score_stream` over a list of trips in any order (all held, then sorted)."""
    return score_stream(trips, provider, tz, kind, math.inf, None, progress, keep_errors)


def _f(v: Any, spec: str) -> str:
    """``v`` formatted with ``spec``, or ``n/a`` for what is not a finite number (a decile
    of one trip has no standard error)."""
    if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
        return format(v, spec)
    return "n/a"


def report_text(res: dict, rej: Rejects) -> str:
    """The terminal summary of :func:`score_trips`."""
    out = [f"trips scored: {res['trips']:,} ({len(res['zones'])} zone(s)); rows not used: "
           f"{rej.total:,}" + (" (" + ", ".join(f"{k}: {v:,}" for k, v in
                                               sorted(rej.counts.items())) + ")"
                               if rej.counts else "")]
    out.append(f"MAE: seat {_f(res['seat_mae_s'], '.1f')} s, provider "
               f"{_f(res['provider_mae_s'], '.1f')} s ({res['provider']}): "
               f"{_f(res['reduction_pct'], '.1f')} % below the provider (target >= 35 %); "
               f"median absolute error {_f(res['median_abs_error_s']['seat'], '.1f')} / "
               f"{_f(res['median_abs_error_s']['provider'], '.1f')} s")
    out.append(f"leg-length deciles worse than the provider: {res['worse_deciles']} (target 0),"
               f" {res['worse_deciles_beyond_noise']} beyond two standard errors")
    out.append("  decile  km            trips  seat s  provider s  diff s (se)")
    for i, d in enumerate(res["deciles"], 1):
        if not d["n"]:
            continue
        worse = (isinstance(d["model_mae_s"], float) and isinstance(d["provider_mae_s"], float)
                 and d["model_mae_s"] > d["provider_mae_s"])
        flag = ("  worse" + (", beyond noise" if d.get("beyond_noise") else "")) if worse else ""
        out.append(f"  {i:>6}  {d['lo_km']:5.2f}-{d['hi_km']:<6.2f} {d['n']:>7}  "
                   f"{_f(d['model_mae_s'], '6.1f')}  {_f(d['provider_mae_s'], '10.1f')}  "
                   f"{_f(d.get('diff_s'), '+6.1f')} ({_f(d.get('diff_se_s'), '.1f')}){flag}")
    out.append("answers of the guard: " + ", ".join(f"{k} {v:,}" for k, v in
                                                    sorted(res["answers"].items()))
               + f"; scored, not learned: {res['not_learned_implausible']:,} over four times "
               f"faster than the provider, {res['not_learned_under_30s']:,} under its 30 s floor")
    return "\n".join(out)
