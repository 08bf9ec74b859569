"""Arrow helpers over nested record tables: float leaves, and the cast from the wire schema
(dates and times as strings, integers as float64) to the typed schema of valid records."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_FRACTION = r"(\.[0-9]{6})[0-9]+"  # RFC 3339 allows more digits than microseconds hold


def _leaves(array: pa.Array | pa.ChunkedArray, typ: pa.DataType) -> Iterator[pa.Array | pa.ChunkedArray]:
    if pa.types.is_struct(typ):
        for f in typ:
            yield from _leaves(pc.struct_field(array, f.name), f.type)
    elif pa.types.is_list(typ):
        yield from _leaves(pc.list_flatten(array), typ.value_type)
    elif pa.types.is_floating(typ):
        yield array


def float_leaves(table: pa.Table) -> Iterator[pa.Array | pa.ChunkedArray]:
    """Every float64 column of a table, nested ones flattened (to count +inf = UNLIMITED)."""
    for f in table.schema:
        yield from _leaves(table.column(f.name), f.type)


def _rows_of_leaves(array: pa.Array, typ: pa.DataType, rows: np.ndarray) -> Iterator[tuple[pa.Array, np.ndarray]]:
    if pa.types.is_struct(typ):
        for f in typ:
            yield from _rows_of_leaves(pc.struct_field(array, f.name), f.type, rows)
    elif pa.types.is_list(typ):
        parents = pc.list_parent_indices(array).to_numpy()
        yield from _rows_of_leaves(pc.list_flatten(array), typ.value_type, rows[parents])
    elif pa.types.is_floating(typ):
        yield array, rows


def infinities_per_row(table: pa.Table) -> np.ndarray:
    """How many infinite numbers (+inf or -inf) each row holds, nested ones included."""
    out = np.zeros(table.num_rows, np.int64)
    rows = np.arange(table.num_rows)
    for f in table.schema:
        column = table.column(f.name).combine_chunks()
        for leaf, leaf_rows in _rows_of_leaves(column, f.type, rows):
            inf = np.isinf(leaf.to_numpy(zero_copy_only=False))
            np.add.at(out, leaf_rows[inf], 1)
    return out


def _needs_truncation(array: pa.Array, typ: pa.DataType, target: pa.DataType) -> bool:
    if pa.types.is_struct(target):
        return any(_needs_truncation(pc.struct_field(array, f.name), typ.field(f.name).type, f.type) for f in target)
    if pa.types.is_list(target):
        return _needs_truncation(pc.list_flatten(array), typ.value_type, target.value_type)
    if pa.types.is_timestamp(target):
        return bool(pc.any(pc.match_substring_regex(array, _FRACTION)).as_py())
    return False


def _truncate(array: pa.Array, target: pa.DataType) -> pa.Array:
    """Rebuild `array` with time strings cut to microseconds (nested structs and lists kept)."""
    if pa.types.is_struct(target):
        children = [_truncate(array.field(f.name), f.type) for f in target]
        return pa.StructArray.from_arrays(children, fields=list(array.type), mask=array.is_null())
    if pa.types.is_list(target):
        values = _truncate(array.values, target.value_type)
        return pa.ListArray.from_arrays(array.offsets, values, mask=array.is_null())
    if pa.types.is_timestamp(target):
        return pc.replace_substring_regex(array, _FRACTION, r"\1")
    return array


def to_typed(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Cast a validated wire table to the typed schema (valid values always convert)."""
    columns = []
    for f in schema:
        col = table.column(f.name)
        if _needs_truncation(col, col.type, f.type):
            col = pa.chunked_array([_truncate(chunk, f.type) for chunk in col.chunks], col.type)
        columns.append(col.cast(f.type))
    return pa.Table.from_arrays(columns, schema=schema)
