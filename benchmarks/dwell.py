"""Time at a stop, per stop (models/dwell.py): ``benchmarks/intervals.py`` with the
held-plan decomposition charging each stop its own planned time.

``benchmarks/intervals.py --decompose`` splits the error of a prediction whose plan held
into first leg, later legs, time at stops and waiting, taking the planned time at a stop
as its nominal service plus the zone's one mean (``dwell_extra_s()``).  With per-stop
times (``stop_extra_s(key)``) the plan gave each stop its own: this script runs the same
benchmark (same arguments, ``--help``) with the decomposition reading, for each planned
stop, the time the forecast really gave it, so the "time at stops" and "later legs"
parts are each what they say.  On an engine without per-stop times it is the same as
``benchmarks/intervals.py``.  After the days it prints what the zones learned: the
mean time beyond the service per group of stops (building type [+code] | vehicle type).

Usage::

    .venv/bin/python benchmarks/dwell.py --seeds 5,6,7 --frozen-s 1800 --frozen-stops 1 --decompose
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import intervals  # noqa: E402  (the sibling benchmark, by path)

_base_capture = intervals._capture_plans


def _capture_per_stop() -> None:
    """``intervals._capture_plans``, then each new snapshot's planned stops carry the
    time the forecast gave each stop (as service + the zone's mean + the difference)."""
    from fleetstream.operators.state import DELIVERY
    from fleetstream.operators.zone import forecasting as F
    _base_capture()
    if getattr(F.Forecasting.refresh, "_per_stop", False):
        return
    inner = F.Forecasting.refresh

    def refresh(self, v, now, triggers, out):   # type: ignore[no-untyped-def]
        res = inner(self, v, now, triggers, out)
        sx = getattr(self.seats.eta, "stop_extra_s", None)
        key = getattr(self, "stop_key", None)
        if sx is None or key is None:
            return res
        orders = self.state.orders
        for oid, kind in v.route:
            o = orders[oid]
            if kind != DELIVERY or not o.snaps or "_plan" not in o.snaps[-1]:
                continue
            an = o.snaps[-1]["_plan"]
            if an.get("per_stop"):
                continue
            plan = []
            for q, kj, eta, w0, svc in an["plan"]:
                extra = sx(key(v, orders[q], kj, max(eta, w0)))
                plan.append((q, kj, eta, w0, svc + extra - an["dwell"]))
            an["plan"], an["per_stop"] = plan, True
        return res

    refresh._per_stop = True  # type: ignore[attr-defined]
    refresh._captures = True  # type: ignore[attr-defined]
    F.Forecasting.refresh = refresh


_day = intervals.day
_learned: list[dict] = []


def _day_and_groups(*a, **kw):   # type: ignore[no-untyped-def]
    out = _day(*a, **kw)
    for z, seats in sorted(out["seats"].items()):
        st = getattr(seats.eta, "stops", None)
        if st is not None:
            groups = {g: s[0] / (s[1] or 1.0) for g, s in sorted(st.groups.items())}
            _learned.append({"zone": z, "zone_s": st.zone_s(), "n": st.n, "groups": groups,
                             "customers": len(st.customers)})
    return out


def main(argv: list[str] | None = None) -> int:
    intervals._capture_plans = _capture_per_stop
    intervals.day = _day_and_groups
    rc = intervals.main(argv)
    if _learned:
        print("\nlearned time beyond the service per group (s; decayed mean), per zone-day:")
        for r in _learned:
            gs = ", ".join(f"{g} {m:.0f}" for g, m in r["groups"].items())
            print(f"  {r['zone']}: stops {r['n']}, zone {r['zone_s']:.0f}, customers "
                  f"{r['customers']}; {gs}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
