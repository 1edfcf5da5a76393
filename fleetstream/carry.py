"""What an engine that runs on keeps from one day to the next, for multi-day runs in
one process (``fleetstream evaluate SCENARIO --history-days N``): each zone's model
seats and its customer records.  Vehicles, orders and routes are each day's own.

``carry_of(engine)`` takes them from a ``LocalEngine`` after a day;
``warm_factory(base, carry)`` wraps a zone factory so that each zone engine it
builds starts from them.  Copies, never aliases: a carried day can start several
engines (the recording and the scorer) and each learns on its own.
"""

from __future__ import annotations

import pickle
from typing import Any, Callable

from fleetstream.operators.estimators import ModelSeats

Carry = dict[str, tuple[bytes, bytes]]
"""zone -> (pickled seats snapshot, pickled customer records)."""


def carry_of(engine: Any) -> Carry:
    """Each zone's seats and customer records after a day (pickled copies)."""
    return {z: (pickle.dumps(e.seats.snapshot(), protocol=pickle.HIGHEST_PROTOCOL),
                pickle.dumps(e.state.customers, protocol=pickle.HIGHEST_PROTOCOL))
            for z, e in sorted(engine.zones.items())}


def warm_factory(base: Callable[[str], Any], carry: Carry | None) -> Callable[[str], Any]:
    """A zone factory whose engines start from ``carry`` (zones it lacks start cold)."""
    if not carry:
        return base

    def factory(zone: str) -> Any:
        eng = base(zone)
        if zone in carry:
            seats, customers = carry[zone]
            eng.seats = ModelSeats.restore(pickle.loads(seats))
            eng.state.customers.update(pickle.loads(customers))   # a fresh copy each time
        return eng
    return factory
