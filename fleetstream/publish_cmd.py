"""``fleetstream publish REPLAY``: produce a recorded scenario into the input topics,
in recorded order, as fast as possible or paced at ``--speed`` x event time."""

from __future__ import annotations

import argparse
import os
import sys
import time

from fleetstream.connectors.files import read_replay
from fleetstream.connectors.kafka import publish
from fleetstream.contract.settings import Settings


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="fleetstream publish", description=__doc__)
    ap.add_argument("replay", help="replay folder or events file")
    ap.add_argument("--bootstrap", default=os.environ.get("FLEETSTREAM_KAFKA_BOOTSTRAP"))
    ap.add_argument("--speed", type=float, help="pace at N x event time (default: as fast as possible)")
    ap.add_argument("--config")
    a = ap.parse_args(argv)
    k = Settings.load(a.config).kafka
    t0 = time.perf_counter()
    n = publish(a.bootstrap or k.bootstrap, read_replay(a.replay), k.topic_prefix, k.config,
                a.speed, progress=lambda m: print("  " + m, file=sys.stderr, flush=True))
    dt = time.perf_counter() - t0
    print(f"published {n:,} messages in {dt:.1f} s ({n / dt:,.0f}/s)")
    return 0
