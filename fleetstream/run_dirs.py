"""Output and recovery folders: what a command may create, replace, and never touch.

The rules (docs/operations.md, "Output and recovery folders"):

- a missing or empty folder is created and used, and marked as ours with a marker
  file (:data:`MARKER`: which command wrote it, its status);
- a non-empty folder is refused, with one line saying why, unless it carries our
  marker **and** ``--force`` is given; even then only the files that command writes
  are replaced (its ``owned`` list), never anything else in the folder;
- ``--resume`` continues the outputs of an earlier run: its ``--out`` must carry the
  marker and its ``--recovery`` folder must hold recovery snapshots;
- a ``--recovery`` folder holding data is refused without ``--resume``; ``--force``
  clears only the recovery files the engine writes (``part-N.sqlite3``).

Every check runs before anything is created or removed: a refused command changes
nothing on disk.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

MARKER = ".fleetstream-run.json"
"""Marks a folder written by a fleetstream command (``kind``, ``status``, ...)."""
RECOVERY_MARKER = ".fleetstream-recovery.json"
"""Marks a recovery folder initialised by ``fleetstream replay --recovery``."""
RECOVERY_FILE = re.compile(r"^part-\d+\.sqlite3(-wal|-shm|-journal)?$")
"""The files Bytewax recovery writes (``init_db_dir``) and nothing else."""


class OperatorError(ValueError):
    """An operator mistake (a path, a flag, a setting): one line, exit code 2."""


def read_marker(folder: str, name: str = MARKER) -> dict | None:
    """The marker of ``folder`` or ``None`` (missing or unreadable: not ours)."""
    try:
        with open(os.path.join(folder, name), "rb") as f:
            m = orjson.loads(f.read())
    except (OSError, orjson.JSONDecodeError):
        return None
    return m if isinstance(m, dict) else None


def write_marker(folder: str, data: dict, name: str = MARKER) -> None:
    """Write the marker atomically (a temporary file renamed over it)."""
    tmp = os.path.join(folder, name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
    os.replace(tmp, os.path.join(folder, name))


def _creatable(path: str) -> str | None:
    """Why ``path`` (missing) cannot be created as a folder, or ``None``."""
    parent = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(parent):
        nxt = os.path.dirname(parent)
        if nxt == parent:
            break
        parent = nxt
    if not os.path.isdir(parent):
        return f"{parent} is a file, not a folder"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"no permission to create it in {parent}"
    return None


def _usable_folder(flag: str, path: str) -> bool:
    """``True`` if ``path`` exists (a writable folder), ``False`` if it can be created;
    :class:`OperatorError` otherwise."""
    if os.path.exists(path):
        if not os.path.isdir(path):
            raise OperatorError(f"{flag} {path}: is a file, not a folder")
        if not os.access(path, os.W_OK | os.X_OK):
            raise OperatorError(f"{flag} {path}: not writable (no permission)")
        return True
    why = _creatable(path)
    if why:
        raise OperatorError(f"{flag} {path}: cannot create it ({why})")
    return False


@dataclass
class OutFolder:
    """A checked ``--out`` folder and what :meth:`apply` will do to it."""

    path: str
    kind: str
    """The command that writes it, e.g. ``"fleetstream replay"``."""
    action: str
    """``create`` (missing or empty), ``replace`` (ours, --force) or ``resume``."""
    owned_files: list[str] = field(default_factory=list)
    owned_dirs: list[str] = field(default_factory=list)

    def apply(self, **marker: Any) -> None:
        """Create the folder or remove only the files the command writes, then mark it
        ``running``."""
        os.makedirs(self.path, exist_ok=True)
        if self.action == "replace":
            for rel in self.owned_files:
                p = os.path.join(self.path, rel)
                if os.path.isfile(p) or os.path.islink(p):
                    os.remove(p)
            for rel in self.owned_dirs:  # only if nothing else is left in them
                try:
                    os.rmdir(os.path.join(self.path, rel))
                except OSError:
                    pass
        self.mark("running", **marker)

    def mark(self, status: str, **extra: Any) -> None:
        old = read_marker(self.path) or {}
        write_marker(self.path, {**old, **extra, "kind": self.kind, "status": status})


def check_out(path: str, kind: str, owned_files: list[str], owned_dirs: list[str] = (),
              force: bool = False, resume: bool = False, flag: str = "--out") -> OutFolder:
    """Check ``path`` for a run of ``kind`` without changing anything (see the module
    docstring); :class:`OperatorError` with one line if it may not be used."""
    owned = [*owned_files, MARKER, MARKER + ".tmp"]
    exists = _usable_folder(flag, path)
    entries = os.listdir(path) if exists else []
    if resume:
        m = read_marker(path) if entries else None
        if m is None or m.get("kind") != kind:
            raise OperatorError(
                f"{flag} {path}: holds no outputs of an earlier {kind} run to resume "
                f"(no {MARKER}); --resume continues a run in the same {flag} it wrote")
        return OutFolder(path, kind, "resume", owned, list(owned_dirs))
    if not entries:
        return OutFolder(path, kind, "create", owned, list(owned_dirs))
    m = read_marker(path)
    if m is None and owned_files and _only_owned(path, owned, list(owned_dirs)):
        raise OperatorError(
            f"{flag} {path}: looks like the output of an older {kind} (no {MARKER}), "
            f"which --force does not replace; remove it yourself or choose a new or empty "
            f"folder (nothing was changed)")
    if m is None or m.get("kind") != kind:
        raise OperatorError(
            f"{flag} {path}: is not empty and was not written by {kind} (no {MARKER}); "
            f"choose a new or empty folder (nothing was changed)")
    if not force:
        raise OperatorError(
            f"{flag} {path}: holds the outputs of an earlier {kind} run; add --force to "
            f"replace them (only the files {kind} writes), or choose a new or empty folder")
    return OutFolder(path, kind, "replace", owned, list(owned_dirs))


def _only_owned(path: str, owned_files: list[str], owned_dirs: list[str]) -> bool:
    """``path`` holds nothing but files named like the command's own outputs."""
    for root, dirs, files in os.walk(path):
        rel = os.path.relpath(root, path)
        if rel != "." and rel not in owned_dirs:
            return False
        for f in files:
            if os.path.normpath(os.path.join(rel, f)) not in owned_files:
                return False
    return True


@dataclass
class RecoveryFolder:
    """A checked ``--recovery`` folder and what :meth:`apply` will do to it."""

    path: str
    action: str
    """``init`` (missing or empty), ``clear`` (--force) or ``resume``."""

    def apply(self, partitions: int, lanes: int) -> None:
        from bytewax.recovery import init_db_dir
        if self.action == "resume":
            return
        os.makedirs(self.path, exist_ok=True)
        if self.action == "clear":
            for name in os.listdir(self.path):
                if RECOVERY_FILE.match(name) or name == RECOVERY_MARKER:
                    os.remove(os.path.join(self.path, name))
        init_db_dir(self.path, partitions)
        write_marker(self.path, {"kind": "fleetstream replay recovery", "lanes": lanes,
                                 "partitions": partitions}, RECOVERY_MARKER)


def check_recovery(path: str, resume: bool, force: bool, lanes: int) -> RecoveryFolder:
    """Check a ``--recovery`` folder without changing anything."""
    flag = "--recovery"
    exists = _usable_folder(flag, path)
    entries = os.listdir(path) if exists else []
    if resume:
        if not exists:
            raise OperatorError(f"--resume: the recovery folder {path} does not exist, so "
                                "there is nothing to resume (drop --resume to start afresh)")
        if not any(RECOVERY_FILE.match(e) for e in entries):
            raise OperatorError(f"--resume: {path} holds no recovery snapshots "
                                "(part-N.sqlite3), so there is nothing to resume (drop "
                                "--resume to start afresh, or give the run's --recovery)")
        m = read_marker(path, RECOVERY_MARKER)
        if m is not None and m.get("lanes", lanes) != lanes:
            raise OperatorError(f"--lanes {lanes}: the run in {path} used --lanes "
                                f"{m.get('lanes')}; --resume needs the same")
        return RecoveryFolder(path, "resume")
    if not entries:
        return RecoveryFolder(path, "init")
    if not force:
        raise OperatorError(f"--recovery {path}: already holds data; add --resume to "
                            "continue that run, choose an empty folder, or add --force to "
                            "clear the recovery files the engine writes (part-N.sqlite3) "
                            "and start afresh")
    return RecoveryFolder(path, "clear")
