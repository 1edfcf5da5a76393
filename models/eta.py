"""Leg travel-time model: learns the log of (true / provider) travel time.

The provider's estimate is right on average over a day but not by hour, zone,
vehicle type or driver; the model learns the multiplicative correction.  The
target is ``log(actual_s / provider_s)`` (clipped to [1/4, 4]): symmetric,
stable, and a linear model on it is a product of factors, which is how the
errors arise (congestion x vehicle x driver x conditions).

Two families, chosen by measurement (``benchmarks/models.py`` prints both):

- ``linear``: ``linear_model.LinearRegression`` with a Huber loss (robust to the
  odd leg where the driver stopped for lunch) and AdaGrad on the sparse
  hour x vehicle-type crosses (see ``models/features.py``);
- ``arf``: ``forest.ARFRegressor`` (seeded) on compact raw features;
- ``hat``: ``tree.HoeffdingAdaptiveTreeRegressor`` (seeded).

Before it has learned anything the model predicts ratio 1: the provider.

Robustness off the simulator (real trips do not follow the engine's formulas):

- the leg length enters as bins and a log slope (``models/features.py``): the
  true / provider ratio falls steeply with the leg length;
- **the length line** (``eta-*-6``): a leg's true time is about a fixed time (pulling
  out, finding a place to stop) plus a share of the provider's time, so the ratio
  falls with the length as ``m + k / provider_s``.  The seat fits ``true_s = m x
  provider_s + k`` by decayed least squares (``LINE_DECAY``) over its driving legs
  (provider above its floor ``LINE_MIN_S`` and at least ``LINE_MIN_KM``; not riders),
  with a stated prior (m = 1, k = 0: the provider) worth ``LINE_PRIOR_N`` legs, and
  the linear model learns its correction on top of that line (an offset): a length
  it has not seen yet takes the line's ratio, not the short legs' ratio the shared
  weights learned;
- **the stop at the end of the leg** (``eta-*-7``): the fixed time differs by where the
  leg ends (a place to stop at a house takes less finding than at an apartment block
  or an office), so the line carries a fixed time per destination kind
  (``x["dest"]``: the delivery customer's building type, ``?`` unknown, or
  ``pickup``), fitted with m and k and shrunk to 0 with ``DEST_PRIOR_N`` pseudo-legs;
  legs without ``dest`` fit the line of ``eta-*-6``;
- a **guard** per leg-length bin (``DIST_EDGES_KM``) keeps the recent absolute
  error in seconds of three answers: the model (line x correction), the line
  alone and the provider alone (exponentially weighted, ``GUARD_DECAY``;
  progressive: each leg is scored before it is learned).  A bin that has seen
  fewer than ``GUARD_MIN_N`` legs answers the line; after that, the answer of
  least recent error (the model on a tie, then the line).  Legs under
  ``SAME_DOOR_KM`` (the next stop in the same building, within GPS noise) also keep a
  bin of their own, which answers them once it has ``GUARD_MIN_N`` legs
  (``eta-*-10``);
- a leg with non-finite inputs is answered by the provider and not learned;
- a zero-length leg (the next stop at the same door: the provider says 0 s)
  takes ``zero_leg_s()``, the recent mean of such legs' true durations
  (``ZERO_LEG_PRIOR_S`` before any), not 0;
- a stop takes longer than its nominal service (parking, the walk to the door):
  ``dwell_extra_s()`` is the zone's recent mean excess (arrival to the next
  departure, minus the nominal service; the planning times add it), and
  ``stop_extra_s(key)`` the excess of one stop (its building, vehicle type, hour
  band and customer: ``models/dwell.py``), added after each stop of an arrival
  forecast;
- **riders' own speed** (``eta-*-5``): a bicycle or cargo bike does not ride at a car's
  free-flow speed, and most providers (the map's posted speeds, the haversine profile)
  time every vehicle as a car.  For the types of ``PROFILE_KMH`` the seat's baseline
  is ``max(provider_s, dist_km x pace)``, where ``pace`` (s per km) is learned per type
  from the zone's legs of at least ``PROFILE_MIN_KM`` (a decayed mean, shrunk to the
  prior speed with ``PROFILE_K`` pseudo-legs); the linear model learns its correction
  on that baseline, and ``predict_ratio`` still answers against the provider's time.
"""

from __future__ import annotations

import math
from bisect import bisect_right

from river import forest, linear_model, metrics, optim, tree

from fleetstream.models.base import LearnedSeat
from fleetstream.models.dwell import StopTimes
from fleetstream.models.features import DIST_EDGES_KM, dist_bin, eta_linear_features, eta_tree_features
from fleetstream.models.monitor import DriftWatch
from fleetstream.operators.traveltime import RIDER_KMH, rider_prior_s_per_km

# the linear model (eta-*-8): AdaGrad's rate, and no intercept of its own: every leg has
# exactly one hour one-hot, so an intercept is a direction the data cannot tell from the
# hours; learned at a constant rate it drifted one way while each new hour's weight
# (AdaGrad's large first steps) went the other, and the first legs of each hour were
# predicted with the drift (docs/models-eta.md, "A busy stream")
LINEAR_LR = 0.02
LINEAR_INTERCEPT_LR = 0.0
# a leg whose true / provider ratio is under this is not learned (eta-*-8): no road or
# hour makes a drive four times faster than the provider's time
LEARN_RATIO_MIN = 0.25
VRES_DECAY = 0.9      # per leg: the vehicle's residual memory is ~10 legs
VRES_PRIOR_N = 3.0    # shrink a vehicle's mean residual towards 0 until it has a few legs
LOG_MIN, LOG_MAX = math.log(0.25), math.log(4.0)
ETA_KINDS = ("linear", "arf", "hat")
GUARD_DECAY = 0.97      # per leg of the bin: the guard's memory is ~30 legs
GUARD_MIN_N = 5.0       # legs of a bin (decayed count) before the model may answer it
GUARD_MARGIN = 1.0      # the model must not be worse than the provider x this
# the same door (eta-*-10): a leg shorter than this (the vehicle's last position, within
# GPS noise of the stop it drives to) is kept by a guard bin of its own as well, which
# answers those legs once it has GUARD_MIN_N of them; until then the first length bin
# answers as before.  In a dense centre the next stop is often in the same building:
# the provider says its 30 s floor, the truth is a walk or a new place to stop, and the
# first bin's choice, made on short drives, was worse than the provider there
# (docs/roads.md, "A second city")
SAME_DOOR_KM = 0.02
DOOR_GUARD = True
ZERO_LEG_PRIOR_S = 30.0
ZERO_LEG_DECAY = 0.95
ZERO_LEG_MAX_S = 900.0
DWELL_DECAY = 0.98            # per stop: the dwell correction's memory is ~50 stops
DWELL_MIN_S, DWELL_MAX_S = -300.0, 900.0
# planning travel times: bins of the provider's leg time (s), their typical provider
# time before any leg, memory per bin (~200 legs) and the prior's weight (pseudo-legs)
PLAN_EDGES_S = (45.0, 90.0, 180.0, 360.0, 720.0, 1440.0)
PLAN_CENTRES_S = (30.0, 65.0, 130.0, 260.0, 520.0, 1040.0, 2400.0)
PLAN_DECAY = 0.995
PLAN_PRIOR_N = 5.0
PLAN_RATIO_MIN, PLAN_RATIO_MAX = 0.25, 4.0
# riders' own speed (eta-*-5): prior speed (km/h) per non-motorised vehicle type (what
# bicycle profiles of route planners assume: ~15 km/h, a loaded cargo bike less), and
# the learning of each type's pace (s per km) from the zone's legs of >= 1 km
PROFILE_KMH = RIDER_KMH
PROFILE_K = 2.0               # pseudo-legs of the prior speed
PROFILE_DECAY = 0.98          # per leg of the type: memory ~50 legs
PROFILE_MIN_KM = 1.0          # shorter legs are mostly parking and pulling out
PROFILE_SPK_MIN, PROFILE_SPK_MAX = 60.0, 720.0   # a leg's pace is clipped to 5-60 km/h
# the length line (eta-*-6): true s = m x provider s + k over the driving legs, decayed
# least squares (memory ~200 legs) with the prior m = 1, k = 0 worth LINE_PRIOR_N legs
# of LINE_PRIOR_S provider seconds; legs at the provider's floor (the next door, the
# same building) or shorter than LINE_MIN_KM are not driving legs and stay off it.
# The prior is worth one leg (eta-*-9; five before): on a small day (a few dozen driving
# legs) five legs of the provider's line held the fixed time down and the short legs
# were under-predicted (docs/models-eta.md, "A small day")
LINE_DECAY = 0.995
LINE_PRIOR_N = 1.0
LINE_PRIOR_S = 300.0
LINE_MIN_S = 31.0
LINE_MIN_KM = 0.1
# the stop at the end of a leg (eta-*-7): each kind of destination (the delivery
# customer's building type, ``?`` unknown, or ``pickup``) adds its own fixed seconds to
# the line (finding a place to stop differs by building), fitted with the line and
# shrunk towards 0 with DEST_PRIOR_N pseudo-legs; legs without a destination (``x``
# without ``dest``) fit the line of eta-*-6
DEST_PRIOR_N = 5.0
ANSWERS = ("model", "line", "provider")   # the guard's candidates, in order of preference


def _finite(*vs) -> bool:
    for v in vs:
        if v is None:
            continue
        if isinstance(v, (int, float)) and (v != v or math.isinf(v)):
            return False
    return True


def make_eta_regressor(kind: str, seed: int = 7):
    if kind == "linear":
        return linear_model.LinearRegression(optimizer=optim.AdaGrad(LINEAR_LR),
                                             loss=optim.losses.Huber(epsilon=0.25),
                                             intercept_lr=LINEAR_INTERCEPT_LR, l2=0.0)
    if kind == "arf":
        return forest.ARFRegressor(n_models=6, seed=seed, grace_period=100,
                                   leaf_prediction="mean", max_depth=12,
                                   nominal_attributes=["vehicle_type", "fleet_type"])
    if kind == "hat":
        return tree.HoeffdingAdaptiveTreeRegressor(grace_period=100, seed=seed,
                                                   leaf_prediction="mean", max_depth=12,
                                                   nominal_attributes=["vehicle_type", "fleet_type"])
    raise ValueError(f"unknown ETA model kind {kind!r} (one of {', '.join(ETA_KINDS)})")


class RiverEta(LearnedSeat):
    """ETA seat: ``predict_ratio(x)`` = exp(predicted log ratio)."""

    def __init__(self, kind: str = "linear", seed: int = 7):
        self.kind = kind
        self.seed = seed
        self.model = make_eta_regressor(kind, seed)
        self.version = f"eta-{kind}-10"
        self.n_learned = 0
        self.mae_log = metrics.MAE()           # model, |log ratio error|, progressive
        self.mae_log_provider = metrics.MAE()  # provider alone (ratio 1)
        self.watch = DriftWatch("eta", "abs_log_ratio_error")
        self.vres: dict[str, list[float]] = {}  # vehicle -> [decayed residual sum, decayed count]
        # guard: per leg-length bin [model abs err s, provider abs err s, count,
        # line abs err s], decayed
        self.guard = [[0.0, 0.0, 0.0, 0.0] for _ in range(len(DIST_EDGES_KM) + 1)]
        self.guard_door = [0.0, 0.0, 0.0, 0.0]   # the same, legs under SAME_DOOR_KM
        self.n_guarded = 0      # legs answered by the line or the provider, not the model
        self.n_implausible = 0  # legs not learned: true / provider under LEARN_RATIO_MIN
        self.n_answers = {a: 0 for a in ANSWERS}
        # the length line: decayed [n, sum p, sum p^2, sum true, sum p x true] (seconds)
        self.line = [0.0, 0.0, 0.0, 0.0, 0.0]
        # and per destination kind: decayed [n, sum p, sum true] of its driving legs
        self.line_dest: dict[str, list[float]] = {}
        self._line_fit: tuple | None = None     # (m, k, {dest: s}), solved when asked
        self.zero_leg = [ZERO_LEG_PRIOR_S, 1.0]   # decayed sum of seconds, decayed count
        # dwell: true time at a stop (arrival to departure) minus its nominal service
        self.dwell = [0.0, 0.0]                   # decayed sum of seconds, decayed count
        self.last_stop: dict[str, tuple] = {}   # vehicle -> (arrival, nominal s, stop key)
        self.stops = StopTimes()                  # the same, per stop (models/dwell.py)
        # planning travel times: per provider-time bin [decayed n, sum provider s, sum true s]
        self.plan_bins = [[0.0, 0.0, 0.0] for _ in range(len(PLAN_EDGES_S) + 1)]
        # riders' pace per vehicle type: [decayed sum of s per km, decayed count]
        self.profiles: dict[str, list[float]] = {}

    @classmethod
    def restore(cls, snap: bytes):
        obj = super().restore(snap)
        if not hasattr(obj, "guard"):   # a snapshot of eta-*-1: same model, no guard yet
            obj.guard = [[0.0, 0.0, 0.0] for _ in range(len(DIST_EDGES_KM) + 1)]
            obj.n_guarded = 0
            obj.zero_leg = [ZERO_LEG_PRIOR_S, 1.0]
        if len(obj.guard) != len(DIST_EDGES_KM) + 1:   # the bins changed: guard afresh
            obj.guard = [[0.0, 0.0, 0.0] for _ in range(len(DIST_EDGES_KM) + 1)]
        if not hasattr(obj, "dwell"):
            obj.dwell, obj.last_stop = [0.0, 0.0], {}
            obj.version = f"eta-{obj.kind}-2"
        if not hasattr(obj, "stops"):   # eta-*-2: per-stop times start from the zone's mean
            obj.stops = StopTimes()
            d = obj.dwell
            obj.stops.zone = [float(d[0]), float(d[1])]
            obj.version = f"eta-{obj.kind}-3"
        if not hasattr(obj, "plan_bins"):   # planning times start afresh (from the prior)
            obj.plan_bins = [[0.0, 0.0, 0.0] for _ in range(len(PLAN_EDGES_S) + 1)]
        if obj.version == f"eta-{obj.kind}-3":
            # the same layout; legs on a map now carry their turns (``turns_km``, a new
            # weight that starts at 0)
            obj.version = f"eta-{obj.kind}-4"
        if obj.version == f"eta-{obj.kind}-4":
            # riders' paces start from the prior speeds; the model's weights are kept (its
            # bike legs were learned against the car's time: the guard and further legs
            # correct what carried over)
            if not hasattr(obj, "profiles"):
                obj.profiles = {}
            obj.version = f"eta-{obj.kind}-5"
        if obj.version == f"eta-{obj.kind}-5":
            # the length line starts at its prior (the provider), so the model's weights
            # answer as before; each bin's line error starts at the provider's
            obj.line = [0.0, 0.0, 0.0, 0.0, 0.0]
            obj.n_answers = {a: 0 for a in ANSWERS}
            for g in obj.guard:
                if len(g) < 4:
                    g.append(g[1])
            obj.version = f"eta-{obj.kind}-6"
        if obj.version == f"eta-{obj.kind}-6":
            # the line as learned; each destination's fixed seconds start at 0
            obj.line_dest = {}
            obj._line_fit = None
            obj.version = f"eta-{obj.kind}-7"
        if obj.version == f"eta-{obj.kind}-7":
            # the linear model keeps its weights (and the intercept it learned, now
            # fixed) and learns on at the rates of eta-*-8
            if obj.kind == "linear":
                obj.model.optimizer.lr = optim.schedulers.Constant(LINEAR_LR)
                obj.model.intercept_lr = optim.schedulers.Constant(LINEAR_INTERCEPT_LR)
            obj.version = f"eta-{obj.kind}-8"
        if obj.version == f"eta-{obj.kind}-8":
            # the same state: the line's sums as learned, fitted with the lighter prior
            obj._line_fit = None
            obj.version = f"eta-{obj.kind}-9"
        if obj.version == f"eta-{obj.kind}-9":
            # the same state; the same door's guard bin starts empty (the first length
            # bin answers its legs until it has its own)
            obj.guard_door = [0.0, 0.0, 0.0, 0.0]
            obj.version = f"eta-{obj.kind}-10"
        return obj

    def rider_s_per_km(self, vehicle_type: str | None) -> float | None:
        """Learned pace (s per km) of a rider of ``vehicle_type`` (a type of
        :data:`PROFILE_KMH`), None for other types."""
        prior = rider_prior_s_per_km(vehicle_type)
        if prior is None:
            return None
        p = self.profiles.get(vehicle_type)
        if not p:
            return prior
        return (p[0] + PROFILE_K * prior) / (p[1] + PROFILE_K)

    def riders(self) -> tuple[tuple[str, float], ...]:
        """``((vehicle type, s per km), ...)``: every rider type's pace, to the second
        (what the plans read: ``engine.routing_rider_pace``)."""
        return tuple((vt, float(round(self.rider_s_per_km(vt)))) for vt in sorted(PROFILE_KMH))

    def length_line(self) -> tuple[float, float]:
        """``(m, k)``: the seat's line ``true_s = m x provider_s + k`` (the prior, the
        provider, before any driving leg) for a destination of no known kind."""
        m, k, _d = self._line()
        return m, k

    def dest_offsets(self) -> dict[str, float]:
        """Each destination kind's fixed seconds on top of the line (``x["dest"]``)."""
        return dict(self._line()[2])

    def _line(self) -> tuple[float, float, dict[str, float]]:
        """Decayed least squares of ``true_s = m x p + k + d[dest]`` over the driving
        legs, with the priors m = 1, k = 0 (``LINE_PRIOR_N`` legs of ``LINE_PRIOR_S``)
        and d = 0 (``DEST_PRIOR_N`` legs): the destinations' block is diagonal, so it is
        eliminated and a 2 x 2 system solved (plain floats: the same on every machine)."""
        fit = getattr(self, "_line_fit", None)
        if fit is not None:
            return fit
        n, sp, spp, st, spt = self.line
        lm = LINE_PRIOR_N * LINE_PRIOR_S * LINE_PRIOR_S   # the prior's weight on m = 1
        a11, a12, a22 = spp + lm, sp, n + LINE_PRIOR_N      # and on k = 0
        b1, b2 = spt + lm, st
        dests = getattr(self, "line_dest", {})
        for key in sorted(dests):
            nb, pb, tb = dests[key]
            w = 1.0 / (nb + DEST_PRIOR_N)
            a11 -= pb * pb * w
            a12 -= pb * nb * w
            a22 -= nb * nb * w
            b1 -= pb * tb * w
            b2 -= nb * tb * w
        det = a11 * a22 - a12 * a12
        if not det > 0.0:
            m, k = 1.0, 0.0
        else:
            m, k = (b1 * a22 - a12 * b2) / det, (a11 * b2 - a12 * b1) / det
        off = {key: (tb - pb * m - nb * k) / (nb + DEST_PRIOR_N)
               for key, (nb, pb, tb) in sorted(dests.items())}
        self._line_fit = (m, k, off)
        return self._line_fit

    @staticmethod
    def _driving(x: dict, prov: float) -> bool:
        """A leg the length line covers: not a rider's, the provider above its floor
        and the leg at least ``LINE_MIN_KM``."""
        return (x.get("vehicle_type") not in PROFILE_KMH and prov > LINE_MIN_S
                and float(x.get("dist_km") or 0.0) >= LINE_MIN_KM)

    def line_ratio(self, x: dict) -> float:
        """The length line's true / provider ratio for ``x`` (1 off the line), clipped
        to [1/4, 4]."""
        prov = float(x.get("provider_s") or 0.0)
        if not self._driving(x, prov):
            return 1.0
        m, k, off = self._line()
        r = (m * prov + k + off.get(x.get("dest"), 0.0)) / prov
        return 0.25 if r < 0.25 else 4.0 if r > 4.0 else r

    def _on_baseline(self, x: dict) -> tuple[dict, float]:
        """(``x`` with the seat's baseline as its provider time, baseline / provider).
        The baseline is the length line's time, or for a rider the leg's distance at
        the rider's pace when that is slower than the provider (finite inputs)."""
        prov = float(x.get("provider_s") or 0.0)
        spk = self.rider_s_per_km(x.get("vehicle_type"))
        if spk is None:
            return x, self.line_ratio(x)
        if not prov > 0.0:
            return x, 1.0
        ride = float(x.get("dist_km") or 0.0) * spk
        if not ride > prov:
            return x, 1.0
        return {**x, "provider_s": ride}, ride / prov

    def _vres(self, x: dict) -> float | None:
        vid = x.get("vehicle_id")
        if vid is None:
            return None
        r = self.vres.get(vid)
        return r[0] / (r[1] + VRES_PRIOR_N) if r else 0.0

    def _features(self, x: dict) -> dict:
        if self.kind == "linear":
            return eta_linear_features(x, self._vres(x))
        f = eta_tree_features(x)
        v = self._vres(x)
        if v is not None:
            f["vres"] = v
        return f

    def _predict_log(self, f: dict) -> float:
        y = self.model.predict_one(f)
        if y is None or y != y:
            return 0.0
        return LOG_MIN if y < LOG_MIN else LOG_MAX if y > LOG_MAX else y

    def _guard_bins(self, x: dict, every: bool = False) -> list:
        """The guard bins of ``x``: its length bin, then the same door's bin for a leg
        under ``SAME_DOOR_KM`` (``every``: both, to learn; else the one that answers)."""
        d = float(x.get("dist_km") or 0.0)
        bins = [self.guard[dist_bin(d)]]
        door = getattr(self, "guard_door", None)
        if DOOR_GUARD and door is not None and d < SAME_DOOR_KM and (every or door[2] >= GUARD_MIN_N):
            bins.append(door)
        return bins

    def answer(self, x: dict) -> str:
        """Which of :data:`ANSWERS` the seat gives for ``x``'s length bin: the line
        until the bin has ``GUARD_MIN_N`` legs, then the one of least recent error (the
        provider's x ``GUARD_MARGIN``; the model on a tie, then the line).  A leg under
        ``SAME_DOOR_KM`` is answered by the same door's bin once that has
        ``GUARD_MIN_N`` legs."""
        g = self._guard_bins(x)[-1]
        if g[2] < GUARD_MIN_N:
            return "line"
        return min((g[0], 0, "model"), (g[3], 1, "line"), (g[1] * GUARD_MARGIN, 2, "provider"))[2]

    def predict_ratio(self, x: dict) -> float:
        if not _finite(x.get("dist_km"), x.get("provider_s"), x.get("hour"),
                       x.get("condition_factor"), x.get("driver_pace")):
            return 1.0
        a = self.answer(x)
        if a == "provider":
            return 1.0
        xb, lift = self._on_baseline(x)
        if a == "line":
            return lift
        return lift * math.exp(self._predict_log(self._features(xb)))

    def zero_leg_s(self) -> float:
        """Expected seconds of a zero-length leg (the next stop at the same door)."""
        z = getattr(self, "zero_leg", None)
        return z[0] / z[1] if z and z[1] > 0 else ZERO_LEG_PRIOR_S

    def learn_zero_leg(self, actual_s: float) -> None:
        if not _finite(actual_s) or actual_s < 0:
            return
        z = self.zero_leg
        z[0] = z[0] * ZERO_LEG_DECAY + min(actual_s, ZERO_LEG_MAX_S)
        z[1] = z[1] * ZERO_LEG_DECAY + 1.0

    def dwell_extra_s(self) -> float:
        """Recent mean of (true time at a stop - its nominal service time), seconds:
        parking, walking to the door, waiting; 0 before any stop was seen."""
        d = getattr(self, "dwell", None)
        return d[0] / (d[1] + 1.0) if d else 0.0

    def stop_extra_s(self, key: tuple | None = None) -> float:
        """Expected seconds beyond its nominal service at one stop of ``key``
        (``models.dwell.stop_key``); the zone's mean without a key."""
        st = getattr(self, "stops", None)
        if key is None or st is None:
            return self.dwell_extra_s()
        return st.extra_s(key)

    def observe_stop(self, vehicle_id: str, arrived_ts: float, nominal_s: float,
                     departed_prev_ts: float | None, key: tuple | None = None) -> None:
        """``vehicle_id`` reached a stop (``key``: ``models.dwell.stop_key``) whose
        service can start at ``arrived_ts`` (the arrival, or the window start when it
        came early; nominal service ``nominal_s``) after leaving its previous one at
        ``departed_prev_ts`` (None: unknown): learn how long the previous stop really
        took beyond its nominal service."""
        if not _finite(arrived_ts, nominal_s, departed_prev_ts):
            return
        prev = self.last_stop.get(vehicle_id)
        if prev is not None and departed_prev_ts is not None and departed_prev_ts >= prev[0]:
            extra = departed_prev_ts - prev[0] - prev[1]
            extra = DWELL_MIN_S if extra < DWELL_MIN_S else DWELL_MAX_S if extra > DWELL_MAX_S else extra
            d = self.dwell
            d[0] = d[0] * DWELL_DECAY + extra
            d[1] = d[1] * DWELL_DECAY + 1.0
            st = getattr(self, "stops", None)
            if st is not None and len(prev) > 2 and prev[2] is not None:
                st.learn(prev[2], extra)
        self.last_stop[vehicle_id] = (arrived_ts, nominal_s, key)

    def learn(self, x: dict, actual_ratio: float) -> None:
        if not actual_ratio > 0 or math.isinf(actual_ratio):
            return
        if not _finite(x.get("dist_km"), x.get("provider_s"), x.get("hour"),
                       x.get("condition_factor"), x.get("driver_pace")):
            return
        if actual_ratio < LEARN_RATIO_MIN:
            # four times faster than the provider: a position that jumped, a clock or a
            # meter that stopped, not a drive; learned (even clipped), a few such legs
            # pulled the line's slope and the long bins down (docs/models-eta.md)
            self.n_implausible = getattr(self, "n_implausible", 0) + 1
            return
        xb, lift = self._on_baseline(x)
        y = math.log(actual_ratio / lift)   # the target: true / the seat's baseline
        y = LOG_MIN if y < LOG_MIN else LOG_MAX if y > LOG_MAX else y
        f = self._features(xb)
        yhat = self._predict_log(f)
        # the guard scores the model, the line and the provider in seconds, before learning
        prov = float(x.get("provider_s") or 0.0)
        a = self.answer(x)
        self.n_answers[a] = self.n_answers.get(a, 0) + 1
        if a != "model":
            self.n_guarded += 1
        for g in self._guard_bins(x, every=True):
            g[0] = g[0] * GUARD_DECAY + abs(actual_ratio - lift * math.exp(yhat)) * prov
            g[1] = g[1] * GUARD_DECAY + abs(actual_ratio - 1.0) * prov
            g[2] = g[2] * GUARD_DECAY + 1.0
            g[3] = g[3] * GUARD_DECAY + abs(actual_ratio - lift) * prov
        # progressive errors of the whole answer (baseline x model) and of the provider
        y_all = math.log(actual_ratio)
        y_all = LOG_MIN if y_all < LOG_MIN else LOG_MAX if y_all > LOG_MAX else y_all
        yhat_all = yhat + math.log(lift)
        self.mae_log.update(y_all, yhat_all)
        self.mae_log_provider.update(y_all, 0.0)
        self.watch.update(abs(y_all - yhat_all), {"zone": x.get("zone")})
        self.model.learn_one(f, y)
        self.n_learned += 1
        if prov > 0:
            r = PLAN_RATIO_MIN if actual_ratio < PLAN_RATIO_MIN else (
                PLAN_RATIO_MAX if actual_ratio > PLAN_RATIO_MAX else actual_ratio)
            b = self.plan_bins[bisect_right(PLAN_EDGES_S, prov)]
            b[0] = b[0] * PLAN_DECAY + 1.0
            b[1] = b[1] * PLAN_DECAY + prov
            b[2] = b[2] * PLAN_DECAY + r * prov
            if self._driving(x, prov):
                t = r * prov
                L = self.line
                L[0] = L[0] * LINE_DECAY + 1.0
                L[1] = L[1] * LINE_DECAY + prov
                L[2] = L[2] * LINE_DECAY + prov * prov
                L[3] = L[3] * LINE_DECAY + t
                L[4] = L[4] * LINE_DECAY + prov * t
                dests = self.line_dest
                for D in dests.values():
                    D[0] *= LINE_DECAY
                    D[1] *= LINE_DECAY
                    D[2] *= LINE_DECAY
                dest = x.get("dest")
                if isinstance(dest, str):
                    D = dests.setdefault(dest, [0.0, 0.0, 0.0])
                    D[0] += 1.0
                    D[1] += prov
                    D[2] += t
                self._line_fit = None
        vid = x.get("vehicle_id")
        if vid is not None:
            r = self.vres.setdefault(vid, [0.0, 0.0])
            r[0] = r[0] * VRES_DECAY + (y - yhat)
            r[1] = r[1] * VRES_DECAY + 1.0
        vt = x.get("vehicle_type")
        dist = float(x.get("dist_km") or 0.0)
        if vt in PROFILE_KMH and dist >= PROFILE_MIN_KM and prov > 0.0:
            spk = actual_ratio * prov / dist
            spk = PROFILE_SPK_MIN if spk < PROFILE_SPK_MIN else (
                PROFILE_SPK_MAX if spk > PROFILE_SPK_MAX else spk)
            p = self.profiles.setdefault(vt, [0.0, 0.0])
            p[0] = p[0] * PROFILE_DECAY + spk
            p[1] = p[1] * PROFILE_DECAY + 1.0

    def plan_curve(self, prior_factor: float) -> tuple[tuple[float, float], ...]:
        """Planning travel time as points ``(provider s, planning s)``, one per bin of
        :data:`PLAN_EDGES_S`, increasing in both: the bin's decayed mean provider and
        true leg time, each with ``PLAN_PRIOR_N`` pseudo-legs of the prior (the bin's
        typical provider time, times ``prior_factor``).  Before any leg: the prior line
        ``prior_factor x provider``.  Rounded to 0.1 s (a value, compared by the engine
        to rebuild its travel model only when it changed)."""
        pts: list[tuple[float, float]] = []
        k = PLAN_PRIOR_N
        last_y = 0.0
        for (n, sx, sy), c in zip(getattr(self, "plan_bins", ()), PLAN_CENTRES_S):
            x = (sx + k * c) / (n + k)
            y = max((sy + k * prior_factor * c) / (n + k), last_y)
            last_y = y
            pts.append((round(x, 1), round(y, 1)))
        return tuple(pts)

    def forget_vehicle(self, vehicle_id: str) -> None:
        """Drop the vehicle's residual (the zone forgets the vehicle: retention)."""
        self.vres.pop(vehicle_id, None)
        getattr(self, "last_stop", {}).pop(vehicle_id, None)

    def metrics(self) -> dict:
        slope, fixed = self.length_line()
        return {"legs": self.n_learned, "mae_log_ratio": float(self.mae_log.get()),
                "mae_log_ratio_provider": float(self.mae_log_provider.get()),
                "guarded_legs": self.n_guarded,
                "implausible_legs": getattr(self, "n_implausible", 0),
                **{f"answered_{a}": self.n_answers.get(a, 0) for a in ANSWERS},
                "line_slope": round(slope, 3),
                "line_fixed_s": round(fixed, 1),
                **{f"dest_s_{d if d.isidentifier() else 'unknown'}": round(v, 1)
                   for d, v in self.dest_offsets().items()},
                "zero_leg_s": round(self.zero_leg_s(), 1),
                "dwell_extra_s": round(self.dwell_extra_s(), 1),
                **{f"rider_kmh_{vt}": round(3600.0 / self.rider_s_per_km(vt), 1)
                   for vt in PROFILE_KMH}}
