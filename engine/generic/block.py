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
isolating them by failed reads took half of all the time). The key scan costs ~0.35x a read,
so it runs at once only on a block that already shows bad lines; in a clean-looking block the
piece reader runs it from the first piece that fails.

Allowance amounts of `"UNLIMITED"` are read as `Infinity` padded to the same length (pyarrow
has no union type, and reads Infinity as +inf, UNLIMITED's representation): the key scan
finds them, or bytes.replace where no scan ran; each piece is rewritten in a reused buffer
(Block.piece). One set of line bounds serves the original text (kept for error reports) and
what pyarrow reads; a literal Infinity, which is not JSON, is never taken for UNLIMITED (the
key scan sends it to the Python path, and engine.generic.assemble counts infinities).
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
    gather_lines,
    is_utf8,
    not_object,
    not_utf8,
    rewrite_unlimited,
    unlimited_forms,
)
from engine.generic.escapes import escape_suspects, lines_of

#: a line the caller already judged: (the first bytes to keep as its raw text, its one reason)
Preset = tuple[bytes, str]
_REWRITTEN = np.frombuffer(REWRITTEN, np.uint8)


@dataclass
class Block:
    raw: bytes  #: the lines as given (pyarrow reads pieces of it: Block.piece)
    starts: np.ndarray
    ends: np.ndarray
    aside: np.ndarray  #: bool per line: never shown to pyarrow
    table: KeyTable
    scanned_from: int | None = None  #: the key scan has covered lines from here on (None: not run)
    unlimited: np.ndarray | None = None  #: byte positions of the UNLIMITED amounts (from the key scan)
    rewrites: np.ndarray | None = None  #: UNLIMITED amounts per line (from the key scan)
    rejected: dict[int, str] = field(default_factory=dict)  #: line -> its one reason
    preset_raw: dict[int, bytes] = field(default_factory=dict)  #: raw text of preset lines
    _scratch: bytearray = field(default_factory=bytearray, repr=False)

    @property
    def n_lines(self) -> int:
        return len(self.starts)

    def line(self, i: int) -> bytes:
        """The original bytes of line i (without its `\\n`)."""
        return self.raw[self.starts[i] : self.ends[i]]

    def piece(self, a: int, b: int) -> memoryview:
        """Lines [a, b) as pyarrow reads them: UNLIMITED amounts as `Infinity` (same length),
        aside lines blanked (pyarrow skips whitespace-only lines). Valid until the next call:
        pieces are built in one reused buffer (pyarrow copies what it reads), so a block costs
        no copy of itself and no page faults for one."""
        s, e = int(self.starts[a]), int(self.ends[b - 1])
        if len(self._scratch) < e - s:
            self._scratch = bytearray(max(e - s, 2 * len(self._scratch)))
        view = memoryview(self._scratch)[: e - s]
        if self.unlimited is None:  # no key scan: bytes.replace finds them
            view[:] = rewrite_unlimited(self.raw[s:e], unlimited_forms(self.raw))
        else:
            view[:] = memoryview(self.raw)[s:e]
            k = np.searchsorted(self.unlimited, [s, e])
            at = self.unlimited[k[0] : k[1]] - s
            np.frombuffer(view, np.uint8)[at[:, None] + np.arange(len(REWRITTEN))] = _REWRITTEN
        for i in (np.flatnonzero(self.aside[a:b]) + a).tolist():
            self.blank(view, s, i)
        return view

    def blank(self, view: memoryview, s: int, i: int) -> None:
        """Blank line i in a piece that starts at byte s."""
        np.frombuffer(view, np.uint8)[self.starts[i] - s : self.ends[i] - s] = 32

    def scan_keys(self, first: int = 0) -> np.ndarray:
        """Run the key scan over lines [first, n) and set aside what it finds; returns those
        lines. A scan from the first line also finds the block's UNLIMITED amounts."""
        if self.scanned_from is not None and self.scanned_from <= first:
            return np.zeros(0, np.int64)
        stop = self.n_lines if self.scanned_from is None else self.scanned_from
        hi = int(self.starts[stop]) if stop < self.n_lines else len(self.raw)
        found = scan_keys(self.raw, np.frombuffer(self.raw, np.uint8)[:hi], self.starts[first:stop], self.table)
        if first == 0 and self.scanned_from is None:
            self.unlimited = found.unlimited
            self.rewrites = np.bincount(found.unlimited_lines, minlength=self.n_lines)[: self.n_lines]
        self.scanned_from = first
        new = found.suspects + first
        new = new[~self.aside[new]]
        self.aside[new] = True
        return new

    def rewrites_in(self, lines: list[int] | None = None) -> int:
        """UNLIMITED amounts in the given lines (in the whole block when None)."""
        if self.rewrites is not None:
            return int(self.rewrites.sum() if lines is None else self.rewrites[lines].sum())
        text = self.raw if lines is None else b"\n".join(self.line(i) for i in lines)
        return sum(text.count(UNLIMITED_FORMS[k]) for k in unlimited_forms(self.raw))


def screen_block(raw: bytes, table: KeyTable, max_depth: int, preset: dict[int, Preset] | None = None) -> Block:
    """Cut `raw` into lines and screen every line (see the module docstring)."""
    arr = np.frombuffer(raw, np.uint8)
    starts, ends = bounds(arr)
    n = len(starts)
    counts = census(raw, n)
    aside = counts.controls > 0
    aside |= blank(arr, starts, ends) | not_object(arr, starts, ends)
    if not is_utf8(raw):
        aside |= not_utf8(raw, starts, ends)
    with_backslash = np.flatnonzero(counts.backslashes)
    if len(with_backslash) > n // 8:  # escapes everywhere (JSON written with ensure_ascii): scan it all
        aside[lines_of(escape_suspects(arr), starts)] = True
    elif len(with_backslash):  # only those lines, end to end
        u, offs = gather_lines(arr, starts[with_backslash], ends[with_backslash])
        aside[with_backslash[lines_of(escape_suspects(u), offs)]] = True
    block = Block(raw, starts, ends, aside, table)
    for line, depth in too_deep(arr, starts, ends, counts.openers, max_depth).items():
        block.rejected[line] = depth_reason(depth, max_depth)
    for line, (head, reason) in (preset or {}).items():
        block.rejected[line] = reason
        block.preset_raw[line] = head
    if block.rejected:
        aside[list(block.rejected)] = True
    if aside.any():
        block.scan_keys()
    return block
