"""Checks run before a command starts anything: paths, inputs, flags and settings.

Each check raises :class:`~fleetstream.run_dirs.OperatorError` with one line naming
the flag or path at fault (the CLI prints it and exits with code 2), so a mistake is
caught before any folder is created or any work is done (docs/operations.md).
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from typing import Any, Mapping

from fleetstream.run_dirs import OperatorError

EVENT_FILES = ("events.jsonl.gz", "events.jsonl")


def events_file(replay: str) -> str:
    """The events file of a replay folder (or the file itself), checked to exist."""
    if not os.path.exists(replay):
        raise OperatorError(f"{replay}: no such replay folder or events file")
    if os.path.isdir(replay):
        for name in EVENT_FILES:
            p = os.path.join(replay, name)
            if os.path.isfile(p):
                return p
        raise OperatorError(f"{replay}: not a replay folder (no {' or '.join(EVENT_FILES)} "
                            "in it)")
    return replay


READ_ERRORS = (OSError, EOFError, zlib.error)
"""What reading a damaged events file raises (gzip.BadGzipFile is an OSError)."""


def read_error_text(path: str, e: BaseException, line: int | None = None) -> str:
    """One line for a read error of an events file."""
    where = f" after line {line:,}" if line is not None else ""
    if isinstance(e, EOFError):
        what = "the gzip stream ends early (a truncated file)"
    elif isinstance(e, (gzip.BadGzipFile, zlib.error)):
        what = f"not a valid gzip file ({e})"
    else:
        what = str(e) or type(e).__name__
    return f"{path}: cannot read{where}: {what}"


def check_events_file(path: str) -> int:
    """Read ``path`` once to the end (a gzip stream fully, its checksum and length
    included) and return its number of lines; :class:`OperatorError` if it cannot be
    read.  Cheap next to the replay itself, and it spares a run that would stop half-way."""
    n = 0
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                while True:
                    chunk = f.read(1 << 20)
                    if not chunk:
                        break
                    n += chunk.count(b"\n")
                    last = chunk[-1:]
            if n and last != b"\n":
                n += 1
        else:
            with open(path, "rb") as f:
                last = b"\n"
                for block in iter(lambda: f.read(1 << 20), b""):
                    n += block.count(b"\n")
                    last = block[-1:]
                if last != b"\n":
                    n += 1
    except READ_ERRORS as e:
        raise OperatorError(read_error_text(path, e)) from None
    return n


def check_number(flag: str, value: Any, minimum: float | None = None,
                 positive: bool = False, finite: bool = True) -> None:
    """``flag``'s value must be finite, ``> 0`` (positive) or ``>= minimum``."""
    if value is None:
        return
    if finite and isinstance(value, float) and not math.isfinite(value):
        raise OperatorError(f"{flag} must be a finite number, got {value}")
    if positive and not value > 0:
        raise OperatorError(f"{flag} must be > 0, got {value}")
    if minimum is not None and not value >= minimum:
        raise OperatorError(f"{flag} must be >= {minimum:g}, got {value}")


def check_config(path: str | None) -> None:
    if path is None:
        return
    if not os.path.exists(path):
        raise OperatorError(f"--config {path}: no such file")
    if os.path.isdir(path):
        raise OperatorError(f"--config {path}: is a folder, not a settings file")
    if not os.access(path, os.R_OK):
        raise OperatorError(f"--config {path}: not readable (no permission)")


def parse_sets(items: list[str] | None) -> dict[str, str]:
    """``--set SECTION.KEY=VALUE`` flags -> overrides."""
    out: dict[str, str] = {}
    for kv in items or []:
        k, eq, v = kv.partition("=")
        if not eq or not k.strip():
            raise OperatorError(f"--set {kv}: expected SECTION.KEY=VALUE, for example "
                                "--set engine.autonomy_reroute=propose")
        out[k.strip()] = v
    return out


def load_settings(config: str | None, sets: list[str] | None,
                  env: Mapping[str, str] | None = None) -> Any:
    """Settings from ``--config``, the environment and ``--set``; an error names the
    source at fault (``--config``, the ``FLEETSTREAM_*`` environment or ``--set``)."""
    from fleetstream.contract.settings import Settings
    check_config(config)
    overrides = parse_sets(sets)
    env = os.environ if env is None else env
    try:
        Settings.load(None, env=env)
    except ValueError as e:
        raise OperatorError(f"FLEETSTREAM_* environment: {e}") from None
    if config:
        try:
            Settings.load(config, env=env)
        except (ValueError, OSError) as e:
            msg = str(e)
            raise OperatorError(msg if msg.startswith(config) else
                                f"--config {config}: {msg}") from None
    from fleetstream.contract.settings import SECRET_SECTIONS
    try:
        return Settings.load(config, env=env, overrides=overrides)
    except ValueError as e:
        bad = [f"{k}={'...' if k.split('.')[0] in SECRET_SECTIONS else v}"
               for k, v in overrides.items() if k.split(".")[-1] in str(e)]
        raise OperatorError(f"--set {bad[0] if bad else ''}: {e}".replace("--set : ", "--set: ")
                            ) from None


def check_models_dir(path: str | None, flag: str = "--models") -> None:
    """A model snapshot folder (``fleetstream models export``): present, a readable
    manifest of this build's versions, every snapshot file inside the folder and
    matching its checksum."""
    if path is None:
        return
    if not os.path.exists(path):
        raise OperatorError(f"{flag} {path}: no such folder")
    if not os.path.isdir(path):
        raise OperatorError(f"{flag} {path}: not a folder")
    from fleetstream.models import store
    try:
        m = store.read_manifest(path)
    except FileNotFoundError:
        raise OperatorError(f"{flag} {path}: not a model snapshot folder (no "
                            f"{store.MANIFEST}; write one with `fleetstream models "
                            "export`)") from None
    except (ValueError, OSError) as e:
        raise OperatorError(f"{flag} {path}: {e}") from None
    zones = m.get("zones") if isinstance(m, dict) else None
    if not isinstance(zones, dict) or not all(isinstance(z, dict) for z in zones.values()):
        raise OperatorError(f"{flag} {path}: {store.MANIFEST} is not a models manifest "
                            "(no zones table)")
    try:
        store.check_manifest(m, path)
    except ValueError as e:
        raise OperatorError(f"{flag} {path}: {e}") from None
    for zone, info in zones.items():
        name = info.get("file")
        if (not isinstance(name, str) or not name or os.path.basename(name) != name
                or name in (".", "..")):
            raise OperatorError(f"{flag} {path}: the manifest names a snapshot file "
                                f"outside its folder for zone {zone!r}; refused")
        if not os.path.isfile(os.path.join(path, name)):
            raise OperatorError(f"{flag} {path}: snapshot file {name} of zone {zone!r} "
                                "is missing")
    try:
        store.load_all(path)
    except Exception as e:  # noqa: BLE001 - a damaged snapshot, whatever the error
        raise OperatorError(f"{flag} {path}: cannot load the snapshots "
                            f"({type(e).__name__}: {e})") from None
