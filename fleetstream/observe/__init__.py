"""Observability of the engine: Prometheus metrics, health and readiness, structured logs.

- ``metrics``: the metric families and the flow observer (flows/tap.py counts,
  this package exports);
- ``collectors``: solver jobs, Kafka/Redis connectors, solver memory, read at scrape time;
- ``health``: liveness and readiness conditions;
- ``server``: the HTTP endpoint (/metrics, /healthz, /readyz);
- ``logs``: JSON-lines or text logs with run id, zone and event id, secrets redacted;
- ``runtime``: the flags and start/stop calls of the ``replay`` and ``run`` commands.

docs/observability.md documents every metric, endpoint and log field.
"""
