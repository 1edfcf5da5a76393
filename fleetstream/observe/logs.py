"""Structured logs: JSON lines (one object per line) or a human format, one setup.

``setup_logging(level, fmt, run_id)`` configures the root logger once per process:

- ``fmt="json"``: one JSON object per line on stderr with ``ts`` (RFC 3339 UTC),
  ``level``, ``logger``, ``msg``, ``run_id`` and, where the call gives them
  (``log.warning(..., extra={"zone": z, "event_id": e})``), ``zone``,
  ``event_id`` and any other extra field; an exception adds ``exc``.
- ``fmt="text"``: ``2026-11-29T13:40:01Z WARNING fleetstream.live message [zone=Z1]``.
- ``fmt="auto"`` (default): text when stderr is a terminal, JSON otherwise (a
  container, a service manager, a pipe into a log shipper).

Secrets never reach a log line: a redaction filter on every handler rewrites the
message, its arguments and every extra field before formatting.  It removes the
user-info of URLs (``redis://:pw@host`` -> ``redis://***@host``), the values of
``password``/``secret``/``token``/``sasl.*``/``ssl.key.*``-like keys in
``key=value``, ``key: value`` and ``'key': 'value'`` forms, and every value
registered with :func:`register_secret` (the CLI registers the configured Kafka
and Redis credentials).

>>> redact("connect redis://:s3cret@cache:6379/0 with {'sasl.password': 'hunter2'}")
"connect redis://***@cache:6379/0 with {'sasl.password': '***'}"
>>> redact("password=abc token: xyz user=bob")
'password=*** token: *** user=bob'
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
import time
from typing import Any

LEVELS = ("debug", "info", "warning", "error", "critical")
FORMATS = ("auto", "json", "text")

_SECRET_KEY = (r"[\w.\-]*(?:password|passwd|secret|token|api[_.\-]?key|sasl\.[\w.]+"
               r"|ssl\.key[\w.]*|credentials?)")
_PATTERNS = [
    # URL user-info: scheme://user:password@host
    # (to the last "@" of the word: a password may hold "@", "/" or ":")
    (re.compile(r"(?P<pre>[a-zA-Z][\w+.\-]*://)[^\s'\"]*@"), r"\g<pre>***@"),
    # 'key': 'value' / "key": "value" (reprs of dicts, JSON)
    (re.compile(r"(?P<pre>(['\"])" + _SECRET_KEY + r"\2\s*:\s*)(['\"])(?:(?!\3).)*\3", re.I),
     r"\g<pre>\3***\3"),
    # key=value / key: value (unquoted)
    (re.compile(r"(?P<pre>\b" + _SECRET_KEY + r"\s*[=:]\s*)(?!['\"])[^\s,;&}'\"]+", re.I),
     r"\g<pre>***"),
]

_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()


def register_secret(value: Any) -> None:
    """Never log ``value`` (a password, a token...): every occurrence becomes ``***``.
    Values shorter than 4 characters are ignored (they would redact ordinary text)."""
    if isinstance(value, str) and len(value) >= 4:
        with _SECRETS_LOCK:
            _SECRETS.add(value)


def register_secrets_of(config: dict | None) -> None:
    """Register the values of the secret-looking keys of a client config
    (librdkafka properties such as ``sasl.password``, ``ssl.key.password``)."""
    from fleetstream.connectors.redaction import is_secret_option   # the connectors' list
    for k, v in (config or {}).items():
        if is_secret_option(k):
            register_secret(str(v))


def redact(text: str) -> str:
    for pat, repl in _PATTERNS:
        text = pat.sub(repl, text)
    if _SECRETS:
        with _SECRETS_LOCK:
            secrets = sorted(_SECRETS, key=len, reverse=True)
        for s in secrets:
            if s in text:
                text = text.replace(s, "***")
    return text


_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class RedactingFilter(logging.Filter):
    """Applies :func:`redact` to the message (arguments merged in) and every extra field."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string still gets logged
            msg = str(record.msg)
        record.msg = redact(msg)
        record.args = None
        for k, v in list(vars(record).items()):
            if k not in _STANDARD and isinstance(v, str):
                setattr(record, k, redact(v))
            elif k not in _STANDARD and isinstance(v, (list, dict, tuple)):
                setattr(record, k, _redact_obj(v))
        return True


def _redact_obj(v: Any) -> Any:
    try:
        return json.loads(redact(json.dumps(v, default=str, ensure_ascii=False)))
    except ValueError:
        return redact(str(v))


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per line (see the module docstring for the fields)."""

    def __init__(self, run_id: str = ""):
        super().__init__()
        self.run_id = run_id

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"ts": _iso(record.created), "level": record.levelname.lower(),
                               "logger": record.name, "msg": record.getMessage()}
        if self.run_id:
            out["run_id"] = self.run_id
        for k, v in vars(record).items():
            if k not in _STANDARD and not k.startswith("_"):
                out[k] = v
        if record.exc_info:
            out["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(out, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``<time> <LEVEL> <logger> <message> [key=value ...]`` for people at a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(f"{k}={v}" for k, v in vars(record).items()
                          if k not in _STANDARD and not k.startswith("_"))
        line = (f"{_iso(record.created)} {record.levelname:<7} {record.name} "
                f"{record.getMessage()}" + (f" [{extras}]" if extras else ""))
        if record.exc_info:
            line += "\n" + redact(self.formatException(record.exc_info))
        return line


def resolve_format(fmt: str, stream: Any = None) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if fmt != "auto":
        return fmt
    stream = stream if stream is not None else sys.stderr
    try:
        return "text" if stream.isatty() else "json"
    except (AttributeError, ValueError):
        return "json"


def parse_level(level: str | int) -> int:
    if isinstance(level, int):
        return level
    name = str(level).lower()
    if name not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}, not {level!r}")
    return getattr(logging, name.upper())


_HANDLER: list[logging.Handler | None] = [None]


def setup_logging(level: str | int = "info", fmt: str = "auto", run_id: str = "",
                  stream: Any = None) -> logging.Handler:
    """Configure the root logger: one handler on ``stream`` (stderr) with the redaction
    filter and the chosen format.  Calling again replaces the handler of the last call
    (handlers installed by others are left alone)."""
    stream = stream if stream is not None else sys.stderr
    kind = resolve_format(fmt, stream)
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter(run_id) if kind == "json" else TextFormatter())
    root = logging.getLogger()
    if _HANDLER[0] is not None:
        root.removeHandler(_HANDLER[0])
    root.addHandler(handler)
    root.setLevel(parse_level(level))
    _HANDLER[0] = handler
    return handler


def default_level(quiet: bool = False) -> str:
    """``$FLEETSTREAM_LOG_LEVEL``, else warning when quiet, else info."""
    return os.environ.get("FLEETSTREAM_LOG_LEVEL", "warning" if quiet else "info").lower()
