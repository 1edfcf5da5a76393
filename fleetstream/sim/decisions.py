"""The simulator's side of the engine's outputs: applied decisions become the
vehicles' plans (a vehicle driving to a stop that is no longer next turns round),
proposals are answered by the simulated dispatcher (sim/dispatcher.py), and
failure-risk alerts are acted on by contacting the customer ahead (sim/availability.py
``reply``).

A mixin of :class:`fleetstream.sim.loop.Simulation` (importable from there too).
"""

from __future__ import annotations

from fleetstream.contract.events import TOPIC_APPROVALS, TOPIC_ORDERS
from fleetstream.sim import availability
from fleetstream.sim.world import SimOrder, SimVehicle


class DecisionHandling:
    """Contact ahead, applied decisions and dispatcher answers (Simulation's state)."""

    def _contact_ahead(self, a: dict) -> None:
        """A failure_risk alert: the customer is contacted; with probability
        ``contact_reply`` it replies (a customer_reply event, a few minutes later: what
        it says comes from its own schedule, sim/availability.py ``reply``) and arranges
        for a delivery from the time it names."""
        if a.get("kind") != "failure_risk":
            return
        for oid in a.get("order_ids", ()):
            o = self.orders.get(oid)
            if oid in self.contacted or o is None:
                continue
            self.contacted.add(oid)
            r = self.stream("reply", oid)     # the customer's own luck, whatever the engine did
            if r.random() >= self.sc.contact_reply:
                continue
            at = self.now + r.uniform(120.0, 900.0)
            answer, t_from, t_until = availability.reply(o.customer.avail, at, o.window[1],
                                                         r.random())
            ev = {"type": "customer_reply", "event_id": self._new_id("cr"), "ts": round(at, 3),
                  "order_id": oid, "answer": answer, "channel": "sms"}
            if answer == "confirmed":
                self.arranged[oid] = 0.0
            elif t_from is not None:
                self.arranged[oid] = t_from     # they arrange for it from then on
                ev["available_from"] = round(t_from, 3)
                if t_until is not None:
                    ev["available_until"] = round(t_until, 3)
                self.at(at, self._new_window, o, t_from, t_until)
            self.emit(TOPIC_ORDERS, oid, ev)

    def _new_window(self, o: SimOrder, t_from: float, t_until: float | None) -> None:
        """The customer named their hours: the delivery window becomes them (the
        driver waits for its start, as for any window)."""
        end = o.window[1] if t_until is None else min(o.window[1], t_until)
        o.window = (max(o.window[0], t_from), end)

    def _on_decision(self, d: dict) -> None:
        self.decisions_seen += 1
        if d["status"] == "proposed":
            ans = self.dispatcher.answer(d)
            if ans is not None:
                self.at(self.now + ans.delay_s, self._answer, d, ans.approved, ans.reason)
            return
        if d["status"] != "applied":
            return
        for vid, stops in d["routes"].items():
            v = self.vehicles.get(vid)
            if v is None or v.state in ("off", "broken"):
                continue
            v.plan = [(s["order_id"], s["stop"]) for s in stops]
            if v.state == "idle":
                self._next_stop(v)
            elif v.state == "driving" and v.leg is not None:
                target = v.leg[4]
                if target[0] != "__depot__" and (not v.plan or v.plan[0] != tuple(target)):
                    self._turn_round(v)
                elif target[0] == "__depot__" and v.plan:
                    self._turn_round(v)

    def _turn_round(self, v: SimVehicle) -> None:
        """Stop the current leg where the vehicle is (on a road map: at the next node,
        where it can turn) and go on with the new plan."""
        if self.roads is not None:
            self.roads.stop_leg(v)
        else:
            v.pos = self._pos_at(v, self.now)
        v.state = "idle"
        self._next_stop(v)

    def _answer(self, d: dict, approved: bool, reason: str | None = None) -> None:
        ev = {"type": "approval", "event_id": self._new_id("ap"), "ts": round(self.now, 3),
              "decision_id": d["decision_id"], "zone": d["zone"], "approved": approved,
              "by": "dispatcher-sim"}
        if reason:
            ev["reason"] = reason
        self.emit(TOPIC_APPROVALS, d["decision_id"], ev)
