"""Models inside the engine: no label leakage, determinism, recovery, export/import
with version refusal, warm start, the models command and the evaluate scorecard."""

from __future__ import annotations

import copy
import os

import orjson
import pytest

from fleetstream.connectors.files import read_replay
from fleetstream.engine import LocalEngine
from fleetstream.contract.settings import EngineSettings
from fleetstream.wiring import build_seats, build_zone_engine, restore_zone_engine
from fleetstream.models.store import SnapshotVersionError, export_seats, load_all, load_zone_seats
from fleetstream.operators.estimators import ModelSeats


class Recorder:
    """Wraps a seat: remembers every features dict it predicted on (and a deep copy),
    and checks at learning time that it learns from exactly such a dict, unchanged."""

    def __init__(self, seat, log: dict):
        self.seat, self.log = seat, log

    def __getattr__(self, name):
        return getattr(self.seat, name)

    def _seen(self, x):
        self.log.setdefault(id(x), (x, copy.deepcopy(x)))

    def _check(self, x):
        assert id(x) in self.log, "learned from features it never predicted on"
        kept, frozen = self.log[id(x)]
        assert kept is x and x == frozen, "captured features changed after the prediction"
        self.log["_checked"] = self.log.get("_checked", 0) + 1

    def interval(self, x):
        self._seen(x)
        return self.seat.interval(x)

    def update(self, x, r):
        self._check(x)
        return self.seat.update(x, r)

    def predict_proba(self, x):
        self._seen(x)
        return self.seat.predict_proba(x)

    def learn(self, x, y):
        self._check(x)
        return self.seat.learn(x, y)


def run(replay: str, factory=None, settings=None, upto: int | None = None) -> tuple[LocalEngine, list]:
    settings = settings or EngineSettings()
    eng = LocalEngine(settings, zone_factory=factory or (lambda z: build_zone_engine(z, settings)))
    out = []
    for i, msg in enumerate(read_replay(replay)):
        if upto is not None and i >= upto:
            break
        out.extend(eng.process(msg))
    return eng, out


def test_models_learn_only_from_features_captured_at_prediction_time(tiny):
    log: dict = {}
    s = EngineSettings()

    def factory(zone):
        e = build_zone_engine(zone, s)
        seats = e.seats
        e.seats = ModelSeats(eta=seats.eta, intervals=Recorder(seats.intervals, log),
                             late_risk=Recorder(seats.late_risk, log),
                             failure_risk=Recorder(seats.failure_risk, log))
        return e

    run(tiny.path, factory)
    assert log.get("_checked", 0) > 50


def test_predictions_do_not_depend_on_later_events(tiny):
    events = sum(1 for _ in read_replay(tiny.path))
    k = events // 2
    _, prefix = run(tiny.path, upto=k)
    _, full = run(tiny.path)
    assert len(prefix) > 0 and full[:len(prefix)] == prefix


def test_learned_seats_are_used_and_learn(tiny):
    eng, out = run(tiny.path)
    z = next(iter(eng.zones.values()))
    v = z.seats.versions()
    assert v["eta"]["version"].startswith("eta-linear") and v["eta"]["n"] > 0
    assert v["intervals"]["n"] > 0 and v["late_risk"]["n"] > 0 and v["failure_risk"]["n"] > 0
    etas = [r for t, _k, r in out if t == "fs.eta"]
    assert etas and all(r["lo95"] <= r["lo80"] <= r["eta"] <= r["hi80"] <= r["hi95"] for r in etas)
    assert etas[-1]["models"]["eta"]["n"] > 0


def test_same_events_same_outputs(tiny):
    assert run(tiny.path)[1] == run(tiny.path)[1]


def test_recovery_mid_stream_continues_identically(tiny):
    s = EngineSettings()
    msgs = list(read_replay(tiny.path))
    k = len(msgs) * 2 // 3
    whole, _ = LocalEngine(s), None
    out_whole = [o for m in msgs for o in whole.process(m)]
    a = LocalEngine(s)
    out = [o for m in msgs[:k] for o in a.process(m)]
    # what a Bytewax snapshot does: the zone state (models included) as bytes
    b = LocalEngine(s)
    b.trackers = a.trackers
    b.zones = {zn: restore_zone_engine(z.snapshot(), s) for zn, z in a.zones.items()}
    out += [o for m in msgs[k:] for o in b.process(m)]
    assert out == out_whole
    z = next(iter(b.zones.values()))
    assert type(z.seats.eta).__module__ == "fleetstream.models.eta"


def test_baseline_seats_on_request():
    seats = build_seats("Z1", EngineSettings(), kind="baseline")
    assert seats.versions()["eta"]["version"] == "eta-provider-1"
    with pytest.raises(ValueError):
        build_seats("Z1", EngineSettings(), kind="nope")


@pytest.fixture(scope="module")
def exported(tiny, tmp_path_factory):
    from fleetstream.models_cmd import export_from_replay
    d = str(tmp_path_factory.mktemp("models"))
    m = export_from_replay(tiny.path, d)
    return d, m


def test_export_writes_manifest_with_versions(exported):
    d, m = exported
    import platform

    import river
    with open(os.path.join(d, "manifest.json"), "rb") as f:
        disk = orjson.loads(f.read())
    assert disk == m
    assert m["schema_version"] == 1 and m["river"] == river.__version__
    assert m["python"] == ".".join(platform.python_version_tuple()[:2])
    for zone, info in m["zones"].items():
        assert os.path.getsize(os.path.join(d, info["file"])) == info["bytes"]
        assert info["seats"]["eta"]["n"] > 0


def test_warm_start_restores_what_was_exported(exported, tiny):
    d, m = exported
    zone = next(iter(m["zones"]))
    seats = build_seats(zone, EngineSettings(), models_dir=d)
    assert seats.versions() == m["zones"][zone]["seats"]
    again = load_all(d)[zone]
    x = {"dist_km": 2.0, "provider_s": 300.0, "hour": 9.5, "dow": 1, "zone": zone,
         "vehicle_type": "van", "fleet_type": "captive", "driver_pace": 1.1,
         "condition_factor": 1.0, "stops_ahead": 0, "speed_kmh": 20.0}
    assert seats.eta.predict_ratio(x) == again.eta.predict_ratio(x) != 1.0
    assert load_zone_seats(d, "no-such-zone") is None
    cold = build_seats("no-such-zone", EngineSettings(), models_dir=d)
    assert cold.versions()["eta"]["n"] == 0


def _tamper(src: str, dst: str, **changes) -> None:
    import shutil
    shutil.copytree(src, dst)
    p = os.path.join(dst, "manifest.json")
    with open(p, "rb") as f:
        m = orjson.loads(f.read())
    m.update(changes)
    with open(p, "wb") as f:
        f.write(orjson.dumps(m))


@pytest.mark.parametrize("change,words", [
    ({"river": "0.21.0"}, "river '0.21.0'"),
    ({"python": "3.9"}, "Python '3.9'"),
    ({"schema_version": 99}, "schema_version 99"),
])
def test_version_mismatch_is_refused_clearly(exported, tmp_path, change, words):
    d, m = exported
    bad = str(tmp_path / "bad")
    _tamper(d, bad, **change)
    zone = next(iter(m["zones"]))
    with pytest.raises(SnapshotVersionError) as e:
        build_seats(zone, EngineSettings(), models_dir=bad)
    assert words in str(e.value) and "refused" in str(e.value)


def test_damaged_snapshot_is_refused(exported, tmp_path):
    d, m = exported
    import shutil
    bad = str(tmp_path / "bad")
    shutil.copytree(d, bad)
    info = next(iter(m["zones"].values()))
    with open(os.path.join(bad, info["file"]), "ab") as f:
        f.write(b"x")
    with pytest.raises(SnapshotVersionError, match="checksum"):
        load_all(bad)


def test_models_command_info_import_and_refusal(exported, tmp_path, capsys):
    from fleetstream.cli import main
    d, m = exported
    assert main(["models", "info", d]) == 0
    out = orjson.loads(capsys.readouterr().out)
    assert out["loadable"] and set(out["metrics"]) == set(m["zones"])
    dst = str(tmp_path / "imported")
    assert main(["models", "import", d, "--out", dst]) == 0
    assert load_all(dst).keys() == m["zones"].keys()
    bad = str(tmp_path / "bad")
    _tamper(d, bad, river="0.1.0")
    capsys.readouterr()
    assert main(["models", "import", bad, "--out", str(tmp_path / "x")]) == 2
    assert "refused" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "x" / "manifest.json")


def test_export_seats_round_trip(tmp_path):
    from fleetstream.models.seats import learned_seats
    d = str(tmp_path / "m")
    export_seats({"A": learned_seats("A"), "B": ModelSeats()}, d)
    got = load_all(d)
    assert type(got["A"].eta).__name__ == "RiverEta"
    assert got["B"].versions()["eta"]["version"] == "eta-provider-1"


def test_evaluate_scorecard_and_report(tiny, tmp_path):
    from fleetstream.evaluate import evaluate
    out = str(tmp_path / "ev")
    card = evaluate(tiny.path, out, progress=False)
    assert card["predictions_scored"] > 0
    for lvl in ("80", "95"):
        assert 0.0 <= card["intervals"][lvl]["coverage"] <= 1.0
    assert card["intervals"]["95"]["mean_width_s"] > card["intervals"]["80"]["mean_width_s"]
    assert card["eta"]["plan_held"]["n"] <= card["predictions_scored"]
    assert set(card["by_zone"]) and set(card["by_hour"]) and set(card["by_horizon"])
    assert set(card["online_metrics"]) == set(card["by_zone"])
    with open(os.path.join(out, "scorecard.json"), "rb") as f:
        assert orjson.loads(f.read())["predictions_scored"] == card["predictions_scored"]
    with open(os.path.join(out, "report.html"), encoding="utf-8") as f:
        html = f.read()
    assert html.count("<svg") >= 4 and "By zone" in html
    base = evaluate(tiny.path, str(tmp_path / "b"), progress=False, seats="baseline")
    assert base["engine"]["models"]["eta"]["version"] == "eta-provider-1"
    assert base["eta"]["model"]["mae_s"] == base["eta"]["provider"]["mae_s"]
