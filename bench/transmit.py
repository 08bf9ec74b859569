"""Benchmark: network commands per second through the engine vs a bare async HTTP client.

    .venv/bin/python bench/transmit.py [--subscriptions 20000] [--in-flight 64] [--rounds 4]
                                       [--via-ray] [--without-status-index]

Seeds N connections (6 commands each: CREATE_SUBSCRIBER, 2 ADD_ALLOWANCE, SET_SPEND_CAP,
ADD_CAPABILITY, ACTIVATE) straight into ``network_requests`` of a DuckDB file with SQL and, in
the same run, sends them to two fresh netsim processes (no faults):

1. **bare client**: the same HTTP calls (same builders, same sender, same headers and keys), the
   same concurrency (``--in-flight`` calls at once), each subscription's commands in order, no
   bookkeeping at all;
2. **engine**: the OCS :class:`~engine.transmission.adaptor.Adaptor` over a
   :class:`~engine.transmission.local.LocalQueue` on the DuckDB file: claims, leases, history,
   outcomes, effects on subscriptions/allowances/caps/services/events;
3. with ``--via-ray``, also **engine via Ray**: the deployed path, on a local Ray started by the
   benchmark: the :class:`~actors.store.StoreActor` owning its own DuckDB file and the OCS
   :class:`~actors.transmission_daemon.TransmissionDaemonActor` running the same adaptor in its
   own process, reaching the request log through Store actor calls; a third netsim. Each slice
   is seeded inside the Store process (``__ray_call__``: the Store owns the file) and timed from
   then until the Store shows all its commands NC, as the running daemon finds, sends and
   records them (its flush interval, 1 s, is part of that time).

The work is split into ``--rounds`` slices run alternately (bare slice k, engine slice k, …) so
that the paths see the same background load on a shared machine; each path's time is the sum
of its slices. Besides commands/s it prints the CPU each path used per command (the client: this
process, or the Store and adaptor actor processes via Ray; and the netsim process), which does
not depend on what else the machine runs (Ray's own raylet/GCS CPU is not counted).

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
import dataclasses
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.config import Config, DaemonConfig, EndpointConfig, Secret  # noqa: E402
from engine.store import connect  # noqa: E402
from engine.transmission.adaptor import Adaptor  # noqa: E402
from engine.transmission.builtins import builtin_commands  # noqa: E402
from engine.transmission.ocs import OCS  # noqa: E402
from engine.transmission.sender import new_event_loop  # noqa: E402
from engine.transmission.local import LocalQueue  # noqa: E402
from engine.transmission.model import RequestRow  # noqa: E402
from engine.transmission.sender import HttpSender  # noqa: E402
from engine.transmission.testing import Seeded, seed_connections  # noqa: E402
from netsim.testing import start_netsim  # noqa: E402



def _run(coro):
    """On the event loop the adaptor actor uses (uvloop where installed)."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(coro)

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
    commands = builtin_commands()

    async def worker() -> None:
        nonlocal sent, failed
        for chain in todo:
            for req in chain:
                reply = await sender.send(commands.build(OCS, req), req.key)
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
    """Wall time and CPU (the client, netsim) summed over the slices of one path. The client is
    this process, or the given processes (the Store and adaptor actors)."""

    def __init__(self) -> None:
        self.wall = self.cpu = self.sim_cpu = 0.0

    def measure(self, sim_pid: int, fn, client_pids: tuple[int, ...] = ()):
        def client() -> float:
            return sum(cpu_of(p) for p in client_pids) if client_pids else cpu_self()

        wall, cpu, sim = time.perf_counter(), client(), cpu_of(sim_pid)
        result = fn()
        self.wall += time.perf_counter() - wall
        self.cpu += client() - cpu
        self.sim_cpu += cpu_of(sim_pid) - sim
        return result


def _seed_in_store(store_actor, count: int, first: int) -> Seeded:
    """Runs inside the Store actor's process (the one owner of its DuckDB file)."""
    with store_actor.cursor() as cur:
        return seed_connections(cur, count, first=first)


class RayPath:
    """The engine as deployed: a local Ray, the Store actor on its own DuckDB file, and the OCS
    adaptor actor over it (polling every ``poll_seconds`` when idle)."""

    def __init__(self, db_path: Path, endpoint: EndpointConfig, poll_seconds: float = 0.05) -> None:
        import ray

        from actors.clients import StoreClient, daemon_client
        from actors.names import daemon
        from actors.store import StoreActor
        from actors.transmission_daemon import TransmissionDaemonActor

        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        ray.init(address="local", num_cpus=2, include_dashboard=False, namespace="bench-transmit",
                 log_to_driver=False, configure_logging=False)
        self._ray, self.db_path = ray, db_path
        self.store = StoreActor.remote(str(db_path))
        self.store_client = StoreClient(self.store, timeout=600)
        self.store_pid = self.store_client.pid()
        base = Config()
        # No span export, as on the in-process path (telemetry is not configured there).
        config = dataclasses.replace(base, daemons=dataclasses.replace(
            base.daemons, ocs_adaptor=DaemonConfig(poll_seconds=poll_seconds)),
            telemetry=dataclasses.replace(base.telemetry, exporter="none"))
        self.daemon = TransmissionDaemonActor.remote(daemon("ocs_adaptor"), config, self.store, OCS, endpoint)
        self.daemon_client = daemon_client(self.daemon, timeout=120, actor="ocs_adaptor")
        self.daemon_pid = self._ray.get(self.daemon.pid.remote())

    @property
    def pids(self) -> tuple[int, int]:
        return self.store_pid, self.daemon_pid

    # (seeding and the adaptor's counters run code inside the actors, which no API offers: raw Ray)
    def seed(self, count: int, first: int) -> Seeded:
        return self._ray.get(self.store.__ray_call__.remote(_seed_in_store, count, first))

    def nc(self) -> int:
        return self.store_client.queue_depths().get(OCS, {}).get("NC", 0)

    def wait_nc(self, commands: int, poll: float = 0.05) -> None:
        """Until the Store shows ``commands`` OCS requests NC (all of them so far)."""
        while self.nc() < commands:
            time.sleep(poll)

    def close(self) -> dict[str, int]:
        """Stop the adaptor (drain), close the Store; returns the adaptor's counters."""
        stats = self._ray.get(self.daemon.__ray_call__.remote(lambda actor: dict(actor._adaptor.stats)))
        state = self.daemon_client.stop()
        if state != "STOPPED":
            raise SystemExit(f"the adaptor actor ended {state}: {self.daemon_client.state()}")
        self.store_client.close()
        for handle in (self.daemon, self.store):
            self._ray.kill(handle, no_restart=True)
        self._ray.shutdown()
        return stats


def run(subscriptions: int, in_flight: int, rounds: int, without_status_index: bool,
        duckdb_threads: int | None = None, via_ray: bool = False) -> dict:
    bare, engine, via = Meter(), Meter(), Meter()
    stats: dict[str, int] = {}
    ray_stats: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="bench-transmit-") as tmp, \
            start_netsim() as bare_sim, start_netsim() as engine_sim, start_netsim() as ray_sim:
        ray_path = None
        if via_ray:
            ray_endpoint = EndpointConfig(url=ray_sim.url, token=Secret(ray_sim.token), timeout_seconds=30.0,
                                          max_in_flight=in_flight, lease_seconds=60.0)
            if without_status_index:  # the same schema on both paths' databases
                ray_db = connect(Path(tmp) / "ray.duckdb")
                ray_db.execute("DROP INDEX IF EXISTS network_requests_status")
                ray_db.close()
            ray_path = RayPath(Path(tmp) / "ray.duckdb", ray_endpoint)
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

            sent, failed = bare.measure(bare_sim.pid, lambda: _run(bare_slice()))
            if failed or sent != seeded.requests:
                raise SystemExit(f"bare client: {failed} of {sent} calls failed (expected {seeded.requests})")
            adaptor = Adaptor(LocalQueue(con), endpoint, target=OCS, worker=f"bench-{k}")
            for name, n in engine.measure(engine_sim.pid, lambda: _run(adaptor.run(until_idle=True))).items():
                stats[name] = stats.get(name, 0) + n
            if ray_path is not None:
                if ray_path.seed(count, k * per_round + 1).requests != seeded.requests:
                    raise SystemExit("the Ray path's seed differs from the in-process one")
                via.measure(ray_sim.pid, lambda: ray_path.wait_nc(commands), client_pids=ray_path.pids)
        dups = {name: sim.stats()["duplicate_executions"] for name, sim in
                (("bare", bare_sim), ("engine", engine_sim), ("ray", ray_sim))}
        done = dict(con.execute("SELECT status, count(*) FROM network_requests GROUP BY 1").fetchall())
        connected = con.execute("SELECT count(*) FROM subscriptions WHERE status = 'CONNECTED'").fetchone()[0]
        con.close()
        if ray_path is not None:
            ray_stats = ray_path.close()
            ray_con = connect(ray_path.db_path)
            ray_done = dict(ray_con.execute("SELECT status, count(*) FROM network_requests GROUP BY 1").fetchall())
            ray_connected = ray_con.execute("SELECT count(*) FROM subscriptions WHERE status = 'CONNECTED'"
                                            ).fetchone()[0]
            ray_con.close()
            if ray_done != {"NC": commands} or ray_connected != subscriptions:
                raise SystemExit(f"the Ray path did not complete everything: {ray_done}, {ray_connected} connected")
    if done != {"NC": commands} or connected != subscriptions:
        raise SystemExit(f"engine did not complete everything: {done}, {connected} connected; stats {stats}")
    return {"subscriptions": subscriptions, "commands": commands, "in_flight": in_flight, "rounds": rounds,
            "seed_s": seed_s, "bare": bare, "engine": engine, "ratio": bare.wall / engine.wall,
            "ray": via if via_ray else None, "ray_ratio": bare.wall / via.wall if via_ray else None,
            "ray_stats": ray_stats, "duplicate_executions": sum(dups.values()), "duplicates": dups, "stats": stats,
            "without_status_index": without_status_index, "duckdb_threads": duckdb_threads}


def table(r: dict) -> str:
    n = r["commands"]

    def line(label: str, m: Meter) -> str:
        return (f"| {label} | {m.wall:.1f} | {n / m.wall:,.0f} | {m.cpu / n * 1e6:,.0f} | "
                f"{m.sim_cpu / n * 1e6:,.0f} |")

    schema = "status index dropped (proposed migration)" if r["without_status_index"] else "schema as is"
    if r["duckdb_threads"]:
        schema += f", DuckDB threads={r['duckdb_threads']}"
    s, rs = r["stats"], r["ray_stats"]
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
        *([line("engine via Ray (adaptor actor → Store actor; CPU of both actors)", r["ray"]),
           f"| **ratio engine via Ray / bare** (target ≥ 0.6) | | **{r['ray_ratio']:.2f}** | | |"]
          if r["ray"] else []),
        f"| duplicate_executions (every netsim; must be 0) | | {r['duplicate_executions']} | | |",
        "",
        f"engine: {s.get('claims', 0)} claims, {s.get('flushes', 0)} flushes, {s.get('http_calls', 0):,} HTTP calls",
        *([f"engine via Ray: {rs.get('claims', 0)} claims, {rs.get('flushes', 0)} flushes, "
           f"{rs.get('http_calls', 0):,} HTTP calls; duplicates by path: {r['duplicates']}"] if r["ray"] else []),
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscriptions", type=int, default=20_000)
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=4, help="alternating slices per path")
    parser.add_argument("--via-ray", action="store_true",
                        help="also measure the engine through its Ray actors (Store + OCS adaptor)")
    parser.add_argument("--without-status-index", action="store_true",
                        help="drop network_requests_status first (the proposed schema change)")
    parser.add_argument("--duckdb-threads", type=int, default=None,
                        help="SET threads on the benchmark's database (default: DuckDB's, one per core)")
    args = parser.parse_args(argv)
    result = run(args.subscriptions, args.in_flight, max(1, args.rounds), args.without_status_index,
                 args.duckdb_threads, args.via_ray)
    print(table(result))
    return 0 if result["duplicate_executions"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
