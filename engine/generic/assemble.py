"""Second half of parse_records: turn what the piece reader read into ParsedRecords.

Lines set aside go through the Python path (engine.generic.explain); the ones it can repair
rejoin the table, so every record meets the same vectorised checks; then repeated record keys
(orderRef) are found, reasons merged per line, and valid rows cast to the typed schema.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.generic.arrow_types import float_leaves, infinities_per_row, to_typed
from engine.generic.explain import conformed_json, explain_line, is_suppressed, raw_text, suppressed
from engine.generic.pieces import PieceReader
from engine.generic.records import INVALID_SCHEMA, ParsedRecords
from engine.generic.validate import Validator, render

Reason = tuple[str, str]


def _fmt(reason: Reason) -> str:
    path, text = reason
    return f"{path}: {text}" if path else text


def _infinities(table: pa.Table) -> tuple[int, bool]:
    """(how many +inf, whether any -inf) in the table's numbers."""
    pos, neg = 0, False
    for leaf in float_leaves(table):
        pos += pc.sum(pc.equal(leaf, math.inf)).as_py() or 0
        neg = neg or bool(pc.any(pc.equal(leaf, -math.inf)).as_py())
    return pos, neg


def _check_rewrites(reader: PieceReader) -> None:
    """Every infinity read must be an UNLIMITED rewrite. Any other came from a literal
    `Infinity`/`-Infinity` (not JSON) or from a number too large for a float (a 400-digit
    integer, which pyarrow reads as inf without a word): the lines holding one go to the
    Python path, which says which. Cheap unless there is one: one count and a sum per leaf."""
    if not reader.tables:
        return
    blk = reader.block
    unread = sorted(set(reader.bad) | set(blk.rejected))
    positive, negative = _infinities(pa.concat_tables(reader.tables))
    if positive == blk.rewrites_in() - blk.rewrites_in(unread) and not negative:
        return
    suspects: list[int] = []
    for table, lines in zip(reader.tables, reader.lines):
        counts = infinities_per_row(table)
        for row in np.flatnonzero(counts).tolist():
            line = int(lines[row])
            if counts[row] > blk.rewrites_in([line]):
                suspects.append(line)
    reader.bad.extend(suspects)
    for k, lines in enumerate(reader.lines):
        keep = ~np.isin(lines, suspects)
        reader.tables[k], reader.lines[k] = reader.tables[k].filter(pa.array(keep)), lines[keep]


def _rechunk(reader: PieceReader, chunks: int = 16) -> None:
    """Merge runs of small tables (isolating bad lines leaves many) into about `chunks`
    tables: every kernel pays a fixed cost per chunk, which dominates for tiny chunks."""
    if len(reader.tables) <= 2 * chunks:
        return
    target = sum(t.num_rows for t in reader.tables) / chunks
    tables, lines = [], []
    run: list[int] = []
    rows = 0

    def flush() -> None:
        if run:
            group = [reader.tables[i] for i in run]
            tables.append(pa.concat_tables(group).combine_chunks() if len(group) > 1 else group[0])
            lines.append(np.concatenate([reader.lines[i] for i in run]))
            run.clear()

    for k, table in enumerate(reader.tables):
        if table.num_rows >= target / 2:  # big enough alone: do not copy it
            flush()
            tables.append(table)
            lines.append(reader.lines[k])
            rows = 0
            continue
        run.append(k)
        rows += table.num_rows
        if rows >= target:
            flush()
            rows = 0
    flush()
    reader.tables, reader.lines = tables, lines


def _duplicates(table: pa.Table, key: str, lines: np.ndarray) -> dict[int, Reason]:
    """Rows whose key repeats an earlier line's key within the block."""
    col = table.column(key)
    present = len(col) - col.null_count
    if present == 0 or pc.count_distinct(col).as_py() == present:
        return {}
    codes = pc.fill_null(pc.dictionary_encode(col.combine_chunks()).indices, -1).to_numpy().astype(np.int64)
    order = np.argsort(lines, kind="stable")  # earliest line first
    uniq, first = np.unique(codes[order], return_index=True)
    origin_of = np.full(int(codes.max()) + 2, -1, np.int64)
    origin_of[uniq] = order[first]  # code -> row of its earliest line (-1 for null keys)
    origin = origin_of[codes]
    out = {}
    for row in np.flatnonzero((codes >= 0) & (origin != np.arange(len(codes)))).tolist():
        value = render(col[row].as_py())
        # a distance, not a line number: callers may renumber a shard's lines afterwards
        back = int(lines[row]) - int(lines[origin[row]])
        out[row] = (key, f"duplicate {value} (first seen {back} line{'s' if back > 1 else ''} earlier)")
    return out


def _raw(blk, i: int) -> str:
    head = blk.preset_raw.get(i)
    return raw_text(blk.line(i)) if head is None else raw_text(head) + "…"


def assemble(reader: PieceReader, first_line_no: int) -> ParsedRecords:
    rt, rules = reader.rt, reader.rules
    _rechunk(reader)
    _check_rewrites(reader)

    blk = reader.block
    broken: list[tuple[int, list[str]]] = [(i, [reason]) for i, reason in blk.rejected.items()]  # no record at all
    structural: dict[int, list[Reason]] = {}
    repaired: list[bytes] = []
    repaired_lines: list[int] = []
    for i in sorted(set(reader.bad)):
        record, reasons = explain_line(blk.line(i), rules)
        if record is None:
            broken.append((i, [_fmt(r) for r in reasons]))
        else:
            structural[i] = reasons
            repaired.append(conformed_json(record))
            repaired_lines.append(i)
    if repaired:  # conformed to the wire types, so they read; validated with everything else
        table, _ = reader.try_read(b"\n".join(repaired))
        if table is None or table.num_rows != len(repaired):  # never seen; one by one, to be sure
            kept = []
            for i, text in zip(repaired_lines, repaired):
                one, _ = reader.try_read(text)
                if one is not None and one.num_rows == 1:
                    kept.append((i, one))
                else:
                    broken.append((i, [_fmt(r) for r in structural.pop(i)] or ["could not be read as a record"]))
            table = pa.concat_tables([t for _, t in kept]) if kept else None
            repaired_lines = [i for i, _ in kept]
        if table is not None:
            reader.tables.append(table.select(rt.wire_schema.names).cast(rt.wire_schema))
            reader.lines.append(np.array(repaired_lines, dtype=np.int64))

    wire = rt.wire_schema
    table = pa.concat_tables(reader.tables) if reader.tables else wire.empty_table()
    lines = np.concatenate(reader.lines) if reader.lines else np.zeros(0, np.int64)
    found = Validator(rules).run(table)
    dups = _duplicates(table, rt.key_field, lines)

    early = set(reader.pre) | set(structural)
    rows_of = {int(lines[r]): int(r) for r in np.flatnonzero(np.isin(lines, list(early)))} if early else {}
    per_row: dict[int, list[str]] = {}
    for line_idx in early:
        row = rows_of.get(line_idx)
        if row is None:  # set aside later and found to be no record at all: its own reasons stand
            continue
        own = structural.get(line_idx, [])
        hidden = suppressed(own)
        merged = own + reader.pre.get(line_idx, []) + [r for r in found.pop(row, []) if not is_suppressed(r[0], hidden)]
        per_row[row] = [_fmt(r) for r in dict.fromkeys(merged)]  # once each, in order
    for row, reasons in found.items():
        per_row[row] = [_fmt(r) for r in reasons]
    for row, reason in dups.items():
        per_row.setdefault(row, []).append(_fmt(reason))
    per_row = {row: reasons for row, reasons in per_row.items() if reasons}

    bad_rows = np.array(sorted(per_row), dtype=np.int64)
    invalid = [(int(lines[r]), per_row[int(r)]) for r in bad_rows] + broken
    invalid.sort()
    invalid_table = pa.table(
        {
            "line_no": pa.array([first_line_no + i for i, _ in invalid], pa.int64()),
            "raw": pa.array([_raw(blk, i) for i, _ in invalid], pa.string()),
            "reasons": pa.array([reasons for _, reasons in invalid], pa.list_(pa.string())),
        },
        schema=INVALID_SCHEMA,
    )

    if len(bad_rows):
        keep = np.ones(len(lines), dtype=bool)
        keep[bad_rows] = False
        table, lines = table.filter(pa.array(keep)), lines[keep]
    if repaired and len(lines) and np.any(np.diff(lines) < 0):  # repaired rows were appended last
        order = np.argsort(lines, kind="stable")
        table, lines = table.take(pa.array(order)), lines[order]
    valid = to_typed(table, rt.arrow_schema)
    valid = valid.add_column(0, pa.field("line_no", pa.int64()), pa.array(first_line_no + lines, pa.int64()))
    return ParsedRecords(valid=valid, invalid=invalid_table)
