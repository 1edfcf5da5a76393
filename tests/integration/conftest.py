"""Integration tests need the real broker and redis-server started by
``scripts/services.sh start`` (``scripts/test.sh`` does it).  Their addresses come
from FLEETSTREAM_KAFKA_BOOTSTRAP and FLEETSTREAM_REDIS_URL.  Without them the
tests are skipped on a developer machine and FAIL in CI (CI=true), so a CI run
can never pass without having exercised the real services."""

from __future__ import annotations

import os
import uuid

import pytest


def _need(var: str) -> str:
    v = os.environ.get(var)
    if not v:
        msg = f"{var} is not set: start the services with scripts/services.sh start"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return v


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    return _need("FLEETSTREAM_KAFKA_BOOTSTRAP")


@pytest.fixture(scope="session")
def redis_url() -> str:
    return _need("FLEETSTREAM_REDIS_URL")


@pytest.fixture
def prefix() -> str:
    """A fresh topic namespace per test, so tests never see each other's messages."""
    return f"t{uuid.uuid4().hex[:8]}."
