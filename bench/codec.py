"""Benchmark the age codec against the reference ``age -d``; prints a markdown table.

    .venv/bin/python bench/codec.py               # 1 GiB
    .venv/bin/python bench/codec.py --size 256MB  # quick run

Makes a plaintext file and encrypts it with our codec in a temporary directory (under /tmp by
default), then decrypts it, best of N runs each, with: ``age -d`` to /dev/null; ours in one
process (streaming ``decrypt`` to /dev/null); ours in P processes, each opening the file and
decrypting its own contiguous chunk range with ``decrypt_chunks`` (as the parallel loader
does). Throughput is plaintext bytes per wall-clock second; the file is in the page cache.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cryptography  # noqa: E402

import engine.age as age  # noqa: E402

_UNITS = {
    "": 1, "b": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9,
    "kib": 2**10, "mib": 2**20, "gib": 2**30,
    "k": 2**10, "m": 2**20, "g": 2**30,
}
_SLICE_CHUNKS = 16  # a worker decrypts its range 1 MiB at a time, so memory stays bounded


def parse_size(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    if not match or match.group(2).lower() not in _UNITS:
        raise argparse.ArgumentTypeError(f"bad size {text!r} (examples: 1GiB, 256MB, 64MiB)")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def human(size: int) -> str:
    for unit, factor in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= factor:
            return f"{size / factor:.4g} {unit}"
    return f"{size} B"


def make_plaintext(path: Path, size: int) -> None:
    """Random hex text: random-ish like real records (no repeated block), generated quickly."""
    block = 1 << 20
    with open(path, "wb") as f:
        written = 0
        while written < size:
            n = min(block, size - written)
            noise = os.urandom((n + 1) // 2).hex().encode()
            f.write(noise[:n])
            written += n


def best_of(runs: int, fn) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def run_age(age_bin: str, key: Path, encrypted: Path) -> None:
    subprocess.run([age_bin, "-d", "-i", str(key), "-o", os.devnull, str(encrypted)], check=True)


def run_ours(identities, encrypted: Path) -> None:
    with open(encrypted, "rb", buffering=0) as src, open(os.devnull, "wb") as dst:
        age.decrypt(src, dst, identities)


def _decrypt_range(path: str, header: age.AgeHeader, size: int, start: int, stop: int) -> int:
    """One worker's share: its own file handle, its own chunk range."""
    total = 0
    with open(path, "rb", buffering=0) as f:
        for first in range(start, stop, _SLICE_CHUNKS):
            total += len(age.decrypt_chunks(f, header, size, first, min(stop, first + _SLICE_CHUNKS)))
    return total


def run_parallel(pool, procs: int, identities, encrypted: Path, expected: int) -> None:
    size = encrypted.stat().st_size
    with open(encrypted, "rb") as f:
        header = age.read_header(f, identities)
    count = age.chunk_count(size, header.payload_offset)
    bounds = [count * i // procs for i in range(procs + 1)]
    jobs = [(str(encrypted), header, size, bounds[i], bounds[i + 1]) for i in range(procs)]
    assert sum(pool.starmap(_decrypt_range, jobs)) == expected


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=parse_size, default=2**30, help="plaintext size (default 1GiB)")
    parser.add_argument("--runs", type=int, default=3, help="best of this many runs (default 3)")
    parser.add_argument("--procs", type=int, default=os.cpu_count() or 1, help="worker processes")
    parser.add_argument("--tmp", default="/tmp", help="where to put the temporary files")
    args = parser.parse_args()

    age_bin = shutil.which("age")
    identity = age.Identity.generate()
    with tempfile.TemporaryDirectory(prefix="cmp-age-bench-", dir=args.tmp) as tmp:
        tmpdir = Path(tmp)
        plain, encrypted, key = tmpdir / "plain.jsonl", tmpdir / "plain.jsonl.age", tmpdir / "key.txt"
        key.write_text(f"# public key: {identity.recipient()}\n{identity}\n")
        print(f"making {human(args.size)} of plaintext in {tmpdir} …", file=sys.stderr)
        make_plaintext(plain, args.size)
        with open(plain, "rb") as src, open(encrypted, "wb") as dst:
            start = time.perf_counter()
            age.encrypt(src, dst, [identity.recipient()])
            enc_seconds = time.perf_counter() - start
        plain.unlink()  # keep only the encrypted file in the page cache

        rows: list[tuple[str, float]] = []
        if age_bin:
            version = subprocess.run([age_bin, "--version"], capture_output=True, text=True).stdout.strip()
            rows.append((f"`age -d` (Go, {version}), 1 process", best_of(args.runs, lambda: run_age(age_bin, key, encrypted))))
        else:
            print("age not found: no reference row (apt-get install age)", file=sys.stderr)
        rows.append(("ours, 1 process (`decrypt`, streaming)", best_of(args.runs, lambda: run_ours([identity], encrypted))))
        with multiprocessing.get_context("fork").Pool(args.procs) as pool:
            size = encrypted.stat().st_size
            with open(encrypted, "rb") as f:
                header = age.read_header(f, [identity])
            pool.starmap(_decrypt_range, [(str(encrypted), header, size, 0, 1)] * args.procs)  # warm up
            rows.append((
                f"ours, {args.procs} processes (`decrypt_chunks`, one range each)",
                best_of(args.runs, lambda: run_parallel(pool, args.procs, [identity], encrypted, args.size)),
            ))

    reference = rows[0][1] if age_bin else None
    print(f"\nage decryption of {human(args.size)}, best of {args.runs}; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, cryptography {cryptography.__version__}\n")
    print("| decrypt | MB/s | vs `age -d` |")
    print("|---|---:|---:|")
    for label, seconds in rows:
        ratio = f"{reference / seconds:.2f}×" if reference else "n/a"
        print(f"| {label} | {args.size / seconds / 1e6:,.0f} | {ratio} |")
    print(f"\n(encryption, ours, 1 process: {args.size / enc_seconds / 1e6:,.0f} MB/s, single run)")


if __name__ == "__main__":
    main()
