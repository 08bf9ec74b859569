"""Benchmark: every built-in probe on a database with 10M network requests.

    .venv/bin/python bench/probes.py [--requests 10000000] [--db PATH] [--runs 3]

Builds (or reuses, with ``--db`` pointing at an existing file) a DuckDB file with DuckDB's own
SQL generators: ``--requests`` network requests over 30 days (90 % OCS, 5 % OPENET, 5 % a file
partner; the last 5 minutes' and one in 100,000 still open, 2 % NR/NF/PE), four history rows each (UN, PR, NS, outcome) written in
time order as the engine writes them, a provisioning job execution and a schedule slot per
minute (a few late or missed), a batch and an outbound file per hour. Then runs each built-in
probe ``--runs`` times (a ProbeRunner at the end of the data: measure, store, alert steps) and
prints the first (cold) and best times. Target: under a second each. The Normal and Punctual
kinds are also timed over a 24-hour window.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.config import NotifyConfig  # noqa: E402
from engine.config import builtin_probes  # noqa: E402
from engine.probes.clock import ManualClock  # noqa: E402
from engine.probes.runner import ProbeRunner  # noqa: E402
from engine.store import connect  # noqa: E402

END = datetime(2026, 3, 31, 12, 0, tzinfo=timezone.utc)
DAYS = 30

BUILD = """
SET preserve_insertion_order = true;  -- history arrives in time order in the engine too
INSERT INTO network_requests (request_id, action_item_number, subscription_id, target, command, sequence,
                              attributes, status, attempts, created_at, updated_at, sent_at, completed_at)
SELECT i, i, 'SUB-' || (i // 6), t.target, 'ADD_ALLOWANCE', (i % 6) * 10, '{}',
       CASE WHEN i > $n - $open OR i % 100000 = 7 THEN (['UN', 'PR', 'NS'])[1 + i % 3]
            WHEN i % 50 = 0 THEN (['NR', 'NF', 'PE'])[1 + (i // 50) % 3] ELSE 'NC' END,
       1, t.at, t.at + INTERVAL 2 SECOND, t.at + INTERVAL 1 SECOND, t.at + INTERVAL 2 SECOND
FROM (SELECT i, CASE WHEN i % 20 = 0 THEN 'OPENET' WHEN i % 20 = 1 THEN 'FILE:PARTNER' ELSE 'OCS' END AS target,
             $start::TIMESTAMPTZ + to_microseconds(CAST((i - 1) * ($span_us::DOUBLE / $n) AS BIGINT)) AS at
      FROM range(1, $n + 1) r(i)) t;
INSERT INTO network_request_history (request_id, seq, status, changed_at, actor, note)
SELECT r.request_id, s.seq,
       CASE s.seq WHEN 1 THEN 'UN' WHEN 2 THEN 'PR' WHEN 3 THEN 'NS' ELSE r.status END,
       r.created_at + to_microseconds(CAST((s.seq - 1) * 600000 AS BIGINT)), 'bench', NULL
FROM network_requests r, range(1, 5) s(seq)
WHERE s.seq = 1 OR r.status NOT IN ('UN') AND (s.seq < 4 OR r.status NOT IN ('PR', 'NS'))
ORDER BY r.request_id, s.seq;
INSERT INTO job_executions (execution_id, job, status, trigger, records_read, records_ok, records_error,
                            started_at, ended_at)
SELECT m, 'provisioning', 'SUCCEEDED', 'schedule', 200, 200 - m % 7, m % 7,
       $start::TIMESTAMPTZ + to_microseconds(m * 60000000), $start::TIMESTAMPTZ + to_microseconds(m * 60000000 + 5000000)
FROM range(0, $minutes) r(m);
INSERT INTO schedule_slots (schedule, slot_at, status, execution_id)
SELECT 'provisioning', $start::TIMESTAMPTZ + to_microseconds(m * 60000000),
       CASE WHEN m % 997 = 0 THEN 'missed' WHEN m % 499 = 0 THEN 'late' ELSE 'succeeded' END, m
FROM range(0, $minutes) r(m);
INSERT INTO files (file_id, sha256, interface_type, identifier, direction, daemon, name, size_bytes, record_count,
                   batch_id, committed_at)
SELECT h, 'sha-' || h, 'Default', 'F' || h, CASE WHEN h % 2 = 0 THEN 'Inbound' ELSE 'Outbound' END,
       CASE WHEN h % 2 = 0 THEN 'Load/Provisioning/FromGenericFormat' ELSE 'Extract/Provisioning/ToGenericFormat' END,
       'f' || h || '.age', 1000, 100, h, $start::TIMESTAMPTZ + to_microseconds(h * 1800000000)
FROM range(1, $hours * 2) r(h);
INSERT INTO batches (batch_id, file_id, category, batch_type, direction, stage, stage_at, records, valid_records,
                     error_records, created_at)
SELECT file_id, file_id, 'Provisioning', 'Default', direction, 'PROCESSED', committed_at, 100, 99, 1, committed_at
FROM files;
INSERT INTO daemons (name, daemon_type, category, activity, state, created_at)
VALUES ('Extract/Provisioning/ToGenericFormat', 'Extract', 'Provisioning', 'To Generic Format', 'RUNNING', $start);
SET preserve_insertion_order = false;
"""


def build(path: Path, requests: int) -> float:
    start = time.perf_counter()
    con = connect(path)
    # Open: what arrived in the last 5 minutes, and one in 100,000 stuck since it was created.
    params = {"n": requests, "open": max(1, requests * 5 // (DAYS * 1440)), "start": END - timedelta(days=DAYS),
              "span_us": DAYS * 86400 * 10**6 - 60 * 10**6, "minutes": DAYS * 1440, "hours": DAYS * 24}
    for statement in BUILD.split(";\n"):
        if statement.strip():
            con.execute(statement, {k: v for k, v in params.items() if f"${k}" in statement})
    con.execute("CHECKPOINT")
    con.close()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=10_000_000)
    ap.add_argument("--db", type=Path, default=None, help="Database file (reused when it exists).")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args(argv)
    path = args.db or Path(tempfile.mkdtemp(prefix="cmp-bench-probes-")) / "cmp.duckdb"
    if not path.exists():
        print(f"building {path} with {args.requests:,} requests …", flush=True)
        print(f"built in {build(path, args.requests):.1f} s", flush=True)
    con = connect(path)
    counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in ("network_requests", "network_request_history", "job_executions", "schedule_slots", "files")}
    print("rows: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()))
    (threads,) = con.execute("SELECT current_setting('threads')").fetchone()
    print(f"database {path.stat().st_size / 1e9:.2f} GB; DuckDB threads {threads}; cores {os.cpu_count()}")
    probes = builtin_probes()
    # The same kinds over a whole day, as an operator might configure them: the cost of a wide window.
    for name in ("adaptor_errors", "provisioning_errors", "provisioning_slots"):
        probes[f"{name} (24 h window)"] = dataclasses.replace(probes[name], window_seconds=86400)
    clock = ManualClock(END)
    runner = ProbeRunner(con, probes, NotifyConfig(), path.parent, clock=clock)
    runner.sync()
    print(f"\n| probe | kind | first run (s) | best of {args.runs} (s) | median (s) | outcome | value |")
    print("|---|---|---|---|---|---|---|")
    worst = 0.0
    for name, p in probes.items():
        times, run = [], None
        for _ in range(args.runs):
            t0 = time.perf_counter()
            run = runner.run(name, now=clock.advance(1))
            times.append(time.perf_counter() - t0)
        values = ", ".join(f"{r['subject']}={r['value']:.4g}" for r in run.results if r["value"] is not None)
        print(f"| {name} | {p.kind} | {times[0]:.3f} | {min(times):.3f} | {statistics.median(times):.3f} | "
              f"{run.outcome} | {values or run.error or '-'} |", flush=True)
        worst = max(worst, min(times))
    con.close()
    print(f"\nslowest built-in probe (best run): {worst:.3f} s — target < 1 s: {'met' if worst < 1 else 'NOT met'}")
    return 0 if worst < 1 else 1


if __name__ == "__main__":
    raise SystemExit(main())
