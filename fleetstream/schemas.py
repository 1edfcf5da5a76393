"""``fleetstream schemas``: JSON Schemas (draft 2020-12) and the topic reference.

Everything here is generated from the declarations in the code, never written
by hand:

- input topics from the event dataclasses in :mod:`fleetstream.contract.events` (each
  field's ``schema``, ``doc`` and ``optional`` metadata, its default, the
  event's ``TOPIC`` and ``KEY``);
- output topics from :data:`fleetstream.contract.outputs.FIELDS` via
  :func:`fleetstream.contract.outputs.output_schema` and :data:`fleetstream.contract.outputs.KEYS`.

``fleetstream schemas`` writes ``docs/schemas/<topic>.json`` (one file per
topic, sorted keys, 2-space indent, trailing newline) and ``docs/topics.md``;
``fleetstream schemas --check`` writes nothing and exits 1, listing every
difference, when the committed files are not what the code generates.

>>> s = input_schema("fs.telemetry")
>>> s["$defs"]["ping"]["required"]
['event_id', 'heading', 'lat', 'lon', 'speed_kmh', 'ts', 'type', 'v', 'vehicle_id']
>>> s["$defs"]["ping"]["properties"]["battery_pct"]["anyOf"][1]
{'type': 'null'}
>>> sorted(all_schemas())[:3]
['fs.alerts', 'fs.approvals', 'fs.conditions']
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import os
import sys
from typing import Any

import orjson

from fleetstream.contract import events as ev
from fleetstream.contract import outputs as out

DRAFT = "https://json-schema.org/draft/2020-12/schema"
ORJSON_OPTS = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS

# RFC 3339 date-time with an explicit offset.  The ``date-time`` format is only
# enforced by validators that ship a format checker (jsonschema needs the optional
# rfc3339-validator package); the pattern makes every validator reject naive times,
# as fleetstream.contract.events.parse_ts does.
RFC3339_OFFSET_PATTERN = (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}"
                          r"(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$")

# Rules between fields that a JSON Schema cannot express (or only partly): the
# validator enforces them in fleetstream.contract.events (_cross checks).  ``if_then`` is
# the part a schema can carry.  A test checks that every cross check in the code
# has an entry here.
CROSS_FIELD_RULES: dict[str, dict[str, Any]] = {
    "order_created": {
        "rules": ["window_end must be after window_start",
                  "kind on_demand requires pickup"],
        "if_then": [({"properties": {"kind": {"const": "on_demand"}}, "required": ["kind"]},
                     {"required": ["pickup"],
                      "properties": {"pickup": {"type": "object"}}})],
    },
    "condition": {"rules": ["end_ts must be after start_ts"]},
    "shift_start": {"rules": ["shift_end_ts must be after ts"]},
}

EPOCH = "epoch s (UTC)"
# Unit of every numeric field that is not a timestamp, point, area or dimension
# object (those carry their own).  Generation fails on a numeric field missing
# here, so a new field cannot ship without its unit.
UNITS: dict[str, str] = {
    # inputs
    "v": "-", "lat": "deg (WGS84)", "lon": "deg (WGS84)", "speed_kmh": "km/h",
    "heading": "deg from north", "odometer_km": "km", "battery_pct": "%",
    "cost_per_km": "currency/km", "cost_per_hour": "currency/h",
    "cost_per_stop": "currency/stop", "fixed_cost": "currency", "max_route_s": "s",
    "service_s": "s", "pickup_service_s": "s", "priority": "tier", "value": "currency",
    "factor": "multiplier",
    # outputs
    "ts": EPOCH, "eta": EPOCH, "lo80": EPOCH, "hi80": EPOCH, "lo95": EPOCH,
    "hi95": EPOCH, "window_start": EPOCH, "window_end": EPOCH,
    "stops_ahead": "stops", "p_late": "probability (0-1)", "seq": "position",
    "partition": "-", "offset": "-",
}
DIM_UNITS = {"weight_kg": "kg", "volume_l": "l", "count": "stops"}


# --------------------------------------------------------------------------
# Input schemas.


def _is_ts(frag: dict) -> bool:
    return any(b.get("format") == "date-time" for b in frag.get("oneOf", ()))


def _is_area(frag: dict) -> bool:
    return "radius_m" in frag.get("properties", {})


def _is_point(frag: dict) -> bool:
    return frag.get("type") == "object" and set(frag.get("required", ())) == {"lat", "lon"}


def _is_dims(frag: dict) -> bool:
    return frag.get("type") == "object" and frag.get("additionalProperties") is False


def field_unit(name: str, frag: dict) -> str:
    """Unit of a field, from its kind or :data:`UNITS`; ``-`` for non-numeric fields.

    >>> field_unit("window_end", ev.f_ts("x").metadata["schema"])
    'epoch s (UTC)'
    >>> field_unit("speed_kmh", {"type": "number"})
    'km/h'
    """
    if _is_ts(frag):
        return EPOCH
    if _is_area(frag):
        return "deg (WGS84), radius m"
    if _is_point(frag):
        return "deg (WGS84)"
    if _is_dims(frag):
        return ", ".join(f"{k} {DIM_UNITS[k]}" for k in frag["properties"])
    if frag.get("type") in ("number", "integer"):
        if name not in UNITS:
            raise KeyError(f"field {name!r} is numeric but has no unit in "
                           "fleetstream.schemas.UNITS")
        return UNITS[name]
    return "-"


def _wire_fragment(frag: dict) -> dict:
    """The metadata schema fragment as it constrains the wire value."""
    frag = _deep_copy(frag)
    if _is_ts(frag):
        for b in frag["oneOf"]:
            if b.get("format") == "date-time":
                b["pattern"] = RFC3339_OFFSET_PATTERN
    return frag


def _deep_copy(x: Any) -> Any:
    return orjson.loads(orjson.dumps(x))


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return None


def event_fields(cls: type[ev.Event]) -> list[dict[str, Any]]:
    """Per field of an event class: name, schema fragment, doc, optional, default, unit."""
    rows = []
    for f in dataclasses.fields(cls):
        m = f.metadata
        rows.append({"name": f.name, "schema": m["schema"], "doc": m["doc"],
                     "optional": m["optional"], "default": _default(f),
                     "unit": field_unit(f.name, m["schema"])})
    return rows


def _first_paragraph(doc: str | None) -> str:
    if not doc:
        return ""
    return " ".join(doc.strip().split("\n\n")[0].split())


def event_schema(cls: type[ev.Event]) -> dict:
    """The schema of one event type (without ``$schema``: it lives in ``$defs``)."""
    props: dict[str, Any] = {"type": {"const": cls.TYPE, "description": "Event type."}}
    required = ["type"]
    for row in event_fields(cls):
        frag = _wire_fragment(row["schema"])
        desc = row["doc"] if row["doc"].endswith(".") else row["doc"] + "."
        if row["unit"] != "-":
            desc += f" Unit: {row['unit']}."
        if row["optional"]:
            s: dict[str, Any] = {"anyOf": [frag, {"type": "null"}], "description": desc}
            if row["default"] not in (None, [], {}):
                s["default"] = row["default"]
        else:
            s = {**frag, "description": desc}
            required.append(row["name"])
        props[row["name"]] = s
    schema: dict[str, Any] = {
        "title": cls.TYPE,
        "type": "object",
        "required": sorted(required),
        "properties": props,
    }
    doc = _first_paragraph(cls.__doc__) if cls.__doc__ != ev.Event.__doc__ else ""
    # dataclasses give undocumented classes a signature docstring: skip those.
    if doc and not doc.startswith(cls.__name__ + "("):
        schema["description"] = doc
    cross = CROSS_FIELD_RULES.get(cls.TYPE)
    if cross:
        schema["$comment"] = ("Cross-field rules (enforced by fleetstream.contract.events): "
                              + "; ".join(cross["rules"]) + ".")
        if cross.get("if_then"):
            schema["allOf"] = [{"if": i, "then": t} for i, t in cross["if_then"]]
    return schema


def event_types_on(topic: str) -> list[type[ev.Event]]:
    return [c for c in ev.EVENT_TYPES.values() if c.TOPIC == topic]


def input_schema(topic: str) -> dict:
    """The schema of an input topic: a message is an object whose ``type`` picks one
    of the topic's event schemas (``$defs``).  Unknown fields are allowed (ignored)."""
    classes = event_types_on(topic)
    if not classes:
        raise KeyError(f"unknown input topic {topic!r}")
    keys = sorted({c.KEY for c in classes})
    return {
        "$schema": DRAFT,
        "title": topic,
        "description": (f"Input topic {topic} (message key: {', '.join(keys)}). "
                        f"Schema version {ev.SCHEMA_VERSION}; fields not listed are ignored."),
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"enum": [c.TYPE for c in classes]}},
        "allOf": [{"if": {"properties": {"type": {"const": c.TYPE}}, "required": ["type"]},
                   "then": {"$ref": f"#/$defs/{c.TYPE}"}} for c in classes],
        "$defs": {c.TYPE: event_schema(c) for c in classes},
    }


def output_topic_schema(topic: str) -> dict:
    """fleetstream.contract.outputs.output_schema plus the topic's key in the description."""
    s = out.output_schema(topic)
    s["description"] = (f"Output topic {topic} (message key: {out.KEYS[topic]}). "
                        f"Schema version {out.OUTPUT_SCHEMA_VERSION}; consumers must "
                        "ignore fields they do not know.")
    return s


def all_schemas() -> dict[str, dict]:
    """Topic name -> JSON Schema, for every input and output topic."""
    s = {t: input_schema(t) for t in ev.INPUT_TOPICS}
    s.update({t: output_topic_schema(t) for t in out.OUTPUT_TOPICS})
    return s


def render(schema: dict) -> bytes:
    """Stable bytes: sorted keys, 2-space indent, trailing newline."""
    return orjson.dumps(schema, option=ORJSON_OPTS) + b"\n"


# --------------------------------------------------------------------------
# docs/topics.md


def type_label(frag: dict) -> str:
    """A short human-readable type, with bounds.

    >>> type_label({"type": "number", "minimum": 0, "maximum": 250})
    'number, 0 to 250'
    >>> type_label({"type": "string", "enum": ["a", "b"]})
    'one of `a`, `b`'
    """
    if _is_ts(frag):
        return "timestamp: number or RFC 3339 string with offset"
    if _is_area(frag):
        return "object {lat, lon, radius_m > 0}"
    if _is_point(frag):
        return "object {lat, lon}"
    if _is_dims(frag):
        keys = [k + ("" if k in frag["required"] else "?") for k in frag["properties"]]
        return "object {" + ", ".join(keys) + "}, each >= 0"
    t = frag.get("type")
    if "enum" in frag:
        return "one of " + ", ".join(f"`{x}`" for x in frag["enum"])
    if t == "array":
        items = frag.get("items", {})
        inner = ("`" + "`, `".join(items["enum"]) + "`") if "enum" in items else items.get(
            "type", "any")
        cap = f", at most {frag['maxItems']}" if "maxItems" in frag else ""
        return f"list of {inner}{cap}"
    if t in ("number", "integer"):
        lo = frag.get("minimum", frag.get("exclusiveMinimum"))
        hi = frag.get("maximum")
        if lo is not None and hi is not None:
            if lo == hi:
                return f"{t}, = {lo:g}"
            return f"{t}, {lo:g} to {hi:g}"
        if lo is not None:
            return f"{t}, {'>' if 'exclusiveMinimum' in frag else '>='} {lo:g}"
        return t
    if t == "string" and "maxLength" in frag:
        return f"string, {frag.get('minLength', 0)} to {frag['maxLength']} chars"
    return str(t)


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _kafka_name(topic: str, output: bool) -> str:
    return ("{topic_prefix}{output_prefix}" if output else "{topic_prefix}") + topic


_INTRO = """\
# Topics

<!-- Generated by `fleetstream schemas` from fleetstream/events.py,
fleetstream/outputs.py and fleetstream/schemas.py. Do not edit by hand:
change the code and run `fleetstream schemas`; `fleetstream schemas --check`
(and tests/contract) fail when this file is stale. -->

Every message is one JSON object (UTF-8, orjson). The JSON Schemas
(draft 2020-12) are in [schemas/](schemas/), one file per topic. Units: times
are event time in epoch seconds UTC unless a field says otherwise, durations
in seconds, distances in km or metres as named, positions WGS84 degrees.

## Topic names, keys and partitioning

Live, the Kafka topic name is the name below with `kafka.topic_prefix` in
front; output topics also get `kafka.output_prefix` (shadow mode publishes
under e.g. `shadow.`), see [configuration.md](configuration.md). With
`topic_prefix = "acme."` and `output_prefix = "shadow."` the telemetry topic is
`acme.fs.telemetry` and decisions go to `acme.shadow.fs.decisions`. In a
replay folder the same messages are lines of `events.jsonl.gz`
(`{"topic", "key", "value"}`, or `value_b64` for bytes that are not UTF-8),
and a replay writes one `<out>/<topic>.jsonl` per output topic.
"""

_PARTITIONING = """\

- `fleetstream topics create` creates every input topic with the same
  partition count (`kafka.partitions`, default 4), so Kafka's default
  partitioner (murmur2 of the key) puts a vehicle's `fs.telemetry` and
  `fs.fleet` messages on the same partition index. `fs.customers` is
  compacted (last profile per customer wins).
- Stage 1 (`operators/tracker.py`, `PartitionTracker`) is keyed by input
  partition index: it drops duplicate event ids and stale pings and learns the
  zone of every vehicle (from `shift_start`) and order (from `order_created`).
  Stage 2 (`operators/zone/engine.py`) is keyed by `zone`; zones scale out
  across workers. A replay is one ordered partition. See
  [architecture.md](architecture.md) for why stage 1 is keyed by partition
  rather than by vehicle.
- Events for a vehicle or order whose zone is not known yet go to `fs.dlq`
  (stage `track`); duplicates and stale pings are counted and dropped.
- Output keys are the field named in the table, so a consumer reading one
  zone's decisions, or one order's ETAs, reads one partition in order.
"""

_COMMON = """\
## Input events: common fields

Every input event carries these; the type's own fields follow in its table.
`required` means the field must be present and not `null`; an optional field
may be absent or `null` (its default then applies).
"""

_CONTRACT = f"""\
## Contract and versioning

- **Version.** Input events carry `v` = {ev.SCHEMA_VERSION}
  (`fleetstream.contract.events.SCHEMA_VERSION`); outputs carry `v` =
  {out.OUTPUT_SCHEMA_VERSION} (`fleetstream.contract.outputs.OUTPUT_SCHEMA_VERSION`). The
  validator rejects an input with any other `v`.
- **Unknown fields are ignored**, on input (the validator drops them) and by
  output consumers (they must). The schemas therefore allow additional
  properties, except inside dimension objects (`capacity`, `size`), where an
  unknown dimension is an error because it would be silently unconstrained.
- **Timestamps**: canonical form is epoch seconds UTC as a number; an RFC 3339
  string with an explicit offset is accepted on input. Naive times are
  rejected. Outputs always use epoch seconds.
- **Integers** (`v`, `priority`) must be written without a fraction part
  (`1`, not `1.0`).
- **Evolving the contract** (additive changes keep `v`):
  1. add an *optional* field (with a default) to the event dataclass in
     `fleetstream/events.py`, or an entry with `required = False` in
     `fleetstream/outputs.py`; old producers and consumers keep working;
  2. run `fleetstream schemas` and commit `docs/schemas/*.json` and this file;
  3. anything else (a new required field, a removed or renamed field, a
     changed type, unit or meaning, a narrower range) is a breaking change:
     bump the version, accept both versions on input for a migration period,
     and publish the new version's outputs beside the old ones (for example
     under a new `kafka.output_prefix`) until consumers have moved.
- Rules between fields that a JSON Schema cannot express are listed in each
  event's schema (`$comment`) and below its table; the validator
  (`fleetstream.contract.events.validate`) enforces them and names the field in its
  error.
- `fleetstream schemas --check` and `tests/contract/` fail when the committed
  schemas or this file differ from the code.
"""


def topics_markdown() -> str:
    """The full text of docs/topics.md."""
    lines = [_INTRO]
    lines.append("| topic | direction | Kafka name | key | carries |")
    lines.append("|---|---|---|---|---|")
    for t in ev.INPUT_TOPICS:
        classes = event_types_on(t)
        keys = ", ".join(sorted({f"`{c.KEY}`" for c in classes}))
        lines.append(f"| `{t}` | input | `{_kafka_name(t, False)}` | {keys} | "
                     + ", ".join(f"`{c.TYPE}`" for c in classes) + " |")
    for t in out.OUTPUT_TOPICS:
        lines.append(f"| `{t}` | output | `{_kafka_name(t, True)}` | `{out.KEYS[t]}` | "
                     f"see [{t}](#{t.replace('.', '')}) |")
    lines.append(_PARTITIONING)
    lines.append(_COMMON)
    common = {f.name for f in dataclasses.fields(ev.Event)}
    lines += _field_table([{"name": "type", "type": "string", "unit": "-", "req": True,
                            "doc": "Event type; fixes the topic it may arrive on."}]
                          + [_row(r) for r in event_fields(ev.Event)])
    lines.append("")
    lines.append("## Input topics\n")
    for t in ev.INPUT_TOPICS:
        lines.append(f"### {t}\n")
        classes = event_types_on(t)
        keys = sorted({c.KEY for c in classes})
        lines.append(f"Key: `{', '.join(keys)}`. Schema: [schemas/{t}.json](schemas/{t}.json).\n")
        for c in classes:
            lines.append(f"#### `{c.TYPE}`\n")
            doc = event_schema(c).get("description")
            if doc:
                lines.append(_cell(doc) + "\n")
            rows = [_row(r) for r in event_fields(c) if r["name"] not in common]
            lines += _field_table(rows)
            cross = CROSS_FIELD_RULES.get(c.TYPE)
            if cross:
                lines.append("")
                lines.append("Cross-field rules: " + "; ".join(cross["rules"]) + ".")
            lines.append("")
    lines.append("## Output topics\n")
    lines.append("Every output record has `ts` (event time of the decision, never wall "
                 "clock) and `v`. Ids are deterministic: a replay or a restart emits the "
                 "same ids, so consumers can dedupe.\n")
    for t in out.OUTPUT_TOPICS:
        lines.append(f"### {t}\n")
        lines.append(f"Key: `{out.KEYS[t]}`. Schema: [schemas/{t}.json](schemas/{t}.json).\n")
        rows = []
        for name, typ, req, doc in out.FIELDS[t]:
            frag = {"type": typ} if isinstance(typ, str) else typ
            rows.append({"name": name, "type": type_label(frag),  # type: ignore[arg-type]
                         "unit": field_unit(name, frag), "req": req,  # type: ignore[arg-type]
                         "doc": doc})
        lines += _field_table(rows)
        lines.append("")
    lines.append(_CONTRACT)
    return "\n".join(lines)


def _row(r: dict) -> dict:
    doc = r["doc"]
    if r["optional"] and r["default"] not in (None, [], {}):
        doc += f" Default `{orjson.dumps(r['default']).decode()}`."
    return {"name": r["name"], "type": type_label(r["schema"]), "unit": r["unit"],
            "req": not r["optional"], "doc": doc}


def _field_table(rows: list[dict]) -> list[str]:
    out_ = ["| field | type | unit | required | meaning |", "|---|---|---|---|---|"]
    for r in rows:
        out_.append(f"| `{r['name']}` | {_cell(r['type'])} | {_cell(r['unit'])} | "
                    f"{'required' if r['req'] else 'optional'} | {_cell(r['doc'])} |")
    return out_


# --------------------------------------------------------------------------
# Files and command.


def generate(schema_dir: str, docs_path: str | None) -> dict[str, bytes]:
    """Path -> bytes of every generated file."""
    files = {os.path.join(schema_dir, f"{t}.json"): render(s) for t, s in all_schemas().items()}
    if docs_path:
        files[docs_path] = topics_markdown().encode("utf-8")
    return files


def differences(schema_dir: str, docs_path: str | None, context: int = 20) -> list[str]:
    """What differs between the files on disk and the generated ones (empty: none)."""
    want = generate(schema_dir, docs_path)
    diffs = []
    for path, data in sorted(want.items()):
        try:
            with open(path, "rb") as f:
                have = f.read()
        except FileNotFoundError:
            diffs.append(f"missing: {path}")
            continue
        if have != data:
            d = list(difflib.unified_diff(have.decode("utf-8", "replace").splitlines(),
                                          data.decode("utf-8").splitlines(),
                                          f"{path} (committed)", f"{path} (generated)",
                                          lineterm="", n=1))
            more = f"\n  ... {len(d) - context} more diff lines" if len(d) > context else ""
            diffs.append(f"differs: {path}\n  " + "\n  ".join(d[:context]) + more)
    if os.path.isdir(schema_dir):
        for name in sorted(os.listdir(schema_dir)):
            p = os.path.join(schema_dir, name)
            if name.endswith(".json") and p not in want:
                diffs.append(f"stale (no such topic): {p}")
    return diffs


def write(schema_dir: str, docs_path: str | None) -> list[str]:
    """Write every generated file; remove stale schema files.  Returns paths changed."""
    os.makedirs(schema_dir, exist_ok=True)
    changed = []
    want = generate(schema_dir, docs_path)
    for path, data in sorted(want.items()):
        try:
            with open(path, "rb") as f:
                if f.read() == data:
                    continue
        except FileNotFoundError:
            pass
        d = os.path.dirname(path)
        if d:
            os.makedirs(d, exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        changed.append(path)
    for name in sorted(os.listdir(schema_dir)):
        p = os.path.join(schema_dir, name)
        if name.endswith(".json") and p not in want:
            os.remove(p)
            changed.append(p)
    return changed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="fleetstream schemas", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="docs/schemas", help="schema folder (default docs/schemas)")
    ap.add_argument("--docs", default="docs/topics.md",
                    help="topic reference to write or check (default docs/topics.md; "
                    "'' to skip)")
    ap.add_argument("--check", action="store_true",
                    help="write nothing; exit 1 listing differences if files are stale")
    a = ap.parse_args(argv)
    docs = a.docs or None
    if a.check:
        diffs = differences(a.out, docs)
        for d in diffs:
            print(d, file=sys.stderr)
        if diffs:
            print(f"{len(diffs)} file(s) out of date: run `fleetstream schemas --out {a.out}"
                  + (f" --docs {docs}`" if docs else " --docs ''`"), file=sys.stderr)
            return 1
        print(f"schemas in {a.out}" + (f" and {docs}" if docs else "") + " are up to date")
        return 0
    changed = write(a.out, docs)
    print(f"{len(changed)} file(s) written" + "".join(f"\n  {p}" for p in changed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
