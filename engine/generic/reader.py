"""read_generic: stream a plaintext generic file as a header and blocks of parsed records.

Memory is bounded by the block size: the file is read in blocks cut at line ends, and a line
longer than `max_line_bytes` is never held whole; it is skipped to its end and becomes an
invalid record "line too long: N bytes (the limit is M)" with its first bytes as `raw`
(engine.generic.cutter, as in the loader's shard workers). This is the single-process path
behind `cmpctl validate`; the loader's shard workers (engine.loading.shards) run the same
cutter and the same parse_records on their own ranges.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from engine.errors import FormatError
from engine.generic.cutter import LineCutter, too_long_reason
from engine.generic.depth import DEFAULT_MAX_DEPTH
from engine.generic.header import FileHeader, parse_header
from engine.generic.parse import parse_records
from engine.generic.records import ParsedRecords

DEFAULT_BLOCK_BYTES = 16 << 20
DEFAULT_MAX_LINE_BYTES = 16 << 20
READ_BYTES = 1 << 20


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
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> tuple[FileHeader, Iterator[ParsedRecords]]:
    """The file's header (checked now) and an iterator of its records block by block.

    The iterator raises FormatError after the last block when the number of record lines
    differs from the header's recordCount: consume it to the end before trusting a load.
    """
    header = parse_header(_read_header(src, file, max_line_bytes), file=file, max_depth=max_depth)
    return header, _blocks(src, header, file, block_bytes, max_line_bytes, max_depth)


def _blocks(src: BinaryIO, header: FileHeader, file: str, block_bytes: int, limit: int,
            max_depth: int) -> Iterator[ParsedRecords]:  # fmt: skip
    cutter = LineCutter(limit)

    def parse() -> ParsedRecords:
        block, first, long = cutter.take()
        preset = {i: (head, too_long_reason(length, limit)) for i, (length, head) in long.items()}
        return parse_records(block, header.interface_type, 2 + first, file=file, max_depth=max_depth, preset=preset)

    read_bytes = max(1, min(block_bytes, READ_BYTES))
    while chunk := src.read(read_bytes):
        cutter.feed(chunk)
        if cutter.line_start >= block_bytes:
            yield parse()
    cutter.finish()
    if cutter.lines > cutter.taken:
        yield parse()
    if cutter.lines != header.record_count:
        raise FormatError(
            f"recordCount says {header.record_count} records but the file has {cutter.lines} record lines",
            file=file,
            field="recordCount",
            hint="the file is truncated or its header is wrong; nothing of it should be loaded",
        )
