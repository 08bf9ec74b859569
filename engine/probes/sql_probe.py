"""SQL probes: an operator's own query, run read-only, whose one number is the probe's value.

Read-only three times over: the text must parse as exactly one SELECT statement; everything it
names must be on the allow-lists of engine/probes/sql_policy.py (the engine's tables and views,
row generators, functions without side effects that read no setting, file or environment);
and it runs inside a transaction that is always rolled back. The runner gives it a cursor of
its own and interrupts it at the probe's time limit (engine/probes/runner.py).
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from engine.config import ProbeConfig
from engine.errors import UsageError
from engine.probes.kinds import Reading
from engine.probes.sql_policy import catalog_names, check_probe_query


def check_read_only(query: str, con: duckdb.DuckDBPyConnection) -> None:
    """Refuse ``query`` unless it is one SELECT naming only what a probe may (see sql_policy)."""
    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as exc:
        raise UsageError(f"probe query does not parse: {str(exc).splitlines()[0]}",
                         hint="fix the query in [probes.<name>] query") from None
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        kinds = ", ".join(s.type.name for s in statements) or "nothing"
        raise UsageError(f"a probe query must be exactly one SELECT statement, got {kinds}",
                         hint="probes only read: write it as SELECT … returning one number")
    engine, others = catalog_names(con)
    (database,) = con.execute("SELECT current_database()").fetchall()[0]
    check_probe_query(query, engine, others, database)


def sql_reading(con: duckdb.DuckDBPyConnection, p: ProbeConfig, now: datetime) -> list[Reading]:
    check_read_only(p.query, con)
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


__all__ = ["check_read_only", "sql_reading"]
