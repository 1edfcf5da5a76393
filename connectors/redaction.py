"""Redaction of secrets in anything fleetstream logs or raises: client options
(Kafka, Redis) and URLs.  Used by connectors/kafka.py, connectors/redis_store.py
and ``fleetstream run``; docs/live.md ("Secrets are never logged")."""

from __future__ import annotations

import re
from typing import Any

# A client option is secret-bearing when its name contains one of these (case
# insensitive): SASL passwords and JAAS strings, every sasl.oauthbearer.* option
# (client secret, extensions, config, endpoint), SSL key material and passwords
# (ssl.key.*, ssl.*.pem, keystore passwords), basic.auth.* (schema registry),
# tokens, credentials.
SECRET_WORDS = ("password", "passwd", "secret", "key", "token", "jaas", "credential", "auth",
                "sasl.username", "sasl.oauthbearer", ".pem", "private", "cert")
_URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^\s]*@")


def redact_url(url: Any) -> str:
    """A URL (or any text holding URLs) safe to log: everything between ``scheme://``
    and the last ``@`` (the user-info, whatever characters its password holds:
    ``@``, ``/``, ``:``...) replaced by ``***``.

    >>> redact_url("redis://:s3cret@cache:6379/0")
    'redis://***@cache:6379/0'
    >>> redact_url("redis://user:p@ss/w:rd@cache:6379/0")
    'redis://***@cache:6379/0'
    >>> redact_url("rediss://cache:6380")
    'rediss://cache:6380'
    """
    return _URL_USERINFO.sub(lambda m: m.group("scheme") + "***@", str(url or ""))


def is_secret_option(name: Any) -> bool:
    n = str(name).lower()
    return any(w in n for w in SECRET_WORDS)


def redact(config: dict) -> dict:
    """Config safe to log: the value of every secret-bearing option (``SECRET_WORDS``)
    replaced by ``***``, and user-info in any URL-like value.

    >>> redact({"sasl.password": "hunter2", "bootstrap.servers": "b:9092"})
    {'sasl.password': '***', 'bootstrap.servers': 'b:9092'}
    >>> redact({"ssl.key.pem": "-----BEGIN", "sasl.oauthbearer.extensions": "a=b"})
    {'ssl.key.pem': '***', 'sasl.oauthbearer.extensions': '***'}
    """
    return {k: ("***" if is_secret_option(k) else
                redact_url(v) if isinstance(v, str) else v)
            for k, v in config.items()}


def scrub(text: str, config: dict | None = None) -> str:
    """``text`` with URL user-info redacted and every option value of ``config``
    (3 characters or more) replaced by ``***``: client errors may quote a value
    ("Invalid value ... for configuration property")."""
    text = redact_url(text)
    for v in sorted((str(v) for v in (config or {}).values() if v is not None),
                    key=len, reverse=True):
        if len(v) >= 3:
            text = text.replace(v, "***")
    return text
