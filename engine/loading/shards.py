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

import pyarrow as pa

from engine import age
from engine.errors import FormatError
from engine.generic.cutter import LineCutter, too_long_reason
from engine.generic.depth import DEFAULT_MAX_DEPTH
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
    max_depth: int = DEFAULT_MAX_DEPTH


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


def parse_file_header(line: bytes, *, file: str, max_depth: int = DEFAULT_MAX_DEPTH) -> FileHeader:
    if not line.strip():
        raise FormatError("the file is empty: no header line", file=file, line=1,
                          hint="a generic file starts with its header object")
    return parse_header(line, file=file, max_depth=max_depth)


@dataclass(frozen=True)
class ShardLines:
    """The lines a shard owns: whole lines, with an empty line standing in for each over-long
    one (`long`: its index among `data`'s lines -> (length, first bytes))."""

    data: bytes
    first_line_no: int  # the shard-relative number of data's first line
    lines: int  # lines owned, the header included for shard 0
    long: dict[int, tuple[int, bytes]]
    plaintext_bytes: int  # bytes owned, over-long lines at their full length


def _ends_a_line(src, plan: FilePlan, chunk: int) -> bool:
    return age.decrypt_chunks(src, plan.header, plan.file_size, chunk, chunk + 1).endswith(b"\n")


def read_shard_lines(plan: FilePlan, spec: ShardSpec) -> ShardLines:
    """Decrypt the shard's chunks batch by batch and cut out exactly the lines it owns.

    Memory stays near the shard's size whatever its lines: a line longer than
    `plan.max_line_bytes` is skipped as it streams past (engine.generic.cutter), including one
    that runs on far past the shard's end, and the tail of a line begun in an earlier shard is
    skipped without being held. Shard 0 skips the header line the same way (it counts as line 1).
    """
    cutter = LineCutter(plan.max_line_bytes)
    owned = 0
    skipping = spec.shard_no == 0  # the header was read by the coordinator
    with open(plan.path, "rb") as src:
        if spec.first_chunk > 0 and not _ends_a_line(src, plan, spec.first_chunk - 1):
            skipping = True  # the range begins inside a line that an earlier shard owns
        for view in age.iter_decrypt_chunks(src, plan.header, plan.file_size, spec.first_chunk, spec.stop_chunk):
            if skipping:
                cut = bytes(view).find(b"\n")
                if spec.shard_no == 0:  # the header line is shard 0's; an earlier shard's tail is not
                    owned += len(view) if cut < 0 else cut + 1
                if cut < 0:
                    continue
                view, skipping = view[cut + 1 :], False
            cutter.feed(view)
            owned += len(view)
        if cutter.in_line:  # finish the last line from the chunks that follow
            for view in age.iter_decrypt_chunks(src, plan.header, plan.file_size, spec.stop_chunk, plan.chunk_count):
                cut = bytes(view).find(b"\n")
                part = view if cut < 0 else view[: cut + 1]
                cutter.feed(part)
                owned += len(part)
                if cut >= 0:
                    break
    cutter.finish()
    data, _, long = cutter.take()
    header = 1 if spec.shard_no == 0 else 0
    return ShardLines(data, 1 + header, cutter.lines + header, long, owned)


def process_shard(plan: FilePlan, spec: ShardSpec) -> ShardResult:
    """Decrypt, cut and parse one shard into Arrow (runs in a shard worker, on any node)."""
    shard = read_shard_lines(plan, spec)
    limit = plan.max_line_bytes
    preset = {i: (head, too_long_reason(length, limit)) for i, (length, head) in shard.long.items()}
    parsed = parse_records(shard.data, plan.interface_type, shard.first_line_no, file=Path(plan.path).name,
                           max_depth=plan.max_depth, preset=preset)
    return ShardResult(spec.shard_no, shard.lines, parsed.valid, parsed.invalid, shard.plaintext_bytes)
