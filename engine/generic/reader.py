"""read_generic: stream a plaintext generic file as a header and blocks of parsed records.

Memory is bounded by the block size: the file is read in blocks cut at line ends, and a line
longer than `max_line_bytes` is never held whole; it is skipped to its end and becomes an
invalid record "line too long (N bytes, limit M)" with its first bytes as `raw`. (The loader's
shard workers call parse_records on their own blocks; this is the single-process path used by
small files, the CLI and tests.)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import pyarrow as pa

from engine.errors import FormatError
from engine.generic.header import FileHeader, parse_header
from engine.generic.parse import parse_records
from engine.generic.record_types import record_type
from engine.generic.records import INVALID_SCHEMA, ParsedRecords

DEFAULT_BLOCK_BYTES = 16 << 20
DEFAULT_MAX_LINE_BYTES = 16 << 20
RAW_PREFIX_BYTES = 256  # what an over-long line keeps for the error table


def _empty_valid(interface_type: str) -> pa.Table:
    schema = record_type(interface_type).arrow_schema
    return pa.schema([pa.field("line_no", pa.int64()), *schema]).empty_table()


def _too_long(interface_type: str, line_no: int, size: int, prefix: bytes, limit: int) -> ParsedRecords:
    raw = prefix.decode("utf-8", errors="backslashreplace") + "…"
    invalid = pa.table(
        {"line_no": [line_no], "raw": [raw], "reasons": [[f"line too long ({size} bytes, limit {limit})"]]},
        schema=INVALID_SCHEMA,
    )
    return ParsedRecords(valid=_empty_valid(interface_type), invalid=invalid)


def _read_header(src: BinaryIO, file: str, limit: int) -> bytes:
    line = src.readline(limit + 1)
    if not line:
        raise FormatError("empty file: no header line", file=file, line=1, hint="line 1 must be the header object")
    if len(line) > limit and not line.endswith(b"\n"):
        raise FormatError(f"header line longer than {limit} bytes", file=file, line=1)
    return line


def read_generic(
    src: BinaryIO,
    *,
    file: str,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> tuple[FileHeader, Iterator[ParsedRecords]]:
    """The file's header (checked now) and an iterator of its records block by block.

    The iterator raises FormatError after the last block when the number of record lines
    differs from the header's recordCount: consume it to the end before trusting a load.
    """
    header = parse_header(_read_header(src, file, max_line_bytes), file=file)
    return header, _blocks(src, header, file, block_bytes, max_line_bytes)


def _blocks(src: BinaryIO, header: FileHeader, file: str, block_bytes: int, limit: int) -> Iterator[ParsedRecords]:
    itype = header.interface_type
    line_no = 2  # the next record line's number
    pending = b""  # the start of a line whose end has not been read yet
    skipping: tuple[int, bytes] | None = None  # an over-long line: (bytes so far, its first bytes)
    while True:
        chunk = src.read(block_bytes)
        if skipping is not None:
            if not chunk:
                yield _too_long(itype, line_no, skipping[0], skipping[1], limit)
                line_no += 1
                break
            nl = chunk.find(b"\n")
            if nl < 0:
                skipping = (skipping[0] + len(chunk), skipping[1])
                continue
            yield _too_long(itype, line_no, skipping[0] + nl, skipping[1], limit)
            line_no += 1
            skipping, chunk = None, chunk[nl + 1 :]
            if not chunk:
                continue
        if not chunk:
            if pending:  # the last line lacks its `\n`
                yield _parse(pending, itype, line_no, file, limit)
                line_no += 1
            break
        buf = pending + chunk
        cut = buf.rfind(b"\n") + 1
        if cut == 0:
            if len(buf) > limit:
                skipping, pending = (len(buf), buf[:RAW_PREFIX_BYTES]), b""
            else:
                pending = buf
            continue
        block, pending = buf[:cut], buf[cut:]
        if len(pending) > limit:
            skipping, pending = (len(pending), pending[:RAW_PREFIX_BYTES]), b""
        n_lines = block.count(b"\n")
        yield _parse(block, itype, line_no, file, limit)
        line_no += n_lines
    records = line_no - 2
    if records != header.record_count:
        raise FormatError(
            f"recordCount says {header.record_count} records but the file has {records} record lines",
            file=file,
            field="recordCount",
            hint="the file is truncated or its header is wrong; nothing of it should be loaded",
        )


def _parse(block: bytes, itype: str, line_no: int, file: str, limit: int) -> ParsedRecords:
    """parse_records, except lines over the limit (possible when blocks are bigger than it)."""
    if len(block) <= limit:
        return parse_records(block, itype, line_no, file=file)
    import numpy as np  # only for big blocks

    ends = np.flatnonzero(np.frombuffer(block, np.uint8) == 10)
    if len(block) and block[-1:] != b"\n":
        ends = np.append(ends, len(block))
    starts = np.concatenate(([0], ends[:-1] + 1))
    long_lines = np.flatnonzero(ends - starts > limit)
    if not len(long_lines):
        return parse_records(block, itype, line_no, file=file)
    parts, a = [], 0
    for i in long_lines.tolist():
        if i > a:
            parts.append(parse_records(block[starts[a] : starts[i]], itype, line_no + a, file=file))
        s, e = int(starts[i]), int(ends[i])
        parts.append(_too_long(itype, line_no + i, e - s, block[s : s + RAW_PREFIX_BYTES], limit))
        a = i + 1
    if a < len(starts):
        parts.append(parse_records(block[starts[a] :], itype, line_no + a, file=file))
    return ParsedRecords(
        valid=pa.concat_tables([p.valid for p in parts]), invalid=pa.concat_tables([p.invalid for p in parts])
    )
