"""``fleetstream models``: export, import and inspect model snapshots.

  fleetstream models export REPLAY --out DIR [--models WARM] [--kind learned]
      run the engine over a replay folder (learning from every outcome, as in a
      replay) and write each zone's learned seats to DIR (manifest.json with the
      schema version and the river/python versions, one seats-<zone>.pkl per zone)
  fleetstream models import SRC --out DIR
      check SRC (schema, river and python versions, checksums, that it loads) and
      copy it to DIR; refuses an incompatible directory with a clear error
  fleetstream models info DIR
      print the manifest, the snapshot sizes and each zone's progressive metrics
  fleetstream models trips FILE [--columns F=COL,...] [--timezone TZ] [--out REPORT]
      score the ETA seat on a file of trips (a start time, two points, a duration):
      progressive, in event time, against the travel-time provider

Snapshots are pickles: **never import or warm-start from an untrusted source.**
A warm start is ``--models DIR`` on ``replay``, ``evaluate`` and ``run``.
"""

from __future__ import annotations

import os
import sys

import click
import orjson

from fleetstream import cli

from fleetstream.connectors.files import read_replay
from fleetstream.engine import LocalEngine
from fleetstream.contract.settings import Settings


def export_from_replay(replay: str, out: str, settings: Settings | None = None,
                       models_dir: str | None = None, kind: str = "learned",
                       progress: bool = False) -> dict:
    from fleetstream.wiring import build_zone_engine
    from fleetstream.models.store import export_seats
    settings = settings or Settings()
    engine = LocalEngine(settings.engine, zone_factory=lambda z: build_zone_engine(
        z, settings.engine, models_dir=models_dir, kind=kind))
    n = 0
    for msg in read_replay(replay):
        engine.process(msg)
        n += 1
        if progress and n % 50000 == 0:
            print(f"  {n:,} events", file=sys.stderr, flush=True)
    return export_seats({z: e.seats for z, e in engine.zones.items()}, out,
                        source=os.path.abspath(replay))


def info(models_dir: str) -> dict:
    from fleetstream.models.seats import seat_metrics
    from fleetstream.models.store import check_manifest, load_all, read_manifest
    m = read_manifest(models_dir)
    out = {"manifest": m}
    try:
        if not isinstance(m, dict) or not isinstance(m.get("zones"), dict):
            raise ValueError(f"{models_dir}: manifest.json is not a models manifest "
                             "(no zones table)")
        check_manifest(m, models_dir)
    except ValueError as e:
        out["loadable"] = False
        out["refused"] = str(e)
        return out
    out["loadable"] = True
    out["metrics"] = {z: seat_metrics(s) for z, s in load_all(models_dir).items()}
    return out


@click.group("models", cls=cli.Group, help=cli.help_text(__doc__), context_settings=cli.CONTEXT)
def command() -> None:
    """``fleetstream models``."""


@command.command("export", short_help="learn over a replay and export the zones' models", help="Run the engine over a replay folder (learning from every "
                 "outcome, as in a replay) and write each zone's learned seats to --out "
                 "(manifest.json with the schema, river and python versions; one "
                 "seats-<zone>.pkl per zone).")
@click.argument("replay", help="replay folder (with events.jsonl.gz) or events file")
@click.option("--out", required=True, metavar="DIR", help="snapshot folder to write")
@click.option("--models", metavar="DIR", default=None, show_default="cold start",
              help="warm-start from this models folder first")
@click.option("--kind", type=click.Choice(["learned", "baseline"]), default="learned",
              help="which model seats to export")
@click.option("--config", metavar="FILE", default=None,
              show_default="built-in settings and the FLEETSTREAM_* environment",
              help="TOML settings file (docs/configuration.md)")
@click.option("-q", "--quiet", is_flag=True, help="no progress lines")
def export_cmd(replay: str, out: str, models: str | None, kind: str, config: str | None,
               quiet: bool) -> int:
    from fleetstream.preflight import check_models_dir, events_file, load_settings
    from fleetstream.run_dirs import _usable_folder
    # everything checked before the (long) learning run starts
    settings = load_settings(config, None)
    events_file(replay)
    check_models_dir(models)
    _usable_folder("--out", out)
    m = export_from_replay(replay, out, settings, models, kind, progress=not quiet)
    for z, zi in m["zones"].items():
        print(f"{z}: {zi['bytes']:,} bytes  " + ", ".join(
            f"{k} {v['version']} n={v['n']}" for k, v in zi["seats"].items()))
    print(f"written: {out}/manifest.json (schema {m['schema_version']}, river {m['river']}, "
          f"python {m['python']})")
    return 0


@command.command("import", short_help="validate a models folder and copy it", help="Check a models folder (schema, river and python versions, "
                 "checksums, that it loads) and copy it to --out; an incompatible folder is "
                 "refused with a clear error.  Snapshots are pickles: never import one from "
                 "an untrusted source.")
@click.argument("src", help="the models folder to check and copy")
@click.option("--out", required=True, metavar="DIR", help="folder to copy it to (missing or empty)")
def import_cmd(src: str, out: str) -> int:
    from fleetstream.models.store import import_dir
    from fleetstream.preflight import check_models_dir
    from fleetstream.run_dirs import _usable_folder
    check_models_dir(src, flag="SRC")
    _usable_folder("--out", out)
    m = import_dir(src, out)
    print(f"imported {len(m['zones'])} zones from {src} into {out}")
    return 0


@command.command("info", short_help="show a models folder's manifest, sizes and metrics", help="Print a models folder's manifest, the snapshot sizes and each "
                 "zone's progressive metrics as JSON; exit 2 if it would be refused.")
@click.argument("dir", help="the models folder")
def info_cmd(dir: str) -> int:  # noqa: A002 - the argument's name in --help
    res = info(dir)
    sys.stdout.write(orjson.dumps(res, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode() + "\n")
    if not res["loadable"]:
        print(f"fleetstream models: refused: {res['refused']}", file=sys.stderr)
    return 0 if res["loadable"] else 2


@command.command("trips", short_help="score the ETA seat on a file of trips (CSV or JSON Lines)",
                 help="Stream a file of trips (taxi rides, another system's legs: a start "
                 "time, two points and a duration) through the engine's ETA seat and "
                 "travel-time provider in event time: each trip predicted at its start by a "
                 "seat that learned only the trips ended before, then learned at its end. "
                 "Prints the seat's and the provider's MAE, the reduction, the leg-length "
                 "deciles (worse than the provider, beyond noise) and the guard's answers; "
                 "rows that cannot be a trip are counted by reason and not used.  Columns "
                 "(CSV header or JSON keys): start_ts, start_lat, start_lon, end_lat, "
                 "end_lon, and duration_s or end_ts; optional vehicle_id, vehicle_type, "
                 "fleet_type, zone, and polyline (a JSON list of [lon, lat] points: the "
                 "two points, and with --polyline-step-s the duration).  Times: epoch "
                 "seconds, ISO 8601 or --time-format (no offset: the local time of "
                 "--timezone).  docs/models-eta.md, \"Your own trips\".")
@click.argument("file", help="trips file: .csv or .jsonl, optionally .gz; - for stdin (CSV)")
@click.option("--columns", metavar="FIELD=COLUMN,...", default=None, show_default="the field names",
              help="the file's column for each field, e.g. start_ts=tpep_pickup_datetime,"
              "end_ts=tpep_dropoff_datetime,start_lat=pickup_latitude")
@click.option("--timezone", metavar="TZ", default=None, show_default="engine.timezone of the settings",
              help="IANA zone of the trips' local hours and of times written without an offset")
@click.option("--time-format", metavar="FORMAT", default=None, show_default="ISO 8601",
              help="how the file writes start_ts and end_ts when they are not epoch seconds: "
              "strptime directives, e.g. '%m/%d/%Y %I:%M:%S %p' (Chicago's taxi trips)")
@click.option("--polyline-step-s", type=float, default=None, metavar="S", show_default="none",
              help="a polyline column's seconds between points: the trip's duration is "
              "(points - 1) x S when the row has no duration_s or end_ts (Porto's taxi "
              "trips: 15)")
@click.option("--config", metavar="FILE", default=None,
              show_default="built-in settings and the FLEETSTREAM_* environment",
              help="TOML settings file: the provider (engine.travel_provider) and engine.timezone")
@click.option("--kind", type=click.Choice(["linear", "arf", "hat"]), default="linear",
              help="ETA model family of the seat (the engine's default: linear)")
@click.option("--max-duration-s", type=float, default=6 * 3600.0,
              help="longer trips are not used (counted: a meter left running)")
@click.option("--limit", type=click.IntRange(min=1), default=None, show_default="every row",
              help="read at most this many rows")
@click.option("--reorder-s", type=click.FloatRange(min=0), default=6 * 3600.0,
              help="how far out of start order the file may be: trips are held this long "
              "(in event time) and scored in start order; a trip earlier than one already "
              "scored is counted, not used (an unsorted file: a window as long as it spans)")
@click.option("--out", metavar="FILE", default=None, show_default="none",
              help="write the full report as JSON here (a new file; an existing one is refused)")
@click.option("--rejects", metavar="FILE", default=None, show_default="none",
              help="write every row not used as JSON Lines (line, reason, raw) here "
              "(a new file; an existing one is refused)")
@click.option("-q", "--quiet", is_flag=True, help="no progress lines")
def trips_cmd(file: str, columns: str | None, timezone: str | None, time_format: str | None,
              polyline_step_s: float | None, config: str | None, kind: str,
              max_duration_s: float, limit: int | None, reorder_s: float, out: str | None,
              rejects: str | None, quiet: bool) -> int:
    from fleetstream.preflight import load_settings
    from fleetstream import trips as T
    for flag, path in (("--out", out), ("--rejects", rejects)):
        if path is not None and os.path.exists(path):
            raise ValueError(f"{flag} {path}: exists; give a new file (nothing is overwritten)")
    if not max_duration_s > 0:
        raise ValueError("--max-duration-s must be above 0")
    if file != "-" and not os.path.isfile(file):
        raise FileNotFoundError(f"{file}: no such file")
    settings = load_settings(config, None)
    tz = timezone or settings.engine.timezone
    from fleetstream.operators.localtime import LocalClock
    try:
        LocalClock(tz)
    except Exception:  # noqa: BLE001 - zoneinfo raises several kinds
        raise ValueError(f"--timezone {tz!r}: not an IANA time zone name") from None
    import dataclasses

    from fleetstream.wiring import build_provider
    provider = build_provider(dataclasses.replace(settings.engine, timezone=tz))
    if provider is None:
        from fleetstream.operators.traveltime import HaversineProvider
        provider = HaversineProvider(tz=tz)
    T.parse_columns(columns)                 # a bad --columns before any file is made
    T.check_options(time_format, polyline_step_s)   # and options that read no file

    def progress(done: int) -> None:
        if not quiet:
            print(f"  {done:,} trips scored", file=sys.stderr, flush=True)

    def score(rej):
        items = T.iter_trips(file, columns, tz, max_duration_s, limit, rej, time_format,
                             polyline_step_s)
        return T.score_stream(items, provider, tz, kind, reorder_s, rej, progress)

    if rejects:
        try:
            with open(rejects, "xb") as f:
                rej = T.Rejects(sink=lambda r: f.write(orjson.dumps(r) + b"\n"))
                res = score(rej)
        except BaseException:
            if os.path.getsize(rejects) == 0:   # the empty file this run made, nothing else
                os.remove(rejects)
            raise
    else:
        rej = T.Rejects()
        res = score(rej)
    if not res["trips"]:
        hint = ("; times not in ISO 8601 need --time-format" if time_format is None
                and rej.counts.get("unreadable start_ts", 0) * 2 > rej.total else "")
        raise ValueError(f"{file}: no usable trip in {rej.total:,} rows" + (
            " (" + ", ".join(f"{k}: {v:,}" for k, v in sorted(rej.counts.items())) + ")"
            if rej.counts else "") + hint)
    res["rows_not_used"] = dict(sorted(rej.counts.items()))
    res["timezone"] = tz
    if out:   # the file first: a closed terminal (`| head`) must not lose it
        with open(out, "xb") as f:
            f.write(orjson.dumps(res, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS
                                 | orjson.OPT_SERIALIZE_NUMPY) + b"\n")
    print(T.report_text(res, rej))
    return 0


def main(argv: list[str] | None = None) -> int:
    return cli.run(command, argv, "fleetstream models", guarded=True, usage_exits=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
