"""Closed-loop km of the policies (issue #9): where the predictive policy's km come from.

Runs ``fleetstream.policies.run_policy`` for each policy and seed, optionally with
RoutingConfig fields (``--set field=value``) or engine settings (``--eset``) overridden
for chosen policies (``--on predictive``), and prints per seed: on time, km, km of
predictive vs static and reactive; then mean, sd and per seed of the differences.
``--diag`` adds, per policy and seed, the decisions per kind / rule / status with the
km and lateness their explanations expected (``expected_effect``, the engine's own
planning estimate at the decision) and the turn-rounds (an applied decision changed
the stop a vehicle was driving to: it turns round where it can; the km of the
abandoned part of the legs).  Each policy runs in this process, one after another.

    python benchmarks/km_closed_loop.py andorra --seeds 201,202 --diag
    python benchmarks/km_closed_loop.py andorra --seeds 201-210 --policies predictive \\
        --set km_surcharge=1.0 --json /tmp/out.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import fields, replace

from fleetstream.operators.routing.engine_adapter import RoutingConfig

from fleetstream import policies
from fleetstream.contract.outputs import TOPIC_DECISIONS
from fleetstream.contract.settings import EngineSettings, Settings


def _seeds(s: str) -> list[int]:
    out: list[int] = []
    for part in s.split(","):
        if "-" in part:
            a, b = part.split("-")
            out += list(range(int(a), int(b) + 1))
        else:
            out.append(int(part))
    return out


def _value(name: str, raw: str):
    types = {f.name: f.type for f in fields(RoutingConfig)}
    if name not in types:
        raise SystemExit(f"unknown RoutingConfig field {name!r}")
    t = str(types[name])
    if "bool" in t:
        return raw.lower() in ("1", "true", "yes", "on")
    if "int" in t and "float" not in t:
        return int(raw)
    return float(raw)


def _decision_summary(outputs: list) -> dict:
    """Per (kind, rule, status): count and the sum of the expected km."""
    agg: dict[str, list[float]] = {}
    for topic, _key, rec in outputs:
        if topic != TOPIC_DECISIONS:
            continue
        ex = rec.get("explanation") or {}
        reasons = ex.get("reasons") or [{}]
        rule = reasons[0].get("rule", "-") if isinstance(reasons[0], dict) else "-"
        key = f"{rec['kind']}/{rule}/{rec['status']}"
        eff = ex.get("expected_effect") or {}
        a = agg.setdefault(key, [0, 0.0, 0.0])
        a[0] += 1
        a[1] += float(eff.get("km", 0.0) or 0.0)
        a[2] += float(eff.get("lateness_min", 0.0) or 0.0)
    return {k: {"n": int(v[0]), "km": round(v[1], 1), "late_min": round(v[2], 1)}
            for k, v in sorted(agg.items())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("scenario", help="scenario preset (andorra, metro, disrupted, ...)")
    ap.add_argument("--seeds", default="201-210", help="seeds: 201-210 or 1,2,3")
    ap.add_argument("--policies", default="static,reactive,predictive", help="policies to run")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="RoutingConfig override (repeatable)")
    ap.add_argument("--eset", action="append", default=[], metavar="FIELD=VALUE",
                    help="EngineSettings override for the --on policies (repeatable)")
    ap.add_argument("--on", default="predictive",
                    help="policies the --set overrides apply to (comma separated)")
    ap.add_argument("--contact-reply", type=float, default=0.0,
                    help="share of contacted customers who answer (as fleetstream evaluate "
                         "--contact-reply; 0: the scenario's own)")
    ap.add_argument("--diag", action="store_true", help="decisions per kind/rule with km")
    ap.add_argument("--json", help="write the per-seed KPIs here")
    a = ap.parse_args(argv)
    over = {}
    for s in a.set:
        k, _, v = s.partition("=")
        over[k] = _value(k, v)
    targets = set(a.on.split(","))
    base_routing = policies.policy_routing

    def routing(policy, es=None):
        r = base_routing(policy, es)
        return replace(r, **over) if (over and policy in targets) else r

    policies.policy_routing = routing
    eover = {}
    etypes = {f.name: f.type for f in fields(EngineSettings)}
    for s_ in a.eset:
        k, _, v = s_.partition("=")
        if k not in etypes:
            raise SystemExit(f"unknown EngineSettings field {k!r}")
        t = str(etypes[k])
        eover[k] = (v.lower() in ("1", "true") if "bool" in t else
                    int(v) if t in ("int", "<class 'int'>") else float(v))
    base_settings = policies.policy_settings

    def settings_of(policy, base):
        es = base_settings(policy, base)
        return replace(es, **eover) if (eover and policy in targets) else es

    policies.policy_settings = settings_of
    captured: dict = {}
    if a.diag:
        from fleetstream.sim import loop

        orig_kpis = loop.Simulation.kpis

        def kpis(self):
            k = orig_kpis(self)
            captured["summary"] = _decision_summary(self.outputs)
            return k

        loop.Simulation.kpis = kpis
        orig_turn = loop.Simulation._turn_round

        def turn_round(self, v):
            # a decision changed the target of a leg being driven: the vehicle turns
            # round where it can (count, and the km of the abandoned part of the leg)
            km0 = v.km
            orig_turn(self, v)
            t = captured.setdefault("turns", [0, 0.0])
            t[0] += 1
            t[1] += v.km - km0

        loop.Simulation._turn_round = turn_round
    pols = a.policies.split(",")
    res: dict = {}
    for sd in _seeds(a.seeds):
        res[sd] = {}
        for p in pols:
            k = policies.run_policy(a.scenario, p, Settings(), sd, False, a.contact_reply)
            if a.diag:
                k["summary"] = captured.pop("summary")
                n, km = captured.pop("turns", [0, 0.0])
                k["turn_rounds"], k["turn_round_km"] = n, round(km, 1)
            res[sd][p] = k
        row = res[sd]
        line = f"seed {sd}: " + "  ".join(
            f"{p} {100 * row[p]['on_time_rate']:.1f}% {row[p]['km']:.0f}km" for p in pols)
        if "static" in row and "predictive" in row:
            line += f"  pred/static km {100 * (row['predictive']['km'] / row['static']['km'] - 1):+.1f}%"
        print(line, flush=True)
        if a.diag:
            for p in pols:
                print(f"    {p:<10} turn-rounds {row[p]['turn_rounds']} (abandoned legs "
                      f"{row[p]['turn_round_km']} km)", flush=True)
                for key, v in row[p]["summary"].items():
                    print(f"    {p:<10} {key:<48} n {v['n']:>4}  km {v['km']:>7.1f}  "
                          f"late {v['late_min']:>8.1f} min", flush=True)
    if "static" in pols and "predictive" in pols:
        def stat(name, xs):
            sd_ = statistics.stdev(xs) if len(xs) > 1 else 0.0
            print(f"{name}: mean {statistics.mean(xs):+.2f} sd {sd_:.2f} per seed "
                  + " ".join(f"{x:+.1f}" for x in xs))
        seeds = list(res)
        stat("km pred vs static %", [100 * (res[s]["predictive"]["km"] / res[s]["static"]["km"] - 1)
                                     for s in seeds])
        stat("on time pred - static", [100 * (res[s]["predictive"]["on_time_rate"]
                                              - res[s]["static"]["on_time_rate"]) for s in seeds])
        if "reactive" in pols:
            stat("km pred vs reactive %", [100 * (res[s]["predictive"]["km"]
                                                  / res[s]["reactive"]["km"] - 1) for s in seeds])
            stat("on time pred - reactive", [100 * (res[s]["predictive"]["on_time_rate"]
                                                    - res[s]["reactive"]["on_time_rate"])
                                             for s in seeds])
        for p in pols:
            xs = [100 * res[s][p]["on_time_rate"] for s in seeds]
            ks = [res[s][p]["km"] for s in seeds]
            print(f"{p}: on time {statistics.mean(xs):.1f} % (sd "
                  f"{statistics.stdev(xs) if len(xs) > 1 else 0:.1f}), km {statistics.mean(ks):,.0f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"overrides": {**over, **eover}, "on": sorted(targets), "results": res}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
