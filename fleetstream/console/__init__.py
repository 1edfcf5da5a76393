"""``fleetstream console``: the operations console (docs/console.md).

A Starlette application served by uvicorn (``app.py``) over one of two data
sources with the same interface (``state(t, zone)``, ``decision(id)``,
``ack(...)``, ``answer(...)``, ``poll()``, ``version``):

- ``replay_source.ReplaySource``: a replay's output folder and its input events,
  folded up to any event time (the scrubber); approvals go to ``approvals.jsonl``;
- ``live_source.LiveSource``: the Redis read model of ``fleetstream run``;
  approvals are published to ``fs.approvals``.

The page (``static/``) is plain HTML, CSS and JavaScript drawing SVG: no build
step, nothing loaded from another origin.  Updates are pushed with server-sent
events.
"""
