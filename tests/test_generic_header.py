from __future__ import annotations

import json
import pickle
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from engine.errors import FormatError, InputRejected
from engine.generic.header import DATE_TIME_RE, INTERFACE_TYPES, FileHeader, parse_header, parse_rfc3339
from engine.generic.record_types import SCHEMA_DIR

GOOD = {
    "interfaceCategory": "Provisioning",
    "interfaceType": "Order",
    "version": "1.0",
    "identifier": "crm-20261125-0001",
    "extractDateTime": "2026-11-25T06:00:00Z",
    "recordCount": 250000,
}


def line(obj) -> bytes:
    return json.dumps(obj).encode() + b"\n"


def with_(**changes) -> dict:
    out = dict(GOOD)
    for k, v in changes.items():
        if v is ...:
            out.pop(k)
        else:
            out[k] = v
    return out


def test_parse_good_header():
    h = parse_header(line(GOOD), file="f.jsonl.age")
    assert h == FileHeader(
        interface_type="Order",
        identifier="crm-20261125-0001",
        created_at=datetime(2026, 11, 25, 6, tzinfo=timezone.utc),
        record_count=250000,
    )
    assert h.interface_category == "Provisioning" and h.version == "1.0" and h.time_field == "extractDateTime"


@pytest.mark.parametrize("itype", INTERFACE_TYPES)
def test_round_trip_every_interface_type(itype):
    h = FileHeader(
        interface_type=itype,
        identifier="x.1_2-3",
        created_at=datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
        record_count=0,
        time_field="loadDateTime",
    )
    text = h.to_json_line()
    assert text.endswith(b"\n") and text.count(b"\n") == 1
    assert json.loads(text)["loadDateTime"] == "2026-01-02T03:04:05.600000-05:30"
    assert parse_header(text, file="f") == h


def test_load_time_bom_crlf_and_integral_float_count_are_accepted():
    h = parse_header(b"\xef\xbb\xbf" + line(with_(extractDateTime=..., loadDateTime="2026-11-25T07:00:00+01:00", recordCount=3.0))[:-1] + b"\r\n", file="f")
    assert h.time_field == "loadDateTime" and h.record_count == 3
    assert h.created_at == datetime(2026, 11, 25, 6, tzinfo=timezone.utc)
    assert parse_header(line(GOOD)[:-1], file="f").record_count == 250000  # no newline (header-only file)


def test_utc_is_written_with_z():
    h = FileHeader(interface_type="Request", identifier="x", created_at=datetime(2026, 1, 1, tzinfo=timezone.utc), record_count=1)
    assert json.loads(h.to_json_line())["extractDateTime"] == "2026-01-01T00:00:00Z"


@pytest.mark.parametrize(
    "raw, field, message",
    [
        (b"", None, "line 1 is empty"),
        (b"\n", None, "line 1 is empty"),
        (b'{"interfaceCategory":"Provisioning\xff"}\n', None, "not valid UTF-8 at byte"),
        (b'{"interfaceCategory":"Provisioning",\n', None, "not valid JSON at column"),
        (b'{"recordCount":NaN}\n', None, "not valid JSON"),
        (b'[1,2]\n', None, "must be a JSON object, got array"),
        (line(with_(priority=1)), "priority", 'unknown field "priority"'),
        (line(with_(identifier=...)), "identifier", "missing field identifier"),
        (line(with_(recordCount=...)), "recordCount", "missing field recordCount"),
        (line(with_(extractDateTime=...)), "extractDateTime", "exactly one of extractDateTime and loadDateTime, has neither"),
        (line(with_(loadDateTime="2026-11-25T06:00:00Z")), "extractDateTime", "has both"),
        (line(with_(interfaceCategory="Billing")), "interfaceCategory", "interfaceCategory must be 'Provisioning'"),
        (line(with_(interfaceType="Orders")), "interfaceType", "unknown interfaceType 'Orders'"),
        (line(with_(interfaceType=1)), "interfaceType", "interfaceType must be a string, got number"),
        (line(with_(version="1.1")), "version", "version must be '1.0'"),
        (line(with_(version=1.0)), "version", "version must be a string, got number"),
        (line(with_(identifier="a/b")), "identifier", "bad identifier 'a/b'"),
        (line(with_(identifier="x" * 65)), "identifier", "bad identifier"),
        (line(with_(identifier="")), "identifier", "bad identifier"),
        (line(with_(extractDateTime="2026-02-30T06:00:00Z")), "extractDateTime", "not an RFC 3339 date-time"),
        (line(with_(extractDateTime="2026-11-25T06:00:00")), "extractDateTime", "not an RFC 3339 date-time"),
        (line(with_(extractDateTime="2026-11-25 06:00:00Z")), "extractDateTime", "not an RFC 3339 date-time"),
        (line(with_(recordCount="10")), "recordCount", "recordCount must be an integer, got string"),
        (line(with_(recordCount=1.5)), "recordCount", "recordCount must be an integer, got number"),
        (line(with_(recordCount=True)), "recordCount", "recordCount must be an integer, got boolean"),
        (line(with_(recordCount=-1)), "recordCount", "recordCount must be between 0 and"),
    ],
)
def test_header_errors_are_precise(raw, field, message):
    with pytest.raises(FormatError) as info:
        parse_header(raw, file="in/f.jsonl.age")
    err = info.value
    assert message in str(err)
    assert err.file == "in/f.jsonl.age" and err.line == 1 and err.field == field
    assert isinstance(err, InputRejected) and err.exit_code == 4
    copy = pickle.loads(pickle.dumps(err))  # crosses Ray process boundaries intact
    assert copy.context() == err.context() and str(copy) == str(err)


def test_unknown_interface_type_hint_lists_the_types():
    with pytest.raises(FormatError) as info:
        parse_header(line(with_(interfaceType="Default")), file="f")
    assert "Bill Cycle Change Response" in info.value.hint


@pytest.mark.parametrize(
    "changes",
    [dict(interface_type="Nope"), dict(identifier="a b"), dict(created_at=datetime(2026, 1, 1)), dict(record_count=-1),
     dict(record_count=True), dict(time_field="when"), dict(version="2.0")],
)  # fmt: skip
def test_building_a_bad_header_in_code_raises(changes):
    args = dict(interface_type="Order", identifier="x", created_at=datetime(2026, 1, 1, tzinfo=timezone.utc), record_count=1)
    args.update(changes)
    with pytest.raises(ValueError, match="invalid FileHeader"):
        FileHeader(**args)


def test_rfc3339_parsing():
    assert parse_rfc3339("2026-12-01T00:00:00.123456789+05:30") == datetime(
        2026, 12, 1, 0, 0, 0, 123456, tzinfo=timezone(timedelta(hours=5, minutes=30))
    )
    for bad in ("2026-12-01T00:00:00z", "2026-12-01T00:00:60Z", "2026-13-01T00:00:00Z", "0000-01-01T00:00:00Z",
                "2026-12-01T00:00:00+24:00", "2026-12-01T00:00:00.Z", "2026-12-01T00:00:00.1234567890Z"):  # fmt: skip
        assert parse_rfc3339(bad) is None, bad


def test_header_schema_agrees_with_parse_header():
    schema = json.loads((SCHEMA_DIR / "header.schema.json").read_text(), parse_float=Decimal)
    checker = FormatChecker()
    checker.checks("date-time")(lambda v: not isinstance(v, str) or bool(DATE_TIME_RE.match(v)) and parse_rfc3339(v) is not None)
    validator = Draft202012Validator(schema, format_checker=checker)
    cases = [GOOD, with_(extractDateTime=..., loadDateTime="2026-11-25T06:00:00Z"), with_(recordCount=0),
             with_(recordCount=2**53 - 1), with_(recordCount=2**53), with_(identifier="a" * 64)]  # fmt: skip
    cases += [with_(**{k: v}) for k, v in [("priority", 1), ("version", "1.1"), ("identifier", "a:b"), ("recordCount", -1),
              ("interfaceType", "Default"), ("loadDateTime", "2026-11-25T06:00:00Z"), ("extractDateTime", ...),
              ("extractDateTime", "2026-02-29T00:00:00Z"), ("interfaceCategory", "provisioning")]]  # fmt: skip
    for case in cases:
        try:
            parse_header(line(case), file="f")
            ours = True
        except FormatError:
            ours = False
        assert validator.is_valid(json.loads(json.dumps(case), parse_float=Decimal)) == ours, case
