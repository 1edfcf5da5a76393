"""Kafka client options: every producer is idempotent, secrets never reach a log
line or an error message, URLs are redacted whatever their password holds."""

from __future__ import annotations

import logging

import pytest

from fleetstream.connectors import kafka
from fleetstream.connectors.kafka import (KafkaClientError, KafkaOutputSink, redact, redact_url,
                                          scrub)
from fleetstream.contract.message import InMsg

SECRETS = {
    "sasl.password": "pw-hunter2",
    "sasl.username": "user-x",
    "sasl.jaas.config": "org.apache.kafka... password=\"pw-jaas\"",
    "sasl.oauthbearer.client.secret": "oauth-secret",
    "sasl.oauthbearer.extensions": "logicalCluster=lkc-1,identityPoolId=pool-ext",
    "sasl.oauthbearer.config": "principal=admin scope=x",
    "sasl.oauthbearer.token.endpoint.url": "https://idp:tok-en@idp.example/token",
    "ssl.key.password": "keypass-1",
    "ssl.key.pem": "-----BEGIN PRIVATE KEY-----abc",
    "ssl.certificate.pem": "-----BEGIN CERTIFICATE-----def",
    "ssl.keystore.password": "storepass-1",
    "basic.auth.user.info": "sr-user:sr-pass",
    "some.api.token": "tok-123",
}


def test_every_secret_bearing_option_is_redacted():
    out = redact({**SECRETS, "bootstrap.servers": "b:9092", "security.protocol": "SASL_SSL"})
    assert out["bootstrap.servers"] == "b:9092" and out["security.protocol"] == "SASL_SSL"
    for k in SECRETS:
        assert out[k] == "***", k


@pytest.mark.parametrize("url", [
    "redis://:s3cr@t@cache:6379/0",
    "redis://user:pa/ss:w@rd@cache:6379/0",
    "rediss://default:a:b:c@cache.example:6380",
    "redis://:%40encoded%2F@cache:6379",
])
def test_url_redaction_handles_any_password(url):
    red = redact_url(url)
    assert red.endswith("cache:6379/0") or red.endswith("cache.example:6380") \
        or red.endswith("cache:6379")
    for part in ("s3cr", "pa/ss", "a:b:c", "encoded", "rd@"):
        assert part not in red


def test_client_errors_never_echo_option_values():
    """librdkafka quotes a bad value in its error ("Invalid value ... for
    configuration property"): the error we raise must not."""
    with pytest.raises(KafkaClientError) as e:
        kafka._client(kafka.Producer, {"bootstrap.servers": "b:1",
                                       "acks": "my-secret-value-42"})
    assert "my-secret-value-42" not in str(e.value)
    assert "acks" in str(e.value)
    assert scrub('bad "pw-hunter2" here', SECRETS) == 'bad "***" here'


class FakeProducer:
    configs: list[dict] = []

    def __init__(self, cfg):
        FakeProducer.configs.append(dict(cfg))

    def produce(self, *a, **k):
        cb = k.get("on_delivery")
        if cb:
            cb(None, None)

    def poll(self, _t):
        return 0

    def flush(self, _t=None):
        return 0


def test_publish_and_the_output_sink_use_an_idempotent_producer(monkeypatch):
    """Without idempotence a batch retried after "Not leader for partition" can land
    after a later batch: 5 of 300 publishes stored a partition out of order."""
    FakeProducer.configs = []
    monkeypatch.setattr(kafka, "Producer", FakeProducer)
    kafka.publish("b:1", [InMsg(0, "fs.telemetry", "V1", b"{}")],
                  extra={"enable.idempotence": False, "acks": "1"})
    sink = KafkaOutputSink("b:1", extra={"enable.idempotence": False})
    sink.build("out", 0, 1)
    assert len(FakeProducer.configs) == 2
    for cfg in FakeProducer.configs:
        assert cfg["enable.idempotence"] is True and cfg["acks"] == "all"


def test_the_run_start_line_shows_no_secret(caplog):
    from fleetstream.live import redact_url as live_redact_url
    assert live_redact_url("redis://:p@ss/w@h:1/0") == "redis://***@h:1/0"
    with caplog.at_level(logging.INFO):
        logging.getLogger("t").info("config %s", redact(SECRETS))
    for v in SECRETS.values():
        assert v not in caplog.text
