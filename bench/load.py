"""Load benchmark: the engine's sharded load against `age -d | duckdb read_json`, same file, same run.

    python bench/load.py --size 1GB [--shard-bytes 64MiB] [--keep DIR]

Generates an encrypted order file of about --size, then prints records/s and MB/s (of
plaintext JSON) for
  (a) the baseline: `age -d FILE | python -c "duckdb … CREATE TABLE … AS FROM read_json('/dev/stdin')"`
      into an on-disk database (no validation at all);
  (b) the engine: a fresh local Ray, the Store, coordinator and Load daemon actors, timed from
      the file's arrival in the inbound folder to the batch's commit (validation included);
and the ratio b/a, with the peak memory (PSS summed over the whole process tree) of each.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine import age, synth  # noqa: E402
from engine.config import parse_size  # noqa: E402

BASELINE_SQL = (
    "import duckdb, sys; con = duckdb.connect(sys.argv[1]); con.execute('SET enable_progress_bar=false'); "
    "con.execute(\"SET preserve_insertion_order=false\"); "
    "con.execute(\"CREATE TABLE orders AS FROM read_json('/dev/stdin', format='newline_delimited', "
    "maximum_object_size=16777216)\"); "
    "print(con.execute('SELECT count(*) FROM orders').fetchone()[0])"
)


class PeakRss:
    """Samples the memory of a process and all its descendants (Linux /proc): the sum of their
    PSS, so that pages shared between processes (Ray's object store, libraries) count once."""

    def __init__(self, root_pid: int, interval: float = 0.1):
        self.root = root_pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)

    def _tree(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    with open(f"/proc/{entry.name}/stat") as fh:
                        ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                children.setdefault(ppid, []).append(int(entry.name))
        tree, todo = [], [self.root]
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo.extend(children.get(pid, []))
        return tree

    def _rss(self, pid: int) -> int:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as fh:
                for line in fh:
                    if line.startswith("Pss:"):
                        return int(line.split()[1]) * 1024
        except (OSError, IndexError, ValueError):
            pass
        return 0

    def _run(self, interval: float) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, sum(self._rss(p) for p in self._tree()))
            self._stop.wait(interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def make_file(work: Path, size: int, identity) -> tuple[Path, int, int]:
    """An encrypted order file of about ``size`` plaintext bytes: (path, records, plaintext bytes)."""
    probe = tempfile.SpooledTemporaryFile()
    synth.write_orders(probe, 2000, seed=42)
    per_record = probe.tell() / 2000
    count = max(1, int(size / per_record))
    path = work / "orders.jsonl.age"
    with open(path, "wb") as raw, age.open_encrypt(raw, [identity.recipient()]) as sink:
        synth.write_orders(sink, count, seed=42, identifier="bench-load")
        plain = sink.plaintext_size
    return path, count, plain


def run_baseline(path: Path, key_file: Path, work: Path) -> tuple[float, int, int]:
    db = work / "baseline.duckdb"
    db.unlink(missing_ok=True)
    start = time.perf_counter()
    with PeakRss(os.getpid()) as mem:
        dec = subprocess.Popen(["age", "-d", "-i", str(key_file), str(path)], stdout=subprocess.PIPE)
        sql = subprocess.Popen([sys.executable, "-c", BASELINE_SQL, str(db)], stdin=dec.stdout,
                               stdout=subprocess.PIPE, text=True)
        dec.stdout.close()
        out, _ = sql.communicate()
        dec.wait()
    elapsed = time.perf_counter() - start
    if dec.returncode or sql.returncode:
        raise SystemExit(f"baseline failed: age {dec.returncode}, duckdb {sql.returncode}")
    return elapsed, int(out.strip().splitlines()[-1]) - 1, mem.peak  # minus the header row


def run_engine(path: Path, home: Path, shard_bytes: str) -> tuple[float, int, int]:
    import ray

    from actors.clients import StoreClient
    from actors.engine import start_engine, stop_engine
    from engine.config import load_config

    config = load_config(home, env={"CMP_LOAD__SHARD_BYTES": shard_bytes,
                                    "CMP_DAEMONS__LOAD_PROVISIONING__POLL_SECONDS": "0.05"})
    ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False, namespace="cmp", log_to_driver=False)
    try:
        handles = start_engine(config)
        store: StoreClient = handles.store_client
        with PeakRss(os.getpid()) as mem:
            inbound = config.inbound_dir("load_provisioning")
            staged = inbound / ".orders.jsonl.age.part"
            shutil.copyfile(path, staged)
            start = time.perf_counter()
            staged.rename(inbound / "orders.jsonl.age")
            while not (batches := store.list_batches(1)):
                time.sleep(0.02)
            elapsed = time.perf_counter() - start
        records = batches[0]["records"]
        stop_engine(config)  # waits for the provisioning job the batch triggered
    finally:
        ray.shutdown()
    return elapsed, records, mem.peak


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="1GB", help="plaintext size of the order file (e.g. 256MB, 1GB)")
    ap.add_argument("--shard-bytes", default="64MiB")
    ap.add_argument("--keep", type=Path, help="work folder to keep (default: a temporary one)")
    args = ap.parse_args()
    if not shutil.which("age"):
        raise SystemExit("the `age` tool is needed for the baseline (apt-get install age)")
    work = args.keep or Path(tempfile.mkdtemp(prefix="cmp-bench-load-"))
    work.mkdir(parents=True, exist_ok=True)
    from engine.home import init_home

    home = init_home(work / "home").home
    identity = age.load_identities(home / "keys" / "identity.txt")[0]
    t0 = time.perf_counter()
    path, count, plain = make_file(work, parse_size(args.size), identity)
    print(f"generated {count:,} orders, {plain / 1e6:,.0f} MB plaintext, "
          f"{path.stat().st_size / 1e6:,.0f} MB encrypted in {time.perf_counter() - t0:.1f} s", flush=True)

    base_s, base_n, base_mem = run_baseline(path, home / "keys" / "identity.txt", work)
    eng_s, eng_n, eng_mem = run_engine(path, home, args.shard_bytes)
    if base_n != count or eng_n != count:
        raise SystemExit(f"record counts differ: generated {count}, baseline {base_n}, engine {eng_n}")
    mb = plain / 1e6
    print()
    print(f"| load of {mb:,.0f} MB / {count:,} orders, {os.cpu_count()} cores | seconds | records/s | MB/s | peak memory, PSS (GB) | ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    print(f"| (a) `age -d \\| duckdb read_json` (no validation) | {base_s:.1f} | {count / base_s:,.0f} | {mb / base_s:,.0f} | {base_mem / 1e9:.2f} | 1.00 |")
    print(f"| (b) engine: daemon → shards → Store (validated) | {eng_s:.1f} | {count / eng_s:,.0f} | {mb / eng_s:,.0f} | {eng_mem / 1e9:.2f} | {base_s / eng_s:.2f} |")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
