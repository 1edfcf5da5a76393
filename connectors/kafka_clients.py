"""Kafka clients: construction, configuration, the broker check and topic admin.

This module holds what every Kafka edge of fleetstream (the input source in
connectors/kafka_source.py, the output sink, ``publish`` and ``record`` in
connectors/kafka.py, the console) uses to talk to a broker: :func:`_client`
creates a client with librdkafka's log routed through Python logging and an
error that never echoes an option's value (:class:`KafkaClientError`),
:func:`client_config` / :func:`producer_config` build the options (every
producer idempotent), :func:`check_broker` fails fast with one line
(:class:`KafkaUnavailable`) and :func:`ensure_topics` creates the input and
output topics.
"""

from __future__ import annotations

import logging
from typing import Any, Iterable

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from fleetstream.connectors.redaction import redact_url, scrub
from fleetstream.contract.events import INPUT_TOPICS, TOPIC_CUSTOMERS
from fleetstream.contract.outputs import OUTPUT_TOPICS


class KafkaClientError(RuntimeError):
    """A Kafka client could not be created (bad option name or value).  Its message
    never holds an option's value."""


LIBRDKAFKA_LOG = logging.getLogger("fleetstream.kafka.librdkafka")
"""librdkafka's own log lines (connection failures, ``BGQUEUE``...) go through Python
logging (confluent-kafka's ``logger`` option), so they take the process's structured
format (``--log-format json``: JSON lines only), level and secret redaction instead of
bypassing them as ``%3|...|rdkafka#producer-1|...`` lines on stderr."""


def _client(kind: Any, config: dict) -> Any:
    try:
        return kind({"logger": LIBRDKAFKA_LOG, **config})
    except (KafkaException, ValueError, TypeError) as e:
        raise KafkaClientError(f"kafka client configuration rejected: "
                               f"{scrub(str(e), config)}") from None


class KafkaUnavailable(RuntimeError):
    """The broker did not answer (commands print this as one line, exit 1)."""


def check_broker(bootstrap: str, extra: dict | None = None, timeout_s: float = 10.0,
                 need_topics: Iterable[str] = ()) -> set[str]:
    """Fail fast with one clear line instead of librdkafka retrying for minutes:
    raises :class:`KafkaUnavailable` when no broker answers within ``timeout_s``,
    ``ValueError`` when a topic of ``need_topics`` does not exist.  Returns the
    broker's topic names."""
    cfg = {**client_config(bootstrap, extra), "log_level": 0,
           "socket.connection.setup.timeout.ms": int(timeout_s * 1000)}
    admin = _client(AdminClient, cfg)
    try:
        md = admin.list_topics(timeout=timeout_s)
    except KafkaException as e:
        err = e.args[0] if e.args else e
        reason = err.str() if hasattr(err, "str") else str(err)
        raise KafkaUnavailable(f"cannot reach the Kafka broker at {redact_url(bootstrap)} "
                               f"within {timeout_s:.0f} s ({scrub(reason, extra)})") from None
    if not md.brokers:
        raise KafkaUnavailable(f"no Kafka broker answers at {redact_url(bootstrap)}")
    names = set(md.topics)
    missing = [t for t in need_topics if t not in names]
    if missing:
        raise ValueError(f"topics missing on the broker ({', '.join(missing)}): run "
                         "`fleetstream topics create` (with the same topic prefix)")
    return names


def client_config(bootstrap: str, extra: dict | None = None) -> dict:
    cfg = {"bootstrap.servers": bootstrap}
    cfg.update(extra or {})
    return cfg


# Every producer fleetstream creates: no duplicates and no reordering from retries.
IDEMPOTENT = {"enable.idempotence": True, "acks": "all"}
CONSUMER_ONLY = ("group.id", "auto.offset.reset", "enable.auto.commit", "isolation.level")


def producer_config(cfg: dict) -> dict:
    """``cfg`` for a producer: consumer-only options dropped (librdkafka warns about
    each), then ``IDEMPOTENT``."""
    return {**{k: v for k, v in cfg.items() if k not in CONSUMER_ONLY}, **IDEMPOTENT}


# ---------------------------------------------------------------- admin


def ensure_topics(bootstrap: str, prefix: str = "", output_prefix: str = "", partitions: int = 4,
                  replication: int = 1, extra: dict | None = None,
                  timeout_s: float = 30.0) -> dict[str, str]:
    """Create the input and output topics (idempotent).  Input topics share one
    partition count so a key lands on the same partition index in each;
    ``fs.customers`` is compacted.  Returns topic -> 'created' | 'exists'."""
    admin = _client(AdminClient, client_config(bootstrap, extra))
    existing = set(admin.list_topics(timeout=timeout_s).topics)
    wanted = ([prefix + t for t in INPUT_TOPICS]
              + [prefix + output_prefix + t for t in OUTPUT_TOPICS])
    new = []
    for t in wanted:
        if t in existing:
            continue
        conf = {"cleanup.policy": "compact"} if t.endswith(TOPIC_CUSTOMERS) else {}
        new.append(NewTopic(t, num_partitions=partitions, replication_factor=replication,
                            config=conf))
    result = {t: "exists" for t in wanted if t in existing}
    if new:
        for t, fut in admin.create_topics(new, operation_timeout=timeout_s).items():
            try:
                fut.result()
                result[t] = "created"
            except Exception as e:  # noqa: BLE001
                if "TOPIC_ALREADY_EXISTS" in str(e):
                    result[t] = "exists"
                else:
                    raise
    return result
