"""The world's side of a hand-over (docs/routing.md, "Recovery of work").

When the engine sends a vehicle to pick up an order that is physically on another
vehicle that broke down or ended its shift, the driver drives to where that vehicle
really is (the world's position, whatever the engine believes), the parcel changes
hands in a transfer time drawn from the world's own distribution, and the order is on
the rescuing vehicle from then on.  Nothing here reads the engine's state or formulas.
"""

from __future__ import annotations

import random
from typing import Any

OUT_OF_SERVICE = ("broken", "off")
TRANSFER_S = (150.0, 480.0)
"""Range of a hand-over's true duration (uniform): finding the van, unloading, scanning."""


def holder_out_of_service(sim: Any, o: Any, v: Any) -> Any:
    """The vehicle out of service that holds order ``o`` (for ``v`` to collect it), or None."""
    if o.status not in ("loaded", "picked") or o.holder is None or o.holder == v.id:
        return None
    h = sim.vehicles.get(o.holder)
    if h is None or h.state not in OUT_OF_SERVICE or o.id not in h.loaded:
        return None
    return h


def transfer_s(rng: random.Random) -> float:
    """True duration of one hand-over."""
    return rng.uniform(*TRANSFER_S)


def take_over(sim: Any, o: Any, v: Any) -> bool:
    """``v`` (at the holder's position) takes ``o`` from the vehicle out of service."""
    h = holder_out_of_service(sim, o, v)
    if h is None or v.state in OUT_OF_SERVICE:
        return False
    h.loaded.discard(o.id)
    v.loaded.add(o.id)
    o.holder = v.id
    o.handovers += 1
    if o.outcome == "stranded":
        o.outcome, o.outcome_ts = None, None
    return True
