"""Forecasting: arrival times, intervals, late and failure risk of every remaining
stop, ETA publication to customers, and learning from what really happened.

The seats (``operators/estimators.py``, learned ones in ``models/``) answer the
questions; this module asks them along a vehicle's route and learns from
completed legs and stop arrivals (delayed labels, via per-order prediction
snapshots).  The late-risk trigger has hysteresis (``late_risk_on`` /
``late_risk_off``) and a per-vehicle cooldown (``trigger_cooldown_s``); a stop
flagged during the cooldown is queued and responded to at the first refresh after
it, never dropped.  An answered flag is re-armed when its risk falls halfway to
``late_risk_off`` (a later rise is a new flag), and one still at risk (0.5 with the
default thresholds) a cooldown after its answer is alerted as such, once
(:meth:`Forecasting.still_at_risk`).
"""

from __future__ import annotations

from typing import Any, Callable

from fleetstream.contract.settings import EngineSettings
from fleetstream.models.dwell import stop_key
from fleetstream.operators.estimators import ModelSeats
from fleetstream.operators.state import DELIVERY, Order, Vehicle
from fleetstream.operators.zone.records import Emitter, Out
from fleetstream.operators.zone.response_rules import still_at_risk_level
from fleetstream.operators.zone.state import ZoneState
from fleetstream.operators.zone.world import World

HORIZON_BUCKETS = (7200.0, 3600.0, 1800.0, 600.0, 0.0)  # snapshot a prediction once per bucket
RISK_MAX_STOPS = 8
RISK_HORIZON_S = 5400.0
LEG_RATIO_REFRESH_S = 900.0
MIN_LEG_LEARN_S = 30.0      # legs the provider times under this are not learned
PACE_MIN, PACE_MAX = 0.33, 3.0   # one leg's share of a driver's pace is clipped to these
QUEUED = 2
"""``Order.late_flag`` of a stop flagged during its vehicle's trigger cooldown: truthy
(flagged), waiting for the first refresh after the cooldown (:meth:`Forecasting.flag`)."""
ALERTED = 3
"""``Order.late_flag`` of an answered stop still at risk a cooldown later, alerted as
such (:meth:`Forecasting.still_at_risk`): flagged, not alerted again until re-armed."""
Observer = Callable[[str, dict], None]


def thresholds(s: EngineSettings) -> tuple[float, float, float]:
    """The late-risk flag thresholds ``(on, off, rearm)``: the settings
    ``late_risk_on`` and ``late_risk_off``, and ``rearm``, halfway between: an
    *answered* flag whose risk falls under it is cleared, so a later rise is a new
    flag (:meth:`Forecasting.flag`).

    >>> thresholds(EngineSettings(late_risk_on=0.6, late_risk_off=0.3))
    (0.6, 0.3, 0.45)
    """
    on, off = s.late_risk_on, s.late_risk_off
    return on, off, round(0.5 * (on + off), 6)


def horizon_bucket(horizon_s: float) -> int:
    """
    >>> horizon_bucket(9000.0), horizon_bucket(1000.0), horizon_bucket(-5.0)
    (0, 3, 4)
    """
    for i, b in enumerate(HORIZON_BUCKETS):
        if horizon_s >= b:
            return i
    return len(HORIZON_BUCKETS) - 1


class Forecasting:
    """ETAs, intervals and risks along routes; learning from legs and arrivals."""

    def __init__(self, state: ZoneState, settings: EngineSettings, seats: ModelSeats, world: World,
                 emit: Emitter, observer: Observer | None = None):
        self.state = state
        self.settings = settings
        self.seats = seats
        self.world = world
        self.emit = emit
        self.observer = observer
        # The seats' versions for the ETA records of the refresh running now (they
        # change only when a seat learns, never during a refresh).
        self._models: dict | None = None

    # ------------------------------------------------------------------ predictions

    def refresh(self, v: Vehicle, now: float, triggers: list[str], out: list[Out]) -> list[str]:
        """Predict arrival, interval and risk for every remaining stop of ``v``;
        publish ETAs and failure-risk alerts.  Returns the orders that newly crossed
        the late-risk threshold, with those queued during a cooldown and still
        flagged, when the vehicle is out of its trigger cooldown (the caller responds
        to them), else [] (they are queued: :meth:`flag`, :meth:`release`).

        Cheap per stop, same answers as evaluating everything everywhere: leg travel
        times come from the zone's leg cache (``World.legs``), the hourly ratio and
        the seats' versions are looked up once per refresh, and a stop outside the
        risk range (``RISK_MAX_STOPS`` / ``RISK_HORIZON_S``) whose ETA cannot be
        published now (``eta_publish_min_period_s``) gets its arrival only: nothing
        else would read its interval."""
        s, st, seats, world = self.settings, self.state, self.seats, self.world
        orders = st.orders
        v.eta_ts = now
        route = v.route
        if v.route_version != v.leg_ratio_rv or now - v.leg_ratio_ts >= LEG_RATIO_REFRESH_S:
            self.refresh_leg_ratios(v, now)
        travel, leg_s = world.travel, world.legs.leg_s
        ratios = v.leg_ratios
        n_ratios = len(ratios)
        hist = st.hist
        hist_of: dict[int, float] = {}   # hour -> hist_ratio, for this refresh
        min_period = s.eta_publish_min_period_s
        t, prev = now, v.pos
        tp = th = now   # the same route timed by the provider alone / by the hourly mean
        etas = []
        at_risk: list[str] = []
        local = world.clock.local   # the zone's local hours (engine.timezone)
        hour = (local(now) % 86400) / 3600.0
        pace_var = abs(v.pace - 1.0)
        again = now - v.last_trigger_ts >= s.trigger_cooldown_s
        stuck: list[str] = []
        zone = st.zone
        self._models = None   # the seats' versions, looked up once per refresh
        zl = getattr(seats.eta, "zero_leg_s", None)
        zero_s = zl() if zl is not None else 0.0   # a stop-to-stop leg at the same door
        dx = getattr(seats.eta, "dwell_extra_s", None)
        dwell = dx() if dx is not None else 0.0    # true time at a stop beyond its service
        sx = getattr(seats.eta, "stop_extra_s", None)   # the same, per stop
        # new orders per vehicle and hour, and where the frozen head ends: the work that
        # may be inserted before a stop (``xi["inserts"]``, models/intervals.py)
        inflow = st.inflow_per_vehicle_h(now) / 3600.0
        head_s = float(getattr(s, "plan_frozen_s", 0.0))
        for i, (oid, kind) in enumerate(route):
            o = orders[oid]
            if kind == DELIVERY:
                p, w0, svc = o.location, o.window_start, o.service_s
            else:
                p, w0, svc = o.pickup, o.created_ts, o.pickup_service_s
            if i == 0:   # from where the vehicle is now: a leg not worth caching
                prov, f = travel.leg_s(prev, p, t)
                ratio = seats.eta.predict_ratio(world.leg_x(v, prev, p, t, prov, f, 0,
                                                            world.dest_kind(o, kind)))
            else:
                prov = leg_s(prev, p, t)[0]
                ratio = ratios[i - 1] if i - 1 < n_ratios else 1.0
            arrive = t + (prov * ratio if prov > 0.0 or i == 0 else zero_s)
            arrive_p = tp + prov
            hk = int(local(th) // 3600) % 24
            hr = hist_of.get(hk)
            if hr is None:
                h = hist.get(hk)
                hr = hist_of[hk] = h[0] / h[1] if h and h[1] else 1.0
            arrive_h = th + prov * hr
            start = arrive if arrive > w0 else w0
            etas.append(round(arrive, 1))
            extra = dwell if sx is None else sx(self.stop_key(v, o, kind, start))
            t, prev = start + svc + extra, p
            tp = (arrive_p if arrive_p > w0 else w0) + svc
            th = (arrive_h if arrive_h > w0 else w0) + svc
            if kind != DELIVERY:
                continue
            horizon = arrive - now
            risky = i < RISK_MAX_STOPS or horizon < RISK_HORIZON_S
            if not risky and o.pub_eta is not None and now - o.pub_ts < min_period:
                continue  # no risk to assess, no ETA to publish: the arrival is all
            xi = {"horizon_s": horizon, "stops_ahead": i, "zone": zone, "hour": hour,
                  "pace_var": pace_var}
            if inflow and horizon > head_s:
                xi["inserts"] = inflow * (horizon - head_s)
            if not risky:
                self.maybe_publish_eta(v, o, now, arrive, seats.intervals.interval(xi), i,
                                       None, out, triggers)
                continue
            lo80, hi80, lo95, hi95 = seats.intervals.interval(xi)
            xr = world.risk_x(v, o, arrive, hi80 - lo80, horizon, i, hour)
            p_late = seats.late_risk.predict_proba(xr)
            b = horizon_bucket(horizon)
            if not o.snaps or o.snaps[-1]["b"] != b:
                o.snaps.append({"b": b, "ts": now, "eta": arrive, "xi": xi, "xr": xr,
                                "p_late": p_late, "lo80": lo80, "hi80": hi80,
                                "lo95": lo95, "hi95": hi95, "eta_p": arrive_p,
                                "eta_h": arrive_h})
            if self.observer is not None:
                before_end = o.window_end - now
                for mark in (3600.0, 1800.0):
                    if before_end <= mark and mark not in o.wsnaps and before_end > mark - 900:
                        o.wsnaps[mark] = {"ts": now, "eta": arrive, "p_late": p_late,
                                          "p_fail": seats.failure_risk.predict_proba(xr),
                                          "xr": xr}
            self.flag(o, p_late, at_risk, again, stuck)
            if horizon < 3600 and not o.fail_alerted:
                p_fail = seats.failure_risk.predict_proba(xr)
                if p_fail >= s.failure_risk_on:
                    o.fail_alerted = True
                    explain = getattr(seats.failure_risk, "drivers", None)
                    drivers = explain(xr) if explain is not None else []
                    why = f"; mainly {drivers[0]['text']}" if drivers else ""
                    self.emit.alert(out, now, "failure_risk", "warning",
                                    f"Order {oid}: {p_fail:.0%} risk of a failed attempt "
                                    f"(customer {o.customer_id}{why})", v.id, [oid],
                                    {"p_fail": round(p_fail, 3), **world.context_counts(o),
                                     **({"drivers": drivers} if drivers else {})},
                                    triggers)
            self.maybe_publish_eta(v, o, now, arrive, (lo80, hi80, lo95, hi95), i,
                                   p_late, out, triggers)
        v.etas = etas
        if stuck:
            self.still_at_risk(v, stuck, now, triggers, out)
        return self.release(v, now, at_risk)

    def flag(self, o: Order, p_late: float, at_risk: list[str], again: bool = False,
             stuck: list[str] | None = None) -> None:
        """The late-risk flag of ``o`` with hysteresis: set at ``late_risk_on``, cleared
        at ``late_risk_off``.  ``o`` joins ``at_risk`` when it newly crosses, or when it
        was flagged during a trigger cooldown (``QUEUED``) and is still flagged: a flag is
        never dropped by a cooldown, it waits for the first refresh after it.

        Once answered (``late_flag is True``) the flag is cleared at the re-arm level
        (:func:`thresholds`), so a later rise is answered again; and when ``again``
        (its vehicle is a cooldown past its last trigger) and the risk is still at
        the still-at-risk level (0.5 with the default thresholds:
        ``response_rules.still_at_risk_level``), ``o`` joins ``stuck``
        (:meth:`still_at_risk`)."""
        on, off, rearm = thresholds(self.settings)
        still = still_at_risk_level(on, rearm)
        if p_late >= on and not o.late_flag:
            o.late_flag = True
            at_risk.append(o.id)
        elif p_late <= off and o.late_flag:
            if o.late_flag == QUEUED:
                self.state.count("risk_flags_cleared_in_queue")
            o.late_flag = False
        elif o.late_flag == QUEUED:
            at_risk.append(o.id)
        elif o.late_flag is True and again and p_late >= still and stuck is not None:
            # answered a cooldown or more ago and still at risk (even odds or worse:
            # response_rules.still_at_risk_level): the answer did not take (a re-route
            # the plan judged enough, a stop the plan timed on time, a move)
            stuck.append(o.id)
        elif (o.late_flag is True or o.late_flag == ALERTED) and p_late < rearm:
            # answered, and the answer worked by the model's own reckoning: re-armed, so
            # a later rise is a new flag (it used to stay set until late_risk_off and
            # the stop was never answered again, however late it turned)
            self.state.count("risk_flags_rearmed")
            o.late_flag = False

    def still_at_risk(self, v: Vehicle, stuck: list[str], now: float, triggers: list[str],
                      out: list[Out]) -> None:
        """Stops answered a cooldown or more ago whose late risk is still at the
        still-at-risk level (:meth:`flag`; the alert's ``threshold``): the answer did
        not take (a re-route the plan judged enough, a stop the plan timed on time, a
        move to another vehicle, a queue).  An ops alert and a message to each
        customer, once per flag (``late_flag = ALERTED``); no new re-route: the
        vehicle's response already had its chance."""
        on, _off, rearm = thresholds(self.settings)
        orders, ids = self.state.orders, set(stuck)
        etas: dict[str, float | None] = dict.fromkeys(stuck)
        for i, (oid, _kind) in enumerate(v.route):
            if oid in ids and i < len(v.etas):
                etas[oid] = v.etas[i]
        self.state.count("risk_flags_still_at_risk", len(stuck))
        self.emit.alert(out, now, "late_risk", "warning",
                        f"{len(stuck)} stop{'s' if len(stuck) > 1 else ''} of {v.id} still at "
                        f"risk of missing their window after the engine's answer", v.id, stuck,
                        {"threshold": still_at_risk_level(on, rearm), "etas": etas}, triggers)
        for oid in stuck:
            o = orders[oid]
            o.late_flag = ALERTED
            eta = etas.get(oid) or now
            self.emit.notify(out, now, o, "window_at_risk", eta, eta)

    def release(self, v: Vehicle, now: float, at_risk: list[str]) -> list[str]:
        """The orders of ``at_risk`` to respond to now: all of them when ``v`` is out
        of its trigger cooldown (its clock restarts), else none, and they wait
        (``late_flag = QUEUED``) for the first refresh after the cooldown."""
        if not at_risk:
            return []
        st, orders = self.state, self.state.orders
        if now - v.last_trigger_ts >= self.settings.trigger_cooldown_s:
            v.last_trigger_ts = now
            queued = [oid for oid in at_risk if orders[oid].late_flag == QUEUED]
            if queued:
                st.count("risk_flags_released", len(queued))
            for oid in queued:
                orders[oid].late_flag = True
            return at_risk
        new = [oid for oid in at_risk if orders[oid].late_flag is True]
        if new:
            st.count("risk_triggers_in_cooldown")
            st.count("risk_flags_queued", len(new))
        for oid in new:
            orders[oid].late_flag = QUEUED
        return []

    def hist_ratio(self, ts: float) -> float:
        """Mean true / provider travel-time ratio of the local hour of ``ts`` (1 if none)."""
        h = self.state.hist.get(int(self.world.clock.local(ts) // 3600) % 24)
        return h[0] / h[1] if h and h[1] else 1.0

    def refresh_leg_ratios(self, v: Vehicle, now: float) -> None:
        """Cache the ETA seat's ratio for each leg after the first of ``v``'s route."""
        orders, leg_s = self.state.orders, self.world.legs.leg_s
        ratios = []
        t = now
        for i in range(1, len(v.route)):
            a = orders[v.route[i - 1][0]].stop_point(v.route[i - 1][1])
            b = orders[v.route[i][0]].stop_point(v.route[i][1])
            prov, f = leg_s(a, b, t)
            o = orders[v.route[i][0]]
            ratios.append(self.seats.eta.predict_ratio(self.world.leg_x(
                v, a, b, t, prov, f, i, self.world.dest_kind(o, v.route[i][1]))))
            t += prov + 120.0
        v.leg_ratios = ratios
        v.leg_ratio_ts = now
        v.leg_ratio_rv = v.route_version

    def stop_key(self, v: Vehicle, o: Order, kind: str, ts: float) -> tuple:
        """The key of the time at stop (``o``, ``kind``) served by ``v`` at ``ts``
        (``models.dwell.stop_key``): building type and access code from the customer's
        profile, vehicle type, local hour band, customer."""
        c = self.state.customers.get(o.customer_id) if kind == DELIVERY else None
        return stop_key(kind, c.get("building_type") if c else None,
                        bool(c.get("access_codes")) if c else False, v.vehicle_type,
                        self.world.clock.local(ts), o.customer_id)

    def maybe_publish_eta(self, v: Vehicle, o: Order, now: float, eta: float,
                          iv: tuple, ahead: int, p_late: float | None, out: list[Out],
                          triggers: list[str]) -> None:
        """Publish the ETA of ``o`` when it moved enough since the last one (and tell
        the customer when it moved a lot)."""
        s = self.settings
        if o.pub_eta is not None:
            if now - o.pub_ts < s.eta_publish_min_period_s:
                return
            if (abs(eta - o.pub_eta) < s.eta_publish_delta_s
                    and abs(eta + iv[1] - o.pub_hi) < s.eta_publish_delta_s):
                return
        o.pub_ts, o.pub_eta, o.pub_hi = now, eta, eta + iv[1]
        if self._models is None:
            self._models = self.seats.versions()
        self.emit.eta(out, now, v, o, eta, iv, ahead, p_late, triggers, self._models)
        if o.notified_eta is None:
            o.notified_eta = (eta, -1e18)
        elif (abs(eta - o.notified_eta[0]) >= s.notify_eta_shift_s
              and now - o.notified_eta[1] >= s.notify_min_period_s):
            o.notified_eta = (eta, now)
            self.emit.notify(out, now, o, "eta_changed", eta, eta + iv[1])

    # ------------------------------------------------------------------ learning

    def learn_leg(self, v: Vehicle, o: Order, kind: str, now: float) -> None:
        """``v`` reached stop (``o``, ``kind``): learn the true / provider ratio of the
        leg it drove, if that leg was the one predicted."""
        leg = v.leg
        v.leg = None
        obs = getattr(self.seats.eta, "observe_stop", None)
        if obs is not None:   # the service starts at the window start if the stop is early
            start = max(now, o.window_start) if kind == DELIVERY else now
            obs(v.id, start, o.service_s if kind == DELIVERY else o.pickup_service_s,
                None if leg is None else leg["ts"], self.stop_key(v, o, kind, start))
        if leg is None:
            return
        if leg["to"] != [o.id, kind]:
            return  # the driver went elsewhere: the prediction was for another leg
        ratio = leg_ratio(self.seats.eta, leg["provider_s"], now - leg["ts"])
        if ratio is None:
            return
        if self.observer is not None:
            pred = self.seats.eta.predict_ratio(leg["x"])
            self.observer("leg", {"zone": self.state.zone, "x": leg["x"], "ratio": ratio,
                                  "pred": pred, "hist": self.hist_ratio(leg["ts"])})
        self.seats.eta.learn(leg["x"], ratio)
        h = self.state.hist.setdefault(int(self.world.clock.local(leg["ts"]) // 3600) % 24,
                                       [0.0, 0])
        h[0] += ratio
        h[1] += 1
        v.pace = next_pace(v.pace, ratio)

    def learn_arrival(self, o: Order, ts: float, late: bool) -> None:
        """Delayed labels of a delivery arrival: interval residuals and late risk."""
        for snap in o.snaps:
            resid = ts - snap["eta"]
            self.seats.intervals.update(snap["xi"], resid)
            self.seats.late_risk.learn(snap["xr"], late)
            self.score_snapshot(snap, ts, late)

    def learn_outcome(self, o: Order, failed: bool) -> None:
        """Delayed labels of a finished order: failure risk."""
        for snap in o.snaps:
            self.seats.failure_risk.learn(snap["xr"], failed)

    def score_snapshot(self, snap: dict, actual: float, late: bool) -> None:
        st = self.state
        st.count("eta_scored")
        st.count("eta_abs_err_s", abs(actual - snap["eta"]))
        r = actual - snap["eta"]
        st.count("cov80", 1 if snap["lo80"] <= r <= snap["hi80"] else 0)
        st.count("cov95", 1 if snap["lo95"] <= r <= snap["hi95"] else 0)

    def drift_alerts(self, now: float, triggers: list[str], out: list[Out]) -> None:
        """Turn the drift events the learned seats queued (ADWIN on their progressive
        errors, see models/monitor.py) into ops alerts; baseline seats have none."""
        for name in ("eta", "intervals", "late_risk", "failure_risk"):
            seat: Any = getattr(self.seats, name)
            poll = getattr(seat, "drift_events", None)
            if poll is None:
                continue
            for d in poll():
                self.emit.alert(out, now, "drift", "warning",
                                f"Model drift in zone {self.state.zone}: {d['seat']} "
                                f"{d['metric']} {d['before']:.3g} -> {d['after']:.3g} "
                                f"over the last {d['window']} labels",
                                None, [], d, triggers)


def leg_ratio(seat: Any, provider_s: float, actual_s: float) -> float | None:
    """What a driven leg teaches the ETA seat (the engine's rule, shared with
    ``fleetstream models trips``): a zero-length leg (the provider says 0 s) teaches its
    true duration through ``learn_zero_leg`` and gives None; a leg the provider times
    under ``MIN_LEG_LEARN_S``, or of no duration, gives None; any other, the true /
    provider ratio to learn."""
    if provider_s <= 0.0 and actual_s >= 0:
        zl = getattr(seat, "learn_zero_leg", None)
        if zl is not None:
            zl(actual_s)
        return None
    if provider_s < MIN_LEG_LEARN_S or actual_s <= 0:
        return None
    return actual_s / provider_s


def next_pace(pace: float, ratio: float) -> float:
    """A driver's recent true / provider pace after one more leg (EMA, the leg clipped to
    ``PACE_MIN``..``PACE_MAX``)."""
    return 0.9 * pace + 0.1 * min(PACE_MAX, max(PACE_MIN, ratio))
