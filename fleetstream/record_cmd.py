"""``fleetstream record --out DIR``: capture the input topics into a replay folder
(``events.jsonl.gz`` in the same format as replay_data), until they are idle."""

from __future__ import annotations

import argparse
import os

import orjson

from fleetstream.connectors.files import EVENTS_FILE, write_replay
from fleetstream.connectors.kafka import record
from fleetstream.contract.settings import Settings


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="fleetstream record", description=__doc__)
    ap.add_argument("--out", required=True, help="replay folder to write")
    ap.add_argument("--bootstrap", default=os.environ.get("FLEETSTREAM_KAFKA_BOOTSTRAP"))
    ap.add_argument("--idle", type=float, default=5.0, help="stop after this many idle seconds")
    ap.add_argument("--from-now", action="store_true", help="only new messages, not the backlog")
    ap.add_argument("--config")
    a = ap.parse_args(argv)
    k = Settings.load(a.config).kafka
    msgs = list(record(a.bootstrap or k.bootstrap, k.topic_prefix, k.config, a.idle,
                       from_beginning=not a.from_now))
    os.makedirs(a.out, exist_ok=True)
    write_replay(os.path.join(a.out, EVENTS_FILE), msgs)
    with open(os.path.join(a.out, "manifest.json"), "wb") as f:
        f.write(orjson.dumps({"name": os.path.basename(os.path.abspath(a.out)), "source": "kafka record",
                              "sizes": {"events": len(msgs)}}, option=orjson.OPT_INDENT_2) + b"\n")
    print(f"recorded {len(msgs):,} messages into {a.out}/{EVENTS_FILE}")
    return 0
