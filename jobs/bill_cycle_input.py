"""What the bill-cycle-change job reads: agreement → new bill cycle day, from its parameters or a file.

Two ways in, one shape out:

- parameters ``agreement=AGR-1,AGR-2`` (one id or comma-separated ids) and ``day=1`` (1-31):
  every id is a record, numbered 1, 2, … in the order given;
- ``file=/abs/path`` of a ``.csv`` file (``agreement,day`` per line; a first line
  ``agreement,day`` is a header and skipped) or a ``.jsonl`` / ``.json`` / ``.ndjson`` file (one
  object ``{"agreement": "AGR-1", "day": 1}`` per line; other fields are errors). Lines are
  numbered from 1 as an editor shows them; blank lines are skipped. The file is read by DuckDB
  inside the Store's process (``read_text``), split and checked in SQL: no per-line Python.

Temp tables of the job's connection:

``_bcc_records`` (line_no, raw, agreement_id, new_day): every record read; agreement_id and
new_day are NULL where they could not be read.
``_bcc_bad`` (line_no, rule, field, reason): one row per problem of a record that cannot be
read (field ``line`` when the record as a whole is malformed), and per later repeat of an
agreement the input already named; the business rules (:mod:`jobs.bill_cycle_rules`) add theirs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import duckdb
import pyarrow as pa

from engine.errors import UsageError

TEMP_TABLES = ("_bcc_text", "_bcc_raw", "_bcc_records", "_bcc_bad")

CSV_SUFFIXES = (".csv",)
JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")
#: an agreement id as FORMATS.md ids are (schemas/*: 1-64 of A-Z a-z 0-9 . _ : -)
ID_PATTERN = r"^[A-Za-z0-9._:-]{1,64}$"


@dataclass(frozen=True)
class Source:
    """Where the records came from, for error messages."""

    label: str  # the file's path, or the parameter
    file: str | None = None

    def where(self, line_no: int) -> str:
        """``/path/changes.csv:3`` for a file line, ``agreement #2`` for the 2nd id of the parameter."""
        return f"{self.label}:{line_no}" if self.file else f"{self.label} #{line_no}"


# -- reading ----------------------------------------------------------------------------------------

_RAW_SCHEMA = pa.schema([("line_no", pa.int64()), ("raw", pa.string()), ("agreement_text", pa.string()),
                         ("day_text", pa.string()), ("line_problem", pa.string())])  # fmt: skip


def read(con: duckdb.DuckDBPyConnection, params: Mapping[str, str]) -> Source:
    """Fill ``_bcc_records`` and ``_bcc_bad`` from the job's parameters (UsageError if they are wrong)."""
    has_file = bool(str(params.get("file", "")).strip())
    has_list = "agreement" in params or "day" in params
    if has_file == has_list:
        raise UsageError("bill-cycle-change needs either --param agreement=<id[,id…]> --param day=<1-31>, "
                         "or --param file=<path of a .csv or .jsonl file of agreement,day changes>",
                         hint="give one of the two, not both")  # fmt: skip
    if has_file:
        return _read_file(con, str(params["file"]).strip())
    if "agreement" not in params or "day" not in params:
        raise UsageError(f"bill-cycle-change needs --param {'day' if 'agreement' in params else 'agreement'}=… too",
                         hint="e.g. --param agreement=AGR-1,AGR-2 --param day=1")
    return _read_params(con, str(params["agreement"]), str(params["day"]))


def _read_params(con: duckdb.DuckDBPyConnection, agreements: str, day: str) -> Source:
    items = agreements.split(",")
    table = pa.table({
        "line_no": pa.array(range(1, len(items) + 1), pa.int64()),
        "raw": [f"agreement={item.strip()} day={day.strip()}" for item in items],
        "agreement_text": [item.strip() for item in items],
        "day_text": [day.strip()] * len(items),
        "line_problem": pa.nulls(len(items), pa.string()),
    }, schema=_RAW_SCHEMA)  # fmt: skip
    con.register("_bcc_param_rows", table)
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE _bcc_raw AS SELECT * FROM _bcc_param_rows")
    finally:
        con.unregister("_bcc_param_rows")
    _check(con)
    return Source("agreement")


def _read_file(con: duckdb.DuckDBPyConnection, path_text: str) -> Source:
    path = Path(path_text)
    if not path.is_absolute():
        raise UsageError(f"file must be an absolute path, got {path_text!r}: the job runs in the engine's Store "
                         "process, whose working folder is not yours", hint="e.g. --param file=$PWD/changes.csv")
    suffix = path.suffix.lower()
    if suffix not in CSV_SUFFIXES + JSONL_SUFFIXES:
        raise UsageError(f"{path}: unknown kind of change file {suffix or '(no suffix)'!r}",
                         hint='name it *.csv (agreement,day lines) or *.jsonl ({"agreement":…,"day":…} lines)')
    if not path.is_file():
        raise UsageError(f"{path}: no such file", hint="check the path (it is read on the engine's machine)")
    try:
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE _bcc_text AS
            SELECT i::BIGINT AS line_no, rtrim(l, chr(13)) AS raw
            FROM (SELECT unnest(lines) AS l, generate_subscripts(lines, 1) AS i
                  FROM (SELECT string_split(content, chr(10)) AS lines FROM read_text(?)))
            WHERE trim(rtrim(l, chr(13))) <> ''
            """,
            [str(path)],
        )
    except duckdb.Error as exc:
        raise UsageError(f"{path}: cannot read it as UTF-8 text: {exc}", hint="save it as UTF-8") from None
    con.execute(_CSV_RAW if suffix in CSV_SUFFIXES else _JSONL_RAW)
    _check(con)
    return Source(str(path), str(path))


# A CSV line: two fields, optionally quoted. The first line may be the header agreement,day.
_CSV_RAW = r"""
CREATE OR REPLACE TEMP TABLE _bcc_raw AS
SELECT line_no, raw,
       CASE WHEN len(f) = 2 THEN trim(f[1], ' "') END AS agreement_text,
       CASE WHEN len(f) = 2 THEN trim(f[2], ' "') END AS day_text,
       CASE WHEN len(f) <> 2 THEN 'expected 2 comma-separated fields agreement,day, got ' || len(f) END
           AS line_problem
FROM (SELECT line_no, raw, string_split(raw, ',') AS f FROM _bcc_text)
WHERE NOT (line_no = (SELECT min(line_no) FROM _bcc_text)
           AND regexp_matches(lower(raw), '^\s*"?agreement"?\s*,\s*"?day"?\s*$'))
"""

# A JSON line: an object with exactly the fields agreement (a string) and day (an integer).
# Values of the wrong JSON type come through as NULL text, with the reason said by _check.
_JSONL_RAW = """
CREATE OR REPLACE TEMP TABLE _bcc_raw AS
SELECT line_no, raw,
       CASE WHEN json_type(j, '$.agreement') = 'VARCHAR' THEN json_extract_string(j, '$.agreement')
            WHEN json_type(j, '$.agreement') IS NOT NULL THEN '<json ' || json_extract(j, '$.agreement')::VARCHAR || '>'
       END AS agreement_text,
       CASE WHEN json_type(j, '$.day') IN ('UBIGINT', 'BIGINT') THEN json_extract_string(j, '$.day')
            WHEN json_type(j, '$.day') IS NOT NULL THEN '<json ' || json_extract(j, '$.day')::VARCHAR || '>'
       END AS day_text,
       CASE WHEN j IS NULL THEN 'not valid JSON'
            WHEN json_type(j) <> 'OBJECT' THEN 'expected a JSON object {"agreement": …, "day": …}, got '
                                               || lower(json_type(j))
            WHEN len(list_filter(json_keys(j), lambda k: k NOT IN ('agreement', 'day'))) > 0
                THEN 'unknown field ' || list_filter(json_keys(j), lambda k: k NOT IN ('agreement', 'day'))[1]
                     || ' (a change has only agreement and day)'
       END AS line_problem
FROM (SELECT line_no, raw, TRY_CAST(raw AS JSON) AS j FROM _bcc_text)
"""

# Field checks shared by every source, then the repeats of an agreement (the first use wins).
_CHECKS = rf"""
CREATE OR REPLACE TEMP TABLE _bcc_bad AS
SELECT line_no, 'malformed' AS rule, 'line' AS field, line_problem AS reason
FROM _bcc_raw WHERE line_problem IS NOT NULL
UNION ALL
SELECT line_no, 'bad_agreement', 'agreement',
       CASE WHEN agreement_text IS NULL THEN 'is missing'
            WHEN agreement_text = '' THEN 'is empty'
            ELSE 'must be an agreement id (1-64 of A-Z a-z 0-9 . _ : -), got ' || agreement_text END
FROM _bcc_raw
WHERE line_problem IS NULL AND (agreement_text IS NULL OR NOT regexp_matches(agreement_text, '{ID_PATTERN}'))
UNION ALL
SELECT line_no, 'bad_day', 'day',
       CASE WHEN day_text IS NULL THEN 'is missing'
            ELSE 'must be a whole number 1-31, got ' || CASE WHEN day_text = '' THEN '(empty)' ELSE day_text END
       END
FROM _bcc_raw
WHERE line_problem IS NULL
  AND (day_text IS NULL OR NOT regexp_matches(day_text, '^[0-9]{{1,2}}$') OR TRY_CAST(day_text AS INTEGER) NOT BETWEEN 1 AND 31);

CREATE OR REPLACE TEMP TABLE _bcc_records AS
SELECT r.line_no, r.raw,
       CASE WHEN b.line_no IS NULL THEN r.agreement_text END AS agreement_id,
       CASE WHEN b.line_no IS NULL THEN TRY_CAST(r.day_text AS INTEGER) END AS new_day
FROM _bcc_raw r LEFT JOIN (SELECT DISTINCT line_no FROM _bcc_bad) b USING (line_no);

INSERT INTO _bcc_bad
SELECT line_no, 'repeated', 'agreement', 'agreement ' || agreement_id || ' repeats line ' || first_line || ' of this input'
FROM (SELECT line_no, agreement_id, first_value(line_no) OVER w AS first_line
      FROM _bcc_records WHERE agreement_id IS NOT NULL
      WINDOW w AS (PARTITION BY agreement_id ORDER BY line_no))
WHERE line_no > first_line;

UPDATE _bcc_records SET agreement_id = NULL, new_day = NULL
WHERE line_no IN (SELECT line_no FROM _bcc_bad);
"""


def _check(con: duckdb.DuckDBPyConnection) -> None:
    for sql in _CHECKS.split(";"):
        if sql.strip():
            con.execute(sql)


__all__ = ["CSV_SUFFIXES", "JSONL_SUFFIXES", "Source", "TEMP_TABLES", "read"]
