"""What both data sources share: the state document the front end draws, alert
ordering, KPIs, and the approval events the console publishes.

The state document (``GET /api/state``), the same in replay and live mode::

    {"mode", "t", "t_min", "t_max", "version",
     "zones": [{"zone", "depots": [{"lat", "lon"}]}],
     "vehicles": [{"id", "zone", "lat", "lon", "heading", "pos_ts", "stale_s", "status",
                   "fleet_type", "vehicle_type", "route": [STOP, ...]}],
     "alerts": [{"alert_id", "ts", "zone", "kind", "severity", "message", "vehicle_id",
                 "order_ids", "ack": {"by", "at"} | null}],
     "proposals": [{"decision_id", "ts", "zone", "kind", "order_ids", "summary",
                    "vehicles", "answer": {...} | null}],
     "decisions": [{"decision_id", "ts", "zone", "kind", "status", "summary"}],
     "kpi": {"all": KPI, "by_fleet": {fleet_type: KPI}}}

    STOP = {"order_id", "stop", "lat", "lon", "eta", "lo80", "hi80", "window_end",
            "p_late"}
    KPI = {"delivered", "on_time", "on_time_rate", "at_risk", "failed", "unassigned",
           "open"}
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import fields
from typing import Any

import orjson

from fleetstream.contract.events import (TOPIC_APPROVALS, Approval, OrderPin, OrderUnpin,
                                         OrderUpdate, RouteLock, RouteUnlock, ValidationError,
                                         decode_event)

SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}
AT_RISK_P = 0.5
"""An open order is *at risk* when its latest ETA's ``p_late`` is at least this."""
STALE_S = 300.0
"""A vehicle is drawn stale when its last fix is older than this (event time)."""
FINAL = ("delivered", "failed", "cancelled", "expired", "not_served")
ANSWER_AFTER_S = 1.0
"""An answer is dated at least this long after its proposal: a decision's ``ts`` is
rounded to 0.1 s, and a plan applied at its due time exists in the engine only
for events at or after that (unrounded) time."""


def answer_ts(proposal_ts: float, now: float | None) -> float:
    """Event time of an answer given at ``now`` (the scrubber, the zone clock)."""
    return max(float(proposal_ts) + ANSWER_AFTER_S, float(now) if now is not None else 0.0)


def alert_order(alerts: Iterable[dict]) -> list[dict]:
    """Alerts by severity (critical, warning, info, others), then newest first."""
    return sorted(alerts, key=lambda a: (SEVERITY_RANK.get(a.get("severity"), 3),
                                         -float(a.get("ts") or 0.0), str(a.get("alert_id"))))


def summary_of(decision: dict) -> str:
    return str((decision.get("explanation") or {}).get("summary") or "")


def decision_row(d: dict) -> dict:
    return {"decision_id": d["decision_id"], "ts": d["ts"], "zone": d["zone"],
            "kind": d["kind"], "status": d["status"], "summary": summary_of(d),
            "refers_to": d.get("refers_to")}


def proposal_row(d: dict, answer: dict | None) -> dict:
    return {"decision_id": d["decision_id"], "ts": d["ts"], "zone": d["zone"],
            "kind": d["kind"], "order_ids": d.get("order_ids", []), "summary": summary_of(d),
            "vehicles": sorted((d.get("routes") or {}).keys()), "answer": answer,
            "effect": (d.get("explanation") or {}).get("expected_effect")}


def empty_kpi() -> dict:
    return {"delivered": 0, "on_time": 0, "on_time_rate": None, "at_risk": 0, "failed": 0,
            "expired": 0, "not_served": 0, "unassigned": 0, "open": 0}


def kpis(orders: Iterable[dict]) -> dict:
    """KPIs from order rows ``{"status", "on_time", "p_late", "fleet_type"}``:
    ``status`` one of delivered, failed, cancelled, routed (on a route), open (not on
    any route: unassigned); ``on_time`` for delivered orders (delivered at or before
    the window end); ``p_late`` of the latest ETA of an open or routed order."""
    out = {"all": empty_kpi(), "by_fleet": {}}
    for o in orders:
        targets = [out["all"]]
        ft = o.get("fleet_type")
        if ft:
            targets.append(out["by_fleet"].setdefault(ft, empty_kpi()))
        st = o["status"]
        for k in targets:
            if st == "delivered":
                k["delivered"] += 1
                k["on_time"] += 1 if o.get("on_time") else 0
            elif st == "failed":
                k["failed"] += 1
            elif st == "expired":  # no terminal event by window end + grace (docs/limits.md)
                k["expired"] += 1
            elif st == "not_served":  # given up by recovery of work (docs/routing.md)
                k["not_served"] += 1
            elif st == "cancelled":
                continue
            else:
                k["open"] += 1
                if st == "open":
                    k["unassigned"] += 1
                if (o.get("p_late") or 0.0) >= AT_RISK_P:
                    k["at_risk"] += 1
    for k in [out["all"], *out["by_fleet"].values()]:
        if k["delivered"]:
            k["on_time_rate"] = round(k["on_time"] / k["delivered"], 4)
    return out


# ---------------------------------------------------------------- approvals

APPROVAL_FIELDS = {f.name for f in fields(Approval)}


def approval_event(decision_id: str, zone: str, approved: bool, by: str, ts: float,
                   reason: str | None = None) -> dict:
    """An ``approval`` input event (fs.approvals, docs/topics.md), checked by the
    engine's own decoder.  ``reason`` goes into the event only when the contract has
    a ``reason`` field; the console always keeps it in its own answer log."""
    ev: dict[str, Any] = {"type": Approval.TYPE, "event_id": f"console-{uuid.uuid4().hex}",
                          "ts": round(float(ts), 3), "v": 1, "decision_id": decision_id,
                          "zone": zone, "approved": bool(approved), "by": by}
    if reason and "reason" in APPROVAL_FIELDS:
        ev["reason"] = reason
    decode_event(orjson.dumps(ev), TOPIC_APPROVALS)  # raises ValidationError if not valid
    return ev


def envelope(ev: dict) -> bytes:
    """One line of the replay input format (``{topic, key, value}``)."""
    return orjson.dumps({"topic": TOPIC_APPROVALS, "key": ev["decision_id"],
                         "value": orjson.dumps(ev).decode()}) + b"\n"


# ---------------------------------------------------------------- overrides

OVERRIDE_ACTIONS = {c.TYPE: c for c in (OrderPin, OrderUnpin, RouteLock, RouteUnlock, OrderUpdate)}
"""Dispatcher overrides the console publishes (docs/console.md, "Overrides")."""


def override_event(action: str, zone: str, by: str, ts: float, fields_: dict) -> dict:
    """An override input event (``order_pin``, ``route_lock``, ... on fs.approvals),
    checked by the engine's own decoder (ValidationError names the bad field)."""
    cls = OVERRIDE_ACTIONS.get(action)
    if cls is None:
        raise ValidationError("action", f"one of {', '.join(sorted(OVERRIDE_ACTIONS))}")
    names = {f.name for f in fields(cls)} - {"event_id", "ts", "v", "zone", "by"}
    ev: dict[str, Any] = {"type": action, "event_id": f"console-{uuid.uuid4().hex}",
                          "ts": round(float(ts), 3), "v": 1, "zone": zone, "by": by}
    ev.update({k: v for k, v in fields_.items() if k in names and v not in (None, "")})
    decode_event(orjson.dumps(ev), TOPIC_APPROVALS)  # raises ValidationError if not valid
    return ev


def override_envelope(ev: dict) -> bytes:
    """One line of the replay input format, keyed by zone like the topic."""
    return orjson.dumps({"topic": TOPIC_APPROVALS, "key": ev["zone"],
                         "value": orjson.dumps(ev).decode()}) + b"\n"


def answer_record(ev: dict, reason: str | None) -> dict:
    return {"decision_id": ev["decision_id"], "approved": ev["approved"], "by": ev["by"],
            "reason": reason or None, "ts": ev["ts"], "event_id": ev["event_id"],
            "at": round(time.time(), 3)}
