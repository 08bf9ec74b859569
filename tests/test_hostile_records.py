"""Hostile records are record errors, found cheaply (issue 12): each attack on one line of a
file becomes an invalid record with a clear reason, and the rest of the block loads.

Attacks that crash a parser are run in a subprocess first, to show what they did before the
byte screens; the test process itself never hands them to a parser.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine.errors import FormatError
from engine.generic.depth import line_depth, max_depths
from engine.generic.header import parse_header
from engine.generic.parse import parse_records
from engine.generic.reader import read_generic
from engine.synth import iter_order_lines
from tests.test_generic_reader import good_order, jl, reasons_by_line

REPO = Path(__file__).resolve().parents[1]
DEEP = 30_000  # pyarrow.json segfaulted at this depth (and at 10,000 it did not)


def deep_object(depth: int) -> bytes:
    return b'{"orderRef":"D","zz":' + b'{"a":' * (depth - 1) + b"1" + b"}" * (depth - 1) + b"}"


def deep_array(depth: int) -> bytes:
    return b'{"orderRef":"D","zz":' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


def run_python(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, cwd=REPO,
                          timeout=120)  # fmt: skip


def block_with(*bad: bytes) -> bytes:
    """Good orders with the bad lines between them (lines 3, 5, 7, … of a block starting at 2)."""
    out = [jl(good_order("G0"))]
    for k, line in enumerate(bad):
        out += [line + b"\n", jl(good_order(f"G{k + 1}"))]
    return b"".join(out)


# -- nesting --------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [deep_object, deep_array], ids=["objects", "arrays"])
def test_a_record_nested_30000_deep_crashed_pyarrow_and_is_now_a_record_error(make, tmp_path):
    line = make(DEEP)
    (tmp_path / "line.jsonl").write_bytes(line + b"\n")
    (tmp_path / "deep.jsonl").write_bytes(jl(good_order("A")) + line + b"\n" + jl(good_order("B")))
    crash = run_python("""
        import sys, pyarrow as pa, pyarrow.json as pj
        from engine.generic.record_types import record_type
        opts = pj.ParseOptions(explicit_schema=record_type("Order").wire_schema, unexpected_field_behavior="infer")
        pj.read_json(pa.BufferReader(open(sys.argv[1], "rb").read()), parse_options=opts)
    """, str(tmp_path / "line.jsonl"))
    assert crash.returncode < 0, f"pyarrow.json no longer crashes here (exit {crash.returncode}): the screen is still needed for its limit"
    now = run_python("""
        import json, sys
        from engine.generic.parse import parse_records
        parsed = parse_records(open(sys.argv[1], "rb").read(), "Order", 2, file="deep")
        print(json.dumps({"valid": parsed.valid.column("line_no").to_pylist(), "invalid": parsed.invalid.to_pylist()}))
    """, str(tmp_path / "deep.jsonl"))
    assert now.returncode == 0, now.stderr.decode()[-2000:]
    result = json.loads(now.stdout)
    assert result["valid"] == [2, 4]
    [bad] = result["invalid"]
    assert bad["line_no"] == 3 and bad["reasons"] == [f"nested {DEEP:,} levels deep; the limit is 64 (objects and arrays count)"]


def test_depth_limit_is_exact_and_configurable():
    at_limit, over = deep_object(64), deep_object(65)
    parsed = parse_records(block_with(at_limit, over, deep_array(65)), "Order", 2, file="f")
    reasons = reasons_by_line(parsed)
    assert "zz: unknown field" in reasons[3] and not any("levels deep" in r for r in reasons[3])
    assert reasons[5] == ["nested 65 levels deep; the limit is 64 (objects and arrays count)"]
    assert reasons[7] == ["nested 65 levels deep; the limit is 64 (objects and arrays count)"]
    strict = reasons_by_line(parse_records(block_with(deep_object(10)), "Order", 2, file="f", max_depth=8))
    assert strict[3] == ["nested 10 levels deep; the limit is 8 (objects and arrays count)"]


def test_brackets_inside_strings_do_not_count():
    rec = good_order("S")
    rec["customer"].update(type="ORGANISATION", organisationName="{[" * 90 + '\\"}]', registrationNumber="SC1")
    rec["customer"].update(firstName=None, lastName=None, title=None, dateOfBirth=None)
    parsed = parse_records(jl(rec), "Order", 2, file="f")
    assert parsed.errors == 0, parsed.invalid.to_pylist()


def test_depth_scan_agrees_with_json_on_escapes():
    cases = {b'{"a":"\\\\"}': 1, b'{"a":"\\"{["}': 1, b'{"a":[{"b":"]]]"}]}': 3, b'[[["\\\\\\"]"]]]': 3}
    for line, depth in cases.items():
        json.loads(line)  # each is valid JSON
        assert line_depth(line) == depth, line
    assert line_depth(b'{"a":' * 100_000 + b"1" + b"}" * 100_000) == 100_000


def test_header_nested_100000_deep_is_a_format_error_naming_line_1(tmp_path):
    header = b'{"interfaceCategory":' * 100_000 + b"1" + b"}" * 100_000 + b"\n"
    with pytest.raises(FormatError) as info:
        parse_header(header, file="h.jsonl")
    assert info.value.line == 1 and "nested 100,000 levels deep" in str(info.value)
    with pytest.raises(FormatError):
        read_generic(io.BytesIO(header + jl(good_order("A"))), file="h.jsonl")
    (tmp_path / "h.jsonl").write_bytes(header)
    proc = subprocess.run([sys.executable, "-m", "cli", "validate", "--plain", str(tmp_path / "h.jsonl")],
                          capture_output=True, cwd=REPO, timeout=120)  # fmt: skip
    err = proc.stderr.decode()
    assert proc.returncode == 4 and "Traceback" not in err and "line 1" in err and "levels deep" in err


# -- duplicate keys -------------------------------------------------------------------------------


def _dup(text: bytes, key: bytes, value: bytes) -> bytes:
    """`text` with `"key":value` added right after the first occurrence of `"key":…,`."""
    at = text.index(b'"' + key + b'":')
    comma = text.index(b",", at)
    return text[: comma + 1] + b'"' + key + b'":' + value + b"," + text[comma + 1 :]


def test_a_repeated_key_at_any_level_is_a_record_error_naming_key_and_path():
    base = json.dumps(good_order("K"), separators=(",", ":")).encode()
    lines = [
        _dup(base, b"orderRef", b'"Y"'),
        _dup(base.replace(b'"K"', b'"K1"'), b"type", b'"ORGANISATION"'),  # customer.type
        _dup(base.replace(b'"K"', b'"K2"'), b"msisdn", b'"447700900999"'),
        _dup(base.replace(b'"K"', b'"K3"'), b"unit", b'"MB"'),
        base.replace(b'{"orderRef":"K",', b'{"orderRef":null,"orderRef":"K4",'),
    ]
    parsed = parse_records(block_with(*lines), "Order", 2, file="f")
    reasons = reasons_by_line(parsed)
    assert reasons[3] == ["orderRef: duplicate key: it appears 2 times in one object"]
    assert reasons[5] == ["customer.type: duplicate key: it appears 2 times in one object"]
    assert reasons[7] == ["subscriptions[0].msisdn: duplicate key: it appears 2 times in one object"]
    assert reasons[9] == ["subscriptions[0].allowances[0].unit: duplicate key: it appears 2 times in one object"]
    assert reasons[11][0] == "orderRef: duplicate key: it appears 2 times in one object"
    assert parsed.valid.column("line_no").to_pylist() == [2, 4, 6, 8, 10, 12]


def test_repeated_keys_are_found_in_a_block_full_of_bad_lines():
    lines = [ol.line for ol in iter_order_lines(3000, seed=21, bad_share=0.1)]
    dup_at = list(range(100, 3000, 97))
    for i in dup_at:
        lines[i] = _dup(lines[i].rstrip(b"\n"), b"payMode", b'"PREPAID"') + b"\n" if b'"payMode"' in lines[i] else lines[i]
    dup_at = [i for i in dup_at if lines[i].count(b'"payMode"') > lines[i].count(b'"msisdn"')]
    parsed = parse_records(b"".join(lines), "Order", 2, file="f", piece_bytes=64 << 10)
    reasons = reasons_by_line(parsed)
    for i in dup_at:
        assert any("payMode: duplicate key" in r for r in reasons[i + 2]), reasons.get(i + 2)


# -- one line, one error: bytes and tokens ---------------------------------------------------------


def test_byte_level_attacks_are_record_errors_with_clear_reasons():
    good = json.dumps(good_order("B"), separators=(",", ":")).encode()
    attacks = {
        "nul": good.replace(b'"Ada"', b'"A\x00da"'),
        "utf8": good.replace(b'"Ada"', b'"A\xc3\x28da"'),
        "bom": b"\xef\xbb\xbf" + good,
        "surrogate": good.replace(b'"Ada"', b'"\\ud800Ada"'),
        "surrogate_key": good.replace(b'"title"', b'"\\udc00title"'),
        "bad_escape_key": good.replace(b'"title"', b'"\\qtitle"'),
        "tab_in_string": good.replace(b'"Ada"', b'"A\tda"'),
        "array": b"[" + good + b"]",
        "string": b'"' + good.replace(b'"', b'\\"') + b'"',
        "number": b"12345",
        "huge_number": good.replace(b'"billCycleDay":15', b'"billCycleDay":1e400'),
        "huge_integer": good.replace(b'"billCycleDay":15', b'"billCycleDay":' + b"9" * 400),
        "huge_amount": good.replace(b'"amount":"UNLIMITED"', b'"amount":' + b"9" * 400),  # read as inf by pyarrow
        "nan": good.replace(b'"billCycleDay":15', b'"billCycleDay":NaN'),
        "infinity": good.replace(b'"billCycleDay":15', b'"billCycleDay":Infinity'),
        "trailing_comma": good[:-1] + b",}",
        "two_values": good + b" " + good,
    }
    lines = [line.replace(b'"B"', f'"B{k}"'.encode()) for k, line in enumerate(attacks.values())]
    parsed = parse_records(block_with(*lines), "Order", 2, file="f")
    reasons = reasons_by_line(parsed)
    got = {name: reasons[3 + 2 * k] for k, name in enumerate(attacks)}
    at = lines[0].index(b'"A\x00') + 3  # the byte after `"A`, counted from 1 (this line has "B0")
    assert got["nul"] == [f"NUL byte at byte {at}: JSON text cannot hold one"]
    assert got["utf8"] == [f"not valid UTF-8 at byte {lines[1].index(bytes([34, 65, 0xC3])) + 3}"]
    assert got["bom"] == ["starts with a byte order mark (BOM): only line 1 of a file may"]
    assert got["surrogate"] == ["customer.firstName: contains an unpaired UTF-16 surrogate escape"]
    assert got["surrogate_key"][0] == 'customer."\\udc00title": unknown field'
    assert got["bad_escape_key"][0].startswith("invalid JSON at column") and "escape" in got["bad_escape_key"][0]
    assert got["tab_in_string"][0].startswith("invalid JSON at column") and "control character" in got["tab_in_string"][0]
    assert got["array"] == ["must be a JSON object, got array"]
    assert got["string"] == ["must be a JSON object, got string"]
    assert got["number"] == ["must be a JSON object, got number"]
    assert got["huge_number"] == ["agreement.billCycleDay: number out of range, got 1e400"]
    assert got["huge_integer"] == [f"agreement.billCycleDay: number out of range, got {'9' * 40}"]
    assert got["huge_amount"] == [f"subscriptions[0].allowances[0].amount: number out of range, got {'9' * 40}"]
    assert got["nan"] == ["agreement.billCycleDay: must be a JSON number, got NaN"]
    assert got["infinity"] == ["invalid JSON: Infinity is not a JSON value"]
    assert got["trailing_comma"][0].startswith("invalid JSON at column")
    assert got["two_values"][0].startswith("invalid JSON") and "Extra data" in got["two_values"][0]
    assert parsed.valid.num_rows == len(attacks) + 1


def test_crlf_line_endings_are_json_whitespace():
    block = jl(good_order("A")).replace(b"\n", b"\r\n") * 1 + jl(good_order("B")).replace(b"\n", b"\r\n")
    parsed = parse_records(block, "Order", 2, file="f")
    assert parsed.errors == 0 and parsed.valid.column("orderRef").to_pylist() == ["A", "B"]


def test_a_valid_surrogate_pair_and_escapes_are_fine():
    rec = good_order("E")
    rec["customer"]["firstName"] = "Ad\u00e5 \U0001f600 \"q\" \\ /"
    parsed = parse_records(json.dumps(rec).encode() + b"\n", "Order", 2, file="f")  # ensure_ascii: \ud83d\ude00
    assert parsed.errors == 0 and parsed.valid.column("customer").to_pylist()[0]["firstName"] == rec["customer"]["firstName"]


def test_verdicts_do_not_depend_on_piece_size_with_hostile_lines():
    lines = [ol.line for ol in iter_order_lines(600, seed=3, bad_share=0.1)]
    good = json.dumps(good_order("H"), separators=(",", ":")).encode()
    hostile = [deep_array(70), good.replace(b'"Ada"', b'"\\ud800"'), _dup(good, b"currency", b'"EUR"'),
               good.replace(b'"billCycleDay":15', b'"billCycleDay":"15"'), b"[]", good.replace(b'"Ada"', b'"\x00"')]  # fmt: skip
    for k, line in enumerate(hostile * 5):
        lines.insert(37 * k + 5, line.replace(b'"H"', f'"H{k}"'.encode()) + b"\n")
    block = b"".join(lines)
    results = [parse_records(block, "Order", 2, file="f", piece_bytes=size) for size in (1 << 22, 1 << 15, 3000, 1)]
    for other in results[1:]:
        assert other.invalid.equals(results[0].invalid)
        assert other.valid.equals(results[0].valid)


def test_max_depths_matches_a_reference_scanner():
    import random

    def reference(line: bytes) -> int:
        inside = escape = False
        depth = best = 0
        for ch in line:
            if escape:
                escape = False
                if ch == 34:
                    continue
            elif ch == 92:
                escape = True
                continue
            if ch == 34:
                inside = not inside
            elif not inside and ch in b"{[":
                depth += 1
                best = max(best, depth)
            elif not inside and ch in b"}]":
                depth -= 1
        return best

    import numpy as np

    from engine.generic import depth as depth_module
    from engine.generic.lines import bounds

    rng = random.Random(5)
    lines = [bytes(rng.choice(b'{}[]"\\\\a:,') for _ in range(rng.randrange(60))) for _ in range(2000)]
    arr = np.frombuffer(b"\n".join(lines), np.uint8)
    starts, ends = bounds(arr)
    expected = [reference(line) for line in lines]
    assert np.maximum(max_depths(arr, starts, ends), 0).tolist() == expected
    segment = depth_module._SEGMENT
    try:
        for size in (1, 2, 5):  # long lines are scanned in segments: the state must carry over
            depth_module._SEGMENT = size
            assert np.maximum(max_depths(arr, starts, ends), 0).tolist() == expected
    finally:
        depth_module._SEGMENT = segment


# -- over-long lines: skipped while read, never held ------------------------------------------------


def test_line_cutter_matches_a_plain_split_whatever_the_chunking():
    import random

    from engine.generic.cutter import LineCutter

    rng = random.Random(7)
    limit = 50
    lines = [bytes([97 + i % 26]) * rng.choice((0, 3, 49, 50, 51, 120, 400)) for i in range(300)]
    text = b"\n".join(lines)  # the last line has no newline
    expected_long = {i: (len(line), line[:16]) for i, line in enumerate(lines) if len(line) > limit}
    expected = b"".join((b"" if i in expected_long else line) + b"\n" for i, line in enumerate(lines))[:-1]
    for trial in range(20):
        cutter = LineCutter(limit, head_bytes=16)
        blocks, longs, pos = [], {}, 0
        while pos < len(text):
            step = rng.choice((1, 7, 64, 333, 5000))
            cutter.feed(text[pos : pos + step])
            pos += step
            assert cutter.pending <= limit
            if rng.random() < 0.3:
                block, first, long = cutter.take()
                blocks.append(block)
                longs.update({first + i: v for i, v in long.items()})
        cutter.finish()
        block, first, long = cutter.take()
        blocks.append(block)
        longs.update({first + i: v for i, v in long.items()})
        assert b"".join(blocks) == expected + (b"\n" if len(lines) - 1 in expected_long else b"")
        assert longs == expected_long and cutter.lines == len(lines)


def _age_file(tmp_path: Path, plain: bytes, name: str = "f.jsonl.age"):
    from engine import age
    from engine.loading.shards import FilePlan

    ident = age.Identity.generate()
    path = tmp_path / name
    with open(path, "wb") as out:
        age.encrypt(io.BytesIO(plain), out, [ident.recipient()])
    size = path.stat().st_size
    with open(path, "rb") as src:
        header = age.read_header(src, [ident])
    return FilePlan(str(path), size, header, age.chunk_count(size, header.payload_offset), "Order", 1 << 20)


def test_shards_skip_an_over_long_line_that_spans_several_shards(tmp_path):
    from engine.loading.shards import plan_shards, process_shard

    lines = [ol.line for ol in iter_order_lines(40, seed=2)]
    huge = b'{"orderRef":"' + b"x" * (3 << 20) + b'"}\n'
    header = json.dumps({"interfaceCategory": "Provisioning", "interfaceType": "Order", "version": "1.0",
                         "identifier": "x", "extractDateTime": "2026-01-01T00:00:00Z", "recordCount": 41}).encode()  # fmt: skip
    plan = _age_file(tmp_path, header + b"\n" + b"".join(lines[:20]) + huge + b"".join(lines[20:]))
    results = [process_shard(plan, spec) for spec in plan_shards(plan.chunk_count, 256 << 10)]
    assert len(results) > 10 and sum(r.lines for r in results) == 42
    invalid = [row for r in results for row in r.invalid.to_pylist()]
    assert len(invalid) == 1 and invalid[0]["reasons"] == [f"line too long: {len(huge) - 1:,} bytes (the limit is 1,048,576)"]
    assert invalid[0]["raw"].startswith('{"orderRef":"xxx') and len(invalid[0]["raw"]) < 300
    assert sum(r.valid.num_rows for r in results) == 40


@pytest.mark.slow
def test_a_300_mib_line_is_skipped_with_memory_near_the_shard_size(tmp_path):
    """The shard worker's peak RSS stays far below the line's size (it was read whole: 761 MiB)."""
    from engine import age

    ident = age.Identity.generate()
    path = tmp_path / "long.jsonl.age"
    header = json.dumps({"interfaceCategory": "Provisioning", "interfaceType": "Order", "version": "1.0",
                         "identifier": "x", "extractDateTime": "2026-01-01T00:00:00Z", "recordCount": 3}).encode()  # fmt: skip
    good = jl(good_order("A"))

    class Plain(io.RawIOBase):  # the file's plaintext, generated as it is encrypted
        def __init__(self) -> None:
            self.parts = iter([header + b"\n" + good + b'{"orderRef":"', *([b"x" * (1 << 20)] * 300), b'"}\n' + good])
            self.rest = b""

        def readable(self) -> bool:
            return True

        def readinto(self, buf) -> int:
            while not self.rest:
                self.rest = next(self.parts, b"")
                if not self.rest:
                    return 0
            n = min(len(buf), len(self.rest))
            buf[:n], self.rest = self.rest[:n], self.rest[n:]
            return n

    with open(path, "wb") as out:
        age.encrypt(io.BufferedReader(Plain()), out, [ident.recipient()])
    (tmp_path / "key.txt").write_text(str(ident))
    proc = run_python("""
        import json, sys
        from pathlib import Path
        from engine import age
        from engine.loading.shards import FilePlan, plan_shards, process_shard
        def status_mib(field):  # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forked parent
            return int(next(l for l in open("/proc/self/status") if l.startswith(field)).split()[1]) / 1024
        path = Path(sys.argv[1])
        ident = age.Identity.parse(Path(sys.argv[2]).read_text().strip())
        size = path.stat().st_size
        with open(path, "rb") as src:
            header = age.read_header(src, [ident])
        plan = FilePlan(str(path), size, header, age.chunk_count(size, header.payload_offset), "Order")
        process_shard(plan, plan_shards(plan.chunk_count, 1 << 20)[0])  # warm up every import
        base = status_mib("VmRSS")
        results = [process_shard(plan, spec) for spec in plan_shards(plan.chunk_count, 64 << 20)]
        peak = status_mib("VmHWM")
        print(json.dumps({"base": base, "peak": peak, "lines": sum(r.lines for r in results),
                          "invalid": [row for r in results for row in r.invalid.to_pylist()]}))
    """, str(path), str(tmp_path / "key.txt"))
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    out = json.loads(proc.stdout)
    assert out["lines"] == 4 and [r["line_no"] for r in out["invalid"]] == [3]
    assert out["invalid"][0]["reasons"] == [f"line too long: {300 * (1 << 20) + 15:,} bytes (the limit is 16,777,216)"]
    assert out["peak"] - out["base"] < 200, out


def test_validate_reports_hostile_lines_as_the_loader_would():
    from engine.generic.header import FileHeader
    from engine.validate import validate_stream

    header = FileHeader(interface_type="Order", identifier="v", created_at=__import__("datetime").datetime(
        2026, 1, 1, tzinfo=__import__("datetime").timezone.utc), record_count=4)  # fmt: skip
    body = jl(good_order("A")) + deep_object(20) + b"\n" + b'{"orderRef":"' + b"x" * 5000 + b'"}\n' + jl(good_order("B"))
    report = validate_stream(io.BytesIO(header.to_json_line() + body), file="v.jsonl", max_line_bytes=4096, max_depth=16)
    assert (report.records, report.valid, report.invalid_total) == (4, 2, 2)
    assert [(r.line_no, r.reasons) for r in report.invalid] == [
        (3, ("nested 20 levels deep; the limit is 16 (objects and arrays count)",)),
        (4, ("line too long: 5,015 bytes (the limit is 4,096)",)),
    ]
