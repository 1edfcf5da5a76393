"""Typed, validated, defaulted settings, loadable from TOML and the environment.

Precedence, the same for every section: defaults < TOML file (``--config``) <
environment variables ``FLEETSTREAM_<SECTION>__<FIELD>`` (for example
``FLEETSTREAM_ENGINE__SWEEP_INTERVAL_S=30``; ``FLEETSTREAM_WORKERS``) < ``--set`` and
the command's own flags.  The environment layer (:func:`read_environment`) also accepts
the two old single-underscore spellings for one release, with a one-line deprecation
warning, and names every other unknown ``FLEETSTREAM_*`` variable with the closest
known name (docs/configuration.md).

This module is the loader (:meth:`Settings.load`: the layers, the type coercion of
every value, and the errors that never show a secret) and the one import path for
every settings name.  The sections live in their own modules, all re-exported here:
``[engine]`` in :mod:`fleetstream.contract.engine_settings`, ``[limits]`` in
:mod:`fleetstream.contract.limits_settings`, ``[kafka]`` and ``[redis]`` in
:mod:`fleetstream.contract.connection_settings`, and the environment layer in
:mod:`fleetstream.contract.settings_env`.  Every key is documented in
docs/configuration.md.

>>> s = EngineSettings(sweep_interval_s=30)
>>> s.sweep_interval_s
30.0
>>> EngineSettings(late_risk_on=0.2, late_risk_off=0.5)
Traceback (most recent call last):
...
ValueError: late_risk_off (0.5) must be below late_risk_on (0.2) for hysteresis
"""

from __future__ import annotations

import dataclasses
import math
import os

import orjson
import tomllib
from dataclasses import dataclass, field
from typing import Any, Mapping

# Split by responsibility; every public name of the parts stays importable from here
# (tests/test_reexports.py checks it).
from fleetstream.contract.connection_settings import (REDIS_SCHEMES,  # noqa: F401
                                                      KafkaSettings, RedisSettings)
from fleetstream.contract.engine_settings import (AUTONOMY_LEVELS,  # noqa: F401
                                                  ENGINE_RANGES, FROZEN_EXCEPTIONS,
                                                  TRAVEL_PROVIDERS,
                                                  EngineSettings)
from fleetstream.contract.limits_settings import LimitsSettings
from fleetstream.contract.settings_env import (_SECTIONS, _TOP_LEVEL,  # noqa: F401
                                               DEPRECATED_ENV, ENV_PREFIX, PROCESS_ENV,
                                               env_name, read_environment,
                                               setting_env_names, warn_once)


@dataclass
class Settings:
    engine: EngineSettings = field(default_factory=EngineSettings)
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    limits: LimitsSettings = field(default_factory=LimitsSettings)
    workers: int = 1

    @classmethod
    def load(cls, path: str | None = None, env: Mapping[str, str] | None = None,
             overrides: Mapping[str, Any] | None = None) -> "Settings":
        """Defaults, then the TOML file, then ``FLEETSTREAM_*`` variables, then overrides
        (``{"engine.sweep_interval_s": 30}``)."""
        data: dict[str, Any] = {}
        if path:
            if os.path.isdir(path):
                raise ValueError(f"{path}: is a directory, not a settings file")
            with open(path, "rb") as f:
                raw = f.read()
            is_json = path.endswith(".json")
            try:
                data = orjson.loads(raw) if is_json else tomllib.loads(raw.decode("utf-8"))
            except (tomllib.TOMLDecodeError, orjson.JSONDecodeError, UnicodeDecodeError) as e:
                raise ValueError(f"{path}: not a valid {'JSON' if is_json else 'TOML'} "
                                 f"settings file: {e}") from None
        env = os.environ if env is None else env
        flat, notes = read_environment(env)
        for note in notes:
            warn_once(note)
        flat.update(overrides or {})
        for dotted, v in flat.items():
            if "." in dotted:
                sec, _, name = dotted.partition(".")
                data.setdefault(sec, {})[name] = v
            else:
                data[dotted] = v
        unknown = sorted(set(data) - set(_SECTIONS) - _TOP_LEVEL)
        if unknown:
            raise ValueError(f"unknown settings section or key: {', '.join(unknown)} "
                             f"(known: {', '.join([*_SECTIONS, *sorted(_TOP_LEVEL)])})")
        workers = _coerce("workers", "int", data.get("workers", 1))
        if workers < 1:
            raise ValueError("workers must be >= 1")
        return cls(**{s: _build(s, c, data.get(s, {})) for s, c in _SECTIONS.items()},
                   workers=workers)



SECRET_SECTIONS = ("kafka", "redis")
"""Sections whose values may hold credentials: errors name the setting, never the value."""


def _coerce(qual: str, t: str, v: Any) -> Any:
    """``v`` as type ``t`` for setting ``qual`` (``section.key``).  Errors about settings
    of :data:`SECRET_SECTIONS` never show the value (it may be a password)."""
    if qual.split(".")[0] not in SECRET_SECTIONS:
        return _coerce_value(qual, t, v)
    try:
        return _coerce_value(qual, t, v)
    except ValueError as e:
        msg = str(e).split(", got ")[0]
    # raised outside the handler: no __context__ holding the value either
    raise ValueError(msg + " (the value is not shown: it may hold secrets)")


def _coerce_value(qual: str, t: str, v: Any) -> Any:
    if t == "str":
        if not isinstance(v, str):
            raise ValueError(f"{qual}: expected a string, got {type(v).__name__}")
        return v
    if t == "bool":
        if isinstance(v, bool):
            return v
        if isinstance(v, str) and v.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
            return v.strip().lower() in ("true", "1", "yes")
        raise ValueError(f"{qual}: expected true or false, got {v!r}")
    if t in ("float", "int"):
        if isinstance(v, bool):
            raise ValueError(f"{qual}: expected a number, got {v!r}")
        try:
            n = float(v) if t == "float" else int(v)
        except (TypeError, ValueError):
            raise ValueError(f"{qual}: expected {'a number' if t == 'float' else 'an integer'}"
                             f", got {v!r}") from None
        if t == "int" and isinstance(v, float) and v != n:
            raise ValueError(f"{qual}: expected an integer, got {v!r}")
        if t == "float" and not math.isfinite(n):
            raise ValueError(f"{qual}: must be finite, got {v!r}")
        return n
    if t == "dict" and isinstance(v, str):
        try:
            v = orjson.loads(v)
        except orjson.JSONDecodeError:
            raise ValueError(f"{qual}: expected a JSON object (not valid JSON)") from None
    if t == "dict" and not isinstance(v, dict):
        raise ValueError(f"{qual}: expected an object, got {type(v).__name__}")
    return v


def _build(section: str, cls: type, values: Any) -> Any:
    if not isinstance(values, Mapping):
        raise ValueError(f"[{section}] must be a table of settings, not a "
                         f"{type(values).__name__}")
    known = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for k, v in values.items():
        if k not in known:
            raise ValueError(f"unknown setting {section}.{k} (known: "
                             f"{', '.join(sorted(known))})")
        kwargs[k] = _coerce(f"{section}.{k}", known[k].type, v)
    return cls(**kwargs)
