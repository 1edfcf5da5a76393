"""fleetstream evaluate: score the engine's models against ground truth, or
compare dispatch policies in closed loop, over one or more seeds; write a
self-contained HTML report (report.html) with a verdict against the targets.

  fleetstream evaluate replay_data/metro                      # one recorded day (truth/ needed)
  fleetstream evaluate day1/ day2/ day3/                      # several recorded days
  fleetstream evaluate tiny --seeds 31,32,33                  # simulate each seed, then score it
  fleetstream evaluate small --seeds 1,2,3 --history-days 3   # score day 3, the engine warm from days 0-2
  fleetstream evaluate --policies static,reactive,predictive --seeds 31,32,33 disrupted

Models: the replay runs through the engine in process with an observer that
captures each prediction when its label arrives (progressive validation), joined
with the simulator's ground truth in truth/.  Policies: each seed's world is
simulated once per policy (same world, only the decisions differ).  A figure from
one seed is labelled as such and never claimed; see docs/evaluate.md for every KPI
and target.  Exit codes: 0 done, 2 bad arguments or input (one line on stderr),
130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from typing import Any

import orjson

from fleetstream.contract.settings import Settings
from fleetstream.report.build import (
    model_report,
    policy_report,
    pooled_deciles_text,
    pooled_text,
    summary_text,
)
from fleetstream.report.meta import manifest, run_meta
from fleetstream.report.metrics import clean
from fleetstream.report.scorecard import scorecard, workload_text
from fleetstream.report.scoring import MissingTruth, check_replay, run_engine

POLICY_NAMES = ("static", "reactive", "predictive")


class UsageError(ValueError):
    """A mistake in the arguments: one line, exit 2."""


def _write_json(path: str, obj: Any) -> None:
    with open(path, "wb") as f:
        f.write(
            orjson.dumps(clean(obj), option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS) + b"\n"
        )


def _write_html(out: str, html: str) -> str:
    path = os.path.join(out, "report.html")
    with open(path, "w", encoding="utf-8") as f:
        f.write(html)
    return path


def score_replay(
    replay: str,
    settings: Settings,
    models_dir: str | None = None,
    progress: bool = True,
    seats: str = "learned",
    warm: dict | None = None,
) -> tuple[dict, dict]:
    """(card, chart data) of one replay folder with ``truth/``; ``warm``: the engine
    starts from the days before (fleetstream/carry.py)."""
    check_replay(replay)
    col, engine, outputs, secs, work, n = run_engine(replay, settings, models_dir, progress,
                                                     seats, warm)
    card, raw = scorecard(
        replay, col, outputs, {z: e.seats for z, e in engine.zones.items()}, work.rows()
    )
    card["seats"] = seats + (f" (warm start {models_dir})" if models_dir else "") + (
        " (warm: the days before carried)" if warm else "")
    card["engine"] = {
        "events_per_s": round(n / secs) if secs > 0 else 0,
        "models": next(iter(engine.zones.values())).seats.versions() if engine.zones else {},
    }
    return card, raw


def _seed_labels(replays: list[str], manifests: list[dict]) -> list[str]:
    seeds = [str(m.get("seed")) if m.get("seed") is not None else "" for m in manifests]
    if all(seeds) and len(set(seeds)) == len(seeds):
        return seeds
    return [os.path.basename(os.path.normpath(r)) or r for r in replays]


def evaluate_models(
    replays: list[str],
    out: str,
    settings: Settings,
    models_dir: str | None = None,
    progress: bool = True,
    seats: str = "learned",
    labels: list[str] | None = None,
    shown: list[str] | None = None,
    warm: dict[str, dict] | None = None,
    warm_note: str | None = None,
) -> dict:
    """Score each replay (one seed each), write report.html, scorecard.json, summary.json.
    ``warm``: replay -> what the engine kept from the days before it (fleetstream/carry.py)."""
    cards, raws, manifests = [], [], []
    for i, r in enumerate(replays):
        if progress:
            print(f"  scoring {r} ({i + 1}/{len(replays)})", file=sys.stderr, flush=True)
        card, raw = score_replay(r, settings, models_dir, progress, seats,
                                 (warm or {}).get(r))
        cards.append(card)
        raws.append(raw)
        manifests.append(manifest(r))
    seeds = labels or _seed_labels(replays, manifests)
    meta = run_meta(
        settings,
        shown if shown is not None else replays,
        manifests,
        seeds,
        f"models ({seats} seats)",
        {"models_warm_start": warm_note or models_dir or "none (cold start)"},
    )
    html, summ = model_report(cards, raws, seeds, meta)
    os.makedirs(out, exist_ok=True)
    _write_html(out, html)
    _write_json(
        os.path.join(out, "scorecard.json"),
        cards[0] if len(cards) == 1 else {"per_seed": dict(zip(seeds, cards))},
    )
    _write_json(os.path.join(out, "summary.json"), {**summ, "run": meta})
    return {"cards": cards, "raws": raws, "seeds": seeds, "meta": meta, "summary": summ}


def evaluate(
    replay: str,
    out: str,
    settings: Settings | None = None,
    models_dir: str | None = None,
    progress: bool = True,
    seats: str = "learned",
) -> dict:
    """Score one replay folder and write the report; returns its scorecard."""
    res = evaluate_models([replay], out, settings or Settings(), models_dir, progress, seats)
    return res["cards"][0]


def evaluate_scenario(
    scenario: str,
    seeds: list[int],
    out: str,
    settings: Settings,
    models_dir: str | None = None,
    progress: bool = True,
    seats: str = "learned",
    history_days: int = 0,
    world_timezone: str | None = None,
    road_map: str | None = None,
) -> dict:
    """Simulate ``scenario`` once per seed (closed loop, in temporary folders this
    function creates and removes), then score every day.

    ``history_days`` N > 0: each seed's world runs N days before the scored one (days
    0..N-1 of the same customers, each with its own fleet and orders), the engine
    keeping its model seats and customer records from one day to the next as an
    engine that runs on would (fleetstream/carry.py); day N is recorded by an engine
    so warmed and scored by one warmed the same way.  ``road_map``: the road graph the
    worlds are placed on (``Scenario.road_map``; None: the scenario's own)."""
    from fleetstream.carry import carry_of
    from fleetstream.sim.record import record

    tmp = tempfile.mkdtemp(prefix="fleetstream-evaluate-")
    try:
        days, warm = [], {}
        for sd in seeds:
            carry = None
            for k in range(history_days + 1):
                d = os.path.join(tmp, f"{scenario}-seed{sd}" + (f"-day{k}" if history_days else ""))
                if progress:
                    print(f"  simulating {scenario} seed {sd}"
                          + (f" day {k}{' (scored)' if k == history_days else ''}"
                             if history_days else ""), file=sys.stderr, flush=True)
                sim, _ = record(scenario, d, sd, settings.engine, progress=False, day=k,
                                warm=carry, timezone=world_timezone, road_map=road_map)
                if k < history_days:
                    carry = carry_of(sim.engine)
                    shutil.rmtree(d, ignore_errors=True)
            days.append(d)
            warm[d] = carry
        return evaluate_models(
            days,
            out,
            settings,
            models_dir,
            progress,
            seats,
            [str(s) for s in seeds],
            [f"{scenario} seed {s} (simulated" + (f", day {history_days} after {history_days} "
             "carried" if history_days else "")
             + (f", world on {world_timezone} time" if world_timezone else "")
             + (f", on the road map {road_map}" if road_map else "") + ")"
             for s in seeds],
            warm if history_days else None,
            f"{history_days} day(s) of the same world carried (seats and customer records)"
            if history_days else None,
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def compare_policies(
    scenario: str,
    policies: list[str],
    seeds: list[int],
    out: str,
    settings: Settings,
    progress: bool = True,
    contact_reply: float = 0.0,
    world_timezone: str | None = None,
    road_map: str | None = None,
) -> dict:
    from fleetstream.policies import compare_seeds

    results = compare_seeds(scenario, policies, seeds, settings, progress, contact_reply,
                            world_timezone, road_map)
    labels = [str(s) for s in seeds]
    meta = run_meta(
        settings,
        [],
        [{"name": scenario}],
        labels,
        "closed-loop policy comparison",
        {"policies": policies, "contact_reply": contact_reply,
         **({"world_timezone": world_timezone} if world_timezone else {}),
         **({"road_map": road_map} if road_map else {})},
    )
    html, summ = policy_report({str(s): results[s] for s in seeds}, policies, labels, meta)
    os.makedirs(out, exist_ok=True)
    _write_html(out, html)
    _write_json(os.path.join(out, "policies.json"), {**summ, "run": meta})
    return summ


def _scenarios() -> set[str]:
    from fleetstream.sim.world import SCENARIOS, Scenario

    known = set()
    for name in SCENARIOS:
        try:
            Scenario.preset(name)
            known.add(name)
        except (KeyError, ValueError):
            pass
    return known


def _seeds(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise UsageError(f"--seeds must be comma-separated integers, got {text!r}") from None
    if not seeds:
        raise UsageError("--seeds is empty")
    if len(set(seeds)) != len(seeds):
        raise UsageError(f"--seeds repeats a seed: {text!r}")
    return seeds


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        self.exit(2, f"fleetstream evaluate: {message} (see --help)\n")


def parser() -> argparse.ArgumentParser:
    ap = _Parser(
        prog="fleetstream evaluate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument(
        "targets",
        nargs="+",
        metavar="REPLAY_OR_SCENARIO",
        help="replay folder(s) with truth/ (one seed each), or one scenario name "
        "(tiny, small, metro, disrupted, zones8, andorra) to simulate per --seeds",
    )
    ap.add_argument(
        "--out",
        default="out/evaluate",
        help="folder for report.html and the JSON files; created if needed, files in it "
        "are overwritten, nothing else is removed (default: %(default)s)",
    )
    ap.add_argument(
        "--seeds",
        metavar="N,N,...",
        help="seeds to simulate for a scenario name (default: the scenario's own seed, "
        "or a replay folder's recorded seed with --policies)",
    )
    ap.add_argument(
        "--policies",
        metavar="P,P,...",
        help="closed-loop comparison of these policies (static, reactive, predictive) "
        "instead of scoring models (default: score models)",
    )
    ap.add_argument(
        "--contact-reply",
        type=float,
        default=0.0,
        metavar="R",
        help="with --policies: the simulated world's share (0-1) of customers contacted "
        "ahead (a failure_risk alert) who reply with a customer_reply event and arrange "
        "for the delivery (docs/simulator.md, 'Contact ahead'; default: %(default)s, "
        "nobody is contacted)",
    )
    ap.add_argument(
        "--world-timezone",
        metavar="ZONE",
        help="with a scenario name: the simulated world's local clock, an IANA zone "
        "(e.g. Europe/Andorra): customers' schedules and stated hours, opening hours and "
        "the road map's rush hours are its local times (docs/simulator.md, 'Local time'); "
        "the engine reads its own engine.timezone (default: the scenario's, customers on "
        "UTC hours)",
    )
    ap.add_argument(
        "--road-map",
        metavar="MAP",
        help="with a scenario name: place the simulated world on this road graph, a "
        "shipped name (andorra) or the path of a .npz written by scripts/osm_to_graph.py "
        "from an OpenStreetMap extract; the scenario's zones, fleet and orders on its "
        "roads (docs/simulator.md, 'Your own map').  The engine reads its own "
        "engine.travel_provider and engine.travel_map (default: the scenario's own world)",
    )
    ap.add_argument(
        "--models",
        metavar="DIR",
        help="warm-start the models from a snapshot folder (default: cold start)",
    )
    ap.add_argument(
        "--history-days",
        type=int,
        default=0,
        metavar="N",
        help="with a scenario name and no --policies: run each seed's world N days before "
        "the scored one, the engine keeping its models and customer records from day to "
        "day as an engine that runs on (default: %(default)s, a cold engine on day 0)",
    )
    ap.add_argument(
        "--seats",
        default="learned",
        choices=["learned", "baseline"],
        help="which model seats to score (default: %(default)s)",
    )
    ap.add_argument(
        "--config",
        metavar="FILE",
        help="settings file (TOML or JSON; default: built-in "
        "settings and FLEETSTREAM_* environment)",
    )
    ap.add_argument(
        "-q", "--quiet", action="store_true", help="no progress on stderr (default: progress)"
    )
    return ap


def _run(a: argparse.Namespace) -> int:
    seeds = _seeds(a.seeds)
    if not 0.0 <= a.contact_reply <= 1.0:
        raise UsageError(f"--contact-reply must be in [0, 1], got {a.contact_reply}")
    if a.contact_reply and not a.policies:
        raise UsageError("--contact-reply needs --policies (it changes the simulated world)")
    if a.out and os.path.exists(a.out) and not os.path.isdir(a.out):
        raise UsageError(f"--out {a.out!r} is a file, not a folder")
    if a.history_days < 0:
        raise UsageError(f"--history-days must be >= 0, got {a.history_days}")
    if a.history_days and (a.policies or a.models):
        raise UsageError("--history-days scores models on a scenario name; it does not "
                         "combine with --policies or --models")
    folders = [t for t in a.targets if os.path.isdir(t)]
    if a.world_timezone is not None:
        from fleetstream.sim.clock import check

        try:
            check(a.world_timezone)
        except ValueError as e:
            raise UsageError(f"--world-timezone: {e}") from None
        if folders:
            raise UsageError("--world-timezone changes a simulated world: it needs a "
                             "scenario name, not replay folders")
    if a.road_map is not None:
        if folders:
            raise UsageError("--road-map changes a simulated world: it needs a scenario "
                             "name, not replay folders")
        if len(a.targets) == 1 and a.targets[0] in _scenarios():
            from fleetstream.sim.roadworld import check_road_map
            from fleetstream.sim.world import Scenario

            try:
                check_road_map(a.road_map, Scenario.preset(a.targets[0]).zones)
            except ValueError as e:
                raise UsageError(f"--road-map: {e}") from None
    if a.models and not os.path.isdir(a.models):
        raise UsageError(f"--models {a.models!r} is not a folder")
    if a.config and not os.path.isfile(a.config):
        raise UsageError(f"--config {a.config!r} is not a file")
    try:
        settings = Settings.load(a.config)
    except (ValueError, TypeError, OSError) as e:
        raise UsageError(
            f"settings: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
        ) from None
    progress = not a.quiet
    if progress:
        from fleetstream.sim.clock import mismatch

        if folders:   # simulated folders: the worlds their manifests recorded
            scs = [manifest(t).get("scenario") for t in folders]
            zones = {sc.get("timezone") if isinstance(sc.get("timezone"), str) else None
                     for sc in scs if isinstance(sc, dict)}
        else:
            zones = {a.world_timezone}
        for z in sorted(zones, key=str):
            note = mismatch(z, settings.engine.timezone)
            if note:
                print(f"  note: {note}", file=sys.stderr, flush=True)
        from fleetstream.sim.roadworld import map_mismatch

        note = map_mismatch(a.road_map, settings.engine.travel_provider,
                            settings.engine.travel_map)
        if note:
            print(f"  note: {note}", file=sys.stderr, flush=True)
    res = None
    if a.policies:
        pols = [p.strip() for p in a.policies.split(",") if p.strip()]
        bad = [p for p in pols if p not in POLICY_NAMES]
        if bad or not pols:
            raise UsageError(
                f"unknown policy {bad[0] if bad else '(none)'!r} (known: {', '.join(POLICY_NAMES)})"
            )
        if len(a.targets) != 1:
            raise UsageError("--policies takes one scenario name or replay folder")
        target = a.targets[0]
        if folders:
            m = manifest(target)
            if not m.get("name"):
                raise UsageError(f"{target!r} has no manifest.json naming its scenario")
            scenario, seeds = m["name"], seeds or [int(m.get("seed", 0))]
            recorded = (m.get("scenario") or {}).get("road_map")
            if isinstance(recorded, str) and a.road_map is None:
                a.road_map = recorded   # the world the folder was recorded on
        else:
            scenario = target
            if scenario not in _scenarios():
                raise UsageError(f"no replay folder or scenario named {scenario!r}")
        if seeds is None:
            from fleetstream.sim.world import Scenario

            seeds = [Scenario.preset(scenario).seed]
        summ = compare_policies(scenario, pols, seeds, a.out, settings, progress,
                                a.contact_reply, a.world_timezone, a.road_map)
    elif folders:
        if a.history_days:
            raise UsageError("--history-days needs a scenario name, not replay folders")
        missing = [t for t in a.targets if t not in folders]
        if missing:
            raise UsageError(f"replay folder {missing[0]!r} does not exist")
        if seeds is not None:
            raise UsageError(
                "--seeds applies to a scenario name; give several replay folders instead"
            )
        for f in folders:
            check_replay(f)  # refuse before any work
        res = evaluate_models(folders, a.out, settings, a.models, progress, a.seats)
        summ = res["summary"]
    else:
        if len(a.targets) != 1 or a.targets[0] not in _scenarios():
            raise UsageError(f"no replay folder or scenario named {a.targets[0]!r}")
        if seeds is None:
            from fleetstream.sim.world import Scenario

            seeds = [Scenario.preset(a.targets[0]).seed]
        res = evaluate_scenario(a.targets[0], seeds, a.out, settings, a.models, progress, a.seats,
                                a.history_days, a.world_timezone, a.road_map)
        summ = res["summary"]
    print(summary_text(summ))
    if summ.get("pooled_coverage"):
        print(pooled_text(summ["pooled_coverage"]))
    if summ.get("pooled_deciles"):
        print(pooled_deciles_text(summ["pooled_deciles"], summ["pooled_deciles"]["seeds"]))
    if res is not None:   # per-driver workload of each seed (scorecard "workload")
        for seed, card in zip(res["seeds"], res["cards"]):
            lines = workload_text(card.get("workload") or {})
            if lines:
                print(f"per-driver workload, seed {seed}:")
                print("\n".join(lines))
    print(f"written: {os.path.join(a.out, 'report.html')}")
    return 0


def main(argv: list[str] | None = None) -> int:
    a = parser().parse_args(argv)
    try:
        return _run(a)
    except (UsageError, MissingTruth, OSError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f"fleetstream evaluate: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fleetstream evaluate: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
