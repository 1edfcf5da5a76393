"""``fleetstream topics create``: create the input and output topics (idempotent)."""

from __future__ import annotations

import argparse
import os
import sys

from fleetstream.connectors.kafka import (KafkaClientError, KafkaUnavailable, check_broker,
                                          ensure_topics)
from fleetstream.contract.settings import Settings

PROG = "fleetstream topics"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__)
    ap.add_argument("action", choices=["create"], help="create: the input and output topics")
    ap.add_argument("--bootstrap", default=os.environ.get("FLEETSTREAM_KAFKA_BOOTSTRAP"),
                    help="Kafka bootstrap servers (default $FLEETSTREAM_KAFKA_BOOTSTRAP, "
                    "else kafka.bootstrap)")
    ap.add_argument("--partitions", type=int,
                    help="partitions per topic, >= 1 (default kafka.partitions)")
    ap.add_argument("--config", help="TOML settings file (docs/configuration.md)")
    a = ap.parse_args(argv)
    if a.partitions is not None and a.partitions < 1:
        print(f"{PROG}: --partitions must be >= 1, got {a.partitions}", file=sys.stderr)
        return 2
    try:
        k = Settings.load(a.config).kafka
        bootstrap = a.bootstrap or k.bootstrap
        check_broker(bootstrap, k.config)
        res = ensure_topics(bootstrap, k.topic_prefix, k.output_prefix,
                            a.partitions or k.partitions, k.replication, k.config)
    except (FileNotFoundError, NotADirectoryError, PermissionError, ValueError) as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 2
    except (KafkaUnavailable, KafkaClientError, RuntimeError) as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001 - e.g. the broker refusing a topic
        print(f"{PROG}: {type(e).__name__}: {' '.join(str(e).split())}", file=sys.stderr)
        return 1
    for t, what in sorted(res.items()):
        print(f"{t:<32} {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
