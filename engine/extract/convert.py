"""The conversion step to a partner's own format: CSV with a column mapping from config.

A partner's ``[extract.partners.<name>]`` table names its CSV columns, in order, and where
each takes its value from in the generic record (see README "Extract daemons"):

- a top-level record field: ``requestId``, ``subscriptionId``, ``command``, … (for Bill Cycle
  Change Requests: ``msisdn``, ``newBillCycleDay``, ``effectiveDateTime``, …);
- ``commandAttributes.<name>``: the value of that command attribute (Request records);
- ``'text'`` in single quotes: a constant.

Values are written as text (times RFC 3339 in UTC, lists as compact JSON); a missing value is
an empty cell. The conversion is one SQL statement over the records' Arrow table (an
in-memory DuckDB in the daemon's process), not a Python loop over records.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv

from engine.errors import ConfigError
from engine.generic.record_types import record_type

FORMATS = ("", "csv")
ATTRIBUTE_PREFIX = "commandAttributes."
_CONSTANT = re.compile(r"^'([^']*)'$")
_ATTRIBUTE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class CsvMapping:
    """Checked column mapping of one partner for one record type."""

    partner: str
    interface_type: str
    columns: tuple[tuple[str, str], ...]  # (CSV column, source)
    delimiter: str = ","

    @classmethod
    def build(cls, partner: str, interface_type: str, columns: Mapping[str, str], delimiter: str = ",") -> "CsvMapping":
        where = f"extract.partners.{partner}.columns"
        if not columns:
            raise ConfigError(f"{where}: a CSV conversion needs at least one column",
                              hint='e.g. columns = { policy_ref = "requestId" }')
        if len(delimiter) != 1 or delimiter in "\"\r\n":
            raise ConfigError(f"extract.partners.{partner}.delimiter must be one character other than a quote "
                              f"or a line break, got {delimiter!r}")
        fields = set(record_type(interface_type).arrow_schema.names)
        for column, source in columns.items():
            if _CONSTANT.match(source):
                continue
            if source.startswith(ATTRIBUTE_PREFIX):
                name = source[len(ATTRIBUTE_PREFIX):]
                if "commandAttributes" in fields and _ATTRIBUTE_NAME.match(name):
                    continue
            elif source in fields and source != "commandAttributes":
                continue
            raise ConfigError(
                f"{where}.{column} = {source!r} names no field of a {interface_type} record",
                hint=f"use one of {', '.join(sorted(fields - {'commandAttributes'}))}"
                     + (", commandAttributes.<name>" if "commandAttributes" in fields else "")
                     + " or a 'constant'")
        return cls(partner, interface_type, tuple(columns.items()), delimiter)

    def select_sql(self) -> str:
        parts = []
        for column, source in self.columns:
            quoted = '"' + column.replace('"', '""') + '"'
            if m := _CONSTANT.match(source):
                expr = "'" + m.group(1).replace("'", "''") + "'"
            elif source.startswith(ATTRIBUTE_PREFIX):
                name = source[len(ATTRIBUTE_PREFIX):].replace("'", "''")
                expr = f"list_filter(commandAttributes, lambda a: a.name = '{name}')[1].value"
            else:
                expr = _text(f'"{source}"', record_type(self.interface_type).arrow_schema.field(source).type)
            parts.append(f"{expr} AS {quoted}")
        return "SELECT " + ", ".join(parts) + " FROM records"


def _text(expr: str, typ: pa.DataType) -> str:
    if pa.types.is_timestamp(typ):
        return f"strftime(timezone('UTC', {expr}), '%Y-%m-%dT%H:%M:%SZ')"
    if pa.types.is_list(typ) or pa.types.is_struct(typ):
        return f"to_json({expr})::VARCHAR"
    return f"{expr}::VARCHAR"


def to_csv(records: pa.Table, mapping: CsvMapping) -> bytes:
    """The records as CSV bytes (header row, RFC 4180 quoting, UTF-8, ``\\n`` line ends)."""
    con = duckdb.connect()
    try:
        con.register("records", records)
        table = con.sql(mapping.select_sql()).to_arrow_table()
    finally:
        con.close()
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=True, delimiter=mapping.delimiter,
                                                    quoting_style="needed"))
    return sink.getvalue().to_pybytes()


__all__ = ["ATTRIBUTE_PREFIX", "FORMATS", "CsvMapping", "to_csv"]
