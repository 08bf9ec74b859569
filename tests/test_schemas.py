"""The published JSON Schemas and the vectorised validator agree: jsonschema (Draft 2020-12,
exact decimals, ECMA-262 `$`, date and date-time format checks) accepts exactly the records
parse_records accepts, over generated records, random mutations and hand-made edge cases."""

from __future__ import annotations

import copy
import json
import random
import re
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators

from engine.generic.header import DATE_TIME_RE, parse_rfc3339
from engine.generic.parse import parse_records
from engine.generic.record_types import RECORD_TYPES, SCHEMA_DIR, RecordType, RecordTypeRegistry, record_type
from engine.generic.rules import SchemaError, compile_schema, load_rules
from engine.synth import BillCycleSubscription, generate_bill_cycle_responses, iter_order_lines

SCHEMA_FILES = sorted(p.name for p in SCHEMA_DIR.glob("*.schema.json"))


def _ecma_pattern(validator, pattern, instance, schema):
    """ECMA-262 `$` is the end of the string (Python's `$` also matches before a final `\\n`)."""
    if validator.is_type(instance, "string"):
        python = pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern
        if not re.search(python, instance):
            yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _is_integer(checker, instance) -> bool:  # JSON Schema: 15.0 is an integer
    if isinstance(instance, bool):
        return False
    if isinstance(instance, int):
        return True
    return isinstance(instance, (float, Decimal)) and instance == int(instance) if instance == instance else False


def _validator(schema_path: Path):
    schema = json.loads(schema_path.read_text(), parse_float=Decimal)  # exact multipleOf 0.01
    checker = FormatChecker()
    checker.checks("date-time")(lambda v: not isinstance(v, str) or bool(DATE_TIME_RE.match(v)) and parse_rfc3339(v) is not None)
    types = Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer)
    cls = validators.extend(Draft202012Validator, {"pattern": _ecma_pattern}, type_checker=types)
    return cls(schema, format_checker=checker)


def _reject(name):
    raise ValueError(name)


def schema_accepts(validator, line: bytes) -> bool:
    try:
        instance = json.loads(line.decode("utf-8"), parse_float=Decimal, parse_constant=_reject)
    except ValueError:
        return False
    return validator.is_valid(instance)


def engine_accepts(interface_type: str, lines: list[bytes]) -> list[bool]:
    """Per line: accepted by parse_records (a duplicate key alone does not count: it is not a
    schema rule but a file rule)."""
    parsed = parse_records(b"\n".join(lines) + b"\n", interface_type, 1, file="t")
    bad = {}
    for row in parsed.invalid.to_pylist():
        reasons = [r for r in row["reasons"] if ": duplicate " not in r]
        bad[row["line_no"]] = bool(reasons)
    return [not bad.get(i + 1, False) for i in range(len(lines))]


def assert_agree(interface_type: str, lines: list[bytes]) -> None:
    validator = _validator(record_type(interface_type).schema_path)
    ours = engine_accepts(interface_type, lines)
    disagreements = [
        (line.decode("utf-8", "backslashreplace"), mine)
        for line, mine in zip(lines, ours)
        if schema_accepts(validator, line) != mine
    ]
    assert not disagreements, f"{len(disagreements)} disagreements, e.g. (line, engine accepts): {disagreements[:3]}"
    assert any(ours) and not all(ours), "a test set must hold accepted and rejected records"


# -- schema files ---------------------------------------------------------------------------------


def test_every_schema_file_is_a_valid_2020_12_schema():
    assert SCHEMA_FILES == sorted(
        ["header.schema.json", "order.schema.json", "request.schema.json", "response.schema.json",
         "bill-cycle-change-request.schema.json", "bill-cycle-change-response.schema.json"]
    )  # fmt: skip
    for name in SCHEMA_FILES:
        schema = json.loads((SCHEMA_DIR / name).read_text())
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def _objects(schema: dict, defs: dict, path: str = "") -> list[tuple[str, dict]]:
    if "$ref" in schema:
        schema = {**defs[schema["$ref"].split("/")[-1]], **{k: v for k, v in schema.items() if k != "$ref"}}
    out = []
    if "properties" in schema:
        out.append((path, schema))
        for name, sub in schema["properties"].items():
            out += _objects(sub, defs, f"{path}.{name}")
    if "items" in schema:
        out += _objects(schema["items"], defs, f"{path}[]")
    return out


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_every_object_forbids_unknown_fields(name):
    schema = json.loads((SCHEMA_DIR / name).read_text())
    objects = _objects(schema, schema.get("$defs", {}))
    assert objects
    for path, obj in objects:
        assert obj.get("additionalProperties") is False, f"{name}: {path or 'root'} allows unknown fields"


def _arrow_names(typ: pa.DataType) -> dict:
    if pa.types.is_struct(typ):
        return {f.name: _arrow_names(f.type) for f in typ}
    if pa.types.is_list(typ):
        return {"[]": _arrow_names(typ.value_type)}
    return {}


def _rule_names(node) -> dict:
    if node.kind == "object":
        return {name: _rule_names(child) for name, child in node.properties.items()}
    if node.kind == "array":
        return {"[]": _rule_names(node.items)}
    return {}


@pytest.mark.parametrize("rt", list(RECORD_TYPES), ids=lambda rt: rt.name)
def test_arrow_schema_mirrors_the_json_schema(rt: RecordType):
    rules = load_rules(rt.schema_path)
    assert _arrow_names(pa.struct(list(rt.arrow_schema))) == _rule_names(rules)
    kinds = {"string": (pa.types.is_string, pa.types.is_date, pa.types.is_timestamp), "integer": (pa.types.is_int64,),
             "number": (pa.types.is_float64,), "amount": (pa.types.is_float64,), "boolean": (pa.types.is_boolean,)}  # fmt: skip

    def walk(node, typ):
        if node.kind == "object":
            for f in typ:
                walk(node.properties[f.name], f.type)
        elif node.kind == "array":
            walk(node.items, typ.value_type)
        else:
            assert any(test(typ) for test in kinds[node.kind]), (node.name, node.kind, typ)

    walk(rules, pa.struct(list(rt.arrow_schema)))
    assert rt.key_field in rt.arrow_schema.names


def test_registry_rejects_duplicates_and_finds_types():
    registry = RecordTypeRegistry(tuple(RECORD_TYPES))
    with pytest.raises(ValueError, match="already registered"):
        registry.register(record_type("order"))
    with pytest.raises(ValueError, match="already registered"):
        registry.register(RecordType("order2", "Order", "order.schema.json", record_type("order").arrow_schema, "orderRef"))
    with pytest.raises(ValueError, match="key field"):
        RecordTypeRegistry().register(RecordType("x", "X", "x.json", pa.schema([("a", pa.string())]), "b"))
    assert registry.for_interface("Bill Cycle Change Response").name == "bill-cycle-change-response"
    with pytest.raises(KeyError):
        registry.for_interface("Nope")


@pytest.mark.parametrize(
    "schema, message",
    [
        ({"type": "object", "properties": {"a": {"type": "string"}}}, "additionalProperties"),
        ({"type": "object", "additionalProperties": False, "required": ["a"], "properties": {"a": {"type": ["string", "null"]}}}, "required field"),
        ({"type": "object", "additionalProperties": False, "properties": {"a": {"type": "string"}}}, "optional one nullable"),
        ({"type": "object", "additionalProperties": False, "properties": {"a": {"type": ["string", "null"], "oneOf": []}}}, "unsupported"),
        ({"type": "object", "additionalProperties": False, "properties": {"a": {"type": ["string", "null"], "pattern": "[0-9]"}}}, "anchored"),
    ],
)
def test_compiler_refuses_what_it_cannot_enforce(schema, message):
    with pytest.raises(SchemaError, match=message):
        compile_schema(schema)


# -- agreement ------------------------------------------------------------------------------------

POOL = [None, "", "X", "x" * 101, "UNLIMITED", "447700900123", "44A", "2026-02-29", "2024-02-29", "0000-01-01",
        "2026-12-01T00:00:00Z", "2026-12-01T00:00:00", "2026-12-01T24:00:00Z", "2026-12-01T00:00:00.1234567+05:30",
        "GBP", "gbp", "MONTHLY", "EVERY_N_DAYS", "POSTPAID", "DELAYED", "VALUE", "FULL", "VOICE", "CASH", "MIN", "GB",
        "INDIVIDUAL", "ORGANISATION", "SPEND_CAP", "CONN", "a@b.example", 0, 1, 15, 15.0, 31, 32, -1, 1.5, 0.001,
        25.005, 25.01, 999999999999.99, 1e12, 10**20, True, False, [], [{}], {}, {"kind": "VALUE"}]  # fmt: skip


def _paths(value, path=()):
    yield path
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, path + (i,))


def mutations(base: dict, key: str, count: int, seed: int) -> list[bytes]:
    """`count` records, each `base` with one to three random edits (set, delete, add a field)."""
    rng = random.Random(seed)
    out = []
    for n in range(count):
        rec = copy.deepcopy(base)
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            paths = [p for p in _paths(rec) if p]
            path = rng.choice(paths)
            parent = rec
            for step in path[:-1]:
                parent = parent[step]
            roll = rng.random()
            if roll < 0.12 and isinstance(parent, dict):
                del parent[path[-1]]
            elif roll < 0.2 and isinstance(parent, dict):
                parent["extra" if rng.random() < 0.5 else path[-1] + "X"] = rng.choice(POOL)
            else:
                parent[path[-1]] = copy.deepcopy(rng.choice(POOL))
        if isinstance(rec.get(key), (str, int)) and not isinstance(rec.get(key), bool):
            rec[key] = f"{rec[key]}-{n}" if isinstance(rec[key], str) else rec[key] * 100000 + n
        out.append(json.dumps(rec, ensure_ascii=False).encode())
    return out


def test_orders_generated_good_and_bad_agree():
    lines = [ol.line.rstrip(b"\n") for ol in iter_order_lines(480, seed=11, bad_share=0.2)]
    lines = [line for line in lines if line]  # an empty line is no JSON value for jsonschema
    assert_agree("Order", lines)


def test_order_mutations_agree():
    bases = [json.loads(ol.line) for ol in iter_order_lines(4, seed=5)]
    lines = []
    for k, base in enumerate(bases):
        lines += mutations(base, "orderRef", 120, seed=k)
    assert_agree("Order", lines)


ORDER_EDGES = [
    # a minimal valid order: optional fields absent
    {"orderRef": "O-1", "customer": {"type": "ORGANISATION", "organisationName": "Acme", "registrationNumber": "SC123456"},
     "account": {"paymentType": "INVOICE", "currency": "EUR"}, "agreement": {"billFrequency": "WEEKLY"},
     "subscriptions": [{"subscriptionRef": "S", "payMode": "PREPAID", "msisdn": "12345678", "tariffCode": "T",
                        "activation": "IMMEDIATE"}]},
]  # fmt: skip


def _edge_orders() -> list[bytes]:
    base = ORDER_EDGES[0]
    out = [json.dumps(base).encode()]

    def variant(n, fn):
        rec = copy.deepcopy(base)
        rec["orderRef"] = f"E-{n}"
        fn(rec)
        out.append(json.dumps(rec, ensure_ascii=False).encode())

    sub = lambda r: r["subscriptions"][0]  # noqa: E731
    edits = [
        lambda r: sub(r).update(msisdn="447700900123\n"),  # ECMA $: a trailing newline does not match
        lambda r: sub(r).update(msisdn="１２３４５６７８"),  # full-width digits are not [0-9]
        lambda r: r["customer"].update(email="ada@example.org", title="Dr" * 10),
        lambda r: r["customer"].update(title="Dr" * 11),
        lambda r: r["customer"].update(dateOfBirth="2000-02-29"),
        lambda r: r["customer"].update(dateOfBirth="1900-02-29"),
        lambda r: r["agreement"].update(billFrequency="MONTHLY", billCycleDay=31.0),
        lambda r: r["agreement"].update(billFrequency="MONTHLY", billCycleDay=1e1),
        lambda r: r["agreement"].update(billFrequency="EVERY_N_DAYS", cycleLengthDays=999),
        lambda r: r["agreement"].update(billFrequency="EVERY_N_DAYS", cycleLengthDays=1000),
        lambda r: r["agreement"].update(billCycleDay=None, cycleLengthDays=None),
        lambda r: sub(r).update(payMode="POSTPAID", spendCap={"kind": "VALUE", "scope": "FULL", "amount": 0.01}),
        lambda r: sub(r).update(payMode="POSTPAID", spendCap={"kind": "VALUE", "scope": "PARTIAL", "amount": 5}),
        lambda r: sub(r).update(spendCap={"kind": "VOLUME", "scope": "PARTIAL", "amount": 0.125}),
        lambda r: sub(r).update(spendCap={"kind": "VALUE", "scope": "PARTIAL", "amount": 0.125}),
        lambda r: sub(r).update(allowances=[{"type": "CASH", "amount": 19.99, "unit": "EUR", "recurring": False}]),
        lambda r: sub(r).update(allowances=[{"type": "CASH", "amount": 19.999, "unit": "EUR", "recurring": False}]),
        lambda r: sub(r).update(allowances=[{"type": "DATA", "amount": "UNLIMITED", "unit": "MB", "recurring": True}]),
        lambda r: sub(r).update(allowances=[{"type": "DATA", "amount": "unlimited", "unit": "MB", "recurring": True}]),
        lambda r: sub(r).update(allowances=[{"type": "TEXT", "amount": 0, "unit": "SMS", "recurring": True}]),
        lambda r: sub(r).update(allowances=[None]),
        lambda r: sub(r).update(services=[{"type": "INSURANCE", "code": "x" * 32}]),
        lambda r: sub(r).update(services=[{"type": "INSURANCE", "code": "x" * 33}]),
        lambda r: sub(r).update(activation="DELAYED", activationDate="2027-01-31"),
        lambda r: sub(r).update(activation="DELAYED", activationDate="2027-04-31"),
        lambda r: r.update(subscriptions=[copy.deepcopy(sub(r)) for _ in range(100)]),
        lambda r: r.update(subscriptions=[copy.deepcopy(sub(r)) for _ in range(101)]),
        lambda r: r["customer"].update(type="INDIVIDUAL", firstName="Ada", lastName="Lovelace"),
        lambda r: r["customer"].update(type="INDIVIDUAL", firstName="Ada", lastName=""),
        lambda r: r["customer"].update(registrationNumber="-12"),
        lambda r: r["account"].update(currency="GBPX"),
    ]
    for n, fn in enumerate(edits):
        variant(n, fn)
    out.append(b'{"orderRef":"E-nan","customer":{"type":"ORGANISATION","organisationName":"A","registrationNumber":"1"},'
               b'"account":{"paymentType":"CASH","currency":"GBP"},"agreement":{"billFrequency":"DAILY"},'
               b'"subscriptions":[{"subscriptionRef":"S","payMode":"PREPAID","msisdn":"12345678","tariffCode":"T",'
               b'"activation":"IMMEDIATE","spendCap":{"kind":"VOLUME","scope":"FULL","amount":NaN}}]}')  # fmt: skip
    out.append(out[-1].replace(b"NaN", b"Infinity").replace(b"E-nan", b"E-inf"))
    out.append(out[-1].replace(b'"amount":Infinity}', b'"amount":5},"allowances":[{"type":"DATA","amount":Infinity,"unit":"GB","recurring":true}]').replace(b"E-inf", b"E-inf2"))
    return out


def test_order_edge_cases_agree():
    assert_agree("Order", _edge_orders())


REQUEST = {"requestId": "R-1", "actionItemNumber": 7, "subscriptionId": "SUB:1", "accountId": "A.1", "agreementId": "G_1",
           "command": "CONN", "sequence": 10, "commandAttributes": [{"name": "msisdn", "value": "447700900123"}]}  # fmt: skip
RESPONSE = {"requestId": "R-1", "actionItemNumber": 7, "isSuccess": True, "commandSentTimeStamp": "2026-11-25T06:00:00.5+01:00",
            "errorCode": None, "errorText": None, "externalRef": "INS-99812"}  # fmt: skip
BCC_REQUEST = {"actionItemNumber": 7, "subscriptionId": "SUB-1", "msisdn": "447700900123", "oldBillCycleDay": 15,
               "newBillCycleDay": 1, "effectiveDateTime": "2026-12-01T00:00:00Z",
               "sharedGroups": [{"sharedGroupId": "G1", "ocsSharedGroupId": "SG-77"}]}  # fmt: skip


def _bcc_response() -> dict:
    _, lines = generate_bill_cycle_responses(
        [BillCycleSubscription(7, "SUB-1", "447700900123", (("DATA-100GB", 100, "GB"), ("VOICE-UNL", "UNLIMITED", "MIN")),
                               ("CAP-1", 25.5, "GBP"))],
        effective=parse_rfc3339("2026-12-01T00:00:00Z"),
    )  # fmt: skip
    return json.loads(lines[0])


@pytest.mark.parametrize(
    "interface_type, base, key",
    [("Request", REQUEST, "requestId"), ("Response", RESPONSE, "requestId"),
     ("Bill Cycle Change Request", BCC_REQUEST, "actionItemNumber"),
     ("Bill Cycle Change Response", None, "actionItemNumber")],
)  # fmt: skip
def test_other_record_types_agree(interface_type, base, key):
    base = base or _bcc_response()
    lines = [json.dumps(base).encode()] + mutations(base, key, 400, seed=3)
    assert_agree(interface_type, lines)


def test_response_and_bcc_rules():
    failed = dict(RESPONSE, isSuccess=False, errorCode=None)
    ok_failed = dict(RESPONSE, requestId="R-2", isSuccess=False, errorCode="E42", errorText="no such subscriber")
    success_with_code = dict(RESPONSE, requestId="R-3", errorCode="E42")
    cap = _bcc_response()
    cap_bad_unit = copy.deepcopy(cap)
    cap_bad_unit["actionItemNumber"] = 8
    cap_bad_unit["ocsInstances"][-1]["unit"] = "GB"
    lines = [json.dumps(r).encode() for r in (failed, ok_failed, success_with_code)]
    parsed = parse_records(b"\n".join(lines), "Response", 2, file="t")
    reasons = {r["line_no"]: r["reasons"] for r in parsed.invalid.to_pylist()}
    assert reasons == {2: ["errorCode: is required when isSuccess is false"], 4: ['errorCode: must be null when isSuccess is true, got "E42"']}
    parsed = parse_records(json.dumps(cap).encode() + b"\n" + json.dumps(cap_bad_unit).encode(), "Bill Cycle Change Response", 2, file="t")
    assert parsed.valid.num_rows == 1
    assert parsed.invalid.to_pylist()[0]["reasons"] == [
        'ocsInstances[2].unit: must be an ISO 4217 currency code when kind is SPEND_CAP, got "GB"'
    ]
