"""``fleetstream topics create``: create the input and output topics (idempotent)."""

from __future__ import annotations

import argparse
import os

from fleetstream.connectors.kafka import ensure_topics
from fleetstream.contract.settings import Settings


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="fleetstream topics", description=__doc__)
    ap.add_argument("action", choices=["create"])
    ap.add_argument("--bootstrap", default=os.environ.get("FLEETSTREAM_KAFKA_BOOTSTRAP"))
    ap.add_argument("--partitions", type=int, help="partitions per topic (default kafka.partitions)")
    ap.add_argument("--config")
    a = ap.parse_args(argv)
    s = Settings.load(a.config)
    k = s.kafka
    res = ensure_topics(a.bootstrap or k.bootstrap, k.topic_prefix, k.output_prefix,
                        a.partitions or k.partitions, k.replication, k.config)
    for t, what in sorted(res.items()):
        print(f"{t:<32} {what}")
    return 0
