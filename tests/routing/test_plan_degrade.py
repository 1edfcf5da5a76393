"""Plans that degrade gracefully: the instance reader rejects malformed rows with their
line number (never drops one), bad input exits 2 with one line (no traceback),
infeasible plans exit 3, and one customer whose window cannot be reached is left
out with its reason while the rest is planned (both backends)."""

from __future__ import annotations

import math
import random

import orjson
import pytest

from fleetstream.operators.routing.checker import check_plan
from fleetstream.operators.routing.io import InstanceError, read_gehring_homberger, read_instance, read_solomon
from fleetstream.operators.routing.solver import Budget, plan
from fleetstream.plan_cmd import main

HEAD = "{name}\n\nVEHICLE\nNUMBER     CAPACITY\n  {veh}         {cap}\n\nCUSTOMER\n" \
       "CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME\n\n"


def solomon_text(n: int = 12, seed: int = 0, veh: int = 5, cap: int = 200, name: str = "T101",
                 horizon: int = 1000) -> str:
    """A small feasible instance in the Solomon format (wide windows)."""
    rng = random.Random(seed)
    rows = [f"    0      50         50          0          0       {horizon}          0"]
    for i in range(1, n + 1):
        x, y = rng.randint(20, 80), rng.randint(20, 80)
        rows.append(f"{i:5d} {x:8d} {y:10d} {rng.randint(5, 30):10d} {0:10d} {horizon - 100:10d} {10:10d}")
    return HEAD.format(name=name, veh=veh, cap=cap) + "\n".join(rows) + "\n"


def write(tmp_path, text: str, name: str = "inst.txt") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def line_of(text: str, cid: str) -> int:
    """The line number of customer ``cid``'s row."""
    return next(i + 1 for i, ln in enumerate(text.splitlines()) if ln.split()[:1] == [cid] and len(ln.split()) == 7)


def test_reader_keeps_every_row(tmp_path):
    p = read_solomon(write(tmp_path, solomon_text(12)))
    assert [j.id for j in p.jobs] == [str(i) for i in range(1, 13)]
    assert len(p.vehicles) == 5 and p.vehicles[0].capacity == {"demand": 200.0}


@pytest.mark.parametrize("bad, expect", [
    (("    7 ", "    7a "), "customer id '7a'"),
    (("    7 ", "    x7 "), "customer id 'x7'"),
])
def test_customer_id_with_a_letter_is_rejected_with_its_line(tmp_path, bad, expect):
    text = solomon_text(12)
    n = line_of(text, "7")
    text = text.replace(*bad, 1)
    with pytest.raises(InstanceError) as e:
        read_solomon(write(tmp_path, text))
    assert f"inst.txt:{n}:" in str(e.value) and expect in str(e.value)


def test_table_cut_mid_row_is_rejected_with_its_line(tmp_path):
    text = solomon_text(12).rstrip("\n")
    cut = text[: text.rfind(" ", 0, len(text) - 12)]  # last row loses its last fields
    n = len(cut.splitlines())
    with pytest.raises(InstanceError) as e:
        read_solomon(write(tmp_path, cut + "\n"))
    assert f"inst.txt:{n}:" in str(e.value) and "expected 7 fields" in str(e.value)


@pytest.mark.parametrize("text, expect", [
    ("", "empty file"),
    ("\n  \n", "empty file"),
    ("hello world\nthis is not a routing instance\n", "not a Solomon instance"),
    ('{"format": "fleetstream-routing/1", "vehicles": [', "not valid JSON"),
    ('{"format": "other"}', "format must be"),
    ('{"format": "fleetstream-routing/1", "vehicles": [{"start": [0, 0]}], "jobs": []}', "missing field"),
])
def test_bad_files_are_one_clear_error(tmp_path, text, expect):
    path = write(tmp_path, text, "bad.json" if text.startswith("{") else "bad.txt")
    with pytest.raises(InstanceError) as e:
        read_instance(path)
    assert expect in str(e.value)


@pytest.mark.parametrize("text", ["", "not a routing instance\n", solomon_text(5).replace("    3 ", "    3b ", 1)])
def test_plan_bad_input_exits_2_with_one_line(tmp_path, capsys, text):
    assert main([write(tmp_path, text), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("fleetstream plan: error:") and "Traceback" not in err[0]


def test_plan_missing_file_and_bad_option_exit_2(tmp_path, capsys):
    assert main([str(tmp_path / "nope.txt"), "-q"]) == 2
    with pytest.raises(SystemExit) as e:
        main([write(tmp_path, solomon_text(5)), "--backend", "gurobi"])
    assert e.value.code == 2


def test_help_documents_exit_codes(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "0  every customer served" in out and "2  bad input" in out and "3  infeasible" in out


def unreachable_text() -> str:
    """12 customers; customer 5's window closes before anyone can get there."""
    text = solomon_text(12, seed=3)
    lines = text.splitlines()
    k = line_of(text, "5") - 1
    f = lines[k].split()
    f[4], f[5] = "0", "1"  # due date 1: the depot is at least 1 away
    lines[k] = "    " + "  ".join(f)
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("backend", ["pyvrp", "ortools"])
def test_unreachable_customer_is_left_out_and_the_rest_planned(tmp_path, backend):
    p = read_solomon(write(tmp_path, unreachable_text()))
    res = plan(p, Budget(solution_limit=50, iterations=300), scale=10.0, backend=backend)
    assert [u.job_id for u in res.unassigned] == ["5"]
    assert res.unassigned[0].reasons[0]["constraint"] == "time_window"
    assert "window ends at 1" in res.unassigned[0].reasons[0]["text"]
    routed = sorted(int(s[0]) for st in res.routes.values() for s in st)
    assert routed == [i for i in range(1, 13) if i != 5]
    rep = check_plan(p, res.routes, ["5"])
    assert [v.constraint for v in rep.violations] == ["missing"]  # only the left-out customer
    assert res.stats["unreachable"] == ["5"]


@pytest.mark.parametrize("backend", ["pyvrp", "ortools"])
def test_plan_exit_codes_feasible_0_infeasible_3(tmp_path, capsys, backend):
    ok = write(tmp_path, solomon_text(12, seed=3), "ok.txt")
    out = tmp_path / "plan.json"
    args = ["--backend", backend, "--iterations", "300", "--solution-limit", "50", "-q"]
    assert main([ok, *args, "--out", str(out)]) == 0
    assert orjson.loads(out.read_bytes())["exit_code"] == 0
    bad = write(tmp_path, unreachable_text(), "unreach.txt")
    assert main([bad, *args, "--out", str(out)]) == 3
    d = orjson.loads(out.read_bytes())
    assert d["left_out_mandatory"] == ["5"] and d["exit_code"] == 3
    assert sum(len(r) for r in d["routes"].values()) == 11
    assert main([bad, "--backend", backend, "--iterations", "300", "--solution-limit", "50"]) == 3
    printed = capsys.readouterr().out
    assert "1 mandatory customer(s) left out" in printed and "unassigned 5: time_window" in printed


def test_too_few_vehicles_still_plans_the_rest(tmp_path):
    """No plan serves everyone (one vehicle, capacity for half the demand): the
    mandatory customers become optional at a large penalty and the rest is planned."""
    p = read_solomon(write(tmp_path, solomon_text(12, seed=3, veh=1, cap=100)))
    res = plan(p, Budget(iterations=300), backend="pyvrp")
    assert res.stats["relaxed"] is True
    assert res.unassigned and sum(len(s) for s in res.routes.values()) > 0
    rep = check_plan(p, res.routes, [u.job_id for u in res.unassigned])
    assert {v.constraint for v in rep.violations} == {"missing"}


def gh_text(n: int = 200) -> str:
    rng = random.Random(7)
    rows = ["    0      250        250          0          0       1824          0"]
    for i in range(1, n + 1):
        r, a = 200 * math.sqrt(rng.random()), rng.random() * 2 * math.pi
        x, y = int(250 + r * math.cos(a)), int(250 + r * math.sin(a))
        rows.append(f"{i:5d} {x:8d} {y:10d} {rng.randint(5, 40):10d} {0:10d} {1700:10d} {90:10d}")
    return HEAD.format(name="C1_2_1", veh=50, cap=200) + "\n".join(rows) + "\n"


def test_gehring_homberger_reader(tmp_path):
    path = write(tmp_path, gh_text(200), "C1_2_1.txt")
    p = read_gehring_homberger(path)
    assert len(p.jobs) == 200 and len(p.vehicles) == 50 and p.n_nodes == 201
    assert p.vehicles[0].id == "C1_2_1-v1" and p.vehicles[0].shift_end == 1824.0
    assert p.dist[0][1] == math.floor(math.dist(p.points[0], p.points[1]) * 10) / 10
    bad = gh_text(200).replace("  150 ", "  15O ", 1)
    with pytest.raises(InstanceError, match="customer id '15O'"):
        read_gehring_homberger(write(tmp_path, bad, "bad.txt"))
