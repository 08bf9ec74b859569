"""Quick throughput check: how many commands/s netsim serves on one core.

    python -m netsim.loadcheck --subscribers 5000 --concurrency 64

Starts netsim as a subprocess, drives it with a bare aiohttp client (per subscriber: create
service, top up one bucket, set the spend cap, activate, in order; subscribers in parallel),
and reports two numbers:

- wall commands/s: end to end, with the client competing for the same cores;
- commands per netsim CPU-second: the capacity of netsim itself on one core (its own user +
  system CPU time from /proc), which is what "netsim must not be the bottleneck" is about.

It finishes by checking the self-checks (every command executed exactly once, no conflicts,
no out-of-order rejects), so a fast but wrong simulator does not pass.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid

import aiohttp

from netsim.app import SERVICE_PATH, TOPUP_PATH
from netsim.model import ACCOUNT_PATH
from netsim.testing import start_netsim


def cpu_seconds(pid: int) -> float:
    """user + system CPU of a process, from /proc/PID/stat (Linux)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def commands_for(i: int) -> list[tuple[str, str, dict]]:
    sid, acc = f"LC-{i}", f"ACC-{i}"
    return [
        ("POST", SERVICE_PATH, {"id": sid, "serviceCharacteristic": [
            {"name": "msisdn", "value": f"44770{i:010d}"}, {"name": "tariffCode", "value": "PAYM24-100GB"},
            {"name": "payMode", "value": "POSTPAID"}, {"name": "billCycleDay", "value": 15},
            {"name": "accountId", "value": acc}, {"name": "agreementId", "value": f"AGR-{i}"}]}),
        ("POST", TOPUP_PATH, {"product": {"id": sid}, "ocsId": "DATA-100GB", "allowanceType": "DATA",
                              "amount": {"amount": 100, "units": "GB"}, "recurring": True,
                              "commandRef": f"REQ-{i}-20"}),
        ("PATCH", f"{ACCOUNT_PATH}/{acc}", {"product": {"id": sid}, "ocsId": "CAP-VALUE-FULL", "kind": "VALUE",
                                            "scope": "FULL", "creditLimit": {"amount": 25.0, "unit": "GBP"},
                                            "commandRef": f"REQ-{i}-30"}),
        ("PATCH", f"{SERVICE_PATH}/{sid}", {"state": "active"}),
    ]


async def drive(url: str, token: str, subscribers: int, concurrency: int) -> int:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    todo = iter(range(subscribers))
    sent = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal sent
        for i in todo:
            for method, path, body in commands_for(i):
                h = {**headers, "Idempotency-Key": uuid.uuid4().hex}
                async with session.request(method, url + path, data=json.dumps(body), headers=h) as resp:
                    await resp.read()
                    if resp.status >= 300:
                        raise RuntimeError(f"{method} {path}: {resp.status}")
                sent += 1

    conn = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=conn) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return sent


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--subscribers", type=int, default=5000)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--faults", default="")
    args = p.parse_args(argv)
    with start_netsim(faults=args.faults) as sim:
        cpu0, t0 = cpu_seconds(sim.pid), time.perf_counter()
        sent = asyncio.run(drive(sim.url, sim.token, args.subscribers, args.concurrency))
        wall, cpu = time.perf_counter() - t0, cpu_seconds(sim.pid) - cpu0
        stats = sim.stats()
    ok = (stats["executions"] == sent and stats["duplicate_executions"] == 0
          and stats["conflicts"] == 0 and stats["out_of_order"] == 0
          and stats["active_subscribers"] == args.subscribers)
    print(json.dumps({
        "commands": sent,
        "wall_seconds": round(wall, 2),
        "wall_commands_per_s": round(sent / wall),
        "netsim_cpu_seconds": round(cpu, 2),
        "commands_per_netsim_cpu_second": round(sent / cpu) if cpu else None,
        "self_checks_ok": ok,
    }, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
