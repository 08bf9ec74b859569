"""Cutting an age-encrypted generic file into shards that decrypt and parse independently.

A shard is a range of age STREAM chunks. It *owns* every line whose first byte lies in its
range: it skips the tail of a line begun in the previous shard and reads past its own end
(decrypting further chunks) to finish its last line. So every line is read exactly once,
whatever the shard size, including lines longer than a shard.

Shards number their lines from 1; shard 0 counts the header as line 1. The Store shifts the
numbers to file line numbers when every shard's line count is known.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from engine import age
from engine.errors import FormatError
from engine.generic.header import FileHeader, parse_header
from engine.generic.parse import parse_records

CHUNK = 64 * 1024  # age STREAM plaintext chunk size


@dataclass(frozen=True)
class FilePlan:
    """Everything a shard worker needs, on any node: where the file is and how to open it."""

    path: str
    file_size: int
    header: "age.AgeHeader"
    chunk_count: int
    interface_type: str
    max_line_bytes: int = 16 * 1024 * 1024


@dataclass(frozen=True)
class ShardSpec:
    shard_no: int
    first_chunk: int
    stop_chunk: int  # exclusive


@dataclass(frozen=True)
class ShardResult:
    shard_no: int
    lines: int  # lines owned, header included for shard 0
    valid: pa.Table
    invalid: pa.Table
    plaintext_bytes: int


def plan_shards(chunk_count: int, shard_bytes: int) -> list[ShardSpec]:
    """Split ``chunk_count`` chunks into shards of about ``shard_bytes`` of plaintext."""
    per = max(1, shard_bytes // CHUNK)
    return [
        ShardSpec(i, start, min(start + per, chunk_count))
        for i, start in enumerate(range(0, max(chunk_count, 1), per))
    ]


def read_first_line(path: Path, header: "age.AgeHeader", file_size: int, chunk_count: int, max_bytes: int) -> bytes:
    """The file's first line (the generic header), decrypting only as many chunks as needed."""
    buf = bytearray()
    with open(path, "rb") as src:
        for i in range(chunk_count):
            part = age.decrypt_chunks(src, header, file_size, i, i + 1)
            cut = part.find(b"\n")
            if cut >= 0:
                buf += part[:cut]
                return bytes(buf)
            buf += part
            if len(buf) > max_bytes:
                raise FormatError(f"the first line is longer than {max_bytes:,} bytes; it cannot be a header",
                                  file=str(path), line=1)
    return bytes(buf)


def parse_file_header(line: bytes, *, file: str) -> FileHeader:
    if not line.strip():
        raise FormatError("the file is empty: no header line", file=file, line=1,
                          hint="a generic file starts with its header object")
    return parse_header(line, file=file)


def read_shard_lines(plan: FilePlan, spec: ShardSpec) -> bytes:
    """Decrypt the shard's chunks and return exactly the lines it owns."""
    with open(plan.path, "rb") as src:
        data = age.decrypt_chunks(src, plan.header, plan.file_size, spec.first_chunk, spec.stop_chunk)
        start = 0
        if spec.first_chunk > 0:
            prev = age.decrypt_chunks(src, plan.header, plan.file_size, spec.first_chunk - 1, spec.first_chunk)
            if not prev.endswith(b"\n"):
                # The range begins inside a line that an earlier shard owns: skip its tail.
                cut = data.find(b"\n")
                if cut < 0:
                    return b""  # the whole range is the middle of one long line
                start = cut + 1
        if data.endswith(b"\n") or spec.stop_chunk >= plan.chunk_count:
            return bytes(memoryview(data)[start:])
        # Finish the last line from the following chunks.
        tail = [memoryview(data)[start:]]
        chunk = spec.stop_chunk
        while chunk < plan.chunk_count:
            part = age.decrypt_chunks(src, plan.header, plan.file_size, chunk, chunk + 1)
            cut = part.find(b"\n")
            if cut >= 0:
                tail.append(memoryview(part)[: cut + 1])
                break
            tail.append(memoryview(part))
            chunk += 1
        return b"".join(tail)


def count_lines(data: bytes) -> int:
    if not data:
        return 0
    return data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


def process_shard(plan: FilePlan, spec: ShardSpec) -> ShardResult:
    """Decrypt, cut and parse one shard into Arrow (runs in a shard worker, on any node)."""
    data = read_shard_lines(plan, spec)
    lines = count_lines(data)
    plaintext_bytes = len(data)
    first_line_no = 1
    if spec.shard_no == 0:
        cut = data.find(b"\n")
        data = data[cut + 1 :] if cut >= 0 else b""  # the header was read by the coordinator
        first_line_no = 2
    data, too_long = _blank_long_lines(data, plan.max_line_bytes, first_line_no)
    parsed = parse_records(data, plan.interface_type, first_line_no, file=Path(plan.path).name)
    invalid = _explain_long_lines(parsed.invalid, too_long, plan.max_line_bytes)
    return ShardResult(spec.shard_no, lines, parsed.valid, invalid, plaintext_bytes)


def _blank_long_lines(data: bytes, limit: int, first_line_no: int) -> tuple[bytes, dict[int, tuple[int, bytes]]]:
    """Replace lines longer than ``limit`` by empty lines (kept as invalid records later), so the
    parser never holds them; returns {line_no: (length, first bytes)}."""
    if not _has_long_line(data, limit):
        return data, {}
    ends = np.flatnonzero(np.frombuffer(data, np.uint8) == 10)
    if len(ends) == 0 or ends[-1] != len(data) - 1:
        ends = np.append(ends, len(data))
    starts = np.concatenate(([0], ends[:-1] + 1))
    long_idx = np.flatnonzero(ends - starts > limit)
    if not len(long_idx):
        return data, {}
    too_long: dict[int, tuple[int, bytes]] = {}
    parts, pos = [], 0
    for i in long_idx:
        s, e = int(starts[i]), int(ends[i])
        too_long[first_line_no + int(i)] = (e - s, bytes(data[s : s + 200]))
        parts.append(data[pos:s])
        pos = e  # keep the line's own newline: it becomes an empty line
    parts.append(data[pos:])
    return b"".join(parts), too_long


def _has_long_line(data: bytes, limit: int) -> bool:
    """Is there a run of more than ``limit`` bytes without a newline? (steps ~limit at a time)"""
    pos, size = 0, len(data)
    while size - pos > limit:
        last = data.rfind(b"\n", pos, pos + limit + 1)
        if last < 0:
            return True
        pos = last + 1
    return False


def _explain_long_lines(invalid: pa.Table, too_long: dict[int, tuple[int, bytes]], limit: int) -> pa.Table:
    if not too_long:
        return invalid
    line_no = invalid.column("line_no").to_pylist()
    raw = invalid.column("raw").to_pylist()
    reasons = invalid.column("reasons").to_pylist()
    for i, n in enumerate(line_no):
        if n in too_long:
            length, head = too_long[n]
            raw[i] = head.decode("utf-8", "backslashreplace") + f"… ({length:,} bytes)"
            reasons[i] = [f"line too long: {length:,} bytes (the limit is {limit:,})"]
    return pa.table({"line_no": line_no, "raw": raw, "reasons": reasons}, schema=invalid.schema)
