"""What the concrete jobs share: checking and marking their batch, and their temp tables."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterable, Iterator

import duckdb

from engine.errors import NotFound, UsageError


def require_batch(con: duckdb.DuckDBPyConnection, batch_id: int, batch_type: str, job: str) -> None:
    """Check that ``batch_id`` exists and is a ``batch_type`` batch; NotFound/UsageError if not."""
    row = con.execute("SELECT batch_type FROM batches WHERE batch_id = ?", [batch_id]).fetchone()
    if row is None:
        raise NotFound(f"no batch {batch_id}", hint="`cmpctl batches list` shows the batch ids")
    if row[0] != batch_type:
        raise UsageError(f"batch {batch_id} is a {row[0]!r} batch; the {job} job only takes {batch_type!r} batches",
                         hint=f"pick a {batch_type!r} batch (`cmpctl batches list`)")


def mark_batch_processed(con: duckdb.DuckDBPyConnection, batch_id: int, job: str, execution_id: int) -> None:
    """The batch's last stage is PROCESSED and its trigger for ``job`` is DONE by this execution
    (a hand-run job on a batch no trigger was made for records one, so the batch shows it)."""
    con.execute("UPDATE batches SET stage = 'PROCESSED', stage_at = now() WHERE batch_id = ?", [batch_id])
    con.execute(
        """
        INSERT INTO batch_triggers (batch_id, job, status, execution_id) VALUES (?, ?, 'DONE', ?)
        ON CONFLICT (batch_id, job) DO UPDATE SET status = 'DONE', execution_id = excluded.execution_id
        """,
        [batch_id, job, execution_id],
    )


def drop_temp_tables(con: duckdb.DuckDBPyConnection, tables: Iterable[str]) -> None:
    """Drop a job's temporary tables (after a failure its rollback has discarded them already)."""
    try:
        for table in tables:
            con.execute(f"DROP TABLE IF EXISTS temp.{table}")
    except duckdb.Error:
        pass


@contextmanager
def temp_tables(con: duckdb.DuckDBPyConnection, *tables: str) -> Iterator[None]:
    """The temp tables a block creates and reads, dropped when it ends, however it ends."""
    try:
        yield
    finally:
        drop_temp_tables(con, tables)


__all__ = ["drop_temp_tables", "mark_batch_processed", "require_batch", "temp_tables"]
