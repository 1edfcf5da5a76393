"""Why late arrivals got no late-risk alert: the ``--why-missed`` breakdown of
benchmarks/late_risk.py (issue #9).

:class:`Tracer` wraps the forecasting and risk-response methods of the zone engine for
one closed-loop day (class attributes, restored on exit) and records, per order, every
late-risk prediction (event time, probability, ETA, stops ahead, vehicle, flag state
after it), every answer, every stop the response left unalerted and why, and every
alert.  :func:`classify` then puts each late arrival without a ``late_risk`` alert in
exactly one cause, the first that applies in this order:

- ``retry``: the late arrival was a retry after a failed attempt (the order had more
  than one attempt in the simulator's truth; the alert it needed is about the retry);
- ``never_predicted``: no late-risk prediction of the order at all (never in a route's
  risk range while driving, e.g. inserted shortly before its arrival);
- ``never_flagged_jump``: never reached ``late_risk_on``, and its predicted arrival
  jumped later by ``JUMP_S`` or more between two consecutive predictions in the last
  hour before the window end (a stop inserted ahead, a re-sequencing, a slow leg);
- ``never_flagged_close``: never reached ``late_risk_on`` but went above
  ``late_risk_off`` (close to the threshold);
- ``never_flagged``: its risk stayed at or under ``late_risk_off``;
- ``plan_filtered``: flagged and answered, and the response left it unalerted
  because the current plan timed it on time (``Response.late_by_plan``);
- ``reroute_fixed``: flagged and answered by a re-route whose new plan timed it on
  time (``Response.decide_reroute``);
- ``moved``: flagged and moved to another vehicle (redispatch), not alerted there;
- ``queued``: flagged during its vehicle's trigger cooldown and never answered;
- ``answered_other``: flagged and answered, neither alerted nor left out by the
  above (e.g. a solver job that found it resolved);
- ``flagged_unanswered``: flagged, never answered nor queued (should not happen).

The three "left unalerted" causes are each split by what the still-at-risk alert a
cooldown later needed: ``/arrived_first`` (the stop arrived less than
``trigger_cooldown_s`` after the answer: no second look came in time), ``/risk_fell``
(from a cooldown after the answer its risk stayed under the engine's still-at-risk
level, :func:`still_level`), ``/other`` (it was above that level at some refresh but
not alerted: its vehicle's cooldown restarted, or the flag was re-armed).  Each missed arrival
also records the minutes from its first flag to its window end (``flag_lead_min``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from itertools import pairwise
from typing import Any, Self

JUMP_S = 600.0
"""An ETA jump (s) between consecutive predictions that counts as a route change."""

CAUSES = ("retry", "never_predicted", "never_flagged_jump", "never_flagged_close",
          "never_flagged", "plan_filtered", "reroute_fixed", "moved", "queued",
          "answered_other", "flagged_unanswered")


class Tracer:
    """Record the late-risk path of one closed-loop day (a context manager)."""

    def __init__(self) -> None:
        self.preds: dict[str, list[tuple]] = defaultdict(list)  # oid -> (ts, p, eta, i, vid, flag)
        self.answered: dict[str, list[float]] = defaultdict(list)
        self.queued: dict[str, list[float]] = defaultdict(list)
        self.plan_filtered: dict[str, list[float]] = defaultdict(list)
        self.reroute_fixed: dict[str, list[float]] = defaultdict(list)
        self.moved: dict[str, list[float]] = defaultdict(list)
        self.now = 0.0
        self._p: dict[str, float] = {}
        self._saved: list[tuple[Any, str, Any]] = []

    def __enter__(self) -> Self:
        from fleetstream.operators.state import DELIVERY
        from fleetstream.operators.zone.forecasting import QUEUED, Forecasting
        from fleetstream.operators.zone.response import Response
        tr = self

        def wrap(cls: Any, name: str, make: Any) -> None:
            orig = getattr(cls, name)
            self._saved.append((cls, name, orig))
            setattr(cls, name, make(orig))

        def refresh(orig):
            def f(fc, v, now, triggers, out):
                tr.now, tr._p = now, {}
                got = orig(fc, v, now, triggers, out)
                orders = fc.state.orders
                for i, (oid, kind) in enumerate(v.route):
                    if kind == DELIVERY and oid in tr._p and i < len(v.etas):
                        tr.preds[oid].append((now, tr._p[oid], v.etas[i], i, v.id,
                                              orders[oid].late_flag))
                for oid in got:
                    tr.answered[oid].append(now)
                for oid, _kind in v.route:
                    if orders[oid].late_flag == QUEUED:
                        tr.queued[oid].append(now)
                return got
            return f

        def flag(orig):
            def f(fc, o, p_late, *a, **k):
                tr._p[o.id] = p_late
                return orig(fc, o, p_late, *a, **k)
            return f

        def handle_risk(orig):
            def f(r, v, at_risk, now, *a, **k):
                tr.now = now
                return orig(r, v, at_risk, now, *a, **k)
            return f

        def apply_job(orig):
            def f(r, job, res, out):
                tr.now = job.due_ts
                return orig(r, job, res, out)
            return f

        def late_by_plan(orig):
            def f(r, at_risk, cur, before):
                got = orig(r, at_risk, cur, before)
                for oid in at_risk:
                    if oid not in got:
                        tr.plan_filtered[oid].append(tr.now)
                return got
            return f

        def decide_reroute(orig):
            def f(r, v, at_risk, *a, **k):
                got = orig(r, v, at_risk, *a, **k)
                for oid in at_risk:
                    if oid not in got:
                        tr.reroute_fixed[oid].append(tr.now)
                return got
            return f

        def redispatch(orig):
            def f(r, *a, **k):
                moved, note = orig(r, *a, **k)
                for oid in moved:
                    tr.moved[oid].append(tr.now)
                return moved, note
            return f

        wrap(Forecasting, "refresh", refresh)
        wrap(Forecasting, "flag", flag)
        wrap(Response, "handle_risk", handle_risk)
        wrap(Response, "apply_job", apply_job)
        wrap(Response, "late_by_plan", late_by_plan)
        wrap(Response, "decide_reroute", decide_reroute)
        wrap(Response, "redispatch", redispatch)
        return self

    def __exit__(self, *exc: object) -> None:
        for cls, name, orig in reversed(self._saved):
            setattr(cls, name, orig)
        self._saved.clear()


def classify(tr: Tracer, missed: list[dict], on: float, off: float,
             cooldown_s: float, still: float | None = None) -> list[dict]:
    """One row per missed late arrival (``missed``: dicts with ``order_id``,
    ``window_end``, ``arrived`` (true arrival) and ``attempts``), with its ``cause``
    (module docstring) and the figures it was judged on.  ``still``: the risk at which
    the engine alerts an answered stop as still at risk (:func:`still_level`; default
    ``on``), what ``/risk_fell`` is judged against."""
    still = on if still is None else still
    rows = []
    for m in missed:
        oid, wend, arr = m["order_id"], m["window_end"], m["arrived"]
        preds = [p for p in tr.preds.get(oid, ()) if p[0] <= arr]
        row = {"order_id": oid, "window_end": wend, "late_min": round((arr - wend) / 60, 1),
               "n_pred": len(preds), "max_p": round(max((p[1] for p in preds), default=0.0), 3),
               "last_p": round(preds[-1][1], 3) if preds else None,
               "last_pred_before_arrival_min": round((arr - preds[-1][0]) / 60, 1) if preds
               else None}
        flagged = [p for p in preds if p[1] >= on]
        row["flag_lead_min"] = round((wend - flagged[0][0]) / 60, 1) if flagged else None
        if m.get("attempts", 1) > 1:
            cause = "retry"
        elif not preds:
            cause = "never_predicted"
        elif not flagged:
            jump = any(b[2] - a[2] >= JUMP_S and b[0] >= wend - 3600
                       for a, b in pairwise(preds))
            cause = ("never_flagged_jump" if jump else
                     "never_flagged_close" if row["max_p"] > off else "never_flagged")
        else:
            ans = [t for t in tr.answered.get(oid, ()) if t <= arr]
            how = None
            for name, d in (("plan_filtered", tr.plan_filtered), ("reroute_fixed",
                            tr.reroute_fixed), ("moved", tr.moved)):
                ts = [t for t in d.get(oid, ()) if t <= arr]
                if ts and (how is None or ts[-1] > how[1]):
                    how = (name, ts[-1])
            if how is not None:
                t0 = how[1]
                after = [p for p in preds if p[0] >= t0 + cooldown_s]
                sub = ("arrived_first" if arr < t0 + cooldown_s or not after else
                       "risk_fell" if all(p[1] < still for p in after) else "other")
                cause = f"{how[0]}/{sub}"
            elif ans:
                cause = "answered_other"
            elif tr.queued.get(oid):
                cause = "queued"
            else:
                cause = "flagged_unanswered"
        row["cause"] = cause
        rows.append(row)
    return rows


def still_level(settings: Any) -> float:
    """The risk at which the engine under test alerts an answered stop as still at
    risk: ``response_rules.still_at_risk_level`` where the engine has it, else
    ``late_risk_on`` (the rule until 2026-11-30)."""
    try:
        from fleetstream.operators.zone.forecasting import thresholds
        from fleetstream.operators.zone.response_rules import still_at_risk_level
    except ImportError:
        return settings.late_risk_on
    on, _off, rearm = thresholds(settings)
    return still_at_risk_level(on, rearm)


def breakdown(rows: list[dict]) -> dict[str, int]:
    """Missed late arrivals per cause (sorted by count)."""
    c = Counter(r["cause"] for r in rows)
    return dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))
