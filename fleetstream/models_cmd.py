"""``fleetstream models``: export, import and inspect model snapshots.

  fleetstream models export REPLAY --out DIR [--models WARM] [--kind learned]
      run the engine over a replay folder (learning from every outcome, as in a
      replay) and write each zone's learned seats to DIR (manifest.json with the
      schema version and the river/python versions, one seats-<zone>.pkl per zone)
  fleetstream models import SRC --out DIR
      check SRC (schema, river and python versions, checksums, that it loads) and
      copy it to DIR; refuses an incompatible directory with a clear error
  fleetstream models info DIR
      print the manifest, the snapshot sizes and each zone's progressive metrics

Snapshots are pickles: **never import or warm-start from an untrusted source.**
A warm start is ``--models DIR`` on ``replay``, ``evaluate`` and ``run``.
"""

from __future__ import annotations

import argparse
import os
import sys

import orjson

from fleetstream.connectors.files import read_replay
from fleetstream.engine import LocalEngine
from fleetstream.contract.settings import Settings


def export_from_replay(replay: str, out: str, settings: Settings | None = None,
                       models_dir: str | None = None, kind: str = "learned",
                       progress: bool = False) -> dict:
    from fleetstream.wiring import build_zone_engine
    from fleetstream.models.store import export_seats
    settings = settings or Settings()
    engine = LocalEngine(settings.engine, zone_factory=lambda z: build_zone_engine(
        z, settings.engine, models_dir=models_dir, kind=kind))
    n = 0
    for msg in read_replay(replay):
        engine.process(msg)
        n += 1
        if progress and n % 50000 == 0:
            print(f"  {n:,} events", file=sys.stderr, flush=True)
    return export_seats({z: e.seats for z, e in engine.zones.items()}, out,
                        source=os.path.abspath(replay))


def info(models_dir: str) -> dict:
    from fleetstream.models.seats import seat_metrics
    from fleetstream.models.store import check_manifest, load_all, read_manifest
    m = read_manifest(models_dir)
    out = {"manifest": m}
    try:
        if not isinstance(m, dict) or not isinstance(m.get("zones"), dict):
            raise ValueError(f"{models_dir}: manifest.json is not a models manifest "
                             "(no zones table)")
        check_manifest(m, models_dir)
    except ValueError as e:
        out["loadable"] = False
        out["refused"] = str(e)
        return out
    out["loadable"] = True
    out["metrics"] = {z: seat_metrics(s) for z, s in load_all(models_dir).items()}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="fleetstream models", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="action", required=True)
    e = sub.add_parser("export", help="learn over a replay and export the zones' models")
    e.add_argument("replay")
    e.add_argument("--out", required=True)
    e.add_argument("--models", metavar="DIR", help="warm-start from this models dir first")
    e.add_argument("--kind", default="learned", choices=["learned", "baseline"])
    e.add_argument("--config")
    e.add_argument("-q", "--quiet", action="store_true")
    i = sub.add_parser("import", help="validate a models dir and copy it")
    i.add_argument("src")
    i.add_argument("--out", required=True)
    n = sub.add_parser("info", help="show a models dir's manifest, sizes and metrics")
    n.add_argument("dir")
    a = ap.parse_args(argv)
    from fleetstream.preflight import check_models_dir, events_file, load_settings
    from fleetstream.run_dirs import _usable_folder
    if a.action == "export":
        # everything checked before the (long) learning run starts
        settings = load_settings(a.config, None)
        events_file(a.replay)
        check_models_dir(a.models)
        _usable_folder("--out", a.out)
        m = export_from_replay(a.replay, a.out, settings, a.models, a.kind,
                               progress=not a.quiet)
        for z, zi in m["zones"].items():
            print(f"{z}: {zi['bytes']:,} bytes  " + ", ".join(
                f"{k} {v['version']} n={v['n']}" for k, v in zi["seats"].items()))
        print(f"written: {a.out}/manifest.json (schema {m['schema_version']}, river {m['river']}, "
              f"python {m['python']})")
        return 0
    if a.action == "import":
        from fleetstream.models.store import import_dir
        check_models_dir(a.src, flag="SRC")
        _usable_folder("--out", a.out)
        m = import_dir(a.src, a.out)
        print(f"imported {len(m['zones'])} zones from {a.src} into {a.out}")
        return 0
    res = info(a.dir)
    sys.stdout.write(orjson.dumps(res, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode() + "\n")
    if not res["loadable"]:
        print(f"fleetstream models: refused: {res['refused']}", file=sys.stderr)
    return 0 if res["loadable"] else 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
