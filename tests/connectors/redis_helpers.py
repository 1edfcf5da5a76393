"""Shared by the Redis read-model tests (test_redis_store.py, test_redis_outages.py):
engine runs of the ``tiny`` recording and ways to look at what Redis holds.
Not a test module (imported by name: tests/connectors is on sys.path under pytest)."""

from __future__ import annotations

from fleetstream.connectors.files import read_replay
from fleetstream.connectors.redis_store import TOPIC_OUTCOMES, RedisReadModel
from fleetstream.contract.events import ValidationError, decode_event
from fleetstream.contract.outputs import TOPIC_ALERTS, TOPIC_DECISIONS
from fleetstream.contract.settings import EngineSettings
from fleetstream.engine import LocalEngine


class Run:
    def __init__(self, outs: list, positions: list):
        self.outs = outs            # [(topic, record)] in emission order
        self.positions = positions  # [(vehicle_id, lat, lon, ts, zone)]

    def of(self, topic: str) -> list[dict]:
        return [r for t, r in self.outs if t == topic]


def engine_run(path: str, settings: EngineSettings | None = None) -> Run:
    """Replay a recording through the engine; positions are the pings of vehicles
    with a shift (what the live flow hands the read model)."""
    eng = LocalEngine(settings or EngineSettings())
    outs, positions = [], []
    vzone: dict[str, str] = {}
    for msg in read_replay(path):
        res = eng.process(msg)
        outs += [(t, r) for t, _k, r in res]
        try:
            ev = decode_event(msg.value, msg.topic)
        except ValidationError:
            continue
        if ev.TYPE == "shift_start":
            vzone[ev.vehicle_id] = ev.zone
        elif ev.TYPE == "ping" and ev.vehicle_id in vzone:
            positions.append((ev.vehicle_id, ev.lat, ev.lon, ev.ts, vzone[ev.vehicle_id]))
    return Run(outs, positions)


def write_all(model: RedisReadModel, run: Run, batch: int = 200) -> None:
    """Interleave outputs and positions in batches, as the live sink does."""
    outs, pos = run.outs, run.positions
    step_o = max(1, len(outs) // max(1, len(pos) // batch))
    i = j = 0
    while i < len(outs) or j < len(pos):
        model.write(outs[i:i + step_o], pos[j:j + batch])
        i += step_o
        j += batch


def dump(r, prefix: str) -> dict:
    """Everything under a prefix, without the prefix (stream ids are wall-clock: left out)."""
    out = {}
    for k in r.scan_iter(match=prefix + "*", count=1000):
        t = r.type(k)
        if t == b"hash":
            v = r.hgetall(k)
        elif t == b"zset":
            v = r.zrange(k, 0, -1, withscores=True)
        elif t == b"stream":
            v = [f for _id, f in r.xrange(k)]
        else:
            v = r.get(k)
        out[k.decode()[len(prefix):]] = (t, v)
    return out


def h(r, key: str) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in r.hgetall(key).items()}


def last_by_version(records: list[dict], key: str, id_field: str) -> dict[str, dict]:
    best: dict[str, dict] = {}
    for rec in records:
        k = rec[key]
        ver = (rec["ts"], int(rec[id_field].rsplit("-", 1)[1]))
        if k not in best or ver >= (best[k]["ts"], int(best[k][id_field].rsplit("-", 1)[1])):
            best[k] = rec
    return best


def expected_routes(run: Run) -> dict[str, list[dict]]:
    """Per vehicle: the route of its last applied decision, minus the stops that
    later records took off (parcels left at the depot, outcomes)."""
    routes: dict[str, list[dict]] = {}
    for t, rec in run.outs:
        if t == TOPIC_DECISIONS and rec["status"] == "applied":
            routes.update(rec["routes"])
        elif t == TOPIC_ALERTS and rec["kind"] == "unassigned" and rec.get("vehicle_id"):
            vid = rec["vehicle_id"]
            routes[vid] = [s for s in routes.get(vid, []) if s["order_id"] not in rec["order_ids"]]
        elif t == TOPIC_OUTCOMES and rec.get("vehicle_id") in routes:
            routes[rec["vehicle_id"]] = [s for s in routes[rec["vehicle_id"]]
                                         if s["order_id"] != rec["order_id"]]
    return routes
