"""``fleetstream evaluate SCENARIO --history-days N``: score a day of an engine that ran
on (fleetstream/carry.py).

- a day recorded by a warmed engine is replayed by an engine warmed the same way to
  exactly the closed loop's outputs (so predictions are scored against the plan the
  world followed), and differs from a cold engine's;
- the carried seats have learned and are copies (a carried day can start several
  engines);
- the report says what was carried; bad combinations are refused in one line.
"""

from __future__ import annotations

import pickle
import tempfile

import orjson
import pytest

from fleetstream.carry import carry_of, warm_factory
from fleetstream.connectors.files import read_replay
from fleetstream.contract.settings import EngineSettings
from fleetstream.engine import LocalEngine, default_zone_factory
from fleetstream.evaluate import main
from fleetstream.sim.record import record


@pytest.fixture(scope="module")
def two_days(tmp_path_factory):
    d0 = str(tmp_path_factory.mktemp("day0"))
    d1 = str(tmp_path_factory.mktemp("day1"))
    sim0, _ = record("tiny", d0, 31, progress=False)
    carry = carry_of(sim0.engine)
    sim1, m1 = record("tiny", d1, 31, progress=False, day=1, warm=carry)
    return carry, sim0, sim1, d1, m1


def test_a_warm_day_replays_to_the_closed_loop_outputs(two_days):
    carry, _sim0, sim1, d1, m1 = two_days
    assert m1["scenario"]["day"] == 1
    settings = EngineSettings()
    warm = LocalEngine(settings, zone_factory=warm_factory(default_zone_factory(settings), carry))
    outs = [o for m in read_replay(d1) for o in warm.process(m)]
    assert outs == sim1.outputs
    cold = LocalEngine(settings)
    assert [o for m in read_replay(d1) for o in cold.process(m)] != sim1.outputs


def test_the_carry_has_learned_and_is_a_copy(two_days):
    carry, sim0, _sim1, _d1, _m1 = two_days
    assert set(carry) == set(sim0.engine.zones)
    for zone, (seats, customers) in carry.items():
        snap = pickle.loads(seats)
        from fleetstream.operators.estimators import ModelSeats
        restored = ModelSeats.restore(snap)
        assert restored.failure_risk.n_learned == sim0.engine.zones[zone].seats.failure_risk.n_learned > 0
        assert pickle.loads(customers) == sim0.engine.zones[zone].state.customers
    settings = EngineSettings()
    f = warm_factory(default_zone_factory(settings), carry)
    zone = sorted(carry)[0]
    a, b = f(zone), f(zone)
    assert a.seats.failure_risk is not b.seats.failure_risk
    assert a.state.customers == b.state.customers and a.state.customers is not b.state.customers


def test_evaluate_history_days_reports_what_it_carried(tmp_path, capsys, monkeypatch):
    # its simulated days go to a temporary folder of its own (test_multiseed checks that
    # evaluate leaves none behind in the shared one, and may run at the same time)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    out = str(tmp_path / "ev")
    assert main(["tiny", "--seeds", "31", "--history-days", "1", "--out", out, "-q"]) == 0
    summ = orjson.loads(open(f"{out}/summary.json", "rb").read())
    assert "1 day(s) of the same world carried" in summ["run"]["models_warm_start"]
    card = orjson.loads(open(f"{out}/scorecard.json", "rb").read())
    assert "warm" in card["seats"]
    assert "verdict" in capsys.readouterr().out


@pytest.mark.parametrize("args, msg", [
    (["tiny", "--history-days", "-1"], "--history-days must be >= 0"),
    (["tiny", "--history-days", "2", "--policies", "static"], "does not combine"),
])
def test_bad_history_days_is_one_line(args, msg, tmp_path, capsys):
    assert main(args + ["--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and msg in err[0]
