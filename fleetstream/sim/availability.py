"""The simulator's customer availability: who is there to receive a delivery, when.

Hidden truth, never the engine's formulas.  Every customer gets a latent weekly
schedule drawn from its own seeded stream (``random.Random`` of the scenario seed and
the customer id, so adding it left every other draw of the world unchanged):

- a **building type**: on a road map the door's building (roadworld.Site), on the
  plane a draw (apartment 0.5, house 0.3, shop 0.1, office 0.1);
- a **household** for homes (house, apartment): ``home`` (someone is in nearly all
  day; one errand block of 1-1.5 h), ``away_day`` (out on weekdays from about 07-09 to
  16-19 h), ``part_day`` (out a 3-4.5 h block in the morning or the afternoon on
  weekdays); businesses follow **opening hours**: offices open 07:30-09 to 16:30-18:30
  on weekdays, shops 08-10 to 18-20 Monday to Saturday (Saturday to 14 h), 40 % of
  them closed for lunch 13-15 h;
- **noise**: the door is answered with probability 0.98 inside the present blocks
  and inside the absent ones 0.25-0.35 at a home (a neighbour, a partner), 0.8-0.9
  during a home's errand, 0.15-0.3 at a closed business, with 30-minute soft edges;
  on 5 % of days a customer ignores the schedule (home all day
  or out all day, drawn per customer and day).

Access failures depend on the building: an address with access instructions (a
gate, a code, a courtyard) fails 5-20 % of attempts (offices and apartments
10-20 %: a badge or a code the driver lacks), any other 0.3-1 %.

What a real operation knows goes into the ``customer_profile`` event
(:meth:`Availability.profile`): the building type and the **stated hours** someone
is usually there: the opening hours of a business (published for 85 % of them), or
a home's own statement (for half of the homes; rounded to the hour and off by up to
an hour).  The latent blocks, the household and the day noise are never published.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from fleetstream.sim.clock import local_s

BUILDINGS_PLANE = (("apartment", 0.5), ("house", 0.3), ("shop", 0.1), ("office", 0.1))
HOUSEHOLDS = (("home", 0.84), ("away_day", 0.08), ("part_day", 0.08))
P_PRESENT = 0.98
EDGE_H = 0.5          # soft edge of a block (h): the probability ramps over it
DAY_NOISE = 0.05      # share of days on which a customer ignores its schedule


def _pick(rng: random.Random, weighted) -> str:
    x = rng.random() * sum(w for _, w in weighted)
    for v, w in weighted:
        x -= w
        if x <= 0:
            return v
    return weighted[-1][0]


def _hhmm(h: float) -> str:
    m = min(23 * 60 + 59, max(0, round(h * 60)))
    return f"{m // 60:02d}:{m % 60:02d}"


@dataclass
class Availability:
    """One customer's latent schedule (hidden) and what it says about it (public)."""

    building: str
    household: str                 # home | away_day | part_day | business
    absent: tuple                  # weekday absent blocks ((start_h, end_h), ...)
    absent_weekend: tuple          # Saturday blocks; Sunday: businesses closed, homes home
    p_absent_home: float           # P(door answered) inside an absent block
    hard_access: bool
    p_access_fail: float
    stated: tuple                  # published 'HH:MM-HH:MM' hours (may be empty)
    seed: int
    tz: str | None = None          # the world's local clock (Scenario.timezone); None: UTC

    # ------------------------------------------------------------------ truth

    def p_home(self, ts: float) -> float:
        """P(someone answers the door) at epoch ``ts``: the schedule's hours and days are
        the world's local clock (``tz``, sim/clock.py; None: UTC)."""
        ts = local_s(self.tz, ts)
        day = int(ts // 86400)
        hour = (ts % 86400) / 3600.0
        dow = (day + 3) % 7                      # 1970-01-01 was a Thursday (3)
        r = random.Random(self.seed * 1_000_003 + day).random()
        if r < DAY_NOISE:                        # an off-pattern day
            return P_PRESENT if r < DAY_NOISE / 2 else self.p_absent_home
        if dow == 6:
            blocks = ((0.0, 24.0),) if self.household == "business" else ()
        elif dow == 5:
            blocks = self.absent_weekend
        else:
            blocks = self.absent
        inside = 0.0                             # 0 present .. 1 absent, soft edges
        for s, e in blocks:
            ramp_in = min(1.0, max(0.0, (hour - s) / EDGE_H + 0.5))
            ramp_out = min(1.0, max(0.0, (e - hour) / EDGE_H + 0.5))
            inside = max(inside, min(ramp_in, ramp_out))
        return P_PRESENT + (self.p_absent_home - P_PRESENT) * inside

    def p_fail(self, ts: float) -> float:
        """The true probability that an attempt at ``ts`` fails (not home or access)."""
        return 1.0 - self.p_home(ts) * (1.0 - self.p_access_fail)

    def truth(self) -> dict:
        return {"building_type": self.building, "household": self.household,
                "absent_blocks": [list(b) for b in self.absent],
                "p_access_fail": round(self.p_access_fail, 4)}

    # ------------------------------------------------------------------ public

    def profile(self) -> dict:
        """Fields of the customer_profile event: what a real operation would know."""
        out = {"building_type": self.building}
        if self.stated:
            out["available_hours"] = list(self.stated)
        return out


def draw(seed: int, customer_id: str, building: str | None, hard_access: bool,
         tz: str | None = None) -> Availability:
    """The latent schedule of one customer, from its own stream (deterministic); its
    hours (and the hours it states) are local clock times of ``tz`` (None: UTC)."""
    cs = seed * 7_919 + sum((i + 1) * ord(ch) for i, ch in enumerate(customer_id))
    rng = random.Random(cs)
    if building is None:
        building = _pick(rng, BUILDINGS_PLANE)
    absent: list = []
    weekend: list = []
    stated: list = []
    p_abs = rng.uniform(0.25, 0.35)
    if building in ("office", "shop"):
        household = "business"
        if building == "office":
            o, c = rng.choice((7.5, 8.0, 8.5, 9.0)), rng.choice((16.5, 17.0, 17.5, 18.0, 18.5))
            absent = [(0.0, o), (c, 24.0)]
            weekend = [(0.0, 24.0)]
            open_ = [(o, c)]
        else:
            o, c = rng.choice((8.0, 8.5, 9.0, 9.5, 10.0)), rng.choice((18.0, 19.0, 20.0))
            lunch = rng.random() < 0.4
            absent = [(0.0, o), (13.0, 15.0), (c, 24.0)] if lunch else [(0.0, o), (c, 24.0)]
            weekend = [(0.0, o), (14.0, 24.0)]
            open_ = [(o, 13.0), (15.0, c)] if lunch else [(o, c)]
        p_abs = rng.uniform(0.15, 0.3)       # closed: now and then someone stocking up
        if rng.random() < 0.9:
            stated = [f"{_hhmm(s)}-{_hhmm(e)}" for s, e in open_]
    else:
        household = _pick(rng, HOUSEHOLDS)
        if household == "away_day":
            leave, back = rng.uniform(7.0, 9.0), rng.uniform(16.0, 19.0)
            absent = [(leave, back)]
        elif household == "part_day":
            if rng.random() < 0.5:
                s = rng.uniform(7.5, 10.0)
            else:
                s = rng.uniform(12.0, 14.5)
            absent = [(s, s + rng.uniform(3.0, 4.5))]
        else:
            s = rng.uniform(8.0, 17.0)
            absent = [(s, s + rng.uniform(1.0, 1.5))]
            p_abs = rng.uniform(0.8, 0.9)    # an errand: often someone else is in
        if household != "home" and rng.random() < 0.3:
            weekend = list(absent)
        if rng.random() < 0.7:
            if household == "home":
                stated = ["08:00-20:00"]
            else:
                s, e = absent[0]
                s = round((s + rng.uniform(-0.5, 0.5)) * 2) / 2
                e = round((e + rng.uniform(-0.5, 0.5)) * 2) / 2
                stated = [f"{_hhmm(6.0)}-{_hhmm(max(6.5, s))}",
                          f"{_hhmm(min(21.5, e))}-{_hhmm(22.0)}"]
    if hard_access:
        p_acc = rng.uniform(0.1, 0.2) if building in ("office", "apartment") else rng.uniform(0.05, 0.1)
    else:
        p_acc = rng.uniform(0.003, 0.01)
    return Availability(building, household, tuple(absent), tuple(weekend), p_abs, hard_access,
                        p_acc, tuple(stated), cs, tz)


# A customer contacted ahead of a risky delivery (the engine's failure_risk alert)
# who replies arranges for it: stays in, names a neighbour or a safe place.  The
# reply removes this share of the chance that nobody answers the door (never the
# access problems).  An assumption of the simulated world, not a measurement.
CONTACT_FIX = 0.75


def after_contact(p_home: float) -> float:
    """P(someone answers the door) for an attempt the customer has arranged for."""
    return 1.0 - (1.0 - p_home) * (1.0 - CONTACT_FIX)


# What a contacted customer answers (the world's side of contact ahead; the engine
# reads only the customer_reply event).  The customer knows their own day: someone
# is in (P(answer) >= PRESENT_P) over the next REPLY_LOOK_S -> confirmed (and
# arranges for it); otherwise they name the first time, on a 15-minute grid before
# the window closes, from which someone is in for REPLY_STAY_S, and until when (the
# delivery window becomes those hours: the driver does not ring before); with no
# such time, NEIGHBOUR_P of them name a neighbour or a safe place (confirmed,
# arranged), the others are simply unavailable.  Assumptions of the simulated
# world, not measurements.
NEIGHBOUR_P = 0.5
PRESENT_P = 0.9
REPLY_LOOK_S = 3600.0
REPLY_STAY_S = 1800.0
GRID_S = 900.0


def reply(avail: Availability, now: float, window_end: float, u: float) -> tuple:
    """(answer, available_from, available_until) of a customer contacted at ``now``
    about a delivery whose window closes at ``window_end``; ``u`` a uniform draw (the
    neighbour-or-safe-place choice)."""
    def present(t0: float, span: float) -> bool:
        return all(avail.p_home(t0 + k * GRID_S) >= PRESENT_P
                   for k in range(int(span // GRID_S) + 1))

    if present(now, REPLY_LOOK_S):
        return ("confirmed", None, None)
    t = (now // GRID_S + 1) * GRID_S
    while t < window_end:
        if present(t, REPLY_STAY_S):
            end = t
            while end < window_end and avail.p_home(end) >= PRESENT_P:
                end += GRID_S
            return ("unavailable", t, end if end < window_end else None)
        t += GRID_S
    return ("confirmed", None, None) if u < NEIGHBOUR_P else ("unavailable", None, None)


# Drivers who know a hard door (Scenario.driver_knowledge; off by default, so every
# earlier day draws what it drew).  At an address with access instructions a driver
# who has delivered there before knows the way in (the code, the side gate, the
# concierge's hours): the access failure chance is KNOWN_ACCESS_FACTOR of a first
# visit's, and a driver new to the door spends ACCESS_SEARCH_S (uniform, s) finding the
# entrance.  Who knows a door: those who delivered there earlier in the simulation
# (remembered across days when a benchmark carries ``Simulation.known_access``) and,
# for the history before it, each driver with probability PRIOR_KNOWN per address
# (its own stream).  Assumptions of the simulated world, not measurements; the
# engine sees none of this, only who delivered where and which attempts failed for
# access (order events).
KNOWN_ACCESS_FACTOR = 0.15
ACCESS_SEARCH_S = (60.0, 240.0)
PRIOR_KNOWN = 0.15
