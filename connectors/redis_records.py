"""Output records -> operations of the read-model script, and the Redis client helpers.

This module holds what the Redis read model (connectors/redis_store.py) and the
customer context store (connectors/redis_context.py) share: the status and
outcome vocabularies stored in Redis, the key escaping (:func:`key_part`, the
same as the Lua script's ``esc``), the checks that turn an output record
(``fs.decisions``, ``fs.eta``, ``fs.alerts``, ``fs.notifications``,
``fs.outcomes``) into the operation the script applies (:func:`_op`, raising
:class:`InvalidRecord` for a record that does not fit the output contract), and
the client construction and outage classification (:func:`_client`,
:func:`_is_outage`) that both stores use.
"""

from __future__ import annotations

import math
import re
from typing import Any

import orjson

from fleetstream.connectors.redaction import redact_url
from fleetstream.contract.events import FAIL_REASONS, MAX_TEXT_LEN
from fleetstream.contract.outputs import (TOPIC_ALERTS, TOPIC_DECISIONS, TOPIC_ETA, TOPIC_NOTIFICATIONS,
                                 TOPIC_OUTCOMES)

ORDER_STATUSES = ("pending", "unassigned", "proposed", "assigned", "stranded", "delivered",
                  "failed", "cancelled", "expired", "not_served")
OUTCOMES = ("delivered", "failed", "cancelled", "expired", "not_served")
"""The final outcomes of fs.outcomes (contract/outputs.py): each is a final order status."""
VEHICLE_STATUSES = ("idle", "en_route", "stale", "unavailable")
OUTCOME_FIELDS = ("deliveries", "failures") + tuple(f"{r}_failures" for r in FAIL_REASONS)
PROFILE_TEXT = ("zone", "language", "preferred_drop", "access_instructions", "notes")

# --------------------------------------------------------------------------
# Records -> script operations.


_KEY_ESC = re.compile(r"[%:{}]")


def key_part(s: str) -> str:
    """An id as a key part: ``%``, ``:``, ``{``, ``}`` written ``%XX`` (hex), the same
    escaping as the read-model script's ``esc``; other ids are unchanged.

    >>> key_part("Z1:orders:pending"), key_part("V1")
    ('Z1%3Aorders%3Apending', 'V1')
    """
    return _KEY_ESC.sub(lambda m: "%%%02X" % ord(m.group()), s)


class InvalidRecord(ValueError):
    pass


def _num(x: Any) -> str:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise InvalidRecord(f"expected a number, got {type(x).__name__}")
    if isinstance(x, int):
        return str(x)
    if not math.isfinite(x):
        raise InvalidRecord("expected a finite number")
    return repr(float(x))


def _str(rec: dict, name: str) -> str:
    v = rec.get(name)
    if not isinstance(v, str) or not v:
        raise InvalidRecord(f"{name}: expected a non-empty string")
    return v


def _seq(rid: str) -> int:
    """The per-zone sequence at the end of an engine id (``D-Z1-1772413260-42`` -> 42)."""
    tail = rid.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _ts(rec: dict) -> float:
    ts = rec.get("ts")
    if isinstance(ts, bool) or not isinstance(ts, (int, float)):
        raise InvalidRecord("ts: expected a number")
    return float(ts)


def route_json(stops: list[dict]) -> str:
    """A route as stored in ``v:{id}`` ``route``: a JSON array, one stop per line."""
    return "[" + ",\n".join(orjson.dumps(s).decode() for s in stops) + "]"


def _op(topic: str, rec: dict) -> dict | None:
    """One output record -> the operation the script applies (None: not for Redis)."""
    if not isinstance(rec, dict):
        raise InvalidRecord("record is not an object")
    if topic == TOPIC_DECISIONS:
        did = _str(rec, "decision_id")
        routes = []
        for vid, stops in (rec.get("routes") or {}).items():
            if not isinstance(stops, list) or not all(isinstance(s, dict) for s in stops):
                raise InvalidRecord(f"routes.{vid}: expected a list of stops")
            routes.append([vid, route_json(stops),
                           [[_str(s, "order_id"), s.get("stop", ""), _num(s.get("eta", 0))]
                            for s in stops]])
        op = {"t": "D", "id": did, "kind": _str(rec, "kind"), "status": _str(rec, "status"),
              "order_ids": [o for o in rec.get("order_ids") or [] if isinstance(o, str)],
              "routes": routes, "rec": orjson.dumps(rec).decode()}
        if isinstance(rec.get("refers_to"), str):
            op["refers_to"] = rec["refers_to"]
    elif topic == TOPIC_ETA:
        did = _str(rec, "eta_id")
        f: list[str] = []
        for name in ("eta", "lo80", "hi80", "lo95", "hi95", "window_start", "window_end",
                     "p_late", "stops_ahead"):
            if name in rec:
                f += [name, _num(rec[name])]
        f += ["stop", str(rec.get("stop", "delivery"))]
        op = {"t": "E", "id": did, "oid": _str(rec, "order_id"),
              "vid": _str(rec, "vehicle_id"), "f": f}
    elif topic == TOPIC_ALERTS:
        did = _str(rec, "alert_id")
        kind = _str(rec, "kind")
        vid = rec.get("vehicle_id") if isinstance(rec.get("vehicle_id"), str) else None
        oids = [o for o in rec.get("order_ids") or [] if isinstance(o, str)]
        op = {"t": "A", "id": did, "kind": kind, "order_ids": oids,
              "rec": orjson.dumps(rec).decode()}
        if vid and kind != "failure_risk":
            op["subj"] = f"{kind}|{vid}"
        elif oids:
            op["subj"] = f"{kind}|{oids[0]}"
            op["oid"] = oids[0]
        else:
            op["subj"] = f"{kind}|#{did}"
        if vid:
            op["vid"] = vid
    elif topic == TOPIC_NOTIFICATIONS:
        did = _str(rec, "notification_id")
        op = {"t": "N", "id": did, "oid": _str(rec, "order_id"),
              "cid": _str(rec, "customer_id"), "kind": str(rec.get("kind", ""))}
    elif topic == TOPIC_OUTCOMES:
        did = _str(rec, "outcome_id")
        outcome = _str(rec, "outcome")
        if outcome not in OUTCOMES:
            raise InvalidRecord(f"outcome: must be one of {', '.join(OUTCOMES)}, "
                                f"got {outcome!r}")
        op = {"t": "O", "id": did, "oid": _str(rec, "order_id"), "outcome": outcome}
        for k, name in (("vid", "vehicle_id"), ("cid", "customer_id")):
            if isinstance(rec.get(name), str) and rec[name]:
                op[k] = rec[name]
        r = rec.get("reason")
        if outcome == "failed":
            op["reason"] = r if r in FAIL_REASONS else "other"
        elif outcome in ("expired", "not_served") and isinstance(r, str) and r:
            op["reason"] = r[:MAX_TEXT_LEN]  # why the order ends unserved, for the console
    else:
        return None  # fs.dlq and anything else: not part of the read model
    ts = _ts(rec)
    op.update(zone=_str(rec, "zone"), ts=ts, ts_s=_num(rec["ts"]), seq=_seq(did))
    return op


_redact = redact_url  # user-info redacted whatever the password holds (connectors/redaction.py)


def _client(url: str, connect_timeout_s: float, socket_timeout_s: float) -> Any:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry
    # No client-side retries: a dead server must cost one refused connect, not a
    # backoff loop inside the engine's output step.
    return redis.Redis.from_url(url, socket_connect_timeout=connect_timeout_s,
                                socket_timeout=socket_timeout_s, retry=Retry(NoBackoff(), 0),
                                health_check_interval=0)


def _is_outage(e: BaseException) -> bool:
    import redis.exceptions as rx
    if isinstance(e, (rx.ConnectionError, rx.TimeoutError, OSError)):
        return True
    msg = str(e)
    return isinstance(e, rx.ResponseError) and msg.split(" ", 1)[0] in (
        "LOADING", "READONLY", "MASTERDOWN", "OOM", "BUSY", "CLUSTERDOWN", "TRYAGAIN")
