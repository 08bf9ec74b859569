"""Throughput of parse_records on one block of synthetic orders, against a plain pyarrow read.

    .venv/bin/python bench/parse.py [--mb 64] [--repeat 5] [--shares 0,0.01,0.1]

For each share of bad records it builds one block (engine.synth), then times, interleaved and
on one core (CPU time of this process, best of --repeat: the build machine is shared):

* parse_records: read + every check + the split into valid/invalid tables, typed;
* baseline: one `pyarrow.json.read_json` call (one thread, 4 MiB blocks, the same explicit
  wire schema, no validation) over the same block with its bad lines removed and UNLIMITED
  rewritten beforehand (untimed), since a plain read cannot get through either.

Prints a Markdown table; ratio = parse_records MB/s / baseline MB/s.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyarrow as pa  # noqa: E402
import pyarrow.json as pj  # noqa: E402

from engine.generic.parse import parse_records  # noqa: E402
from engine.generic.lines import rewrite_unlimited  # noqa: E402
from engine.generic.record_types import record_type  # noqa: E402
from engine.synth import iter_order_lines  # noqa: E402


def build_block(target_bytes: int, share: float, seed: int = 7) -> tuple[bytes, bytes, int]:
    """(the block, its good lines rewritten for the baseline, number of records)."""
    lines, good, size = [], [], 0
    count = max(1, target_bytes // 1150)
    for ol in iter_order_lines(count, seed=seed, bad_share=share):
        lines.append(ol.line)
        if ol.bad_kind is None:
            good.append(ol.line)
        size += len(ol.line)
    return b"".join(lines), rewrite_unlimited(b"".join(good)), len(lines)


def baseline(data: bytes) -> pa.Table:
    schema = record_type("Order").wire_schema
    return pj.read_json(
        pa.BufferReader(data),
        read_options=pj.ReadOptions(use_threads=False, block_size=4 << 20),
        parse_options=pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error"),
    )


def best(fn, repeat: int) -> float:
    """Best CPU time of `repeat` runs."""
    times = []
    for _ in range(repeat):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=64.0, help="block size in MB (default 64)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--shares", default="0,0.01,0.1", help="shares of bad records, comma-separated")
    args = ap.parse_args()

    rows = []
    for share in (float(s) for s in args.shares.split(",")):
        block, clean, count = build_block(int(args.mb * 1e6), share)
        result = parse_records(block, "Order", 2, file="bench")  # warm up, and check the split
        assert result.records == count, (result.records, count)
        t_parse = t_base = float("inf")
        for _ in range(args.repeat):  # interleave, so both see the same machine
            t_parse = min(t_parse, best(lambda: parse_records(block, "Order", 2, file="bench"), 1))
            t_base = min(t_base, best(lambda: baseline(clean), 1))
        mbps = len(block) / t_parse / 1e6
        base_mbps = len(clean) / t_base / 1e6
        rows.append((share, len(block) / 1e6, count, result.errors, mbps, count / t_parse, base_mbps, mbps / base_mbps))

    print(f"parse_records on one core, {args.mb:g} MB blocks of synthetic orders (best of {args.repeat}, CPU time)\n")
    print("| bad records | block MB | records | invalid | parse_records MB/s | records/s | baseline read_json MB/s | ratio |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for share, mb, count, errors, mbps, rps, base_mbps, ratio in rows:
        print(f"| {share:.0%} | {mb:.1f} | {count:,} | {errors:,} | {mbps:.0f} | {rps:,.0f} | {base_mbps:.0f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
