"""The environment layer of the settings: ``FLEETSTREAM_<SECTION>__<KEY>`` variables
(and ``FLEETSTREAM_WORKERS``) read as ``{"section.key": value}``, the deprecated
single-underscore spellings, the documented process variables that are not settings,
and the one-line warnings about the rest (:func:`read_environment`).

Split out of :mod:`fleetstream.contract.settings`, which re-exports every name here
and applies this layer between the TOML file and ``--set`` (precedence and variables:
docs/configuration.md).  The table of sections lives here because both the layer and
the loader need it.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

from fleetstream.contract.connection_settings import KafkaSettings, RedisSettings
from fleetstream.contract.engine_settings import EngineSettings
from fleetstream.contract.limits_settings import LimitsSettings

_SECTIONS = {"engine": EngineSettings, "kafka": KafkaSettings, "redis": RedisSettings,
             "limits": LimitsSettings}

_TOP_LEVEL = {"workers"}

# ---------------------------------------------------------------- environment layer
# (kept by hand, not pydantic-settings: docs/configuration.md says why)

ENV_PREFIX = "FLEETSTREAM_"

DEPRECATED_ENV = {"FLEETSTREAM_KAFKA_BOOTSTRAP": "kafka.bootstrap",
                  "FLEETSTREAM_REDIS_URL": "redis.url"}
"""Old single-underscore spellings, accepted for one release (0.1.x) with a warning;
the new spelling wins when both are set."""

PROCESS_ENV = {
    "FLEETSTREAM_DEBUG": "1: show the traceback of an internal error (docs/operations.md)",
    "FLEETSTREAM_LOG_LEVEL": "default --log-level (docs/observability.md)",
    "FLEETSTREAM_LOG_FORMAT": "default --log-format (docs/observability.md)",
    "FLEETSTREAM_METRICS_PORT": "default --metrics-port (docs/observability.md)",
    "FLEETSTREAM_METRICS_HOST": "default --metrics-host (docs/observability.md)",
    "FLEETSTREAM_HEALTH_STALL_S": "default --health-stall-s (docs/observability.md)",
    "FLEETSTREAM_RUN_ID": "default --run-id (docs/observability.md)",
    "FLEETSTREAM_SOLOMON_DIR": "where `fleetstream plan` finds Solomon instances",
    "FLEETSTREAM_CHROMIUM": "headless Chromium for report and console screenshots",
    "FLEETSTREAM_CHROMEDRIVER": "chromedriver for the same",
    "FLEETSTREAM_ARTIFACTS": "where tests keep screenshots",
    "FLEETSTREAM_SKIP_SERVICES": "scripts/test.sh: do not start Kafka and Redis",
    "FLEETSTREAM_SERVICES_DIR": "scripts/services.sh: where the services live",
    "FLEETSTREAM_SERVICES_TIMEOUT": "scripts/services.sh: start-up timeout",
    "FLEETSTREAM_KAFKA_PORT": "scripts/services.sh: the broker's port",
    "FLEETSTREAM_KAFKA_CONTROLLER_PORT": "scripts/services.sh: the controller's port",
    "FLEETSTREAM_KAFKA_HEAP": "scripts/services.sh: the broker's heap",
    "FLEETSTREAM_KAFKA_VERSION": "scripts/services.sh: the Kafka version",
    "FLEETSTREAM_REDIS_PORT": "scripts/services.sh: Redis's port",
}
"""Documented process variables under the prefix that are not settings (known: no
warning)."""


def env_name(dotted: str) -> str:
    """``kafka.bootstrap`` -> ``FLEETSTREAM_KAFKA__BOOTSTRAP``; ``workers`` ->
    ``FLEETSTREAM_WORKERS``."""
    sec, dot, key = dotted.partition(".")
    return ENV_PREFIX + (f"{sec}__{key}" if dot else sec).upper()


def setting_env_names() -> dict[str, str]:
    """Every setting's environment variable -> ``section.key``."""
    out = {env_name(t): t for t in sorted(_TOP_LEVEL)}
    for sec, cls in _SECTIONS.items():
        for f in dataclasses.fields(cls):
            out[env_name(f"{sec}.{f.name}")] = f"{sec}.{f.name}"
    return out


def read_environment(env: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """The ``FLEETSTREAM_*`` variables of ``env`` as ``{"section.key": value}``, and the
    warnings to show (one line each; never a value: it may be a secret).

    ``FLEETSTREAM_<SECTION>__<KEY>`` (and ``FLEETSTREAM_WORKERS``) are settings; an
    unknown section or key there is an error later, naming it (a typo in a setting
    must not pass silently).  The old spellings of :data:`DEPRECATED_ENV` are read with
    a deprecation warning (the new spelling wins when both are set).  Any other
    variable under the prefix that is not a documented process variable
    (:data:`PROCESS_ENV`) is reported with the closest known name and ignored.
    """
    flat: dict[str, str] = {}
    notes: list[str] = []
    old: dict[str, str] = {}
    for k in sorted(env):
        if not k.startswith(ENV_PREFIX):
            continue
        v = env[k]
        rest = k[len(ENV_PREFIX):].lower()
        if "__" in rest:
            sec, _, name = rest.partition("__")
            flat[f"{sec}.{name}"] = v
        elif rest in _TOP_LEVEL:
            flat[rest] = v
        elif k in DEPRECATED_ENV:
            new = env_name(DEPRECATED_ENV[k])
            old[DEPRECATED_ENV[k]] = v
            if new not in env:
                notes.append(f"fleetstream: warning: {k} is deprecated, use {new} (the old "
                             "spelling is read until the next release; docs/configuration.md)")
            elif env[new] != v:  # both set, and they disagree: say which one counts
                notes.append(f"fleetstream: warning: {k} is deprecated and ignored: {new} is "
                             "set (docs/configuration.md)")
            # both set to the same value (a shell that evaluated the old and the new
            # `scripts/services.sh env`): nothing depends on the old one, nothing to say
        elif k not in PROCESS_ENV:
            import difflib
            known = [*setting_env_names(), *PROCESS_ENV]
            close = difflib.get_close_matches(k, known, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]}?)" if close else \
                " (settings are FLEETSTREAM_<SECTION>__<KEY>)"
            notes.append(f"fleetstream: warning: unknown environment variable {k} is "
                         f"ignored{hint}")
    for dotted, v in old.items():
        flat.setdefault(dotted, v)
    return flat, notes


_WARNED: set[str] = set()


def warn_once(note: str) -> None:
    """One line on stderr, once per process (settings are loaded more than once)."""
    if note not in _WARNED:
        _WARNED.add(note)
        import sys
        print(note, file=sys.stderr, flush=True)
