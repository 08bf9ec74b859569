from __future__ import annotations

import io
import json
from datetime import datetime, timezone

import pyarrow as pa
import pytest

from engine.generic.header import FileHeader
from engine.generic.reader import read_generic
from engine.generic.writer import record_line, write_generic
from engine.synth import iter_order_lines

WHEN = datetime(2026, 11, 25, 6, tzinfo=timezone.utc)


def header(itype: str, count: int) -> FileHeader:
    return FileHeader(interface_type=itype, identifier="out-1", created_at=WHEN, record_count=count)


def request(n: int) -> dict:
    return {"requestId": f"R-{n}", "actionItemNumber": n, "subscriptionId": f"SUB-{n}", "accountId": "ACC-1",
            "agreementId": "AGR-1", "command": "CONN", "sequence": 10,
            "commandAttributes": [{"name": "msisdn", "value": f"4477009{n:05d}"}]}  # fmt: skip


def read_all(data: bytes):
    hdr, blocks = read_generic(io.BytesIO(data), file="back")
    parts = list(blocks)
    if not parts:
        return hdr, pa.table({}), 0
    return hdr, pa.concat_tables([p.valid for p in parts]), sum(p.errors for p in parts)


def test_requests_round_trip():
    records = [request(n) for n in range(1, 51)]
    sink = io.BytesIO()
    written = write_generic(sink, header("Request", 50), records)
    data = sink.getvalue()
    assert written == len(data)
    lines = data.split(b"\n")
    assert lines[-1] == b"" and len(lines) == 52  # header + 50 records, each `\n`-terminated
    assert json.loads(lines[1]) == records[0] and b" " not in lines[1]  # compact
    hdr, table, errors = read_all(data)
    assert hdr == header("Request", 50) and errors == 0
    assert table.drop_columns(["line_no"]).to_pylist() == records


def test_orders_table_round_trip_keeps_unlimited_dates_and_types():
    src = b"".join(ol.line for ol in iter_order_lines(300, seed=2))
    hdr, blocks = read_generic(io.BytesIO(header("Order", 300).to_json_line() + src), file="in")
    table = pa.concat_tables([p.valid for p in blocks])
    sink = io.BytesIO()
    write_generic(sink, header("Order", table.num_rows), table)
    out = sink.getvalue()
    assert b'"amount":"UNLIMITED"' in out and b'"dateOfBirth":"19' in out
    assert [json.loads(x) for x in out.splitlines()[1:]] == [json.loads(x) for x in src.splitlines()]
    _, back, errors = read_all(out)
    assert errors == 0 and back.equals(table)


def test_count_mismatch_raises_before_writing():
    sink = io.BytesIO()
    with pytest.raises(ValueError, match="record_count is 3 but 2 records"):
        write_generic(sink, header("Request", 3), (request(n) for n in (1, 2)))
    assert sink.getvalue() == b""


def test_outbound_record_breaking_the_contract_raises_before_writing():
    bad = request(2)
    bad["command"] = "conn"
    bad["extra"] = 1
    sink = io.BytesIO()
    with pytest.raises(ValueError) as info:
        write_generic(sink, header("Request", 2), [request(1), bad])
    assert sink.getvalue() == b""
    assert "record 2" in str(info.value) and "command" in str(info.value) and "extra: unknown field" in str(info.value)


def test_duplicate_outbound_keys_raise():
    with pytest.raises(ValueError, match="duplicate"):
        write_generic(io.BytesIO(), header("Request", 2), [request(1), request(1)])


def test_record_line_renders_python_values():
    line = record_line({"effectiveDateTime": WHEN, "amount": float("inf"), "d": datetime(2026, 1, 1, tzinfo=timezone.utc).date()})
    assert line == b'{"effectiveDateTime":"2026-11-25T06:00:00Z","amount":"UNLIMITED","d":"2026-01-01"}\n'
    with pytest.raises(ValueError):
        record_line({"amount": float("nan")})


def test_empty_file():
    sink = io.BytesIO()
    write_generic(sink, header("Bill Cycle Change Request", 0), [])
    hdr, table, errors = read_all(sink.getvalue())
    assert hdr.record_count == 0 and table.num_rows == 0
