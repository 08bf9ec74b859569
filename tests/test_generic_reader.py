from __future__ import annotations

import io
import json
from datetime import date, datetime, timezone

import pyarrow as pa
import pytest

from engine.errors import FormatError
from engine.generic.header import FileHeader
from engine.generic.parse import INVALID_SCHEMA, parse_records
from engine.generic.reader import read_generic
from engine.generic.record_types import record_type
from engine.synth import BAD_KINDS, iter_order_lines

HEADER = FileHeader(interface_type="Order", identifier="t", created_at=datetime(2026, 1, 1, tzinfo=timezone.utc), record_count=0)


def good_order(ref: str = "O-1", **sub_changes) -> dict:
    sub = {"subscriptionRef": "S1", "payMode": "PREPAID", "msisdn": "447700900123", "tariffCode": "PAYG-10",
           "activation": "IMMEDIATE", "activationDate": None,
           "allowances": [{"type": "DATA", "amount": "UNLIMITED", "unit": "GB", "recurring": True}],
           "spendCap": None, "services": [{"type": "SOFTWARE_CAPABILITY", "code": "VOLTE"}]}  # fmt: skip
    sub.update(sub_changes)
    return {"orderRef": ref, "customer": {"type": "INDIVIDUAL", "title": "Ms", "firstName": "Ada", "lastName": "Byron",
            "dateOfBirth": "1990-12-10", "organisationName": None, "registrationNumber": None, "email": "ada@example.org"},
            "account": {"paymentType": "CARD", "currency": "GBP"},
            "agreement": {"billFrequency": "MONTHLY", "billCycleDay": 15, "cycleLengthDays": None},
            "subscriptions": [sub]}  # fmt: skip


def jl(*records) -> bytes:
    return b"".join((r if isinstance(r, bytes) else json.dumps(r, ensure_ascii=False).encode()) + b"\n" for r in records)


def reasons_by_line(parsed) -> dict[int, list[str]]:
    return {row["line_no"]: row["reasons"] for row in parsed.invalid.to_pylist()}


def file_bytes(lines: bytes, count: int, interface_type: str = "Order") -> bytes:
    header = FileHeader(interface_type=interface_type, identifier="t", created_at=HEADER.created_at, record_count=count)
    return header.to_json_line() + lines


# -- parse_records -------------------------------------------------------------------------------


def test_valid_table_has_exactly_the_typed_schema():
    parsed = parse_records(jl(good_order("A"), good_order("B")), "Order", 2, file="f")
    expected = pa.schema([pa.field("line_no", pa.int64()), *record_type("Order").arrow_schema])
    assert parsed.valid.schema == expected
    assert parsed.invalid.schema == INVALID_SCHEMA
    assert (parsed.records, parsed.errors) == (2, 0)
    row = parsed.valid.to_pylist()[0]
    assert row["line_no"] == 2 and row["customer"]["dateOfBirth"] == date(1990, 12, 10)
    assert row["agreement"]["billCycleDay"] == 15
    assert row["subscriptions"][0]["allowances"][0]["amount"] == float("inf")  # UNLIMITED


def test_every_bad_kind_is_caught_with_a_reason_naming_the_field():
    lines = list(iter_order_lines(len(BAD_KINDS) * 40, seed=4, bad_share=0.05))
    parsed = parse_records(b"".join(ol.line for ol in lines), "Order", 2, file="f")
    reasons = reasons_by_line(parsed)
    seen = set()
    for i, ol in enumerate(lines):
        if ol.bad_kind is None:
            assert i + 2 not in reasons, (i + 2, reasons.get(i + 2))
            continue
        seen.add(ol.bad_kind)
        assert i + 2 in reasons, f"{ol.bad_kind} on line {i + 2} passed"
        assert any(BAD_KINDS[ol.bad_kind] in r for r in reasons[i + 2]), (ol.bad_kind, reasons[i + 2])
    assert seen == set(BAD_KINDS)
    assert parsed.records == len(lines) and parsed.errors == sum(ol.bad_kind is not None for ol in lines)
    assert sorted(parsed.valid.column("line_no").to_pylist() + list(reasons)) == list(range(2, len(lines) + 2))


def test_every_reason_is_listed_when_a_record_breaks_several_rules():
    rec = good_order("M", msisdn="44A", payMode="POSTPAID", activation="DELAYED", simType="NANO")
    rec["customer"].pop("lastName")
    rec["customer"]["email"] = "nope"
    rec["agreement"]["billCycleDay"] = 40
    parsed = parse_records(jl(rec), "Order", 7, file="f")
    assert reasons_by_line(parsed)[7] == [
        "subscriptions[0].simType: unknown field",
        "customer.lastName: is required when customer.type is INDIVIDUAL",
        'customer.email: must be an email address, got "nope"',
        "agreement.billCycleDay: must be between 1 and 31, got 40",
        'subscriptions[0].msisdn: must be 8-15 digits, got "44A"',
        "subscriptions[0].activationDate: is required when activation is DELAYED",
        "subscriptions[0].spendCap: is required when payMode is POSTPAID",
    ]


def test_structural_and_semantic_reasons_together():
    rec = good_order("T", msisdn=12345678, tariffCode="")
    rec["agreement"]["billCycleDay"] = "15"
    parsed = parse_records(jl(rec), "Order", 2, file="f")
    assert reasons_by_line(parsed)[2] == [
        "agreement.billCycleDay: must be an integer, got string \"15\"",
        "subscriptions[0].msisdn: must be a string, got number 12345678",
        'subscriptions[0].tariffCode: must be 1-32 characters of A-Z a-z 0-9 . _ -, got ""',
    ]


def test_nested_paths_name_the_list_index():
    recs = [good_order("A"), good_order("B")]
    recs[1]["subscriptions"].append(dict(recs[1]["subscriptions"][0], subscriptionRef="S2", msisdn="44A"))
    recs[1]["subscriptions"][1]["allowances"] = [
        {"type": "VOICE", "amount": 10, "unit": "MIN", "recurring": True},
        {"type": "CASH", "amount": 1.005, "unit": "GBP", "recurring": False},
    ]
    parsed = parse_records(jl(*recs), "Order", 2, file="f")
    assert reasons_by_line(parsed) == {3: [
        'subscriptions[1].msisdn: must be 8-15 digits, got "44A"',
        "subscriptions[1].allowances[1].amount: must have at most 2 decimals when type is CASH, got 1.005",
    ]}  # fmt: skip


def test_line_level_errors():
    block = jl(
        good_order("A"),
        b"",
        b"   ",
        b'{"orderRef": "X"',
        b"[1, 2]",
        b'"text"',
        good_order("B"),
        b'{"orderRef":"\xff\xfe"}',
        b'{"orderRef":"Z"} {"orderRef":"Z2"}',
        b"\xef\xbb\xbf" + json.dumps(good_order("C")).encode(),
    )
    parsed = parse_records(block, "Order", 10, file="f")
    reasons = reasons_by_line(parsed)
    assert reasons[11] == ["empty line"] and reasons[12] == ["empty line"]
    assert reasons[13][0].startswith("invalid JSON at column 17")
    assert reasons[14] == ["must be a JSON object, got array"]
    assert reasons[15] == ["must be a JSON object, got string"]
    assert reasons[17] == ["not valid UTF-8 at byte 14"]
    assert reasons[18][0].startswith("invalid JSON") and "Extra data" in reasons[18][0]
    assert "BOM" in reasons[19][0]
    assert parsed.valid.column("line_no").to_pylist() == [10, 16]
    raw = {r["line_no"]: r["raw"] for r in parsed.invalid.to_pylist()}
    assert raw[17] == '{"orderRef":"\\xff\\xfe"}' and raw[11] == "" and raw[13] == '{"orderRef": "X"'


def test_crlf_and_missing_final_newline_are_tolerated():
    block = json.dumps(good_order("A")).encode() + b"\r\n" + json.dumps(good_order("B")).encode()
    parsed = parse_records(block, "Order", 2, file="f")
    assert parsed.errors == 0 and parsed.valid.column("line_no").to_pylist() == [2, 3]


def test_unlimited_infinity_nan_and_spaced_json():
    spaced = json.dumps(good_order("SP")).encode()  # Python's default ", " and ": " separators
    assert b'"amount": "UNLIMITED"' in spaced
    literal_inf = jl(good_order("INF")).replace(b'"UNLIMITED"', b"Infinity")
    nan_cap = jl(good_order("NAN", spendCap={"kind": "VOLUME", "scope": "FULL", "amount": 5})).replace(b'"amount": 5', b'"amount": NaN')
    cash = good_order("CASH", allowances=[{"type": "CASH", "amount": "UNLIMITED", "unit": "GBP", "recurring": False}])
    parsed = parse_records(spaced + b"\n" + literal_inf + nan_cap + jl(cash), "Order", 2, file="f")
    reasons = reasons_by_line(parsed)
    assert parsed.valid.column("orderRef").to_pylist() == ["SP"]
    assert reasons[3] == ["invalid JSON: Infinity is not a JSON value"]  # not passed off as UNLIMITED
    assert reasons[4] == ["subscriptions[0].spendCap.amount: must be a JSON number, got NaN"]
    assert reasons[5] == ['subscriptions[0].allowances[0].amount: must be a number when type is CASH, got "UNLIMITED"']


def test_unknown_field_with_null_value_is_caught():
    rec = good_order("N")
    rec["customer"]["middleName"] = None
    parsed = parse_records(jl(good_order("A"), rec), "Order", 2, file="f")
    assert reasons_by_line(parsed) == {3: ["customer.middleName: unknown field"]}


def test_integers_may_be_written_as_floats():
    a, b = good_order("A"), good_order("B")
    a["agreement"]["billCycleDay"] = 15.0
    b["agreement"]["billCycleDay"] = 15.5
    parsed = parse_records(jl(a, b), "Order", 2, file="f")
    assert parsed.valid.column("agreement").to_pylist()[0]["billCycleDay"] == 15
    assert reasons_by_line(parsed) == {3: ["agreement.billCycleDay: must be an integer, got 15.5"]}


def test_duplicate_keys_in_a_block():
    parsed = parse_records(jl(good_order("A"), good_order("B"), good_order("A"), good_order("A")), "Order", 2, file="f")
    assert reasons_by_line(parsed) == {
        4: ['orderRef: duplicate "A" (first seen 2 lines earlier)'],
        5: ['orderRef: duplicate "A" (first seen 3 lines earlier)'],
    }
    assert parsed.valid.column("line_no").to_pylist() == [2, 3]


def test_results_do_not_depend_on_piece_size():
    block = b"".join(ol.line for ol in iter_order_lines(400, seed=8, bad_share=0.15))
    results = [parse_records(block, "Order", 2, file="f", piece_bytes=size) for size in (1 << 22, 1 << 15, 3000, 1)]
    for other in results[1:]:
        assert other.invalid.equals(results[0].invalid)
        assert other.valid.equals(results[0].valid)


def test_empty_block_and_other_types():
    empty = parse_records(b"", "Order", 2, file="f")
    assert (empty.records, empty.errors) == (0, 0) and empty.valid.num_rows == 0
    resp = {"requestId": "R1", "actionItemNumber": 1, "isSuccess": True, "commandSentTimeStamp": "2026-11-25T06:00:00.123456789Z"}
    parsed = parse_records(jl(resp), "Response", 2, file="f")
    ts = parsed.valid.column("commandSentTimeStamp")
    assert ts.type == pa.timestamp("us", tz="UTC") and ts[0].as_py() == datetime(2026, 11, 25, 6, 0, 0, 123456, tzinfo=timezone.utc)
    with pytest.raises(FormatError):
        parse_records(b"", "Default", 2, file="f")


# -- read_generic --------------------------------------------------------------------------------


def test_read_generic_line_numbers_are_exact_across_blocks():
    lines = list(iter_order_lines(300, seed=9, bad_share=0.1))
    data = file_bytes(b"".join(ol.line for ol in lines), len(lines))
    header, blocks = read_generic(io.BytesIO(data), file="f", block_bytes=7000)
    parts = list(blocks)
    assert header.record_count == 300 and len(parts) > 20
    bad_lines = {i + 2 for i, ol in enumerate(lines) if ol.bad_kind}
    invalid = [ln for p in parts for ln in p.invalid.column("line_no").to_pylist()]
    valid = [ln for p in parts for ln in p.valid.column("line_no").to_pylist()]
    # a duplicate whose first occurrence is in an earlier block is the loader's to find
    dup_lines = {i + 2 for i, ol in enumerate(lines) if ol.bad_kind == "duplicate_order_ref"}
    assert set(invalid) | (dup_lines & set(valid)) == bad_lines
    assert sorted(invalid + valid) == list(range(2, 302))


def test_read_generic_record_count_mismatch():
    lines = b"".join(ol.line for ol in iter_order_lines(5, seed=1))
    header, blocks = read_generic(io.BytesIO(file_bytes(lines, 6)), file="in/x.jsonl.age")
    with pytest.raises(FormatError) as info:
        list(blocks)
    assert "recordCount says 6 records but the file has 5 record lines" in str(info.value)
    assert info.value.file == "in/x.jsonl.age" and info.value.field == "recordCount"


def test_read_generic_empty_file_and_missing_header():
    with pytest.raises(FormatError, match="empty file"):
        read_generic(io.BytesIO(b""), file="f")
    with pytest.raises(FormatError, match="unknown field"):
        read_generic(io.BytesIO(jl(good_order("A"))), file="f")  # a record where the header belongs
    header, blocks = read_generic(io.BytesIO(file_bytes(b"", 0)), file="f")
    assert [p.records for p in blocks] == []


def test_read_generic_long_line_is_an_invalid_record_without_being_held():
    long_line = b'{"orderRef":"' + b"x" * 5000 + b'"}\n'
    body = jl(good_order("A")) + long_line + jl(good_order("B")) + b'{"orderRef":"' + b"y" * 3000
    header, blocks = read_generic(io.BytesIO(file_bytes(body, 4)), file="f", block_bytes=512, max_line_bytes=2048)
    parts = list(blocks)
    invalid = pa.concat_tables([p.invalid for p in parts]).to_pylist()
    assert [r["line_no"] for r in invalid] == [3, 5]
    # the same wording as the loader's shard workers (one cutter for both)
    assert invalid[0]["reasons"] == ["line too long: 5,015 bytes (the limit is 2,048)"]
    assert invalid[1]["reasons"] == ["line too long: 3,013 bytes (the limit is 2,048)"]
    assert invalid[0]["raw"].startswith('{"orderRef":"xxx') and len(invalid[0]["raw"]) < 300
    assert [ln for p in parts for ln in p.valid.column("line_no").to_pylist()] == [2, 4]


def test_read_generic_long_line_inside_a_big_block():
    body = jl(good_order("A")) + b'{"orderRef":"' + b"x" * 3000 + b'"}\n' + jl(good_order("B"))
    header, blocks = read_generic(io.BytesIO(file_bytes(body, 3)), file="f", max_line_bytes=2048)
    parts = list(blocks)
    assert [r["line_no"] for p in parts for r in p.invalid.to_pylist()] == [3]
    assert [ln for p in parts for ln in p.valid.column("line_no").to_pylist()] == [2, 4]


def test_read_generic_final_line_without_newline_counts():
    body = jl(good_order("A")) + json.dumps(good_order("B")).encode()
    header, blocks = read_generic(io.BytesIO(file_bytes(body, 2)), file="f", block_bytes=100)
    assert sum(p.records for p in blocks) == 2


def test_byte_level_fuzz_never_raises_and_accounts_for_every_line():
    import random

    rng = random.Random(1234)
    good = [ol.line.rstrip(b"\n") for ol in iter_order_lines(150, seed=12)]
    junk = [b"\xff", b"\xc3", b'"', b"{", b"}", b"[", b"]", b",", b":", b"\\", b"\r", b" ", b"\t", b"NaN", b"Infinity",
            b"\xef\xbb\xbf", b'"UNLIMITED"', b"1e999", b"-", b"\x00", b"null", b"true"]  # fmt: skip
    lines = []
    for line in good:
        data = bytearray(line)
        for _ in range(rng.choice((0, 0, 1, 2, 5))):
            pos = rng.randrange(len(data) + 1)
            if rng.random() < 0.5 and pos < len(data):
                del data[pos : pos + rng.randrange(1, 4)]
            else:
                data[pos:pos] = rng.choice(junk)
        lines.append(bytes(data))
    block = b"\n".join(lines) + b"\n"
    for piece in (1 << 22, 2000):
        parsed = parse_records(block, "Order", 2, file="fuzz", piece_bytes=piece)
        numbers = sorted(parsed.valid.column("line_no").to_pylist() + parsed.invalid.column("line_no").to_pylist())
        assert numbers == list(range(2, 2 + len(lines)))
        assert all(r["reasons"] for r in parsed.invalid.to_pylist())
        assert 0 < parsed.errors < parsed.records
