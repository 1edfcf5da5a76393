"""The mutations of the input fuzz (benchmarks/fuzz.py): seeded mutants of real messages.

This module holds the hostile values (``NASTY_STR``, ``NASTY_NUM``,
``NASTY_OTHER``), the event-time shifts (``TS_SHIFTS``), the id fields a mutant
may corrupt (``IDS``) and :class:`Mutator`, which turns one real message into a
mutant of a randomly chosen kind (``KINDS``: bytes, JSON fields, event time,
envelope, resends) with a seeded ``random.Random``, so a fuzz run is repeatable.
The pipeline that consumes the mutants and the accounting stay in fuzz.py, which
re-exports every name of this module.
"""

from __future__ import annotations

import math
import random
import struct
from collections import Counter
from typing import Any

import orjson

from fleetstream.contract.events import INPUT_TOPICS
from fleetstream.contract.message import InMsg
from fleetstream.contract.settings import LimitsSettings

IDS = ("event_id", "vehicle_id", "order_id", "zone", "customer_id", "driver_id",
       "decision_id")
NASTY_STR = ["", " ", "\n", "Z\n1", "Z\r1", "Z\t1", "\x00", "\x1b[31m", "é", "\u200b",
             "\ud7ff", "<script>", "a" * 129, "a" * 5000, "null", "NaN", "1e999", "-1",
             "2026-11-24T08:00:00", "2026-11-24T08:00:00Z", "9999-12-31T23:59:59Z",
             "Z1:orders:pending", "../../etc/passwd"]
NASTY_NUM: list[Any] = [0, -0.0, -1, 1, 0.5, 1e-320, 1e308, -1e308, 2 ** 63, 2 ** 70, -2 ** 70,
                        4_102_444_800, 32_503_680_000, 1e15, 3.0e9, 90.0000001, 360.5]
NASTY_OTHER: list[Any] = [None, True, False, [], {}, [1, 2], {"lat": 1}, {"a": {"b": [None]}},
                          [[[[[]]]]], {"weight_kg": -1, "volume_l": 1e308}]
TS_SHIFTS = [-1e9, -86_400 * 30, -86_400, -3600, -1, 0.0, 1e-3, 1, 60, 3600, 5 * 3600,
             6 * 3600, 6 * 3600 + 1, 86_400, 86_400 * 30, 1e9]


def _flip(x: float, bit: int) -> float:
    (u,) = struct.unpack("<Q", struct.pack("<d", x))
    return struct.unpack("<d", struct.pack("<Q", u ^ (1 << bit)))[0]


class Mutator:
    """Seeded mutants of real messages (``random.Random``: fast enough for 10^6)."""

    def __init__(self, seed: int, limits: LimitsSettings):
        self.rng = random.Random(seed)
        self.limits = limits
        self.n_new_ids = 0
        self.kinds: Counter[str] = Counter()

    def nasty(self) -> Any:
        r = self.rng
        pool = r.choice((NASTY_STR, NASTY_NUM, NASTY_OTHER))
        v = r.choice(pool)
        if r.random() < 0.2:
            v = r.uniform(-1e6, 1e6) if r.random() < 0.5 else "".join(
                chr(r.randrange(0, 0x2FF)) for _ in range(r.randrange(1, 12)))
        return v

    def mutate(self, msg: InMsg, seq: int) -> InMsg:
        r = self.rng
        kind = r.choice(KINDS)
        self.kinds[kind] += 1
        return getattr(self, "_" + kind)(msg, seq)

    # -- helpers
    def _obj(self, msg: InMsg) -> dict | None:
        try:
            o = orjson.loads(msg.value)
        except (orjson.JSONDecodeError, TypeError):
            return None
        return o if isinstance(o, dict) else None

    def _with(self, msg: InMsg, seq: int, obj: Any, new_id: bool = True) -> InMsg:
        if new_id and isinstance(obj, dict) and obj.get("type") not in ("order_created",
                                                                         "shift_start"):
            self.n_new_ids += 1
            obj["event_id"] = f"fz{seq}"
        try:
            raw = orjson.dumps(obj)
        except TypeError:
            raw = repr(obj).encode()
        return msg._replace(seq=seq, value=raw)

    # -- bytes
    def _bitflip(self, msg: InMsg, seq: int) -> InMsg:
        b = bytearray(msg.value)
        for _ in range(self.rng.randrange(1, 4)):
            if b:
                i = self.rng.randrange(len(b))
                b[i] ^= 1 << self.rng.randrange(8)
        return msg._replace(seq=seq, value=bytes(b))

    def _truncate(self, msg: InMsg, seq: int) -> InMsg:
        return msg._replace(seq=seq, value=msg.value[:self.rng.randrange(len(msg.value) + 1)])

    def _insert_bytes(self, msg: InMsg, seq: int) -> InMsg:
        i = self.rng.randrange(len(msg.value) + 1)
        junk = bytes(self.rng.randrange(256) for _ in range(self.rng.randrange(1, 8)))
        return msg._replace(seq=seq, value=msg.value[:i] + junk + msg.value[i:])

    def _random_bytes(self, msg: InMsg, seq: int) -> InMsg:
        n = self.rng.randrange(0, 200)
        return msg._replace(seq=seq, value=bytes(self.rng.randrange(256) for _ in range(n)))

    def _oversize(self, msg: InMsg, seq: int) -> InMsg:
        pad = self.limits.max_message_bytes + self.rng.randrange(1, 64)
        return msg._replace(seq=seq, value=msg.value[:-1] + b',"pad":"' + b"x" * pad + b'"}')

    # -- JSON fields
    def _field_value(self, msg: InMsg, seq: int) -> InMsg:
        o = self._obj(msg)
        if o is None:
            return self._bitflip(msg, seq)
        o[self.rng.choice(sorted(o))] = self.nasty()
        return self._with(msg, seq, o, new_id=self.rng.random() < 0.5)

    def _field_drop(self, msg: InMsg, seq: int) -> InMsg:
        o = self._obj(msg)
        if o is None:
            return self._truncate(msg, seq)
        o.pop(self.rng.choice(sorted(o)), None)
        return self._with(msg, seq, o)

    def _type_confusion(self, msg: InMsg, seq: int) -> InMsg:
        o = self._obj(msg)
        if o is None:
            return self._bitflip(msg, seq)
        k = self.rng.choice(sorted(o))
        v = o[k]
        o[k] = (str(v) if isinstance(v, (int, float)) else [v] if self.rng.random() < 0.5
                else {"v": v})
        return self._with(msg, seq, o)

    def _numeric_extreme(self, msg: InMsg, seq: int) -> InMsg:
        o = self._obj(msg)
        if o is None:
            return self._bitflip(msg, seq)
        nums = [k for k, v in o.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
                and k not in ("ts", "v")]
        if nums:
            o[self.rng.choice(nums)] = self.rng.choice(NASTY_NUM)
        return self._with(msg, seq, o)

    def _bad_id(self, msg: InMsg, seq: int) -> InMsg:
        o = self._obj(msg)
        if o is None:
            return self._bitflip(msg, seq)
        ids = [k for k in IDS if isinstance(o.get(k), str)] or ["event_id"]
        k = self.rng.choice(ids)
        s = str(o.get(k, "x"))
        i = self.rng.randrange(len(s) + 1)
        o[k] = s[:i] + self.rng.choice(["\n", "\r", "\t", " ", "\x00", "é", "\x85", "\u2028",
                                        "/", ":", "\"", "<"]) + s[i:]
        return self._with(msg, seq, o, new_id=(k != "event_id"))

    def _deep(self, msg: InMsg, seq: int) -> InMsg:
        o = self._obj(msg)
        if o is None:
            return self._bitflip(msg, seq)
        depth = self.rng.choice((10, 200, 2000))
        o[self.rng.choice(("extra", "lat", "capacity", "zone"))] = orjson.loads(
            b"[" * min(depth, 250) + b"]" * min(depth, 250))
        many = {f"k{i}": i for i in range(self.rng.choice((1, 100, 5000)))}
        o["many"] = many
        return self._with(msg, seq, o)

    def _unknown_fields(self, msg: InMsg, seq: int) -> InMsg:
        o = self._obj(msg)
        if o is None:
            return self._bitflip(msg, seq)
        o["x_" + str(self.rng.randrange(100))] = self.nasty()
        return self._with(msg, seq, o)

    # -- event time
    def _ts_shift(self, msg: InMsg, seq: int) -> InMsg:
        o = self._obj(msg)
        if o is None or not isinstance(o.get("ts"), (int, float)):
            return self._bitflip(msg, seq)
        o["ts"] = o["ts"] + self.rng.choice(TS_SHIFTS)
        return self._with(msg, seq, o)

    def _ts_bitflip(self, msg: InMsg, seq: int) -> InMsg:
        o = self._obj(msg)
        if o is None or not isinstance(o.get("ts"), (int, float)):
            return self._bitflip(msg, seq)
        o["ts"] = _flip(float(o["ts"]), self.rng.randrange(64))
        if not math.isfinite(o["ts"]):
            o["ts"] = str(o["ts"])
        return self._with(msg, seq, o)

    def _ts_string(self, msg: InMsg, seq: int) -> InMsg:
        o = self._obj(msg)
        if o is None:
            return self._bitflip(msg, seq)
        o["ts"] = self.rng.choice(["2026-11-24T08:00:00Z", "2026-11-24T08:00:00+14:00",
                                   "2026-11-24 08:00:00.123456-05:30", "2026-02-30T00:00:00Z",
                                   "0001-01-01T00:00:00Z", "2099-12-31T23:59:59Z", "now", "",
                                   "1e10", "2026-11-24T08:00:00"])
        return self._with(msg, seq, o)

    # -- envelope
    def _topic(self, msg: InMsg, seq: int) -> InMsg:
        t = self.rng.choice([1, None, True, ["fs.orders"], {"t": 1}, 2.5, "", "fs.nowhere",
                             "?kafka-error:boom", *INPUT_TOPICS])
        return msg._replace(seq=seq, topic=t)

    def _key(self, msg: InMsg, seq: int) -> InMsg:
        return msg._replace(seq=seq, key=self.rng.choice([1, 2.5, True, ["k"], {"k": 1}, "",
                                                          "k\n", "é" * 300]))

    def _value_type(self, msg: InMsg, seq: int) -> InMsg:
        return msg._replace(seq=seq, value=self.rng.choice(
            [None, 0, "text", msg.value.decode("utf-8", "replace"), ["a"], {"a": 1},
             bytearray(msg.value)]))

    # -- resends
    def _resend(self, msg: InMsg, seq: int) -> InMsg:
        return msg._replace(seq=seq)

    def _resend_new_id(self, msg: InMsg, seq: int) -> InMsg:
        o = self._obj(msg)
        if o is None:
            return self._resend(msg, seq)
        return self._with(msg, seq, o)


KINDS = [name[1:] for name in vars(Mutator) if name.startswith("_") and not name.startswith("__")
         and name not in ("_obj", "_with")]
