"""`run`, `publish`, `record`, `topics`, `customers`: a bad flag, a bad path or an
unreachable service is one clear line on stderr and a non-zero exit, never a
traceback, and never a secret."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEAD = "127.0.0.1:1"  # nothing listens there


def fs(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("FLEETSTREAM_KAFKA__BOOTSTRAP", "FLEETSTREAM_REDIS__URL",
                        "FLEETSTREAM_KAFKA_BOOTSTRAP", "FLEETSTREAM_REDIS_URL")}
    return subprocess.run([sys.executable, "-m", "fleetstream.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("args,rc,words", [
    (("publish", "/nonexistent"), 2, "no replay"),
    (("publish", "replay_data/small", "--speed", "-5"), 2, "--speed"),
    (("publish", "replay_data/small", "--speed", "nan"), 2, "--speed"),
    (("topics", "create", "--partitions", "0"), 2, "--partitions"),
    (("record", "--out", "/tmp/x", "--idle", "-1"), 2, "--idle"),
    (("run", "-w", "-1"), 2, "--workers"),
    (("run", "--epoch-interval", "0"), 2, "--epoch-interval"),
    (("run", "--set", "nokey"), 2, "SECTION.KEY=VALUE"),
    (("run", "--models", "/nonexistent"), 2, "--models"),
    (("run", "--config", "/tmp"), 2, "--config"),
    (("customers", "load", "/nonexistent", "--redis", "redis://x"), 2, "no replay"),
    (("customers", "load", "replay_data/small", "--redis", "redis://:pw-secret-1@127.0.0.1:1/0"),
     1, "Redis at redis://***@127.0.0.1:1/0"),
])
def test_mistakes_are_one_line(args, rc, words):
    r = fs(*args)
    assert r.returncode == rc, r.stderr
    assert "Traceback" not in r.stderr and words in r.stderr
    assert "pw-secret-1" not in r.stderr + r.stdout
    assert len([ln for ln in r.stderr.splitlines() if ln.strip()]) == 1, r.stderr


def test_an_unreachable_broker_is_one_line_not_minutes_of_retries():
    r = fs("run", "--bootstrap", DEAD, "-q")
    assert r.returncode == 1 and "cannot reach the Kafka broker at 127.0.0.1:1" in r.stderr
    assert "Traceback" not in r.stderr
