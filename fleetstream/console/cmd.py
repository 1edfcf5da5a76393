"""``fleetstream console``: the operations console (docs/console.md).

    fleetstream console --replay OUT_DIR [--input REPLAY]      # scrub a replayed day
    fleetstream console --redis URL [--bootstrap HOST:PORT]    # live, from the read model
    fleetstream console merge REPLAY OUT_DIR/approvals.jsonl --out NEW_REPLAY
"""

from __future__ import annotations

import argparse
import getpass
import sys

DEFAULT_PORT = 8765


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fleetstream console", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group()
    src.add_argument("--replay", metavar="OUT_DIR",
                     help="replay mode: a `fleetstream replay --out` folder (followed: lines "
                     "appended to its files show up live)")
    src.add_argument("--redis", metavar="URL",
                     help="live mode: the Redis read model of `fleetstream run` (default: "
                     "redis.url: $FLEETSTREAM_REDIS__URL, else --config)")
    p.add_argument("--input", metavar="REPLAY",
                   help="replay mode: the replay input folder (positions, depots, order "
                   "locations; default: the one named in OUT_DIR/.fleetstream-run.json)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; the "
                   "console has no login, put it behind an authenticating proxy to share it)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"port to listen on (default {DEFAULT_PORT}; 0: a free port, printed)")
    p.add_argument("--user", default=None,
                   help="default name recorded as `by` in approvals and acknowledgements "
                   "(default: the login name; the page lets each dispatcher change it)")
    p.add_argument("--bootstrap", metavar="HOST:PORT",
                   help="live mode: Kafka for publishing approvals and reading fs.fleet "
                   "(default kafka.bootstrap: $FLEETSTREAM_KAFKA__BOOTSTRAP, else --config)")
    p.add_argument("--key-prefix", default=None,
                   help="live mode: the read model's key prefix (default redis.key_prefix, fs:)")
    p.add_argument("--console-prefix", default="fs-console:",
                   help="live mode: Redis key prefix of the console's own keys "
                   "(acknowledgements, answers; default fs-console:)")
    p.add_argument("--stale-s", type=float, default=300.0,
                   help="draw a vehicle stale when its last fix is older than this, event "
                   "seconds (default 300, like engine.stale_vehicle_s)")
    p.add_argument("--poll-s", type=float, default=0.1,
                   help="how often to look for new data: replay files, Redis positions "
                   "(default 0.1 s; live decisions are read with a blocking XREAD)")
    p.add_argument("--config", help="TOML settings file (kafka and redis sections)")
    p.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE",
                   help="override one setting, e.g. --set kafka.topic_prefix=test.")
    p.add_argument("--road-map", action="append", metavar="MAP", default=[],
                   help="draw this road graph under the routes too: the path of a .npz "
                   "written by scripts/osm_to_graph.py, e.g. the engine's "
                   "engine.travel_map; repeatable (default: only the shipped graphs, "
                   "which are always drawn)")
    p.add_argument("--access-log", action="store_true",
                   help="log every HTTP request on stderr (default: warnings only)")
    return p


def merge_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fleetstream console merge",
        description="Write a copy of a replay folder with the console's approval events "
        "inserted in event-time order, so `fleetstream replay` decides with them.")
    p.add_argument("replay", help="the replay folder the console showed (its input)")
    p.add_argument("approvals", help="approvals.jsonl written by the console in replay mode")
    p.add_argument("--out", required=True, help="new replay folder (missing or empty)")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["merge"]:
        from fleetstream.console.merge import merge_approvals
        a = merge_parser().parse_args(argv[1:])
        n, total = merge_approvals(a.replay, a.approvals, a.out)
        print(f"wrote {a.out}/events.jsonl.gz: {total:,} events, {n} approvals merged in "
              f"event-time order")
        return 0
    a = build_parser().parse_args(argv)
    if not 0 <= a.port <= 65535:
        raise ValueError(f"--port {a.port}: must be 0 to 65535")
    if a.stale_s <= 0 or a.poll_s <= 0:
        raise ValueError("--stale-s and --poll-s must be > 0")
    user = a.user or _login()
    for m in a.road_map:   # before listening: a bad map is one line, nothing started
        from fleetstream.roads import GraphNotFound, load_graph
        try:
            load_graph(m)
        except GraphNotFound as e:
            raise ValueError(f"--road-map: {e.args[0]}") from None
    sock = listen(a.host, a.port)  # before loading: a busy port fails at once
    if a.replay:
        from fleetstream.console.replay_source import ReplaySource
        source = ReplaySource(a.replay, a.input, stale_s=a.stale_s)
        what = f"replay {a.replay}"
    else:
        from fleetstream.console.live_source import LiveSource
        from fleetstream.preflight import load_settings
        s = load_settings(a.config, a.set)
        url = a.redis or s.redis.url  # (the settings read FLEETSTREAM_REDIS__URL)
        if not url:
            raise ValueError("give --replay OUT_DIR, or --redis URL (or redis.url, "
                             "$FLEETSTREAM_REDIS__URL) for live mode")
        bootstrap = a.bootstrap or s.kafka.bootstrap
        source = LiveSource(url, a.key_prefix or s.redis.key_prefix, a.console_prefix,
                            bootstrap, s.kafka.topic_prefix, dict(s.kafka.config),
                            stale_s=a.stale_s, poll_s=a.poll_s)
        from fleetstream.connectors.redaction import redact_url
        what = f"live {redact_url(url)}, approvals to {bootstrap}"
    try:
        serve(source, sock, a.host, user, a.poll_s, what, access_log=a.access_log,
              road_maps=tuple(a.road_map))
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled
        print("fleetstream console: stopped (Ctrl-C)", file=sys.stderr)
        return 130
    return 0


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "dispatcher"


def listen(host: str, port: int):
    import socket
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise ValueError(f"cannot listen on {host}:{port}: {e.strerror}") from None
    return sock


def serve(source, sock, host: str, user: str, poll_s: float, what: str,
          access_log: bool = False, road_maps: tuple[str, ...] = ()) -> None:
    import threading

    import uvicorn

    from fleetstream.console.app import build_app
    closing = threading.Event()

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame) -> None:  # Ctrl-C, SIGTERM: end the streams
            closing.set()
            super().handle_exit(sig, frame)
    app = build_app(source, poll_s=poll_s, user=user, closing=closing, road_maps=road_maps)
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    print(f"fleetstream console ({what}): http://{shown}:{port}/  (Ctrl-C stops)", flush=True)
    cfg = uvicorn.Config(app, log_level="info" if access_log else "warning",
                         access_log=access_log,
                         timeout_graceful_shutdown=1)
    Server(cfg).run(sockets=[sock])
    if closing.is_set():
        # uvicorn re-raises the signal it handled once its handlers are restored, but
        # whether that reaches us as KeyboardInterrupt depends on the handler it
        # restores: a stop by signal is exit 130 either way.
        raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
