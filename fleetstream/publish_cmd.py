"""``fleetstream publish REPLAY``: produce a recorded scenario into the input topics,
in recorded order, as fast as possible or paced at ``--speed`` x event time.

The producer is idempotent (``acks=all``): retries can neither duplicate nor
reorder a partition, so the live engine merges the topics back into exactly the
recorded order (docs/live.md)."""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

from fleetstream.connectors.files import events_path, read_replay
from fleetstream.connectors.kafka import (KafkaClientError, KafkaUnavailable, check_broker,
                                          publish)
from fleetstream.contract.events import INPUT_TOPICS
from fleetstream.contract.settings import Settings

PROG = "fleetstream publish"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("replay", help="replay folder or events file")
    ap.add_argument("--bootstrap", default=os.environ.get("FLEETSTREAM_KAFKA_BOOTSTRAP"),
                    help="Kafka bootstrap servers (default $FLEETSTREAM_KAFKA_BOOTSTRAP, "
                    "else kafka.bootstrap)")
    ap.add_argument("--speed", type=float,
                    help="pace at N x event time, N > 0 (default: as fast as possible)")
    ap.add_argument("--config", help="TOML settings file (docs/configuration.md)")
    a = ap.parse_args(argv)
    if a.speed is not None and not (math.isfinite(a.speed) and a.speed > 0):
        print(f"{PROG}: --speed must be a number > 0, got {a.speed}", file=sys.stderr)
        return 2
    try:
        path = events_path(a.replay)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"no replay file {a.replay}")
        k = Settings.load(a.config).kafka
        bootstrap = a.bootstrap or k.bootstrap
        check_broker(bootstrap, k.config, need_topics=[k.topic_prefix + t for t in INPUT_TOPICS])
        t0 = time.perf_counter()
        n = publish(bootstrap, read_replay(path), k.topic_prefix, k.config, a.speed,
                    progress=lambda m: print("  " + m, file=sys.stderr, flush=True))
    except (FileNotFoundError, NotADirectoryError, PermissionError, ValueError) as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 2
    except (KafkaUnavailable, KafkaClientError, RuntimeError) as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1
    dt = time.perf_counter() - t0
    print(f"published {n:,} messages in {dt:.1f} s ({n / max(dt, 1e-9):,.0f}/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
