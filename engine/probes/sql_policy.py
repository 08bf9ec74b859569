"""What an operator's SQL probe may name: an allow-list checked on DuckDB's parse tree.

A probe query runs inside the Store, on a cursor of the engine's own database, so the text alone
decides what it can do. DuckDB has no per-connection switch for "no side effects, no settings,
no files": ``enable_external_access`` and ``lock_configuration`` are database-wide and one-way,
and the Store itself needs file access (loads, reconciliation exchange files). So the parsed
statement (``json_serialize_sql``) is walked before anything runs, and it may name only:

* relations: the engine's own tables and views (``main`` schema of the Store's database), and
  CTEs it defines itself, whose names may not be those of any other relation DuckDB knows
  (a ``pg_settings`` CTE referenced out of its scope would be the system view);
* table functions: the row generators in :data:`ALLOWED_TABLE_FUNCTIONS` (no file, no catalog
  function such as ``duckdb_settings()``, no ``query()``);
* functions: :data:`ALLOWED_FUNCTIONS`, unqualified: arithmetic, comparison, string, date and
  aggregate functions that read their arguments only. Nothing with a side effect (``nextval``,
  ``setval``, ``sleep_ms``), nothing that reads a setting or the session (``current_setting``,
  ``getvariable``, ``version``, ``current_schema``), nothing that reads the environment; and
  nothing whose output can be far larger than its input (``repeat``, ``lpad``, ``replace``,
  ``list``, ``string_agg``; likewise no ``WITH RECURSIVE``), since memory, unlike time, is not
  bounded per query (DuckDB's per-connection ``operator_memory_limit`` did not stop a string
  doubled in a recursive CTE: 2.5 GB in 5 s with a 256 MB limit);
* expressions and table references of the kinds in :data:`EXPRESSION_CLASSES` and
  :data:`TABLE_REFS` (no ``DESCRIBE``/``SUMMARIZE``/``SHOW``).

A name DuckDB finds in no catalog would fall back to a Python replacement scan of the calling
frame's variables: the relation rule leaves only CTE names for that, and the query is run from
``sql_reading``, whose variables hold no data frame or Arrow table (it gets a binder error).

What is enforced elsewhere: exactly one SELECT statement, run in a transaction that is always
rolled back, on its own cursor, under a time limit after which it is interrupted
(engine/probes/sql_probe.py, engine/probes/runner.py).
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterator

import duckdb

from engine.errors import UsageError

#: table functions that only generate rows
ALLOWED_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})

#: scalar, aggregate and window functions (and the operators DuckDB parses as functions)
ALLOWED_FUNCTIONS = frozenset({
    # operators
    "+", "-", "*", "/", "//", "%", "^", "**", "||", "&", "|", "<<", ">>", "~", "@",
    "~~", "!~~", "~~*", "!~~*", "~~~", "regexp_full_match", "->>",
    # aggregates
    "count", "count_star", "sum", "avg", "mean", "min", "max", "median", "mode", "quantile", "quantile_cont",
    "quantile_disc", "stddev", "stddev_pop", "stddev_samp", "variance", "var_pop", "var_samp", "bool_and",
    "bool_or", "any_value", "first", "last", "arg_min", "arg_max", "min_by", "max_by", "count_if", "countif",
    "approx_count_distinct", "approx_quantile", "product", "fsum", "favg", "entropy",
    "kurtosis", "skewness", "corr", "covar_pop", "covar_samp",
    # window functions
    "row_number", "rank", "dense_rank", "percent_rank", "cume_dist", "ntile", "lag", "lead", "first_value",
    "last_value", "nth_value",
    # numbers
    "abs", "ceil", "ceiling", "floor", "round", "trunc", "sign", "sqrt", "cbrt", "power", "pow", "exp", "ln",
    "log", "log10", "log2", "greatest", "least", "isnan", "isinf", "isfinite", "add", "subtract", "multiply",
    "divide", "fdiv", "fmod", "mod",
    # conditionals
    "nullif", "if",
    # strings
    "lower", "upper", "lcase", "ucase", "length", "len", "strlen", "substring", "substr", "left", "right", "trim",
    "ltrim", "rtrim", "concat", "concat_ws", "starts_with", "ends_with", "contains", "prefix", "suffix",
    "split_part", "strpos", "instr", "position", "regexp_matches", "regexp_extract", "reverse",
    # dates and times
    "now", "today", "get_current_timestamp", "date_trunc", "datetrunc", "date_part", "datepart", "date_diff",
    "datediff", "date_sub", "datesub", "epoch", "epoch_ms", "epoch_us", "to_timestamp", "make_date",
    "make_timestamp", "make_timestamptz", "age", "strftime", "strptime", "year", "month", "day", "hour", "minute",
    "second", "dayofweek", "isodow", "dayofmonth", "dayofyear", "week", "quarter", "last_day", "time_bucket",
    "to_seconds", "to_minutes", "to_hours", "to_days", "to_weeks", "to_months", "to_years", "to_milliseconds",
    # JSON text in the engine's columns, lists and structs built in the query
    "json_extract", "json_extract_string", "json_array_length", "list_value", "struct_pack", "array_length",
    "list_contains", "unnest",
})

#: bare words that DuckDB binds to the session, not to a column
SESSION_WORDS = frozenset({"current_user", "session_user", "user", "current_role", "current_catalog", "current_schema"})

EXPRESSION_CLASSES = frozenset({
    "FUNCTION", "WINDOW", "COLUMN_REF", "CONSTANT", "CAST", "CASE", "COMPARISON", "CONJUNCTION", "OPERATOR",
    "BETWEEN", "SUBQUERY", "STAR", "LAMBDA", "LAMBDA_REF", "COLLATE", "TYPE", "POSITIONAL_REFERENCE",
})
TABLE_REFS = frozenset({"BASE_TABLE", "JOIN", "SUBQUERY", "TABLE_FUNCTION", "EMPTY", "EXPRESSION_LIST"})

_PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HINT = "a probe may read the engine's tables and views with plain SQL functions (engine/probes/sql_policy.py)"


def catalog_names(con: duckdb.DuckDBPyConnection) -> tuple[frozenset[str], frozenset[str]]:
    """(the engine's own tables and views, every other relation name DuckDB would resolve)."""
    rows = con.execute(
        "SELECT table_name, database_name = current_database() AND schema_name = 'main' AND NOT internal "
        "FROM duckdb_tables() UNION ALL "
        "SELECT view_name, database_name = current_database() AND schema_name = 'main' AND NOT internal "
        "FROM duckdb_views()").fetchall()
    engine = frozenset(name.lower() for name, own in rows if own)
    return engine, frozenset(name.lower() for name, own in rows if not own) - engine


def check_probe_query(query: str, engine: frozenset[str], others: frozenset[str], database: str) -> None:
    """Refuse (UsageError, naming what and why) anything in ``query`` outside the allow-lists."""
    tree = parse(query)
    for node, ctes in _walk(tree):
        if "cte_map" in node:
            _check_cte_names(node, engine, others)
        kind, cls = node.get("type"), node.get("class")
        if cls is not None:
            _check_expression(node, cls)
        elif kind == "RECURSIVE_CTE_NODE":
            raise UsageError("a probe may not use WITH RECURSIVE: what it builds can outgrow the Store's memory "
                             "before the time limit (a string doubled per step: 3.5 GB in 5 s)", hint=_HINT)
        elif kind == "SHOW_REF":
            raise UsageError("a probe may not use DESCRIBE, SUMMARIZE or SHOW: they read the catalog", hint=_HINT)
        elif _is_table_ref(node) and kind not in TABLE_REFS:
            raise UsageError(f"a probe may not read from a {kind} table reference", hint=_HINT)
        elif kind == "TABLE_FUNCTION":
            _check_table_function(node)
        elif kind == "BASE_TABLE":
            _check_relation(node, ctes, engine, database)


def parse(query: str) -> dict[str, Any]:
    with duckdb.connect() as scratch:  # parsing needs no data: never the Store's connection
        (raw,) = scratch.execute("SELECT json_serialize_sql(?)", [query]).fetchall()[0]
    tree = json.loads(raw)
    if tree.get("error"):
        raise UsageError(f"probe query does not parse: {tree.get('error_message', '?')}",
                         hint="fix the query in [probes.<name>] query")
    return tree


def _walk(tree: Any) -> Iterator[tuple[dict, frozenset[str]]]:
    """Every dict of the tree, with the CTE names visible there (a query node's own and its
    ancestors': wider than DuckDB's scope, so a name it resolves elsewhere is still checked)."""
    stack: list[tuple[Any, frozenset[str]]] = [(tree, frozenset())]
    while stack:
        node, ctes = stack.pop()
        if isinstance(node, dict):
            own = (node.get("cte_map") or {}).get("map") or []
            if own:
                ctes = ctes | {entry["key"].lower() for entry in own}
            yield node, ctes
            children = list(node.values())
            if node.get("type") == "TABLE_FUNCTION":  # its function is checked as a table function
                children = [v for k, v in node.items() if k != "function"]
                children.append((node.get("function") or {}).get("arguments") or [])
            stack.extend((child, ctes) for child in reversed(children))  # in the order of the text
        elif isinstance(node, list):
            stack.extend((child, ctes) for child in reversed(node))


def _is_table_ref(node: dict) -> bool:
    """A FROM-clause node (query nodes carry a sample too, but also modifiers)."""
    return "sample" in node and "modifiers" not in node


def _check_cte_names(node: dict, engine: frozenset[str], others: frozenset[str]) -> None:
    for entry in node["cte_map"].get("map") or []:
        name = entry["key"].lower()
        if name in others:
            raise UsageError(f"a probe may not name a CTE {entry['key']!r}: that is the name of a system relation",
                             hint="rename the CTE")


def _check_expression(node: dict, cls: str) -> None:
    if cls not in EXPRESSION_CLASSES:
        raise UsageError(f"a probe may not use a {cls} expression", hint=_HINT)
    if cls in ("FUNCTION", "WINDOW"):
        name = node.get("function_name", "?")
        qualified = ".".join(p for p in (node.get("catalog"), node.get("schema"), name) if p)
        if qualified != name or name.lower() not in ALLOWED_FUNCTIONS:
            raise UsageError(f"a probe may not call {qualified}(): it is not on the probes' allow-list "
                             "(functions that write, sleep, or read settings, the session or files are refused)",
                             hint=_HINT)
    elif cls == "COLUMN_REF":
        names = node.get("column_names") or []
        if len(names) == 1 and names[0].lower() in SESSION_WORDS:
            raise UsageError(f"a probe may not read {names[0]}: it describes the session, not the data", hint=_HINT)


def _check_table_function(node: dict) -> None:
    function = node.get("function") or {}
    name = function.get("function_name", "?")
    qualified = ".".join(p for p in (function.get("catalog"), function.get("schema"), name) if p)
    if qualified != name or name.lower() not in ALLOWED_TABLE_FUNCTIONS:
        raise UsageError(f"a probe may read only the engine's tables: {qualified}() reads outside the database "
                         f"or its catalog; row generators ({', '.join(sorted(ALLOWED_TABLE_FUNCTIONS))}) are allowed",
                         hint=_HINT)


def _check_relation(node: dict, ctes: frozenset[str], engine: frozenset[str], database: str) -> None:
    catalog, schema, table = node.get("catalog_name") or "", node.get("schema_name") or "", node.get("table_name", "")
    qualified = ".".join(p for p in (catalog, schema, table) if p)
    if catalog.lower() not in ("", database.lower()) or schema.lower() not in ("", "main"):
        raise UsageError(f"a probe may read only the engine's tables: {qualified} is outside its database",
                         hint=_HINT)
    if not _PLAIN_NAME.match(table):
        raise UsageError(f"a probe may read only the engine's tables: {table!r} is a file",
                         hint="name a table or view of the engine's database")
    name = table.lower()
    if name in engine or (not catalog and not schema and name in ctes):
        return
    raise UsageError(f"a probe may read only the engine's tables and views: {table!r} is not one of them",
                     hint="name a table or view of the engine's database (a file or a system view is refused)")


__all__ = ["ALLOWED_FUNCTIONS", "ALLOWED_TABLE_FUNCTIONS", "catalog_names", "check_probe_query", "parse"]
