"""numpy kernels over the bytes of Arrow string columns, for the checks that RE2 makes slow.

RE2 (pyarrow's match_substring_regex) costs ~85 ns a string here; most patterns in the
schemas are a single ASCII character class with a length range (`^[0-9]{8,15}$`) or a date,
which a lookup table over the column's data buffer decides exactly for a fraction of that.
Each function returns a numpy bool array, true where a non-null value breaks the rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import pyarrow as pa

DATE_PATTERN = "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
_CLASS_PATTERN = re.compile(r"\^\[((?:\\.|[^\]\\])+)\]\{(\d+)(?:,(\d+))?\}\$")
_DAYS = np.array([0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], np.int64)


def char_class(pattern: str) -> tuple[np.ndarray, int, int] | None:
    """(byte lookup table, min, max) for `^[class]{m,n}$` over ASCII, else None."""
    m = _CLASS_PATTERN.fullmatch(pattern)
    if not m or m.group(1).startswith("^"):
        return None
    spec, low, high = m.group(1), int(m.group(2)), int(m.group(3) or m.group(2))
    tokens: list[tuple[str, bool]] = []  # (character, escaped)
    i = 0
    while i < len(spec):
        escaped = spec[i] == "\\"
        tokens.append((spec[i + 1], True) if escaped else (spec[i], False))
        i += 2 if escaped else 1
    lut = np.zeros(256, dtype=bool)
    i = 0
    while i < len(tokens):
        if i + 2 < len(tokens) and tokens[i + 1] == ("-", False):
            first, last = tokens[i][0], tokens[i + 2][0]
            i += 3
        else:
            first = last = tokens[i][0]
            i += 1
        if ord(first) > 127 or ord(last) > 127:
            return None
        lut[ord(first) : ord(last) + 1] = True
    return lut, low, high


def _chunks(col: pa.ChunkedArray | pa.Array) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(offsets relative to data, data bytes, valid mask) of each string chunk."""
    for chunk in col.chunks if isinstance(col, pa.ChunkedArray) else [col]:
        if pa.types.is_large_string(chunk.type):
            offsets = np.frombuffer(chunk.buffers()[1], np.int64)[chunk.offset : chunk.offset + len(chunk) + 1]
        else:
            offsets = np.frombuffer(chunk.buffers()[1], np.int32)[chunk.offset : chunk.offset + len(chunk) + 1]
        data_buf = chunk.buffers()[2]
        data = np.frombuffer(data_buf, np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
        data = data[offsets[0] : offsets[-1]]
        valid = np.ones(len(chunk), bool) if chunk.null_count == 0 else chunk.is_valid().to_numpy(zero_copy_only=False)
        yield (offsets - offsets[0]).astype(np.int64), data, valid


def class_violations(col: pa.ChunkedArray | pa.Array, lut: np.ndarray, low: int, high: int) -> np.ndarray:
    """Non-null values with a byte outside the class or a length outside [low, high]."""
    out = []
    for offsets, data, valid in _chunks(col):
        lengths = np.diff(offsets)
        bad = (lengths < low) | (lengths > high)
        stray = np.flatnonzero(~lut[data])
        if len(stray):
            bad[np.searchsorted(offsets, stray, side="right") - 1] = True
        out.append(bad & valid)
    return np.concatenate(out) if out else np.zeros(0, bool)


def _fixed(offsets: np.ndarray, data: np.ndarray, rows: np.ndarray, width: int) -> np.ndarray:
    """The first `width` bytes of the given rows as an (n, width) matrix."""
    return data[offsets[rows][:, None] + np.arange(width)]


def _calendar(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For (n, >=10) byte rows: (looks like YYYY-MM-DD, is a real date with year >= 1)."""
    d = m[:, :10].astype(np.int64) - 48
    digits = d[:, [0, 1, 2, 3, 5, 6, 8, 9]]
    shape = (digits >= 0).all(1) & (digits <= 9).all(1) & (m[:, 4] == 45) & (m[:, 7] == 45)
    year = d[:, 0] * 1000 + d[:, 1] * 100 + d[:, 2] * 10 + d[:, 3]
    month = d[:, 5] * 10 + d[:, 6]
    day = d[:, 8] * 10 + d[:, 9]
    shape &= (month >= 1) & (month <= 12) & (day >= 1) & (day <= 31)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    limit = _DAYS[np.clip(month, 0, 12)] - ((month == 2) & ~leap)
    return shape, shape & (day <= limit) & (year >= 1)


def date_violations(col: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """For DATE_PATTERN: (non-null values not matching it, matching values that are no date)."""
    fmt, cal = [], []
    for offsets, data, valid in _chunks(col):
        lengths = np.diff(offsets)
        bad_fmt = valid & (lengths != 10)
        bad_cal = np.zeros(len(lengths), bool)
        rows = np.flatnonzero(valid & (lengths == 10))
        if len(rows):
            shape, real = _calendar(_fixed(offsets, data, rows, 10))
            bad_fmt[rows[~shape]] = True
            bad_cal[rows[shape & ~real]] = True
        fmt.append(bad_fmt)
        cal.append(bad_cal)
    if not fmt:
        return np.zeros(0, bool), np.zeros(0, bool)
    return np.concatenate(fmt), np.concatenate(cal)


def calendar_violations(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Values starting YYYY-MM-DD whose date does not exist (2026-02-30, year 0000)."""
    out = []
    for offsets, data, valid in _chunks(col):
        lengths = np.diff(offsets)
        bad = np.zeros(len(lengths), bool)
        rows = np.flatnonzero(valid & (lengths >= 10))
        if len(rows):
            shape, real = _calendar(_fixed(offsets, data, rows, 10))
            bad[rows[shape & ~real]] = True
        out.append(bad)
    return np.concatenate(out) if out else np.zeros(0, bool)
