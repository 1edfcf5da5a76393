"""``fleetstream record --out DIR``: capture the input topics into a replay folder
(``events.jsonl.gz`` in the same format as replay_data), until they are idle.

Messages are written in the order the live engine merges them (docs/live.md,
"the total order"), so ``fleetstream replay DIR`` decides exactly as the live
engine did on the same messages."""

from __future__ import annotations

import math
import os
import sys
from types import SimpleNamespace

import click

import orjson

from fleetstream.connectors.files import EVENTS_FILE, write_replay
from fleetstream.connectors.kafka import (KafkaClientError, KafkaUnavailable, check_broker,
                                          record)
from fleetstream.contract.settings import Settings
from fleetstream import cli

PROG = "fleetstream record"


def _writable_out(out: str) -> None:
    """Refuse an --out that cannot be written, or that already holds a recording,
    before anything is consumed."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise ValueError(f"--out {out} exists and is not a directory")
    if os.path.exists(os.path.join(out, EVENTS_FILE)):
        raise ValueError(f"--out {out} already holds {EVENTS_FILE}: choose a new folder "
                         "(nothing is overwritten)")
    os.makedirs(out, exist_ok=True)
    if not os.access(out, os.W_OK):
        raise PermissionError(f"--out {out} is not writable")


@click.command("record", cls=cli.Command, help=cli.help_text(__doc__),
               context_settings=cli.CONTEXT)
@click.option("--out", required=True, metavar="DIR", help="replay folder to write (new or empty)")
@click.option("--bootstrap", metavar="HOST:PORT", default=None,
              show_default="kafka.bootstrap: $FLEETSTREAM_KAFKA__BOOTSTRAP, else --config, "
              "else 127.0.0.1:19092",
              help="Kafka bootstrap servers")
@click.option("--idle", type=float, default=5.0, metavar="S",
              help="stop after this many seconds without a new message (> 0)")
@click.option("--from-now", is_flag=True, help="only new messages, not the backlog")
@click.option("--config", metavar="FILE", default=None,
              show_default="built-in settings and the FLEETSTREAM_* environment",
              help="TOML settings file (docs/configuration.md)")
def command(**kw) -> int:
    return _main(SimpleNamespace(**kw))


def main(argv: list[str] | None = None) -> int:
    return cli.run(command, argv, PROG, usage_exits=True)


def _main(a: SimpleNamespace) -> int:
    if not (math.isfinite(a.idle) and a.idle > 0):
        print(f"{PROG}: --idle must be a number of seconds > 0, got {a.idle}", file=sys.stderr)
        return 2
    try:
        k = Settings.load(a.config).kafka
        bootstrap = a.bootstrap or k.bootstrap
        check_broker(bootstrap, k.config)
        _writable_out(a.out)
        msgs = list(record(bootstrap, k.topic_prefix, k.config, a.idle,
                           from_beginning=not a.from_now))
        write_replay(os.path.join(a.out, EVENTS_FILE), msgs)
        with open(os.path.join(a.out, "manifest.json"), "wb") as f:
            f.write(orjson.dumps({"name": os.path.basename(os.path.abspath(a.out)),
                                  "source": "kafka record", "sizes": {"events": len(msgs)}},
                                 option=orjson.OPT_INDENT_2) + b"\n")
    except (FileNotFoundError, NotADirectoryError, PermissionError, ValueError) as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 2
    except (KafkaUnavailable, KafkaClientError, OSError) as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1
    print(f"recorded {len(msgs):,} messages into {a.out}/{EVENTS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
