"""A small HTTP server for ``/metrics``, ``/healthz`` and ``/readyz`` (one daemon thread).

- ``GET /metrics``: the Prometheus text exposition format of the process registry.
- ``GET /healthz``: 200 and a JSON body while the process runs and its flow is not
  stalled (liveness), 503 when stalled (fleetstream/observe/health.py).
- ``GET /readyz``: 200 when ready, 503 otherwise; the JSON body lists each
  condition (fleetstream/observe/health.py).
- anything else: 404.

Scrapes are served from their own threads and never touch the flow: the registry
is read under prometheus-client's locks, the rest reads plain counters.
"""

from __future__ import annotations

import errno
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from fleetstream.observe.health import Readiness


class MetricsServer:
    def __init__(self, registry: CollectorRegistry, readiness: Readiness,
                 host: str = "0.0.0.0", port: int = 0, info: Callable[[], dict] | None = None):
        self.registry = registry
        self.readiness = readiness
        self.info = info or (lambda: {})
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server API
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._send(200, generate_latest(server.registry), CONTENT_TYPE_LATEST)
                elif path == "/healthz":
                    live = server.readiness.liveness()
                    body = {**live, **server.info(), **_pick(server.readiness.report(),
                                                             ("uptime_s", "last_activity_s"))}
                    self._json(200 if live["status"] == "ok" else 503, body)
                elif path == "/readyz":
                    rep = {**server.info(), **server.readiness.report()}
                    self._json(200 if rep["ready"] else 503, rep)
                else:
                    self._send(404, b"not found: try /metrics, /healthz or /readyz\n",
                               "text/plain; charset=utf-8")

            def _json(self, code: int, body: dict) -> None:
                self._send(code, (json.dumps(body) + "\n").encode(), "application/json")

            def _send(self, code: int, data: bytes, ctype: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: Any) -> None:  # scrapes are not log lines
                pass

        try:
            self.httpd = ThreadingHTTPServer((host, port), Handler)
        except OSError as e:
            why = "address already in use" if e.errno == errno.EADDRINUSE else e.strerror
            raise ValueError(f"metrics endpoint: cannot listen on {host}:{port} ({why})") from None
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="fleetstream-metrics",
                                       daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _pick(d: dict, keys: tuple) -> dict:
    return {k: d[k] for k in keys if k in d}
