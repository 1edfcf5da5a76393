"""The console's ASGI application (Starlette): the page, its JSON API and the
server-sent event stream that tells browsers when the state changed.

Routes:

- ``GET /``: the page (``static/index.html`` with the CSRF token filled in);
  ``GET /static/...``: its script and style sheet (no CDN, nothing external);
- ``GET /api/state?t=&zone=``: the state document (fleetstream.console.model);
- ``GET /api/decision/{id}``: a decision with its trigger events and answers;
- ``GET /api/roads?bbox=lat0,lon0,lat1,lon1``: road segments for the background
  (fleetstream.console.roads);
- ``POST /api/ack``: ``{"alert_id", "by"}``; ``POST /api/answer``:
  ``{"decision_ids": [...], "approved", "by", "reason", "t"}`` (approve, reject,
  approve a batch);
- ``GET /api/events``: ``text/event-stream``: ``event: update`` with
  ``{"version", "t_max"}`` whenever the data source changed.

Every POST must carry the page's token in ``X-Console-Token`` and, when the
browser sends an ``Origin``, come from this server's own origin.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import os
import secrets
import threading
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from fleetstream.contract.events import ValidationError

log = logging.getLogger("fleetstream.console")
STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
MAX_BODY = 64 * 1024
MAX_BATCH = 500


class ORJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def _err(status: int, msg: str) -> ORJSONResponse:
    return ORJSONResponse({"error": msg}, status_code=status)


class Poller:
    """Calls ``source.poll()`` every ``every_s`` on a thread (the file tail or the
    Redis reads block; the event loop must not)."""

    def __init__(self, source: Any, every_s: float):
        self.source, self.every_s = source, every_s
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, name="console-poll", daemon=True)

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.source.poll()
            except Exception as e:  # noqa: BLE001 - a bad read must not kill the console
                log.warning("console: reading the data source failed: %s", e)
                self.stop.wait(1.0)
            if getattr(self.source, "blocking_poll", False):
                continue  # poll() itself waited (XREAD BLOCK)
            self.stop.wait(self.every_s)


def build_app(source: Any, poll_s: float = 0.1, user: str = "dispatcher",
              closing: threading.Event | None = None,
              road_maps: tuple[str, ...] = ()) -> Starlette:
    """``closing``: set when the server is asked to stop; event streams then end
    (within 0.05 s), so the server can close its connections gracefully.
    ``road_maps``: graph files drawn under the routes besides the shipped graphs."""
    token = secrets.token_urlsafe(24)
    closing = closing or threading.Event()
    with open(os.path.join(STATIC, "index.html"), encoding="utf-8") as f:
        page = f.read()
    page = (page.replace("{{TOKEN}}", html.escape(token, quote=True))
                .replace("{{MODE}}", html.escape(source.mode, quote=True))
                .replace("{{USER}}", html.escape(user, quote=True)))
    poller = Poller(source, poll_s)

    def allowed(request: Request) -> str | None:
        if request.headers.get("x-console-token") != token:
            return "missing or wrong X-Console-Token (reload the page)"
        origin = request.headers.get("origin")
        if origin and origin != f"{request.url.scheme}://{request.headers.get('host')}":
            return f"cross-origin request from {origin} refused"
        return None

    async def body(request: Request) -> dict:
        raw = await request.body()
        if len(raw) > MAX_BODY:
            raise ValueError("request body too large")
        doc = orjson.loads(raw or b"{}")
        if not isinstance(doc, dict):
            raise ValueError("expected a JSON object")  # noqa: TRY004 - a 400 answer
        return doc

    def who(doc: dict) -> str:
        by = str(doc.get("by") or user).strip()
        if not 1 <= len(by) <= 128:
            raise ValueError("by: 1 to 128 characters")
        return by

    async def index(_request: Request) -> Response:
        return HTMLResponse(page, headers={"Cache-Control": "no-store",
                                           "Content-Security-Policy": CSP})

    async def state(request: Request) -> Response:
        q = request.query_params
        try:
            t = float(q["t"]) if q.get("t") not in (None, "", "latest") else None
        except ValueError:
            return _err(400, "t: a number (epoch seconds) or 'latest'")
        doc = await asyncio.to_thread(source.state, t, q.get("zone") or None)
        return ORJSONResponse(doc, headers={"Cache-Control": "no-store"})

    async def roads(request: Request) -> Response:
        from fleetstream.console.roads import road_segments
        try:
            lat0, lon0, lat1, lon1 = (float(x) for x in request.query_params["bbox"].split(","))
        except (KeyError, ValueError):
            return _err(400, "bbox: lat0,lon0,lat1,lon1")
        if not (-90 <= lat0 <= lat1 <= 90 and -180 <= lon0 <= lon1 <= 180):
            return _err(400, "bbox: lat0 <= lat1, lon0 <= lon1, in degrees")
        doc = await asyncio.to_thread(road_segments, lat0, lon0, lat1, lon1,
                                      extra=tuple(road_maps))
        return ORJSONResponse(doc, headers={"Cache-Control": "max-age=3600"})

    async def decision(request: Request) -> Response:
        d = await asyncio.to_thread(source.decision, request.path_params["decision_id"])
        return ORJSONResponse(d) if d is not None else _err(404, "no such decision")

    async def ack(request: Request) -> Response:
        if (why := allowed(request)):
            return _err(403, why)
        try:
            doc = await body(request)
            res = await asyncio.to_thread(source.ack, str(doc.get("alert_id") or ""), who(doc))
        except KeyError:
            return _err(404, "no such alert")
        except ValueError as e:
            return _err(400, str(e))
        return ORJSONResponse({"ok": True, "ack": res})

    async def answer(request: Request) -> Response:
        if (why := allowed(request)):
            return _err(403, why)
        try:
            doc = await body(request)
            ids = doc.get("decision_ids")
            if not isinstance(ids, list) or not ids or len(ids) > MAX_BATCH:
                raise ValueError(f"decision_ids: a list of 1 to {MAX_BATCH} ids")
            approved = doc.get("approved")
            if not isinstance(approved, bool):
                raise ValueError("approved: true or false")  # noqa: TRY004
            reason = str(doc.get("reason") or "").strip() or None
            if not approved and not reason:
                raise ValueError("a rejection needs a reason")
            if reason and len(reason) > 200:
                raise ValueError("reason: at most 200 characters")
            by = who(doc)
            t = doc.get("t")
            t = float(t) if isinstance(t, (int, float)) else None
        except ValueError as e:
            return _err(400, str(e))
        done, failed = [], {}
        for did in ids:
            try:
                done.append(await asyncio.to_thread(source.answer, str(did), approved, by,
                                                    reason, t))
            except KeyError:
                failed[str(did)] = "not an open proposal (or answered already)"
            except ValidationError as e:
                failed[str(did)] = f"invalid approval event: {e}"
            except Exception as e:  # noqa: BLE001 - broker down: say so, keep going
                failed[str(did)] = f"{type(e).__name__}: {e}"
        status = 200 if done else (404 if all(v.startswith("not an open") for v in
                                              failed.values()) else 502)
        return ORJSONResponse({"ok": bool(done), "published": done, "failed": failed},
                              status_code=status)

    async def override(request: Request) -> Response:
        """A dispatcher override (docs/console.md, "Overrides"): ``{"action": order_pin |
        order_unpin | route_lock | route_unlock | order_update, "order_id", "vehicle_id",
        "window_start", "window_end", "location": {lat, lon}, "reason", "zone", "by",
        "t"}``, published like an approval (replay: approvals.jsonl, live: fs.approvals)."""
        if (why := allowed(request)):
            return _err(403, why)
        try:
            doc = await body(request)
            action = str(doc.get("action") or "")
            reason = str(doc.get("reason") or "").strip() or None
            if reason and len(reason) > 200:
                raise ValueError("reason: at most 200 characters")
            by = who(doc)
            t = doc.get("t")
            t = float(t) if isinstance(t, (int, float)) else None
            keep = ("order_id", "vehicle_id", "window_start", "window_end", "location", "zone")
            fields_ = {k: doc[k] for k in keep if doc.get(k) not in (None, "")}
            fields_["reason"] = reason
            res = await asyncio.to_thread(source.override, action, by, fields_, t)
        except KeyError as e:
            return _err(404, f"unknown vehicle, order or zone: {e}")
        except ValidationError as e:
            return _err(400, f"invalid {doc.get('action')} event: {e}")
        except ValueError as e:
            return _err(400, str(e))
        except Exception as e:  # noqa: BLE001 - broker down: say so
            return _err(502, f"{type(e).__name__}: {e}")
        return ORJSONResponse({"ok": True, "published": [res["event"]]})

    async def events(request: Request) -> Response:
        async def stream():
            seen = -1
            idle = 0.0
            yield b"retry: 1000\n\n"
            while not closing.is_set():
                if await request.is_disconnected():
                    return
                v = source.version
                if v != seen:
                    seen = v
                    idle = 0.0
                    yield (b"event: update\ndata: "
                           + orjson.dumps({"version": v, "t_max": source.t_max}) + b"\n\n")
                elif idle >= 15.0:
                    idle = 0.0
                    yield b": keep-alive\n\n"
                await asyncio.sleep(0.05)
                idle += 0.05
        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette):
        poller.thread.start()
        try:
            yield
        finally:
            poller.stop.set()
            source.close()

    routes = [Route("/", index), Route("/api/state", state),
              Route("/api/decision/{decision_id:path}", decision), Route("/api/roads", roads),
              Route("/api/ack", ack, methods=["POST"]),
              Route("/api/answer", answer, methods=["POST"]),
              Route("/api/override", override, methods=["POST"]),
              Route("/api/events", events),
              Mount("/static", StaticFiles(directory=STATIC), name="static")]
    return Starlette(routes=routes, lifespan=lifespan)


CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
