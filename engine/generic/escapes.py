"""Invalid escapes in a block of JSON lines, found on bytes before pyarrow reads it.

pyarrow fails on an unknown escape (`"\\q"`) or a UTF-16 surrogate that does not pair up
(`"\\ud800"`), and a failed read costs a re-read (engine.generic.block), so the lines holding
one take the Python path, which names the problem. Valid escapes are `\\" \\\\ \\/ \\b \\f
\\n \\r \\t \\uXXXX`. Only backslashes are looked at: most blocks have none.
"""

from __future__ import annotations

import numpy as np


_ESCAPES = np.zeros(256, bool)
_ESCAPES[list(b'"\\/bfnrtu')] = True
_HEX = np.full(256, -1, np.int64)
for _digit in b"0123456789":
    _HEX[_digit] = _digit - 48
for _letter in b"abcdef":
    _HEX[_letter] = _HEX[_letter - 32] = _letter - 87


def escape_suspects(arr: np.ndarray) -> np.ndarray:
    """Byte positions of invalid escapes: an unknown escape character, `\\u` without four hex
    digits, or a UTF-16 surrogate that does not pair up."""
    backslashes = np.flatnonzero(arr == 92)
    if not len(backslashes):
        return backslashes
    starts_run = np.ones(len(backslashes), bool)
    starts_run[1:] = backslashes[1:] != backslashes[:-1] + 1
    first = np.flatnonzero(starts_run)
    last = np.append(first[1:] - 1, len(backslashes) - 1)
    esc = backslashes[last[((last - first) & 1) == 0]] + 1  # in a run, pairs escape each other
    esc = esc[esc < len(arr)]
    bad = ~_ESCAPES[arr[esc]]
    u = esc[arr[esc] == ord("u")]
    digits = _HEX[arr[np.minimum(u[:, None] + np.arange(1, 5), len(arr) - 1)]]
    bad_u = (digits < 0).any(axis=1) | (u + 4 >= len(arr))
    code = (digits[:, 0] << 12) | (digits[:, 1] << 8) | (digits[:, 2] << 4) | digits[:, 3]
    high = ~bad_u & (code >= 0xD800) & (code <= 0xDBFF)
    low = ~bad_u & (code >= 0xDC00) & (code <= 0xDFFF)
    # a high surrogate must be followed by `\\u` and a low one; a low one preceded by a high one
    nxt = np.searchsorted(u, u + 6)
    has_next = nxt < len(u)
    paired = np.zeros(len(u), bool)
    paired[has_next] = (u[nxt[has_next]] == u[has_next] + 6) & low[nxt[has_next]]
    paired &= high
    second = np.zeros(len(u), bool)
    second[nxt[paired]] = True
    bad_u |= (high & ~paired) | (low & ~second)
    return np.concatenate([esc[bad], u[bad_u]])


def lines_of(positions: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The line (index into `starts`) of each byte position."""
    return np.searchsorted(starts, positions, side="right") - 1
