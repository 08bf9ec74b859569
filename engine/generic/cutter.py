"""Cutting a stream of bytes into lines, without ever holding a line over the length limit.

A line longer than `max_line_bytes` is an invalid record, and it must not cost its length in
memory: once the line in progress passes the limit, only its first bytes are kept and the rest
is counted as it streams past. The line stays in the output as an empty placeholder line (so
every later line keeps its number), and its length and first bytes are reported beside it.
Both readers of generic files use this: the shard workers (engine.loading.shards) and the
single-process reader behind `cmpctl validate` (engine.generic.reader).
"""

from __future__ import annotations

import numpy as np

RAW_HEAD_BYTES = 256  # what an over-long line keeps, for the error report


def too_long_reason(length: int, limit: int) -> str:
    return f"line too long: {length:,} bytes (the limit is {limit:,})"


class LineCutter:
    """Feed bytes in; take out blocks of whole lines and the over-long lines between them."""

    def __init__(self, max_line_bytes: int, head_bytes: int = RAW_HEAD_BYTES) -> None:
        self.limit = max_line_bytes
        self.head_bytes = head_bytes
        self.buf = bytearray()  # whole lines (each with its `\n`), then the line in progress
        self.line_start = 0  # where the line in progress starts in buf
        self.lines = 0  # lines finished so far, over-long ones included
        self.taken = 0  # lines handed out by take()
        self.skipping: list | None = None  # [length so far, first bytes] of an over-long line
        self.long: dict[int, tuple[int, bytes]] = {}  # line number (0-based) -> (length, first bytes)

    @property
    def pending(self) -> int:
        """Bytes held for the line in progress (never more than the limit)."""
        return len(self.buf) - self.line_start

    @property
    def in_line(self) -> bool:
        """Is a line begun and not yet ended?"""
        return self.pending > 0 or self.skipping is not None

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        chunk = bytes(data)
        pos = 0
        if self.skipping is not None:
            nl = chunk.find(b"\n")
            if nl < 0:
                self.skipping[0] += len(chunk)
                return
            self._end_long(self.skipping[0] + nl, self.skipping[1])
            pos = nl + 1
        last = chunk.rfind(b"\n", pos)
        if last < 0:
            self._grow(chunk, pos)
            return
        if self.pending + last - pos < self.limit:  # no line ending here can be over the limit
            self.buf += memoryview(chunk)[pos : last + 1]
            self.lines += chunk.count(b"\n", pos, last + 1)
        else:
            self._whole_lines(chunk, pos, last)
        self.line_start = len(self.buf)
        self._grow(chunk, last + 1)

    def finish(self) -> None:
        """The stream ended: a line in progress (no final `\\n`) is a line too."""
        if self.skipping is not None:
            self._end_long(self.skipping[0], self.skipping[1])
        elif self.pending:
            self.lines += 1
            self.line_start = len(self.buf)

    def take(self) -> tuple[bytes, int, dict[int, tuple[int, bytes]]]:
        """(the whole lines held, the number of the first, {index in the block: (length, first
        bytes)} of the over-long ones among them); they are then dropped from the cutter."""
        block = bytes(self.buf[: self.line_start])
        first = self.taken
        long = {n - first: v for n, v in self.long.items()}
        del self.buf[: self.line_start]
        self.line_start = 0
        self.long.clear()
        self.taken = self.lines
        return block, first, long

    def _grow(self, chunk: bytes, pos: int) -> None:
        """Append chunk[pos:], which holds no `\\n`, to the line in progress."""
        if self.pending + len(chunk) - pos <= self.limit:
            self.buf += memoryview(chunk)[pos:]
            return
        head = (bytes(self.buf[self.line_start :]) + chunk[pos : pos + self.head_bytes])[: self.head_bytes]
        self.skipping = [self.pending + len(chunk) - pos, head]
        del self.buf[self.line_start :]

    def _whole_lines(self, chunk: bytes, pos: int, last: int) -> None:
        """Append the lines ending in chunk[pos : last + 1], blanking the over-long ones."""
        ends = np.flatnonzero(np.frombuffer(chunk, np.uint8, last + 1 - pos, pos) == 10) + pos
        begins = np.concatenate(([pos], ends[:-1] + 1))
        lengths = ends - begins
        lengths[0] += self.pending
        a = pos
        for i in np.flatnonzero(lengths > self.limit).tolist():
            s, e = int(begins[i]), int(ends[i])
            self.buf += memoryview(chunk)[a:s]
            self.lines += chunk.count(b"\n", a, s)
            head = (bytes(self.buf[self.line_start :]) if i == 0 else b"") + chunk[s : s + self.head_bytes]
            if i == 0:
                del self.buf[self.line_start :]
            self._end_long(int(lengths[i]), head[: self.head_bytes])
            a = e + 1
        self.buf += memoryview(chunk)[a : last + 1]
        self.lines += chunk.count(b"\n", a, last + 1)

    def _end_long(self, length: int, head: bytes) -> None:
        self.long[self.lines] = (length, head)
        self.lines += 1
        self.buf += b"\n"  # an empty line stands in for it
        self.line_start = len(self.buf)
        self.skipping = None
