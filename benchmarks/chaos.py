"""Kill -9 chaos: a replay with recovery, killed at K points and resumed each time.

The run under test is the real command, ``fleetstream replay <scenario> --out OUT
--recovery DB``, started in its own process group.  At each kill point it gets
SIGKILL (no chance to flush or snapshot), then ``--resume`` starts it again from
its Bytewax recovery store, until it is killed at the next point; after the last
point it resumes to the end.  Its outputs are then compared with an uninterrupted
replay of the same scenario after dedupe by record id:

- ``lost``: reference records whose id is missing,
- ``changed``: same id, different bytes,
- ``extra``: ids the reference does not have.

The record id of each output file (docs/topics.md, contract/outputs.py):
``decision_id``, ``eta_id``, ``alert_id``, ``notification_id``, ``outcome_id``;
a dead letter (fs.dlq) is identified by ``(source_topic, seq, stage)`` and a drop
(``_drops``) by ``seq``.

Two views are checked.  *final*: the finished ``OUT/<topic>.jsonl`` files (these
should also be byte-identical to the reference: the file sink truncates what was
written after the last snapshot).  *delivered*: every complete line that was ever
in ``OUT/raw/`` at any kill (what a consumer tailing the raw files would have
seen, at least once): its changed and extra records are attributed to the run
segment that first wrote them, and a lost record to the segment whose output
reached its event time first (else the final one).

Kill points are chosen from ``--seed``: one per K-th slice of the run, at a random
position inside the slice (2 %..98 % of the run), measured ``--by output`` (bytes
in ``OUT/raw/``, against the reference run's total; default) or ``--by events``
(events read, from the progress lines, every 2 s).

    python benchmarks/chaos.py [--scenario metro|small|PATH] [-k 20] [--seed 1]
                               [--by output|events] [--work DIR] [--json FILE]

Exit code 0 when nothing was lost, changed or extra in either view.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict

import orjson
from chaos_accounting import (  # noqa: F401 - re-exported (tests use chaos.read_dir...)
    _READ, _TS_CACHE, FILES, ID_FIELDS, ChaosResult, KillPoint, _deliver, _digest, _same_file,
    _ts_of, compare, events_read, raw_bytes, read_dir, read_records, record_id)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def replay_cmd(replay: str, out: str, recovery: str | None, resume: bool,
               quiet: bool = False, extra: list[str] | None = None,
               knobs: dict | None = None) -> list[str]:
    """The ``fleetstream replay`` command line.  ``knobs`` (``epoch_interval_s``,
    ``batch_size``): run the same command through :func:`run_with_knobs`."""
    exe = os.path.join(os.path.dirname(sys.executable), "fleetstream")
    if knobs:
        cmd = [sys.executable, os.path.abspath(__file__), "--run-replay",
               *[f"--{k}={v}" for k, v in sorted(knobs.items())], "--"]
    else:
        cmd = [exe] if os.path.exists(exe) else [sys.executable, "-m", "fleetstream.cli"]
    cmd += ["replay", replay, "--out", out]
    if recovery:
        cmd += ["--recovery", recovery]
    if resume:
        cmd.append("--resume")
    if quiet:
        cmd.append("-q")
    return cmd + (extra or [])


def run_with_knobs(argv: list[str]) -> int:
    """``fleetstream`` (the real CLI: its parsing, checks and recovery) with a finer
    epoch interval and source batch than the command's defaults (5 s, 2000 events),
    so that a short replay snapshots, and can be killed, many times in its run.
    ``argv``: ``--epoch_interval_s=X --batch_size=N -- replay ...``."""
    knobs: dict = {}
    while argv and argv[0] != "--":
        k, _, v = argv.pop(0).lstrip("-").partition("=")
        knobs[k] = int(v) if k == "batch_size" else float(v)
    import functools

    import fleetstream.replay as replay_mod
    from fleetstream import cli
    wrapped = functools.partial(replay_mod.run_replay, **knobs)
    replay_mod.run_replay = wrapped
    if hasattr(cli, "run_replay"):
        cli.run_replay = wrapped
    return int(cli.main(argv[1:]) or 0)


def _kill_group(p: subprocess.Popen) -> None:
    """SIGKILL our child and whatever is left of its process group (its solver pool)."""
    try:
        p.send_signal(signal.SIGKILL)
    except ProcessLookupError:
        pass
    p.wait()
    try:
        os.killpg(p.pid, signal.SIGKILL)  # the group we created for this child
    except (ProcessLookupError, PermissionError):
        pass


WORK_MARKER = ".fleetstream-chaos"


def claim_work(work: str) -> None:
    """Use ``work`` only if it is missing, empty or an earlier chaos run's folder (its
    marker file): the folders this script replaces in it are then its own."""
    if os.path.isdir(work) and os.listdir(work) and not os.path.exists(
            os.path.join(work, WORK_MARKER)):
        raise SystemExit(f"chaos: --work {work} is not empty and not a chaos work folder; "
                         "choose a new or empty folder")
    os.makedirs(work, exist_ok=True)
    with open(os.path.join(work, WORK_MARKER), "w") as f:
        f.write("benchmarks/chaos.py work folder: ref/, out/, db/ and logs are replaced\n")


def resolve_scenario(s: str) -> str:
    p = os.path.join(ROOT, "replay_data", s)
    return p if os.path.isdir(p) else s


def kill_targets(k: int, seed: int, lo: float = 0.02, hi: float = 0.98) -> list[float]:
    """One point per k-th slice of [lo, hi], uniformly inside its slice (ascending)."""
    rng = random.Random(seed)
    return [lo + (hi - lo) * (i + rng.random()) / k for i in range(k)]


def run_reference(replay: str, out: str, log: str, knobs: dict | None = None) -> float:
    t0 = time.perf_counter()
    with open(log, "wb") as lf:
        rc = subprocess.call(replay_cmd(replay, out, None, False, quiet=True, knobs=knobs),
                             stdout=lf,
                             stderr=subprocess.STDOUT)
    if rc != 0:
        raise SystemExit(f"chaos: the reference replay failed (exit {rc}), see {log}")
    return time.perf_counter() - t0


def run_chaos(scenario: str = "metro", k: int = 20, seed: int = 1, by: str = "output",
              work: str | None = None, reference: str | None = None, poll_s: float = 0.02,
              progress: bool = True, extra_args: list[str] | None = None,
              knobs: dict | None = None) -> ChaosResult:
    replay = resolve_scenario(scenario)
    work = work or os.path.join("/tmp", f"fleetstream-chaos-{os.path.basename(replay)}-{seed}")
    claim_work(work)
    say = (lambda m: print(m, file=sys.stderr, flush=True)) if progress else (lambda m: None)
    res = ChaosResult(scenario=scenario, seed=seed, by=by)

    ref = reference or os.path.join(work, "ref")
    if reference is None or not os.path.exists(os.path.join(ref, "fs.decisions.jsonl")):
        say(f"chaos: uninterrupted reference replay of {replay} -> {ref}")
        if os.path.isdir(ref):
            shutil.rmtree(ref)  # our own work folder
        res.reference_seconds = run_reference(replay, ref, os.path.join(work, "ref.log"),
                                              knobs)
    ref_recs, _, _ = read_dir(ref, raw=False)
    total_bytes = raw_bytes(ref)
    total_events = 0
    if by == "events":
        from fleetstream.connectors.files import count_lines
        total_events = count_lines(replay)

    out, db = os.path.join(work, "out"), os.path.join(work, "db")
    for d in (out, db):
        if os.path.isdir(d):
            shutil.rmtree(d)  # our own work folder, from an earlier chaos run
    seen: dict[str, dict[str, bytes]] = {t: {} for t in FILES}
    first_seen_in: dict[tuple[str, str], int] = {}
    t_start = time.perf_counter()
    ended = False
    for i, frac in enumerate(kill_targets(k, seed)):
        kp = KillPoint(index=i + 1, target=frac)
        res.points.append(kp)
        if ended:
            continue
        log = os.path.join(work, f"seg{i + 1:02d}.log")
        cmd = replay_cmd(replay, out, db, resume=i > 0, extra=extra_args, knobs=knobs)
        res.resumes += i > 0
        t0 = time.perf_counter()
        with open(log, "wb") as lf:
            p = subprocess.Popen(cmd, stdout=lf, stderr=subprocess.STDOUT,
                                 start_new_session=True)
        last, grew, low = -1, False, raw_bytes(out)
        while True:
            if p.poll() is not None:
                ended = True
                break
            size = raw_bytes(out)
            if not grew:
                low = min(low, size)  # the resume truncates raw/ to its snapshot first
            if by == "output":
                grew = grew or (last >= 0 and size > last)
                last = size
                if grew and size >= frac * total_bytes:
                    break
            else:
                if events_read(log) >= frac * total_events:
                    break
            time.sleep(poll_s)
        if ended:
            if p.returncode != 0:
                raise SystemExit(f"chaos: segment {i + 1} exited with {p.returncode}, see {log}")
            say(f"  point {i + 1}: the run ended before {frac:.1%}")
            continue
        _kill_group(p)
        kp.killed = True
        kp.seconds_alive = time.perf_counter() - t0
        kp.raw_bytes_at_kill = raw_bytes(out)
        kp.at = kp.raw_bytes_at_kill / total_bytes if total_bytes else 0.0
        kp.resumed_from_bytes = low
        kp.events_read_at_kill = events_read(log)
        _deliver(out, ref_recs, seen, first_seen_in, kp)
        say(f"  point {i + 1}/{k}: kill -9 at {frac:.1%} after {kp.seconds_alive:.1f} s "
            f"({kp.raw_bytes_at_kill:,} raw bytes, {kp.events_read_at_kill:,} events read); "
            f"changed {kp.changed}, extra {kp.extra}")
    if not ended:
        say("chaos: resuming to the end")
        log = os.path.join(work, "final.log")
        res.resumes += 1
        with open(log, "wb") as lf:
            rc = subprocess.call(replay_cmd(replay, out, db, resume=True, quiet=True,
                                            extra=extra_args, knobs=knobs), stdout=lf,
                                 stderr=subprocess.STDOUT, start_new_session=True)
        if rc != 0:
            raise SystemExit(f"chaos: the final resume exited with {rc}, see {log}")
    res.chaos_seconds = time.perf_counter() - t_start
    final_kp = KillPoint(index=0, target=1.0)
    _deliver(out, ref_recs, seen, first_seen_in, final_kp)

    got, res.final_duplicate_ids, _ = read_dir(out, raw=False)
    res.final = compare(ref_recs, got)
    res.delivered = compare(ref_recs, seen)
    res.final_byte_identical = all(_same_file(os.path.join(ref, t + ".jsonl"),
                                              os.path.join(out, t + ".jsonl")) for t in FILES)
    # attribute records lost in the delivered view to the segment that should have had them
    killed = [p for p in res.points if p.killed]
    for t in FILES:
        for rid in ref_recs[t]:
            if rid not in seen[t]:
                ts = _ts_of(ref, t, rid)
                seg = next((p for p in killed if p.max_ts >= ts), final_kp)
                seg.lost += 1
    if final_kp.changed or final_kp.extra or final_kp.lost:
        res.points.append(final_kp)
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--scenario", default="metro",
                    help="a folder name under replay_data/ (metro, small) or a replay path "
                    "(default metro)")
    ap.add_argument("-k", "--kills", type=int, default=20, help="kill -9 points (default 20)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the kill points (default 1)")
    ap.add_argument("--by", choices=["output", "events"], default="output",
                    help="place the kill points by output bytes written (polled every "
                    "--poll s) or by events read (progress lines, every 2 s) (default output)")
    ap.add_argument("--poll", type=float, default=0.02, help="poll period, s (default 0.02)")
    ap.add_argument("--work", help="work folder: new, empty or an earlier chaos run's "
                    "(its ref/, out/, db/ are replaced) "
                    "(default /tmp/fleetstream-chaos-<scenario>-<seed>)")
    ap.add_argument("--reference", help="an existing uninterrupted replay output folder of "
                    "the same scenario (default: run one in the work folder)")
    ap.add_argument("--epoch-interval", type=float, metavar="S",
                    help="run the command with this Bytewax epoch (snapshot) interval "
                    "instead of its 5 s (through run_with_knobs; for short replays)")
    ap.add_argument("--batch-size", type=int, metavar="N",
                    help="and this source batch instead of 2000 events")
    ap.add_argument("--json", help="also write the result here")
    ap.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--run-replay"]:
        return run_with_knobs(argv[1:])
    args = ap.parse_args(argv)
    knobs = {k: v for k, v in (("epoch_interval_s", args.epoch_interval),
                               ("batch_size", args.batch_size)) if v is not None}
    if args.kills < 1:
        ap.error("--kills must be >= 1")
    res = run_chaos(args.scenario, args.kills, args.seed, args.by, args.work, args.reference,
                    args.poll, progress=not args.quiet, knobs=knobs or None)
    print(res.render())
    if args.json:
        d = asdict(res)
        d["killed"] = res.killed
        d["ok"] = res.ok
        with open(args.json, "wb") as f:
            f.write(orjson.dumps(d, option=orjson.OPT_INDENT_2))
    return 0 if res.ok else 1


if __name__ == "__main__":
    sys.exit(main())
