"""Export and import model snapshots to a directory.

Layout of a models directory::

    manifest.json          schema version, library versions, zones, seat versions, sha256
    seats-<zone>.pkl       pickle of ModelSeats.snapshot() for that zone

Loading checks, in order, and refuses with :class:`SnapshotVersionError` (a
``ValueError``) on any mismatch: the manifest's ``schema_version``, the River
version (River's pickles are not compatible across releases), the Python
``major.minor`` (pickle protocol and stdlib classes), and each file's sha256
(a truncated or swapped file).

**Snapshots are pickles: loading one runs code chosen by whoever wrote it.
Never load a models directory from an untrusted source.**  The checksum only
guards against accidents, not against an attacker who can also edit the manifest.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import platform
import shutil
import tempfile
from typing import Any

import orjson
import river

from fleetstream.operators.estimators import ModelSeats

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"


class SnapshotVersionError(ValueError):
    """A models directory written by an incompatible schema, River or Python."""


def library_versions() -> dict[str, str]:
    return {"river": river.__version__, "python": ".".join(platform.python_version_tuple()[:2])}


def _file(zone: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in zone)
    return f"seats-{safe}.pkl"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def export_seats(seats_by_zone: dict[str, ModelSeats], out_dir: str,
                 source: str | None = None) -> dict:
    """Write one snapshot file per zone and the manifest (atomically replacing
    ``out_dir``'s previous contents of the same names).  Returns the manifest."""
    os.makedirs(out_dir, exist_ok=True)
    zones: dict[str, Any] = {}
    for zone in sorted(seats_by_zone):
        seats = seats_by_zone[zone]
        blob = pickle.dumps(seats.snapshot(), protocol=pickle.HIGHEST_PROTOCOL)
        name = _file(zone)
        fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=".tmp-")
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
        os.replace(tmp, os.path.join(out_dir, name))
        zones[zone] = {"file": name, "bytes": len(blob), "sha256": _sha(blob),
                       "seats": seats.versions()}
    manifest = {"schema_version": SCHEMA_VERSION, **library_versions(),
                "source": source, "zones": zones,
                "warning": "pickles: never load from an untrusted source"}
    with open(os.path.join(out_dir, MANIFEST), "wb") as f:
        f.write(orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
    return manifest


def read_manifest(models_dir: str) -> dict:
    path = os.path.join(models_dir, MANIFEST)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{models_dir}: no {MANIFEST} (not a models directory)")
    with open(path, "rb") as f:
        try:
            m = orjson.loads(f.read())
        except orjson.JSONDecodeError as e:
            raise SnapshotVersionError(f"{path}: unreadable manifest ({e})") from e
    return m


def check_manifest(m: dict, where: str = "") -> None:
    """Raise :class:`SnapshotVersionError` unless ``m`` can be loaded here."""
    here = library_versions()
    problems = []
    if m.get("schema_version") != SCHEMA_VERSION:
        problems.append(f"schema_version {m.get('schema_version')!r}, this build reads {SCHEMA_VERSION}")
    if m.get("river") != here["river"]:
        problems.append(f"written with river {m.get('river')!r}, this is river {here['river']}")
    if m.get("python") != here["python"]:
        problems.append(f"written with Python {m.get('python')!r}, this is Python {here['python']}")
    if problems:
        raise SnapshotVersionError(
            f"model snapshots in {where or 'directory'} refused: " + "; ".join(problems)
            + ". Re-export them with this version (fleetstream models export) or start cold.")


def load_all(models_dir: str) -> dict[str, ModelSeats]:
    m = read_manifest(models_dir)
    check_manifest(m, models_dir)
    return {zone: _load(models_dir, zone, info) for zone, info in m["zones"].items()}


def _confined(models_dir: str, name: object) -> str:
    """The path of a manifest's ``file`` entry, refused unless it is a plain file name
    inside ``models_dir`` (a manifest may not point elsewhere: ``../x``, ``/etc/x``)."""
    if not isinstance(name, str) or not name or os.path.basename(name) != name \
            or name in (".", ".."):
        raise SnapshotVersionError(f"{models_dir}: manifest file entry {name!r} is not a plain "
                                   "file name inside the snapshot folder")
    base = os.path.realpath(models_dir)
    path = os.path.realpath(os.path.join(base, name))
    if os.path.dirname(path) != base:
        raise SnapshotVersionError(f"{models_dir}: manifest file entry {name!r} leads outside "
                                   "the snapshot folder")
    return path


def _load(models_dir: str, zone: str, info: dict) -> ModelSeats:
    path = _confined(models_dir, info.get("file"))
    with open(path, "rb") as f:
        blob = f.read()
    if _sha(blob) != info["sha256"]:
        raise SnapshotVersionError(f"{path}: checksum does not match the manifest (damaged or replaced)")
    return ModelSeats.restore(pickle.loads(blob))


def load_zone_seats(models_dir: str, zone: str) -> ModelSeats | None:
    """The seats of ``zone`` from ``models_dir``; ``None`` when the directory has no
    snapshot of that zone (the caller starts it cold)."""
    m = read_manifest(models_dir)
    check_manifest(m, models_dir)
    info = m["zones"].get(zone)
    if info is None:
        return None
    return _load(models_dir, zone, info)


def import_dir(src: str, dst: str) -> dict:
    """Validate ``src`` fully (versions, checksums, unpickling) and copy it to ``dst``."""
    load_all(src)
    m = read_manifest(src)
    os.makedirs(dst, exist_ok=True)
    for info in m["zones"].values():
        shutil.copyfile(os.path.join(src, info["file"]), os.path.join(dst, info["file"]))
    shutil.copyfile(os.path.join(src, MANIFEST), os.path.join(dst, MANIFEST))
    return m
