"""Helpers for the integration tests: read topics back, run the engine as a real
subprocess (so it can be killed), throwaway redis-servers."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from typing import Callable

import orjson
from confluent_kafka import Consumer, KafkaError, TopicPartition

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def consume_all(bootstrap: str, topic: str, timeout_s: float = 10.0) -> list[dict]:
    """Every record of every partition of ``topic``, from the start to its end now
    (partition by partition: order within a partition is kept)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "it-reader",
                  "enable.auto.commit": False, "enable.partition.eof": True})
    parts = sorted(c.list_topics(topic, timeout=10).topics[topic].partitions)
    c.assign([TopicPartition(topic, p, 0) for p in parts])
    got: dict[int, list[dict]] = {p: [] for p in parts}
    done: set[int] = set()
    end = time.monotonic() + timeout_s
    try:
        while len(done) < len(parts) and time.monotonic() < end:
            for m in c.consume(1000, 0.2):
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        done.add(m.partition())
                    continue
                got[m.partition()].append(orjson.loads(m.value()))
    finally:
        c.close()
    assert len(done) == len(parts), f"could not read {topic} to its end in {timeout_s} s"
    return [r for p in parts for r in got[p]]


def read_jsonl(path: str) -> list[dict]:
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        return [orjson.loads(x) for x in f if x.strip()]


def wait_until(cond: Callable[[], bool], timeout_s: float, what: str, every_s: float = 0.2) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Engine:
    """``fleetstream run`` in a subprocess; stderr goes to a file for inspection."""

    def __init__(self, bootstrap: str, prefix: str, log_path: str, *args: str,
                 redis: str = "", env: dict | None = None):
        self.log_path = log_path
        self.log = open(log_path, "ab")
        cmd = [sys.executable, "-m", "fleetstream.live", "--bootstrap", bootstrap,
               "--redis", redis, "--set", f"kafka.topic_prefix={prefix}", *args]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
                                     env={**os.environ, **(env or {})})

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait(self, timeout_s: float) -> int:
        try:
            return self.proc.wait(timeout_s)
        finally:
            self.log.close()

    def pause(self) -> None:
        """SIGSTOP: the process (and its Kafka client threads) stops where it is."""
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL: a crash, no clean shutdown, nothing flushed or snapshotted."""
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self.log.close()

    def output(self) -> str:
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")


class ThrowawayRedis:
    """A redis-server of its own on a free port (persistence off), for tests that
    kill it.  Needs redis-server on PATH (scripts/services.sh installs it)."""

    def __init__(self, workdir: str, password: str | None = None, port: int | None = None):
        exe = shutil.which("redis-server")
        assert exe, "redis-server is not installed: run scripts/services.sh start"
        self.port = port or free_port()
        self.password = password
        args = [exe, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                "--appendonly", "no", "--dir", workdir]
        if password:
            args += ["--requirepass", password]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        auth = f":{password}@" if password else ""
        self.url = f"redis://{auth}127.0.0.1:{self.port}/0"
        import redis
        self.client = redis.Redis.from_url(self.url, socket_timeout=2)
        wait_until(self._pings, 15, f"redis-server on port {self.port}")

    def _pings(self) -> bool:
        try:
            return bool(self.client.ping())
        except Exception:  # noqa: BLE001
            return False

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)

    stop = kill


def caused_by(records: list[dict], msgs: list) -> set[str]:
    """Ids of the reference records whose triggering events are all in ``msgs`` (a
    prefix of the input): exactly what an engine that has processed that prefix
    has emitted, since an output is emitted when its trigger is processed."""
    ids = set()
    for m in msgs:
        try:
            ids.add(orjson.loads(m.value)["event_id"])
        except Exception:  # noqa: BLE001 - malformed input has no event id
            pass
    out = set()
    for r in records:
        trig = r.get("trigger_event_ids") or []
        if trig and all(t in ids for t in trig):
            out.add(r.get("decision_id") or r.get("eta_id"))
    return out


def ids_on(bootstrap: str, topic: str, field: str) -> set[str]:
    return {r[field] for r in consume_all(bootstrap, topic)}
