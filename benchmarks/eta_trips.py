"""The ETA seat on trip files: the figures of ``fleetstream models trips`` over several
files, with mean, sd and per-file values and the deciles of all files pooled.

Give trip files (CSV or JSON Lines, the columns of ``fleetstream models trips``), or
``--synthetic SEEDS`` for cities of ``fleetstream.sim.taxi`` (synthetic taxi rides from
the simulator's own model: a stand-in where no real file is at hand, not a real-data
figure).  Each file is its own city: a fresh seat, progressive, in event time.

    .venv/bin/python benchmarks/eta_trips.py --synthetic 1,2,3,4,5,6,7,8,9,10
    .venv/bin/python benchmarks/eta_trips.py trips-a.csv trips-b.csv.gz --columns start_ts=pickup_datetime,...
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*", help="trip files (or use --synthetic)")
    ap.add_argument("--synthetic", metavar="SEEDS", help="comma-separated seeds of synthetic "
                    "taxi cities (fleetstream.sim.taxi)")
    ap.add_argument("--days", type=int, default=3, help="days per synthetic city (default: 3)")
    ap.add_argument("--per-day", type=int, default=4000, help="rides per synthetic day "
                    "(default: 4000)")
    ap.add_argument("--columns", default=None, help="FIELD=COLUMN,... as for fleetstream "
                    "models trips")
    ap.add_argument("--timezone", default="UTC", help="IANA zone of the trips' local hours "
                    "(default: UTC)")
    ap.add_argument("--time-format", default=None, help="how the files write their times when "
                    "not epoch seconds or ISO 8601 (strptime directives; as for fleetstream "
                    "models trips)")
    ap.add_argument("--polyline-step-s", type=float, default=None, help="seconds between a "
                    "polyline column's points (as for fleetstream models trips)")
    ap.add_argument("--kind", default="linear", help="ETA model family: linear, arf, hat "
                    "(default: linear)")
    ap.add_argument("--deciles", action="store_true", help="print every file's deciles")
    a = ap.parse_args(argv)
    if bool(a.files) == bool(a.synthetic):
        print("eta_trips: give either trip files or --synthetic SEEDS", file=sys.stderr)
        return 2
    from fleetstream import trips as T
    from fleetstream.operators.traveltime import HaversineProvider
    from fleetstream.report.pooled import pooled_deciles_line, reduction_line

    try:   # a bad --columns, --time-format or --polyline-step-s: one line, no file read
        T.parse_columns(a.columns)
        T.check_options(a.time_format, a.polyline_step_s)
    except T.TripsError as e:
        print(f"eta_trips: {e}", file=sys.stderr)
        return 2
    tmp = None
    files: list[tuple[str, str]] = [(os.path.basename(f), f) for f in a.files]
    if a.synthetic:
        try:
            seeds = [int(s) for s in a.synthetic.split(",") if s.strip()]
        except ValueError:
            print(f"eta_trips: --synthetic must be integers separated by commas, not "
                  f"{a.synthetic!r}", file=sys.stderr)
            return 2
        from fleetstream.sim.taxi import to_csv, trips
        tmp = tempfile.mkdtemp(prefix="eta-trips-")
        for s in seeds:
            p = os.path.join(tmp, f"taxi-{s}.csv")
            with open(p, "w") as f:
                f.write(to_csv(trips(s, days=a.days, per_day=a.per_day)))
            files.append((f"city {s}", p))
    provider = HaversineProvider(tz=a.timezone)
    rows = []
    errors: list[dict] = []
    try:
        for name, path in files:
            try:
                trips_, rej = T.read_trips(path, None if a.synthetic else a.columns, a.timezone,
                                           time_format=None if a.synthetic else a.time_format,
                                           polyline_step_s=a.polyline_step_s)
            except (OSError, T.TripsError) as e:   # no file, no needed column: one line
                print(f"eta_trips: {e}", file=sys.stderr)
                return 2
            if not trips_:
                print(f"eta_trips: {path}: no usable trip", file=sys.stderr)
                return 2
            r = T.score_trips(trips_, provider, a.timezone, a.kind, keep_errors=True)
            rows.append((name, r))
            errors.append(r.pop("_errors"))
            print(f"{name}: {r['trips']:,} trips ({rej.total} not used), MAE seat "
                  f"{r['seat_mae_s']:.1f} s vs provider {r['provider_mae_s']:.1f} s: "
                  f"{r['reduction_pct']:.1f} % below; worse deciles {r['worse_deciles']}, "
                  f"{r['worse_deciles_beyond_noise']} beyond noise; answers {r['answers']}")
            if a.deciles:
                print("  deciles (seat / provider s): " + "  ".join(
                    f"{d['model_mae_s']:.0f}/{d['provider_mae_s']:.0f}" for d in r["deciles"]))
    finally:
        if tmp:
            import shutil
            shutil.rmtree(tmp, ignore_errors=True)
    print(reduction_line("files", [r["reduction_pct"] for _n, r in rows],
                         [r["worse_deciles"] for _n, r in rows],
                         [r["worse_deciles_beyond_noise"] for _n, r in rows]))
    if len(rows) > 1:
        print(pooled_deciles_line(errors, "trips"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
