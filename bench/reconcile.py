"""Benchmark: the reconciliation job's comparison path vs one DuckDB full outer join.

    .venv/bin/python bench/reconcile.py [--subscriptions 10M] [--partitions P] [--nodes K] [--no-ray]

Builds, once, a synthetic engine side (one live record per subscription: allowances and spend
caps alternately) and the OCS side of the same subscriptions with injected discrepancies (a
share left out, a share the engine lacks, amounts and dates altered, instances listed twice),
as Arrow tables in the job's input schemas. Then, on the same data, in one run:

1. **floor**: one DuckDB FULL OUTER JOIN reconciliation (class counts, nothing materialised),
   with all of DuckDB's threads;
2. **job P=1**: engine.reconcile.partition.reconcile with one partition, in this process — the
   single-node path of the job, producing every outcome row the Store then writes;
3. **job P=cores** (``--partitions``, default the CPU count): the same with the Ray executor
   (``actors/reconcile_tasks.py``: one task of 1 CPU per partition, spread over the nodes) on
   a local Ray, or on a ``ray.cluster_utils.Cluster`` of ``--nodes`` nodes of
   ``--cpus-per-node`` CPUs each (all on this machine: it shows the spreading, not more cores).
   ``--no-ray`` skips it (floor and P=1 only).

What is timed for the job is what the job does between reading its inputs from the Store and
writing its outcome there: partitioning, moving partitions to the tasks and back, comparing.
Each path's class counts are checked against the injected ones before its time is printed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import duckdb
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.reconcile.compare import CLASSES, CODE, ENGINE_SCHEMA, OCS_SCHEMA  # noqa: E402
from engine.reconcile.partition import LocalExecutor, reconcile  # noqa: E402

# Shares of subscriptions given each injected discrepancy (disjoint, by subscription number).
SHARES = {"MISSING_IN_OCS": 0.01, "MISSING_IN_ENGINE": 0.01, "AMOUNT_DIFFERS": 0.005,
          "DATE_DIFFERS": 0.005, "DUPLICATE_IN_OCS": 0.005}

_SYNTH = """
CREATE TABLE subs AS
SELECT n, 'SUB-' || n AS subscription_id, 7000000000 + n AS action_item_number,
       CASE WHEN n % 2 = 0 THEN 'ALLOWANCE' ELSE 'SPEND_CAP' END AS record_kind,
       CASE WHEN n % 2 = 0 THEN 'DATA-100GB' ELSE 'CAP-VALUE-FULL' END AS ocs_id,
       CASE WHEN n % 2 = 0 THEN 100.0 ELSE 25.0 END::DOUBLE AS amount,
       CASE WHEN n % 2 = 0 THEN 'GB' ELSE 'GBP' END AS unit,
       TIMESTAMPTZ '2026-12-01 00:00:00+00' + to_days((n % 28)::INTEGER) AS effective_at,
       -- which discrepancy (if any) this subscription gets: bands of n % 10000
       CASE WHEN n % 10000 < $m_ocs THEN 'MISSING_IN_OCS'
            WHEN n % 10000 < $m_eng THEN 'MISSING_IN_ENGINE'
            WHEN n % 10000 < $amt THEN 'AMOUNT_DIFFERS'
            WHEN n % 10000 < $dat THEN 'DATE_DIFFERS'
            WHEN n % 10000 < $dup THEN 'DUPLICATE_IN_OCS' END AS fault
FROM range($n) t(n)
"""
_ENGINE = """
SELECT action_item_number, subscription_id, record_kind, ocs_id, 1::BIGINT AS ordinal,
       CASE WHEN record_kind = 'ALLOWANCE' THEN 'ALW-' ELSE 'CAP-' END || n AS record_id,
       'inst-old-' || n AS ocs_instance_id, amount, unit, effective_at
FROM subs WHERE fault IS DISTINCT FROM 'MISSING_IN_ENGINE'
"""
_OCS = """
SELECT 1::BIGINT AS batch_id, n + 2 AS line_no, action_item_number, subscription_id, record_kind, ocs_id,
       1::BIGINT AS ordinal, 'inst-new-' || n AS ocs_instance_id,
       CASE WHEN fault = 'AMOUNT_DIFFERS' THEN amount * 2 ELSE amount END AS amount, unit,
       CASE WHEN fault = 'DATE_DIFFERS' THEN effective_at + INTERVAL 1 DAY ELSE effective_at END AS effective_at,
       NULL::TIMESTAMPTZ AS expiry_at
FROM subs, range(CASE WHEN fault = 'DUPLICATE_IN_OCS' THEN 2 ELSE 1 END)
WHERE fault IS DISTINCT FROM 'MISSING_IN_OCS'
"""

# The floor: the same classification as one join, only counted (no dedup, no outcome rows).
FLOOR_SQL = """
SELECT CASE WHEN o.ocs_instance_id IS NULL THEN 'MISSING_IN_OCS'
            WHEN e.record_id IS NULL THEN 'MISSING_IN_ENGINE'
            WHEN e.amount <> o.amount OR e.unit <> o.unit THEN 'AMOUNT_DIFFERS'
            WHEN e.effective_at <> o.effective_at THEN 'DATE_DIFFERS'
            ELSE 'MATCHED' END AS class, count(*) AS n
FROM engine e FULL OUTER JOIN ocs o
  ON e.action_item_number = o.action_item_number AND e.subscription_id = o.subscription_id
 AND e.record_kind = o.record_kind AND e.ocs_id = o.ocs_id AND e.ordinal = o.ordinal
GROUP BY ALL
"""


def synth(n: int) -> tuple[pa.Table, pa.Table, dict[str, int]]:
    con = duckdb.connect(":memory:")
    bands, acc = {}, 0
    for name, key in zip(SHARES, ("m_ocs", "m_eng", "amt", "dat", "dup")):
        acc += int(SHARES[name] * 10000)
        bands[key] = acc
    con.execute(_SYNTH, {"n": n, **bands})
    engine = con.sql(_ENGINE).to_arrow_table().cast(ENGINE_SCHEMA)
    ocs = con.sql(_OCS).to_arrow_table().cast(OCS_SCHEMA)
    expected = dict(con.execute("SELECT fault, count(*) FROM subs WHERE fault IS NOT NULL GROUP BY ALL").fetchall())
    con.close()
    return engine, ocs, expected


def counts(outcomes: pa.Table) -> dict[str, int]:
    con = duckdb.connect(":memory:")
    con.register("o", outcomes)
    found = {CLASSES[code]: n for code, n in
             con.execute(f"SELECT class, count(*) FROM o WHERE class <> {CODE['MATCHED']} GROUP BY ALL").fetchall()}
    found["DUPLICATE_IN_OCS"] = con.execute("SELECT count(*) FROM o WHERE copies > 1").fetchone()[0]
    con.close()
    return found


def check(name: str, found: dict[str, int], expected: dict[str, int]) -> None:
    if found != expected:
        raise SystemExit(f"{name}: found {found}, injected {expected}")


def parse_count(text: str) -> int:
    text = text.strip().upper()
    scale = {"K": 10**3, "M": 10**6}.get(text[-1:], 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


def timed(fn):
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subscriptions", default="10M", help="subscriptions (= records per side), e.g. 2M, 10M")
    ap.add_argument("--partitions", type=int, default=os.cpu_count() or 1, help="P of the scaled-out run")
    ap.add_argument("--nodes", type=int, default=0, help="run P on a ray.cluster_utils.Cluster of K nodes")
    ap.add_argument("--cpus-per-node", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each path; the best is reported")
    ap.add_argument("--no-ray", action="store_true", help="skip the scaled-out (Ray) run: floor and P=1 only")
    args = ap.parse_args()
    n = parse_count(args.subscriptions)

    (engine, ocs, expected), secs = timed(lambda: synth(n))
    print(f"data: {n:,} subscriptions, engine side {engine.num_rows:,} rows, OCS side {ocs.num_rows:,} rows "
          f"({(engine.nbytes + ocs.nbytes) / 2**30:.2f} GiB Arrow), built in {secs:.1f} s; injected {expected}",
          flush=True)

    floor_con = duckdb.connect(":memory:")
    floor_con.register("engine", engine)
    floor_con.register("ocs", ocs)

    def floor():
        found = dict(floor_con.execute(FLOOR_SQL).fetchall())
        found.pop("MATCHED", None)
        return found

    results: dict[str, float] = {}

    def best(name, fn, verify):
        times = []
        for _ in range(args.repeat):
            out, secs = timed(fn)
            verify(out)
            times.append(secs)
            del out  # (the job holds one outcome at a time: the next run does not share memory with it)
        results[name] = min(times)
        print(f"  {name:<22} {min(times):7.2f} s   (runs: {', '.join(f'{t:.2f}' for t in times)})", flush=True)

    # The floor has no dedup, so a duplicated instance is one more MATCHED pair; the rest agree.
    best("floor (1 FULL JOIN)", floor,
         lambda f: check("floor", f, {k: v for k, v in expected.items() if k != "DUPLICATE_IN_OCS"}))
    best("job P=1", lambda: reconcile(engine, ocs, 1, LocalExecutor())[0],
         lambda out: check("job P=1", counts(out), expected))

    if args.no_ray:
        floor_s, p1 = results["floor (1 FULL JOIN)"], results["job P=1"]
        print(f"ratios: P=1 / floor = {p1 / floor_s:.2f} (target <= 2); {os.cpu_count()} CPUs on this machine")
        return

    import ray

    from actors.reconcile_tasks import RayExecutor

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    cluster = None
    if args.nodes:
        from ray.cluster_utils import Cluster

        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0}, connect=False)
        for _ in range(args.nodes):
            cluster.add_node(num_cpus=args.cpus_per_node)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False)
        where = f"{args.nodes} nodes x {args.cpus_per_node} CPU"
    else:
        ray.init(address="local", num_cpus=args.partitions, include_dashboard=False, log_to_driver=False)
        where = "local Ray"
    p = args.partitions
    nodes_seen: set[str] = set()

    def scaled():
        out, runs = reconcile(engine, ocs, p, RayExecutor())
        nodes_seen.update(r.node for r in runs)
        return out

    try:
        best(f"job P={p} ({where})", scaled, lambda out: check(f"job P={p}", counts(out), expected))
    finally:
        ray.shutdown()
        if cluster is not None:
            cluster.shutdown()

    floor_s, p1, pk = results["floor (1 FULL JOIN)"], results["job P=1"], results[f"job P={p} ({where})"]
    print(f"ratios: P=1 / floor = {p1 / floor_s:.2f} (target <= 2); P={p} / P=1 = {pk / p1:.2f} "
          f"(target < 1); P={p} ran on {len(nodes_seen)} node(s); {os.cpu_count()} CPUs on this machine")


if __name__ == "__main__":
    main()
