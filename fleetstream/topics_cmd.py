"""``fleetstream topics create``: create the input and output topics (idempotent)."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import click

from fleetstream.connectors.kafka import (KafkaClientError, KafkaUnavailable, check_broker,
                                          ensure_topics)
from fleetstream.contract.settings import Settings
from fleetstream import cli

PROG = "fleetstream topics"


@click.command("topics", cls=cli.Command, help=cli.help_text(__doc__) + "\n\nThe topics "
               "are the input topics and the output topics (docs/topics.md), each under "
               "kafka.topic_prefix (outputs also under kafka.output_prefix), with "
               "--partitions partitions and kafka.replication replicas; existing topics are "
               "left as they are.", context_settings=cli.CONTEXT)
@click.argument("action", type=click.Choice(["create"]), help="create: the input and output topics")
@click.option("--bootstrap", metavar="HOST:PORT", default=None,
              show_default="kafka.bootstrap: $FLEETSTREAM_KAFKA__BOOTSTRAP, else --config, "
              "else 127.0.0.1:19092",
              help="Kafka bootstrap servers")
@click.option("--partitions", type=int, default=None, metavar="N",
              show_default="kafka.partitions (4)", help="partitions per topic, >= 1")
@click.option("--config", metavar="FILE", default=None,
              show_default="built-in settings and the FLEETSTREAM_* environment",
              help="TOML settings file (docs/configuration.md)")
def command(**kw) -> int:
    return _main(SimpleNamespace(**kw))


def main(argv: list[str] | None = None) -> int:
    return cli.run(command, argv, PROG, usage_exits=True)


def _main(a: SimpleNamespace) -> int:
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
