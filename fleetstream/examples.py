"""docs/examples/<topic>.json: real messages of every topic, taken from a replay.

Inputs come from the replay's ``events.jsonl.gz`` (for each event type, the
valid message with the most fields: the first one on a tie); outputs from the
files a replay of it writes (for each variant, e.g. a decision kind and its
first reason rule or an alert kind, the record with the most keys, then the
shortest).  Approvals, and proposed, approved and rejected decisions, come from
the same replay run with autonomy ``propose`` (:func:`proposal_examples`).
Everything is deterministic: the same replay gives the same bytes.
``fleetstream schemas`` writes them; ``fleetstream schemas --check`` replays and
fails when they are stale.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from typing import Any

import orjson

from fleetstream.contract import events as ev
from fleetstream.contract import outputs as out
from fleetstream.contract.headers import output_headers

DEFAULT_REPLAY = "replay_data/small"
ORJSON_OPTS = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS


def _size(x: Any) -> int:
    return len(orjson.dumps(x))


def _keys(x: Any) -> int:
    """Keys in a record, nested ones included (richer examples first)."""
    if isinstance(x, dict):
        return len(x) + sum(_keys(v) for v in x.values())
    if isinstance(x, list):
        return sum(_keys(v) for v in x[:1])
    return 0


def input_examples(msgs: Iterable[Any]) -> dict[str, list[dict]]:
    """Topic -> one example per event type (valid messages only)."""
    best: dict[str, tuple[int, int, dict]] = {}
    for m in msgs:
        if m.topic not in ev.INPUT_TOPICS:
            continue
        try:
            ev.decode_event(m.value, m.topic)
            obj = orjson.loads(m.value)
        except (ev.ValidationError, orjson.JSONDecodeError):
            continue
        t = obj["type"]
        score = (len(obj), -m.seq)
        if t not in best or score > best[t][:2]:
            best[t] = (score[0], score[1], {"key": m.key, "payload": obj, "topic": m.topic})
    res: dict[str, list[dict]] = {t: [] for t in ev.INPUT_TOPICS}
    for t in ev.EVENT_TYPES:
        if t in best:
            e = best[t][2]
            res[e["topic"]].append({"name": t, "summary": f"A `{t}` event.",
                                    "key": e["key"], "payload": e["payload"]})
    return res


def _variant(topic: str, rec: dict) -> str:
    if topic == out.TOPIC_DECISIONS:
        rules = [r.get("rule") for r in rec["explanation"].get("reasons", [])]
        return f"{rec['kind']}-{rec['status']}" + (f"-{rules[0]}" if rules else "")
    field = {out.TOPIC_ALERTS: "kind", out.TOPIC_NOTIFICATIONS: "kind",
             out.TOPIC_OUTCOMES: "outcome", out.TOPIC_DLQ: "stage"}.get(topic)
    return str(rec[field]) if field else "update"


def output_examples(out_dir: str) -> dict[str, list[dict]]:
    """Topic -> one example per variant of the records in a replay's output folder."""
    res: dict[str, list[dict]] = {}
    for topic in out.OUTPUT_TOPICS:
        best: dict[str, tuple[int, int, dict]] = {}
        path = os.path.join(out_dir, f"{topic}.jsonl")
        with open(path, "rb") as f:
            for line in f:
                if not line.strip():
                    continue
                rec = orjson.loads(line)
                v = _variant(topic, rec)
                score = (_keys(rec), -_size(rec))
                if v not in best or score > best[v][:2]:
                    best[v] = (score[0], score[1], rec)
        res[topic] = [{"name": f"{topic}-{v}", "summary": f"{topic} record ({v}) from a replay.",
                       "key": str(rec.get(out.KEYS[topic], "")),
                       "headers": {k: x.decode() for k, x in output_headers(topic, rec)},
                       "payload": rec} for v, (_a, _b, rec) in sorted(best.items())]
    return res


APPROVER = "dispatcher-1"


def proposal_examples(replay: str) -> tuple[list[dict], list[dict]]:
    """The replay with every autonomy at ``propose`` until two proposals are
    answered (the first approved, the second rejected by ``APPROVER``): examples of
    fs.approvals and of the proposed / approved / rejected decisions.  The replay
    itself holds no approvals (its autonomy is ``auto``)."""
    from fleetstream.connectors.files import read_replay
    from fleetstream.contract.message import InMsg
    from fleetstream.contract.settings import EngineSettings
    from fleetstream.engine import LocalEngine
    eng = LocalEngine(EngineSettings(autonomy_assign="propose", autonomy_reroute="propose",
                                     autonomy_redispatch="propose"))
    approvals: list[dict] = []
    decisions: dict[str, dict] = {}
    answered = 0
    for m in read_replay(replay):
        pending = [m]
        while pending:
            cur = pending.pop(0)
            for topic, _key, rec in eng.process(cur):
                if topic != out.TOPIC_DECISIONS:
                    continue
                v = rec["status"] + ("-approved" if rec.get("refers_to") and
                                     rec["status"] == "applied" else "")
                decisions.setdefault(v, rec)
                if rec["status"] == "proposed" and answered < 2:
                    answered += 1
                    ap = {"type": "approval", "event_id": f"ap-{rec['decision_id']}",
                          "ts": rec["ts"], "v": ev.SCHEMA_VERSION,
                          "decision_id": rec["decision_id"], "zone": rec["zone"],
                          "approved": answered == 1, "by": APPROVER}
                    approvals.append({"name": "approval-" + ("yes" if ap["approved"] else "no"),
                                      "summary": ("Approves" if ap["approved"] else "Rejects")
                                      + " a proposed decision of the replay.",
                                      "key": rec["decision_id"], "payload": ap})
                    pending.append(InMsg(m.seq, ev.TOPIC_APPROVALS, rec["decision_id"],
                                         orjson.dumps(ap), lane=m.lane))
        if {"proposed", "applied-approved", "rejected"} <= set(decisions):
            break
    dec = [{"name": f"{out.TOPIC_DECISIONS}-{k}",
            "summary": f"{out.TOPIC_DECISIONS} record ({k}) from the replay with autonomy "
                       "propose and two answered proposals.",
            "key": str(r.get("zone", "")),
            "headers": {h: x.decode() for h, x in output_headers(out.TOPIC_DECISIONS, r)},
            "payload": r} for k, r in sorted(decisions.items())
           if k in ("proposed", "applied-approved", "rejected")]
    return approvals, dec


def replay_examples(replay: str = DEFAULT_REPLAY) -> dict[str, list[dict]]:
    """Replay ``replay`` (in a temporary folder) and take examples of every topic."""
    from fleetstream.replay import run_replay
    with tempfile.TemporaryDirectory(prefix="fs-examples-") as tmp:
        run_replay(replay, tmp, workers=1)
        return examples_of(replay, tmp)


def examples_of(replay: str, out_dir: str) -> dict[str, list[dict]]:
    """Every topic's examples, from ``replay`` and ``out_dir`` (a replay of it)."""
    from fleetstream.connectors.files import read_replay
    from fleetstream.operators.jobs import shutdown_pool
    res = input_examples(read_replay(replay))
    res.update(output_examples(out_dir))
    try:
        approvals, decisions = proposal_examples(replay)
    finally:
        shutdown_pool()  # the engine's solver pool: no leaked worker processes
    res[ev.TOPIC_APPROVALS] = res[ev.TOPIC_APPROVALS] + approvals
    res[out.TOPIC_DECISIONS] = res[out.TOPIC_DECISIONS] + decisions
    return res


def render_examples(topic: str, messages: list[dict], source: str) -> bytes:
    doc = {"topic": topic, "direction": "output" if topic in out.OUTPUT_TOPICS else "input",
           "source": f"replay of {source} (generated by `fleetstream schemas`)",
           "schema": f"../schemas/{topic}.json", "messages": messages}
    return orjson.dumps(doc, option=ORJSON_OPTS) + b"\n"


def read_examples(examples_dir: str) -> dict[str, list[dict]]:
    """The committed examples (topic -> messages); missing files give no examples."""
    res = {}
    for topic in list(ev.INPUT_TOPICS) + list(out.OUTPUT_TOPICS):
        try:
            with open(os.path.join(examples_dir, f"{topic}.json"), "rb") as f:
                res[topic] = orjson.loads(f.read())["messages"]
        except (FileNotFoundError, orjson.JSONDecodeError, KeyError, TypeError):
            continue
    return res
