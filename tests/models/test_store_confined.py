"""A models manifest's ``file`` entries are confined to the snapshot folder (#11)."""

from __future__ import annotations

import os

import pytest

from fleetstream.models.store import SnapshotVersionError, _confined, load_zone_seats


@pytest.mark.parametrize("name", ["../secret.pkl", "/etc/passwd", "sub/x.pkl", "..", "", None, 3])
def test_a_file_entry_outside_the_folder_is_refused(tmp_path, name):
    with pytest.raises(SnapshotVersionError):
        _confined(str(tmp_path), name)


def test_a_symlink_leading_outside_is_refused(tmp_path):
    outside = tmp_path / "outside.pkl"
    outside.write_bytes(b"x")
    folder = tmp_path / "models"
    folder.mkdir()
    os.symlink(outside, folder / "z1.pkl")
    with pytest.raises(SnapshotVersionError, match="outside"):
        _confined(str(folder), "z1.pkl")


def test_load_refuses_a_manifest_pointing_outside(tmp_path, monkeypatch):
    import fleetstream.models.store as store
    folder = tmp_path / "models"
    folder.mkdir()
    (tmp_path / "evil.pkl").write_bytes(b"not read")
    monkeypatch.setattr(store, "read_manifest", lambda d: {
        "zones": {"Z1": {"file": "../evil.pkl", "sha256": "0"}}})
    monkeypatch.setattr(store, "check_manifest", lambda m, where="": None)
    with pytest.raises(SnapshotVersionError, match="plain file name"):
        load_zone_seats(str(folder), "Z1")
    assert _confined(str(folder), "z1.pkl") == os.path.join(os.path.realpath(folder), "z1.pkl")
