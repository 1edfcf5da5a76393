"""Integration tests need the real broker and redis-server started by
``scripts/services.sh start`` (``scripts/test.sh`` does it).  Their addresses come
from FLEETSTREAM_KAFKA__BOOTSTRAP and FLEETSTREAM_REDIS__URL (the settings'
convention; the deprecated single-underscore spellings are still read).  Without them the
tests are skipped on a developer machine and FAIL in CI (CI=true), so a CI run
can never pass without having exercised the real services."""

from __future__ import annotations

import os
import uuid

import pytest


def _need(var: str) -> str:
    v = env_value(var)
    if not v:
        msg = f"{var} is not set: start the services with scripts/services.sh start"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return v


def env_value(var: str) -> str | None:
    """``var`` (``FLEETSTREAM_<SECTION>__<KEY>``), else its deprecated single-underscore
    spelling (docs/configuration.md)."""
    return os.environ.get(var) or os.environ.get(var.replace("__", "_"))


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    return _need("FLEETSTREAM_KAFKA__BOOTSTRAP")


@pytest.fixture(scope="session")
def redis_url() -> str:
    return _need("FLEETSTREAM_REDIS__URL")


@pytest.fixture
def prefix():
    """A fresh topic namespace per test, so tests never see each other's messages;
    its topics are deleted afterwards (the broker keeps no test data around)."""
    p = f"t{uuid.uuid4().hex[:8]}."
    yield p
    bootstrap = env_value("FLEETSTREAM_KAFKA__BOOTSTRAP")
    if bootstrap:
        delete_topics(bootstrap, p)


def delete_topics(bootstrap: str, prefix: str) -> None:
    from confluent_kafka.admin import AdminClient
    try:
        admin = AdminClient({"bootstrap.servers": bootstrap})
        mine = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix)]
        for fut in (admin.delete_topics(mine, operation_timeout=30).values() if mine else ()):
            fut.result()
    except Exception as e:  # noqa: BLE001 - cleanup must not fail a test
        print(f"could not delete the topics {prefix}*: {e}")
