"""``fleetstream models trips``: the ETA seat scored on a file of trips, in event time,
with every unusable row counted by reason and kept (fleetstream/trips.py)."""

from __future__ import annotations

import gzip
import json

import orjson
import pytest

from fleetstream import trips as T
from fleetstream.cli import main
from fleetstream.operators.traveltime import HaversineProvider
from fleetstream.sim.taxi import to_csv, trips as taxi_trips

HEADER = "start_ts,start_lat,start_lon,end_lat,end_lon,duration_s,vehicle_id\n"


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> str:
    p = tmp_path_factory.mktemp("trips") / "city.csv"
    p.write_text(to_csv(taxi_trips(11, days=1, per_day=2500)))
    return str(p)


def test_seat_beats_the_provider_on_a_synthetic_city(city, capsys, tmp_path):
    out = tmp_path / "r.json"
    assert main(["models", "trips", city, "--out", str(out), "-q"]) == 0
    text = capsys.readouterr().out
    assert "below the provider" in text and "deciles worse than the provider" in text
    r = orjson.loads(out.read_bytes())
    assert r["trips"] == 2502 and r["rows_not_used"] == {}   # rounded per hour
    # the rides' ratio to the straight-line provider falls from about 2 to under 1 with
    # their length: the seat must learn it within one day
    assert r["reduction_pct"] > 30.0, r["reduction_pct"]
    assert r["worse_deciles_beyond_noise"] == 0, r["deciles"]
    assert len(r["deciles"]) == 10 and set(r["by_hour"]) <= {f"{h:02d}" for h in range(24)}
    assert sum(r["answers"].values()) == 2502 - r["not_learned_under_30s"]


def test_same_file_same_report(city, tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert main(["models", "trips", city, "--out", str(a), "-q"]) == 0
    assert main(["models", "trips", city, "--out", str(b), "-q"]) == 0
    assert a.read_bytes() == b.read_bytes()


def _trip(line, start, dur, vid=None):
    return T.Trip(line, start, start + dur, (40.75, -73.98), (40.77, -73.96), vid, "car", "?",
                  "z")


def test_a_trip_is_predicted_only_from_trips_ended_before_it_started():
    prov = HaversineProvider()
    p = prov.travel_s((40.75, -73.98), (40.77, -73.96), 0.0)
    slow = 3.0 * p
    # A: 0 .. 3p; B starts at 10 and ends before C starts; C starts while A still drives
    trips = [_trip(1, 1_795_392_000.0, slow), _trip(2, 1_795_392_010.0, slow * 0.2),
             _trip(3, 1_795_392_010.0 + slow * 0.5, slow)]
    r = T.score_trips(trips, prov, keep_errors=True)
    e = r["_errors"]
    # order of the errors: the trips' ends (B, C? no: A ends at 3p, C at 10 + 0.5*3p + 3p)
    ends = sorted((t.end, i) for i, t in enumerate(trips))
    err = {i: (e["err_model_s"][k], e["err_provider_s"][k]) for k, (_e, i) in enumerate(ends)}
    # A and B: a cold seat, whose line starts at the provider
    assert err[0][0] == pytest.approx(err[0][1])
    assert err[1][0] == pytest.approx(err[1][1])
    # C started after B ended (and before A did): it was predicted by a seat that learnt B
    assert err[2][0] != pytest.approx(err[2][1])
    # and had it learnt A (3 x the provider), C (3 x too) would be predicted above the
    # provider; B (0.6 x) pulled it below
    assert err[2][0] > err[2][1]


def test_rows_that_are_not_trips_are_counted_and_kept(tmp_path, capsys):
    good = [f"{1_795_392_000 + 60 * i},40.75,-73.98,40.76,-73.97,{300 + i},t{i % 3}"
            for i in range(30)]
    bad = ["1795392000,nan,-73.98,40.76,-73.97,300,t1",          # non-finite coordinate
           "1795392000,40.75,-73.98,40.76,-73.97,-5,t1",          # duration not above 0
           "1795392000,40.75,-73.98,40.76,-73.97,90000,t1",       # a meter left running
           "yesterday,40.75,-73.98,40.76,-73.97,300,t1",          # unreadable time
           "1795392000,0,0,40.76,-73.97,300,t1",                  # missing position as 0,0
           "1795392000,95,-73.98,40.76,-73.97,300,t1",            # off the globe
           "1795392000,40.75,-73.98,40.76",                       # too few columns
           "1795392000,,-73.98,40.76,-73.97,300,t1"]              # empty field
    f = tmp_path / "t.csv"
    f.write_text(HEADER + "\n".join(good[:15] + bad + good[15:]) + "\n")
    rej = tmp_path / "rejects.jsonl"
    assert main(["models", "trips", str(f), "--rejects", str(rej), "-q"]) == 0
    out = capsys.readouterr().out
    assert "trips scored: 30" in out and "rows not used: 8" in out
    kept = [json.loads(x) for x in rej.read_text().splitlines()]
    assert [k["reason"] for k in kept] == [
        "coordinate not a finite number", "duration not above 0",
        "duration over --max-duration-s", "unreadable start_ts",
        "coordinate at 0,0 (a missing position)", "coordinate off the globe",
        "unreadable row", "missing start_lat"]
    assert [k["line"] for k in kept] == list(range(17, 25))
    assert kept[0]["raw"] == bad[0]


def test_a_file_with_no_trip_or_no_column_is_one_line_and_exit_2(tmp_path, capsys):
    f = tmp_path / "t.csv"
    f.write_text(HEADER + "1795392000,40.75,-73.98,40.76,-73.97,-1,t\n")
    assert main(["models", "trips", str(f), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no usable trip" in err[0] and "duration not above 0: 1" in err[0]
    g = tmp_path / "g.csv"
    g.write_text("pickup,plat,plon,dlat,dlon,secs\n1795392000,40.75,-73.98,40.76,-73.97,300\n")
    assert main(["models", "trips", str(g), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no column for start_ts" in err[0] and "--columns" in err[0]
    assert main(["models", "trips", str(tmp_path / "missing.csv")]) == 2
    assert main(["models", "trips", str(g), "--columns", "nonsense"]) == 2
    assert "FIELD=COLUMN" in capsys.readouterr().err


def test_columns_local_times_end_times_and_json_lines(tmp_path, capsys):
    rows = [{"pickup": f"2026-11-24 08:{i:02d}:00", "dropoff": f"2026-11-24 08:{i + 7:02d}:30",
             "plat": 40.75, "plon": -73.98, "dlat": 40.76, "dlon": -73.97} for i in range(20)]
    f = tmp_path / "t.jsonl.gz"
    with gzip.open(f, "wb") as g:
        g.write(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    out = tmp_path / "r.json"
    cols = ("start_ts=pickup,end_ts=dropoff,start_lat=plat,start_lon=plon,end_lat=dlat,"
            "end_lon=dlon")
    assert main(["models", "trips", str(f), "--columns", cols, "--timezone",
                 "America/New_York", "--out", str(out), "-q"]) == 0
    r = orjson.loads(out.read_bytes())
    assert r["trips"] == 20 and r["timezone"] == "America/New_York"
    assert list(r["by_hour"]) == ["08"]            # local hours, not UTC's 13
    # times without an offset are the zone's: 08:00 in New York is 13:00 UTC
    t, _ = T.read_trips(str(f), cols, "America/New_York")
    assert t[0].start == 1795525200.0 and t[0].end - t[0].start == 450.0


def test_an_existing_report_is_never_overwritten(city, tmp_path, capsys):
    out = tmp_path / "r.json"
    out.write_text("keep me")
    assert main(["models", "trips", city, "--out", str(out), "-q"]) == 2
    assert out.read_text() == "keep me"
    assert "exists" in capsys.readouterr().err
    assert main(["models", "trips", city, "--timezone", "Mars/Olympus", "-q"]) == 2


def test_the_synthetic_city_looks_like_taxi_trips():
    """As the issue's real trips: the true / provider ratio about 2 for the shortest
    tenth of rides and well under 1 for the longest (on every city drawn), and the
    generator repeats itself for a seed."""
    import statistics

    prov = HaversineProvider()
    for seed in (1, 2, 3):
        rows = taxi_trips(seed, days=1, per_day=2000)
        assert rows == taxi_trips(seed, days=1, per_day=2000)
        rs = sorted((prov.distance_m((r["start_lat"], r["start_lon"]), (r["end_lat"], r["end_lon"])),
                     r["duration_s"] / prov.travel_s((r["start_lat"], r["start_lon"]),
                                                     (r["end_lat"], r["end_lon"]), r["start_ts"]))
                    for r in rows)
        n = len(rs)
        first = statistics.median(x[1] for x in rs[: n // 10])
        last = statistics.median(x[1] for x in rs[-n // 10:])
        assert 1.6 < first < 3.0 and 0.4 < last < 0.95, (seed, first, last)


def test_a_refused_file_leaves_no_empty_rejects_file(tmp_path):
    g = tmp_path / "g.csv"
    g.write_text("pickup,plat\n1,2\n")
    rej = tmp_path / "rej.jsonl"
    assert main(["models", "trips", str(g), "--rejects", str(rej), "-q"]) == 2
    assert not rej.exists()


def test_a_file_out_of_order_within_the_window_scores_as_the_sorted_one(tmp_path):
    """Trips are held --reorder-s of event time and scored in start order: a file whose
    rows are shuffled within an hour gives the sorted file's report; a row more out of
    order than that is counted, not used."""
    import random

    rows = taxi_trips(5, days=1, per_day=1500)
    srt = tmp_path / "sorted.csv"
    srt.write_text(to_csv(rows))
    # shuffle within blocks of 30 rides (about 30 minutes of this city)
    rng = random.Random(3)
    shuffled = []
    for i in range(0, len(rows), 30):
        block = rows[i:i + 30]
        rng.shuffle(block)
        shuffled += block
    shf = tmp_path / "shuffled.csv"
    shf.write_text(to_csv(shuffled))
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert main(["models", "trips", str(srt), "--out", str(a), "-q"]) == 0
    assert main(["models", "trips", str(shf), "--out", str(b), "-q", "--reorder-s", "7200"]) == 0
    ra, rb = orjson.loads(a.read_bytes()), orjson.loads(b.read_bytes())
    assert ra == rb
    # the first ride moved to the end: read after rides 23 hours later, beyond a 6-hour
    # window (a ride far ahead of its place is only held, never lost)
    late = tmp_path / "late.csv"
    late.write_text(to_csv(rows[1:] + rows[:1]))
    ahead = tmp_path / "ahead.csv"
    ahead.write_text(to_csv(rows[-1:] + rows[:-1]))
    e = tmp_path / "e.json"
    assert main(["models", "trips", str(ahead), "--out", str(e), "-q"]) == 0
    assert orjson.loads(e.read_bytes()) == ra
    rej = tmp_path / "rej.jsonl"
    c = tmp_path / "c.json"
    assert main(["models", "trips", str(late), "--out", str(c), "--rejects", str(rej), "-q"]) == 0
    rc = orjson.loads(c.read_bytes())
    assert rc["trips"] == ra["trips"] - 1
    (r,) = [json.loads(x) for x in rej.read_text().splitlines()]
    assert r["line"] == len(rows) + 1 and r["reason"] == T.OUT_OF_ORDER
    # a window as long as the file: every row used, as the sorted file
    d = tmp_path / "d.json"
    assert main(["models", "trips", str(late), "--out", str(d), "-q", "--reorder-s", "1e9"]) == 0
    assert orjson.loads(d.read_bytes()) == ra


def test_a_list_in_any_order_scores_as_sorted():
    import random

    trips = [T.Trip(i, r["start_ts"], r["start_ts"] + r["duration_s"],
                    (r["start_lat"], r["start_lon"]), (r["end_lat"], r["end_lon"]),
                    r["vehicle_id"], "car", "?", "z")
             for i, r in enumerate(taxi_trips(6, days=1, per_day=800))]
    shuffled = list(trips)
    random.Random(1).shuffle(shuffled)
    prov = HaversineProvider()
    a = T.score_trips(trips, prov)
    b = T.score_trips(shuffled, prov)
    # ties between starts are broken in list order, so only the errors' sums may differ
    # where two trips start at the same instant: none does here
    assert len({t.start for t in trips}) == len(trips)
    assert a == b


def test_the_map_provider_from_a_settings_file(tmp_path):
    """With engine.travel_provider = "map" the trips are timed on the shipped road map
    (coordinates inside Andorra), with the turns of each path for the seat."""
    import random

    rng = random.Random(2)
    lines = []
    for i in range(60):
        a = (42.505 + rng.uniform(0, 0.05), 1.52 + rng.uniform(0, 0.05))
        b = (42.505 + rng.uniform(0, 0.05), 1.52 + rng.uniform(0, 0.05))
        lines.append(f"{1_795_428_000 + 120 * i},{a[0]:.5f},{a[1]:.5f},{b[0]:.5f},{b[1]:.5f},"
                     f"{rng.uniform(300, 900):.0f},v{i % 4}")
    f = tmp_path / "ad.csv"
    f.write_text(HEADER + "\n".join(lines) + "\n")
    cfg = tmp_path / "map.toml"
    cfg.write_text('[engine]\ntravel_provider = "map"\n')
    out = tmp_path / "r.json"
    assert main(["models", "trips", str(f), "--config", str(cfg), "--out", str(out), "-q"]) == 0
    r = orjson.loads(out.read_bytes())
    assert r["trips"] == 60 and r["provider"].startswith("map")


def test_bytes_that_are_not_utf8_lose_one_row_not_the_file(tmp_path, capsys):
    good = [f"{1_795_392_000 + 60 * i},40.75,-73.98,40.76,-73.97,{300 + i},t{i % 3}".encode()
            for i in range(20)]
    bad = b"1795392000,40.7\xff5,-73.98,40.76,-73.97,300,t1"
    f = tmp_path / "t.csv"
    f.write_bytes(HEADER.encode() + b"\n".join(good[:10] + [bad] + good[10:]) + b"\n")
    assert main(["models", "trips", str(f), "-q"]) == 0
    out = capsys.readouterr().out
    assert "trips scored: 20" in out and "coordinate not a finite number: 1" in out
    j = tmp_path / "t.jsonl"
    lines = [orjson.dumps({"start_ts": 1_795_392_000 + 60 * i, "start_lat": 40.75,
                           "start_lon": -73.98, "end_lat": 40.76, "end_lon": -73.97,
                           "duration_s": 300 + i}) for i in range(20)]
    j.write_bytes(b"\n".join(lines[:5] + [b'{"start_ts": "\xff\xfe"}'] + lines[5:]) + b"\n")
    rej = tmp_path / "rej.jsonl"
    assert main(["models", "trips", str(j), "-q", "--rejects", str(rej)]) == 0
    assert "trips scored: 20" in capsys.readouterr().out
    (r,) = [json.loads(x) for x in rej.read_text().splitlines()]
    assert r["line"] == 6 and r["reason"] == "unreadable row"


def test_a_single_trip_is_a_report_not_a_crash(tmp_path, capsys):
    f = tmp_path / "one.csv"
    f.write_text(HEADER + "1795392000,40.75,-73.98,40.76,-73.97,300,t\n")
    out = tmp_path / "r.json"
    assert main(["models", "trips", str(f), "-q", "--out", str(out)]) == 0
    assert "(n/a)" in capsys.readouterr().out       # one trip: no standard error
    assert orjson.loads(out.read_bytes())["trips"] == 1


CHICAGO = ("start_ts=Trip Start Timestamp,duration_s=Trip Seconds,"
           "start_lat=Pickup Centroid Latitude,start_lon=Pickup Centroid Longitude,"
           "end_lat=Dropoff Centroid Latitude,end_lon=Dropoff Centroid Longitude,vehicle_id=Taxi ID")
US_TIME = "%m/%d/%Y %I:%M:%S %p"


def _as_chicago(rows: list[dict], path) -> None:
    """The same rides written as Chicago's open taxi data writes them: its column names
    and 12-hour US times in the city's local time."""
    import csv
    from datetime import datetime
    from zoneinfo import ZoneInfo
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Trip ID", "Trip Start Timestamp", "Trip Seconds", "Pickup Centroid Latitude",
                    "Pickup Centroid Longitude", "Dropoff Centroid Latitude",
                    "Dropoff Centroid Longitude", "Taxi ID"])
        for i, r in enumerate(rows):
            t = datetime.fromtimestamp(r["start_ts"], ZoneInfo("America/Chicago"))
            w.writerow([i, t.strftime(US_TIME), r["duration_s"], r["start_lat"], r["start_lon"],
                        r["end_lat"], r["end_lon"], r["vehicle_id"]])


def test_a_time_format_reads_other_systems_times(tmp_path, capsys):
    """``--time-format``: times written as the file writes them (here 12-hour US local
    times) give the report of the same rides in epoch seconds, trip for trip."""
    rows = [{**r, "start_ts": float(int(r["start_ts"]))}
            for r in taxi_trips(5, days=1, per_day=600, center=(41.88, -87.63))]
    epoch, us = tmp_path / "epoch.csv", tmp_path / "us.csv"
    epoch.write_text(to_csv(rows))
    _as_chicago(rows, us)
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert main(["models", "trips", str(epoch), "--timezone", "America/Chicago",
                 "--out", str(a), "-q"]) == 0
    assert main(["models", "trips", str(us), "--columns", CHICAGO, "--time-format", US_TIME,
                 "--timezone", "America/Chicago", "--out", str(b), "-q"]) == 0
    ra, rb = orjson.loads(a.read_bytes()), orjson.loads(b.read_bytes())
    assert rb["trips"] == ra["trips"] == len(rows) and rb["rows_not_used"] == {}
    for k in ("seat_mae_s", "provider_mae_s", "deciles", "by_hour"):
        assert rb[k] == ra[k], k
    capsys.readouterr()
    # without the format: one line, exit 2, and what to do
    assert main(["models", "trips", str(us), "--columns", CHICAGO, "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unreadable start_ts" in err[0] and "--time-format" in err[0]


@pytest.mark.parametrize("fmt, says", [("%H:%M", "needs the date"), ("%Q-%m", "bad directive"),
                                       ("no directive", "needs the date")])
def test_a_time_format_that_cannot_read_a_date_is_refused_before_reading(fmt, says, city, tmp_path,
                                                                         capsys):
    out = tmp_path / "r.json"
    assert main(["models", "trips", city, "--time-format", fmt, "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0] and "--time-format" in err[0], err
    assert not out.exists()


def test_the_benchmark_says_one_line_for_what_it_cannot_read(tmp_path, capsys):
    """benchmarks/eta_trips.py: a missing file, a file without the columns, a bad
    --time-format or --columns: one line on stderr and exit 2, no traceback."""
    import os
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks"))
    import eta_trips
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    for argv in ([str(tmp_path / "none.csv")], [str(bad)],
                 [str(bad), "--time-format", "%H"], [str(bad), "--columns", "start_ts"]):
        assert eta_trips.main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("eta_trips: "), (argv, err)


def test_a_polyline_gives_the_points_and_with_its_step_the_duration(tmp_path, capsys):
    """Porto's taxi trips: a start time and a GPS polyline, one point every 15 s, in
    [lon, lat] order.  The first and last points are the trip's, (points - 1) x 15 s its
    duration: the report of the same rides written with points and durations; a polyline
    that is not one is counted by reason."""
    import csv
    rows = taxi_trips(6, days=1, per_day=500, center=(41.15, -8.61))
    plain, porto = [], tmp_path / "porto.csv"
    with open(porto, "w", newline="") as f:
        w = csv.writer(f, quoting=csv.QUOTE_ALL)
        w.writerow(["TRIP_ID", "TAXI_ID", "TIMESTAMP", "MISSING_DATA", "POLYLINE"])
        for i, r in enumerate(rows):
            n = max(2, int(r["duration_s"] // 15) + 1)
            pts = [[r["start_lon"] + (r["end_lon"] - r["start_lon"]) * j / (n - 1),
                    r["start_lat"] + (r["end_lat"] - r["start_lat"]) * j / (n - 1)]
                   for j in range(n)]
            w.writerow([i, r["vehicle_id"], int(r["start_ts"]), "False", json.dumps(pts)])
            plain.append({**r, "start_ts": float(int(r["start_ts"])),
                          "end_lon": pts[-1][0], "end_lat": pts[-1][1], "duration_s": (n - 1) * 15.0})
        w.writerow([9001, "x", int(rows[-1]["start_ts"]), "True", "[]"])
        w.writerow([9002, "x", int(rows[-1]["start_ts"]), "False", "[[-8.6, 41.1"])
        w.writerow([9003, "x", int(rows[-1]["start_ts"]), "False", "[[-8.6, 41.1], 7]"])
    ref = tmp_path / "plain.csv"
    ref.write_text(to_csv(plain))
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert main(["models", "trips", str(ref), "--out", str(a), "-q"]) == 0
    cols = "start_ts=TIMESTAMP,vehicle_id=TAXI_ID,polyline=POLYLINE"
    assert main(["models", "trips", str(porto), "--columns", cols, "--polyline-step-s", "15",
                 "--out", str(b), "-q"]) == 0
    ra, rb = orjson.loads(a.read_bytes()), orjson.loads(b.read_bytes())
    assert rb["trips"] == ra["trips"] == len(rows)
    assert rb["rows_not_used"] == {"polyline with fewer than 2 points": 1,
                                   "polyline not a JSON list": 1,
                                   "polyline point not [lon, lat]": 1}
    for k in ("seat_mae_s", "provider_mae_s", "deciles"):
        assert rb[k] == ra[k], k
    capsys.readouterr()
    # without the step there is no duration: one line that names the option
    assert main(["models", "trips", str(porto), "--columns", cols, "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--polyline-step-s" in err[0], err
    assert main(["models", "trips", str(porto), "--columns", cols, "--polyline-step-s", "0",
                 "-q"]) == 2
    assert "above 0" in capsys.readouterr().err
