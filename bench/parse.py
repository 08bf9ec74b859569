"""Throughput of the parse kernel (parse_records) on blocks of orders, against plain readers.

    .venv/bin/python bench/parse.py [--mb 64] [--repeat 5] [--shares 0,0.01,0.1]

For each share of bad records it builds one block of synthetic orders whose bad lines mix the
24 kinds of engine.synth (schema violations, broken JSON, wrong types, …) with the hostile kinds
of issue 12 (deep nesting, repeated keys, NUL, invalid UTF-8, lone surrogates, BOM, a line that
is an array or a number, huge numbers, NaN/Infinity, bad escapes, …), one bad line in three
hostile; a tenth of the good lines end in CRLF. Then it times, interleaved, on one core (CPU
time of this process, best of --repeat: the build machine is shared):

* parse_records: screens, read, every check, the split into valid/invalid tables, typed;
* pyarrow: one `pyarrow.json.read_json` call (one thread, 4 MiB blocks, the same explicit wire
  schema, no validation) over the block's good lines with UNLIMITED rewritten beforehand
  (untimed), since a plain read cannot get through bad lines;
* duckdb: `read_json(file, format='newline_delimited', columns=…)` of the good lines into an
  Arrow table, one thread, from a file in the page cache (DuckDB reads files, not buffers).

Prints the load average and a Markdown table per mix (--mix: the hostile mix above, engine.synth's
kinds alone as this bench used before, or both); ratio = parse_records MB/s / baseline MB/s.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.json as pj  # noqa: E402

from engine.generic.lines import rewrite_unlimited  # noqa: E402
from engine.generic.parse import parse_records  # noqa: E402
from engine.generic.record_types import record_type  # noqa: E402
from engine.synth import iter_order_lines  # noqa: E402


def _dup(line: bytes, key: bytes) -> bytes:
    at = line.index(b'"' + key + b'":')
    comma = line.index(b",", at)
    return line[: comma + 1] + line[at:comma] + b"," + line[comma + 1 :]


#: hostile kinds (issue 12), each made from a good line (without its newline)
HOSTILE = {
    "deep_object": lambda g: g[:-1] + b',"x":' + b'{"a":' * 80 + b"1" + b"}" * 80 + b"}",
    "deep_array": lambda g: g[:-1] + b',"x":' + b"[" * 80 + b"]" * 80 + b"}",
    "duplicate_key": lambda g: _dup(g, b"orderRef"),
    "duplicate_nested_key": lambda g: _dup(g, b"msisdn"),
    "nul_byte": lambda g: g.replace(b'"orderRef":"', b'"orderRef":"\x00', 1),
    "invalid_utf8": lambda g: g.replace(b'"orderRef":"', b'"orderRef":"\xc3\x28', 1),
    "lone_surrogate": lambda g: g.replace(b'"orderRef":"', b'"orderRef":"\\ud800', 1),
    "bom": lambda g: b"\xef\xbb\xbf" + g,
    "array_line": lambda g: b"[" + g + b"]",
    "number_line": lambda g: b"4477009001234",
    "huge_number": lambda g: g.replace(b'"billCycleDay":', b'"billCycleDay":1e400,"x":', 1),
    "nan": lambda g: g.replace(b'"currency":"', b'"currency":NaN,"x":"', 1),
    "infinity": lambda g: g.replace(b'"currency":"', b'"currency":Infinity,"x":"', 1),
    "bad_escape_key": lambda g: g.replace(b'"orderRef":', b'"order\\qRef":', 1),
    "msisdn_as_number": lambda g: g.replace(b'"msisdn":"', b'"msisdn":', 1).replace(b'","tariffCode"', b',"tariffCode"', 1),
}


def build_block(target_bytes: int, share: float, seed: int = 7, hostile: bool = True) -> tuple[bytes, bytes, int]:
    """(the block, its good lines rewritten for the baselines, number of records). Without
    `hostile`, the bad lines are engine.synth's alone (the data this bench used before)."""
    lines, good, size, n_bad = [], [], 0, 0
    kinds = list(HOSTILE.values())
    for i, ol in enumerate(iter_order_lines(max(1, target_bytes // 1240), seed=seed, bad_share=share)):
        line = ol.line
        if ol.bad_kind is None:
            good.append(line)
            if hostile and i % 10 == 3:
                line = line[:-1] + b"\r\n"
        else:
            n_bad += 1
            if hostile and n_bad % 3 == 0:  # one bad line in three is hostile, made from the last good one
                line = kinds[(n_bad // 3) % len(kinds)](good[-1].rstrip(b"\n").replace(b'"ORD-', b'"ORD-X', 1)) + b"\n"
        lines.append(line)
        size += len(line)
    return b"".join(lines), rewrite_unlimited(b"".join(good)), len(lines)


def pyarrow_read(data: bytes) -> pa.Table:
    return pj.read_json(
        pa.BufferReader(data),
        read_options=pj.ReadOptions(use_threads=False, block_size=4 << 20),
        parse_options=pj.ParseOptions(explicit_schema=record_type("Order").wire_schema, unexpected_field_behavior="error"),
    )


def _duck_type(typ: pa.DataType) -> str:
    if pa.types.is_struct(typ):
        return "STRUCT(" + ", ".join(f"{f.name} {_duck_type(f.type)}" for f in typ) + ")"
    if pa.types.is_list(typ):
        return _duck_type(typ.value_type) + "[]"
    return {"string": "VARCHAR", "double": "DOUBLE", "bool": "BOOLEAN"}[str(typ)]


def duckdb_read(con: duckdb.DuckDBPyConnection, path: str) -> pa.Table:
    columns = ", ".join(f"'{f.name}': '{_duck_type(f.type)}'" for f in record_type("Order").wire_schema)
    sql = f"SELECT * FROM read_json(?, format='newline_delimited', columns={{{columns}}})"
    return con.sql(sql, params=[path]).to_arrow_table()


def cpu(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def measure(con: duckdb.DuckDBPyConnection, tmp: str, mb: float, shares: list[float], repeat: int,
            hostile: bool) -> list[tuple]:  # fmt: skip
    rows = []
    for share in shares:
        block, clean, count = build_block(int(mb * 1e6), share, hostile=hostile)
        good_path = str(Path(tmp) / "good.jsonl")
        Path(good_path).write_bytes(clean)
        result = parse_records(block, "Order", 2, file="bench")  # warm up, and check the split
        assert result.records == count, (result.records, count)
        assert duckdb_read(con, good_path).num_rows == pyarrow_read(clean).num_rows
        t_parse = t_arrow = t_duck = float("inf")
        for _ in range(repeat):  # interleaved, so all three see the same machine
            t_parse = min(t_parse, cpu(lambda: parse_records(block, "Order", 2, file="bench")))
            t_arrow = min(t_arrow, cpu(lambda: pyarrow_read(clean)))
            t_duck = min(t_duck, cpu(lambda: duckdb_read(con, good_path)))
        rows.append((share, len(block) / 1e6, count, result.errors, len(block) / t_parse / 1e6, count / t_parse,
                     len(clean) / t_arrow / 1e6, len(clean) / t_duck / 1e6))  # fmt: skip
    return rows


def print_table(title: str, rows: list[tuple]) -> None:
    print(f"\n{title}\n")
    print("| bad records | block MB | records | invalid | parse_records MB/s | records/s "
          "| pyarrow read_json MB/s | ratio | duckdb read_json MB/s | ratio |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for share, mb, count, errors, mbps, rps, arrow, duck in rows:
        print(f"| {share:.0%} | {mb:.1f} | {count:,} | {errors:,} | {mbps:.0f} | {rps:,.0f} "
              f"| {arrow:.0f} | {mbps / arrow:.2f} | {duck:.0f} | {mbps / duck:.2f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=64.0, help="block size in MB (default 64)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--shares", default="0,0.01,0.1", help="shares of bad records, comma-separated")
    ap.add_argument("--mix", choices=("hostile", "synth", "both"), default="both",
                    help="bad lines: synth kinds and hostile ones (default), synth kinds only, or both tables")
    args = ap.parse_args()
    shares = [float(s) for s in args.shares.split(",")]
    con = duckdb.connect()
    con.execute("SET threads = 1")
    load_before = os.getloadavg()
    tables = []
    with tempfile.TemporaryDirectory(dir="/dev/shm" if os.path.isdir("/dev/shm") else None) as tmp:
        for hostile in [h for h, name in ((True, "hostile"), (False, "synth")) if args.mix in (name, "both")]:
            title = ("bad lines: engine.synth's 24 kinds and 15 hostile kinds (1 in 3), CRLF on 1 good line in 10"
                     if hostile else "bad lines: engine.synth's 24 kinds only")
            tables.append((title, measure(con, tmp, args.mb, shares, args.repeat, hostile)))
    load_after = os.getloadavg()
    print(f"parse_records on one core, {args.mb:g} MB blocks of synthetic orders (best of {args.repeat}, CPU time)")
    print(f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after ({os.cpu_count()} CPUs)")
    for title, rows in tables:
        print_table(title, rows)


if __name__ == "__main__":
    main()
