"""The compatibility policy of docs/versioning.md, enforced: the current contract
surface is the snapshot of CONTRACT_VERSION, each snapshot follows the previous one
with a version step its changes allow (a breaking change needs a new major, any
other change a new minor), every version is in docs/CHANGELOG.md, and the rules
classify the classic changes the way the policy says."""

from __future__ import annotations

import copy
import glob
import os
import re

import orjson
import pytest

from fleetstream import contract_compat as cc
from fleetstream.contract import events as ev
from fleetstream.contract import outputs as out
from fleetstream.schemas import all_schemas

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(os.path.dirname(__file__), "data")


def _snapshots() -> list[tuple[str, dict]]:
    snaps = []
    for p in glob.glob(os.path.join(DATA, "contract-*.json")):
        with open(p, "rb") as f:
            d = orjson.loads(f.read())
        assert os.path.basename(p) == f"contract-{d['version']}.json"
        snaps.append((d["version"], d["surface"]))
    return sorted(snaps, key=lambda s: cc.parse_version(s[0]))


def test_the_current_contract_is_the_snapshot_of_its_version():
    """Changing a schema without bumping CONTRACT_VERSION (and writing its snapshot
    with `python -m fleetstream.contract_compat snapshot`) fails here."""
    snaps = dict(_snapshots())
    assert out.CONTRACT_VERSION in snaps, "no snapshot of CONTRACT_VERSION"
    diff = cc.changes(snaps[out.CONTRACT_VERSION], cc.current_surface())
    assert diff == [], diff[:20]
    assert out.CONTRACT_VERSION == max(snaps, key=cc.parse_version)


def test_every_version_step_allows_its_changes():
    snaps = _snapshots()
    assert [v for v, _ in snaps][:2] == ["1.0.0", "1.1.0"]
    for (va, sa), (vb, sb) in zip(snaps, snaps[1:]):
        chs = cc.changes(sa, sb)
        assert cc.allowed(va, vb, chs), (va, vb, [c for c in chs if c[0] == "breaking"][:10])


def test_major_version_is_the_v_of_every_message():
    major = cc.parse_version(out.CONTRACT_VERSION)[0]
    assert major == out.OUTPUT_SCHEMA_VERSION == ev.SCHEMA_VERSION


def test_every_version_is_in_the_changelog():
    with open(os.path.join(ROOT, "docs", "CHANGELOG.md"), encoding="utf-8") as f:
        md = f.read()
    listed = re.findall(r"^## \[?(\d+\.\d+\.\d+)\]?", md, re.M)
    assert listed and listed[0] == out.CONTRACT_VERSION, listed
    assert {v for v, _ in _snapshots()} <= set(listed)


# ------------------------------------------------------------------ the rules


@pytest.fixture(scope="module")
def base() -> tuple[dict, dict]:
    s = all_schemas()
    return s, cc.surface(s, out.OUTPUT_TOPICS)


def _bump(base, edit) -> str:
    schemas, surf = base
    s = copy.deepcopy(schemas)
    edit(s)
    return cc.required_bump(cc.changes(surf, cc.surface(s, out.OUTPUT_TOPICS)))


def _ping(s):
    return s["fs.telemetry"]["$defs"]["ping"]


def _field_del(topic, name):
    def f(s):
        del s[topic]["properties"][name]
        if name in s[topic]["required"]:
            s[topic]["required"].remove(name)
    return f


@pytest.mark.parametrize("what,edit,bump", [
    ("remove an output field", _field_del("fs.eta", "p_late"), "major"),
    ("rename an output field", lambda s: s["fs.eta"]["properties"].__setitem__(
        "p_late_prob", s["fs.eta"]["properties"].pop("p_late")), "major"),
    ("output field becomes optional", lambda s: s["fs.eta"]["required"].remove("p_late"),
     "major"),
    ("output type widened", lambda s: s["fs.eta"]["properties"]["p_late"].__setitem__(
        "type", ["number", "null"]), "major"),
    ("add an optional output field", lambda s: s["fs.eta"]["properties"].__setitem__(
        "confidence", {"type": "number"}), "minor"),
    ("add an output enum value (open enum)", lambda s: s["fs.alerts"]["properties"]["kind"][
        "x-extensible-enum"].append("battery_low"), "minor"),
    ("remove an output enum value", lambda s: s["fs.alerts"]["properties"]["kind"][
        "x-extensible-enum"].remove("drift"), "major"),
    ("narrow an input range", lambda s: _ping(s)["properties"]["speed_kmh"].__setitem__(
        "maximum", 200), "major"),
    ("widen an input range", lambda s: _ping(s)["properties"]["speed_kmh"].__setitem__(
        "maximum", 300), "minor"),
    ("input field becomes required", lambda s: _ping(s)["required"].append("battery_pct"),
     "major"),
    ("add an input enum value", lambda s: s["fs.fleet"]["$defs"]["shift_start"]["properties"][
        "vehicle_type"]["enum"].append("drone"), "minor"),
    ("add a required input field", lambda s: (
        _ping(s)["properties"].__setitem__("altitude_m", {"type": "number"}),
        _ping(s)["required"].append("altitude_m")), "major"),
    ("change a typed explanation field's type", lambda s: s["fs.decisions"]["$defs"][
        "ExpectedEffect"]["properties"]["km"].__setitem__("type", "string"), "major"),
    ("nothing", lambda s: None, "none"),
])
def test_rules_classify_changes_as_the_policy_says(base, what, edit, bump):
    assert _bump(base, edit) == bump, what


def test_version_steps():
    breaking = [("breaking", "x")]
    minor = [("minor", "x")]
    assert cc.allowed("1.1.0", "2.0.0", breaking) and not cc.allowed("1.1.0", "1.2.0", breaking)
    assert cc.allowed("1.1.0", "1.2.0", minor) and not cc.allowed("1.1.0", "1.1.1", minor)
    assert cc.allowed("1.1.0", "1.1.1", []) and cc.allowed("1.1.0", "1.1.0", [])
