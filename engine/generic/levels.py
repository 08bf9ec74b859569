"""Nesting levels of a record table and the per-column values the checks share.

A Level is the records, or the items of a list field flattened (list_flatten), with the map
from each item back to its parent (list_parent_indices) so a failing element can be named
(`subscriptions[1].allowances[0]`). Column views are computed once per level and reused by
every check on that column: numpy validity, floats, dictionary codes, date checks.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.generic import strings


class Level:
    """The elements of one nesting level: the records, or the items of a list field."""

    def __init__(self, values: pa.ChunkedArray | pa.Table, parent: Level | None = None,
                 parents: np.ndarray | None = None, list_path: str = "") -> None:  # fmt: skip
        self.values = values
        self.parent = parent
        self.parents = parents  # element -> element of the parent level
        self.list_path = list_path  # e.g. "subscriptions" (full dotted path within the parent level)
        self._cols: dict[tuple[str, ...], Any] = {}

    def col(self, path: tuple[str, ...]) -> pa.ChunkedArray:
        if path not in self._cols:
            if isinstance(self.values, pa.Table) and len(path) == 1:
                self._cols[path] = self.values.column(path[0])
            else:  # struct_field ANDs in the parent's validity: a null struct has null children
                base = self.values if len(path) == 1 else self.col(path[:-1])
                self._cols[path] = pc.struct_field(base, path[-1])
        return self._cols[path]

    def present(self, path: tuple[str, ...]) -> pa.ChunkedArray | None:
        """Where the object at `path` exists (None: everywhere)."""
        if not path:
            return None if isinstance(self.values, pa.Table) else pc.is_valid(self.values)
        return pc.is_valid(self.col(path))

    def type_at(self, path: tuple[str, ...]) -> pa.DataType:
        if not path:
            return pa.struct(list(self.values.schema)) if isinstance(self.values, pa.Table) else self.values.type
        return self.col(path).type

    def root_rows(self, idx: np.ndarray) -> np.ndarray:
        return idx if self.parent is None else self.parent.root_rows(self.parents[idx])

    def prefixes(self, idx: np.ndarray) -> list[str]:
        """The path prefix of each element, e.g. `subscriptions[1].allowances[0]`."""
        if self.parent is None:
            return [""] * len(idx)
        pidx = self.parents[idx]
        pos = idx - np.searchsorted(self.parents, pidx, side="left")
        return [
            f"{pre}{'.' if pre else ''}{self.list_path}[{k}]"
            for pre, k in zip(self.parent.prefixes(pidx), pos.tolist())
        ]

def values_at(col: pa.ChunkedArray | pa.Array, idx: np.ndarray) -> list[Any]:
    """Python values at positions `idx` (taking chunk by chunk: a take over a chunked array
    would first concatenate the whole column)."""
    if not isinstance(col, pa.ChunkedArray):
        return col.take(pa.array(idx)).to_pylist()
    if len(idx) <= 256:
        return [col[i].as_py() for i in idx.tolist()]
    bounds = np.cumsum([0] + [len(c) for c in col.chunks])
    which = np.searchsorted(bounds, idx, side="right") - 1
    out: list[Any] = [None] * len(idx)
    for k in np.unique(which).tolist():
        sel = np.flatnonzero(which == k)
        for pos, value in zip(sel.tolist(), col.chunks[k].take(pa.array(idx[sel] - bounds[k])).to_pylist()):
            out[pos] = value
    return out


def dates(level: Level, path: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(breaks the date pattern, no calendar date) for a date column, computed once."""
    key = ("dates", path)
    if key not in level._cols:
        level._cols[key] = strings.date_violations(level.col(path))
    return level._cols[key]


def valid(level: Level, path: tuple[str, ...]) -> np.ndarray:
    key = ("valid", path)
    if key not in level._cols:
        level._cols[key] = pc.is_valid(level.col(path)).to_numpy(zero_copy_only=False)
    return level._cols[key]


def floats(level: Level, path: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """A float column as numpy (nulls as NaN) with its validity (NaN may also be a value)."""
    key = ("floats", path)
    if key not in level._cols:
        col = level.col(path)
        x = col.to_numpy() if isinstance(col, pa.ChunkedArray) else col.to_numpy(zero_copy_only=False)
        level._cols[key] = (np.asarray(x, dtype=np.float64), valid(level, path))
    return level._cols[key]


def member(level: Level, path: tuple[str, ...], values: tuple[Any, ...]) -> np.ndarray:
    """Where the value is one of `values` (nulls: False). Enum-like columns have few distinct
    values, so they are dictionary-encoded once and each test runs on the dictionary."""
    key = ("codes", path)
    if key not in level._cols:
        col = level.col(path)
        col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        if pa.types.is_boolean(col.type):  # no dictionary for booleans: codes 0/1
            codes = pc.fill_null(pc.cast(col, pa.int8()), -1).to_numpy(zero_copy_only=False).astype(np.int64)
            dictionary = pa.array([False, True])
        else:
            enc = pc.dictionary_encode(col)
            codes = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
            dictionary = enc.dictionary
        level._cols[key] = (codes, dictionary)
    codes, dictionary = level._cols[key]
    member = pc.is_in(dictionary, pa.array(values, dictionary.type)).to_numpy(zero_copy_only=False)
    return np.append(member, False)[codes]  # code -1 (null) -> False
