#!/usr/bin/env python3
"""Convert an OpenStreetMap extract (.osm.pbf) into fleetstream's compact road graph.

Run once, offline; the result is shipped in the repository
(``fleetstream/roads/data/<name>.npz``) so the runtime needs only numpy/scipy,
never pyrosm (install it with ``pip install -e '.[osm]'`` to run this script).

What it keeps (docs/roads.md, "The graph"):

* the drivable network as pyrosm reads it (``network_type="driving"``): every
  way segment between two consecutive OSM nodes;
* one directed edge per driving direction: two-way roads give two edges,
  ``oneway=yes|true|1``, roundabouts and motorways one (along the way),
  ``oneway=-1|reverse`` one (against the way);
* per edge: length in metres (haversine between the segment's end points), road
  class (``highway``), speed in km/h (the posted ``maxspeed`` when it parses,
  otherwise the class default below) and whether that speed was posted;
* parallel edges between the same two nodes collapse into the shortest one;
* only the largest strongly connected component (every node can reach every
  other one), so any two snapped points have a route.

Usage::

    .venv/bin/python scripts/osm_to_graph.py                      # Andorra, the default
    .venv/bin/python scripts/osm_to_graph.py --pbf city.osm.pbf --name city

The output is deterministic: the same extract gives the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import os
import re
import sys
import zipfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_PBF = os.path.normpath(os.path.join(ROOT, "..", "shared", "data", "osm", "andorra.osm.pbf"))
DEFAULT_OUT = os.path.join(ROOT, "fleetstream", "roads", "data")
FORMAT_VERSION = 1

# Free-flow speed (km/h) of a road class when no maxspeed is posted.
CLASS_SPEED_KMH = {
    "motorway": 100, "trunk": 80, "primary": 60, "secondary": 50, "tertiary": 40,
    "unclassified": 35, "residential": 30, "living_street": 10, "service": 20, "road": 30,
    "motorway_link": 60, "trunk_link": 50, "primary_link": 40, "secondary_link": 35,
    "tertiary_link": 30,
}
# Zone-style speed tags (``maxspeed=FR:urban``...).
ZONE_SPEED_KMH = {"urban": 50, "rural": 80, "motorway": 120, "zone30": 30, "walk": 7,
                  "living_street": 10, "trunk": 100}
ONEWAY_FORWARD = {"yes", "true", "1"}
ONEWAY_BACKWARD = {"-1", "reverse"}
EARTH_RADIUS_M = 6_371_000.0


def parse_maxspeed(raw: object) -> float | None:
    """Posted speed in km/h, or None when absent or unparseable.  Several values
    (``"90;30;90"``: per lane or conditional) give the lowest; ``mph`` converts;
    ``XX:urban`` style tags use :data:`ZONE_SPEED_KMH`.

    >>> parse_maxspeed("50"), parse_maxspeed("90;30"), parse_maxspeed("30 mph"), parse_maxspeed("FR:urban")
    (50.0, 30.0, 48.3, 50.0)
    >>> parse_maxspeed(None), parse_maxspeed("none"), parse_maxspeed("signals")
    (None, None, None)
    """
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return None
    out = []
    for part in str(raw).replace(",", ";").split(";"):
        part = part.strip().lower()
        m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(mph|km/h|kmh)?", part)
        if m:
            v = float(m.group(1)) * (1.609 if m.group(2) == "mph" else 1.0)
            if 3 <= v <= 200:
                out.append(round(v, 1))
            continue
        if ":" in part and part.split(":", 1)[1] in ZONE_SPEED_KMH:
            out.append(float(ZONE_SPEED_KMH[part.split(":", 1)[1]]))
    return min(out) if out else None


def haversine_m(lat1, lon1, lat2, lon2):
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2 - lon1)
    h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(h)))


def _str(x: object) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else str(x).strip().lower()


def read_pbf(path: str):
    """(node ids, lat, lon, segments) from pyrosm; segments are tuples
    (u_osm, v_osm, highway, maxspeed, oneway, junction, way_id)."""
    try:
        import pyrosm
    except ImportError:
        raise SystemExit("osm_to_graph: pyrosm is not installed (pip install -e '.[osm]')")
    nodes, edges = pyrosm.OSM(path).get_network(network_type="driving", nodes=True)
    if edges is None or len(edges) == 0:
        raise SystemExit(f"osm_to_graph: no drivable roads in {path}")
    segs = list(zip(edges["u"].astype("int64"), edges["v"].astype("int64"), edges["highway"],
                    edges["maxspeed"] if "maxspeed" in edges else [None] * len(edges),
                    edges["oneway"] if "oneway" in edges else [None] * len(edges),
                    edges["junction"] if "junction" in edges else [None] * len(edges),
                    edges["id"].astype("int64")))
    return (nodes["id"].to_numpy(dtype="int64"), nodes["lat"].to_numpy(dtype="float64"),
            nodes["lon"].to_numpy(dtype="float64"), segs)


def build(node_ids, lat, lon, segs, keep_classes: set | None = None) -> dict:
    """The directed graph as numpy arrays (largest strongly connected component)."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    index = {int(n): i for i, n in enumerate(node_ids)}
    classes = sorted({_str(s[2]) for s in segs if _str(s[2])})
    if keep_classes:
        classes = [c for c in classes if c in keep_classes]
    cls_id = {c: i for i, c in enumerate(classes)}
    rows = []  # (u, v, class, speed, posted, way)
    for u, v, hw, ms, ow, jn, way in segs:
        hw = _str(hw)
        if hw not in cls_id or int(u) not in index or int(v) not in index or u == v:
            continue
        posted = parse_maxspeed(ms)
        speed = posted if posted is not None else float(CLASS_SPEED_KMH.get(hw, 30))
        ow, jn = _str(ow), _str(jn)
        fwd, bwd = True, True
        if ow in ONEWAY_FORWARD or jn in ("roundabout", "circular") or hw == "motorway":
            bwd = False
        if ow in ONEWAY_BACKWARD:
            fwd, bwd = False, True
        if ow == "no":
            fwd, bwd = True, True
        iu, iv = index[int(u)], index[int(v)]
        if fwd:
            rows.append((iu, iv, cls_id[hw], speed, posted is not None, int(way)))
        if bwd:
            rows.append((iv, iu, cls_id[hw], speed, posted is not None, int(way)))
    if not rows:
        raise SystemExit("osm_to_graph: no edges left")
    u = np.array([r[0] for r in rows], dtype=np.int64)
    v = np.array([r[1] for r in rows], dtype=np.int64)
    length = haversine_m(lat[u], lon[u], lat[v], lon[v])
    length = np.maximum(length, 0.1)  # strictly positive weights: no zero-cost cycles
    # Keep the shortest of parallel edges (then the lowest class id, then way id).
    cls = np.array([r[2] for r in rows], dtype=np.int64)
    way = np.array([r[5] for r in rows], dtype=np.int64)
    order = np.lexsort((way, cls, length, v, u))
    keep = np.ones(len(order), dtype=bool)
    su, sv = u[order], v[order]
    keep[1:] = (su[1:] != su[:-1]) | (sv[1:] != sv[:-1])
    sel = order[keep]
    u, v, length, cls, way = u[sel], v[sel], length[sel], cls[sel], way[sel]
    speed = np.array([rows[i][3] for i in sel], dtype=np.float64)
    posted = np.array([rows[i][4] for i in sel], dtype=bool)
    # Largest strongly connected component (ties: the one holding the lowest node index).
    n = len(node_ids)
    g = csr_matrix((np.ones(len(u)), (u, v)), shape=(n, n))
    ncomp, labels = connected_components(g, directed=True, connection="strong")
    sizes = np.bincount(labels, minlength=ncomp)
    best = int(np.argmax(sizes))
    in_comp = labels == best
    ekeep = in_comp[u] & in_comp[v]
    new_index = -np.ones(n, dtype=np.int64)
    kept_nodes = np.flatnonzero(in_comp)
    new_index[kept_nodes] = np.arange(len(kept_nodes))
    u, v = new_index[u[ekeep]], new_index[v[ekeep]]
    length, cls, way, speed, posted = (length[ekeep], cls[ekeep], way[ekeep], speed[ekeep],
                                       posted[ekeep])
    order = np.lexsort((v, u))
    return {
        "node_osm_id": node_ids[kept_nodes].astype(np.int64),
        "node_lat_e7": np.round(lat[kept_nodes] * 1e7).astype(np.int32),
        "node_lon_e7": np.round(lon[kept_nodes] * 1e7).astype(np.int32),
        "edge_u": u[order].astype(np.int32),
        "edge_v": v[order].astype(np.int32),
        "edge_length_m": np.round(length[order], 2).astype(np.float32),
        "edge_class": cls[order].astype(np.uint8),
        "edge_speed_kmh": np.round(speed[order], 1).astype(np.float32),
        "edge_speed_posted": posted[order].astype(np.uint8),
        "edge_way_id": way[order].astype(np.int64),
        "classes": np.array(classes, dtype="<U24"),
        "_dropped": {"components": int(ncomp), "nodes_outside": int(n - len(kept_nodes)),
                     "edges_outside": int((~ekeep).sum())},
    }


def write_npz(path: str, arrays: dict, meta: dict) -> None:
    """An ``.npz`` (zip of ``.npy``) with fixed timestamps: same arrays, same bytes."""
    items = {k: a for k, a in arrays.items() if not k.startswith("_")}
    items["meta_json"] = np.array(json.dumps(meta, sort_keys=True))
    tmp = path + ".tmp"
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for k in sorted(items):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(items[k]), allow_pickle=False)
            info = zipfile.ZipInfo(k + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue(), compresslevel=9)
    os.replace(tmp, path)


ATTRIBUTION = """# Road graphs shipped with fleetstream

`{name}.npz` is derived from OpenStreetMap data by `scripts/osm_to_graph.py`
(format version {version}): the drivable network of `{source}`
(sha256 `{sha}`), one directed edge per driving direction, largest strongly
connected component only. See docs/roads.md for the fields and the conversion.

{source_note}

Map data (c) OpenStreetMap contributors, available under the Open Database
License 1.0 (ODbL, https://opendatacommons.org/licenses/odbl/1-0/).
See https://www.openstreetmap.org/copyright. This derived database is made
available under the same licence; anything derived from it must carry this
attribution and licence.
"""

ANDORRA_NOTE = ("The extract is the Andorra test file of the GraphHopper routing engine "
                "(graphhopper/graphhopper, `core/files/andorra.osm.pbf`, commit c058139f10), "
                "taken unchanged.")


def summary(arrays: dict) -> str:
    classes = list(arrays["classes"])
    cls, length = arrays["edge_class"], arrays["edge_length_m"].astype(np.float64)
    u, v = arrays["edge_u"].astype(np.int64), arrays["edge_v"].astype(np.int64)
    n = len(arrays["node_osm_id"])
    # km of road: a two-way segment counts once.
    key_fwd, key_bwd = u * n + v, v * n + u
    has_rev = np.isin(key_fwd, key_bwd)
    road_len = np.where(has_rev, length / 2, length)
    lines = [f"nodes {n:,}  directed edges {len(u):,}  "
             f"(one-way {int((~has_rev).sum()):,})  km of road {road_len.sum() / 1000:.1f}",
             f"posted speeds on {arrays['edge_speed_posted'].mean() * 100:.1f} % of edges",
             "km of road by class:"]
    for i, c in enumerate(classes):
        m = cls == i
        if m.any():
            lines.append(f"  {c:<16} {road_len[m].sum() / 1000:8.1f} km  edges {int(m.sum()):>7,}"
                         f"  mean speed {arrays['edge_speed_kmh'][m].mean():5.1f} km/h")
    d = arrays.get("_dropped")
    if d:
        lines.append(f"dropped outside the largest strongly connected component: "
                     f"{d['nodes_outside']:,} nodes, {d['edges_outside']:,} edges "
                     f"({d['components']:,} components)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="osm_to_graph.py",
        description="Convert an OpenStreetMap .osm.pbf extract into the compact road graph "
                    "fleetstream ships (fleetstream/roads/data/NAME.npz plus an attribution "
                    "file). Needs pyrosm (the 'osm' extra); the runtime does not.")
    ap.add_argument("--pbf", default=DEFAULT_PBF,
                    help="the OpenStreetMap extract to read (default: %(default)s)")
    ap.add_argument("--name", default=None,
                    help="graph name: the output is NAME.npz (default: the file name of --pbf "
                         "without .osm.pbf)")
    ap.add_argument("--out-dir", default=DEFAULT_OUT,
                    help="directory for NAME.npz and the attribution file (default: %(default)s)")
    ap.add_argument("--classes", default=None,
                    help="comma-separated highway classes to keep (default: every class pyrosm "
                         "counts as drivable)")
    ap.add_argument("--source-note", default=None,
                    help="one paragraph on where the extract comes from, written into the "
                         "attribution file (default: the GraphHopper note for andorra, else "
                         "the file name)")
    ap.add_argument("--max-mb", type=float, default=5.0,
                    help="refuse to write a graph file larger than this many MB "
                         "(default: %(default)s)")
    ap.add_argument("-q", "--quiet", action="store_true", help="no summary")
    args = ap.parse_args(argv)
    if not os.path.isfile(args.pbf):
        print(f"osm_to_graph: no such file: {args.pbf}", file=sys.stderr)
        return 2
    name = args.name or os.path.basename(args.pbf).split(".")[0]
    if not re.fullmatch(r"[a-z0-9_-]+", name):
        print(f"osm_to_graph: --name must be lower-case letters, digits, '_' or '-': {name!r}",
              file=sys.stderr)
        return 2
    sha = hashlib.sha256(open(args.pbf, "rb").read()).hexdigest()
    node_ids, lat, lon, segs = read_pbf(args.pbf)
    keep = set(c.strip() for c in args.classes.split(",")) if args.classes else None
    arrays = build(node_ids, lat, lon, segs, keep)
    meta = {"name": name, "format_version": FORMAT_VERSION, "source": os.path.basename(args.pbf),
            "source_sha256": sha, "licence": "ODbL-1.0",
            "attribution": "(c) OpenStreetMap contributors",
            "class_default_speed_kmh": CLASS_SPEED_KMH}
    os.makedirs(args.out_dir, exist_ok=True)
    path = os.path.join(args.out_dir, f"{name}.npz")
    write_npz(path, arrays, meta)
    size = os.path.getsize(path)
    if size > args.max_mb * 1e6:
        os.remove(path)
        print(f"osm_to_graph: the graph would be {size / 1e6:.1f} MB, over --max-mb "
              f"{args.max_mb}; nothing written", file=sys.stderr)
        return 1
    note = args.source_note or (ANDORRA_NOTE if name == "andorra" else
                                f"Source file: `{os.path.basename(args.pbf)}`.")
    with open(os.path.join(args.out_dir, f"{name}.ATTRIBUTION.md"), "w") as f:
        f.write(ATTRIBUTION.format(name=name, version=FORMAT_VERSION,
                                   source=os.path.basename(args.pbf), sha=sha, source_note=note))
    if not args.quiet:
        print(f"wrote {path} ({size / 1e3:.0f} kB)")
        print(summary(arrays))
    return 0


if __name__ == "__main__":
    sys.exit(main())
