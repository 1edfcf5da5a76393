"""Settings: defaults < TOML file < FLEETSTREAM_<SECTION>__<KEY> environment <
explicit overrides; values are typed; bad values are rejected with an error that
names the setting (docs/configuration.md: "An unknown key is an error, not a
silent no-op").  These once pinned gaps in fleetstream/settings.py as xfail(strict); all are fixed."""

from __future__ import annotations

import pytest

from fleetstream.contract.settings import EngineSettings, Settings

TOML = """\
workers = 2

[engine]
sweep_interval_s = 30
autonomy_reroute = "propose"
late_risk_on = 0.7
max_insert_candidates = 5

[kafka]
bootstrap = "broker:9092"
output_prefix = "shadow."
config = { "security.protocol" = "SASL_SSL" }

[redis]
url = "redis://127.0.0.1:16379/0"
ttl_s = 600
"""


@pytest.fixture
def toml_file(tmp_path):
    p = tmp_path / "fleetstream.toml"
    p.write_text(TOML)
    return str(p)


def test_defaults_without_file_or_env():
    s = Settings.load(None, env={})
    assert s == Settings()
    assert s.engine.sweep_interval_s == 60.0 and s.workers == 1


def test_toml_file_sets_every_section(toml_file):
    s = Settings.load(toml_file, env={})
    assert s.workers == 2
    assert s.engine.sweep_interval_s == 30.0 and type(s.engine.sweep_interval_s) is float
    assert s.engine.autonomy("reroute") == "propose" and s.engine.autonomy("assign") == "auto"
    assert s.engine.late_risk_on == 0.7 and s.engine.max_insert_candidates == 5
    assert s.kafka.bootstrap == "broker:9092" and s.kafka.output_prefix == "shadow."
    assert s.kafka.config == {"security.protocol": "SASL_SSL"}
    assert s.redis.url.startswith("redis://") and s.redis.ttl_s == 600
    # untouched settings keep their defaults
    assert s.engine.eta_refresh_s == EngineSettings().eta_refresh_s


def test_env_overrides_file_and_is_typed(toml_file):
    env = {"FLEETSTREAM_ENGINE__SWEEP_INTERVAL_S": "45",
           "FLEETSTREAM_ENGINE__MAX_INSERT_CANDIDATES": "3",
           "FLEETSTREAM_KAFKA__BOOTSTRAP": "other:9093",
           "FLEETSTREAM_KAFKA__CONFIG": '{"sasl.mechanism": "PLAIN"}',
           "FLEETSTREAM_REDIS__TTL_S": "60",
           "FLEETSTREAM_KAFKA_BOOTSTRAP": "old:1",   # deprecated spelling: the new one wins
           "OTHER__X": "1"}
    s = Settings.load(toml_file, env=env)
    assert s.engine.sweep_interval_s == 45.0 and type(s.engine.sweep_interval_s) is float
    assert s.engine.max_insert_candidates == 3 and type(s.engine.max_insert_candidates) is int
    assert s.kafka.bootstrap == "other:9093"
    assert s.kafka.config == {"sasl.mechanism": "PLAIN"}
    assert s.redis.ttl_s == 60
    assert s.engine.late_risk_on == 0.7  # from the file, not overridden


def test_overrides_beat_env(toml_file):
    s = Settings.load(toml_file, env={"FLEETSTREAM_ENGINE__SWEEP_INTERVAL_S": "45"},
                      overrides={"engine.sweep_interval_s": "15"})
    assert s.engine.sweep_interval_s == 15.0


def test_process_environment_is_read(monkeypatch):
    monkeypatch.setenv("FLEETSTREAM_ENGINE__LATE_RISK_ON", "0.8")
    assert Settings.load(None).engine.late_risk_on == 0.8


@pytest.mark.parametrize("env,needle", [
    ({"FLEETSTREAM_ENGINE__AUTONOMY_ASSIGN": "sometimes"}, "autonomy_assign"),
    ({"FLEETSTREAM_ENGINE__LATE_RISK_ON": "1.5"}, "late_risk_on"),
    ({"FLEETSTREAM_ENGINE__LATE_RISK_ON": "0"}, "late_risk_on"),
    ({"FLEETSTREAM_ENGINE__LATE_RISK_OFF": "0.9"}, "late_risk_off"),
    ({"FLEETSTREAM_ENGINE__SWEEP_INTERVAL_S": "0"}, "sweep_interval_s"),
    ({"FLEETSTREAM_ENGINE__ETA_REFRESH_S": "-1"}, "eta_refresh_s"),
    ({"FLEETSTREAM_ENGINE__STALE_VEHICLE_S": "0"}, "stale_vehicle_s"),
    ({"FLEETSTREAM_ENGINE__MAX_INSERT_CANDIDATES": "0"}, "max_insert_candidates"),
    ({"FLEETSTREAM_ENGINE__SWEEP_INTERVALS": "30"}, "sweep_intervals"),
    ({"FLEETSTREAM_KAFKA__BOOTSTRAPS": "x"}, "bootstraps"),
])
def test_bad_values_are_rejected_naming_the_setting(env, needle):
    with pytest.raises(ValueError) as err:
        Settings.load(None, env=env)
    assert needle in str(err.value)


def test_unknown_key_in_file_is_rejected(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text("[engine]\nsweep_intervall_s = 30\n")
    with pytest.raises(ValueError, match="unknown setting engine.sweep_intervall_s"):
        Settings.load(str(p), env={})


def test_missing_file_is_an_error():
    with pytest.raises(FileNotFoundError):
        Settings.load("/nonexistent/fleetstream.toml", env={})


# ------------------------------------------------------------- gaps (settings.py)


@pytest.mark.parametrize("source", ["file", "env"])
def test_unknown_section_is_rejected(tmp_path, source):
    if source == "file":
        p = tmp_path / "typo.toml"
        p.write_text("[engien]\nsweep_interval_s = 5\n")
        load = lambda: Settings.load(str(p), env={})  # noqa: E731
    else:
        load = lambda: Settings.load(None, env={"FLEETSTREAM_ENGIEN__SWEEP_INTERVAL_S": "5"})  # noqa: E731,E501
    with pytest.raises(ValueError, match="engien"):
        load()


def test_workers_override_is_applied_or_rejected():
    try:
        s = Settings.load(None, env={}, overrides={"workers": "2"})
    except ValueError:
        return
    assert s.workers == 2


@pytest.mark.parametrize("env,needle", [
    ({"FLEETSTREAM_ENGINE__SWEEP_INTERVAL_S": "fast"}, "sweep_interval_s"),
    ({"FLEETSTREAM_KAFKA__PARTITIONS": "four"}, "partitions"),
    ({"FLEETSTREAM_KAFKA__CONFIG": "not json"}, "config"),
])
def test_unparsable_value_error_names_the_setting(env, needle):
    with pytest.raises(ValueError) as err:
        Settings.load(None, env=env)
    assert needle in str(err.value)


@pytest.mark.parametrize("env", [
    {"FLEETSTREAM_ENGINE__PROPOSAL_TTL_S": "-1"},
    {"FLEETSTREAM_ENGINE__SWEEP_INTERVAL_S": "inf"},
    {"FLEETSTREAM_ENGINE__PLAN_TIME_FACTOR": "0"},
    {"FLEETSTREAM_KAFKA__PARTITIONS": "0"},
    {"FLEETSTREAM_REDIS__TTL_S": "-5"},
], ids=["negative-ttl", "infinite-sweep", "zero-plan-factor", "zero-partitions",
        "negative-redis-ttl"])
def test_out_of_range_values_are_rejected(env):
    with pytest.raises(ValueError):
        Settings.load(None, env=env)


def test_boolean_for_a_number_is_rejected(tmp_path):
    p = tmp_path / "b.toml"
    p.write_text("[engine]\nsweep_interval_s = true\n")
    with pytest.raises(ValueError, match="sweep_interval_s"):
        Settings.load(str(p), env={})


def test_json_settings_file_loads_or_is_rejected_clearly(tmp_path):
    p = tmp_path / "fleetstream.json"
    p.write_text('{"engine": {"sweep_interval_s": 30}, "workers": 2}')
    try:
        s = Settings.load(str(p), env={})
    except ValueError as e:
        assert str(p) in str(e)
        return
    assert s.engine.sweep_interval_s == 30.0 and s.workers == 2


# ------------------------------------------------------------- [limits] (docs/limits.md)


def test_limits_section_loads_from_file_env_and_overrides(tmp_path):
    from fleetstream.contract.settings import LimitsSettings
    p = tmp_path / "l.toml"
    p.write_text("[limits]\nmax_message_bytes = 65536\nevent_skew_s = 7200\n")
    s = Settings.load(str(p), env={"FLEETSTREAM_LIMITS__SKEW_REBASE_EVENTS": "3"},
                      overrides={"limits.min_event_ts": "1600000000"})
    assert s.limits == LimitsSettings(max_message_bytes=65536, event_skew_s=7200.0,
                                      skew_rebase_events=3, min_event_ts=1.6e9)
    assert Settings.load(None, env={}).limits == LimitsSettings()


@pytest.mark.parametrize("env,needle", [
    ({"FLEETSTREAM_LIMITS__MAX_MESSAGE_BYTES": "100"}, "max_message_bytes"),
    ({"FLEETSTREAM_LIMITS__MAX_MESSAGE_BYTES": "1.5e6"}, "max_message_bytes"),
    ({"FLEETSTREAM_LIMITS__EVENT_SKEW_S": "0"}, "event_skew_s"),
    ({"FLEETSTREAM_LIMITS__EVENT_SKEW_S": "nan"}, "event_skew_s"),
    ({"FLEETSTREAM_LIMITS__SKEW_REBASE_EVENTS": "-1"}, "skew_rebase_events"),
    ({"FLEETSTREAM_LIMITS__PING_LEAD_S": "0"}, "ping_lead_s"),
    ({"FLEETSTREAM_LIMITS__MIN_EVENT_TS": "5e9"}, "min_event_ts"),
    ({"FLEETSTREAM_LIMITS__MAX_EVENT_TSS": "1"}, "max_event_tss"),
])
def test_bad_limits_are_rejected_naming_the_setting(env, needle):
    with pytest.raises(ValueError) as err:
        Settings.load(None, env=env)
    assert needle in str(err.value)


# ------------------------------------------------- ranges and secrets (issue #11, item 5/6)


@pytest.mark.parametrize("env,needle", [
    ({"FLEETSTREAM_ENGINE__INTERVAL_Z95": "-3"}, "interval_z95"),
    ({"FLEETSTREAM_ENGINE__INTERVAL_Z95": "1.0"}, "interval_z95"),   # below z80 (1.2816)
    ({"FLEETSTREAM_ENGINE__INTERVAL_Z95": "1.2816"}, "interval_z95"),  # equal to z80
    ({"FLEETSTREAM_ENGINE__INTERVAL_Z80": "-1"}, "interval_z80"),
    ({"FLEETSTREAM_ENGINE__FAILURE_RISK_ON": "1.5"}, "failure_risk_on"),
    ({"FLEETSTREAM_ENGINE__FAILURE_RISK_ON": "-0.1"}, "failure_risk_on"),
    ({"FLEETSTREAM_ENGINE__LATE_RISK_OFF": "-0.2"}, "late_risk_off"),
    ({"FLEETSTREAM_ENGINE__BALANCE_COST_PER_STOP": "-1"}, "balance_cost_per_stop"),
    ({"FLEETSTREAM_ENGINE__SOLVER_WORKERS": "-2"}, "solver_workers"),
    ({"FLEETSTREAM_ENGINE__PLAN_TIME_FACTOR": "nan"}, "plan_time_factor"),
    ({"FLEETSTREAM_ENGINE__ROUTING_PLAN_BACKEND": "gurobi"}, "routing_plan_backend"),
    ({"FLEETSTREAM_REDIS__STREAM_MAXLEN": "0"}, "stream_maxlen"),
], ids=lambda v: v if isinstance(v, str) else next(iter(v.values())))
def test_every_numeric_setting_has_a_checked_range(env, needle):
    """interval_z95 must be a positive z-score above interval_z80 (issue #11: -3 was
    accepted); probabilities lie in [0, 1]; counts and costs have a minimum."""
    with pytest.raises(ValueError) as err:
        Settings.load(None, env=env)
    assert needle in str(err.value)


def test_every_engine_setting_has_a_documented_range():
    """Each [engine] key appears in docs/configuration.md with its valid range."""
    import dataclasses
    import os
    doc = open(os.path.join(os.path.dirname(__file__), "..", "..", "docs",
                            "configuration.md"), encoding="utf-8").read()
    rows = {line.split("|")[1].strip(): line for line in doc.splitlines()
            if line.startswith("| `")}
    missing = []
    for f in dataclasses.fields(EngineSettings):
        row = next((r for k, r in rows.items() if f"`{f.name}`" in k), None)
        if row is None or len(row.split("|")) < 6:  # key | default | range | meaning
            missing.append(f.name)
    assert not missing, f"no documented range for: {missing}"


SECRET = "hunter2-S3cr3t!"


@pytest.mark.parametrize("env", [
    {"FLEETSTREAM_KAFKA__CONFIG": '{"sasl.password": "' + SECRET + '"'},   # truncated JSON
    {"FLEETSTREAM_KAFKA__CONFIG": SECRET},                                  # not JSON
    {"FLEETSTREAM_KAFKA__CONFIG": '["' + SECRET + '"]'},                    # not an object
    {"FLEETSTREAM_KAFKA__CONFIG": '{"sasl.password": ["' + SECRET + '"]}'},  # not a string value
    {"FLEETSTREAM_REDIS__URL": "{" + SECRET},
    {"FLEETSTREAM_REDIS__TTL_S": SECRET},
    {"FLEETSTREAM_KAFKA__PARTITIONS": SECRET},
], ids=["truncated", "not-json", "list", "nested", "redis-url", "redis-ttl", "partitions"])
def test_a_malformed_secret_bearing_setting_never_echoes_its_value(env):
    """Issue #11: a malformed FLEETSTREAM_KAFKA__CONFIG echoed its content, password
    included.  Errors about kafka/redis settings name the setting, never the value."""
    try:
        Settings.load(None, env=env)
    except ValueError as e:
        msg = str(e) + repr(e.__cause__) + repr(e.__context__)
        assert SECRET not in msg and "hunter2" not in msg, msg
        assert next(iter(env)).split("__")[1].lower() in str(e), str(e)
        return
    if "REDIS__URL" in next(iter(env)):
        pytest.fail("a redis url that is not a redis:// URL was accepted")
    pytest.fail("malformed value accepted")


def test_a_kafka_config_from_a_toml_file_with_a_bad_type_names_the_key_only(tmp_path):
    p = tmp_path / "k.toml"
    p.write_text(f'[kafka]\nconfig = "{SECRET}"\nbootstrap = ["{SECRET}"]\n')
    with pytest.raises(ValueError) as err:
        Settings.load(str(p), env={})
    assert SECRET not in str(err.value) and "kafka." in str(err.value)


def test_unknown_key_error_uses_the_section_name_the_user_wrote(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text("[engine]\nsweep_intervall_s = 30\n")
    with pytest.raises(ValueError, match=r"engine\.sweep_intervall_s"):
        Settings.load(str(p), env={})


def test_the_toml_examples_in_the_docs_load(tmp_path):
    """Every ```toml block of docs/configuration.md and docs/operations.md is a valid
    settings file (issue #11: a documented example was rejected by --config)."""
    import os
    import re
    docs = os.path.join(os.path.dirname(__file__), "..", "..", "docs")
    n = 0
    for name in ("configuration.md", "operations.md"):
        text = open(os.path.join(docs, name), encoding="utf-8").read()
        for i, block in enumerate(re.findall(r"```toml\n(.*?)```", text, re.S)):
            p = tmp_path / f"{name}-{i}.toml"
            p.write_text(block)
            Settings.load(str(p), env={})
            n += 1
    assert n >= 1


# ------------------------------------------------------- one environment convention


def test_one_precedence_for_every_section_environment_over_file(toml_file):
    """Kafka and Redis alike (they once had opposite precedence): file < environment
    < overrides, in the new spelling and in the deprecated one."""
    from fleetstream.contract.settings import read_environment
    for env in ({"FLEETSTREAM_KAFKA__BOOTSTRAP": "env:1", "FLEETSTREAM_REDIS__URL": "redis://env/0"},
                {"FLEETSTREAM_KAFKA_BOOTSTRAP": "env:1", "FLEETSTREAM_REDIS_URL": "redis://env/0"}):
        s = Settings.load(toml_file, env=env)
        assert s.kafka.bootstrap == "env:1" and s.redis.url == "redis://env/0", env
        s = Settings.load(toml_file, env=env, overrides={"kafka.bootstrap": "flag:1",
                                                         "redis.url": "redis://flag/0"})
        assert s.kafka.bootstrap == "flag:1" and s.redis.url == "redis://flag/0"
    both = {"FLEETSTREAM_REDIS_URL": "redis://old/0", "FLEETSTREAM_REDIS__URL": "redis://new/0"}
    assert Settings.load(None, env=both).redis.url == "redis://new/0"
    flat, notes = read_environment(both)
    assert flat == {"redis.url": "redis://new/0"}
    assert len(notes) == 1 and "FLEETSTREAM_REDIS_URL is deprecated and ignored" in notes[0]
    assert "old/0" not in notes[0]
    # the same value in both spellings: nothing depends on the old one, no warning
    same = {"FLEETSTREAM_KAFKA_BOOTSTRAP": "h:1", "FLEETSTREAM_KAFKA__BOOTSTRAP": "h:1"}
    assert read_environment(same) == ({"kafka.bootstrap": "h:1"}, [])


def test_the_deprecated_spelling_warns_once_naming_the_new_one_never_the_value():
    from fleetstream.contract.settings import read_environment
    flat, notes = read_environment({"FLEETSTREAM_KAFKA_BOOTSTRAP": "secret-host:9",
                                    "FLEETSTREAM_REDIS_URL": "redis://:pw-77@h/0"})
    assert flat == {"kafka.bootstrap": "secret-host:9", "redis.url": "redis://:pw-77@h/0"}
    assert len(notes) == 2 and all(len(n.splitlines()) == 1 for n in notes)
    assert any("FLEETSTREAM_KAFKA_BOOTSTRAP is deprecated, use FLEETSTREAM_KAFKA__BOOTSTRAP"
               in n for n in notes)
    assert any("use FLEETSTREAM_REDIS__URL" in n for n in notes)
    assert not any("secret-host" in n or "pw-77" in n for n in notes)


@pytest.mark.parametrize("var,closest", [
    ("FLEETSTREAM_ENGINE_SWEEP_INTERVAL_S", "FLEETSTREAM_ENGINE__SWEEP_INTERVAL_S"),
    ("FLEETSTREAM_KAFKA_TOPIC_PREFIX", "FLEETSTREAM_KAFKA__TOPIC_PREFIX"),
    ("FLEETSTREAM_DEBUGG", "FLEETSTREAM_DEBUG"),
    ("FLEETSTREAM_LOGLEVEL", "FLEETSTREAM_LOG_LEVEL"),
    ("FLEETSTREAM_WORKER", "FLEETSTREAM_WORKERS"),
])
def test_an_unknown_variable_is_reported_by_name_with_the_closest_known(var, closest):
    from fleetstream.contract.settings import read_environment
    flat, notes = read_environment({var: "hush-123"})
    assert flat == {}
    assert len(notes) == 1
    assert var in notes[0] and f"did you mean {closest}?" in notes[0]
    assert "hush-123" not in notes[0]


def test_documented_process_variables_and_settings_are_known():
    from fleetstream.contract.settings import PROCESS_ENV, read_environment
    env = {k: "1" for k in PROCESS_ENV}
    env.update(FLEETSTREAM_WORKERS="2", FLEETSTREAM_ENGINE__SWEEP_INTERVAL_S="30",
               OTHER_VARIABLE="x")
    flat, notes = read_environment(env)
    assert notes == []
    assert flat == {"workers": "2", "engine.sweep_interval_s": "30"}


def test_every_process_variable_read_in_the_code_is_documented_as_known():
    """A FLEETSTREAM_* name read anywhere in the code is a setting or a known process
    variable (else the engine would warn about its own variables)."""
    import os
    import re
    from fleetstream.contract.settings import DEPRECATED_ENV, PROCESS_ENV
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    names = set()
    for top in ("fleetstream", "operators", "models", "connectors", "flows", "scripts"):
        for d, _, files in os.walk(os.path.join(root, top)):
            for f in files:
                if f.endswith((".py", ".sh")):
                    with open(os.path.join(d, f), encoding="utf-8") as fh:
                        names |= set(re.findall(r"FLEETSTREAM_[A-Z0-9_]*[A-Z0-9]", fh.read()))
    single = {n for n in names if "__" not in n and n != "FLEETSTREAM_WORKERS"}
    assert single - set(PROCESS_ENV) - set(DEPRECATED_ENV) == set()


def test_a_cli_run_warns_on_stderr_once_per_variable(tmp_path):
    import subprocess
    import sys
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("FLEETSTREAM_")}
    env.update(FLEETSTREAM_ENGINE_SWEEP_INTERVAL_S="30", FLEETSTREAM_REDIS_URL="redis://:pw-9@h/0")
    r = subprocess.run([sys.executable, "-m", "fleetstream.cli", "customers", "load",
                        str(tmp_path / "none")], env=env, capture_output=True, text=True,
                       timeout=120)
    lines = [ln for ln in r.stderr.splitlines() if "warning" in ln]
    assert len(lines) == 2, r.stderr
    assert "FLEETSTREAM_ENGINE_SWEEP_INTERVAL_S" in r.stderr
    assert "FLEETSTREAM_REDIS__URL" in r.stderr and "pw-9" not in r.stderr
    assert r.returncode == 2  # the missing replay folder, after the warnings
