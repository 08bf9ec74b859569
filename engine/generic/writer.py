"""write_generic: write a plaintext generic file (outbound Request / Bill Cycle Change Request
files, and synthetic files).

Nothing is written until every record is serialised and passes the same validator the reader
uses, and the number of records equals header.record_count: a file the engine writes never
breaks the contract it enforces on others (a bad outbound record is a bug: ValueError).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any, BinaryIO

import pyarrow as pa

from engine.generic.header import FileHeader, format_rfc3339
from engine.generic.parse import parse_records

VALIDATE_BYTES = 16 << 20  # validate in blocks of this size


def _jsonable(value: Any) -> Any:
    """Arrow/Python values as JSON values: dates and times as RFC 3339, +inf as UNLIMITED."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return format_rfc3339(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and math.isinf(value) and value > 0:
        return "UNLIMITED"
    return value


def record_line(record: dict[str, Any]) -> bytes:
    """One record as a compact JSON line (UTF-8, `\\n`-terminated)."""
    return json.dumps(_jsonable(record), ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode() + b"\n"


def _records(records: Iterable[dict[str, Any]] | pa.Table) -> Sequence[dict[str, Any]]:
    if isinstance(records, pa.Table):
        if "line_no" in records.column_names:  # a valid-records table read back
            records = records.drop_columns(["line_no"])
        return records.to_pylist()
    # counted before anything is written, so an iterator is materialised
    return records if isinstance(records, Sequence) else list(records)


def write_generic(sink: BinaryIO, header: FileHeader, records: Iterable[dict[str, Any]] | pa.Table) -> int:
    """Write the header line and one compact JSON line per record; returns the bytes written.

    `records` is a pyarrow Table (typed or wire schema; a line_no column is dropped) or dicts
    shaped like the record schema ("UNLIMITED" or +inf for unlimited amounts; dates and times
    as strings or date/datetime objects). Raises ValueError, before writing anything, if the
    count differs from header.record_count or a record breaks the contract.
    """
    rows = _records(records)
    if len(rows) != header.record_count:
        raise ValueError(
            f"header.record_count is {header.record_count} but {len(rows)} records were given; nothing written"
        )
    lines = [record_line(r) for r in rows]
    start = 0
    while start < len(lines):  # validate in blocks with the reader's own validator
        end, size = start, 0
        while end < len(lines) and (size < VALIDATE_BYTES or end == start):
            size += len(lines[end])
            end += 1
        parsed = parse_records(b"".join(lines[start:end]), header.interface_type, start + 2, file="<outbound>")
        if parsed.errors:
            first = parsed.invalid.slice(0, 3).to_pylist()
            detail = "; ".join(f"record {r['line_no'] - 1}: {', '.join(r['reasons'])}" for r in first)
            raise ValueError(f"{parsed.errors} outbound {header.interface_type} record(s) break the contract: {detail}")
        start = end
    written = sink.write(header.to_json_line()) or 0
    for k in range(0, len(lines), 65536):  # big writes
        written += sink.write(b"".join(lines[k : k + 65536])) or 0
    return written
