"""Benchmark of the provisioning job against the minimal set-based work on the same orders.

    .venv/bin/python bench/provision.py [--orders 1000000] [--db PATH] [--profile] [--set NAME=VALUE]

Builds one committed Order batch of N orders straight into ``stage_orders`` with SQL (``range``
and list/struct construction; no Python objects per order), with the shape of the project's
synthetic Order files (engine/synth/catalog.py: its tariff catalogue, spend caps and service sets; 80%
individuals with 1-3 subscriptions, 20% organisations with 1-8; 60% postpaid; 10% delayed
activations; a third of the subscriptions with services; 5% EUR accounts, so the catalogue's
GBP cash allowances make ~1.8% of the orders break the CASH currency rule, as in real files
some orders do). Then, in the same run, it times

- the baseline: ``CREATE TABLE … AS SELECT`` unnesting the orders into flat subscription and
  allowance tables (the least work any provisioning must do: read and flatten the batch);
- the provisioning job through ``engine.jobs.run_job`` (its transaction and execution row included);
- a reference: storing the job's network requests alone (the rows, prebuilt, inserted into an
  empty copy of ``network_requests`` with its indexes, and committed): the storage floor of the
  biggest table, whatever the SQL that builds the rows;

and prints a markdown table: wall and CPU time (all threads: the build machine is shared, so
CPU time is the steadier figure), orders/s, requests/s and the ratio to the baseline.
``--profile`` also prints the time of every statement the job runs; ``--set NAME=VALUE`` runs
with a DuckDB setting (to try store-wide settings such as ``disabled_compression_methods``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.store import database  # noqa: E402
from engine.synth import CAP_AMOUNTS, SERVICE_SETS, TARIFFS  # noqa: E402
from engine.jobs import run_job  # noqa: E402
from jobs.provisioning import PROVISIONING  # noqa: E402

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=timezone.utc)


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _tariff_literals() -> tuple[str, str, str, str, int, int]:
    """SQL lists (1-based) of the catalogue: prepaid codes, postpaid codes, their allowances, and
    how many tariffs each list has."""

    def allowances(code: str) -> str:
        items = [
            f"{{'type': {_q(t)}, 'amount': {'''CAST('inf' AS DOUBLE)''' if a == 'UNLIMITED' else f'{float(a)}::DOUBLE'}, "
            f"'unit': {_q(u)}, 'recurring': {str(r).lower()}}}"
            for t, a, u, r in TARIFFS[code][1]
        ]
        return "[" + ", ".join(items) + "]"

    pre = [c for c, v in TARIFFS.items() if v[0] == "PREPAID"]
    post = [c for c, v in TARIFFS.items() if v[0] == "POSTPAID"]
    return (
        "[" + ", ".join(map(_q, pre)) + "]",
        "[" + ", ".join(map(_q, post)) + "]",
        "[" + ", ".join(allowances(c) for c in pre) + "]",
        "[" + ", ".join(allowances(c) for c in post) + "]",
        len(pre),
        len(post),
    )


def build_batch(con, orders: int) -> int:
    """One committed Order batch of ``orders`` generated orders. Returns its id."""
    pre, post, pre_allow, post_allow, n_pre, n_post = _tariff_literals()
    services = "[" + ", ".join(
        "[" + ", ".join(f"{{'type': {_q(t)}, 'code': {_q(c)}}}" for t, c in s) + "]" for s in SERVICE_SETS
    ) + "]"  # fmt: skip
    caps = "[" + ", ".join(f"{a}::DOUBLE" for a in CAP_AMOUNTS) + "]"
    batch_id = con.execute("SELECT nextval('seq_batch')").fetchone()[0]
    con.execute(
        "INSERT INTO batches (batch_id, category, batch_type, direction, stage, records, valid_records) "
        "VALUES (?, 'Provisioning', 'Order', 'Inbound', 'LOADED', ?, ?)",
        [batch_id, orders, orders],
    )
    con.execute("INSERT INTO batch_triggers (batch_id, job) VALUES (?, 'provisioning')", [batch_id])
    hk = "(hash(i, k) >> 1)::BIGINT"
    con.execute(
        f"""
        INSERT INTO stage_orders BY NAME
        WITH o AS (
            SELECT range AS i, h, h % 5 = 0 AS org FROM (SELECT range, (hash(range) >> 1)::BIGINT AS h FROM range({orders}))
        )
        SELECT $batch::BIGINT AS batch_id, 0::INTEGER AS shard_no, i + 2 AS line_no,
               'ORD-B-' || lpad(i::VARCHAR, 8, '0') AS orderRef,
               CASE WHEN org THEN {{'type': 'ORGANISATION', 'title': NULL::VARCHAR, 'firstName': NULL::VARCHAR,
                                   'lastName': NULL::VARCHAR, 'dateOfBirth': NULL::DATE,
                                   'organisationName': 'Kestrel Logistics ' || i || ' Ltd',
                                   'registrationNumber': 'SC' || lpad((i % 1000000)::VARCHAR, 6, '0'),
                                   'email': 'accounts' || i || '@kestrel.example.com'}}
                    ELSE {{'type': 'INDIVIDUAL', 'title': 'Ms', 'firstName': 'Ada', 'lastName': 'Byron-' || (h % 977),
                          'dateOfBirth': DATE '1950-01-01' + ((h >> 8) % 18000)::INTEGER,
                          'organisationName': NULL::VARCHAR, 'registrationNumber': NULL::VARCHAR,
                          'email': 'ada.' || i || '@example.org'}} END AS customer,
               {{'paymentType': 'DIRECT_DEBIT', 'currency': CASE WHEN (h >> 12) % 20 = 0 THEN 'EUR' ELSE 'GBP' END}}
                   AS account,
               {{'billFrequency': 'MONTHLY', 'billCycleDay': (1 + (h >> 16) % 28)::BIGINT,
                 'cycleLengthDays': NULL::BIGINT}} AS agreement,
               list_transform(
                   range(CASE WHEN org THEN [1, 2, 2, 3, 4, 8][1 + (h >> 20) % 6]
                              ELSE [1, 1, 1, 1, 2, 2, 3][1 + (h >> 20) % 7] END),
                   lambda k: {{
                       'subscriptionRef': 'SUB-' || (k + 1),
                       'payMode': CASE WHEN {hk} % 10 < 6 THEN 'POSTPAID' ELSE 'PREPAID' END,
                       'msisdn': (447000000000 + i * 8 + k)::VARCHAR,
                       'tariffCode': CASE WHEN {hk} % 10 < 6 THEN {post}[1 + ({hk} >> 8) % {n_post}]
                                          ELSE {pre}[1 + ({hk} >> 8) % {n_pre}] END,
                       'activation': CASE WHEN ({hk} >> 16) % 10 = 0 THEN 'DELAYED' ELSE 'IMMEDIATE' END,
                       'activationDate': CASE WHEN ({hk} >> 16) % 10 = 0
                                              THEN DATE '2026-12-01' + (({hk} >> 24) % 60)::INTEGER END,
                       'allowances': CASE WHEN {hk} % 10 < 6 THEN {post_allow}[1 + ({hk} >> 8) % {n_post}]
                                          ELSE {pre_allow}[1 + ({hk} >> 8) % {n_pre}] END,
                       'spendCap': CASE WHEN {hk} % 10 < 6
                                        THEN {{'kind': 'VALUE', 'scope': 'FULL', 'amount': {caps}[1 + ({hk} >> 32) % {len(CAP_AMOUNTS)}]}}
                                        WHEN ({hk} >> 32) % 8 = 0 THEN {{'kind': 'VOLUME', 'scope': 'PARTIAL', 'amount': 2048::DOUBLE}}
                                        WHEN ({hk} >> 32) % 8 = 1 THEN {{'kind': 'DURATION', 'scope': 'FULL', 'amount': 600::DOUBLE}}
                                   END,
                       'services': {services}[1 + ({hk} >> 40) % {len(SERVICE_SETS) * 3}]
                   }}) AS subscriptions
        FROM o
        """,  # noqa: E501
        {"batch": batch_id},
    )
    con.execute("CHECKPOINT")
    return batch_id


BASELINE = (
    """CREATE TABLE base_subscriptions AS
       SELECT line_no, orderRef, s.* FROM (SELECT line_no, orderRef, unnest(subscriptions) AS s
                                           FROM stage_orders WHERE batch_id = $batch)""",
    """CREATE TABLE base_allowances AS
       SELECT line_no, orderRef, msisdn, a.* FROM (
           SELECT line_no, orderRef, s.msisdn AS msisdn, unnest(s.allowances) AS a
           FROM (SELECT line_no, orderRef, unnest(subscriptions) AS s FROM stage_orders WHERE batch_id = $batch))""",
)


class _Clock:
    """Wall and CPU time (all threads of this process) of a block."""

    def __enter__(self) -> "_Clock":
        self.t0, self.c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.wall, self.cpu = time.perf_counter() - self.t0, time.process_time() - self.c0


#: the tables the job writes (for the count of rows it wrote)
JOB_TABLES = ("customers", "accounts", "agreements", "subscriptions", "allowances", "spend_caps", "services",
              "workflow_events", "actioned_items", "network_requests", "network_request_history", "batch_errors")


def count_rows(con, tables) -> int:
    return con.execute("SELECT " + " + ".join(f"(SELECT count(*) FROM {t})" for t in tables)).fetchone()[0]


def baseline(con, batch_id: int) -> _Clock:
    with _Clock() as clock:
        con.execute("BEGIN TRANSACTION")
        for sql in BASELINE:
            con.execute(sql, {"batch": batch_id})
        con.execute("COMMIT")
    clock.rows = count_rows(con, ("base_subscriptions", "base_allowances"))
    con.execute("DROP TABLE base_subscriptions")
    con.execute("DROP TABLE base_allowances")
    con.execute("CHECKPOINT")
    return clock


def request_storage(con) -> _Clock:
    """Insert the job's network requests, prebuilt, into an empty copy of the table (same DDL and
    indexes) and commit: what storing the requests alone costs, whatever builds them."""
    ddl = con.execute("SELECT sql FROM duckdb_tables() WHERE table_name = 'network_requests'").fetchone()[0]
    indexes = [r[0] for r in con.execute("SELECT sql FROM duckdb_indexes() WHERE table_name = 'network_requests'").fetchall()]
    con.execute(ddl.replace("network_requests", "bench_requests", 1))
    for sql in indexes:
        con.execute(sql.replace("network_requests", "bench_requests"))
    con.execute("CREATE TEMP TABLE bench_rows AS SELECT * FROM network_requests")
    with _Clock() as clock:
        con.execute("BEGIN TRANSACTION")
        con.execute("INSERT INTO bench_requests SELECT * FROM bench_rows")
        con.execute("COMMIT")
    clock.rows = count_rows(con, ("bench_requests",))
    con.execute("DROP TABLE bench_rows")
    con.execute("DROP TABLE bench_requests")
    return clock


class _Timed:
    """A connection wrapper that records the time of every execute (for --profile)."""

    def __init__(self, con) -> None:
        self._con = con
        self.times: list[tuple[float, str]] = []

    def execute(self, sql, *args, **kwargs):
        t0, c0 = time.perf_counter(), time.process_time()
        out = self._con.execute(sql, *args, **kwargs)
        self.times.append((time.perf_counter() - t0, time.process_time() - c0, " ".join(str(sql).split())[:90]))
        return out

    def __getattr__(self, name):
        return getattr(self._con, name)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=1_000_000)
    ap.add_argument("--db", type=Path, help="DuckDB file to build (default: a temporary one)")
    ap.add_argument("--profile", action="store_true", help="print the time of every statement of the job")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="a DuckDB setting for the run, e.g. disabled_compression_methods=dict_fsst")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="cmp-bench-") as tmp:
        path = args.db or Path(tmp) / "bench.duckdb"
        if path.exists():
            sys.exit(f"{path} exists: the benchmark needs a fresh database")
        con = database.connect(path)
        con.execute("SET enable_progress_bar = false")
        for setting in args.set:
            name, _, value = setting.partition("=")
            con.execute(f"SET {name} = ?", [value])
        t0 = time.perf_counter()
        batch_id = build_batch(con, args.orders)
        subs, allowances = con.execute(
            "SELECT sum(len(subscriptions)), sum(list_sum(list_transform(subscriptions, lambda s: len(s.allowances)))) "
            "FROM stage_orders WHERE batch_id = ?",
            [batch_id],
        ).fetchone()
        print(f"built batch {batch_id}: {args.orders:,} orders, {subs:,} subscriptions, {allowances:,} allowances "
              f"in {time.perf_counter() - t0:.1f}s", file=sys.stderr)  # fmt: skip

        base = baseline(con, batch_id)
        runner = _Timed(con) if args.profile else con
        with _Clock() as job:
            run = run_job(runner, PROVISIONING, {"batch": str(batch_id)}, now=NOW)
        job.rows = count_rows(con, JOB_TABLES)
        assert run["status"] == "SUCCEEDED" and run["records_ok"] + run["records_error"] == args.orders, run
        con.execute("CHECKPOINT")
        storage = request_storage(con)
        requests, ok, rejected = run["result"]["requests"], run["records_ok"], run["records_error"]
        con.close()

    n = args.orders
    print(f"\nProvisioning job on {n:,} orders ({subs:,} subscriptions, {allowances:,} allowances, {requests:,} "
          f"network requests; {ok:,} provisioned, {rejected:,} rejected by business rules: "
          f"{run['result']['errors_by_rule']}); DuckDB file, one run; settings: {args.set or 'defaults'}\n")
    print("| step | wall (s) | CPU, all threads (s) | orders/s | requests/s | rows written | rows/s "
          "| wall ratio to baseline |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, clock, orders_s, requests_s in (
        ("baseline: CTAS unnesting the orders into flat subscriptions + allowances", base, f"{n / base.wall:,.0f}", "–"),
        ("provisioning job (run_job: one transaction, execution row)", job, f"{n / job.wall:,.0f}",
         f"{requests / job.wall:,.0f}"),
        ("reference: storing the job's network requests alone (prebuilt rows → INSERT + COMMIT into an empty copy "
         "of network_requests)", storage, "–", f"{requests / storage.wall:,.0f}"),
    ):
        print(f"| {label} | {clock.wall:.2f} | {clock.cpu:.2f} | {orders_s} | {requests_s} | {clock.rows:,} | "
              f"{clock.rows / clock.wall:,.0f} | {clock.wall / base.wall:.1f} |")
    if args.profile:
        print("\n| job statement | wall (s) | CPU, all threads (s) |\n|---|---:|---:|")
        for elapsed, cpu, sql in runner.times:
            if elapsed >= 0.05:
                print(f"| `{sql}` | {elapsed:.2f} | {cpu:.2f} |")


if __name__ == "__main__":
    main()
