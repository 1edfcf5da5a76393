"""No trips file crashes ``fleetstream models trips``: mutated CSV, gzip and JSON Lines
files (random bytes, broken quotes, non-finite numbers, wrong field counts) end in a
report (exit 0) or one line (exit 2), never an internal error (exit 1)."""

from __future__ import annotations

import contextlib
import gzip
import io
import random

import orjson
import pytest

from fleetstream.cli import main
from fleetstream.sim.taxi import to_csv, trips


def _mutate(rng: random.Random, lines: list[bytes]) -> list[bytes]:
    ls = list(lines)
    for _ in range(rng.randrange(1, 20)):
        i = rng.randrange(len(ls))
        op = rng.randrange(6)
        if op == 0:
            ls[i] = bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
        elif op == 1 and ls[i]:
            j = rng.randrange(len(ls[i]))
            ls[i] = ls[i][:j] + bytes([rng.randrange(256)]) + ls[i][j + 1:]
        elif op == 2:
            ls[i] = ls[i].replace(b",", b",,", 1)
        elif op == 3:
            ls[i] = ls[i] + b',"x\n'
        elif op == 4:
            ls.insert(i, b"inf,nan,-inf,1e309,-0,1e20")
        else:
            ls[i] = ls[i].replace(b"4", b"9")
    return ls


@pytest.mark.parametrize("seed", range(3))
def test_mutated_files_never_crash(tmp_path, seed):
    rng = random.Random(seed)
    lines = to_csv(trips(seed + 1, days=1, per_day=150)).encode().split(b"\n")
    header = lines[0].decode().split(",")
    for it in range(15):
        ls = _mutate(rng, lines)
        ext = (".csv", ".csv.gz", ".jsonl")[it % 3]
        if ext == ".jsonl":
            data = b"\n".join(
                orjson.dumps(dict(zip(header, (x.decode("utf-8", "replace") for x in p))))
                if len(p := line.split(b",")) == len(header) and rng.random() < 0.8 else line
                for line in ls[1:])
        else:
            data = b"\n".join(ls)
        if ext.endswith(".gz"):
            data = gzip.compress(data)
        f = tmp_path / f"f{it}{ext}"
        f.write_bytes(data)
        with contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()) as err:
            rc = main(["models", "trips", str(f), "-q"])
        assert rc in (0, 2), (f, rc, err.getvalue())
        if rc == 2:
            assert len(err.getvalue().strip().splitlines()) == 1
