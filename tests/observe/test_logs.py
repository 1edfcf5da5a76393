"""Structured logs: JSON lines that parse, with run id, zone and event id; secrets never
appear, whatever form they take in a message, its arguments or its extra fields."""

from __future__ import annotations

import io
import json
import logging

import pytest

from fleetstream.observe import logs
from fleetstream.observe.logs import redact, register_secret, setup_logging

PASSWORD = "pa55-Wörd-xyzzy"


@pytest.fixture
def capture():
    buf = io.StringIO()
    root = logging.getLogger()
    level = root.level
    yield buf
    if logs._HANDLER[0] is not None:
        root.removeHandler(logs._HANDLER[0])
        logs._HANDLER[0] = None
    root.setLevel(level)


def test_json_lines_parse_and_carry_run_zone_and_event(capture) -> None:
    setup_logging("debug", "json", run_id="run-42", stream=capture)
    log = logging.getLogger("fleetstream.test")
    log.info("zone %s: event rejected", "Z1", extra={"zone": "Z1", "event_id": "e-7"})
    log.debug("plain")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed", extra={"zone": "Z2"})
    recs = [json.loads(x) for x in capture.getvalue().splitlines()]
    assert len(recs) == 3
    first = recs[0]
    assert first["msg"] == "zone Z1: event rejected" and first["level"] == "info"
    assert first["run_id"] == "run-42" and first["zone"] == "Z1" and first["event_id"] == "e-7"
    assert first["logger"] == "fleetstream.test" and first["ts"].endswith("Z")
    assert "zone" not in recs[1] and recs[1]["level"] == "debug"
    assert recs[2]["level"] == "error" and "ValueError: boom" in recs[2]["exc"]


def test_level_filters(capture) -> None:
    setup_logging("warning", "json", stream=capture)
    logging.getLogger("fleetstream.test").info("hidden")
    logging.getLogger("fleetstream.test").warning("shown")
    assert [json.loads(x)["msg"] for x in capture.getvalue().splitlines()] == ["shown"]


def test_secrets_never_appear(capture) -> None:
    register_secret(PASSWORD)
    setup_logging("info", "json", run_id="r", stream=capture)
    log = logging.getLogger("fleetstream.test")
    log.info("redis redis://:%s@cache:6379/0 down", PASSWORD)
    log.info("kafka config %s", {"sasl.username": "bob", "sasl.password": PASSWORD})
    log.info("password=%s token: abc123", PASSWORD)
    log.warning("extra", extra={"url": f"redis://user:{PASSWORD}@h/0", "cfg": {"k": PASSWORD}})
    try:
        raise RuntimeError(f"auth failed for {PASSWORD}")
    except RuntimeError:
        log.exception("client error")
    text = capture.getvalue()
    assert PASSWORD not in text and json.dumps(PASSWORD)[1:-1] not in text
    assert "abc123" not in text
    recs = [json.loads(x) for x in text.splitlines()]
    assert len(recs) == 5
    assert "redis://***@cache:6379/0" in recs[0]["msg"]
    assert "'sasl.password': '***'" in recs[1]["msg"]


def test_text_format_for_people(capture) -> None:
    setup_logging("info", "text", stream=capture)
    logging.getLogger("fleetstream.test").warning("late solver result", extra={"zone": "Z3"})
    line = capture.getvalue().strip()
    assert " WARNING fleetstream.test late solver result [zone=Z3]" in line
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


def test_auto_format_is_text_on_a_terminal_and_json_otherwise() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True
    assert logs.resolve_format("auto", Tty()) == "text"
    assert logs.resolve_format("auto", io.StringIO()) == "json"
    with pytest.raises(ValueError):
        logs.resolve_format("xml")
    with pytest.raises(ValueError):
        logs.parse_level("loud")


def test_redact_forms() -> None:
    assert redact("amqp://u:p@h/") == "amqp://***@h/"
    assert redact("redis://user:p@ss/w:rd@cache:6379/0 x") == "redis://***@cache:6379/0 x"
    assert redact("key=VZ1-000 seq=4") == "key=VZ1-000 seq=4"  # message keys are not secrets
    assert redact('{"ssl.key.password": "k3y"}') == '{"ssl.key.password": "***"}'
    assert redact("api_key=abcd&x=1") == "api_key=***&x=1"
    assert redact("nothing to hide here") == "nothing to hide here"


def test_configured_credentials_are_registered_and_never_logged(tmp_path, capture,
                                                              monkeypatch) -> None:
    """``observe.start`` registers the Kafka client secrets and the Redis password of the
    settings: a library message that echoes them is still redacted."""
    import argparse
    import os
    for k in [k for k in os.environ if k.startswith("FLEETSTREAM_")]:
        monkeypatch.delenv(k)  # the environment beats the file (scripts/test.sh sets some)

    from fleetstream.contract.settings import Settings
    from fleetstream.observe import runtime

    kafka_pw, redis_pw = "kafka-Secret-4711", "redis-Secret-0815"
    cfg = tmp_path / "fs.toml"
    cfg.write_text(f'''[kafka]
bootstrap = "127.0.0.1:1"
[kafka.config]
"sasl.mechanism" = "PLAIN"
"sasl.password" = "{kafka_pw}"
[redis]
url = "redis://:{redis_pw}@cache:6379/0"
''')
    settings = Settings.load(str(cfg))
    ap = argparse.ArgumentParser()
    runtime.add_arguments(ap)
    args = ap.parse_args(["--log-format", "json", "--run-id", "cfg-run"])
    assert runtime.start(args, "live", settings) is None  # no --metrics-port: logs only
    # start() installed its own handler on stderr: swap in the capture stream.
    setup_logging("info", "json", run_id="cfg-run", stream=capture)
    log = logging.getLogger("fleetstream.test")
    log.warning("SASL authentication failed for password %s", kafka_pw)
    log.warning("NOAUTH: %s rejected", redis_pw)
    text = capture.getvalue()
    assert kafka_pw not in text and redis_pw not in text
    assert [json.loads(x)["run_id"] for x in text.splitlines()] == ["cfg-run", "cfg-run"]


def test_config_secrets_use_the_connectors_list_of_secret_options() -> None:
    """``register_secrets_of`` registers every option the connectors call secret
    (connectors/redaction.py), e.g. a schema registry's ``basic.auth.user.info``; it
    used to import a name connectors.kafka never had and fell back to a narrower
    pattern that missed it."""
    from fleetstream.observe import logs
    logs.register_secrets_of({"basic.auth.user.info": "fleet:hunter2-long"})
    assert "hunter2-long" not in logs.redact("auth fleet:hunter2-long sent")
