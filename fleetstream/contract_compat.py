"""The contract's compatibility rules (docs/versioning.md), as code.

:func:`surface` flattens the published JSON Schemas into one entry per field path
(type, required, enum, bounds; conditional branches such as ``<kind=reroute>``
included).  :func:`changes` compares two surfaces and classifies every change as
``breaking`` (needs a new major version) or ``minor`` (needs at least a new minor
version), from the point of view of whoever reads the topic: consumers for
outputs, the engine for inputs (whose producers must keep being accepted).

Snapshots of released versions live in ``tests/contract/data/contract-<version>.json``;
``tests/contract/test_compatibility.py`` holds the current code to them.
``python -m fleetstream.contract_compat snapshot`` writes the snapshot of the
current ``CONTRACT_VERSION`` (do it when releasing that version).

>>> old = {"t:a": {"type": ["string"], "required": True, "dir": "output"}}
>>> changes(old, {})
[('breaking', 't:a: removed')]
>>> changes({}, old)
[('minor', 't:a: added')]
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any

import orjson

_BOUNDS_LO = ("minimum", "exclusiveMinimum", "minLength", "minItems")
_BOUNDS_HI = ("maximum", "exclusiveMaximum", "maxLength", "maxItems")


def _deref(schema: dict, root: dict) -> dict:
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema and schema["$ref"].startswith("#/"):
        node: Any = root
        for part in schema["$ref"][2:].split("/"):
            node = node[part]
        extra = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**node, **extra}
        seen += 1
        if seen > 20:
            raise ValueError("reference loop")
    return schema


def _types(s: dict) -> list[str]:
    t = s.get("type")
    if t is None:
        return []
    return sorted(t) if isinstance(t, list) else [t]


def _walk(s: Any, root: dict, path: str, required: bool, direction: str,
          out: dict[str, dict], depth: int = 0) -> None:
    if not isinstance(s, dict) or depth > 40:
        return
    s = _deref(s, root)
    entry: dict[str, Any] = {"type": _types(s), "required": required, "dir": direction}
    for k in ("enum", "x-extensible-enum", "const", "pattern") + _BOUNDS_LO + _BOUNDS_HI:
        if k in s:
            entry[k] = s[k]
    if s.get("additionalProperties") is False:
        entry["closed"] = True
    if path in out:  # the same path in two branches: keep the union of facts
        out[path] = {**out[path], **entry}
    else:
        out[path] = entry
    req = set(s.get("required", ()))
    for name, sub in (s.get("properties") or {}).items():
        _walk(sub, root, f"{path}.{name}", name in req, direction, out, depth + 1)
    if isinstance(s.get("items"), dict):
        _walk(s["items"], root, f"{path}[]", True, direction, out, depth + 1)
    if isinstance(s.get("additionalProperties"), dict):
        _walk(s["additionalProperties"], root, f"{path}{{}}", False, direction, out, depth + 1)
    for key in ("anyOf", "oneOf"):
        for i, sub in enumerate(s.get(key) or ()):
            _walk(sub, root, f"{path}|{i}", True, direction, out, depth + 1)
    for cond in s.get("allOf") or ():
        if "if" in cond and "then" in cond:
            props = cond["if"].get("properties", {})
            label = ",".join(f"{k}={v.get('const')}" for k, v in sorted(props.items()))
            _walk(cond["then"], root, f"{path}<{label}>", True, direction, out, depth + 1)
        else:
            _walk(cond, root, path, required, direction, out, depth + 1)


def surface(schemas: dict[str, dict], outputs: tuple[str, ...] | list[str]) -> dict[str, dict]:
    """Field path -> facts, for every topic of ``schemas`` (topic -> published schema)."""
    out: dict[str, dict] = {}
    for topic in sorted(schemas):
        _walk(schemas[topic], schemas[topic], topic, True,
              "output" if topic in outputs else "input", out)
    return out


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def _entry_changes(path: str, a: dict, b: dict) -> list[tuple[str, str]]:
    """Changes of one field path; ``a`` old, ``b`` new."""
    res: list[tuple[str, str]] = []
    reader_is_engine = a["dir"] == "input"
    ta, tb = set(a["type"]), set(b["type"])
    if ta != tb and ta and tb:
        if "integer" in ta and "number" in tb:
            ta = (ta - {"integer"}) | {"number"}
        widened, narrowed = bool(tb - ta), bool(ta - tb)
        # consumers of an output break on a wider type; the engine's producers on a narrower
        if (widened and not reader_is_engine) or (narrowed and reader_is_engine):
            res.append(("breaking", f"{path}: type {sorted(a['type'])} -> {sorted(b['type'])}"))
        else:
            res.append(("minor", f"{path}: type {sorted(a['type'])} -> {sorted(b['type'])}"))
    if a["required"] != b["required"]:
        # an output field that may now be absent breaks consumers; an input field that
        # must now be present breaks producers
        breaking = (a["required"] and not reader_is_engine) or (b["required"] and reader_is_engine)
        res.append(("breaking" if breaking else "minor",
                    f"{path}: {'required' if a['required'] else 'optional'} -> "
                    f"{'required' if b['required'] else 'optional'}"))
    ea = a.get("enum", a.get("x-extensible-enum"))
    eb = b.get("enum", b.get("x-extensible-enum"))
    if ea is not None or eb is not None:
        sa, sb = set(ea or ()), set(eb or ())
        if ea is not None and eb is None:
            res.append(("breaking" if reader_is_engine else "minor",
                        f"{path}: enum {sorted(sa)} dropped"))
        elif ea is None and eb is not None:
            res.append(("breaking" if reader_is_engine else "minor",
                        f"{path}: enum {sorted(sb)} added"))
        else:
            if sa - sb:
                res.append(("breaking", f"{path}: enum values removed: {sorted(sa - sb)}"))
            if sb - sa:
                closed_now = "enum" in b and not reader_is_engine
                res.append(("breaking" if closed_now else "minor",
                            f"{path}: enum values added: {sorted(sb - sa)}"))
            if "enum" in a and "x-extensible-enum" in b and not reader_is_engine:
                res.append(("minor", f"{path}: enum declared open (x-extensible-enum)"))
            if "x-extensible-enum" in a and "enum" in b and not reader_is_engine:
                res.append(("breaking", f"{path}: open enum closed"))
    if a.get("const") != b.get("const"):
        res.append(("breaking", f"{path}: const {a.get('const')!r} -> {b.get('const')!r}"))
    if a.get("pattern") != b.get("pattern"):
        res.append(("breaking", f"{path}: pattern changed"))
    for k in _BOUNDS_LO + _BOUNDS_HI:
        x, y = _num(a.get(k)), _num(b.get(k))
        if x == y:
            continue
        lo = k in _BOUNDS_LO
        # narrower: a lower bound rises, an upper bound falls, a bound appears
        narrower = (x is None) or (y is not None and (y > x if lo else y < x))
        breaking = narrower if reader_is_engine else not narrower
        res.append(("breaking" if breaking else "minor", f"{path}: {k} {x} -> {y}"))
    if a.get("closed") != b.get("closed"):
        res.append(("breaking" if b.get("closed") and reader_is_engine else "minor",
                    f"{path}: additional properties {'closed' if b.get('closed') else 'open'}"))
    return res


def changes(old: dict[str, dict], new: dict[str, dict]) -> list[tuple[str, str]]:
    """Every change between two surfaces, ``(breaking | minor, description)``."""
    res: list[tuple[str, str]] = []
    for path in sorted(set(old) | set(new)):
        a, b = old.get(path), new.get(path)
        if b is None:
            res.append(("breaking", f"{path}: removed"))
        elif a is None:
            parent_new = any(p in new and p not in old for p in _parents(path))
            # A new conditional branch of an input (``<type=order_pin>``: a new event type
            # the engine accepts) is additive: every old producer is still accepted.
            branch = path.endswith(">")
            breaking = b["required"] and b["dir"] == "input" and not parent_new and not branch
            res.append(("breaking" if breaking else "minor", f"{path}: added"))
        else:
            res += _entry_changes(path, a, b)
    return res


def _parents(path: str) -> list[str]:
    cuts = [m.start() for m in re.finditer(r"[.\[{|<]", path)]
    return [path[:c] for c in cuts if c > 0]


def parse_version(v: str) -> tuple[int, int, int]:
    m = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", v)
    if not m:
        raise ValueError(f"not a semantic version: {v!r}")
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def required_bump(chs: list[tuple[str, str]]) -> str:
    """``major``, ``minor`` or ``none``: the least version step the changes need."""
    if any(k == "breaking" for k, _ in chs):
        return "major"
    return "minor" if chs else "none"


def allowed(old_v: str, new_v: str, chs: list[tuple[str, str]]) -> bool:
    """Does going from ``old_v`` to ``new_v`` allow the changes ``chs``?"""
    a, b = parse_version(old_v), parse_version(new_v)
    need = required_bump(chs)
    if need == "major":
        return b[0] > a[0]
    if need == "minor":
        return b[:2] > a[:2]
    return b >= a


def current_surface() -> dict[str, dict]:
    from fleetstream.contract.outputs import OUTPUT_TOPICS
    from fleetstream.schemas import all_schemas
    return surface(all_schemas(), OUTPUT_TOPICS)


def render_surface(version: str, surf: dict[str, dict]) -> bytes:
    return orjson.dumps({"version": version, "surface": surf},
                        option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def main(argv: list[str] | None = None) -> int:
    import argparse
    from fleetstream.contract.outputs import CONTRACT_VERSION
    ap = argparse.ArgumentParser(prog="python -m fleetstream.contract_compat",
                                 description="Write the contract surface snapshot of the "
                                 "current CONTRACT_VERSION (when releasing it).")
    ap.add_argument("action", choices=["snapshot"], help="snapshot: write the surface file")
    ap.add_argument("--dir", default="tests/contract/data",
                    help="folder of the snapshots (default tests/contract/data)")
    a = ap.parse_args(argv)
    path = os.path.join(a.dir, f"contract-{CONTRACT_VERSION}.json")
    with open(path, "wb") as f:
        f.write(render_surface(CONTRACT_VERSION, current_surface()))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
