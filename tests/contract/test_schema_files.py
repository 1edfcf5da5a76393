"""The committed docs/schemas/*.json and docs/topics.md are what the code generates,
`fleetstream schemas --check` notices any drift, and docs/topics.md documents every
field of every topic (name, type, unit, required/optional, meaning)."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil

import jsonschema
import orjson
import pytest

from fleetstream.contract import events as ev
from fleetstream.contract import outputs as out
from fleetstream import schemas
from fleetstream.cli import main as cli_main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCHEMA_DIR = os.path.join(ROOT, "docs", "schemas")
TOPICS_MD = os.path.join(ROOT, "docs", "topics.md")
ALL_TOPICS = list(ev.INPUT_TOPICS) + list(out.OUTPUT_TOPICS)


def test_committed_schemas_and_topics_md_equal_the_generated_ones():
    """Run `fleetstream schemas` and commit the result when this fails."""
    assert schemas.differences(SCHEMA_DIR, TOPICS_MD) == []
    assert sorted(os.listdir(SCHEMA_DIR)) == sorted(f"{t}.json" for t in ALL_TOPICS)


@pytest.mark.parametrize("topic", ALL_TOPICS)
def test_committed_schema_is_valid_2020_12_and_stable_bytes(topic):
    path = os.path.join(SCHEMA_DIR, f"{topic}.json")
    with open(path, "rb") as f:
        data = f.read()
    schema = orjson.loads(data)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == topic
    assert schema["$id"] == out.schema_id(topic) and schema["$id"].endswith(":" + topic)
    # sorted keys, 2-space indent, one trailing newline
    assert data == orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    assert data.endswith(b"}\n") and not data.endswith(b"\n\n")


def test_input_schema_lists_every_event_type_and_field():
    for topic in ev.INPUT_TOPICS:
        s = schemas.input_schema(topic)
        types = [c.TYPE for c in ev.EVENT_TYPES.values() if c.TOPIC == topic]
        assert s["properties"]["type"]["enum"] == types
        for t in types:
            cls = ev.EVENT_TYPES[t]
            d = s["$defs"][t]
            names = {f.name for f in dataclasses.fields(cls)}
            assert set(d["properties"]) == names | {"type"}
            required = {f.name for f in dataclasses.fields(cls) if not f.metadata["optional"]}
            assert set(d["required"]) == required | {"type"}


def test_output_schema_is_the_declared_fields():
    for topic in out.OUTPUT_TOPICS:
        s = schemas.all_schemas()[topic]
        assert list(s["properties"]) == [f[0] for f in out.FIELDS[topic]]
        assert s["required"] == [f[0] for f in out.FIELDS[topic] if f[2]]


def test_check_command_passes_on_the_committed_files(capsys):
    """Schemas, topics.md and asyncapi.yaml (the examples against a replay are
    checked in test_asyncapi.py, which shares one replay)."""
    rc = cli_main(["schemas", "--check", "--no-replay", "--out", SCHEMA_DIR, "--docs", TOPICS_MD,
                   "--asyncapi", os.path.join(ROOT, "docs", "asyncapi.yaml"),
                   "--examples", os.path.join(ROOT, "docs", "examples")])
    assert rc == 0, capsys.readouterr().err


def test_check_command_lists_every_difference_and_write_repairs(tmp_path, capsys):
    """A changed, a missing and a stale schema file and a stale topics.md are all
    reported (exit 1); `fleetstream schemas` then rewrites exactly those files."""
    sdir, docs = tmp_path / "schemas", tmp_path / "topics.md"
    shutil.copytree(SCHEMA_DIR, sdir)
    shutil.copy(TOPICS_MD, docs)
    (sdir / "fs.eta.json").write_bytes(b'{"title": "fs.eta"}\n')
    (sdir / "fs.fleet.json").unlink()
    (sdir / "fs.old_topic.json").write_bytes(b"{}\n")
    docs.write_text(docs.read_text().replace("`speed_kmh`", "`speed`"))

    only = ["--asyncapi", "", "--examples", ""]
    rc = cli_main(["schemas", "--check", "--out", str(sdir), "--docs", str(docs)] + only)
    err = capsys.readouterr().err
    assert rc == 1
    assert f"differs: {sdir / 'fs.eta.json'}" in err
    assert f"missing: {sdir / 'fs.fleet.json'}" in err
    assert f"stale (no such topic): {sdir / 'fs.old_topic.json'}" in err
    assert f"differs: {docs}" in err and "speed_kmh" in err
    assert "fs.telemetry.json" not in err  # untouched files are not listed

    assert cli_main(["schemas", "--out", str(sdir), "--docs", str(docs)] + only) == 0
    written = capsys.readouterr().out
    assert "fs.eta.json" in written and "fs.fleet.json" in written
    assert "fs.telemetry.json" not in written
    assert not (sdir / "fs.old_topic.json").exists()
    assert cli_main(["schemas", "--check", "--out", str(sdir), "--docs", str(docs)] + only) == 0
    for t in ALL_TOPICS:
        assert (sdir / f"{t}.json").read_bytes() == open(
            os.path.join(SCHEMA_DIR, f"{t}.json"), "rb").read()


def test_generation_is_deterministic():
    a = schemas.generate("d", "t.md")
    b = schemas.generate("d", "t.md")
    assert a == b and len(a) == len(ALL_TOPICS) + 1


# ------------------------------------------------------------------ docs/topics.md


def _sections(md: str) -> dict[tuple[str, str], dict[str, list[str]]]:
    """(topic, event type or '') -> field -> table cells, parsed from the markdown."""
    out_: dict[tuple[str, str], dict[str, list[str]]] = {}
    topic, etype, table = "", "", ""
    for line in md.splitlines():
        if line.startswith("| ") and not line.startswith("| `"):
            table = line.split("|")[1].strip()  # the header of the table that follows
        if m := re.match(r"^### (fs\.\w+)\s*$", line):
            topic, etype = m.group(1), ""
        elif line.startswith("### "):
            topic, etype = "", ""
        elif m := re.match(r"^#### `(\w+)`\s*$", line):
            etype = m.group(1)
        elif m := re.match(r"^#### (\w+)\s*$", line):  # a nested object: class name
            topic, etype = "nested", m.group(1)
        elif line.startswith("## "):
            topic, etype = ("", "common") if "common fields" in line else ("", "")
        elif ((m := re.match(r"^\| `(\w+)` \|(.*)\|\s*$", line)) and (topic or etype)
              and table == "field"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", m.group(2))]
            out_.setdefault((topic, etype), {})[m.group(1)] = cells
    return out_


@pytest.fixture(scope="module")
def topics_md() -> dict:
    with open(TOPICS_MD, encoding="utf-8") as f:
        return _sections(f.read())


def _check_row(cells: list[str], required: bool, doc: str, unit_expected: bool) -> None:
    typ, unit, req, meaning = cells
    assert typ, "type column empty"
    assert req == ("required" if required else "optional")
    assert " ".join(doc.split()).replace("|", "\\|") in meaning
    if unit_expected:
        assert unit not in ("", "-"), "numeric field without a unit"


def test_topics_md_documents_every_input_field(topics_md):
    common = {f.name for f in dataclasses.fields(ev.Event)}
    rows = topics_md[("", "common")]
    assert set(rows) == common | {"type"}
    for name in common:
        f = {f.name: f for f in dataclasses.fields(ev.Event)}[name]
        _check_row(rows[name], True, f.metadata["doc"], name == "ts")
    for t, cls in ev.EVENT_TYPES.items():
        rows = topics_md.get((cls.TOPIC, t))
        assert rows is not None, f"no section for {cls.TOPIC} / {t}"
        own = [f for f in dataclasses.fields(cls) if f.name not in common]
        assert set(rows) == {f.name for f in own}, t
        for f in own:
            numeric = schemas.field_unit(f.name, f.metadata["schema"]) != "-"
            _check_row(rows[f.name], not f.metadata["optional"], f.metadata["doc"], numeric)


def test_topics_md_documents_every_output_field(topics_md):
    for topic in out.OUTPUT_TOPICS:
        rows = topics_md.get((topic, ""))
        assert rows is not None, topic
        assert set(rows) == {f[0] for f in out.FIELDS[topic]}, topic
        for name, typ, req, doc in out.FIELDS[topic]:
            numeric = (typ if isinstance(typ, str) else typ.get("type")) in ("number", "integer")
            _check_row(rows[name], req, doc, numeric and name not in ("v", "partition",
                                                                        "offset"))


def test_topics_md_names_keys_prefixes_and_versioning():
    with open(TOPICS_MD, encoding="utf-8") as f:
        md = f.read()
    for t in ev.INPUT_TOPICS:
        keys = {c.KEY for c in ev.EVENT_TYPES.values() if c.TOPIC == t}
        line = next(x for x in md.splitlines() if x.startswith(f"| `{t}` | input"))
        assert all(f"`{k}`" in line for k in keys) and "{topic_prefix}" in line
    for t in out.OUTPUT_TOPICS:
        line = next(x for x in md.splitlines() if x.startswith(f"| `{t}` | output"))
        assert f"`{out.KEYS[t]}`" in line and "{topic_prefix}{output_prefix}" in line
    assert "## Contract and versioning" in md
    assert f"`v` = {ev.SCHEMA_VERSION}" in md
    for rule in schemas.CROSS_FIELD_RULES.values():
        assert all(r in md for r in rule["rules"])


def test_every_numeric_field_has_a_unit():
    """A numeric field added without an entry in schemas.UNITS fails generation."""
    with pytest.raises(KeyError, match="no unit"):
        schemas.field_unit("new_distance", {"type": "number"})
    for cls in ev.EVENT_TYPES.values():
        for row in schemas.event_fields(cls):
            kind = row["schema"].get("type")
            if kind in ("number", "integer") or "oneOf" in row["schema"]:
                assert row["unit"] != "-" or row["name"] == "v", (cls.TYPE, row["name"])


def test_topics_md_documents_every_nested_field(topics_md):
    """Every typed object of the outputs (explanations, reasons, alternatives, alert
    details, route stops, models) has a table with every field and its meaning."""
    from fleetstream.contract import details as dt
    from fleetstream.topics_doc import _classes_in
    seen: list[type] = []
    for topic in out.OUTPUT_TOPICS:
        for _n, typ, _r, _d in out.FIELDS[topic]:
            _classes_in(typ, seen)
    for spec in dt.DECISION_EXPLANATIONS.values():
        for c in spec.reasons + ((spec.alternatives,) if spec.alternatives else ()):
            _classes_in({"$class": c}, seen)
    for c in dt.ALERT_DETAILS.values():
        _classes_in({"$class": c}, seen)
    assert dt.Explanation in seen and dt.RouteStop in seen and dt.DetailsDrift in seen
    for cls in seen:
        fields = dataclasses.fields(cls)
        if not fields:
            continue
        rows = topics_md.get(("nested", cls.__name__))
        assert rows is not None, f"no table for {cls.__name__}"
        assert set(rows) == {f.name for f in fields}, cls.__name__
        for f in fields:
            assert f.metadata["doc"].strip(), (cls.__name__, f.name)
            _check_row(rows[f.name], not f.metadata["optional"], f.metadata["doc"], False)
