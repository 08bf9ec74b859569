"""Nesting depth of JSON lines, found by scanning bytes before any parser sees them.

A record nested ~30,000 levels deep segfaults pyarrow.json (its parser recurses), and Python's
json raises RecursionError near 1,000; so depth is measured on the bytes and a line deeper than
the limit never reaches a parser. Objects and arrays both count; the record itself is level 1.

The number of `{` and `[` bytes of a line bounds its depth without any string awareness
(brackets inside strings only add to it), so only lines with more openers than the limit get
the exact, string-aware scan. Measured on 64 MB of synthetic orders: the census costs ~30 ms
(one `bytes.translate`), the exact scan of the ~0.3% of lines over the bound ~4 ms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.generic.lines import gather_lines

DEFAULT_MAX_DEPTH = 64
_SEGMENT = 1 << 20  # bytes scanned per vectorised pass: memory stays ~10x this
_NL, _QUOTE, _BACKSLASH = 10, 34, 92
_LBRACE, _RBRACE, _LBRACKET, _RBRACKET = 123, 125, 91, 93
#: the bytes the census keeps: newline, openers, backslash and the control characters
_KEEP = bytes([_NL, _LBRACE, _LBRACKET, _BACKSLASH, *(b for b in range(32) if b != _NL)])
_DROP = bytes(b for b in range(256) if b not in _KEEP)


@dataclass(frozen=True)
class Census:
    """Per line of a block: its `{`/`[` bytes, control bytes (not counting a CR that ends the
    line) and backslashes. Bytes inside strings count too: these are bounds and hints."""

    openers: np.ndarray
    controls: np.ndarray
    backslashes: np.ndarray


def census(data: bytes, n_lines: int, chunk: int = 1 << 20) -> Census:
    """One pass over the block: bytes.translate keeps the ~2% of bytes that matter (all of
    them for a hostile line of brackets: those are counted in chunks, so memory stays small)."""
    kept = np.frombuffer(data.translate(None, _DROP), np.uint8)
    openers = np.zeros(n_lines, np.int64)
    controls = np.zeros(n_lines, np.int64)
    backslashes = np.zeros(n_lines, np.int64)
    first_line = 0
    for k in range(0, len(kept), chunk):
        part = kept[k : k + chunk]
        nl = part == _NL
        line_of = np.cumsum(nl, dtype=np.int32) - nl + first_line  # a newline belongs to the line it ends
        crlf = np.zeros(len(part), bool)
        crlf[:-1] = (part[:-1] == 13) & nl[1:]  # nothing kept between the CR and its newline
        if k + chunk < len(kept):
            crlf[-1] = part[-1] == 13 and kept[k + chunk] == _NL
        elif len(part) and part[-1] == 13 and data.endswith(b"\r"):
            crlf[-1] = True  # a last line ending in CR without a newline
        for counts, mask in ((openers, (part == _LBRACE) | (part == _LBRACKET)),
                             (controls, (part < 32) & ~nl & ~crlf), (backslashes, part == _BACKSLASH)):  # fmt: skip
            lines = line_of[mask]
            if len(lines):
                counts += np.bincount(lines, minlength=n_lines)[:n_lines]
        first_line += int(np.count_nonzero(nl))
    return Census(openers, controls, backslashes)


def escaped(u: np.ndarray) -> np.ndarray:
    """Positions of the bytes a backslash escapes: the byte after an odd run of backslashes
    (len(u) when `u` ends in such a run)."""
    bs = u == _BACKSLASH
    if not bs.any():
        return np.zeros(0, np.int64)
    prev = np.zeros_like(bs)
    prev[1:] = bs[:-1]
    nxt = np.zeros_like(bs)
    nxt[:-1] = bs[1:]
    run_starts, run_ends = np.flatnonzero(bs & ~prev), np.flatnonzero(bs & ~nxt)
    return run_ends[((run_ends - run_starts) & 1) == 0] + 1


def _unescaped_quotes(u: np.ndarray) -> np.ndarray:
    quote = u == _QUOTE
    esc = escaped(u)
    quote[esc[esc < len(u)]] = False
    return quote


def _steps(u: np.ndarray, quote: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """+1 for an opener, -1 for a closer, 0 otherwise and inside strings."""
    step = (u == _LBRACE).view(np.int8) + (u == _LBRACKET).view(np.int8)
    step -= (u == _RBRACE).view(np.int8) + (u == _RBRACKET).view(np.int8)
    step[inside & ~quote] = 0
    return step


def _group_depths(arr: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Max depth of many short lines in one vectorised pass (each followed by a separator)."""
    u, offs = gather_lines(arr, starts, ends)  # separators end quote parity and backslash runs
    lens = ends - starts + 1
    quote = _unescaped_quotes(u)
    q = np.cumsum(quote, dtype=np.int32)
    inside = ((q - np.repeat(q[offs] - quote[offs], lens)) & 1).astype(bool)
    step = _steps(u, quote, inside)
    d = np.cumsum(step, dtype=np.int32)
    return np.maximum.reduceat(d, offs) - (d[offs] - step[offs])


def _long_line_depth(arr: np.ndarray, start: int, end: int) -> int:
    """Max depth of one long line, in segments that carry the scan's state across."""
    inside, depth, best, carry_backslash = False, 0, 0, False
    for pos in range(start, end, _SEGMENT):
        u = arr[pos : min(end, pos + _SEGMENT)]
        if carry_backslash:  # an odd run of backslashes ended the last segment: it continues here
            u = np.concatenate(([_BACKSLASH], u)).astype(np.uint8)
        quote = _unescaped_quotes(u)
        q = np.cumsum(quote, dtype=np.int32) + int(inside)
        d = np.cumsum(_steps(u, quote, (q & 1).astype(bool)), dtype=np.int32) + depth
        best, depth, inside = max(best, int(d.max())), int(d[-1]), bool(q[-1] & 1)
        tail = len(u) - 1 - int(np.flatnonzero(u != _BACKSLASH)[-1]) if (u != _BACKSLASH).any() else len(u)
        carry_backslash = bool(tail & 1)
    return best


def max_depths(arr: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The exact maximum nesting depth of each line [starts[i], ends[i]) of `arr`; brackets
    inside strings (escaped quotes respected) do not count. Short lines are scanned together in
    groups of about _SEGMENT bytes, long ones alone in segments: memory stays bounded."""
    out = np.zeros(len(starts), np.int64)
    lengths = ends - starts
    for i in np.flatnonzero(lengths > _SEGMENT).tolist():
        out[i] = _long_line_depth(arr, int(starts[i]), int(ends[i]))
    short = np.flatnonzero(lengths <= _SEGMENT)
    if len(short):
        group_of = np.cumsum(lengths[short] + 1) // _SEGMENT
        cuts = np.flatnonzero(np.diff(group_of)) + 1
        for idx in np.split(short, cuts):
            out[idx] = _group_depths(arr, starts[idx], ends[idx])
    return out


def too_deep(arr: np.ndarray, starts: np.ndarray, ends: np.ndarray, openers: np.ndarray, limit: int) -> dict[int, int]:
    """{line: depth} of the lines nested deeper than `limit` (lines given by their bounds)."""
    over = np.flatnonzero(openers > limit)
    if not len(over):
        return {}
    depths = max_depths(arr, starts[over], ends[over])
    deep = depths > limit
    return dict(zip(over[deep].tolist(), depths[deep].tolist()))


def line_depth(line: bytes) -> int:
    """The exact nesting depth of one line."""
    if line.count(b"{") + line.count(b"[") == 0:
        return 0
    arr = np.frombuffer(line, np.uint8)
    return int(max_depths(arr, np.array([0]), np.array([len(arr)]))[0])


def depth_reason(depth: int, limit: int) -> str:
    return f"nested {depth:,} levels deep; the limit is {limit} (objects and arrays count)"
