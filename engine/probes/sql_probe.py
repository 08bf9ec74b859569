"""SQL probes: an operator's own query, run read-only, whose one number is the probe's value.

Read-only twice over: the text must parse as exactly one SELECT statement, and it runs inside a
transaction that is always rolled back. And it reads the database only: DuckDB's SELECT can
also read any file the Store's process may open (``read_csv('/etc/…')``, ``FROM 'x.parquet'``,
``glob``) or its environment (``getenv``), so the parsed statement (``json_serialize_sql``) may
name only plain tables, views and CTEs, and no table function but the row generators below.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any, Iterator

import duckdb

from engine.config import ProbeConfig
from engine.errors import UsageError
from engine.probes.kinds import Reading


def check_read_only(query: str) -> None:
    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as exc:
        raise UsageError(f"probe query does not parse: {str(exc).splitlines()[0]}",
                         hint="fix the query in [probes.<name>] query") from None
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        kinds = ", ".join(s.type.name for s in statements) or "nothing"
        raise UsageError(f"a probe query must be exactly one SELECT statement, got {kinds}",
                         hint="probes only read: write it as SELECT … returning one number")
    check_reads_only_the_database(query)


#: table functions that only generate rows (everything else, read_csv to glob, reads outside)
ALLOWED_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})
#: scalar functions that reach outside the database
DENIED_FUNCTIONS = frozenset({"getenv"})
_PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_reads_only_the_database(query: str) -> None:
    """Refuse a query that names a file, a table function that reads one, or the environment."""
    with duckdb.connect() as scratch:  # parsing needs no data: never the Store's connection
        tree = json.loads(scratch.execute("SELECT json_serialize_sql(?)", [query]).fetchone()[0])
    if tree.get("error"):
        raise UsageError(f"probe query does not parse: {tree.get('error_message', '?')}",
                         hint="fix the query in [probes.<name>] query")
    for node in _nodes(tree):
        kind = node.get("type")
        if kind == "TABLE_FUNCTION":
            name = (node.get("function") or {}).get("function_name", "?")
            if name not in ALLOWED_TABLE_FUNCTIONS:
                raise UsageError(f"a probe query may read only the engine's tables: {name}() reads outside the database",
                                 hint="query the engine's tables and views; row generators "
                                      f"({', '.join(sorted(ALLOWED_TABLE_FUNCTIONS))}) are allowed")
        elif kind == "BASE_TABLE" and not _PLAIN_NAME.match(node.get("table_name", "")):
            raise UsageError(f"a probe query may read only the engine's tables: {node.get('table_name')!r} is a file",
                             hint="name a table or view of the engine's database")
        elif node.get("class") == "FUNCTION" and node.get("function_name") in DENIED_FUNCTIONS:
            raise UsageError(f"a probe query may not call {node['function_name']}(): it reads the Store's environment",
                             hint="put the value in the probe's thresholds instead")


def _nodes(tree: Any) -> Iterator[dict]:
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            yield node
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def sql_reading(con: duckdb.DuckDBPyConnection, p: ProbeConfig, now: datetime) -> list[Reading]:
    check_read_only(p.query)
    con.execute("BEGIN TRANSACTION")
    try:
        rows = con.execute(p.query).fetchmany(2)
    finally:
        con.execute("ROLLBACK")
    if len(rows) != 1 or len(rows[0]) != 1:
        raise UsageError(f"a probe query must return one row of one column, got {len(rows)} row(s)"
                         + (f" of {len(rows[0])} columns" if rows else ""))
    (value,) = rows[0]
    if value is None:
        raise UsageError("the probe query returned NULL", hint="wrap it in coalesce(…, 0) if none means zero")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"the probe query returned {value!r}, not a number") from None
    return [Reading(p.subject or "query", number, None, f"query returned {number:g}")]


__all__ = ["ALLOWED_TABLE_FUNCTIONS", "check_read_only", "check_reads_only_the_database", "sql_reading"]
