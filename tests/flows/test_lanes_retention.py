"""The lane router's id -> zone map (flows/lanes.py, ``--lanes N>1``) forgets entities
on the stage-1 tracker's horizon, by event time, with a clock that far-future events
cannot poison; its snapshot is versioned and the old one still restores."""

from __future__ import annotations

import orjson

from fleetstream.contract.message import InMsg
from fleetstream.contract.settings import LimitsSettings
from fleetstream.flows.lanes import LaneRouter, zone_lane

T0 = 1_772_400_000.0
DAY = 86_400.0


def _shift(seq: int, vid: str, ts: float, zone: str = "Z1") -> InMsg:
    ev = {"type": "shift_start", "event_id": f"s{seq}", "ts": ts, "v": 1,
          "vehicle_id": vid, "driver_id": "d" + vid, "zone": zone, "fleet_type": "gig",
          "vehicle_type": "car", "capacity": {"weight_kg": 100, "volume_l": 500},
          "start": {"lat": 1, "lon": 1}, "end": {"lat": 1, "lon": 1},
          "shift_end_ts": ts + 8 * 3600, "cost_per_km": 0.5, "cost_per_hour": 20}
    return InMsg(seq, "fs.fleet", vid, orjson.dumps(ev))


def _ping(seq: int, vid: str, ts: float) -> InMsg:
    ev = {"type": "ping", "event_id": f"p{seq}", "ts": ts, "v": 1, "vehicle_id": vid,
          "lat": 1, "lon": 1, "speed_kmh": 0, "heading": 0}
    return InMsg(seq, "fs.telemetry", vid, orjson.dumps(ev))


def _churn(r: LaneRouter, days: int, per_day: int = 200, start_seq: int = 0) -> int:
    """``per_day`` new vehicles a day, each pinging a few times: returns the next seq."""
    seq = start_seq
    for d in range(days):
        for i in range(per_day):
            ts = T0 + d * DAY + i * (DAY / per_day)
            vid = f"V{d}-{i}"
            r.lane(_shift(seq, vid, ts))
            seq += 1
            for k in range(3):
                r.lane(_ping(seq, vid, ts + 60 * (k + 1)))
                seq += 1
    return seq


def test_a_long_churning_stream_keeps_the_map_bounded():
    r = LaneRouter(4)
    _churn(r, days=20)
    # retention_s (2 days) + shift (8 h) + skew margin (6 h) + a sweep: at most ~3 days
    assert len(r.zones) <= 3 * 200 + 50, len(r.zones)
    assert r.forgotten >= 16 * 200
    assert set(r.keep) == set(r.zones)


def test_a_far_future_event_forgets_nothing():
    r = LaneRouter(2)
    seq = _churn(r, days=1, per_day=50)
    n = len(r.zones)
    r.lane(_ping(seq, "V0-1", T0 + 400 * DAY))          # one bit-flipped ts
    r.lane(_ping(seq + 1, "V0-1", T0 + 401 * DAY))      # the same vehicle again
    r.lane(_ping(seq + 2, "V0-2", T0 + DAY))            # the stream goes on
    r.lane(_shift(seq + 4, "X", T0 + 400 * DAY))        # a far-future shift
    r.lane(_ping(seq + 5, "V0-2", T0 + DAY + 2))        # ends the run of aheads
    assert len(r.zones) == n + 1
    assert r.marks.value < T0 + 2 * DAY
    # every entity still goes to its zone's lane
    assert r.lane(_ping(seq + 3, "V0-3", T0 + DAY + 1)) == zone_lane("Z1", 2)


def test_an_entity_heard_of_is_kept():
    """The clock moves with decoded creation events (new shifts every hour); a vehicle
    that keeps pinging is kept, one never heard of again is forgotten."""
    r = LaneRouter(2)
    r.lane(_shift(0, "OLD", T0))
    r.lane(_shift(1, "GONE", T0))
    seq = 2
    for d in range(10):
        for h in range(24):
            ts = T0 + d * DAY + h * 3600 + 1
            r.lane(_shift(seq, f"N{d}-{h}", ts))
            r.lane(_ping(seq + 1, "OLD", ts + 1))
            seq += 2
    assert "v:OLD" in r.zones and "v:GONE" not in r.zones
    assert r.lane(_ping(seq, "OLD", T0 + 10 * DAY)) == zone_lane("Z1", 2)


def test_malformed_or_non_creating_events_do_not_move_the_clock():
    r = LaneRouter(2)
    r.lane(_shift(0, "A", T0))
    for i in range(200):  # a flood of pings dated ahead (within the skew) moves nothing
        r.lane(_ping(1 + i, "A", T0 + 3 * 3600 + i))
        bad = InMsg(1000 + i, "fs.fleet", "x", orjson.dumps(
            {"type": "shift_start", "event_id": f"b{i}", "ts": T0 + 5 * 3600 + i}))
        r.lane(bad)  # not a valid shift_start: the tracker dead-letters it
    assert r.marks.value == T0


def test_quiet_periods_rebase_like_the_tracker():
    r = LaneRouter(2, limits=LimitsSettings(skew_rebase_events=2))
    r.lane(_shift(0, "A", T0))
    r.lane(_shift(1, "B", T0))
    r.lane(_shift(2, "A", T0 + 5 * DAY))   # next shift, one ahead: not enough
    assert r.marks.value < T0 + DAY
    r.lane(_ping(3, "B", T0 + 5 * DAY + 1))  # pings do not count
    assert r.marks.value < T0 + DAY
    r.lane(_shift(4, "B", T0 + 5 * DAY + 2))  # a second entity: the stream moved on
    # rebased to the earliest of the run, which is accepted too (the tracker's rule)
    assert r.marks.value == T0 + 5 * DAY


def test_snapshot_round_trip_and_v1_restores():
    r = LaneRouter(3)
    seq = _churn(r, days=4, per_day=30)
    snap = orjson.loads(orjson.dumps(r.snapshot()))
    assert snap["v"] == 2
    r2 = LaneRouter.restore(snap)
    assert r2.zones == r.zones and r2.keep == r.keep and r2.marks.value == r.marks.value
    _churn(r, days=2, per_day=30, start_seq=seq)
    _churn(r2, days=2, per_day=30, start_seq=seq)
    assert r2.snapshot() == r.snapshot()
    # a v1 snapshot (zones only) restores and its entries are forgotten eventually
    old = LaneRouter.restore({"v": 1, "lanes": 2, "zones": {"v:OLD": "Z7"}})
    assert old.lane(_ping(0, "OLD", T0)) == zone_lane("Z7", 2)
    _churn(old, days=6, per_day=10, start_seq=1)
    assert "v:OLD" not in old.zones
