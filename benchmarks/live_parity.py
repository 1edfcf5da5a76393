"""Live equals replay under faults: N live runs, each compared with the file replay
of the same topics (#11 item 7, target: 20 runs of metro, every one identical).

Each run (tests/integration/live_helpers.py ``parity_run``), on a Kafka broker of
its own (``scripts/services.sh start-extra``: the shared broker is never touched)
and a redis-server of its own:

1. the scenario is published by **kcat** (an independent librdkafka client: one
   ``kcat -P`` per topic, millisecond create-time stamps, many messages per
   millisecond) into fresh ``--partitions``-partition topics; the topics are
   recorded back (``fleetstream record`` order) and replayed from the file: the
   reference;
2. ``fleetstream run --stop-at-end --redis ...`` runs as a subprocess; once it is
   consuming: a **stall** (SIGSTOP for ``--stall`` s, longer than the merge's
   10 s wait), the **broker SIGKILLed** and restarted, **redis-server killed**
   for ``--redis-down`` s and restarted (empty);
3. decisions, alerts and ETAs on the output topics (deduped by id) are compared
   with the replay's.

Prints one verdict line per run and the total; ``--json FILE`` writes them all.

    python benchmarks/live_parity.py [--runs 20] [--scenario metro|small|DIR]
        [--partitions 4] [--stall 11] [--redis-down 5] [--no-broker-restart]

Needs Java (the broker), kcat and redis-server (``scripts/services.sh start``
installs them).  A run of ``small`` takes about 2 minutes on 2 cores, one of
``metro`` about 10.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid

import orjson

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

from live_helpers import ExtraBroker, ThrowawayRedis, parity_run  # noqa: E402

from fleetstream.connectors.files import read_replay  # noqa: E402


def _delete_topics(bootstrap: str, prefix: str) -> None:
    from confluent_kafka.admin import AdminClient
    try:
        admin = AdminClient({"bootstrap.servers": bootstrap})
        mine = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix)]
        for fut in (admin.delete_topics(mine, operation_timeout=30).values() if mine else ()):
            fut.result()
    except Exception as e:  # noqa: BLE001 - cleanup only
        print(f"  (could not delete the topics {prefix}*: {e})", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=20, help="live runs (default 20)")
    ap.add_argument("--scenario", default="metro",
                    help="replay_data/<name> or a replay folder (default metro)")
    ap.add_argument("--partitions", type=int, default=4, help="partitions per topic (default 4)")
    ap.add_argument("--stall", type=float, default=11.0, metavar="S",
                    help="SIGSTOP the engine this long once it consumes (default 11; 0: none)")
    ap.add_argument("--broker-down", type=float, default=2.0, metavar="S",
                    help="seconds between the broker's SIGKILL and its restart (default 2)")
    ap.add_argument("--no-broker-restart", action="store_true", help="no broker kill")
    ap.add_argument("--redis-down", type=float, default=5.0, metavar="S",
                    help="redis-server outage in seconds (default 5; 0: none)")
    ap.add_argument("--workdir", help="keep every run's files here (default: a temp dir, removed)")
    ap.add_argument("--json", metavar="FILE", help="write the per-run results as JSON")
    a = ap.parse_args(argv)
    if a.runs < 1 or a.partitions < 1 or a.stall < 0 or a.redis_down < 0 or a.broker_down < 0:
        print("live_parity: --runs and --partitions must be >= 1, durations >= 0",
              file=sys.stderr)
        return 2
    scen = a.scenario if os.path.isdir(a.scenario) else os.path.join(ROOT, "replay_data",
                                                                     a.scenario)
    if not os.path.isdir(scen):
        print(f"live_parity: no replay folder {a.scenario!r}", file=sys.stderr)
        return 2
    for exe in ("kcat", "redis-server", "java"):
        if not shutil.which(exe):
            print(f"live_parity: {exe} is not installed (scripts/services.sh start installs "
                  "kcat and redis-server; the broker needs Java 17+)", file=sys.stderr)
            return 2
    # SIGTERM cleans up like Ctrl-C: our broker and redis-server are stopped.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    msgs = list(read_replay(scen))
    work = a.workdir or tempfile.mkdtemp(prefix="live_parity.")
    os.makedirs(work, exist_ok=True)
    say = lambda s: print(f"  {s}", file=sys.stderr, flush=True)  # noqa: E731
    print(f"live_parity: {a.runs} runs of {os.path.basename(scen)} ({len(msgs):,} messages), "
          f"{a.partitions} partitions, kcat producer, stall {a.stall:.0f} s, broker restart "
          f"{'off' if a.no_broker_restart else 'on'}, redis outage {a.redis_down:.0f} s",
          flush=True)
    broker = ExtraBroker(os.path.join(work, "broker"))
    os.makedirs(os.path.join(work, "redis"), exist_ok=True)
    redis = ThrowawayRedis(os.path.join(work, "redis"))
    results = []
    t_all = time.monotonic()
    try:
        for i in range(a.runs):
            prefix = f"lp{i}-{uuid.uuid4().hex[:6]}."
            try:
                res = parity_run(broker.bootstrap, prefix, msgs, os.path.join(work, f"run{i}"),
                                 partitions=a.partitions, stall_s=a.stall,
                                 broker=None if a.no_broker_restart else broker,
                                 broker_down_s=a.broker_down, redis=redis,
                                 redis_down_s=a.redis_down, say=say)
            except Exception as e:  # noqa: BLE001 - one broken run is a verdict, not a crash
                res = {"same": False, "error": f"{type(e).__name__}: {e}"[:500]}
            finally:
                _delete_topics(broker.bootstrap, prefix)
            results.append(res)
            h = res.get("happened", {})
            verdict = "IDENTICAL" if res["same"] else "DIFFERENT"
            if h.get("code_changed"):  # not a verdict on live vs replay: rerun it
                verdict += " (INVALID: engine code changed during the run)"
            print(f"run {i + 1:>2}/{a.runs}: {verdict}  "
                  f"decisions {res.get('fs.decisions', '-')}; alerts {res.get('fs.alerts', '-')}; "
                  f"eta {res.get('fs.eta', '-')}; faults at "
                  f"stall {h.get('stall_at', '-')}, broker {h.get('broker_kill_at', '-')}, "
                  f"redis {h.get('redis_kill_at', '-')} (keys after: {res.get('redis_keys', '-')}); {h.get('seconds', '-')} s"
                  + (f"; error {res['error']}" if "error" in res else ""), flush=True)
    finally:
        broker.stop()
        redis.kill()
        if not a.workdir:
            shutil.rmtree(work, ignore_errors=True)
    same = sum(1 for r in results if r["same"])
    invalid = sum(1 for r in results if r.get("happened", {}).get("code_changed"))
    print(f"total: {same}/{len(results)} runs identical to the file replay"
          + (f", {invalid} invalid (code changed mid-run)" if invalid else "") + " "
          f"({time.monotonic() - t_all:.0f} s)", flush=True)
    if a.json:
        with open(a.json, "wb") as f:
            f.write(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    return 0 if same == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
