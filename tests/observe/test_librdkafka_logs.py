"""librdkafka's own log lines go through Python logging (connectors/kafka.py
``LIBRDKAFKA_LOG``): with ``--log-format json`` stderr holds JSON lines only, never
``%3|...|rdkafka#producer-1|...`` lines, and never a configured secret."""

from __future__ import annotations

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SCRIPT = r"""
import time
from confluent_kafka import Consumer, Producer
from fleetstream.observe.logs import register_secrets_of, setup_logging
from fleetstream.connectors.kafka import _client
cfg = {"bootstrap.servers": "127.0.0.1:1", "security.protocol": "SASL_PLAINTEXT",
       "sasl.mechanism": "PLAIN", "sasl.username": "svc-user",
       "sasl.password": "pw-Secret-4242", "debug": "broker,security,conf"}
setup_logging("debug", "json", "rdk-test")
register_secrets_of(cfg)
p = _client(Producer, cfg)
c = _client(Consumer, {**cfg, "group.id": "g"})
end = time.time() + 2.5
while time.time() < end:
    p.poll(0.1)
    c.poll(0.1)
c.close()
p.flush(0.1)
"""


def test_librdkafka_lines_are_structured_json_without_secrets():
    r = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert lines, "librdkafka logged nothing (a refused connection is logged)"
    native = [ln for ln in lines if ln.startswith("%")]
    assert native == [], native[:3]
    records = [json.loads(ln) for ln in lines]  # every line is a JSON object
    rdk = [x for x in records if x["logger"] == "fleetstream.kafka.librdkafka"]
    assert rdk and all(x["run_id"] == "rdk-test" for x in rdk)
    assert any("Connection refused" in x["msg"] for x in rdk)
    assert {x["level"] for x in rdk} >= {"debug", "error"}
    assert "pw-Secret-4242" not in r.stderr + r.stdout
