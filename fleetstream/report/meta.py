"""Run metadata of a report: engine commit, version, replays, seeds, settings hash,
simulated day.  No wall clock: the date shown is the recorded day from the
replay's manifest, so the same inputs give the same report.

>>> settings_hash({"a": 1}) == settings_hash({"a": 1}) != settings_hash({"a": 2})
True
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import subprocess
from importlib import metadata
from typing import Any

import orjson

from fleetstream.report.metrics import is_num, na


def _plain(obj: Any) -> Any:
    if hasattr(obj, "model_dump"):
        return obj.model_dump()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    return getattr(obj, "__dict__", obj)


def settings_hash(obj: Any) -> str:
    """sha256 (first 12 hex digits) of the decision-relevant settings, keys sorted."""
    blob = orjson.dumps(_plain(obj), option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.sha256(blob).hexdigest()[:12]


def engine_commit() -> str:
    """The git commit of the engine's source tree (``+dirty`` with local changes)."""
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        out = subprocess.run(
            ["git", "-C", here, "describe", "--always", "--dirty", "--abbrev=12"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return na("git not available")
    return (
        out.stdout.strip()
        if out.returncode == 0 and out.stdout.strip()
        else na("not a git checkout")
    )


def version() -> str:
    try:
        return metadata.version("fleetstream")
    except metadata.PackageNotFoundError:
        return na("not installed")


def manifest(replay: str) -> dict:
    try:
        with open(os.path.join(replay, "manifest.json"), "rb") as f:
            m = orjson.loads(f.read())
        return m if isinstance(m, dict) else {}
    except (OSError, orjson.JSONDecodeError):
        return {}


def recorded_day(m: dict) -> str:
    """The simulated (recorded) day of a manifest, as a UTC date."""
    day0 = (m.get("time_span") or {}).get("day0")
    if not is_num(day0):
        return na("no time_span.day0 in the manifest")
    return dt.datetime.fromtimestamp(day0, dt.UTC).strftime("%Y-%m-%d")


def run_meta(
    settings: Any,
    replays: list[str],
    manifests: list[dict],
    seeds: list[str],
    mode: str,
    extra: dict | None = None,
) -> dict:
    """Everything a reader needs to reproduce the report."""
    days = sorted({recorded_day(m) for m in manifests}) if manifests else []
    names = sorted({str(m.get("name")) for m in manifests if m.get("name")})
    return {
        "mode": mode,
        "engine_commit": engine_commit(),
        "fleetstream_version": version(),
        "replays": replays or [na("simulated in memory")],
        "scenarios": names or [na("no manifest")],
        "seeds": seeds,
        "recorded_days_utc": days or [na("no manifest")],
        "settings_hash": settings_hash(getattr(settings, "engine", settings)),
        **(extra or {}),
    }
