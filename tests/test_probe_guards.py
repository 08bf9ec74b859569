"""Hostile SQL probes: refused before they run (an allow-list of functions and relations over
DuckDB's parse tree), and nothing they name can write, read a setting or leave the database."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

import duckdb
import pytest

from engine.config import NotifyConfig, ProbeConfig, load_config
from engine.probes.clock import ManualClock
from engine.probes.kinds import KINDS, ProbeKind
from engine.probes.runner import ProbeRunner
from engine.probes.sql_policy import ALLOWED_FUNCTIONS, ALLOWED_TABLE_FUNCTIONS
from engine.store.store import Store
from jobs.registry import default_registry

from tests.test_probes import T0, con  # noqa: F401  (con: the fixture, a real DuckDB file)

RUNAWAY = "SELECT count(*) FROM range(100000000000000)"


def run_query(con, tmp_path: Path, query: str, timeout_seconds: float = 5.0):
    r = ProbeRunner(con, {"q": ProbeConfig(type="SQL", query=query, severe=1e18, recipients=("log:",),
                                           timeout_seconds=timeout_seconds)},
                    NotifyConfig(), tmp_path, clock=ManualClock(T0))
    r.sync()
    return r.run("q")


def sequence_value(con, name: str):
    return con.execute("SELECT last_value FROM duckdb_sequences() WHERE sequence_name = ?", [name]).fetchone()[0]


def test_nextval_is_refused_and_the_batch_sequence_does_not_move(con, tmp_path):
    before = sequence_value(con, "seq_batch")
    run = run_query(con, tmp_path, "SELECT max(nextval('seq_batch')) FROM range(1000)")
    assert run.outcome == "probe failed" and "nextval()" in run.error, run.error
    assert sequence_value(con, "seq_batch") == before


@pytest.mark.parametrize("query, said", [
    ("SELECT setval('seq_batch', 1)", "setval()"),
    ("SELECT currval('seq_batch')", "currval()"),
    ("SELECT length(current_setting('temp_directory'))", "current_setting()"),
    ("SELECT length(getvariable('x'))", "getvariable()"),
    ("SELECT count(*) FROM pg_catalog.pg_settings", "pg_catalog.pg_settings"),
    ("SELECT count(*) FROM pg_settings", "'pg_settings'"),
    ("SELECT count(*) FROM information_schema.tables", "information_schema.tables"),
    ("SELECT count(*) FROM duckdb_settings()", "duckdb_settings()"),
    ("SELECT count(*) FROM duckdb_sequences()", "duckdb_sequences()"),
    ("SELECT count(*) FROM (DESCRIBE probes)", "DESCRIBE"),
    ("SELECT count(*) FROM (SUMMARIZE probes)", "SUMMARIZE"),
    ("SELECT length(version())", "version()"),
    ("SELECT length(current_schema)", "current_schema"),
    ("SELECT length(current_catalog)", "current_catalog"),
    ("SELECT count(*) FROM probes WHERE main.nextval('seq_batch') > 0", "main.nextval()"),
    ("SELECT count(*) FROM range(10) WHERE sleep_ms(10) IS NULL", "sleep_ms()"),
    ("SELECT count(*) FROM query('SELECT 1')", "query()"),
    # a CTE named like a system view, referenced where the CTE is not in scope, is the view
    ("SELECT (SELECT count(*) FROM (WITH pg_settings AS (SELECT 1) SELECT 1)) + "
     "(SELECT count(*) FROM pg_settings)", "pg_settings"),
    ("SELECT count(*) FROM system.main.duckdb_settings", "system.main.duckdb_settings"),
    ("SELECT count(*) FROM temp.main.probes", "temp.main.probes"),
    # memory is not bounded per query: nothing whose output outgrows its input
    ("WITH RECURSIVE r(s, n) AS (SELECT 'x', 1 UNION ALL SELECT s || s, n + 1 FROM r WHERE n < 40) "
     "SELECT max(length(s)) FROM r", "WITH RECURSIVE"),
    ("SELECT length(repeat('x', 2000000000))", "repeat()"),
    ("SELECT length(lpad('x', 2000000000, 'y'))", "lpad()"),
    ("SELECT length(string_agg(name, '')) FROM probes", "string_agg()"),
])
def test_functions_and_relations_outside_the_allow_list_are_refused(con, tmp_path, query, said):
    before = sequence_value(con, "seq_batch")
    run = run_query(con, tmp_path, query)
    assert run.outcome == "probe failed" and said in run.error, run.error
    assert "may" in run.error  # says what a probe may do, not a DuckDB binder error
    assert sequence_value(con, "seq_batch") == before


@pytest.mark.parametrize("query", [
    "SELECT count(*) FROM probes",
    "SELECT count(*) FROM main.probes",
    "WITH p AS (SELECT name FROM probes) SELECT count(*) FROM p",
    "SELECT coalesce(sum(CASE WHEN outcome = 'severe' THEN 1 ELSE 0 END), 0) FROM probe_results",
    "SELECT count(*) FILTER (WHERE run_at > now() - INTERVAL 1 HOUR) FROM probe_results",
    "SELECT date_diff('second', min(run_at), max(run_at)) IS NULL::INT FROM probe_results",
    "SELECT epoch(current_timestamp) > 0",
    "SELECT count(*) FROM probes WHERE name LIKE 'q%' AND lower(name) IN ('q') AND length(name) BETWEEN 1 AND 9",
    "SELECT max(n) FROM (SELECT row_number() OVER (ORDER BY name) AS n FROM probes)",
    "SELECT count(*) FROM generate_series(1, 3), unnest([1, 2])",
    "SELECT greatest(1, least(2, 3)) + abs(-1) + round(1.5) + nullif(0, 0) IS NULL::INT",
])
def test_honest_queries_still_run(con, tmp_path, query):
    run = run_query(con, tmp_path, query)
    assert run.outcome == "success", run.error


def test_the_allow_list_has_no_function_with_side_effects():
    with duckdb.connect() as scratch:
        effects = {name for (name,) in scratch.execute(
            "SELECT DISTINCT function_name FROM duckdb_functions() WHERE has_side_effects").fetchall()}
        known = {name for (name,) in scratch.execute("SELECT DISTINCT function_name FROM duckdb_functions()").fetchall()}
    assert not (ALLOWED_FUNCTIONS | ALLOWED_TABLE_FUNCTIONS) & effects
    assert (ALLOWED_FUNCTIONS | ALLOWED_TABLE_FUNCTIONS) <= known  # no name DuckDB does not have


# ---------------------------------------------------------------------------------- time limits


def test_a_runaway_query_is_interrupted_at_its_time_limit(con, tmp_path):
    started = time.monotonic()
    run = run_query(con, tmp_path, RUNAWAY, timeout_seconds=1.0)
    took = time.monotonic() - started
    assert run.outcome == "probe failed" and "time limit of 1 s" in run.error, run.error
    assert "probes.q.timeout_seconds" in run.error and took < 5, took
    assert run_query(con, tmp_path, "SELECT count(*) FROM probes").outcome == "success"  # the connection is fine


def test_a_probe_without_recipients_fails_quietly_into_its_history(con, tmp_path):
    r = ProbeRunner(con, {"q": ProbeConfig(type="SQL", query="SELECT nextval('seq_batch')", severe=1, recipients=())},
                    NotifyConfig(), tmp_path, clock=ManualClock(T0))
    r.sync()
    run = r.run("q")  # its failure event has nobody to tell: recorded, not raised
    assert run.outcome == "probe failed" and run.events[0]["deliveries"] == []


def test_a_built_in_probe_has_a_time_limit_too(con, tmp_path, monkeypatch):
    def slow(cur, p, now):  # a built-in kind whose query runs away (e.g. on a huge table)
        cur.execute(RUNAWAY).fetchall()
        return []

    monkeypatch.setitem(KINDS, "job_error_ratio", ProbeKind("Normal", slow))
    probe = ProbeConfig(type="Normal", kind="job_error_ratio", warning=0.1, recipients=("log:",), timeout_seconds=1.0)
    r = ProbeRunner(con, {"jobs": probe}, NotifyConfig(), tmp_path, clock=ManualClock(T0))
    r.sync()
    started = time.monotonic()
    run = r.run("jobs")
    assert run.outcome == "probe failed" and "time limit of 1 s" in run.error and time.monotonic() - started < 5


@pytest.fixture
def store(home):
    store = Store(home / "data" / "cmp.duckdb", jobs=default_registry())
    yield store
    store.close()


def probes_config(home: Path, **probes: ProbeConfig):
    return dataclasses.replace(load_config(home, env={}), probes=probes)


def test_a_running_probe_holds_up_no_other_store_call(store, home):
    config = probes_config(home, runaway=ProbeConfig(type="SQL", query=RUNAWAY, severe=1, recipients=("log:",),
                                                     timeout_seconds=4.0),
                           honest=ProbeConfig(type="SQL", query="SELECT count(*) FROM probes", severe=100,
                                              recipients=("log:",)))
    runaway: list = []
    thread = threading.Thread(target=lambda: runaway.extend(store.run_probes(config, ["runaway"])))
    started = time.monotonic()
    thread.start()
    time.sleep(0.5)  # the runaway query is running
    (honest,) = store.run_probes(config, ["honest"])
    store.list_batches()
    assert honest["outcome"] == "success" and time.monotonic() - started < 3.0
    assert thread.is_alive()  # still running beside it
    thread.join(15)
    took = time.monotonic() - started
    assert runaway[0]["outcome"] == "probe failed" and "time limit of 4 s" in runaway[0]["error"]
    assert 4.0 <= took < 8.0, took


def test_runs_of_different_probes_side_by_side_never_conflict(store, home):
    names = [f"p{i}" for i in range(6)]
    config = probes_config(home, **{n: ProbeConfig(type="SQL", query=f"SELECT {i} + count(*) FROM probes",
                                                   warning=2, severe=4, recipients=("log:",))
                                    for i, n in enumerate(names)})
    errors: list[BaseException] = []

    def run(name: str) -> None:
        try:
            for _ in range(5):
                (doc,) = store.run_probes(config, [name])
                assert doc["outcome"] != "probe failed", doc["error"]
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in names + names[:2]]  # two probes twice at once
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    history = store.probe_history(limit=1000)
    assert sorted({h["probe"] for h in history}) == names and len(history) == 40
