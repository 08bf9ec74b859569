"""A block of record lines, screened byte by byte before any parser sees it.

Every line is classified with vectorised scans over the whole block (no per-line Python):

* *rejected*: a final verdict no parser may reach: nested deeper than the limit (a parser may
  crash on it: engine.generic.depth), or a verdict the caller already made (a line longer than
  `load.max_line_bytes`, which the reader skipped while reading it);
* *aside*: lines for the exact Python path (engine.generic.explain), never given to pyarrow:
  empty or not an object (`{` … `}`), invalid UTF-8 (pyarrow does not check it), control bytes
  or NUL (JSON allows neither inside strings), a BOM;
* the rest is read by pyarrow, piece by piece (engine.generic.pieces).

Allowance amounts of `"UNLIMITED"` are rewritten to `Infinity` in a same-length copy, so one
set of line bounds serves the original text (kept for error reports) and the copy pyarrow reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.generic.depth import census, depth_reason, too_deep
from engine.generic.lines import blank, bounds, count_rewrites, is_utf8, not_object, not_utf8, rewrite_unlimited

#: a line the caller already judged: (the first bytes to keep as its raw text, its one reason)
Preset = tuple[bytes, str]


@dataclass
class Block:
    raw: bytes  #: the lines as given
    data: bytes  #: the same with UNLIMITED rewritten (same offsets): what pyarrow reads
    arr: np.ndarray  #: `data` as uint8, zero-copy
    starts: np.ndarray
    ends: np.ndarray
    aside: np.ndarray  #: bool per line: never shown to pyarrow
    backslashes: np.ndarray  #: bool per line: holds a backslash (the escape screen's lines)
    rejected: dict[int, str] = field(default_factory=dict)  #: line -> its one reason
    preset_raw: dict[int, bytes] = field(default_factory=dict)  #: raw text of preset lines

    @property
    def n_lines(self) -> int:
        return len(self.starts)

    def line(self, i: int) -> bytes:
        """The original bytes of line i (without its `\\n`)."""
        return self.raw[self.starts[i] : self.ends[i]]

    def rewrites_in(self, lines: list[int]) -> int:
        return sum(count_rewrites(self.data[self.starts[i] : self.ends[i]]) for i in lines)


def screen_block(raw: bytes, max_depth: int, preset: dict[int, Preset] | None = None) -> Block:
    """Cut `raw` into lines and screen every line (see the module docstring)."""
    arr_raw = np.frombuffer(raw, np.uint8)
    starts, ends = bounds(arr_raw)
    n = len(starts)
    data = rewrite_unlimited(raw)
    counts = census(raw, n)
    aside = counts.controls > 0
    aside |= blank(arr_raw, starts, ends) | not_object(arr_raw, starts, ends)
    if not is_utf8(raw):
        aside |= not_utf8(raw, starts, ends)
    block = Block(raw, data, np.frombuffer(data, np.uint8), starts, ends, aside, counts.backslashes > 0)
    for line, depth in too_deep(arr_raw, starts, ends, counts.openers, max_depth).items():
        block.rejected[line] = depth_reason(depth, max_depth)
    for line, (head, reason) in (preset or {}).items():
        block.rejected[line] = reason
        block.preset_raw[line] = head
    if block.rejected:
        aside[list(block.rejected)] = True
    return block
