"""How cmpctl shows what it found: one JSON document with ``--json``, else rich tables.

Every listing goes through ``render`` and every single record through ``render_record``, so
that all commands agree on the rules of CLI.md: with ``--json`` stdout carries one JSON
document and nothing else; without it, a table for people. Times for people are UTC, written
``2026-12-06 20:46:11Z`` (the engine stores UTC and operators of a night run compare times
across machines); JSON carries ISO 8601 with the offset (``2026-12-06T20:46:11+00:00``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

Row = Mapping[str, Any]

#: how a time reads for people (always UTC)
TIME_FORMAT = "%Y-%m-%d %H:%M:%SZ"


@dataclass(frozen=True)
class Column:
    """One column of a listing: its header and where its cell comes from."""

    header: str
    value: str | Callable[[Row], Any]  # a key of the row, or a function of it
    count: bool = False  # a count: thousands separators, right-aligned
    max_width: int | None = None  # cut longer cells to one line (e.g. a raw record)

    def cell(self, row: Row) -> RenderableType:
        value = row.get(self.value) if isinstance(self.value, str) else self.value(row)
        if self.count and isinstance(value, int):
            return f"{value:,}"
        return cell(value)


def render(rows: Sequence[Row], columns: Sequence[Column], json_out: bool, *, title: str | None = None) -> None:
    """A listing: the rows as one JSON array, or as a table with these columns."""
    if json_out:
        emit_json(list(rows))
        return
    table = Table(title=title)
    for col in columns:
        table.add_column(col.header, justify="right" if col.count else "left", max_width=col.max_width,
                         overflow="ellipsis" if col.max_width else "fold", no_wrap=bool(col.max_width))
    for row in rows:
        table.add_row(*(col.cell(row) for col in columns))
    out.print(table)


def render_record(doc: Row, json_out: bool, *, fields: Iterable[str] | None = None) -> None:
    """One record: the document as JSON, or ``key  value`` lines (these fields, in this order;
    default all), leaving out the empty ones."""
    if json_out:
        emit_json(doc)
        return
    keys = [k for k in (doc if fields is None else fields) if doc.get(k) not in (None, "", {}, [])]
    width = max([14, *(len(k) for k in keys)])
    for key in keys:
        out.print(f"{key:<{width}} {plain(doc[key])}", markup=False)


def emit_json(doc: Any) -> None:
    """The one JSON document of a ``--json`` command (ISO 8601 times)."""
    sys.stdout.write(json.dumps(doc, indent=2, default=_json_value) + "\n")


def when(value: datetime | date | str | None) -> str:
    """A time for people: UTC, ``2026-12-06 20:46:11Z`` (``-`` when there is none)."""
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return _utc(value).strftime(TIME_FORMAT)
    return str(value)


def number(value: float | int | None) -> str:
    """A measured value (probe values, thresholds): four significant digits."""
    return "-" if value is None else f"{value:.4g}"


def plain(value: Any) -> str:
    """Any value as one line of text for people."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (datetime, date)):
        return when(value)
    if isinstance(value, float):
        return number(value)
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=_json_value)
    return str(value)


def cell(value: Any) -> RenderableType:
    """A table cell: rich renderables as they are, anything else as literal text (an error text
    such as ``[Errno 111]`` is not rich markup)."""
    if isinstance(value, (Text, Table)):
        return value
    return Text(plain(value))


def _utc(value: datetime) -> datetime:
    # The Store hands out TIMESTAMPTZ values in its session's zone; a naive value is UTC.
    return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return _utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return str(value)  # Decimal, Path, UUID: their exact text
