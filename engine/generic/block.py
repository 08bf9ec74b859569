"""A block of record lines, screened byte by byte before any parser sees it.

Every line is classified with vectorised scans over the whole block (no per-line Python):

* *rejected*: a final verdict no parser may reach: nested deeper than the limit (a parser may
  crash on it: engine.generic.depth), or a verdict the caller already made (a line longer than
  `load.max_line_bytes`, which the reader skipped while reading it);
* *aside*: lines for the exact Python path (engine.generic.explain), never given to pyarrow:
  empty or not an object (`{` … `}`), invalid UTF-8 (pyarrow does not check it), control bytes
  or NUL (JSON allows neither inside strings), a BOM, invalid escapes or lone surrogates, and
  what the key scan finds pyarrow would fail on (engine.generic.keyscreen: a value of the wrong
  type, a number too large, a repeated key);
* the rest is read by pyarrow, piece by piece (engine.generic.pieces).

A pyarrow call that fails returns nothing and costs a re-read, so finding these lines first is
what keeps a block with bad lines near the speed of a clean one (measured at 1% bad records:
isolating them by failed reads took half of all the time).

Allowance amounts of `"UNLIMITED"` are found by the key scan and overwritten, in a copy of the
block, with `Infinity` padded to the same length (pyarrow has no union type and reads Infinity
as +inf, UNLIMITED's representation). So one set of line bounds serves the original text (kept
for error reports) and the copy pyarrow reads; and a literal Infinity, which is not JSON, is
never taken for UNLIMITED (the key scan sends it to the Python path).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.generic.depth import census, depth_reason, too_deep
from engine.generic.keyscreen import REWRITTEN, KeyTable, scan_keys
from engine.generic.lines import (
    UNLIMITED_FORMS,
    blank,
    bounds,
    is_utf8,
    not_object,
    not_utf8,
    rewrite_unlimited,
    unlimited_forms,
)
from engine.generic.escapes import escape_suspects, lines_of

#: a line the caller already judged: (the first bytes to keep as its raw text, its one reason)
Preset = tuple[bytes, str]


@dataclass
class Block:
    raw: bytes  #: the lines as given
    data: bytes | bytearray  #: what pyarrow reads: UNLIMITED rewritten, aside lines blanked (same offsets)
    starts: np.ndarray
    ends: np.ndarray
    aside: np.ndarray  #: bool per line: never shown to pyarrow
    table: KeyTable
    scanned_from: int | None = None  #: the key scan has covered lines from here on (None: not run)
    rewrites: np.ndarray | None = None  #: UNLIMITED rewrites per line, when the key scan made them
    rejected: dict[int, str] = field(default_factory=dict)  #: line -> its one reason
    preset_raw: dict[int, bytes] = field(default_factory=dict)  #: raw text of preset lines

    @property
    def n_lines(self) -> int:
        return len(self.starts)

    def line(self, i: int) -> bytes:
        """The original bytes of line i (without its `\\n`)."""
        return self.raw[self.starts[i] : self.ends[i]]

    def scan_keys(self, first: int = 0) -> np.ndarray:
        """Run the key scan over lines [first, n) and set aside what it finds; returns those
        lines. The first scan of a block also rewrites its UNLIMITED amounts."""
        if self.scanned_from is not None and self.scanned_from <= first:
            return np.zeros(0, np.int64)
        stop = self.n_lines if self.scanned_from is None else self.scanned_from
        hi = int(self.starts[stop]) if stop < self.n_lines else len(self.raw)
        arr = np.frombuffer(self.raw, np.uint8)
        found = scan_keys(self.raw, arr[:hi], self.starts[first:stop], self.table)
        if self.rewrites is None and not self.data:  # the first scan, while screening: it rewrites too
            self._rewrite(found.unlimited, found.unlimited_lines + first)
        self.scanned_from = first
        new = found.suspects + first
        new = new[~self.aside[new]]
        self.set_aside(new)
        return new

    def set_aside(self, lines: np.ndarray) -> None:
        """Never show these lines to pyarrow: mark them, and blank them out of `data` (pyarrow
        skips whitespace-only lines, so a piece with bad lines still reads in one call)."""
        self.aside[lines] = True
        if self.data and len(lines):
            if isinstance(self.data, bytes):  # a clean block's rewrite: copied once bad lines appear
                self.data = bytearray(self.data)
            view = np.frombuffer(self.data, np.uint8)
            for i in np.asarray(lines).tolist():
                view[self.starts[i] : self.ends[i]] = 32

    def rewrites_in(self, lines: list[int] | None = None) -> int:
        """UNLIMITED rewrites in the given lines (in the whole block when None)."""
        if self.rewrites is not None:
            return int(self.rewrites.sum() if lines is None else self.rewrites[lines].sum())
        text = self.raw if lines is None else b"\n".join(self.line(i) for i in lines)
        return sum(text.count(UNLIMITED_FORMS[k]) for k in unlimited_forms(self.raw))

    def _rewrite(self, positions: np.ndarray, lines: np.ndarray) -> None:
        data = bytearray(self.raw)
        if len(positions):
            view = np.frombuffer(data, np.uint8)
            view[positions[:, None] + np.arange(len(REWRITTEN))] = np.frombuffer(REWRITTEN, np.uint8)
        self.data = data
        self.rewrites = np.bincount(lines, minlength=self.n_lines)[: self.n_lines]


def screen_block(raw: bytes, table: KeyTable, max_depth: int, preset: dict[int, Preset] | None = None) -> Block:
    """Cut `raw` into lines and screen every line (see the module docstring). The key scan
    runs now only when the block already shows bad lines; else the piece reader runs it from
    the first piece that fails (measured: it costs ~40% of a pyarrow read, against ~20% for
    rewriting UNLIMITED with bytes.replace and counting it, which it replaces)."""
    arr = np.frombuffer(raw, np.uint8)
    starts, ends = bounds(arr)
    n = len(starts)
    counts = census(raw, n)
    aside = counts.controls > 0
    aside |= blank(arr, starts, ends) | not_object(arr, starts, ends)
    if not is_utf8(raw):
        aside |= not_utf8(raw, starts, ends)
    if counts.backslashes.any():
        aside[lines_of(escape_suspects(arr), starts)] = True
    block = Block(raw, b"", starts, ends, aside, table)
    for line, depth in too_deep(arr, starts, ends, counts.openers, max_depth).items():
        block.rejected[line] = depth_reason(depth, max_depth)
    for line, (head, reason) in (preset or {}).items():
        block.rejected[line] = reason
        block.preset_raw[line] = head
    if block.rejected:
        aside[list(block.rejected)] = True
    if aside.any():
        block.scan_keys()
    else:
        block.data = rewrite_unlimited(raw)
    block.set_aside(np.flatnonzero(aside))
    return block
