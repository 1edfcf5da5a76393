"""A throwaway redis-server per test session (and per outage test), on a free port,
persistence off.  Without the ``redis-server`` binary the tests are skipped on a
developer machine and FAIL in CI (``CI`` set), so CI cannot pass without them.
Install it with ``apt-get install -y redis-server`` (Debian)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid

import pytest


def _binary() -> str:
    path = shutil.which("redis-server")
    if path is None:
        msg = "redis-server is not installed (apt-get install -y redis-server)"
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(msg)
        pytest.skip(msg)
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """One redis-server process we own: start, kill, restart on the same port."""

    def __init__(self, binary: str, workdir: str):
        self.binary, self.workdir = binary, workdir
        self.port = _free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = open(os.path.join(self.workdir, "redis.log"), "ab")
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.workdir, "--protected-mode", "no"],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}; "
                                   f"see {self.workdir}/redis.log")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("redis-server did not answer PING within 15 s")

    def kill(self) -> None:
        """SIGKILL: an abrupt outage (persistence is off, so the data is gone)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def client(self):
        import redis
        return redis.Redis.from_url(self.url)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    srv = RedisServer(_binary(), str(tmp_path_factory.mktemp("redis")))
    srv.start()
    yield srv
    srv.kill()


@pytest.fixture
def own_redis(tmp_path):
    """A server of this test alone (outage tests kill it)."""
    srv = RedisServer(_binary(), str(tmp_path))
    srv.start()
    yield srv
    srv.kill()


@pytest.fixture
def prefix() -> str:
    """A fresh key namespace per test on the shared server."""
    return f"t{uuid.uuid4().hex[:8]}:"
