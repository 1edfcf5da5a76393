"""``fleetstream publish REPLAY``: produce a recorded scenario into the input topics,
in recorded order, as fast as possible or paced at ``--speed`` x event time.

The producer is idempotent (``acks=all``): retries can neither duplicate nor
reorder a partition, so the live engine merges the topics back into exactly the
recorded order (docs/live.md)."""

from __future__ import annotations

import math
import os
import sys
from types import SimpleNamespace

import click
import time

from fleetstream.connectors.files import events_path, read_replay
from fleetstream.connectors.kafka import (KafkaClientError, KafkaUnavailable, check_broker,
                                          publish)
from fleetstream.contract.events import INPUT_TOPICS
from fleetstream.contract.settings import Settings
from fleetstream import cli

PROG = "fleetstream publish"


@click.command("publish", cls=cli.Command, help=cli.help_text(__doc__),
               context_settings=cli.CONTEXT)
@click.argument("replay", help="replay folder (with events.jsonl.gz) or events file")
@click.option("--bootstrap", metavar="HOST:PORT", default=None,
              show_default="kafka.bootstrap: $FLEETSTREAM_KAFKA__BOOTSTRAP, else --config, "
              "else 127.0.0.1:19092",
              help="Kafka bootstrap servers")
@click.option("--speed", type=float, default=None, metavar="N",
              show_default="as fast as possible", help="pace at N x event time, N > 0")
@click.option("--config", metavar="FILE", default=None,
              show_default="built-in settings and the FLEETSTREAM_* environment",
              help="TOML settings file (docs/configuration.md)")
def command(**kw) -> int:
    return _main(SimpleNamespace(**kw))


def main(argv: list[str] | None = None) -> int:
    return cli.run(command, argv, PROG, usage_exits=True)


def _main(a: SimpleNamespace) -> int:
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
