"""The zone engine's output records: typed decisions and explanations, and the
builders of alerts, customer notifications, outcomes and ETA records.

``Explanation`` is declared in the contract (:mod:`fleetstream.contract.details`,
with the typed reasons, alternatives, effects and plan summaries it holds per
decision kind), so the published JSON Schema is generated from the class the
engine builds decisions with.

Every record carries the output schema version ``v``, the zone, an id
``<prefix>-<zone>-<int ts>-<n>`` numbered by the zone (``ZoneState.next_id``) and
the ids of the input events that triggered it.

>>> e = Explanation("Move o1", reasons=[{"rule": "late_risk"}], strategy="s-1")
>>> list(e.to_record())
['summary', 'reasons', 'strategy']
>>> d = Decision("D-Z-0-1", 12.34, "Z", "assign", "applied", "auto", ["o1"], {}, ["e1"], {}, e)
>>> list(d.to_record())[:4], d.to_record()["ts"]
(['decision_id', 'ts', 'v', 'zone'], 12.3)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fleetstream.contract.details import Explanation
from fleetstream.contract.outputs import (OUTPUT_SCHEMA_VERSION, TOPIC_ALERTS, TOPIC_DECISIONS,
                                          TOPIC_ETA, TOPIC_NOTIFICATIONS, TOPIC_OUTCOMES)
from fleetstream.operators import notify
from fleetstream.operators.estimators import ModelSeats
from fleetstream.operators.state import DELIVERY, Order, Vehicle
from fleetstream.operators.zone.state import ZoneState

Out = tuple[str, dict]


def r1(x: float) -> float:
    """Times in records: rounded to 0.1 s."""
    return round(x, 1)


@dataclass
class Decision:
    """One routing decision (fs.decisions): applied, proposed, alert_only, or the
    answer to a proposal (rejected, expired, applied with ``refers_to``)."""

    decision_id: str
    ts: float
    zone: str
    kind: str                   # details.DECISION_EXPLANATIONS: assign | reroute | ...
    status: str                 # applied | proposed | alert_only | rejected | expired
    autonomy: str               # auto | propose | alert_only | off
    order_ids: list[str]
    routes: dict[str, list[dict]]   # rendered stops per vehicle
    trigger_event_ids: list[str]
    models: dict[str, dict]         # seat -> {version, n} (details.MODELS)
    explanation: Explanation
    refers_to: str | None = None

    def to_record(self) -> dict[str, Any]:
        rec = {"decision_id": self.decision_id, "ts": r1(self.ts), "v": OUTPUT_SCHEMA_VERSION,
               "zone": self.zone, "kind": self.kind, "status": self.status,
               "autonomy": self.autonomy, "order_ids": list(self.order_ids),
               "routes": self.routes, "trigger_event_ids": list(self.trigger_event_ids),
               "models": self.models, "explanation": self.explanation.to_record()}
        if self.refers_to:
            rec["refers_to"] = self.refers_to
        return rec


def alert_record(alert_id: str, now: float, zone: str, kind: str, severity: str, message: str,
                 vehicle_id: str | None, order_ids: list[str], details: dict,
                 triggers: list[str]) -> dict:
    rec = {"alert_id": alert_id, "ts": r1(now), "v": OUTPUT_SCHEMA_VERSION,
           "zone": zone, "kind": kind, "severity": severity, "message": message,
           "order_ids": list(order_ids), "details": details,
           "trigger_event_ids": list(triggers)}
    if vehicle_id:
        rec["vehicle_id"] = vehicle_id
    return rec


def notification_record(notification_id: str, now: float, zone: str, o: Order, language: str,
                        kind: str, text: str, eta: float, hi80: float) -> dict:
    return {"notification_id": notification_id, "ts": r1(now), "v": OUTPUT_SCHEMA_VERSION,
            "zone": zone, "customer_id": o.customer_id, "order_id": o.id, "language": language,
            "kind": kind, "message": text, "eta": r1(eta), "hi80": r1(hi80)}


def outcome_record(outcome_id: str, ts: float, zone: str, o: Order, vehicle_id: str | None,
                   outcome: str, reason: str | None, trigger: str) -> dict:
    rec = {"outcome_id": outcome_id, "ts": r1(ts), "v": OUTPUT_SCHEMA_VERSION,
           "zone": zone, "order_id": o.id, "customer_id": o.customer_id,
           "outcome": outcome, "trigger_event_ids": [trigger]}
    if vehicle_id:
        rec["vehicle_id"] = vehicle_id
    if reason:
        rec["reason"] = reason
    return rec


def eta_record(eta_id: str, now: float, zone: str, v: Vehicle, o: Order, eta: float, iv: tuple,
               ahead: int, p_late: float | None, models: dict, triggers: list[str]) -> dict:
    """``iv``: (lo80, hi80, lo95, hi95) offsets from ``eta`` in seconds."""
    return {"eta_id": eta_id, "ts": round(now, 1), "v": OUTPUT_SCHEMA_VERSION,   # r1, inlined
            "zone": zone, "order_id": o.id, "vehicle_id": v.id, "stop": DELIVERY,
            "eta": round(eta, 1), "lo80": round(eta + iv[0], 1), "hi80": round(eta + iv[1], 1),
            "lo95": round(eta + iv[2], 1), "hi95": round(eta + iv[3], 1),
            "window_start": o.window_start, "window_end": o.window_end,
            "stops_ahead": ahead, "p_late": round(p_late, 4) if p_late is not None else 0.0,
            "models": models, "trigger_event_ids": list(triggers)}


@dataclass
class Emitter:
    """Numbers, counts and appends the zone's output records to ``out``."""

    state: ZoneState
    seats: ModelSeats = field(default_factory=ModelSeats)
    messages: notify.CustomerMessages = field(default_factory=notify.CustomerMessages)
    """The customer message policy (docs/notifications.md)."""

    def alert(self, out: list[Out], now: float, kind: str, severity: str, message: str,
              vehicle_id: str | None, order_ids: list[str], details: dict,
              triggers: list[str]) -> None:
        st = self.state
        out.append((TOPIC_ALERTS, alert_record(st.next_id("A", now), now, st.zone, kind, severity,
                                               message, vehicle_id, order_ids, details, triggers)))
        st.count(f"alerts_{kind}")

    def notify(self, out: list[Out], now: float, o: Order, kind: str, eta: float,
               hi80: float, reason: str = "") -> None:
        """A customer message, if the policy lets it go now (``self.messages``)."""
        st = self.state
        msg = self.messages.compose(st, now, o, kind, eta, hi80, reason)
        if msg is None:
            return
        lang, text, eta, hi80 = msg
        out.append((TOPIC_NOTIFICATIONS, notification_record(
            st.next_id("N", now), now, st.zone, o, lang, kind, text, eta, hi80)))
        st.count(f"notifications_{kind}")

    def outcome(self, out: list[Out], ev: Any, o: Order, vehicle_id: str | None, outcome: str,
                reason: str | None) -> None:
        """How an order ended, for the read model and customer history (fs.outcomes)."""
        st = self.state
        out.append((TOPIC_OUTCOMES, outcome_record(st.next_id("O", ev.ts), ev.ts, st.zone, o,
                                                   vehicle_id, outcome, reason, ev.event_id)))

    def eta(self, out: list[Out], now: float, v: Vehicle, o: Order, eta: float, iv: tuple,
            ahead: int, p_late: float | None, triggers: list[str],
            models: dict | None = None) -> None:
        """``models``: the seats' versions when the caller has them (records may share
        that dict: nothing mutates a record)."""
        st = self.state
        out.append((TOPIC_ETA, eta_record(st.next_id("E", now), now, st.zone, v, o, eta, iv, ahead,
                                          p_late, models or self.seats.versions(), triggers)))
        st.count("eta_published")

    def decision(self, out: list[Out], d: Decision) -> None:
        out.append((TOPIC_DECISIONS, d.to_record()))
        self.state.count(f"decisions_{d.kind}_{d.status}")
