"""Helpers for the integration tests: read topics back, run the engine as a real
subprocess (so it can be killed), throwaway redis-servers."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from typing import Callable

import orjson
from confluent_kafka import Consumer, KafkaError, TopicPartition

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def consume_all(bootstrap: str, topic: str, timeout_s: float = 10.0) -> list[dict]:
    """Every record of every partition of ``topic``, from the start to its end now
    (partition by partition: order within a partition is kept)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "it-reader",
                  "enable.auto.commit": False, "enable.partition.eof": True})
    parts = sorted(c.list_topics(topic, timeout=10).topics[topic].partitions)
    c.assign([TopicPartition(topic, p, 0) for p in parts])
    got: dict[int, list[dict]] = {p: [] for p in parts}
    done: set[int] = set()
    end = time.monotonic() + timeout_s
    try:
        while len(done) < len(parts) and time.monotonic() < end:
            for m in c.consume(1000, 0.2):
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        done.add(m.partition())
                    continue
                got[m.partition()].append(orjson.loads(m.value()))
    finally:
        c.close()
    assert len(done) == len(parts), f"could not read {topic} to its end in {timeout_s} s"
    return [r for p in parts for r in got[p]]


def read_jsonl(path: str) -> list[dict]:
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        return [orjson.loads(x) for x in f if x.strip()]


def wait_until(cond: Callable[[], bool], timeout_s: float, what: str, every_s: float = 0.2) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Engine:
    """``fleetstream run`` in a subprocess; stderr goes to a file for inspection."""

    def __init__(self, bootstrap: str, prefix: str, log_path: str, *args: str,
                 redis: str = "", env: dict | None = None):
        self.log_path = log_path
        self.log = open(log_path, "ab")
        cmd = [sys.executable, "-m", "fleetstream.live", "--bootstrap", bootstrap,
               "--redis", redis, "--set", f"kafka.topic_prefix={prefix}", *args]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
                                     env={**os.environ, **(env or {})})

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait(self, timeout_s: float) -> int:
        try:
            return self.proc.wait(timeout_s)
        finally:
            self.log.close()

    def pause(self) -> None:
        """SIGSTOP: the process (and its Kafka client threads) stops where it is."""
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL: a crash, no clean shutdown, nothing flushed or snapshotted."""
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self.log.close()

    def output(self) -> str:
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")


class ThrowawayRedis:
    """A redis-server of its own on a free port (persistence off), for tests that
    kill it.  Needs redis-server on PATH (scripts/services.sh installs it)."""

    def __init__(self, workdir: str, password: str | None = None, port: int | None = None):
        exe = shutil.which("redis-server")
        assert exe, "redis-server is not installed: run scripts/services.sh start"
        self.workdir = workdir
        self.port = port or free_port()
        self.password = password
        args = [exe, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                "--appendonly", "no", "--dir", workdir]
        if password:
            args += ["--requirepass", password]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        auth = f":{password}@" if password else ""
        self.url = f"redis://{auth}127.0.0.1:{self.port}/0"
        import redis
        self.client = redis.Redis.from_url(self.url, socket_timeout=2)
        wait_until(self._pings, 15, f"redis-server on port {self.port}")

    def _pings(self) -> bool:
        try:
            return bool(self.client.ping())
        except Exception:  # noqa: BLE001
            return False

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)

    stop = kill

    def restart(self) -> None:
        """A new server on the same port (persistence off: it starts empty)."""
        self.__init__(self.workdir, self.password, self.port)  # type: ignore[misc]


def caused_by(records: list[dict], msgs: list) -> set[str]:
    """Ids of the reference records whose triggering events are all in ``msgs`` (a
    prefix of the input): exactly what an engine that has processed that prefix
    has emitted, since an output is emitted when its trigger is processed."""
    ids = set()
    for m in msgs:
        try:
            ids.add(orjson.loads(m.value)["event_id"])
        except Exception:  # noqa: BLE001 - malformed input has no event id
            pass
    out = set()
    for r in records:
        trig = r.get("trigger_event_ids") or []
        if trig and all(t in ids for t in trig):
            out.add(r.get("decision_id") or r.get("eta_id"))
    return out


def ids_on(bootstrap: str, topic: str, field: str) -> set[str]:
    return {r[field] for r in consume_all(bootstrap, topic)}


# ---------------------------------------------------------------- faults and parity

SERVICES = os.path.join(ROOT, "scripts", "services.sh")


class ExtraBroker:
    """A Kafka broker of our own (``scripts/services.sh start-extra``: same jars and
    config as the shared one, its own state dir and ports), for tests that kill
    and restart a broker without disturbing anyone else's."""

    def __init__(self, workdir: str, start: bool = True):
        self.dir = workdir
        self.port, self.cport = free_port(), free_port()
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("FLEETSTREAM_KAFKA__BOOTSTRAP", "FLEETSTREAM_REDIS__URL",
                                 "FLEETSTREAM_KAFKA_BOOTSTRAP", "FLEETSTREAM_REDIS_URL")}
        self.env.update(FLEETSTREAM_SERVICES_DIR=workdir, FLEETSTREAM_KAFKA_PORT=str(self.port),
                        FLEETSTREAM_KAFKA_CONTROLLER_PORT=str(self.cport))
        self.bootstrap = f"127.0.0.1:{self.port}"
        if start:
            self.start()

    def _run(self, mode: str, timeout_s: float = 240) -> None:
        r = subprocess.run([SERVICES, mode], env=self.env, capture_output=True, text=True,
                           timeout=timeout_s)
        if r.returncode != 0:
            raise RuntimeError(f"services.sh {mode} failed: {r.stderr[-2000:]}")

    def start(self) -> None:
        self._run("start-extra")

    def kill(self) -> None:
        """SIGKILL: a broker crash (its data stays for the restart)."""
        self._run("kill-extra")

    def stop(self) -> None:
        self._run("stop-extra")


def kcat_publish(bootstrap: str, msgs: list, prefix: str, chunk: int = 300,
                 pause_s: float = 0.002) -> int:
    """Publish ``msgs`` with kcat, an independent client (librdkafka's CLI, not our
    code): one ``kcat -P`` per topic, fed the messages in recorded order, chunk by
    chunk, so its millisecond create-time stamps follow the recording roughly and
    many messages share a millisecond.  Returns the number of messages sent."""
    exe = shutil.which("kcat")
    assert exe, "kcat is not installed: run scripts/services.sh start (Debian package kcat)"
    procs: dict[str, subprocess.Popen] = {}
    n = 0
    try:
        for i, m in enumerate(msgs):
            p = procs.get(m.topic)
            if p is None:
                p = procs[m.topic] = subprocess.Popen(
                    [exe, "-P", "-b", bootstrap, "-t", prefix + m.topic, "-K", "\t",
                     "-X", "enable.idempotence=true", "-X", "linger.ms=1"],
                    stdin=subprocess.PIPE, stderr=subprocess.PIPE)
            key = (m.key or "").encode()
            assert b"\t" not in key and b"\n" not in m.value, "kcat lines: key<TAB>value"
            p.stdin.write(key + b"\t" + m.value + b"\n")
            n += 1
            if (i + 1) % chunk == 0:
                for q in procs.values():
                    q.stdin.flush()
                time.sleep(pause_s)
    finally:
        errs = []
        for t, p in procs.items():
            p.stdin.close()
            if p.wait(120) != 0:
                errs.append(f"{t}: {p.stderr.read()[-500:]!r}")
        assert not errs, f"kcat failed: {errs}"
    return n


def canon(rec: dict) -> bytes:
    """A record without transport detail: an engine_error alert names the input
    position ``seq`` of its event; everything else must be byte-identical."""
    if rec.get("kind") == "engine_error" and isinstance(rec.get("details"), dict):
        rec = {**rec, "details": {k: v for k, v in rec["details"].items() if k != "seq"}}
    return orjson.dumps(rec, option=orjson.OPT_SORT_KEYS)


def dedupe(records: list[dict], id_field: str) -> list[dict]:
    """At-least-once output: keep the first copy of each id."""
    seen, out = set(), []
    for r in records:
        if r.get(id_field) not in seen:
            seen.add(r.get(id_field))
            out.append(r)
    return out


def compare(live: list[dict], want: list[dict], id_field: str) -> tuple[bool, str]:
    """Live output (deduped on ``id_field``) against the file replay's: equal as
    multisets of canonical records.  Returns (same, a one-line summary)."""
    a = sorted(canon(r) for r in dedupe(live, id_field))
    b = sorted(canon(r) for r in want)
    if a == b:
        return True, f"{len(b)} identical"
    sa, sb = set(a), set(b)
    return False, (f"live {len(a)} vs replay {len(b)}: {len(sa - sb)} only live, "
                   f"{len(sb - sa)} only in the replay")


_COMMITTED = r"""
import sys, orjson
from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient
bootstrap, group, tps = orjson.loads(sys.argv[1])
admin = AdminClient({"bootstrap.servers": bootstrap})
fut = admin.list_consumer_group_offsets(
    [ConsumerGroupTopicPartitions(group, [TopicPartition(t, p) for t, p in tps])],
    request_timeout=10)[group]
res = fut.result(timeout=15)
print(orjson.dumps([[tp.topic, tp.partition, tp.offset] for tp in res.topic_partitions]).decode())
"""


def committed_offsets(bootstrap: str, group: str, tps: list) -> dict:
    """The consumer group's committed offset per (topic, partition) (-1001: none); {}
    when it cannot be read now (the broker is away).

    Asked in a child process: librdkafka's admin client crashed the asking process when
    the broker was killed with a request outstanding (a segfault at 0x58 in rdk:main,
    then ``rd_kafka_enq_once_del_source_return: Assertion eonce->refcnt > 0`` with one
    long-lived client), which ended benchmarks/live_parity.py runs without a verdict."""
    arg = orjson.dumps([bootstrap, group, [[tp.topic, tp.partition] for tp in tps]]).decode()
    try:
        r = subprocess.run([sys.executable, "-c", _COMMITTED, arg], capture_output=True,
                           text=True, timeout=40)
    except subprocess.TimeoutExpired:
        return {}
    if r.returncode != 0:
        return {}
    return {(t, p): off for t, p, off in orjson.loads(r.stdout)}


def end_offsets(bootstrap: str, tps: list) -> dict:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "it-wm"})
    try:
        return {(tp.topic, tp.partition): c.get_watermark_offsets(tp, timeout=10)[1]
                for tp in tps}
    finally:
        c.close()


CODE_DIRS = ("fleetstream", "operators", "models", "connectors", "flows")


def code_fingerprint() -> str:
    """Path, size and mtime of every Python file of the engine: the reference replay
    and the live engine must run the same code (in a shared working tree another
    edit between the two would make them differ for reasons of its own)."""
    import hashlib
    h = hashlib.sha1()
    for d in CODE_DIRS:
        for root, _dirs, files in sorted(os.walk(os.path.join(ROOT, d))):
            for f in sorted(files):
                if f.endswith(".py"):
                    st = os.stat(os.path.join(root, f))
                    h.update(f"{root}/{f}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()


OUTPUTS = (("fs.decisions", "decision_id"), ("fs.alerts", "alert_id"), ("fs.eta", "eta_id"))


def parity_run(bootstrap: str, prefix: str, msgs: list, workdir: str, partitions: int = 4,
               stall_s: float = 0.0, broker: "ExtraBroker | None" = None,
               broker_down_s: float = 2.0, redis: "ThrowawayRedis | None" = None,
               redis_down_s: float = 0.0, timeout_s: float = 1200.0,
               say: Callable[[str], None] = lambda s: None) -> dict:
    """One live run against the file replay of the same topics:

    1. ``msgs`` published by kcat (independent producer) into ``partitions``-partition
       topics under ``prefix``; the topics recorded back (``fleetstream record``
       order) and replayed from the file: the reference;
    2. ``fleetstream run --stop-at-end`` as a subprocess; once it has committed
       offsets (it is consuming), the faults in turn: SIGSTOP for ``stall_s``
       (longer than the merge's 10 s wait), ``broker`` SIGKILLed and restarted after
       ``broker_down_s``, ``redis`` killed for ``redis_down_s`` and restarted;
    3. decisions, alerts and ETAs on the output topics (deduped by id) compared with
       the replay's.  Returns the verdicts and what happened."""
    from confluent_kafka import TopicPartition

    from fleetstream.connectors.files import write_replay
    from fleetstream.connectors.kafka import ensure_topics, record
    from fleetstream.contract.events import INPUT_TOPICS

    os.makedirs(workdir, exist_ok=True)
    t0 = time.monotonic()
    code0 = code_fingerprint()
    rec: list = []
    base = prefix
    for attempt in range(3):
        # kcat on a freshly started broker has lost a few messages now and then (3-6 of
        # 14,644, not our code): the run is about the engine, so such a publication is
        # redone into fresh topics, and said.
        prefix = base if attempt == 0 else f"{base.rstrip('.')}-r{attempt}."
        ensure_topics(bootstrap, prefix, partitions=partitions)
        kcat_publish(bootstrap, msgs, prefix)
        for idle in (3.0, 10.0):  # a broker just (re)started can be slow to serve a partition
            rec = list(record(bootstrap, prefix, idle_s=idle))
            if len(rec) == len(msgs):
                break
        if len(rec) == len(msgs):
            break
        say(f"kcat: recorded {len(rec)} of {len(msgs)} messages; publishing again into "
            "fresh topics")
    assert len(rec) == len(msgs), f"recorded {len(rec)} of {len(msgs)} messages"
    rec_dir = os.path.join(workdir, "recorded")
    os.makedirs(rec_dir, exist_ok=True)
    write_replay(os.path.join(rec_dir, "events.jsonl.gz"), rec)
    ref = os.path.join(workdir, "replay")
    say(f"published {len(msgs):,} with kcat and recorded them ({time.monotonic() - t0:.0f} s); "
        "file replay ...")
    # A subprocess, like the engine: both import the working tree as it is now (an
    # in-process replay would keep the code imported when this process started).
    r = subprocess.run([sys.executable, "-m", "fleetstream.cli", "replay", rec_dir, "--out", ref,
                        "-q"], cwd=ROOT, capture_output=True, text=True, timeout=timeout_s)
    assert r.returncode == 0, f"file replay failed: {r.stderr[-2000:]}"
    tps = [TopicPartition(prefix + t, p) for t in INPUT_TOPICS for p in range(partitions)]
    ends = end_offsets(bootstrap, tps)
    group = "fs-parity-" + prefix.strip(".")
    args = ["--stop-at-end", "--epoch-interval", "0.5", "-q"]
    eng = Engine(bootstrap, prefix, os.path.join(workdir, "engine.log"), *args,
                 redis=redis.url if redis else "",
                 env={"FLEETSTREAM_KAFKA__CONFIG": orjson.dumps({"group.id": group}).decode()})
    happened: dict = {}

    def progress() -> float:
        got = committed_offsets(bootstrap, group, tps)
        return sum(max(0, got.get(k, 0)) for k in ends) / max(1, sum(ends.values()))

    try:
        wait_until(lambda: progress() > 0 or not eng.alive(), 600, "the engine to commit offsets")
        if stall_s and eng.alive():
            happened["stall_at"] = round(progress(), 3)
            eng.pause()
            time.sleep(stall_s)
            eng.resume()
            say(f"stalled the engine {stall_s:.0f} s at {happened['stall_at']:.0%} of the input")
        if broker is not None and eng.alive():
            happened["broker_kill_at"] = round(progress(), 3)
            broker.kill()
            time.sleep(broker_down_s)
            broker.start()
            say(f"broker killed at {happened['broker_kill_at']:.0%} of the input and restarted")
        if redis is not None and redis_down_s and eng.alive():
            happened["redis_kill_at"] = round(progress(), 3)
            redis.kill()
            time.sleep(redis_down_s)
            redis.restart()
            say(f"redis killed at {happened['redis_kill_at']:.0%} of the input, back after "
                f"{redis_down_s:.0f} s")
        rc = eng.wait(timeout_s)
    finally:
        if eng.alive():
            eng.kill()
    happened["rc"] = rc
    happened["seconds"] = round(time.monotonic() - t0, 1)
    happened["code_changed"] = code_fingerprint() != code0
    result: dict = {"happened": happened, "same": rc == 0}
    for topic, id_field in OUTPUTS:
        want = read_jsonl(os.path.join(ref, topic + ".jsonl"))
        live = consume_all(bootstrap, prefix + topic, timeout_s=30)
        os.makedirs(os.path.join(workdir, "live"), exist_ok=True)
        with open(os.path.join(workdir, "live", topic + ".jsonl"), "wb") as f:
            f.writelines(orjson.dumps(r) + b"\n" for r in live)  # for a post-mortem
        same, summary = compare(live, want, id_field)
        result[topic] = summary
        result["same"] = result["same"] and same
    if redis is not None:
        result["redis_keys"] = redis.client.dbsize()
    if rc != 0:
        result["engine_log"] = eng.output()[-3000:]
    return result
