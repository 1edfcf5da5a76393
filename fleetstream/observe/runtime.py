"""Wiring of metrics, health and logs into a command (``replay``, ``run``).

A command adds the flags (:func:`add_arguments`), calls :func:`start` once its
settings are loaded and before it builds its flow, and :func:`stop` at the end:

    observe.add_arguments(parser)
    ...
    observe.start(args, "replay", settings)   # logs always; metrics when --metrics-port
    run_the_flow()
    observe.stop(args)                          # not ready any more; linger; close

With ``--metrics-port 0`` (the default) no server starts and no observer is
installed: the flow is built exactly as without this module.
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

from fleetstream.flows import tap
from fleetstream.observe.logs import (FORMATS, LEVELS, default_level, register_secret,
                                      register_secrets_of, setup_logging)

log = logging.getLogger("fleetstream.observe")

_ACTIVE: dict[str, Any] = {}


def _env_int(name: str) -> int:
    try:
        return int(os.environ.get(name, "0") or 0)
    except ValueError:
        raise ValueError(f"${name} must be an integer, got {os.environ[name]!r}") from None


def _env_float(name: str) -> float:
    try:
        return float(os.environ.get(name, "0") or 0)
    except ValueError:
        raise ValueError(f"${name} must be a number, got {os.environ[name]!r}") from None


OPTIONS: list[dict[str, Any]] = [
    dict(flag="--metrics-port", type=int, default=lambda: _env_int("FLEETSTREAM_METRICS_PORT"),
         metavar="N", shown="$FLEETSTREAM_METRICS_PORT, else 0: off",
         help="serve Prometheus /metrics, /healthz and /readyz on port N"),
    dict(flag="--metrics-host", type=str,
         default=lambda: os.environ.get("FLEETSTREAM_METRICS_HOST", "0.0.0.0"), metavar="ADDR",
         shown="$FLEETSTREAM_METRICS_HOST, else 0.0.0.0: every interface",
         help="address the metrics endpoint listens on"),
    dict(flag="--metrics-linger", type=float, default=0.0, metavar="S", shown="0",
         help="keep serving the endpoint S seconds after the run ends, with the final "
         "values and /readyz not ready"),
    dict(flag="--health-stall-s", type=float,
         default=lambda: _env_float("FLEETSTREAM_HEALTH_STALL_S"), metavar="S",
         shown="$FLEETSTREAM_HEALTH_STALL_S, else 0: off",
         help="/healthz answers 503 when input waits on the broker and the flow has taken "
         "nothing for S seconds (a wedged engine)"),
    dict(flag="--log-level", type=str, choices=LEVELS, default=None,
         shown="$FLEETSTREAM_LOG_LEVEL, else info for run and warning for replay or with -q",
         help="log level"),
    dict(flag="--log-format", type=str, choices=FORMATS,
         default=lambda: os.environ.get("FLEETSTREAM_LOG_FORMAT", "auto"),
         shown="$FLEETSTREAM_LOG_FORMAT, else auto",
         help="json: one JSON object per line; text: for people; auto: text on a terminal, "
         "json otherwise"),
    dict(flag="--run-id", type=str, default=lambda: os.environ.get("FLEETSTREAM_RUN_ID") or None,
         metavar="ID", shown="$FLEETSTREAM_RUN_ID, else a random one",
         help="run id on every log line and on fleetstream_build_info"),
]
"""The observability flags of ``replay`` and ``run`` (docs/observability.md): one
declaration for the click options and the argparse form."""


def _default(o: dict[str, Any]) -> Any:
    d = o["default"]
    return d() if callable(d) else d


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The observability flags on an argparse parser (same declaration as :func:`options`)."""
    g = p.add_argument_group("observability (docs/observability.md)")
    for o in OPTIONS:
        kw: dict[str, Any] = dict(type=o["type"], default=_default(o),
                                  help=f"{o['help']} (default {o['shown']})")
        if "choices" in o:
            kw["choices"] = o["choices"]
        else:
            kw["metavar"] = o.get("metavar")
        g.add_argument(o["flag"], **kw)


def options(f: Any) -> Any:
    """The observability flags as click options (``fleetstream replay``, ``run``)."""
    import click
    for o in reversed(OPTIONS):
        t = click.Choice(o["choices"]) if "choices" in o else {
            int: click.INT, float: click.FLOAT, str: click.STRING}[o["type"]]
        f = click.option(o["flag"], type=t, default=o["default"], show_default=o["shown"],
                         metavar=None if "choices" in o else o.get("metavar"),
                         help=o["help"])(f)
    return f


def _version() -> str:
    try:
        from importlib.metadata import version
        return version("fleetstream")
    except Exception:  # noqa: BLE001
        return "unknown"


def _register_secrets(settings: Any) -> None:
    if settings is None:
        return
    kafka = getattr(settings, "kafka", None)
    register_secrets_of(getattr(kafka, "config", None))
    url = getattr(getattr(settings, "redis", None), "url", "") or ""
    for u in (url, os.environ.get("FLEETSTREAM_REDIS__URL", ""),
              os.environ.get("FLEETSTREAM_REDIS_URL", "")):  # the deprecated spelling
        try:
            register_secret(urlsplit(u).password)
        except ValueError:
            pass


def start(args: argparse.Namespace, mode: str, settings: Any = None,
          quiet: bool | None = None) -> Any:
    """Configure logs; with ``--metrics-port`` > 0 also create the metrics, install them
    as the flow's observer and start the endpoint.  Returns the ``EngineMetrics`` or None.
    Raises ValueError (one clear line) when the port cannot be used."""
    quiet = bool(getattr(args, "quiet", False)) if quiet is None else quiet
    run_id = getattr(args, "run_id", None) or uuid.uuid4().hex[:12]
    args.run_id = run_id
    level = getattr(args, "log_level", None) or (
        default_level(quiet) if mode != "replay" else
        os.environ.get("FLEETSTREAM_LOG_LEVEL", "warning").lower())
    _register_secrets(settings)
    fmt = getattr(args, "log_format", "auto")
    setup_logging(level, fmt, run_id)
    LOG_CONFIG.update(level=level, fmt=fmt, run_id=run_id)
    port = int(getattr(args, "metrics_port", 0) or 0)
    if port <= 0:
        return None
    from fleetstream.observe.server import MetricsServer
    stop(None)  # a previous run in this process (tests)
    processes = int(getattr(args, "processes", 1) or 1)
    metrics: Any
    if processes > 1:
        # replay -p N: the processes export their metrics, this one serves them all
        from fleetstream.observe.cluster import ClusterMetrics
        metrics = ClusterMetrics(processes, run_id=run_id, mode=mode)
    else:
        from fleetstream.observe.metrics import EngineMetrics
        metrics = EngineMetrics(run_id=run_id, mode=mode, version=_version())
        metrics.readiness.stall_s = max(0.0, float(getattr(args, "health_stall_s", 0.0) or 0.0))
    host = getattr(args, "metrics_host", "0.0.0.0")
    server = MetricsServer(metrics.registry, metrics.readiness, host, port,
                           info=lambda: {"run_id": run_id, "mode": mode})
    if processes == 1:
        tap.install(metrics)
    _ACTIVE.update(metrics=metrics, server=server)
    log.info("metrics on http://%s:%d/metrics (health /healthz, readiness /readyz)%s",
             host, server.port, f", {processes} processes" if processes > 1 else "",
             extra={"run_id": run_id})
    return metrics


LOG_CONFIG: dict[str, Any] = {}
"""The log setup of this process (level, fmt, run_id): the processes of a cluster
(replay -p N) log the same way."""


def start_cluster_process(status_dir: str, index: int, export: bool) -> Any:
    """In a process of ``replay -p N``: the same logs as the command's process and, when
    it serves metrics, this process's metrics exported to ``status_dir``
    (fleetstream/observe/cluster.py).  Returns the exporter or None."""
    if LOG_CONFIG:
        setup_logging(LOG_CONFIG["level"], LOG_CONFIG["fmt"], LOG_CONFIG["run_id"])
    if not export:
        return None
    from fleetstream.observe.cluster import ProcessExport
    from fleetstream.observe.metrics import EngineMetrics
    metrics = EngineMetrics(run_id=LOG_CONFIG.get("run_id", ""), mode="replay",
                            version=_version())
    tap.install(metrics)
    return ProcessExport(metrics, status_dir, index)


def active() -> Any:
    """The ``EngineMetrics`` of this process, or None when metrics are off."""
    return _ACTIVE.get("metrics")


def watch_live(live_flow: Any) -> None:
    """Let the metrics read the live connectors' counters (no-op when metrics are off)."""
    m = active()
    if m is not None:
        m.live.live = live_flow


def stop(args: argparse.Namespace | None, interrupted: threading.Event | None = None) -> None:
    """The run ended: not ready any more; serve ``--metrics-linger`` seconds (less if
    ``interrupted`` is set meanwhile: Ctrl-C); close."""
    m, server = _ACTIVE.pop("metrics", None), _ACTIVE.pop("server", None)
    tap.install(None)
    if m is None:
        return
    m.readiness.finish()
    linger = float(getattr(args, "metrics_linger", 0.0) or 0.0) if args is not None else 0.0
    if linger > 0:
        log.info("run finished; serving the final metrics for %.0f s", linger)
        # Short waits: the main thread wakes to run a pending SIGINT handler (a Ctrl-C
        # delivered to another thread sets ``interrupted`` only from there).
        interrupted = interrupted or threading.Event()
        end = time.monotonic() + linger
        while not interrupted.is_set() and time.monotonic() < end:
            interrupted.wait(min(0.25, max(0.0, end - time.monotonic())))
    if server is not None:
        server.close()
