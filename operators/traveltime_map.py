"""Travel times on a road map, behind the :class:`TravelTimeProvider` protocol.

:class:`MapProvider` snaps both points to the nearest road node and answers the
fastest path's free-flow time and length on the map (docs/roads.md, "The map
provider").  It knows only the map: posted speeds (or the class default where
none is posted) and an optional junction cost.  It never sees the simulator's
congestion, incidents, weather, drivers or stops; what the engine learns about
those comes from events (condition events multiply via ``factor``, the ETA
model learns the rest).

Points farther than ``max_snap_m`` from any road node (off the map) get the
``fallback`` provider's answer (haversine by default), so the provider works
everywhere.

The road network is injected: anything with the small :class:`RoadNetwork`
interface.  ``fleetstream.roads.network.MapNetwork`` is the shipped one
(operators may not import ``fleetstream.roads``: the engine receives it from
the wiring).  The provider is picklable (solver jobs send it to worker
processes; ``MapNetwork`` pickles as its parameters) and deterministic: its
answers do not depend on what is in its caches.

Plans can fetch a whole matrix at once (:meth:`MapProvider.matrix`): one batched
shortest-path search per distinct target, cached for the next plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

from fleetstream.operators.traveltime import HaversineProvider, Point, fast_distance_m


class RoadNetwork(Protocol):
    """What the provider needs from a road network."""

    name: str

    def snap(self, point: Point) -> tuple[int, float]:
        """(nearest node, distance in metres)."""

    def cost_length(self, a: int, b: int) -> tuple[float, float]:
        """(free-flow seconds, metres) of the fastest path from node ``a`` to ``b``."""

    def matrix(self, sources: Sequence[int], targets: Sequence[int]) -> tuple[Any, Any]:
        """(seconds, metres) matrices, rows = sources, columns = targets."""


@dataclass(frozen=True, eq=False)
class MapProvider:
    """Free-flow shortest-path times on ``network``.

    * ``max_snap_m`` -- a point farther than this from the nearest road node is off
      the map: the leg is answered by ``fallback``;
    * ``access_kmh`` -- speed over the straight stretch between a point and its
      snapped node (driveways, yards, the snapping error);
    * ``min_leg_s`` -- the shortest non-zero leg (as the haversine provider's);
    * ``factor`` of :meth:`travel_s` multiplies the result (live conditions).
    """

    network: RoadNetwork
    max_snap_m: float = 300.0
    access_kmh: float = 12.0
    min_leg_s: float = 30.0
    fallback: Any = field(default_factory=HaversineProvider)
    name: str = "map-1"

    def __post_init__(self) -> None:
        if not self.max_snap_m > 0 or not self.access_kmh > 0 or self.min_leg_s < 0:
            raise ValueError("max_snap_m and access_kmh must be > 0, min_leg_s >= 0")

    # ------------------------------------------------------------------ one leg

    def _snaps(self, a: Point, b: Point) -> tuple[int, float, int, float] | None:
        """(node, metres to it) of ``a`` and of ``b``, or None when either is off the map."""
        na, da = self.network.snap(a)
        if da > self.max_snap_m:
            return None
        nb, db = self.network.snap(b)
        if db > self.max_snap_m:
            return None
        return na, da, nb, db

    def _road(self, a: Point, b: Point) -> tuple[float, float] | None:
        """(seconds, metres) on the map, or None when either point is off it."""
        sn = self._snaps(a, b)
        if sn is None:
            return None
        na, da, nb, db = sn
        v = self.access_kmh / 3.6
        if na == nb:
            d = fast_distance_m(a, b)
            return d / v, d
        s, m = self.network.cost_length(na, nb)
        return s + (da + db) / v, m + da + db

    def on_map(self, p: Point) -> bool:
        return self.network.snap(p)[1] <= self.max_snap_m

    def turns(self, a: Point, b: Point) -> int | None:
        """Turns on the fastest path (junction turns and bends: heading changes the map
        shows), for the ETA seat to learn what they cost; None off the map or from a
        network that does not count them."""
        count = getattr(self.network, "turns", None)
        sn = None if count is None else self._snaps(a, b)
        if sn is None:
            return None
        return 0 if sn[0] == sn[2] else int(count(sn[0], sn[2]))

    def distance_m(self, a: Point, b: Point) -> float:
        """Road distance in metres (the fastest path's length plus the access stretches)."""
        r = self._road(a, b)
        return self.fallback.distance_m(a, b) if r is None else r[1]

    def travel_s(self, a: Point, b: Point, depart_ts: float, factor: float = 1.0) -> float:
        """Free-flow seconds from ``a`` to ``b`` times ``factor``; ``depart_ts`` is
        not used by the map (no time-of-day knowledge) but is passed to the fallback."""
        if fast_distance_m(a, b) <= 1.0:
            return 0.0
        r = self._road(a, b)
        if r is None:
            return self.fallback.travel_s(a, b, depart_ts, factor)
        t = r[0]
        return (t if t > self.min_leg_s else self.min_leg_s) * factor

    # ------------------------------------------------------------------ plans

    def matrix(self, points: Sequence[Point], depart_ts: float, factor: float = 1.0) -> list[list[float]]:
        """``travel_s`` between every pair of ``points`` (rows: from, columns: to),
        the same numbers as one call per pair, with one batched search per distinct
        on-map target."""
        snaps = [self.network.snap(p) for p in points]
        on = [d <= self.max_snap_m for _, d in snaps]
        nodes = sorted({n for (n, _), ok in zip(snaps, on) if ok})
        col = {n: j for j, n in enumerate(nodes)}
        secs = self.network.matrix(nodes, nodes)[0] if nodes else None
        v = self.access_kmh / 3.6
        out = []
        for i, a in enumerate(points):
            row = []
            for j, b in enumerate(points):
                if fast_distance_m(a, b) <= 1.0:
                    row.append(0.0)
                    continue
                if not (on[i] and on[j]):
                    row.append(self.fallback.travel_s(a, b, depart_ts, factor))
                    continue
                (na, da), (nb, db) = snaps[i], snaps[j]
                if na == nb:
                    t = fast_distance_m(a, b) / v
                else:
                    t = float(secs[col[na], col[nb]]) + (da + db) / v
                row.append((t if t > self.min_leg_s else self.min_leg_s) * factor)
            out.append(row)
        return out
