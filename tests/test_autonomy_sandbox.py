"""The issue-12 governance targets in the sandbox (docs/governance.md, "Measured"):
``small`` in closed loop with every autonomy at ``propose`` and the simulated
dispatcher answering (approving all, or 85 % with rejections), against ``auto`` on the
same seed.

As a test (one seed, CI-sized): no order is left unserved by the approval mechanics
when the dispatcher approves everything, and no rejected order is proposed again
without a material change (a hold released by the rule of docs/governance.md) unless
the decision is taken for other orders newly at risk.

As the measurement (5 seeds; a few minutes)::

    .venv/bin/python tests/test_autonomy_sandbox.py            # seeds 1-5
    .venv/bin/python tests/test_autonomy_sandbox.py 1,2,3      # other seeds

prints per mode the on-time rate (mean, sd, per seed), the points against ``auto``,
orders not served, and re-proposals of rejected orders (released by a material change,
decided with other orders at risk, unaccounted).
"""

from __future__ import annotations

import statistics
import sys
from dataclasses import replace

import pytest

MODES = ("auto", "approve_all", "approve_85")


def run(seed: int, mode: str, scenario: str = "small") -> dict:
    """One closed-loop day; its on-time rate, orders not served and the re-proposals
    of rejected orders, each classified."""
    from fleetstream.contract.settings import EngineSettings
    from fleetstream.engine import LocalEngine
    from fleetstream.operators.zone import governance as G
    from fleetstream.sim.loop import Simulation
    from fleetstream.sim.world import Scenario

    releases: list[tuple[str, float]] = []   # holds released by a material change
    orig = G.Governance.is_held

    def is_held(self, oid: str, now: float) -> bool:
        mem = self.state.proposals.get(G.MEMORY)
        had = bool(mem and oid in mem["held"])
        held = orig(self, oid, now)
        if had and not held:
            releases.append((oid, now))
        return held

    G.Governance.is_held = is_held
    try:
        sc = Scenario.preset(scenario, seed)
        kw: dict = {"solver_workers": 0}   # plans inline: the same decisions, no pool
        if mode != "auto":
            kw.update(autonomy_assign="propose", autonomy_reroute="propose",
                      autonomy_redispatch="propose")
            sc = replace(sc, approve_prob=1.0 if mode == "approve_all" else 0.85)
        sim = Simulation(sc, LocalEngine(EngineSettings(**kw)))
        sim.run()
    finally:
        G.Governance.is_held = orig
    decs = [r for t, _k, r in sim.outputs if t == "fs.decisions"]
    props = {d["decision_id"]: d for d in decs if d["status"] == "proposed"}
    rejected: dict[str, float] = {}   # order -> time of its latest rejection
    out = {"reproposed": 0, "released": 0, "with_others_at_risk": 0, "unaccounted": 0}
    for d in decs:
        if d["status"] == "rejected" and d.get("refers_to") in props:
            for oid in props[d["refers_to"]]["order_ids"]:
                rejected[oid] = d["ts"]
        elif d["status"] == "proposed":
            for oid in d["order_ids"]:
                if oid not in rejected:
                    continue
                t0 = rejected.pop(oid)
                out["reproposed"] += 1
                if any(o == oid and t0 <= ts <= d["ts"] + 0.1 for o, ts in releases):
                    out["released"] += 1
                elif d["kind"] != "assign":   # decided for other orders newly at risk
                    out["with_others_at_risk"] += 1
                else:
                    out["unaccounted"] += 1
    k = sim.kpis()
    return {"on_time": k["on_time_rate"], "not_served": k["not_served"],
            "proposed": len(props), "stranded": stranded_in_proposals(sim.outputs), **out}


def stranded_in_proposals(outputs: list) -> list[str]:
    """Orders that ended not served while a proposal holding them was still open
    (proposed, no approval, rejection or expiry yet): stranded by the approval
    mechanics rather than by a day with no vehicle for them."""
    decs = [r for t, _k, r in outputs if t == "fs.decisions"]
    answered = {d["refers_to"]: d["ts"] for d in decs if d.get("refers_to")}
    out = []
    for t, _k, r in outputs:
        if t != "fs.outcomes" or r.get("outcome") != "not_served":
            continue
        for d in decs:
            if (d["status"] == "proposed" and r["order_id"] in d["order_ids"]
                    and d["ts"] <= r["ts"] and answered.get(d["decision_id"], 1e300) > r["ts"]):
                out.append(r["order_id"])
                break
    return out


@pytest.mark.slow
def test_propose_everywhere_serves_every_order_and_respects_rejections() -> None:
    auto = run(1, "auto")
    every = run(1, "approve_all")
    some = run(1, "approve_85")
    assert every["proposed"] > 50 and some["proposed"] > 50
    # approvals strand nothing: no order ends not served inside an open proposal, and
    # the day leaves about as many unserved as auto (the two days' decisions differ,
    # so an order more or less that no vehicle could reach is the day, not approvals)
    assert every["stranded"] == [] and some["stranded"] == []
    assert every["not_served"] <= auto["not_served"] + 1
    assert every["reproposed"] == 0                        # nothing was rejected
    assert some["reproposed"] > 0                          # rejections happened ...
    assert some["unaccounted"] == 0                        # ... and were respected


def test_an_order_that_ends_inside_an_open_proposal_counts_as_stranded() -> None:
    def dec(did, ts, status, oids, refers_to=None):
        r = {"decision_id": did, "ts": ts, "status": status, "order_ids": oids}
        if refers_to:
            r["refers_to"] = refers_to
        return ("fs.decisions", None, r)

    def nsv(oid, ts):
        return ("fs.outcomes", None, {"order_id": oid, "ts": ts, "outcome": "not_served"})

    outs = [dec("D1", 10, "proposed", ["a", "b"]), dec("D2", 20, "approved", [], "D1"),
            dec("D3", 30, "proposed", ["c"]), nsv("b", 25), nsv("c", 40), nsv("d", 50)]
    assert stranded_in_proposals(outs) == ["c"]


def main(argv: list[str]) -> int:
    seeds = [int(x) for x in argv[0].split(",")] if argv else [1, 2, 3, 4, 5]
    res = {m: {s: run(s, m) for s in seeds} for m in MODES}
    for m, per in res.items():
        ot = [per[s]["on_time"] for s in seeds]
        d = [100 * (per[s]["on_time"] - res["auto"][s]["on_time"]) for s in seeds]
        sd = statistics.stdev(ot) if len(ot) > 1 else 0.0

        def col(key: str) -> str:
            return " ".join(str(per[s][key]) for s in seeds)
        print(f"{m:12s} on-time mean {statistics.mean(ot):.4f} (sd {sd:.4f}), per seed "
              f"{' '.join(f'{x:.4f}' for x in ot)}; points vs auto "
              f"{' '.join(f'{x:+.1f}' for x in d)} (mean {statistics.mean(d):+.2f}); "
              f"not served {col('not_served')}; rejected orders proposed again "
              f"{col('reproposed')} (material change {col('released')}, with other orders "
              f"at risk {col('with_others_at_risk')}, unaccounted {col('unaccounted')})",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

