"""The load pipeline without Ray: shards, exactly-once commit, and every kind of bad input.

Real age files (our codec), real DuckDB files, the Store in-process, shards run inline.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from engine import age, synth
from engine.errors import (
    AgeChunkAuthError,
    AgeError,
    AgeNoIdentityMatch,
    AgePayloadError,
    AgeTruncatedError,
    DuplicateFile,
    FormatError,
    TooManyErrors,
)
from engine.loading.daemon import LoadDaemon
from engine.loading.inbox import Inbox
from engine.loading.pipeline import InlineRunner, LoadSettings, load_file
from tests.stores import make_store

IDENT = age.Identity.generate()
OTHER = age.Identity.generate()


def encrypt_bytes(plain: bytes, recipient=None) -> bytes:
    out = io.BytesIO()
    age.encrypt(io.BytesIO(plain), out, [recipient or IDENT.recipient()])
    return out.getvalue()


def order_plaintext(count: int, *, seed: int = 1, bad_share: float = 0.0, identifier: str | None = None) -> bytes:
    buf = io.BytesIO()
    synth.write_orders(buf, count, seed=seed, bad_share=bad_share, identifier=identifier)
    return buf.getvalue()


def header_line(interface_type: str, count: int, identifier: str = "t-1") -> bytes:
    return json.dumps({"interfaceCategory": "Provisioning", "interfaceType": interface_type, "version": "1.0",
                       "identifier": identifier, "extractDateTime": "2026-11-25T06:00:00Z",
                       "recordCount": count}).encode() + b"\n"


@pytest.fixture
def store(tmp_path):
    s = make_store(tmp_path / "data" / "cmp.duckdb")
    yield s
    s.close()


def settings(tmp_path, shard_bytes=64 * 2**20, max_error_ratio=0.10, daemon="load_provisioning"):
    return LoadSettings(daemon=daemon, shard_bytes=shard_bytes, max_error_ratio=max_error_ratio,
                        max_line_bytes=16 * 2**20, work_dir=tmp_path / "work")


def load(path, store, tmp_path, **kw):
    return load_file(Path(path), settings=settings(tmp_path, **kw), identities=[IDENT], sink=store,
                     runner=InlineRunner(store))


def write(tmp_path, name, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def counts(store):
    with store.cursor() as cur:
        return {t: cur.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("batches", "files", "stage_orders", "batch_errors", "batch_triggers")}


NOTHING = {"batches": 0, "files": 0, "stage_orders": 0, "batch_errors": 0, "batch_triggers": 0}


def test_small_file_loads_as_one_batch(store, tmp_path):
    path = write(tmp_path, "a.jsonl.age", encrypt_bytes(order_plaintext(500, bad_share=0.05)))
    result = load(path, store, tmp_path)
    assert result.records == 500
    assert 0 < result.errors < 60 and result.valid == 500 - result.errors
    c = counts(store)
    assert c["stage_orders"] == result.valid and c["batch_errors"] == result.errors
    assert c["batches"] == c["files"] == 1 and c["batch_triggers"] == 1
    batch = store.show_batch(result.batch_id, errors=1000)
    assert batch["stage"] == "LOADED" and batch["batch_type"] == "Order"
    assert all(e["reasons"] and 2 <= e["line_no"] <= 501 for e in batch["errors"])


def test_sharded_load_equals_single_shard_load_line_for_line(tmp_path):
    plain = order_plaintext(3000, bad_share=0.05, seed=7)
    data = encrypt_bytes(plain)
    results = {}
    for shard_bytes in (64 * 2**20, 65536):
        s = make_store(tmp_path / f"db{shard_bytes}" / "cmp.duckdb")
        path = write(tmp_path, f"s{shard_bytes}.jsonl.age", data)
        results[shard_bytes] = load(path, s, tmp_path, shard_bytes=shard_bytes)
        with s.cursor() as cur:
            errs = cur.execute("SELECT line_no, reasons FROM batch_errors ORDER BY line_no").fetchall()
            refs = cur.execute("SELECT line_no, orderRef FROM stage_orders ORDER BY line_no").fetchall()
        results[shard_bytes] = (results[shard_bytes].records, errs, refs)
        s.close()
    assert len(plain) > 20 * 65536  # really many shards
    assert results[65536] == results[64 * 2**20]
    # Line numbers are file line numbers: the valid record on line N is the Nth line's orderRef.
    lines = plain.split(b"\n")
    for line_no, ref in results[65536][2][:: 97]:
        assert json.loads(lines[line_no - 1])["orderRef"] == ref


def test_the_same_file_twice_is_a_duplicate_naming_the_first(store, tmp_path):
    data = encrypt_bytes(order_plaintext(50, identifier="crm-1"))
    first = load(write(tmp_path, "a.jsonl.age", data), store, tmp_path)
    with pytest.raises(DuplicateFile, match=f"batch {first.batch_id}"):
        load(write(tmp_path, "copy.jsonl.age", data), store, tmp_path)
    # Re-encrypted (different ciphertext), same interfaceType + identifier: still a duplicate.
    with pytest.raises(DuplicateFile, match="same interfaceType and identifier"):
        load(write(tmp_path, "again.jsonl.age", encrypt_bytes(order_plaintext(50, identifier="crm-1"))), store, tmp_path)
    assert counts(store)["batches"] == 1


@pytest.mark.parametrize("damage, error", [
    ("flip", AgeChunkAuthError),
    ("truncate", AgeTruncatedError),
    ("swap", AgeChunkAuthError),
])
def test_damaged_files_load_nothing(store, tmp_path, damage, error):
    data = bytearray(encrypt_bytes(order_plaintext(2000)))
    size = len(data)
    if damage == "flip":
        data[size // 2] ^= 1
    elif damage == "truncate":
        del data[size - 70000:]
    else:  # swap the second and third chunks
        with open(write(tmp_path, "h.age", bytes(data)), "rb") as fh:
            first = age.read_header(fh, [IDENT]).payload_offset
        a, b, c = first + 65552, first + 2 * 65552, first + 3 * 65552
        data[a:b], data[b:c] = data[b:c], data[a:b]
    path = write(tmp_path, "bad.jsonl.age", bytes(data))
    with pytest.raises((error, AgePayloadError)):
        load(path, store, tmp_path, shard_bytes=65536)
    assert counts(store) == NOTHING


def test_wrong_key(store, tmp_path):
    path = write(tmp_path, "k.jsonl.age", encrypt_bytes(order_plaintext(10), OTHER.recipient()))
    with pytest.raises(AgeNoIdentityMatch):
        load(path, store, tmp_path)
    assert counts(store) == NOTHING


def test_header_that_lies_about_record_count(store, tmp_path):
    plain = order_plaintext(100)
    lines = plain.split(b"\n", 1)
    head = json.loads(lines[0])
    head["recordCount"] = 101
    path = write(tmp_path, "lie.jsonl.age", encrypt_bytes(json.dumps(head).encode() + b"\n" + lines[1]))
    with pytest.raises(FormatError, match="recordCount is 101 but the file has 100"):
        load(path, store, tmp_path, shard_bytes=65536)
    assert counts(store) == NOTHING


def test_unknown_interface_type_and_wrong_daemon(store, tmp_path):
    path = write(tmp_path, "u.jsonl.age", encrypt_bytes(header_line("Invoice", 0)))
    with pytest.raises(FormatError, match="interfaceType"):
        load(path, store, tmp_path)
    path = write(tmp_path, "w.jsonl.age", encrypt_bytes(header_line("Bill Cycle Change Response", 0)))
    with pytest.raises(FormatError, match="does not belong to this daemon"):
        load(path, store, tmp_path)
    assert counts(store) == NOTHING


def test_non_utf8_record_is_a_record_error_and_the_rest_loads(store, tmp_path):
    plain = order_plaintext(20).split(b"\n")
    plain[5] = plain[5].replace(b"Provisioning", b"Prov\xff\xfeing") if b"Provisioning" in plain[5] else plain[5][:30] + b"\xff\xfe" + plain[5][30:]
    path = write(tmp_path, "u8.jsonl.age", encrypt_bytes(b"\n".join(plain)))
    result = load(path, store, tmp_path, max_error_ratio=0.5)
    assert result.records == 20 and result.errors == 1
    err = store.show_batch(result.batch_id, errors=10)["errors"][0]
    assert err["line_no"] == 6 and "UTF-8" in " ".join(err["reasons"])


def test_a_50mb_single_line_is_one_invalid_record_across_shards(store, tmp_path):
    good = order_plaintext(10).split(b"\n")
    header = json.loads(good[0])
    header["recordCount"] = 11
    huge = b'{"orderRef":"' + b"x" * (50 * 2**20) + b'"}'
    plain = b"\n".join([json.dumps(header).encode(), *good[1:6], huge, *good[6:]])
    path = write(tmp_path, "huge.jsonl.age", encrypt_bytes(plain))
    result = load(path, store, tmp_path, shard_bytes=4 * 2**20, max_error_ratio=0.5)
    assert result.records == 11 and result.errors == 1
    err = store.show_batch(result.batch_id, errors=10)["errors"][0]
    assert err["line_no"] == 7
    assert err["reasons"] == [f"line too long: {len(huge):,} bytes (the limit is 16,777,216)"]
    assert len(err["raw"]) < 2**20  # the raw text kept for audit is bounded


def test_empty_and_unencrypted_files(store, tmp_path):
    with pytest.raises(AgeError, match="empty"):
        load(write(tmp_path, "e.jsonl.age", b""), store, tmp_path)
    with pytest.raises(FormatError, match="empty"):
        load(write(tmp_path, "e2.jsonl.age", encrypt_bytes(b"")), store, tmp_path)
    with pytest.raises(AgeError, match="not an age-encrypted file"):
        load(write(tmp_path, "p.jsonl.age", order_plaintext(3)), store, tmp_path)
    assert counts(store) == NOTHING


def test_armored_file_loads(store, tmp_path):
    out = io.BytesIO()
    age.encrypt(io.BytesIO(order_plaintext(300)), out, [IDENT.recipient()], armor=True)
    result = load(write(tmp_path, "arm.jsonl.age", out.getvalue()), store, tmp_path, shard_bytes=65536)
    assert result.records == 300 and result.valid == 300


def test_too_many_errors_rejects_the_whole_file(store, tmp_path):
    path = write(tmp_path, "bad.jsonl.age", encrypt_bytes(order_plaintext(200, bad_share=0.3)))
    with pytest.raises(TooManyErrors, match="whole file is rejected"):
        load(path, store, tmp_path)
    assert counts(store) == NOTHING


def test_a_copy_committed_while_a_load_ran_is_refused_as_a_duplicate(store, tmp_path):
    """A daemon killed mid-load is restarted and loads its file again while the coordinator
    finishes the first load. The second must be refused as the duplicate file it is (which the
    daemon then archives as its own leftover), not quarantined for "100% of records invalid"."""
    data = encrypt_bytes(order_plaintext(200, identifier="crm-race"))
    other = {}

    class CopyCommitsFirst:
        """The Store, except that the other load runs to its commit before this one's first shard."""

        def __getattr__(self, name):
            return getattr(store, name)

        def add_shard(self, batch_id, result):
            if not other:
                other["result"] = load(write(tmp_path, "first.jsonl.age", data), store, tmp_path)
            return store.add_shard(batch_id, result)

    sink = CopyCommitsFirst()
    with pytest.raises(DuplicateFile, match="the same file was loaded before as batch"):
        load_file(write(tmp_path, "again.jsonl.age", data), settings=settings(tmp_path), identities=[IDENT],
                  sink=sink, runner=InlineRunner(sink))
    assert other["result"].valid == 200
    assert counts(store)["batches"] == 1 and counts(store)["batch_errors"] == 0


def test_duplicate_order_refs_across_shards_and_files(store, tmp_path):
    plain = order_plaintext(2000, seed=3).split(b"\n")
    dup_of_line_2 = plain[1]
    plain.insert(len(plain) - 1, dup_of_line_2)  # a repeat of line 2 near the end
    header = json.loads(plain[0])
    header["recordCount"] += 1
    plain[0] = json.dumps(header).encode()
    result = load(write(tmp_path, "d.jsonl.age", encrypt_bytes(b"\n".join(plain))), store, tmp_path, shard_bytes=65536)
    assert result.errors == 1
    err = store.show_batch(result.batch_id, errors=5)["errors"][0]
    assert "repeats line 2" in err["reasons"][0] and err["line_no"] == len(plain) - 1
    # The same order in a later file: refused as already loaded.
    other = [header_line("Order", 1, "crm-other").rstrip(b"\n"), dup_of_line_2]
    result2 = load(write(tmp_path, "d2.jsonl.age", encrypt_bytes(b"\n".join(other) + b"\n")), store, tmp_path,
                   max_error_ratio=1.0)
    err = store.show_batch(result2.batch_id, errors=5)["errors"][0]
    assert f"already loaded in batch {result.batch_id}" in err["reasons"][0]


def test_a_load_that_dies_midway_leaves_nothing_and_is_redone(store, tmp_path):
    path = write(tmp_path, "c.jsonl.age", encrypt_bytes(order_plaintext(3000, seed=5)))

    class Dies(InlineRunner):
        def run(self, plan, specs, batch_id, on_done):
            for spec in specs[:3]:
                from engine.loading.shards import process_shard
                self.sink.add_shard(batch_id, process_shard(plan, spec))
            raise RuntimeError("worker lost")

    with pytest.raises(RuntimeError):
        load_file(path, settings=settings(tmp_path, shard_bytes=65536), identities=[IDENT], sink=store,
                  runner=Dies(store))
    assert counts(store) == NOTHING
    result = load(path, store, tmp_path, shard_bytes=65536)
    assert result.records == 3000 and counts(store)["stage_orders"] == 3000


# --- the daemon's folder handling -------------------------------------------------------------


def make_daemon(store, tmp_path):
    inbox = Inbox(tmp_path / "inbound", tmp_path / "archive", tmp_path / "quarantine")
    inbox.folder.mkdir(parents=True, exist_ok=True)
    return LoadDaemon(
        "Load/Provisioning/FromGenericFormat", inbox,
        load=lambda p: load(p, store, tmp_path),
        reject=lambda **kw: store.record_rejection(**kw),
        committed_file=store.committed_file,
    )


def test_daemon_loads_archives_and_quarantines(store, tmp_path):
    d = make_daemon(store, tmp_path)
    good = encrypt_bytes(order_plaintext(30, identifier="g-1"))
    (d.inbox.folder / "good.jsonl.age").write_bytes(good)
    (d.inbox.folder / "copy.jsonl.age").write_bytes(good)
    (d.inbox.folder / ".hidden.jsonl.age").write_bytes(b"ignored")
    (d.inbox.folder / "partial.jsonl.age.part").write_bytes(b"ignored")
    (d.inbox.folder / "tampered.jsonl.age").write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    (d.inbox.folder / "notes.txt").write_text("hello")
    os.symlink(d.inbox.folder / "good.jsonl.age", d.inbox.folder / "link.jsonl.age")
    (d.inbox.folder / "a..b.jsonl.age").write_bytes(good)
    first = {o.name: o.status for o in d.poll_once()}
    assert first == {"link.jsonl.age": "rejected", "a..b.jsonl.age": "rejected", "notes.txt": "rejected"}
    second = {o.name: o for o in d.poll_once()}  # now the sizes were stable across two polls
    statuses = {n: o.status for n, o in second.items()}
    assert statuses["tampered.jsonl.age"] == "rejected"
    assert sorted([statuses["good.jsonl.age"], statuses["copy.jsonl.age"]]) == ["loaded", "rejected"]
    names = sorted(p.name for p in d.inbox.folder.iterdir())
    assert names == [".hidden.jsonl.age", "partial.jsonl.age.part"]
    reasons = {p.name: p.read_text() for p in (tmp_path / "quarantine").glob("*.reason")}
    assert any("duplicate" in r and "batch" in r for r in reasons.values())
    assert any("symbolic link" in r for r in reasons.values())
    assert counts(store)["batches"] == 1
    with store.cursor() as cur:
        assert cur.execute("SELECT count(*) FROM file_rejections").fetchone()[0] == 5


def test_daemon_waits_for_a_file_still_being_written(store, tmp_path):
    d = make_daemon(store, tmp_path)
    data = encrypt_bytes(order_plaintext(100))
    path = d.inbox.folder / "slow.jsonl.age"
    path.write_bytes(data[:1000])
    assert d.poll_once() == []
    with open(path, "ab") as fh:
        fh.write(data[1000:5000])
    assert d.poll_once() == []  # grew since the last poll: still being written
    with open(path, "ab") as fh:
        fh.write(data[5000:])
    assert d.poll_once() == []
    [outcome] = d.poll_once()
    assert outcome.status == "loaded" and outcome.records == 100


def test_daemon_finishes_the_move_after_a_crash_between_commit_and_archive(store, tmp_path):
    d = make_daemon(store, tmp_path)
    data = encrypt_bytes(order_plaintext(10, identifier="crash-1"))
    staged = tmp_path / "elsewhere.jsonl.age"
    staged.write_bytes(data)
    result = load(staged, store, tmp_path)  # committed, but "the daemon died" before moving it
    (d.inbox.folder / "elsewhere.jsonl.age").write_bytes(data)
    d.poll_once()
    [outcome] = d.poll_once()
    assert outcome.status == "loaded" and outcome.batch_id == result.batch_id
    assert (tmp_path / "archive" / f"b{result.batch_id}-elsewhere.jsonl.age").exists()
    assert counts(store)["batches"] == 1
