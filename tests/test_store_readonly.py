"""engine.store.readonly: the trace id of a batch or execution, read from the file while no engine runs."""

from __future__ import annotations

import pytest

from engine.errors import EngineNotRunning, NotFound, StoreError
from engine.store.database import connect
from engine.store.readonly import recorded_trace_id

TRACE = "0af7651916cd43dd8448eb211c80319c"


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "data" / "cmp.duckdb"
    con = connect(path)
    con.execute("INSERT INTO batches (batch_id, category, batch_type, direction, stage, trace_id) VALUES "
                "(1, 'Provisioning', 'Order', 'Inbound', 'PROCESSED', ?), "
                "(2, 'Provisioning', 'Order', 'Inbound', 'PROCESSED', NULL)", [TRACE])
    con.execute("INSERT INTO job_executions (execution_id, job, status, trigger, trace_id) VALUES "
                "(7, 'provisioning', 'SUCCEEDED', 'manual', ?), (8, 'provisioning', 'SUCCEEDED', 'manual', '')",
                [TRACE[::-1]])
    con.close()
    return path


def test_trace_ids_of_batches_and_executions(db):
    assert recorded_trace_id(db, "batch", 1) == TRACE
    assert recorded_trace_id(db, "execution", 7) == TRACE[::-1]
    assert recorded_trace_id(db, "batch", 2) is None  # loaded with telemetry.exporter = none
    assert recorded_trace_id(db, "execution", 8) is None


def test_a_missing_row_is_not_found_by_its_name(db):
    with pytest.raises(NotFound, match="no job execution 1$"):
        recorded_trace_id(db, "execution", 1)  # batch 1 exists: the subject picks the table
    with pytest.raises(NotFound, match="no batch 7$"):
        recorded_trace_id(db, "batch", 7)


def test_the_file_is_only_read(db):
    before = db.stat().st_mtime_ns, db.stat().st_size
    recorded_trace_id(db, "batch", 1)
    assert (db.stat().st_mtime_ns, db.stat().st_size) == before


def test_a_file_held_by_a_writer_is_engine_not_running(db):
    holder = connect(db)  # what the Store does while the engine runs
    try:
        with pytest.raises(EngineNotRunning, match="another process holds it") as raised:
            _in_another_process(db)
        assert raised.value.exit_code == 3
    finally:
        holder.close()


def test_no_database_says_to_init(tmp_path):
    with pytest.raises(StoreError, match="cmpctl init"):
        recorded_trace_id(tmp_path / "nothing.duckdb", "batch", 1)


def _in_another_process(db):
    """DuckDB shares one database instance within a process, so the lock only bites across
    processes: read from a child and re-raise its error here."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(recorded_trace_id, (db, "batch", 1))
