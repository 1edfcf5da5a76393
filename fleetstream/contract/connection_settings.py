"""The ``[kafka]`` and ``[redis]`` settings: the connections to the broker and to the
Redis read model (:class:`KafkaSettings`, :class:`RedisSettings`).  Their values may
hold credentials: an error about them never shows the value.

Split out of :mod:`fleetstream.contract.settings`, which re-exports every name here
and loads the sections.  Keys and defaults are documented in docs/configuration.md
(the read model in docs/redis.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class KafkaSettings:
    """Kafka connection.  Extra librdkafka settings (SASL/SSL...) go in ``config``."""

    bootstrap: str = "127.0.0.1:19092"
    topic_prefix: str = ""
    """Prepended to every topic name (shadow mode publishes under another prefix)."""
    output_prefix: str = ""
    """Extra prefix for output topics only (e.g. ``shadow.``)."""
    partitions: int = 4
    """Partitions of each topic ``fleetstream topics`` creates (>= 1)."""
    replication: int = 1
    """Replication factor of each created topic (>= 1)."""
    config: dict = field(default_factory=dict)
    """librdkafka properties passed through (string, number or boolean values); secrets
    are never logged, and an error about this setting never shows its value."""

    def __post_init__(self) -> None:
        if self.partitions < 1 or self.replication < 1:
            raise ValueError("kafka.partitions and kafka.replication must be >= 1")
        for k, v in self.config.items():
            if not isinstance(k, str) or not isinstance(v, (str, int, float, bool)):
                raise ValueError("kafka.config: every librdkafka property must be a string, "
                                 "number or boolean (values are not shown: they may be "
                                 "secrets)")


@dataclass
class RedisSettings:
    """The Redis read model (docs/redis.md)."""

    url: str = ""
    """``redis://``, ``rediss://`` or ``unix://`` URL; empty: no Redis read model
    (embedded default).  May hold a password: never shown in errors or logs."""
    key_prefix: str = "fs:"
    """Prepended to every key the engine writes."""
    ttl_s: int = 86400
    """Expiry of the per-entity keys, seconds (>= 1)."""
    stream_maxlen: int = 100000
    """Approximate length cap of each Redis stream (>= 1)."""

    def __post_init__(self) -> None:
        if self.ttl_s < 1 or self.stream_maxlen < 1:
            raise ValueError("redis.ttl_s and redis.stream_maxlen must be >= 1")
        if self.url and not self.url.startswith(REDIS_SCHEMES):
            raise ValueError("redis.url must be empty or a " + ", ".join(REDIS_SCHEMES)
                             + " URL (the value is not shown: it may hold a password)")


REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
