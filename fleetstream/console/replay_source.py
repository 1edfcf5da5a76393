"""Replay mode: the console over a replay's output folder (``fleetstream replay
--out DIR``) and its input events (positions, depots, order locations).

The state at event time ``t`` is the fold of every record up to ``t``: each
entity keeps its records sorted by event time and the state is read with a
binary search, so moving the scrubber costs one pass over the entities.  The
output files are followed: lines appended to them (a replay still running into
DIR, or a test appending) are loaded within ``poll_s`` and pushed to browsers.
Approvals are written to ``DIR/approvals.jsonl`` in the replay input format
(docs/console.md: re-running a replay with them).
"""

from __future__ import annotations

import bisect
import os
import threading
from dataclasses import fields
from typing import Any

import orjson

from fleetstream.connectors.files import events_path, read_replay
from fleetstream.console.model import (
    STALE_S,
    alert_order,
    answer_record,
    answer_ts,
    approval_event,
    decision_row,
    envelope,
    kpis,
    override_envelope,
    override_event,
    proposal_row,
)
from fleetstream.contract.events import ValidationError, decode_event

OUTPUT_FILES = ("fs.decisions", "fs.alerts", "fs.eta", "fs.outcomes")
ALERT_OPEN_S = 7200.0  # like the read model's alert_open_s: older alerts leave the feed


class _Vehicle:
    __slots__ = (
        "end_ts",
        "id",
        "info",
        "ping",
        "ping_ts",
        "route_ids",
        "route_ts",
        "start_ts",
        "unavail_ts",
        "zone",
    )

    def __init__(self, vid: str):
        self.id = vid
        self.zone = None
        self.info: dict = {}
        self.start_ts: float | None = None
        self.ping_ts: list[float] = []
        self.ping: list[tuple] = []  # (lat, lon, heading, event_id)
        self.route_ts: list[float] = []
        self.route_ids: list[str] = []
        self.unavail_ts: float | None = None
        self.end_ts: float | None = None


class _Order:
    __slots__ = ("created_ts", "eta", "eta_ts", "id", "info", "outcome", "picked_ts", "zone")

    def __init__(self, oid: str):
        self.id = oid
        self.zone = None
        self.created_ts: float | None = None
        self.info: dict = {}
        self.eta_ts: list[float] = []
        self.eta: list[dict] = []
        self.outcome: dict | None = None
        self.picked_ts: float | None = None


def _insort(ts_list: list, items: list, ts: float, item: Any) -> None:
    i = bisect.bisect_right(ts_list, ts)
    ts_list.insert(i, ts)
    items.insert(i, item)


class ReplaySource:
    """Replay outputs in ``out_dir`` (+ the replay input) behind the console interface."""

    mode = "replay"

    def __init__(self, out_dir: str, input_path: str | None = None, stale_s: float = STALE_S):
        if not os.path.isdir(out_dir):
            raise FileNotFoundError(f"--replay {out_dir}: no such folder")
        if not os.path.exists(os.path.join(out_dir, "fs.decisions.jsonl")):
            raise ValueError(f"--replay {out_dir}: no fs.decisions.jsonl (not a replay's "
                             "output folder: run `fleetstream replay REPLAY --out DIR` first)")
        self.out_dir = out_dir
        self.stale_s = stale_s
        self.input_path = input_path or self._input_from_marker(out_dir)
        self.lock = threading.RLock()
        self.overrides: list[dict] = []  # overrides written by this console
        self.version = 0
        self.vehicles: dict[str, _Vehicle] = {}
        self.orders: dict[str, _Order] = {}
        self.depots: dict[str, set] = {}
        self.events: dict[str, Any] = {}  # event_id -> event (pings: (vid, index))
        self.dec_ts: list[float] = []
        self.decs: list[dict] = []
        self.dec_by_id: dict[str, dict] = {}
        self.resolved: dict[str, float] = {}  # proposal id -> event time of its answer
        self.alert_ts: list[float] = []
        self.alerts: list[dict] = []
        self.acks: dict[str, dict] = {}
        self.answers: dict[str, dict] = {}
        self.offsets = {name: 0 for name in OUTPUT_FILES}
        self.t_min = float("inf")
        self.t_max = float("-inf")
        if self.input_path:
            self._load_input(self.input_path)
        self.poll()
        self._load_answers()

    # ------------------------------------------------------------------ loading

    @staticmethod
    def _input_from_marker(out_dir: str) -> str | None:
        try:
            with open(os.path.join(out_dir, ".fleetstream-run.json"), "rb") as f:
                p = orjson.loads(f.read()).get("replay")
        except (OSError, ValueError):
            return None
        return p if p and os.path.exists(p) else None

    def _load_input(self, path: str) -> None:
        events_path(path)  # a clear FileNotFoundError if it is not a replay
        for m in read_replay(path):
            ev = self._decode(m)
            if ev is None:
                continue  # malformed: the engine dead-lettered it
            typ, ts, eid = ev["type"], ev["ts"], ev.get("event_id")
            if typ == "ping":
                v = self.vehicles.get(ev.get("vehicle_id"))
                if v is None or (v.ping_ts and ts <= v.ping_ts[-1]):
                    continue
                v.ping_ts.append(ts)
                v.ping.append((ev["lat"], ev["lon"], ev.get("heading"), eid))
                if eid:
                    self.events[eid] = (v.id, len(v.ping) - 1)
                continue
            if eid:
                self.events[eid] = ev
            if typ == "shift_start":
                v = self.vehicles.setdefault(ev["vehicle_id"], _Vehicle(ev["vehicle_id"]))
                v.zone, v.start_ts = ev.get("zone"), ts
                v.info = {k: ev.get(k) for k in ("fleet_type", "vehicle_type", "driver_id",
                                                  "start", "end")}
                v.end_ts = v.unavail_ts = None
                st = ev.get("start") or {}
                if "lat" in st and "lon" in st:
                    self.depots.setdefault(v.zone, set()).add((st["lat"], st["lon"]))
            elif typ == "shift_end" and ev.get("vehicle_id") in self.vehicles:
                self.vehicles[ev["vehicle_id"]].end_ts = ts
            elif typ == "vehicle_unavailable" and ev.get("vehicle_id") in self.vehicles:
                self.vehicles[ev["vehicle_id"]].unavail_ts = ts
            elif typ == "order_created":
                o = self.orders.setdefault(ev["order_id"], _Order(ev["order_id"]))
                o.zone, o.created_ts = ev.get("zone"), ts
                o.info = {k: ev.get(k) for k in ("customer_id", "kind", "location", "pickup",
                                                  "window_start", "window_end", "priority")}
            elif typ == "order_picked_up" and ev.get("order_id") in self.orders:
                self.orders[ev["order_id"]].picked_ts = ts

    @staticmethod
    def _decode(m: Any) -> dict | None:
        """An input event as a dict with a float ``ts``: pings with numbers take a
        fast path; everything else (and odd pings) goes through the engine's own
        decoder (RFC 3339 times, validation); invalid events are skipped."""
        try:
            ev = orjson.loads(m.value)
            if (ev.get("type") == "ping" and type(ev.get("ts")) in (int, float)
                    and type(ev.get("lat")) in (int, float)
                    and type(ev.get("lon")) in (int, float)
                    and type(ev.get("heading")) in (int, float)):
                ev["ts"] = float(ev["ts"])
                return ev
        except (ValueError, AttributeError):
            return None
        try:
            typed = decode_event(m.value, m.topic)
        except ValidationError:
            return None
        out = {f.name: getattr(typed, f.name) for f in fields(typed)}
        out["type"] = typed.TYPE
        for k in ("start", "end", "location", "pickup"):
            if isinstance(out.get(k), (tuple, list)) and len(out[k]) == 2:
                out[k] = {"lat": out[k][0], "lon": out[k][1]}
        return out

    def poll(self) -> bool:
        """Load what was appended to the output files since the last call; True
        when something new arrived (the version then grows)."""
        new = False
        for name in OUTPUT_FILES:
            path = os.path.join(self.out_dir, name + ".jsonl")
            try:
                size = os.path.getsize(path)
            except OSError:
                continue
            if size < self.offsets[name]:
                self.offsets[name] = 0  # replaced (replay --force): read again
            if size == self.offsets[name]:
                continue
            with open(path, "rb") as f:
                f.seek(self.offsets[name])
                chunk = f.read(size - self.offsets[name])
            end = chunk.rfind(b"\n") + 1  # only whole lines
            self.offsets[name] += end
            with self.lock:
                for line in chunk[:end].splitlines():
                    if line.strip():
                        try:
                            self._add(name, orjson.loads(line))
                        except (ValueError, KeyError, TypeError):
                            continue
                        new = True
        if new:
            with self.lock:
                self.version += 1
        return new

    def _add(self, topic: str, r: dict) -> None:
        ts = float(r["ts"])
        self.t_min, self.t_max = min(self.t_min, ts), max(self.t_max, ts)
        if topic == "fs.decisions":
            if r["decision_id"] in self.dec_by_id:
                return
            _insort(self.dec_ts, self.decs, ts, r)
            self.dec_by_id[r["decision_id"]] = r
            if r.get("refers_to") and r["status"] != "proposed":
                self.resolved[r["refers_to"]] = min(ts, self.resolved.get(r["refers_to"], ts))
            if r["status"] == "applied":
                for vid in r.get("routes") or {}:
                    v = self.vehicles.setdefault(vid, _Vehicle(vid))
                    v.zone = v.zone or r["zone"]
                    _insort(v.route_ts, v.route_ids, ts, r["decision_id"])
        elif topic == "fs.alerts":
            _insort(self.alert_ts, self.alerts, ts, r)
        elif topic == "fs.eta":
            o = self.orders.setdefault(r["order_id"], _Order(r["order_id"]))
            _insort(o.eta_ts, o.eta, ts, r)
        elif topic == "fs.outcomes":
            o = self.orders.setdefault(r["order_id"], _Order(r["order_id"]))
            o.outcome = r

    def _load_answers(self) -> None:
        path = os.path.join(self.out_dir, "approvals.jsonl")
        if not os.path.exists(path):
            return
        with open(path, "rb") as f:
            for line in f:
                try:
                    ev = orjson.loads(orjson.loads(line)["value"])
                    self.answers[ev["decision_id"]] = {
                        "decision_id": ev["decision_id"], "approved": ev["approved"],
                        "by": ev["by"], "reason": ev.get("reason"), "ts": ev["ts"],
                        "event_id": ev["event_id"]}
                except (ValueError, KeyError, TypeError):
                    continue

    # ------------------------------------------------------------------ state at t

    def clamp(self, t: float | None) -> float:
        if self.t_max == float("-inf"):
            return 0.0
        return self.t_max if t is None else max(self.t_min, min(self.t_max, float(t)))

    def state(self, t: float | None = None, zone: str | None = None) -> dict:
        with self.lock:
            t = self.clamp(t)
            routed: dict[str, str] = {}
            vehicles = [v for v in (self._vehicle_at(v, t, routed)
                                    for v in self.vehicles.values()
                                    if zone in (None, v.zone)) if v]
            orders = []
            for o in self.orders.values():
                if o.created_ts is None or o.created_ts > t or zone not in (None, o.zone):
                    continue
                orders.append(self._order_row(o, t, routed))
            n_alerts = bisect.bisect_right(self.alert_ts, t)
            alerts = [dict(a, ack=self.acks.get(a["alert_id"])) for a in
                      self.alerts[bisect.bisect_left(self.alert_ts, t - ALERT_OPEN_S):n_alerts]
                      if zone in (None, a["zone"])]
            n_dec = bisect.bisect_right(self.dec_ts, t)
            proposals = [proposal_row(d, self.answers.get(d["decision_id"]))
                         for d in self.decs[:n_dec]
                         if d["status"] == "proposed" and zone in (None, d["zone"])
                         and self.resolved.get(d["decision_id"], float("inf")) > t]
            recent = [decision_row(d) for d in self.decs[max(0, n_dec - 100):n_dec]
                      if zone in (None, d["zone"])][::-1]
            zones = sorted({v.zone for v in self.vehicles.values() if v.zone}
                           | {o.zone for o in self.orders.values() if o.zone})
            return {"mode": self.mode, "t": t, "t_min": self.t_min, "t_max": self.t_max,
                    "version": self.version,
                    "zones": [{"zone": z, "depots": [{"lat": a, "lon": b} for a, b in
                                                     sorted(self.depots.get(z, ()))]}
                              for z in zones],
                    "vehicles": vehicles, "alerts": alert_order(alerts)[:300],
                    "proposals": proposals, "decisions": recent, "kpi": kpis(orders)}

    def _latest_eta(self, o: _Order, t: float) -> dict | None:
        i = bisect.bisect_right(o.eta_ts, t) - 1
        return o.eta[i] if i >= 0 else None

    def _final(self, o: _Order | None, t: float) -> bool:
        return o is not None and o.outcome is not None and float(o.outcome["ts"]) <= t

    def _vehicle_at(self, v: _Vehicle, t: float, routed: dict[str, str]) -> dict | None:
        if v.start_ts is None or v.start_ts > t:
            return None
        i = bisect.bisect_right(v.ping_ts, t) - 1
        if i >= 0:
            lat, lon, heading, _ = v.ping[i]
            pos_ts = v.ping_ts[i]
        else:
            st = v.info.get("start") or {}
            lat, lon, heading, pos_ts = st.get("lat"), st.get("lon"), None, v.start_ts
        if lat is None:
            return None
        route = []
        j = bisect.bisect_right(v.route_ts, t) - 1
        route_ts = v.route_ts[j] if j >= 0 else None
        if j >= 0:
            for s in self.dec_by_id[v.route_ids[j]]["routes"].get(v.id, []):
                o = self.orders.get(s["order_id"])
                if self._final(o, t):
                    continue
                if s["stop"] == "pickup" and o is not None and o.picked_ts is not None \
                        and o.picked_ts <= t:
                    continue
                routed[s["order_id"]] = v.id
                loc = s.get("location") or (o.info.get("location") if o else None) or {}
                e = self._latest_eta(o, t) if o else None
                if e is not None and (e["vehicle_id"] != v.id or e["stop"] != s["stop"]):
                    e = None
                route.append({"order_id": s["order_id"], "stop": s["stop"],
                              "lat": loc.get("lat"), "lon": loc.get("lon"),
                              "eta": e["eta"] if e else s["eta"],
                              "lo80": e["lo80"] if e else None, "hi80": e["hi80"] if e else None,
                              "window_end": s["window_end"],
                              "p_late": e["p_late"] if e else None})
        if v.end_ts is not None and v.end_ts <= t and not route:
            status = "off_shift"
        elif v.unavail_ts is not None and v.unavail_ts <= t and (route_ts is None
                                                                  or route_ts <= v.unavail_ts):
            status = "unavailable"
        elif t - pos_ts > self.stale_s:
            status = "stale"
        else:
            status = "en_route" if route else "idle"
        return {"id": v.id, "zone": v.zone, "lat": lat, "lon": lon, "heading": heading,
                "pos_ts": pos_ts, "stale_s": round(t - pos_ts, 1), "status": status,
                "fleet_type": v.info.get("fleet_type"), "vehicle_type": v.info.get("vehicle_type"),
                "route": route}

    def _order_row(self, o: _Order, t: float, routed: dict[str, str]) -> dict:
        vid = routed.get(o.id)
        if self._final(o, t):
            st = o.outcome["outcome"]
            vid = o.outcome.get("vehicle_id") or vid
        else:
            st = "routed" if vid else "open"
        e = self._latest_eta(o, t)
        v = self.vehicles.get(vid) if vid else None
        we = o.info.get("window_end")
        on_time = (st == "delivered" and we is not None and float(o.outcome["ts"]) <= float(we))
        return {"status": st, "on_time": on_time, "p_late": e["p_late"] if e and not
                self._final(o, t) else None, "fleet_type": v.info.get("fleet_type") if v else None}

    # ------------------------------------------------------------------ inspector, actions

    def decision(self, decision_id: str) -> dict | None:
        with self.lock:
            d = self.dec_by_id.get(decision_id)
            if d is None:
                return None
            return {"record": d, "triggers": [self._event(e) for e in d.get("trigger_event_ids", [])],
                    "answers": [x for x in self.decs if x.get("refers_to") == decision_id]}

    def _event(self, eid: str) -> dict:
        ev = self.events.get(eid)
        if isinstance(ev, tuple):
            v = self.vehicles[ev[0]]
            lat, lon, heading, _ = v.ping[ev[1]]
            return {"event_id": eid, "type": "ping", "ts": v.ping_ts[ev[1]], "vehicle_id": v.id,
                    "lat": lat, "lon": lon, "heading": heading}
        return ev if ev is not None else {"event_id": eid, "type": None}

    def ack(self, alert_id: str, by: str) -> dict:
        import time
        with self.lock:
            if not any(a["alert_id"] == alert_id for a in self.alerts):
                raise KeyError(alert_id)
            self.acks[alert_id] = {"by": by, "at": round(time.time(), 3)}
            self.version += 1
            return self.acks[alert_id]

    def answer(self, decision_id: str, approved: bool, by: str, reason: str | None,
               t: float | None) -> dict:
        """Write an approval event for a proposal into ``approvals.jsonl``, at the
        scrubber's event time (at least ANSWER_AFTER_S after the proposal)."""
        with self.lock:
            d = self.dec_by_id.get(decision_id)
            if d is None or d["status"] != "proposed" or decision_id in self.answers:
                raise KeyError(decision_id)  # not an open proposal, or answered already
            ts = answer_ts(d["ts"], self.clamp(t))
            ev = approval_event(decision_id, d["zone"], approved, by, ts, reason)
            with open(os.path.join(self.out_dir, "approvals.jsonl"), "ab") as f:
                f.write(envelope(ev))
            rec = answer_record(ev, reason)
            self.answers[decision_id] = rec
            self.version += 1
            return {"event": ev, "answer": rec}

    def override(self, action: str, by: str, fields_: dict, t: float | None) -> dict:
        """Write a dispatcher override (order_pin, route_lock, ...) into
        ``approvals.jsonl`` at the scrubber's event time; its zone is the vehicle's
        or the order's."""
        with self.lock:
            ent = (self.vehicles.get(str(fields_.get("vehicle_id") or ""))
                   or self.orders.get(str(fields_.get("order_id") or "")))
            if ent is None or not ent.zone:
                raise KeyError(fields_.get("vehicle_id") or fields_.get("order_id"))
            ev = override_event(action, ent.zone, by, self.clamp(t), fields_)
            with open(os.path.join(self.out_dir, "approvals.jsonl"), "ab") as f:
                f.write(override_envelope(ev))
            self.overrides.append(ev)
            self.version += 1
            return {"event": ev}

    def close(self) -> None:
        pass
