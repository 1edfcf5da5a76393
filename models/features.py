"""Feature maps from the zone engine's prediction-time snapshots to model inputs.

The engine captures a plain dict when it predicts (``_leg_x`` for a leg,
``xi`` for an interval, ``_risk_x`` for risk) and hands the *same* dict back
when the label arrives.  These functions only read it: they never mutate the
captured dict, so what a model learns from is exactly what was known at
prediction time.

All outputs are plain ``{name: float}`` dicts with values of order 1, so the
linear models need no running scaler (a running ``StandardScaler`` would zero
out sparse one-hot features, whose mean over the rows that carry them is 1).
"""

from __future__ import annotations

import math



def _log(x: float, floor: float = 1e-3) -> float:
    return math.log(x if x > floor else floor)


def provider_speed_kmh(x: dict) -> float:
    """The provider's assumed speed for this leg (km/h), live factor removed: it
    encodes the provider's hourly profile, which the true travel times follow
    differently per vehicle type (bikes ride at a steady speed)."""
    cond = x.get("condition_factor") or 1.0
    prov = x.get("provider_s") or 0.0
    return (x.get("dist_km") or 0.0) * 3600.0 / max(1.0, prov / cond)


# Leg length bins (km): the true / provider ratio falls steeply with the leg length
# (pulling out, parking and town junctions weigh most on short legs), and not
# linearly, so the linear model gets one weight per bin plus a log-length slope.
# Legs under 50 m (across the street, the next door) have their own bin.
DIST_EDGES_KM = (0.05, 0.3, 0.6, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 10.0)


def dist_bin(dist_km: float) -> int:
    """
    >>> dist_bin(0.01), dist_bin(0.1), dist_bin(1.2), dist_bin(50.0)
    (0, 1, 4, 10)
    """
    for i, e in enumerate(DIST_EDGES_KM):
        if dist_km < e:
            return i
    return len(DIST_EDGES_KM)


def eta_linear_features(x: dict, vres: float | None = None) -> dict:
    """Leg features for the linear log-ratio model.

    The hour of day enters as the provider's assumed speed crossed with the
    vehicle type (bikes ride through the rush hour, vans do not; the crossing
    costs 5 weights instead of 5 x 24) and as a shared hour one-hot for what
    the speed profile misses.  ``vres`` is the vehicle's recent mean residual
    (see :class:`models.eta.RiverEta`) when the engine passes ``vehicle_id``.
    """
    hi = int(x["hour"]) % 24
    vt = x.get("vehicle_type") or "?"
    ft = x.get("fleet_type") or "?"
    f = {
        "log_pace": _log(x.get("driver_pace") or 1.0),
        "log_cond": _log(x.get("condition_factor") or 1.0),
        f"ls_{vt}": _log(provider_speed_kmh(x)) - 3.2,
        "short": 1.0 if (x.get("provider_s") or 0.0) <= 31.0 else 0.0,
        f"vt_{vt}": 1.0,
        f"ft_{ft}": 1.0,
        f"h{hi}": 1.0,
    }
    d = float(x.get("dist_km") or 0.0)
    f[f"db{dist_bin(d)}"] = 1.0
    f["log_dist"] = _log(d, 0.05) * 0.5
    turns = x.get("turns")
    if isinstance(turns, (int, float)) and turns >= 0 and math.isfinite(turns):
        # junction turns and bends per km of the map's path (providers that count them)
        f["turns_km"] = math.log1p(turns / (d if d > 0.05 else 0.05)) - 1.0
    if vres is not None:
        f["vres"] = vres
    return f


def eta_tree_features(x: dict) -> dict:
    """Compact leg features for tree models (they split on raw values)."""
    return {
        "hour": float(x["hour"]),
        "prov_speed": provider_speed_kmh(x),
        "vehicle_type": x.get("vehicle_type") or "?",
        "fleet_type": x.get("fleet_type") or "?",
        "log_pace": _log(x.get("driver_pace") or 1.0),
        "log_cond": _log(x.get("condition_factor") or 1.0),
        "dist_km": float(x.get("dist_km") or 0.0),
        "speed_kmh": float(x.get("speed_kmh") or 0.0),
        "stops_ahead": float(x.get("stops_ahead") or 0),
        "weekend": 1.0 if x.get("dow", 0) >= 5 else 0.0,
    }


def normal_tail(slack_s: float, width80_s: float) -> float:
    """The baseline's analytic P(arrival after the window end): normal tail with the
    80 % width as 2 x 1.2816 sigma."""
    sigma = max(60.0, width80_s / 2.563)
    return 0.5 * math.erfc(slack_s / (sigma * math.sqrt(2)))


def _logit(p: float) -> float:
    p = min(1 - 1e-4, max(1e-4, p))
    return math.log(p / (1 - p))


def late_features(x: dict) -> dict:
    """Late-risk features (``late-logreg-2``, docs/models.md "Late risk"): the ETA
    slack in hours (window end minus ETA, clipped to +-3 h), the stops ahead and the
    horizon (how much of the route can still go wrong before this stop) and the
    order kind.  The slack carries the model's start (the slack-based normal tail,
    ``models/risk.py``); the others start at 0 and only correct it."""
    return {
        "slack_h": max(-3.0, min(3.0, x["slack_s"] / 3600.0)),
        "ahead": min(30, x.get("stops_ahead", 0)) / 10.0,
        "horizon_h": min(6.0, max(0.0, x["horizon_s"]) / 3600.0),
        f"kind_{x.get('kind', '?')}": 1.0,
    }


def late_features_v1(x: dict) -> dict:
    """The features of ``late-logreg-1`` (until 2026-11-29), kept for comparison
    (benchmarks/late_risk.py ``--late-model v1``): slack against the interval width,
    the analytic tail as a logit, horizon and context."""
    slack = x["slack_s"]
    w = max(60.0, x["width80_s"])
    z = max(-6.0, min(6.0, slack / (w / 2.563)))
    hi = int(x.get("hour", 0)) % 24
    return {
        "z": z,
        "z_neg": min(0.0, z),
        "tail_logit": _logit(normal_tail(slack, w)) / 4.0,
        "slack_h": max(-3.0, min(3.0, slack / 3600.0)),
        "horizon_h": min(6.0, max(0.0, x["horizon_s"]) / 3600.0),
        "ahead": min(30, x.get("stops_ahead", 0)) / 10.0,
        "prio": float(x.get("priority", 0)),
        f"kind_{x.get('kind', '?')}": 1.0,
        f"ft_{x.get('fleet_type', '?')}": 1.0,
        f"hb{hi // 3}": 1.0,
    }


def failure_features(x: dict) -> dict:
    """Failure-risk features (docs/models.md "Failure risk"): the customer's history
    (failures, access failures, deliveries; not-home failures and deliveries near the
    planned local hour, recency-weighted), known access difficulty and whether the
    planned driver has delivered at that hard-access door before, the building type
    crossed with the local arrival hour band and the weekend, whether the arrival is
    inside the hours the customer states (or the business opens) and how far outside,
    whether the customer, contacted ahead, arranged for the delivery, order context.
    Snapshots captured before these fields existed fall back to the UTC arrival hour."""
    fails = x.get("cust_failures", 0)
    ok = x.get("cust_deliveries", 0)
    acc = x.get("cust_access_failures", 0)
    if "arr_hour" in x:
        arr_h = int(x["arr_hour"]) % 24
    else:
        arr_h = int((x.get("hour", 0.0) + max(0.0, x.get("horizon_s", 0.0)) / 3600.0)) % 24
    b = x.get("building", "?")
    band = arr_h // 2
    wk = "we" if x.get("dow", 0) >= 5 else "wd"
    f = {
        "access_known": float(x.get("access_difficulty_known", 0)),
        "knows_door": float(x.get("driver_knows_door", 0)),
        f"acc_{b}": float(x.get("access_difficulty_known", 0)),
        "fails": math.log1p(fails),
        "access_fails": math.log1p(acc),
        "deliveries": math.log1p(ok),
        "hist_rate": (1.0 + fails) / (10.0 + fails + ok) * 5.0,
        f"b_{b}": 1.0,
        f"bh_{b}_{wk}{band}": 1.0,
        f"kind_{x.get('kind', '?')}": 1.0,
        "prio": float(x.get("priority", 0)),
        "nh_near": math.log1p(x.get("nh_near", 0.0)) * 2.0,
        "ok_near": math.log1p(x.get("ok_near", 0.0)),
    }
    if x.get("arranged"):   # absent unless the customer replied (the seat's earlier inputs)
        f["arranged"] = 1.0
    if "stated_in" in x:
        out_h = float(x.get("stated_out_h", 0.0))
        f["stated_known"] = 1.0
        f["stated_out"] = 0.0 if x["stated_in"] else 1.0
        f["stated_out_h"] = min(3.0, out_h) / 3.0
        f[f"so_{b}"] = f["stated_out"]
    return f


FAILURE_FEATURE_TEXT = {
    "access_known": "access instructions on record (a hard door)",
    "knows_door": "the planned driver has delivered at this door",
    "fails": "the customer's past failed attempts",
    "access_fails": "the customer's past access failures",
    "deliveries": "the customer's past deliveries",
    "hist_rate": "the customer's failure rate so far",
    "prio": "the order's priority",
    "nh_near": "not home near this hour before",
    "ok_near": "delivered near this hour before",
    "stated_known": "the customer states when someone is in",
    "stated_out": "arrival outside the hours the customer states",
    "stated_out_h": "how far outside the stated hours",
    "arranged": "the customer replied that someone will be in (contacted ahead)",
}
"""What a failure-risk feature means, in words (``failure_feature_text``)."""

_BANDS = {"wd": "weekday", "we": "weekend"}
_PREFIX_TEXT = {"b": "{b}", "acc": "access instructions at {b}",
                "so": "outside the stated hours, at {b}", "kind": "a {rest} order"}


def failure_feature_text(name: str) -> str:
    """A dispatcher's words for a failure-risk feature (``failure_features`` names).

    >>> failure_feature_text("stated_out")
    'arrival outside the hours the customer states'
    >>> failure_feature_text("bh_office_wd8")
    'an office, weekday 16-18 h'
    >>> failure_feature_text("so_shop")
    'outside the stated hours, at a shop'
    """
    if name in FAILURE_FEATURE_TEXT:
        return FAILURE_FEATURE_TEXT[name]
    head, _, rest = name.partition("_")

    def bld(b: str) -> str:
        if b in ("?", ""):
            return "an unknown building"
        return f"an {b}" if b[0] in "aeiou" else f"a {b}"

    template = _PREFIX_TEXT.get(head)
    if template is not None:
        return template.format(b=bld(rest), rest=rest)
    if head == "bh":
        b, _, band = rest.rpartition("_")
        wk, h = band[:2], band[2:]
        if wk in _BANDS and h.isdigit():
            return f"{bld(b)}, {_BANDS[wk]} {2 * int(h)}-{2 * int(h) + 2} h"
    return name
