"""Time at a stop, offline: the per-stop estimate (models/dwell.py) against the zone's one
mean, on the stops of recorded days, progressively (each stop predicted, then learned).

The closed loop is noisy: a different ETA changes late-risk re-routes, so two engines
do not drive the same day, and a replay of one engine's recording through another
diverges from it.  This script compares the two estimators of the time at a stop on
the *same* stops: for each recorded day (a directory of ``benchmarks/intervals.py
--keep`` or ``fleetstream simulate``), it reads the engine's inputs (``order_created``:
service time; ``customer_profile``: building type, access codes) and the world's
truth of each vehicle's legs (arrival and departure of each stop), and walks the stops
in the order the engine learns them (at the vehicle's next arrival).  Printed per day
and as mean (sd) over days: the MAE of the stop's time beyond its nominal service, and
its 2.5 / 97.5 % error quantiles, of the zone mean (``RiverEta.dwell_extra_s``, as the
engine had it) and of the per-stop estimate (``StopTimes.extra_s``).

Usage::

    .venv/bin/python benchmarks/intervals.py --seeds 5,6,7 --frozen-s 1800 --frozen-stops 1 --keep K
    .venv/bin/python benchmarks/dwell_offline.py K/andorra-5-f1800-k1 K/andorra-6-f1800-k1 ...
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import sys

import orjson

from fleetstream.models.dwell import StopTimes, stop_key
from fleetstream.models.eta import DWELL_DECAY, DWELL_MAX_S, DWELL_MIN_S


def _lines(path: str) -> list[dict]:
    with gzip.open(path, "rb") as f:
        return [orjson.loads(x) for x in f if x.strip()]


def stops_of(day: str) -> list[dict]:
    """The stops of a recorded day in the order the engine learns them: each with its
    key (as the engine builds it), its time beyond the nominal service, and the zone."""
    orders: dict[str, dict] = {}
    customers: dict[str, dict] = {}
    for rec in _lines(os.path.join(day, "events.jsonl.gz")):
        try:
            ev = orjson.loads(rec["value"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            continue
        if not isinstance(ev, dict):
            continue
        if ev.get("type") == "order_created":
            orders[ev["order_id"]] = ev
        elif ev.get("type") == "customer_profile":
            customers[ev["customer_id"]] = ev
    byv: dict[str, list[dict]] = {}
    for lg in _lines(os.path.join(day, "truth", "legs.jsonl.gz")):
        byv.setdefault(lg["vehicle_id"], []).append(lg)
    out = []
    for vl in byv.values():
        vl.sort(key=lambda lg: lg["arrive_ts"])
        for a, b in zip(vl, vl[1:]):
            o = orders.get(a["order_id"])
            if o is None:
                continue
            delivery = a["stop"] == "delivery"
            c = customers.get(o["customer_id"], {}) if delivery else {}
            start = max(a["arrive_ts"], o["window_start"]) if delivery else a["arrive_ts"]
            svc = o["service_s"] if delivery else o.get("pickup_service_s") or 0.0
            key = stop_key(a["stop"], c.get("building_type"), bool(c.get("access_codes")),
                           a["vehicle_type"], start, o["customer_id"])
            out.append({"ts": b["arrive_ts"], "zone": a.get("zone") or o.get("zone"),
                        "key": key, "extra": b["depart_ts"] - start - svc})
    out.sort(key=lambda s: s["ts"])
    return out


def _q(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))] if xs else float("nan")


def score(stops: list[dict]) -> dict:
    """Progressive errors (s) of the zone mean and of the per-stop estimate."""
    zone: dict[str, list[float]] = {}
    per: dict[str, StopTimes] = {}
    e_zone, e_stop = [], []
    for s in stops:
        z = zone.setdefault(s["zone"], [0.0, 0.0])
        st = per.setdefault(s["zone"], StopTimes())
        y = s["extra"]
        e_zone.append(y - z[0] / (z[1] + 1.0))
        e_stop.append(y - st.extra_s(s["key"]))
        c = min(max(y, DWELL_MIN_S), DWELL_MAX_S)
        z[0], z[1] = z[0] * DWELL_DECAY + c, z[1] * DWELL_DECAY + 1.0
        st.learn(s["key"], c)
    return {k: {"mae": statistics.fmean(abs(x) for x in e), "q025": _q(e, 0.025),
                "q975": _q(e, 0.975), "bias": statistics.fmean(e), "n": len(e)}
            for k, e in (("zone", e_zone), ("stop", e_stop))}


def _ms(xs: list[float]) -> str:
    sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
    return f"{statistics.fmean(xs):.1f} (sd {sd:.1f}; " + " ".join(f"{x:.1f}" for x in xs) + ")"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Per-stop time at a stop against the zone mean, "
                                 "progressively, on recorded days.")
    ap.add_argument("days", nargs="+", help="recorded day directories (events.jsonl.gz, truth/)")
    args = ap.parse_args(argv)
    res = []
    for d in args.days:
        if not os.path.isfile(os.path.join(d, "truth", "legs.jsonl.gz")):
            print(f"error: {d} is not a recorded day with truth (truth/legs.jsonl.gz)",
                  file=sys.stderr)
            return 2
        r = score(stops_of(d))
        res.append(r)
        print(f"{os.path.basename(d)}: stops {r['zone']['n']}; MAE zone mean "
              f"{r['zone']['mae']:.1f} s, per stop {r['stop']['mae']:.1f} s; errors 2.5-97.5 % "
              f"zone [{r['zone']['q025']:.0f}, {r['zone']['q975']:.0f}], per stop "
              f"[{r['stop']['q025']:.0f}, {r['stop']['q975']:.0f}]; bias "
              f"{r['zone']['bias']:.0f} / {r['stop']['bias']:.0f} s")
    for k, label in (("zone", "zone mean"), ("stop", "per stop")):
        print(f"{label:<10} MAE (s) {_ms([r[k]['mae'] for r in res])}; q2.5 "
              f"{_ms([r[k]['q025'] for r in res])}; q97.5 {_ms([r[k]['q975'] for r in res])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
