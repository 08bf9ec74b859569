"""The DuckDB schema: migrations run on start, are recorded, and are safe to re-run."""

import duckdb
import pytest

from engine.errors import StoreBusy
from engine.store import connect
from engine.store.database import apply_migrations
from engine.store.schema import MIGRATIONS, Migration

DOMAIN_TABLES = {
    "customers", "accounts", "agreements", "subscriptions", "allowances", "spend_caps", "services",
    "shared_groups", "workflow_events", "actioned_items", "network_requests", "network_request_history",
    "files", "file_rejections", "batches", "batch_errors", "batch_triggers", "job_executions",
    "schedule_slots", "daemons", "probes", "probe_results", "alerts", "notifications",
    "bill_cycle_changes", "reconciliation_discrepancies",
}


def tables(con):
    return {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}


def test_fresh_database_has_the_whole_domain(tmp_path):
    con = connect(tmp_path / "cmp.duckdb")
    assert DOMAIN_TABLES <= tables(con)
    versions = [r[0] for r in con.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()]
    assert versions == [m.version for m in MIGRATIONS]


def test_rerunning_migrations_is_a_no_op(tmp_path):
    path = tmp_path / "cmp.duckdb"
    con = connect(path)
    con.execute("INSERT INTO daemons (name, daemon_type, category, activity, state) VALUES ('x','Load','Provisioning','a','RUNNING')")
    con.close()
    con = connect(path)
    assert apply_migrations(con) == []
    assert con.execute("SELECT count(*) FROM daemons").fetchone()[0] == 1


def test_a_failing_migration_leaves_nothing_and_is_not_recorded(tmp_path):
    con = connect(tmp_path / "cmp.duckdb")

    def broken(c):
        c.execute("CREATE TABLE half_done (x INT)")
        c.execute("SELECT * FROM no_such_table")

    with pytest.raises(Exception, match="migration 999"):
        apply_migrations(con, MIGRATIONS + (Migration(999, "broken", broken),))
    assert "half_done" not in tables(con)
    assert 999 not in {r[0] for r in con.execute("SELECT version FROM schema_migrations").fetchall()}


def test_second_writer_gets_a_clear_error(tmp_path):
    import subprocess, sys, textwrap

    path = tmp_path / "cmp.duckdb"
    connect(path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import duckdb, sys, time
            con = duckdb.connect({str(path)!r})
            print('ready', flush=True)
            sys.stdin.read()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(StoreBusy, match="open in another process"):
            connect(path)
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)


def test_constraints_hold(tmp_path):
    con = connect(tmp_path / "cmp.duckdb")
    con.execute("INSERT INTO files VALUES (1,'abc','Order','id-1','Inbound','load_provisioning','a',1,1,NULL,now())")
    with pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO files VALUES (2,'abc','Order','id-2','Inbound','load_provisioning','b',1,1,NULL,now())")
    with pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO files VALUES (3,'def','Order','id-1','Inbound','load_provisioning','c',1,1,NULL,now())")
    with pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO network_requests (request_id, target, command, sequence, attributes, status) VALUES (1,'OCS','X',10,'{}','ZZ')")


# -- the numbering: 1, 2, 3, … and databases made under the numbers first released ------------------

#: the ledger of a database made before the numbering was closed up (4 and 6 never released)
OLD_NUMBERING = tuple(Migration(m.released_as or m.version, m.name, m.apply) for m in MIGRATIONS)


def ledger(con) -> list[tuple[int, str]]:
    return con.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()


def columns(con) -> list[tuple]:
    return con.execute("SELECT table_name, column_name, data_type FROM information_schema.columns "
                       "WHERE table_name <> 'schema_migrations' ORDER BY ALL").fetchall()


def test_versions_count_without_gaps():
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
    assert [m.version for m in OLD_NUMBERING] == [1, 2, 3, 5, 7, 8, 9]  # what the first releases recorded


def test_a_database_of_the_old_numbering_runs_nothing_again(tmp_path):
    old = tmp_path / "old.duckdb"
    con = connect(old, migrate=False)
    assert apply_migrations(con, OLD_NUMBERING) == [1, 2, 3, 5, 7, 8, 9]
    con.execute("INSERT INTO daemons (name, daemon_type, category, activity, state) "
                "VALUES ('x', 'Load', 'P', 'a', 'RUNNING')")
    con.close()

    con = connect(old)  # the current code: renumbers the ledger, and no migration runs again
    assert ledger(con) == [(m.version, m.name) for m in MIGRATIONS]
    assert apply_migrations(con) == []
    assert con.execute("SELECT count(*) FROM daemons").fetchone()[0] == 1
    fresh = connect(tmp_path / "fresh.duckdb")
    assert columns(con) == columns(fresh)  # the same schema as a database made today


def test_an_older_database_gets_the_migrations_it_lacks_under_their_new_numbers(tmp_path):
    path = tmp_path / "older.duckdb"
    con = connect(path, migrate=False)
    apply_migrations(con, OLD_NUMBERING[:4])  # an engine of the time of migration "5"
    con.close()
    con = connect(path)
    assert ledger(con) == [(m.version, m.name) for m in MIGRATIONS]
    assert columns(con) == columns(connect(tmp_path / "fresh.duckdb"))


def test_a_renumbering_cut_short_is_finished_next_time(tmp_path):
    path = tmp_path / "cut.duckdb"
    con = connect(path, migrate=False)
    apply_migrations(con, OLD_NUMBERING)
    con.execute("UPDATE schema_migrations SET version = 4 WHERE version = 5")  # the first step only
    con.close()
    con = connect(path)
    assert ledger(con) == [(m.version, m.name) for m in MIGRATIONS]
