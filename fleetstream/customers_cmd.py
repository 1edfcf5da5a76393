"""``fleetstream customers load REPLAY [--redis URL] [--prefix fs:]``: load the
customer profiles of a replay folder into the Redis customer context store
(docs/redis.md).  The engine itself takes customer context from
``customer_profile`` events; this fills the store that downstream apps read."""

from __future__ import annotations

import sys

import click

from fleetstream import cli

PROG = "fleetstream customers"


@click.group("customers", cls=cli.Group, help=cli.help_text(__doc__), context_settings=cli.CONTEXT)
def command() -> None:
    """``fleetstream customers``."""


@command.command("load", short_help="load a replay folder's customer profiles into Redis",
                 help="Load the customer profiles (customer_profile events) of a replay folder "
                 "into the Redis customer context store (docs/redis.md).  Exit codes: 0 "
                 "loaded, 1 Redis unreachable or refusing, 2 bad input.")
@click.argument("replay", help="replay folder (with events.jsonl.gz) or events file")
@click.option("--redis", metavar="URL", default=None,
              show_default="redis.url: $FLEETSTREAM_REDIS__URL, else --config",
              help="Redis URL (may hold a password: never shown)")
@click.option("--prefix", default="fs:", help="key prefix of the store")
@click.option("--config", metavar="FILE", default=None,
              show_default="built-in settings and the FLEETSTREAM_* environment",
              help="TOML settings file (docs/configuration.md)")
def load_cmd(replay: str, redis: str | None, prefix: str, config: str | None) -> int:
    from fleetstream.connectors.redis_store import main as store_main
    url = redis if redis is not None else cli.load_settings(config, None).redis.url
    if not url:
        print(f"{PROG}: --redis URL (or redis.url: $FLEETSTREAM_REDIS__URL, --config) is "
              "required", file=sys.stderr)
        return 2
    return store_main(["load-customers", replay, "--redis", url, "--prefix", prefix], prog=PROG)


def main(argv: list[str] | None = None) -> int:
    return cli.run(command, argv, PROG, usage_exits=True)


if __name__ == "__main__":
    sys.exit(main())
