"""``fleetstream schemas``: JSON Schemas (draft 2020-12) and the topic reference.

Everything here is generated from the declarations in the code, never written
by hand:

- input topics from the event dataclasses in :mod:`fleetstream.contract.events` (each
  field's ``schema``, ``doc`` and ``optional`` metadata, its default, the
  event's ``TOPIC`` and ``KEY``);
- output topics from :data:`fleetstream.contract.outputs.FIELDS` and the typed
  classes of :mod:`fleetstream.contract.details` via
  :func:`fleetstream.contract.outputs.output_schema` and :data:`fleetstream.contract.outputs.KEYS`.

``fleetstream schemas`` writes ``docs/schemas/<topic>.json`` (one file per
topic, sorted keys, 2-space indent, trailing newline), ``docs/topics.md``
(:mod:`fleetstream.topics_doc`), ``docs/asyncapi.yaml`` (:mod:`fleetstream.asyncapi`)
and ``docs/examples/<topic>.json`` (:mod:`fleetstream.examples`);
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
    "order_update": {
        "rules": ["at least one of window_start, window_end, location",
                  "window_end must be after window_start when both are given"],
        "if_then": [],
    },
    "customer_reply": {
        "rules": ["available_until must be after available_from when both are given"],
        "if_then": [],
    },
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
    "cost_per_stop": "currency/stop", "fixed_cost": "currency", "max_route_s": "s", "break_s": "s", "max_drive_s": "s",
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
        "$id": out.schema_id(topic),
        "title": topic,
        "description": (f"Input topic {topic} (message key: {', '.join(keys)}). "
                        f"Schema version {ev.SCHEMA_VERSION} (contract {out.CONTRACT_VERSION}); "
                        "fields not listed are ignored."),
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"enum": [c.TYPE for c in classes]}},
        "allOf": [{"if": {"properties": {"type": {"const": c.TYPE}}, "required": ["type"]},
                   "then": {"$ref": f"#/$defs/{c.TYPE}"}} for c in classes],
        "$defs": {c.TYPE: event_schema(c) for c in classes},
    }


def output_topic_schema(topic: str, strict: bool = False) -> dict:
    """fleetstream.contract.outputs.output_schema plus the topic's key in the description.
    ``strict``: the producer-side variant (closed enums, no undeclared key)."""
    s = out.output_schema(topic, strict=strict)
    s["description"] = (f"Output topic {topic} (message key: {out.KEYS[topic]}). "
                        f"Schema version {out.OUTPUT_SCHEMA_VERSION} (contract "
                        f"{out.CONTRACT_VERSION}); consumers must ignore fields they do not "
                        "know and tolerate enum values they do not know (x-extensible-enum).")
    if strict:
        s["description"] = (f"STRICT variant of {topic} for producer tests: what the engine "
                            "emits today, nothing more.")
    return s


def all_schemas() -> dict[str, dict]:
    """Topic name -> published JSON Schema, for every input and output topic."""
    s = {t: input_schema(t) for t in ev.INPUT_TOPICS}
    s.update({t: output_topic_schema(t) for t in out.OUTPUT_TOPICS})
    return s


def strict_schemas() -> dict[str, dict]:
    """Output topic -> strict schema (what the engine must emit; tests hold it to that)."""
    return {t: output_topic_schema(t, strict=True) for t in out.OUTPUT_TOPICS}


def render(schema: dict) -> bytes:
    """Stable bytes: sorted keys, 2-space indent, trailing newline."""
    return orjson.dumps(schema, option=ORJSON_OPTS) + b"\n"


# --------------------------------------------------------------------------
# Files and command.


def generate(schema_dir: str, docs_path: str | None, asyncapi_path: str | None = None,
             examples_dir: str | None = None,
             examples: dict[str, list[dict]] | None = None,
             source: str = "replay_data/small") -> dict[str, bytes]:
    """Path -> bytes of every generated file.  ``examples`` (topic -> messages, from
    :func:`fleetstream.examples.replay_examples`) are written to ``examples_dir``;
    without them the AsyncAPI document embeds the committed examples."""
    from fleetstream.asyncapi import render_asyncapi
    from fleetstream.examples import read_examples, render_examples
    from fleetstream.topics_doc import topics_markdown
    files = {os.path.join(schema_dir, f"{t}.json"): render(s) for t, s in all_schemas().items()}
    if docs_path:
        files[docs_path] = topics_markdown().encode("utf-8")
    if examples_dir and examples is not None:
        for t, msgs in examples.items():
            files[os.path.join(examples_dir, f"{t}.json")] = render_examples(t, msgs, source)
    if asyncapi_path:
        # the examples as committed (sorted keys), whether fresh or read back
        ex = ({t: orjson.loads(render_examples(t, m, source))["messages"]
               for t, m in examples.items()} if examples is not None
              else read_examples(examples_dir) if examples_dir else {})
        files[asyncapi_path] = render_asyncapi(ex)
    return files


def _stale(folder: str | None, want: dict[str, bytes]) -> list[str]:
    if not folder or not os.path.isdir(folder):
        return []
    return [os.path.join(folder, n) for n in sorted(os.listdir(folder))
            if n.endswith(".json") and os.path.join(folder, n) not in want]


def differences(schema_dir: str, docs_path: str | None, context: int = 20,
                asyncapi_path: str | None = None, examples_dir: str | None = None,
                examples: dict[str, list[dict]] | None = None) -> list[str]:
    """What differs between the files on disk and the generated ones (empty: none)."""
    want = generate(schema_dir, docs_path, asyncapi_path, examples_dir, examples)
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
    for p in _stale(schema_dir, want):
        diffs.append(f"stale (no such topic): {p}")
    if examples is not None:
        for p in _stale(examples_dir, want):
            diffs.append(f"stale (no such topic): {p}")
    return diffs


def write(schema_dir: str, docs_path: str | None, asyncapi_path: str | None = None,
          examples_dir: str | None = None,
          examples: dict[str, list[dict]] | None = None) -> list[str]:
    """Write every generated file; remove stale schema (and example) files.  Returns
    paths changed."""
    os.makedirs(schema_dir, exist_ok=True)
    changed = []
    want = generate(schema_dir, docs_path, asyncapi_path, examples_dir, examples)
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
    stale = _stale(schema_dir, want) + (_stale(examples_dir, want) if examples is not None
                                        else [])
    for p in stale:
        os.remove(p)
        changed.append(p)
    return changed


_HELP = """\
Write (default, or --write) or check (--check) every generated contract file:
the JSON Schemas (docs/schemas/<topic>.json), the topic reference
(docs/topics.md), the AsyncAPI 3.0 document (docs/asyncapi.yaml) and the example
messages (docs/examples/<topic>.json, taken from a replay of --replay).  All are
generated from fleetstream/contract/ (events.py, outputs.py, details.py,
headers.py); never edit them by hand.  --check writes nothing and exits 1 listing
every difference (it replays --replay, a few seconds, unless --no-replay).
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="fleetstream schemas", description=_HELP,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="docs/schemas", help="schema folder (default docs/schemas)")
    ap.add_argument("--docs", default="docs/topics.md",
                    help="topic reference to write or check (default docs/topics.md; "
                    "'' to skip)")
    ap.add_argument("--asyncapi", default="docs/asyncapi.yaml",
                    help="AsyncAPI document to write or check (default docs/asyncapi.yaml; "
                    "'' to skip)")
    ap.add_argument("--examples", default="docs/examples",
                    help="example message folder (default docs/examples; '' to skip)")
    ap.add_argument("--replay", default="replay_data/small",
                    help="replay folder the examples are taken from (default "
                    "replay_data/small)")
    ap.add_argument("--no-replay", action="store_true",
                    help="do not replay: keep (write) or do not compare (check) the examples; "
                    "the AsyncAPI document embeds the committed ones")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true",
                      help="write the generated files (the default action)")
    mode.add_argument("--check", action="store_true",
                      help="write nothing; exit 1 listing differences if files are stale")
    a = ap.parse_args(argv)
    docs, asyncapi, exdir = a.docs or None, a.asyncapi or None, a.examples or None
    examples = None
    if exdir and not a.no_replay:
        if not os.path.isfile(os.path.join(a.replay, "events.jsonl.gz")):
            print(f"fleetstream schemas: no replay at {a.replay!r} (events.jsonl.gz missing); "
                  "pass --replay DIR or --no-replay", file=sys.stderr)
            return 2
        from fleetstream.examples import replay_examples
        print(f"replaying {a.replay} for the example messages (a few seconds; --no-replay "
              "skips)...", file=sys.stderr, flush=True)
        examples = replay_examples(a.replay)
    if a.check:
        diffs = differences(a.out, docs, asyncapi_path=asyncapi, examples_dir=exdir,
                            examples=examples)
        for d in diffs:
            print(d, file=sys.stderr)
        if diffs:
            print(f"{len(diffs)} file(s) out of date: run `fleetstream schemas --write` "
                  "(with the same --out/--docs/--asyncapi/--examples)", file=sys.stderr)
            return 1
        print("contract files are up to date: " + ", ".join(
            x for x in (a.out, docs, asyncapi, exdir if examples is not None else None) if x))
        return 0
    changed = write(a.out, docs, asyncapi, exdir, examples)
    print(f"{len(changed)} file(s) written" + "".join(f"\n  {p}" for p in changed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
