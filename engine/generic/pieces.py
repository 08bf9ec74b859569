"""Reading a block of record lines into Arrow, piece by piece, setting unreadable lines aside.

Measured on the 2-core build VM (synthetic orders): one `pyarrow.json` call costs ~0.4-0.6 ms
before it reads a byte (as much as reading 50-100 KB), then reads ~115 MB/s; a failed call reads
up to the bad line and returns nothing, saying "in row N" for most errors.

* The block is cut at line ends into 4 MiB pieces, each read in one call with the record
  type's wire schema: a clean piece costs what the baseline costs.
* `"amount":"UNLIMITED"` is rewritten to `"amount":Infinity` first (pyarrow has no union
  type, and reads `Infinity`). The bytes saved count the rewrites; the caller checks that as
  many +inf were read, so a literal `Infinity` (not JSON) cannot pass as UNLIMITED.
* Unknown fields are read with unexpected_field_behavior="infer" and reported from the extra
  columns, so a misspelt field does not break a piece.
* Once a piece fails, the reader turns careful (bad lines come in files, not alone): each piece
  is screened with numpy first, and lines that cannot be a JSON object (cut short, an array),
  blank lines and invalid UTF-8 are set aside without a read. The rest is read in ranges; when
  pyarrow stops at a line, the lines before it are read again (they are clean) and the line goes
  to the Python path. Ranges are sized sqrt(call cost x mean bytes between failures), which
  balances calls against bytes re-read; a failure without a hint is bisected. After 16 MiB
  without a failure the reader reads whole pieces again.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.json as pj

from engine.generic.lines import (
    BOM,
    SHRINK,
    blank,
    bounds,
    count_lines,
    count_rewrites,
    is_utf8,
    next_piece_end,
    not_object,
    not_utf8,
    rewrite_unlimited,
)
from engine.generic.record_types import RecordType
from engine.generic.rules import Node
from engine.generic.validate import unknown_fields

PIECE_BYTES = 4 << 20  # measured: 4 MiB pieces read as fast as one call; 256 KiB ones ~40% slower
CALL_COST_BYTES = 96 << 10  # a pyarrow.json call's fixed cost (~0.5 ms), in bytes read
MIN_RANGE_BYTES = 64 << 10
_ROW_HINT = re.compile(r" in row (\d+)\s*$")
_READ_ERRORS = (pa.ArrowInvalid, UnicodeDecodeError)  # pyarrow's message may hold the bad bytes
Outcome = tuple[pa.Table | None, int | None]  #: (table, None) or (None, the row pyarrow stopped at)


@dataclass
class PieceReader:
    """Reads the pieces of one block; line indices are relative to the block."""

    data: np.ndarray  # the block's bytes, zero-copy
    rt: RecordType
    rules: Node
    tables: list[pa.Table] = field(default_factory=list)
    lines: list[np.ndarray] = field(default_factory=list)  # line index of each row, per table
    rewrites: int = 0  # UNLIMITED rewrites in the rows read
    bad: list[int] = field(default_factory=list)  # lines for the Python path
    pre: dict[int, list[tuple[str, str]]] = field(default_factory=dict)  # line -> reasons found early
    careful: bool = False  # a piece failed: screen the next ones before reading
    since_failure: int = 0  # bytes read cleanly since pyarrow last failed
    careful_bytes: int = 0  # bytes read while careful
    failures: int = 0  # reads that failed while careful
    _pieces: list[tuple[int, int, int]] = field(default_factory=list)  # (first line, start, end)
    _piece_bounds: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._options = pj.ParseOptions(
            explicit_schema=self.rt.wire_schema, unexpected_field_behavior="infer", newlines_in_values=False
        )

    def read_block(self, piece_bytes: int = PIECE_BYTES) -> None:
        """Read the whole block piece by piece."""
        start, first_line, n = 0, 0, len(self.data)
        while start < n:
            end = next_piece_end(self.data, start, piece_bytes)
            self._pieces.append((first_line, start, end))
            first_line += self.piece(start, end, first_line, final=end == n)
            start = end

    def pieces(self) -> list[tuple[int, int, int]]:
        """(first line, start byte, end byte) of each piece read."""
        return self._pieces

    def line(self, i: int) -> bytes:
        """The bytes of block line i (without `\\n`)."""
        k = bisect_right(self._pieces, (i, math.inf, math.inf)) - 1
        first_line, start, end = self._pieces[k]
        if k not in self._piece_bounds:
            self._piece_bounds[k] = bounds(self.data[start:end])
        starts, ends = self._piece_bounds[k]
        return self.data[start + starts[i - first_line] : start + ends[i - first_line]].tobytes()

    def read(self, buf: bytes) -> pa.Table:
        opts = pj.ReadOptions(use_threads=False, block_size=max(len(buf) + 1, 1 << 16))
        return pj.read_json(pa.BufferReader(buf), read_options=opts, parse_options=self._options)

    def try_read(self, buf: bytes) -> Outcome:
        try:
            return self.read(buf), None
        except _READ_ERRORS as exc:
            m = _ROW_HINT.search(str(exc)) if isinstance(exc, pa.ArrowInvalid) else None
            return None, int(m.group(1)) if m else None

    def piece(self, start: int, end: int, first_line: int, final: bool) -> int:
        """Read one piece; returns its number of lines."""
        view = self.data[start:end]
        raw = view.tobytes()
        n_lines = count_lines(view, final)
        rewritten = rewrite_unlimited(raw)
        bad_before = len(self.bad)
        if self.careful and self.since_failure > 4 * PIECE_BYTES:  # the bad stretch is over
            self.careful = False
        utf8 = is_utf8(raw)
        first = None
        if not self.careful and utf8 and not raw.startswith(BOM):  # pyarrow skips a leading BOM
            first = self.try_read(rewritten)
            table = first[0]
            if table is not None and table.num_rows == n_lines:
                self.accept(table, np.arange(first_line, first_line + n_lines))
                self.since_failure += len(raw)
                first = None
        if first is not None or self.careful or not utf8 or raw.startswith(BOM):
            self.careful = True
            _Isolation(self, rewritten, first_line, n_lines, utf8).run(first)
        # UNLIMITED rewrites in the rows read: the piece's, less those in lines set aside
        spaced = b'": ' in raw[:512]
        aside = sum(count_rewrites(self.line(i), spaced) for i in self.bad[bad_before:])
        self.rewrites += (len(raw) - len(rewritten)) // SHRINK - aside
        return n_lines

    def accept(self, table: pa.Table, lines: np.ndarray) -> None:
        """Keep a table read from `lines`; report and drop columns the schema does not know."""
        wire = self.rt.wire_schema
        if table.schema != wire:
            nulls, reasons = unknown_fields(table, self.rules, wire)
            for row, found in reasons.items():
                self.pre.setdefault(int(lines[row]), []).extend(found)
            if nulls:  # an unknown field null in every row: find its lines by name, use the Python path
                keys = [f'"{name}"'.encode() for name in nulls]
                texts = [self.line(int(i)) for i in lines]
                suspect = np.array([any(k in t for k in keys) for t in texts], dtype=bool)
                self.bad.extend(int(i) for i in lines[suspect])
                table, lines = table.filter(pa.array(~suspect)), lines[~suspect]
            table = table.select(wire.names).cast(wire)
        self.tables.append(table)
        self.lines.append(lines)


class _Isolation:
    """Reads a failed (or, once careful, any) piece range by range, setting bad lines aside."""

    def __init__(self, reader: PieceReader, rewritten: bytes, first_line: int, n_lines: int, utf8: bool) -> None:
        self.reader, self.rewritten, self.first_line, self.n = reader, rewritten, first_line, n_lines
        arr = np.frombuffer(rewritten, np.uint8)
        self.starts, self.ends = bounds(arr)
        self.blank = blank(arr, self.starts, self.ends)  # pyarrow skips these: no row
        # set aside without a read: lines that cannot be one object, and invalid UTF-8 (which
        # pyarrow may accept); they split the piece into segments read separately
        self.skip = not_object(arr, self.starts, self.ends) & ~self.blank
        if not utf8:
            self.skip |= not_utf8(rewritten, self.starts, self.ends)
        self.use = ~(self.blank | self.skip)  # the lines that must each give one row
        self.aside: list[int] = np.flatnonzero(~self.use).tolist()

    def set_aside(self, i: int) -> None:
        self.aside.append(i)

    def run(self, first: Outcome | None) -> None:
        if first is not None:
            table, hint = first
            seen = np.flatnonzero(~self.blank)  # the lines pyarrow read a row from
            if table is not None and not self.skip.any() and table.num_rows == len(seen):
                self.read(0, self.n, first)  # only blank lines were in the way
                self._finish()
                return
            if table is None and hint is not None and hint < len(seen):
                j = int(seen[hint])  # where pyarrow stopped: the Python path will say why
                self.skip[j], self.use[j] = True, False
                self.set_aside(j)
                self.reader.since_failure = 0
        a = 0
        for c in [*np.flatnonzero(self.skip).tolist(), self.n]:  # skipped lines never reach pyarrow
            if c > a:
                self.segment(a, c)
            a = c + 1
        self._finish()

    def _finish(self) -> None:
        self.reader.bad.extend(self.first_line + i for i in self.aside)

    def rows(self, a: int, b: int) -> np.ndarray:
        return a + np.flatnonzero(self.use[a:b])

    def read(self, a: int, b: int, outcome: Outcome | None = None) -> str | int:
        """Read lines [a, b): "ok", "fail", or the line pyarrow stopped at."""
        idx = self.rows(a, b)
        if not len(idx):
            return "ok"
        s, e = int(self.starts[idx[0]]), int(self.ends[idx[-1]])
        if outcome is None:
            outcome = (None, None) if self.rewritten.startswith(BOM, s) else self.reader.try_read(self.rewritten[s:e])
        table, hint = outcome
        if table is not None and table.num_rows == len(idx):
            self.reader.accept(table, self.first_line + idx)
            return "ok"
        if table is None and hint is not None and 0 <= hint < len(idx):
            return int(idx[hint])
        return "fail"

    def range_end(self, cursor: int, b: int) -> int:
        """The end of the next range: about sqrt(call cost x bytes between failures), which
        minimises calls x call cost + bytes re-read (half a range per failure)."""
        r = self.reader
        gap = max(r.since_failure, r.careful_bytes // max(r.failures, 1))
        size = int(math.sqrt(CALL_COST_BYTES * max(gap, 1)))
        size = min(PIECE_BYTES, max(MIN_RANGE_BYTES, size))
        target = int(self.starts[cursor]) + size
        return min(b, max(cursor + 1, int(np.searchsorted(self.starts, target, side="left"))))

    def segment(self, a: int, b: int) -> None:
        cursor = a
        while cursor < b:
            end = self.range_end(cursor, b)
            result = self.read(cursor, end)
            r = self.reader
            r.careful_bytes += int(self.ends[end - 1]) - int(self.starts[cursor])
            if result == "ok":
                r.since_failure += int(self.ends[end - 1]) - int(self.starts[cursor])
                cursor = end
                continue
            r.since_failure, r.failures = 0, r.failures + 1
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
