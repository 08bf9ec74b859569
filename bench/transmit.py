"""Benchmark: network commands per second through the engine vs a bare async HTTP client.

    .venv/bin/python bench/transmit.py [--subscriptions 20000] [--in-flight 64] [--rounds 4]
                                       [--without-status-index]

Seeds N connections (6 commands each: CREATE_SUBSCRIBER, 2 ADD_ALLOWANCE, SET_SPEND_CAP,
ADD_CAPABILITY, ACTIVATE) straight into ``network_requests`` of a DuckDB file with SQL and, in
the same run, sends them to two fresh netsim processes (no faults):

1. **bare client**: the same HTTP calls (same builders, same sender, same headers and keys), the
   same concurrency (``--in-flight`` calls at once), each subscription's commands in order, no
   bookkeeping at all;
2. **engine**: the OCS :class:`~engine.transmission.adaptor.Adaptor` over a
   :class:`~engine.transmission.local.LocalQueue` on the DuckDB file: claims, leases, history,
   outcomes, effects on subscriptions/allowances/caps/services/events.

The work is split into ``--rounds`` slices run alternately (bare slice k, engine slice k, …) so
that both paths see the same background load on a shared machine; each path's time is the sum
of its slices. Besides commands/s it prints the CPU each path used per command (this process,
and the netsim process), which does not depend on what else the machine runs.

``--without-status-index`` drops ``network_requests_status`` from the benchmark's database
first: the schema change proposed in the transmission report (DuckDB executes an UPDATE of an
indexed column as delete + insert of the whole row, so every status change pays for it).
``--duckdb-threads N`` sets DuckDB's thread count on it (in one process, DuckDB's extra threads
compete with the adaptor's event loop for the same cores).

Profile with py-spy: ``py-spy record -o transmit.svg -- .venv/bin/python bench/transmit.py
--subscriptions 4000``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.config import EndpointConfig, Secret  # noqa: E402
from engine.store import connect  # noqa: E402
from engine.transmission.adaptor import Adaptor  # noqa: E402
from engine.transmission.commands import COMMANDS, OCS  # noqa: E402
from engine.transmission.local import LocalQueue  # noqa: E402
from engine.transmission.model import RequestRow  # noqa: E402
from engine.transmission.sender import HttpSender  # noqa: E402
from engine.transmission.testing import seed_connections  # noqa: E402
from netsim.testing import start_netsim  # noqa: E402


def load_chains(con, subscription_ids: list[str]) -> list[list[RequestRow]]:
    """The subscriptions' requests in sequence order, read once (outside the timing)."""
    con.register("_bench_subs", pa.table({"subscription_id": subscription_ids}))
    rows = con.execute(
        "SELECT r.subscription_id, r.request_id, r.command, r.sequence, r.attributes, s.account_id "
        "FROM network_requests r JOIN _bench_subs USING (subscription_id) "
        "JOIN subscriptions s USING (subscription_id) ORDER BY r.subscription_id, r.sequence").fetchall()
    chains: dict[str, list[RequestRow]] = {}
    for sub, rid, command, seq, attrs, account in rows:
        chains.setdefault(sub, []).append(RequestRow(rid, command, seq, json.loads(attrs), 0, account, None,
                                                     str(rid)))
    con.unregister("_bench_subs")
    return list(chains.values())


async def bare_client(sender: HttpSender, chains: list[list[RequestRow]], in_flight: int) -> tuple[int, int]:
    """``in_flight`` workers; each takes the next subscription and sends its commands in order."""
    todo = iter(chains)
    sent = failed = 0

    async def worker() -> None:
        nonlocal sent, failed
        for chain in todo:
            for req in chain:
                reply = await sender.send(COMMANDS.build(OCS, req), req.key)
                sent += 1
                if not 200 <= reply.status < 300:
                    failed += 1
                    break

    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return sent, failed


def cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Meter:
    """Wall time and CPU (this process, netsim) summed over the slices of one path."""

    def __init__(self) -> None:
        self.wall = self.cpu = self.sim_cpu = 0.0

    def measure(self, sim_pid: int, fn):
        wall, cpu, sim = time.perf_counter(), cpu_self(), cpu_of(sim_pid)
        result = fn()
        self.wall += time.perf_counter() - wall
        self.cpu += cpu_self() - cpu
        self.sim_cpu += cpu_of(sim_pid) - sim
        return result


def run(subscriptions: int, in_flight: int, rounds: int, without_status_index: bool,
        duckdb_threads: int | None = None) -> dict:
    bare, engine = Meter(), Meter()
    stats: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="bench-transmit-") as tmp, \
            start_netsim() as bare_sim, start_netsim() as engine_sim:
        con = connect(Path(tmp) / "cmp.duckdb")
        if without_status_index:
            con.execute("DROP INDEX IF EXISTS network_requests_status")
        if duckdb_threads:
            con.execute(f"SET threads = {int(duckdb_threads)}")
        endpoint = EndpointConfig(url=engine_sim.url, token=Secret(engine_sim.token), timeout_seconds=30.0,
                                  max_in_flight=in_flight, lease_seconds=60.0)
        per_round = -(-subscriptions // rounds)
        seed_s = 0.0
        commands = 0
        for k in range(rounds):
            count = min(per_round, subscriptions - k * per_round)
            if count <= 0:
                break
            t0 = time.perf_counter()
            seeded = seed_connections(con, count, first=k * per_round + 1)
            seed_s += time.perf_counter() - t0
            commands += seeded.requests
            chains = load_chains(con, seeded.subscription_ids)

            async def bare_slice() -> tuple[int, int]:
                async with HttpSender(bare_sim.url, bare_sim.token, timeout_seconds=30.0,
                                      max_connections=in_flight) as sender:
                    return await bare_client(sender, chains, in_flight)

            sent, failed = bare.measure(bare_sim.pid, lambda: asyncio.run(bare_slice()))
            if failed or sent != seeded.requests:
                raise SystemExit(f"bare client: {failed} of {sent} calls failed (expected {seeded.requests})")
            adaptor = Adaptor(LocalQueue(con), endpoint, target=OCS, worker=f"bench-{k}")
            for name, n in engine.measure(engine_sim.pid, lambda: asyncio.run(adaptor.run(until_idle=True))).items():
                stats[name] = stats.get(name, 0) + n
        dups = bare_sim.stats()["duplicate_executions"] + engine_sim.stats()["duplicate_executions"]
        done = dict(con.execute("SELECT status, count(*) FROM network_requests GROUP BY 1").fetchall())
        connected = con.execute("SELECT count(*) FROM subscriptions WHERE status = 'CONNECTED'").fetchone()[0]
        con.close()
    if done != {"NC": commands} or connected != subscriptions:
        raise SystemExit(f"engine did not complete everything: {done}, {connected} connected; stats {stats}")
    return {"subscriptions": subscriptions, "commands": commands, "in_flight": in_flight, "rounds": rounds,
            "seed_s": seed_s, "bare": bare, "engine": engine, "ratio": bare.wall / engine.wall,
            "duplicate_executions": dups, "stats": stats, "without_status_index": without_status_index,
            "duckdb_threads": duckdb_threads}


def table(r: dict) -> str:
    n = r["commands"]

    def line(label: str, m: Meter) -> str:
        return (f"| {label} | {m.wall:.1f} | {n / m.wall:,.0f} | {m.cpu / n * 1e6:,.0f} | "
                f"{m.sim_cpu / n * 1e6:,.0f} |")

    schema = "status index dropped (proposed migration)" if r["without_status_index"] else "schema as is"
    if r["duckdb_threads"]:
        schema += f", DuckDB threads={r['duckdb_threads']}"
    s = r["stats"]
    return "\n".join([
        f"Transmission benchmark: {r['subscriptions']:,} subscriptions, {n:,} commands, {r['in_flight']} calls "
        f"in flight, netsim without faults, {r['rounds']} alternating slices, {schema} "
        f"(seeded with SQL in {r['seed_s']:.1f} s)",
        "",
        "| path | seconds | commands/s | CPU µs/command (client) | CPU µs/command (netsim) |",
        "|---|---:|---:|---:|---:|",
        line("bare async client (same HTTP, same concurrency, per-subscription order)", r["bare"]),
        line("engine (Adaptor + LocalQueue on DuckDB: claims, leases, history, effects)", r["engine"]),
        f"| **ratio engine / bare** (target ≥ 0.6) | | **{r['ratio']:.2f}** | | |",
        f"| duplicate_executions (both netsims; must be 0) | | {r['duplicate_executions']} | | |",
        "",
        f"engine: {s.get('claims', 0)} claims, {s.get('flushes', 0)} flushes, {s.get('http_calls', 0):,} HTTP calls",
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscriptions", type=int, default=20_000)
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=4, help="alternating slices per path")
    parser.add_argument("--without-status-index", action="store_true",
                        help="drop network_requests_status first (the proposed schema change)")
    parser.add_argument("--duckdb-threads", type=int, default=None,
                        help="SET threads on the benchmark's database (default: DuckDB's, one per core)")
    args = parser.parse_args(argv)
    result = run(args.subscriptions, args.in_flight, max(1, args.rounds), args.without_status_index,
                 args.duckdb_threads)
    print(table(result))
    return 0 if result["duplicate_executions"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
