"""The simulated world's local clock (``Scenario.timezone``, fleetstream/sim/clock.py).

- a world in a zone keeps its customers' schedules (and the hours they state) in local
  time, daylight saving included; the road map's rush hours follow the same clock;
- the default (None) is the world of every earlier figure, byte for byte;
- the engine reads the stated hours right only when ``engine.timezone`` is the world's:
  the setting is worth something, and the CLI says when they differ;
- a bad zone is one line and exit 2.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from fleetstream.models.availability import risk_context

from fleetstream.evaluate import main as evaluate_main
from fleetstream.sim import availability
from fleetstream.sim.clock import check, local_s, mismatch
from fleetstream.sim.roadtruth import LOCAL_UTC_OFFSET_H
from fleetstream.sim.world import DAY0, Scenario, World

DST_2026 = 1774746000.0      # 2026-03-29 01:00 UTC: Europe/Andorra goes to UTC+2


def test_schedule_hours_are_local_hours():
    """A customer of a world in Asia/Kolkata (+5:30) is at UTC ts what the same
    customer of a UTC world is 5.5 h later; in Europe/Andorra +1 before the switch to
    summer time and +2 after it; None is UTC."""
    for cid in ("CZ1-00001", "CZ1-00002", "CZ1-00007", "CZ2-00013"):
        utc = availability.draw(7, cid, "house", False)
        ist = availability.draw(7, cid, "house", False, "Asia/Kolkata")
        ad = availability.draw(7, cid, "house", False, "Europe/Andorra")
        assert (utc.absent, utc.stated) == (ist.absent, ist.stated)   # the same schedule
        for k in range(0, 24 * 4):
            ts = DAY0 + k * 900
            assert ist.p_home(ts) == utc.p_home(ts + 5.5 * 3600)
            assert ad.p_home(ts) == utc.p_home(ts + 3600)
            later = DST_2026 + 86400 + k * 900
            assert ad.p_home(later) == utc.p_home(later + 7200)
    assert local_s(None, DAY0) == DAY0
    assert local_s("Europe/Andorra", DST_2026 - 1) == DST_2026 - 1 + 3600
    assert local_s("Europe/Andorra", DST_2026) == DST_2026 + 7200


def test_road_rush_hours_follow_the_world_clock():
    """The road map's local hour: the fixed table without a zone (every earlier
    figure), the zone's offset with one (the same in March, an hour later after the
    switch)."""
    from fleetstream.sim.roadtruth import RoadTruth

    fixed = object.__new__(RoadTruth)
    fixed.tz, fixed.utc_offset_h = None, LOCAL_UTC_OFFSET_H["andorra"]
    zoned = object.__new__(RoadTruth)
    zoned.tz, zoned.utc_offset_h = "Europe/Andorra", 99
    for h in range(24):
        ts = DAY0 + h * 3600 + 120
        assert fixed.local_hour(ts) == zoned.local_hour(ts) == (h + 1) % 24
        assert zoned.local_hour(DST_2026 + 86400 + h * 3600) == (h + 1 + 2) % 24


def test_default_world_is_unchanged_and_the_zone_is_in_the_manifest():
    """timezone None draws the world it drew before (same schedules, same
    probabilities) and is not in the scenario's fields; a zone is."""
    sc = Scenario.preset("tiny")
    assert "timezone" not in sc.fields()
    assert replace(sc, timezone="Europe/Andorra").fields()["timezone"] == "Europe/Andorra"
    a, b = World(sc), World(replace(sc, timezone="Europe/Andorra"))
    assert [c.avail.stated for c in a.customers] == [c.avail.stated for c in b.customers]
    assert [c.avail.tz for c in a.customers] == [None] * len(a.customers)
    assert {c.avail.tz for c in b.customers} == {"Europe/Andorra"}
    for ca, cb in zip(a.customers, b.customers):
        assert ca.p_home(DAY0 + 9 * 3600) == cb.p_home(DAY0 + 8 * 3600)


def test_the_engine_reads_stated_hours_right_only_in_the_world_zone():
    """On a world in Asia/Kolkata, outside the hours a customer states nobody answers
    the door (the world's truth, 1 - p_home) six times as often as inside them when
    engine.timezone is the world's zone, less than twice as often when the engine reads
    the hours in UTC: what the setting is worth."""
    w = World(replace(Scenario.preset("small"), timezone="Asia/Kolkata"))
    ratio = {}
    for tz in ("Asia/Kolkata", "UTC"):
        absent = {0: [0.0, 0], 1: [0.0, 0]}
        for c in w.customers:
            prof = c.avail.profile()
            if "available_hours" not in prof:
                continue
            for h in range(24):
                ts = DAY0 + h * 3600 + 1800
                a = absent[risk_context(prof, ts, tz)["stated_in"]]
                a[0] += 1.0 - c.p_home(ts)
                a[1] += 1
        assert min(absent[0][1], absent[1][1]) > 1000
        ratio[tz] = (absent[0][0] / absent[0][1]) / (absent[1][0] / absent[1][1])
    assert ratio["Asia/Kolkata"] > 4.0 and ratio["UTC"] < 2.0, ratio


def test_check_and_mismatch():
    assert check("Europe/Andorra") == "Europe/Andorra"
    for bad in ("Mars/Base", "", "../etc/passwd"):
        with pytest.raises(ValueError, match="unknown time zone"):
            check(bad)
    assert mismatch(None, "Etc/UTC") is None
    assert "engine reads hours in UTC" in mismatch("Asia/Kolkata", "UTC")
    assert "world keeps UTC" in mismatch(None, "Europe/Andorra")


def test_cli_refuses_a_bad_zone_in_one_line(capsys):
    assert evaluate_main(["tiny", "--world-timezone", "Mars/Base", "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown time zone 'Mars/Base'" in err[0]


def test_evaluate_notes_a_recorded_world_in_another_zone(tmp_path, capsys):
    """A simulated folder whose world keeps another zone's time than engine.timezone:
    `evaluate` says so in one note line before scoring (and says nothing when they
    agree)."""
    from fleetstream.sim.record import simulate_to

    day = tmp_path / "day"
    simulate_to("tiny", str(day), progress=False, timezone="Asia/Kolkata")
    assert evaluate_main([str(day), "--out", str(tmp_path / "ev")]) == 0
    err = capsys.readouterr().err
    assert "note: the simulated world keeps Asia/Kolkata time, the engine reads hours in UTC" \
        in err
    cfg = tmp_path / "ist.toml"
    cfg.write_text('[engine]\ntimezone = "Asia/Kolkata"\n')
    assert evaluate_main([str(day), "--out", str(tmp_path / "ev2"), "--config", str(cfg)]) == 0
    assert "note:" not in capsys.readouterr().err


def test_evaluate_report_names_the_world_clock(tmp_path):
    """A scenario scored on a world in a zone says so in the report's run description."""
    import orjson

    out = tmp_path / "ev"
    assert evaluate_main(["tiny", "--world-timezone", "Asia/Kolkata", "--config",
                          _ist(tmp_path), "--out", str(out), "-q"]) == 0
    assert "world on Asia/Kolkata time" in orjson.dumps(
        orjson.loads((out / "summary.json").read_bytes())).decode()


def _ist(tmp_path) -> str:
    cfg = tmp_path / "ist_engine.toml"
    cfg.write_text('[engine]\ntimezone = "Asia/Kolkata"\n')
    return str(cfg)
