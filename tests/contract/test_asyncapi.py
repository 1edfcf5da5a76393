"""docs/asyncapi.yaml against the official AsyncAPI 3.0.0 JSON Schema (vendored in
tests/contract/data, Apache-2.0), the example messages of every topic against their
schemas and against a fresh replay, and a consumer written only from the AsyncAPI
document and the schemas it references, fed every input event of replay_data/small
and every record a replay of it writes."""

from __future__ import annotations

import json
import os

import jsonschema
import orjson
import pytest
import yaml

from fleetstream import asyncapi, schemas
from fleetstream.connectors.files import read_replay
from fleetstream.contract import events as ev
from fleetstream.contract import outputs as out
from fleetstream.contract.headers import output_headers
from fleetstream.examples import examples_of, read_examples

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCS = os.path.join(ROOT, "docs")
ASYNCAPI = os.path.join(DOCS, "asyncapi.yaml")
EXAMPLES = os.path.join(DOCS, "examples")
SMALL = os.path.join(ROOT, "replay_data", "small")
SPEC = os.path.join(os.path.dirname(__file__), "data", "asyncapi-3.0.0.schema.json")
ALL_TOPICS = list(ev.INPUT_TOPICS) + list(out.OUTPUT_TOPICS)


@pytest.fixture(scope="module")
def spec_validator() -> jsonschema.Draft7Validator:
    with open(SPEC, "rb") as f:
        spec = orjson.loads(f.read())
    assert spec["$id"] == "http://asyncapi.com/definitions/3.0.0/asyncapi.json"
    return jsonschema.Draft7Validator(spec)


@pytest.fixture(scope="module")
def doc() -> dict:
    with open(ASYNCAPI, encoding="utf-8") as f:
        return yaml.safe_load(f)


def test_asyncapi_document_is_valid_asyncapi_3(spec_validator, doc):
    errors = [f"{list(e.absolute_path)}: {e.message[:300]}" for e in spec_validator.iter_errors(doc)]
    assert errors == []
    assert doc["asyncapi"] == "3.0.0" and doc["info"]["version"] == out.CONTRACT_VERSION


def test_the_spec_schema_is_not_vacuous(spec_validator, doc):
    """The same validator rejects a document with a wrong operation action, an
    unknown top-level field and a channel binding with an unknown property."""
    bad = json.loads(json.dumps(doc))
    bad["operations"]["sendFsDecisions"]["action"] = "publish"  # AsyncAPI 2 wording
    assert not spec_validator.is_valid(bad)
    bad = json.loads(json.dumps(doc))
    bad["topics"] = {}
    assert not spec_validator.is_valid(bad)
    bad = json.loads(json.dumps(doc))
    bad["channels"]["fs.eta"]["bindings"]["kafka"]["partition_count"] = 4
    assert not spec_validator.is_valid(bad)


def test_yaml_file_is_the_generated_document(doc):
    """The hand-rolled YAML emitter writes what a YAML parser reads back as the
    generator's document (with the committed examples)."""
    want = asyncapi.asyncapi_document(read_examples(EXAMPLES))
    assert doc == json.loads(json.dumps(want))


def test_every_topic_has_a_channel_operation_key_and_schema(doc):
    for t in ALL_TOPICS:
        ch = doc["channels"][t]
        assert ch["address"].endswith(t) and "{topic_prefix}" in ch["address"]
        assert ch["bindings"]["kafka"]["topic"] == t
        assert ch["bindings"]["kafka"]["partitions"] >= 1
        msg = doc["components"]["messages"][t]
        assert msg["payload"]["schema"]["$ref"] == f"./schemas/{t}.json"
        assert os.path.isfile(os.path.join(DOCS, "schemas", f"{t}.json"))
        key = msg["bindings"]["kafka"]["key"]
        assert key["type"] == "string" and key["x-payload-field"]
        if t in out.OUTPUT_TOPICS:
            assert "{output_prefix}" in ch["address"]
            assert set(msg["headers"]["required"]) == {"content-type", "schema_version",
                                                        "schema_id", "producer", "trace_id"}
        assert msg.get("examples"), f"no example for {t}"
    actions = {op["channel"]["$ref"].split("/")[-1]: op["action"]
               for op in doc["operations"].values()}
    assert actions == {**{t: "receive" for t in ev.INPUT_TOPICS},
                       **{t: "send" for t in out.OUTPUT_TOPICS}}
    assert doc["channels"]["fs.customers"]["bindings"]["kafka"]["topicConfiguration"] == {
        "cleanup.policy": ["compact"]}


def test_every_topic_has_a_valid_example_message():
    published = schemas.all_schemas()
    strict = schemas.strict_schemas()
    ex = read_examples(EXAMPLES)
    for t in ALL_TOPICS:
        assert ex.get(t), f"docs/examples/{t}.json has no message"
        for m in ex[t]:
            jsonschema.Draft202012Validator(published[t]).validate(m["payload"])
            if t in strict:
                jsonschema.Draft202012Validator(strict[t]).validate(m["payload"])
                assert m["headers"] == {k: v.decode() for k, v in
                                        output_headers(t, m["payload"])}
            if t in ev.INPUT_TOPICS:
                ev.validate(m["payload"], t)  # the engine accepts it
    kinds = {m["payload"]["status"] for m in ex["fs.decisions"]}
    assert {"applied", "proposed", "rejected"} <= kinds


def test_topics_md_links_every_example():
    with open(os.path.join(DOCS, "topics.md"), encoding="utf-8") as f:
        md = f.read()
    for t in ALL_TOPICS:
        assert f"(examples/{t}.json)" in md


# ------------------------------------------------------------------ with a replay


@pytest.fixture(scope="module")
def small_replay(tmp_path_factory) -> str:
    from fleetstream.replay import run_replay
    d = str(tmp_path_factory.mktemp("asyncapi_replay"))
    run_replay(SMALL, d, workers=1)
    return d


@pytest.mark.slow
def test_examples_are_what_a_replay_gives(small_replay):
    """`fleetstream schemas --check` without --no-replay: the committed examples
    (and the AsyncAPI document embedding them) are what the replay gives now."""
    examples = examples_of(SMALL, small_replay)
    diffs = schemas.differences(os.path.join(DOCS, "schemas"), None,
                                asyncapi_path=ASYNCAPI, examples_dir=EXAMPLES,
                                examples=examples)
    assert diffs == [], "\n".join(diffs) + "\nrun `fleetstream schemas --write`"


class DocConsumer:
    """A consumer that knows nothing but docs/asyncapi.yaml and the schema files it
    references: it finds the channel by address, checks key, headers and payload."""

    def __init__(self, path: str, prefixes: dict[str, str] | None = None):
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
        base = os.path.dirname(path)
        self.channels: dict[str, tuple] = {}
        for ch in doc["channels"].values():
            addr = ch["address"]
            for p, spec in ch.get("parameters", {}).items():
                addr = addr.replace("{" + p + "}", (prefixes or {}).get(p, spec["default"]))
            (ref,) = [m["$ref"] for m in ch["messages"].values()]
            msg = doc
            for part in ref.removeprefix("#/").split("/"):
                msg = msg[part]
            with open(os.path.join(base, msg["payload"]["schema"]["$ref"]), "rb") as f:
                schema = orjson.loads(f.read())
            payload_v = jsonschema.validators.validator_for(schema)(schema)
            headers_v = (jsonschema.Draft7Validator(msg["headers"]) if "headers" in msg
                         else None)
            self.channels[addr] = (payload_v, headers_v, msg["bindings"]["kafka"]["key"])

    def errors(self, topic: str, key: str | None, headers: dict | None, value: bytes) -> list:
        payload_v, headers_v, key_schema = self.channels[topic]
        try:
            obj = json.loads(value)
        except ValueError as e:
            return [f"not JSON: {e}"]
        errs = [e.message for e in payload_v.iter_errors(obj)]
        if headers_v is not None:
            errs += [f"header: {e.message}" for e in headers_v.iter_errors(headers or {})]
        kf = key_schema["x-payload-field"]
        if isinstance(obj, dict) and key != str(obj.get(kf, "")):
            errs.append(f"key {key!r} is not the payload's {kf}")
        return errs


@pytest.mark.slow
def test_a_consumer_built_from_the_asyncapi_document_reads_every_record(small_replay):
    consumer = DocConsumer(ASYNCAPI)
    assert set(consumer.channels) == set(ALL_TOPICS)
    n_in = rejected = 0
    for m in read_replay(SMALL):
        try:
            ev.decode_event(m.value, m.topic)
        except ev.ValidationError:
            rejected += 1  # malformed on purpose (the simulator injects them): fs.dlq
            continue
        assert consumer.errors(m.topic, m.key, None, m.value) == [], (m.seq, m.value[:200])
        n_in += 1
    assert n_in > 10_000 and rejected > 0
    counts = {}
    for t in out.OUTPUT_TOPICS:
        with open(os.path.join(small_replay, f"{t}.jsonl"), "rb") as f:
            for line in f:
                rec = orjson.loads(line)
                hdr = {k: v.decode() for k, v in output_headers(t, rec)}
                key = str(rec.get(out.KEYS[t], ""))
                assert consumer.errors(t, key, hdr, line) == [], (t, line[:300])
                counts[t] = counts.get(t, 0) + 1
    assert all(counts.get(t, 0) > 0 for t in out.OUTPUT_TOPICS), counts
    # shadow mode: the same consumer with the deployment's prefixes
    shadow = DocConsumer(ASYNCAPI, {"topic_prefix": "acme.", "output_prefix": "shadow."})
    assert "acme.shadow.fs.decisions" in shadow.channels and "acme.fs.orders" in shadow.channels


def test_the_consumer_tolerates_what_a_minor_version_may_add():
    """docs/versioning.md: a new output field, a new enum value (decision kind, alert
    kind, reason rule) must not break a consumer validating with today's document;
    a removed required field or a wrong type does."""
    consumer = DocConsumer(ASYNCAPI)
    ex = read_examples(EXAMPLES)
    dec = ex["fs.decisions"][0]
    ok = json.loads(json.dumps(dec["payload"]))
    ok["kind"] = "swap_vehicles"
    ok["new_field"] = {"x": 1}
    ok["explanation"]["reasons"] = [{"rule": "a_future_rule", "score": 2}]
    ok["explanation"]["new_number"] = 1.5
    assert consumer.errors("fs.decisions", dec["key"], dec["headers"], orjson.dumps(ok)) == []
    al = ex["fs.alerts"][0]
    ok = json.loads(json.dumps(al["payload"]))
    ok["kind"], ok["severity"] = "battery_low", "emergency"
    assert consumer.errors("fs.alerts", al["key"], al["headers"], orjson.dumps(ok)) == []
    bad = json.loads(json.dumps(dec["payload"]))
    del bad["decision_id"]
    assert consumer.errors("fs.decisions", dec["key"], dec["headers"], orjson.dumps(bad))
    bad = json.loads(json.dumps(dec["payload"]))
    bad["explanation"]["expected_effect"] = {"km": "far"}
    assert consumer.errors("fs.decisions", dec["key"], dec["headers"], orjson.dumps(bad))
    # and the strict schema (what the engine may emit today) rejects the additions
    strict = jsonschema.Draft202012Validator(schemas.strict_schemas()["fs.decisions"])
    new = json.loads(json.dumps(dec["payload"]))
    new["explanation"]["new_number"] = 1.5
    assert not strict.is_valid(new)
