"""Reading a screened block into Arrow, piece by piece, with pyarrow.json.

Measured on the 2-core build VM (synthetic orders): one `pyarrow.json` call costs ~0.3 ms
before it reads a byte (as much as reading ~50 KB), then reads ~180 MB/s; a failed call reads
up to the bad line and returns nothing, saying "in row N" for most errors.

* The block is cut at line ends into 4 MiB pieces, each read in one call with the record type's
  wire schema; lines set aside by the byte screens (engine.generic.block) are blanked out of
  the piece first (pyarrow skips whitespace-only lines), so a piece with bad lines still reads
  in one call.
* Unknown fields are read with unexpected_field_behavior="infer" and reported from the extra
  columns, so a misspelt field does not fail a piece.
* A line the screens missed fails its piece. The piece is then isolated: read in ranges and,
  when pyarrow stops at a line, the lines before it are read again (they are clean) and the
  line goes to the Python path. Ranges are sized sqrt(call cost x mean bytes between
  failures), which balances calls against bytes re-read; a failure without a hint is bisected.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.json as pj

from engine.generic.block import Block
from engine.generic.record_types import RecordType
from engine.generic.rules import Node
from engine.generic.validate import unknown_fields

PIECE_BYTES = 4 << 20  # measured: 4 MiB pieces read as fast as one call; 256 KiB ones ~40% slower
CALL_COST_BYTES = 64 << 10  # a pyarrow.json call's fixed cost (~0.3 ms), in bytes read
MIN_RANGE_BYTES = 64 << 10
_ROW_HINT = re.compile(r" in row (\d+)\s*$")
_READ_ERRORS = (pa.ArrowInvalid, UnicodeDecodeError)  # pyarrow's message may hold the bad bytes
Outcome = tuple[pa.Table | None, int | None]  #: (table, None) or (None, the row pyarrow stopped at)


@dataclass
class PieceReader:
    """Reads the pieces of one block; line indices are relative to the block."""

    block: Block
    rt: RecordType
    rules: Node
    tables: list[pa.Table] = field(default_factory=list)
    lines: list[np.ndarray] = field(default_factory=list)  # line index of each row, per table
    bad: list[int] = field(default_factory=list)  # lines for the Python path
    pre: dict[int, list[tuple[str, str]]] = field(default_factory=dict)  # line -> reasons found early
    quiet_bytes: int = 0  # bytes read since the last failed read
    failed_bytes: int = 0  # bytes read in pieces that failed
    failures: int = 0  # failed reads

    def __post_init__(self) -> None:
        self._options = pj.ParseOptions(
            explicit_schema=self.rt.wire_schema, unexpected_field_behavior="infer", newlines_in_values=False
        )

    def read_block(self, piece_bytes: int = PIECE_BYTES) -> None:
        """Read the whole block piece by piece; aside lines go to the Python path."""
        b = self.block
        self.bad.extend(i for i in np.flatnonzero(b.aside).tolist() if i not in b.rejected)
        a, n = 0, b.n_lines
        while a < n:
            stop = int(np.searchsorted(b.ends, b.starts[a] + piece_bytes, side="left")) + 1
            self.piece(a, min(max(stop, a + 1), n))
            a = stop

    def read(self, buf: bytes | memoryview) -> pa.Table:
        opts = pj.ReadOptions(use_threads=False, block_size=max(len(buf) + 1, 1 << 16))
        return pj.read_json(pa.BufferReader(buf), read_options=opts, parse_options=self._options)

    def try_read(self, buf: bytes | memoryview) -> Outcome:
        try:
            return self.read(buf), None
        except _READ_ERRORS as exc:
            m = _ROW_HINT.search(str(exc)) if isinstance(exc, pa.ArrowInvalid) else None
            return None, int(m.group(1)) if m else None

    def piece(self, a: int, b: int) -> None:
        """Read lines [a, b)."""
        blk = self.block
        if blk.aside[a:b].all():
            return
        view = blk.piece(a, b)
        outcome = self.try_read(view)
        if self._accepted(outcome, a, b):
            return
        found = blk.scan_keys(a)  # the first failure in a block not scanned yet
        if len(found):
            self.bad.extend(found.tolist())
            if blk.aside[a:b].all():
                return
            view = blk.piece(a, b)
            outcome = self.try_read(view)
            if self._accepted(outcome, a, b):
                return
        _Isolation(self, a, b, view).run(outcome)

    def _accepted(self, outcome: Outcome, a: int, b: int) -> bool:
        use = ~self.block.aside[a:b]
        table = outcome[0]
        if table is None or table.num_rows != int(use.sum()):
            return False
        self.accept(table, np.flatnonzero(use) + a)
        self.quiet_bytes += int(self.block.ends[b - 1] - self.block.starts[a])
        return True

    def accept(self, table: pa.Table, lines: np.ndarray) -> None:
        """Keep a table read from `lines`; report and drop columns the schema does not know."""
        wire = self.rt.wire_schema
        if table.schema != wire:
            nulls, reasons = unknown_fields(table, self.rules, wire)
            for row, found in reasons.items():
                self.pre.setdefault(int(lines[row]), []).extend(found)
            if nulls:  # an unknown field null in every row: find its lines by name, use the Python path
                keys = [f'"{name}"'.encode() for name in nulls]
                texts = [self.block.line(int(i)) for i in lines]
                suspect = np.array([any(k in t for k in keys) for t in texts], dtype=bool)
                self.bad.extend(int(i) for i in lines[suspect])
                table, lines = table.filter(pa.array(~suspect)), lines[~suspect]
            table = table.select(wire.names).cast(wire)
        self.tables.append(table)
        self.lines.append(lines)


class _Isolation:
    """Reads the lines of a failed piece [a, b) range by range, setting bad lines aside."""

    def __init__(self, reader: PieceReader, a: int, b: int, view: memoryview) -> None:
        self.reader, self.a, self.b = reader, a, b
        blk = reader.block
        self.base = int(blk.starts[a])
        self.buf = view  # the piece's bytes: lines set aside below are blanked in it too
        self.starts, self.ends = blk.starts[a:b] - self.base, blk.ends[a:b] - self.base
        self.use = ~blk.aside[a:b]

    def set_aside(self, i: int) -> None:
        blk = self.reader.block
        self.use[i] = False
        blk.aside[self.a + i] = True
        blk.blank(self.buf, self.base, self.a + i)
        self.reader.bad.append(self.a + i)

    def run(self, first: Outcome) -> None:
        table, hint = first
        seen = np.flatnonzero(self.use)
        if table is None and hint is not None and hint < len(seen):
            self.set_aside(int(seen[hint]))  # where pyarrow stopped: the Python path will say why
            self.reader.quiet_bytes = 0
        self.segment(0, len(self.use))

    def rows(self, a: int, b: int) -> np.ndarray:
        return a + np.flatnonzero(self.use[a:b])

    def read(self, a: int, b: int) -> str | int:
        """Read lines [a, b): "ok", "fail", or the line pyarrow stopped at."""
        idx = self.rows(a, b)
        if not len(idx):
            return "ok"
        table, hint = self.reader.try_read(self.buf[int(self.starts[idx[0]]) : int(self.ends[idx[-1]])])
        if table is not None and table.num_rows == len(idx):
            self.reader.accept(table, self.a + idx)
            return "ok"
        if table is None and hint is not None and 0 <= hint < len(idx):
            return int(idx[hint])
        return "fail"

    def range_end(self, cursor: int, b: int) -> int:
        """The end of the next range: about sqrt(call cost x bytes between failures), which
        minimises calls x call cost + bytes re-read (half a range per failure)."""
        r = self.reader
        gap = max(r.quiet_bytes, r.failed_bytes // max(r.failures, 1))
        size = min(4 << 20, max(MIN_RANGE_BYTES, int(math.sqrt(CALL_COST_BYTES * max(gap, 1)))))
        target = int(self.starts[cursor]) + size
        return min(b, max(cursor + 1, int(np.searchsorted(self.starts, target, side="left"))))

    def segment(self, a: int, b: int) -> None:
        cursor = a
        while cursor < b:
            end = self.range_end(cursor, b)
            result = self.read(cursor, end)
            r = self.reader
            r.failed_bytes += int(self.ends[end - 1]) - int(self.starts[cursor])
            if result == "ok":
                r.quiet_bytes += int(self.ends[end - 1]) - int(self.starts[cursor])
                cursor = end
                continue
            r.quiet_bytes, r.failures = 0, r.failures + 1
            if result == "fail":
                self.bisect(cursor, end)
                cursor = end
            else:  # pyarrow stopped at line `result`: the lines before it read cleanly
                j = int(result)
                self.set_aside(j)
                if j > cursor and self.read(cursor, j) != "ok":
                    self.bisect(cursor, j)
                cursor = j + 1

    def bisect(self, a: int, b: int) -> None:
        """Halve [a, b) until each part reads or is one line (hints shortcut the halving)."""
        stack = [(a, b)]
        while stack:
            a, b = stack.pop()
            idx = self.rows(a, b)
            if not len(idx):
                continue
            result = self.read(a, b)
            if result == "ok":
                continue
            if len(idx) == 1:
                self.set_aside(int(idx[0]))
            elif isinstance(result, int):
                self.set_aside(result)
                stack += [(result + 1, b), (a, result)]
            else:
                mid = int(idx[len(idx) // 2])
                stack += [(mid, b), (a, mid)]
