"""``fleetstream customers load REPLAY [--redis URL] [--prefix fs:]``: load the
customer profiles of a replay folder into the Redis customer context store
(docs/redis.md).  The engine itself takes customer context from
``customer_profile`` events; this fills the store that downstream apps read."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from fleetstream.connectors.redis_store import main as store_main
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["load"]:
        argv[0] = "load-customers"
    elif not argv or argv[0] not in ("-h", "--help"):
        print("usage: fleetstream customers load REPLAY [--redis URL] [--prefix fs:]",
              file=sys.stderr)
        return 2
    return store_main(argv, prog="fleetstream customers")
