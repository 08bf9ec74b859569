"""The age codec on its own: keys, round trips, random access, and every kind of damage.

Damage tests check two things each: the distinct error class (and that its message names the
chunk), and exactly which plaintext was released before it: only whole chunks that
authenticated, never a byte of the damaged one.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import io
import json
import multiprocessing
import os
import pickle
import random

import pytest
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

import engine.age as age
from engine.age import x25519
from engine.age.header import Stanza, encode_header
from engine.age.primitives import payload_key
from engine.age.stream import chunk_nonce
from engine.age.strict_base64 import encode_unpadded
from engine.errors import (
    AgeArmorError,
    AgeChunkAuthError,
    AgeError,
    AgeHeaderError,
    AgeHmacError,
    AgeNoIdentityMatch,
    AgePayloadError,
    AgeTrailingDataError,
    AgeTruncatedError,
    KeyFormatError,
)

CHUNK = age.CHUNK_SIZE
ENC = age.ENC_CHUNK_SIZE
TruncOrAltered = age.AgeTruncatedOrAlteredError

ID1 = age.Identity.generate()
ID2 = age.Identity.generate()
ID3 = age.Identity.generate()


def plaintext(n: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(n)


def seal(data: bytes, recipients=(ID1.recipient(),), armor: bool = False) -> bytes:
    out = io.BytesIO()
    assert age.encrypt(io.BytesIO(data), out, list(recipients), armor=armor) == len(data)
    return out.getvalue()


def open_all(blob: bytes, identities=(ID1,), read_size: int = 65536) -> tuple[bytes, AgeError | None]:
    """Everything open_decrypt releases before it stops, and the error that stopped it."""
    released = bytearray()
    try:
        reader = age.open_decrypt(io.BytesIO(blob), list(identities))
        while chunk := reader.read(read_size):
            released += chunk
    except AgeError as exc:
        return bytes(released), exc
    return bytes(released), None


def craft(chunks: list[tuple[bytes, bool]], trailing: bytes = b"", stanzas=()) -> bytes:
    """An age file with chosen chunks and final flags, for damage no honest writer makes."""
    file_key, nonce = os.urandom(16), os.urandom(16)
    header = encode_header([*stanzas, x25519.wrap(file_key, ID1.recipient())], file_key)
    aead = ChaCha20Poly1305(payload_key(file_key, nonce))
    body = b"".join(aead.encrypt(chunk_nonce(i, final), pt, None) for i, (pt, final) in enumerate(chunks))
    return header + nonce + body + trailing


def split(blob: bytes) -> tuple[bytes, list[bytes]]:
    """(header + nonce, encrypted chunks) of a binary age file."""
    offset = age.read_header(io.BytesIO(blob), [ID1]).payload_offset
    payload = blob[offset:]
    return blob[:offset], [payload[i : i + ENC] for i in range(0, len(payload), ENC)]


# -- keys ---------------------------------------------------------------------------------------


def test_identity_and_recipient_round_trip():
    text = str(ID1)
    assert text.startswith("AGE-SECRET-KEY-1") and text == text.upper() and len(text) == 74
    assert age.Identity.parse(text) == ID1
    assert age.Identity.parse(text.lower()) == ID1  # Bech32 is case-insensitive (not mixed)
    rtext = str(ID1.recipient())
    assert rtext.startswith("age1") and rtext == rtext.lower() and len(rtext) == 62
    assert age.Recipient.parse(rtext) == ID1.recipient()
    assert ID1 != ID2 and ID1.recipient() != ID2.recipient()


def test_vector_identity_is_canonical():
    text = "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0"
    assert str(age.Identity.parse(text)) == text


@pytest.mark.parametrize(
    ("parse", "text", "message"),
    [
        (age.Identity.parse, str(ID1)[:-1] + ("Q" if str(ID1)[-1] != "Q" else "P"), "checksum"),
        (age.Identity.parse, str(ID1)[:20] + str(ID1)[20:].lower(), "mixed"),
        (age.Identity.parse, str(ID1.recipient()), "not an X25519 age identity"),
        (age.Identity.parse, "AGE-SECRET-KEY-PQ-1HZLGZUPT4ETPKDEV8HSGFDCYZ4E522W0A7PU2LHT8EH9W6YLNC3S", "post-quantum"),
        (age.Identity.parse, "AGE-PLUGIN-YUBIKEY-1QQQQQQ", "plugin"),
        (age.Identity.parse, "", "malformed"),
        (age.Recipient.parse, str(ID1.recipient())[:-2] + "qq", "checksum"),
        (age.Recipient.parse, "age1pq1" + "q" * 60, "post-quantum"),
        (age.Recipient.parse, str(ID1), "not an age recipient"),
        (age.Recipient.parse, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5", "malformed"),
    ],
)
def test_bad_keys_are_refused_with_a_reason(parse, text, message):
    with pytest.raises(KeyFormatError) as info:
        parse(text)
    assert message in str(info.value)
    if parse is age.Identity.parse and len(text) > 20:
        assert text not in str(info.value)  # a mistyped secret is never echoed


def test_low_order_recipient_is_refused():
    with pytest.raises(KeyFormatError, match="low-order"):
        age.Recipient(bytes(32))


def test_parse_identities_reads_age_keygen_files():
    text = (
        "# created: 2026-11-25T06:00:00Z\n"
        f"# public key: {ID1.recipient()}\n"
        f"{ID1}\n"
        "\n"
        f"   {ID2}  \r\n"
    )
    assert age.parse_identities(text) == [ID1, ID2]
    with pytest.raises(KeyFormatError) as info:
        age.parse_identities(text + "AGE-SECRET-KEY-1NOTAKEY\n")
    assert info.value.line == 6
    with pytest.raises(KeyFormatError, match="no identity"):
        age.parse_identities("# only a comment\n\n")


def test_load_identities(tmp_path):
    path = tmp_path / "key.txt"
    path.write_text(f"# public key: {ID1.recipient()}\n{ID1}\n")
    assert age.load_identities(path) == [ID1]
    with pytest.raises(KeyFormatError) as info:
        age.load_identities(tmp_path / "missing.txt")
    assert info.value.file.endswith("missing.txt") and "check the path" in str(info.value)


def test_reprs_hide_secrets():
    secret = str(ID1)
    for text in (repr(ID1), repr([ID1]), f"{ID1!r}"):
        assert secret not in text and secret.lower() not in text
        assert ID1.secret_bytes.hex() not in text
        assert str(ID1.recipient()) in text
    header = age.read_header(io.BytesIO(seal(b"x")), [ID1])
    assert header.payload_key.hex() not in repr(header)
    assert "payload_offset" in repr(header)


def test_keys_and_header_pickle():
    assert pickle.loads(pickle.dumps(ID1)) == ID1
    assert pickle.loads(pickle.dumps(ID1.recipient())) == ID1.recipient()
    header = age.read_header(io.BytesIO(seal(b"x")), [ID1])
    back = pickle.loads(pickle.dumps(header))
    assert back == header and len(back.payload_key) == 32


# -- round trips --------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 65535, 65536, 65537, 3 * 65536, 3 * 1024 * 1024 + 7])
def test_round_trip(size):
    data = plaintext(size, seed=size)
    blob = seal(data)
    header = age.read_header(io.BytesIO(blob), [ID1])
    chunks = max(1, -(-size // CHUNK))
    assert len(blob) == header.payload_offset + size + 16 * chunks
    assert age.chunk_count(len(blob), header.payload_offset) == chunks
    assert age.plaintext_size(len(blob), header.payload_offset) == size
    out = io.BytesIO()
    assert age.decrypt(io.BytesIO(blob), out, [ID1]) == size
    assert out.getvalue() == data
    assert open_all(blob, read_size=4096) == (data, None)
    armored = seal(data, armor=True)
    assert age.is_armored(armored)
    assert open_all(armored) == (data, None)


def test_streaming_writer_and_reader_with_odd_sizes():
    data = plaintext(5 * CHUNK + 12345, seed=7)
    rng = random.Random(1)
    out = io.BytesIO()
    with age.open_encrypt(out, [ID1.recipient()]) as writer:
        pos = 0
        while pos < len(data):
            n = rng.choice([1, 17, 4096, CHUNK - 1, CHUNK, CHUNK + 1, 200_000])
            assert writer.write(data[pos : pos + n]) == len(data[pos : pos + n])
            pos += n
    assert writer.closed
    reader = age.open_decrypt(io.BytesIO(out.getvalue()), [ID1])
    got = bytearray()
    while True:
        buf = bytearray(rng.choice([1, 100, CHUNK, 3 * CHUNK]))
        n = reader.readinto(buf)
        if not n:
            break
        got += buf[:n]
    assert got == data


def test_reader_composes_with_text_io_for_jsonl():
    records = [{"orderRef": f"ORD-{i:06d}", "note": "é" * (i % 50)} for i in range(20000)]
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")
    blob = seal(text)
    with io.TextIOWrapper(io.BufferedReader(age.open_decrypt(io.BytesIO(blob), [ID1])), encoding="utf-8") as lines:
        assert [json.loads(line) for line in lines] == records


class Trickle(io.RawIOBase):
    """A source that returns at most a few bytes per read, like a slow pipe."""

    def __init__(self, data: bytes, step: int = 7) -> None:
        self._data, self._pos, self._step = data, 0, step

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self._step, len(self._data) - self._pos)
        buffer[:n] = self._data[self._pos : self._pos + n]
        self._pos += n
        return n


class ReadOnly:
    """A source with only read(), no readinto()."""

    def __init__(self, data: bytes) -> None:
        self._io = io.BytesIO(data)

    def read(self, n: int = -1) -> bytes:
        return self._io.read(min(n, 1000) if n >= 0 else n)


@pytest.mark.parametrize("armor", [False, True])
@pytest.mark.parametrize("wrap", [Trickle, ReadOnly])
def test_short_reads_from_the_source(wrap, armor):
    data = plaintext(CHUNK + 5000, seed=3)
    blob = seal(data, armor=armor)
    out = io.BytesIO()
    assert age.decrypt(wrap(blob), out, [ID1]) == len(data)
    assert out.getvalue() == data


def test_multiple_recipients_and_identities():
    data = plaintext(70000, seed=4)
    blob = seal(data, recipients=[ID1.recipient(), ID2.recipient(), str(ID3.recipient())])
    for ident in (ID1, ID2, ID3):
        assert open_all(blob, [ident]) == (data, None)
    stranger = age.Identity.generate()
    assert open_all(blob, [stranger, ID3]) == (data, None)
    released, error = open_all(blob, [stranger])
    assert released == b"" and type(error) is AgeNoIdentityMatch
    assert "check you have the right identity" in str(error)
    assert "3 X25519 recipient" in str(error)


def test_unknown_stanzas_are_skipped():
    grease = Stanza(("example.com/grease", "a", "b"), os.urandom(100))
    blob = craft([(b"hello", True)], stanzas=[grease])
    assert open_all(blob) == (b"hello", None)


def test_encrypt_needs_a_recipient():
    with pytest.raises(KeyFormatError, match="no recipient"):
        age.open_encrypt(io.BytesIO(), [])


# -- random access ------------------------------------------------------------------------------


def test_every_chunk_range_matches_the_plaintext(tmp_path):
    data = plaintext(5 * CHUNK + 100, seed=5)
    path = tmp_path / "f.age"
    path.write_bytes(seal(data))
    size = path.stat().st_size
    with open(path, "rb") as f:
        header = age.read_header(f, [ID1])
        count = age.chunk_count(size, header.payload_offset)
        assert count == 6
        for start in range(count + 1):
            for stop in range(start, count + 1):
                want = data[start * CHUNK : stop * CHUNK]
                assert age.decrypt_chunks(f, header, size, start, stop) == want
                out = bytearray(len(want) + 10)
                assert age.decrypt_chunks_into(f, header, size, start, stop, out, batch=2) == len(want)
                assert out[: len(want)] == want
                parts = age.iter_decrypt_chunks(f, header, size, start, stop, batch=4)
                assert b"".join(bytes(p) for p in parts) == want


@pytest.mark.parametrize(("size", "count"), [(0, 1), (1, 1), (4 * CHUNK, 4), (4 * CHUNK + 1, 5)])
def test_chunk_count_edges(size, count):
    data = plaintext(size)
    blob = seal(data)
    header = age.read_header(io.BytesIO(blob), [ID1])
    assert age.chunk_count(len(blob), header.payload_offset) == count
    assert age.decrypt_chunks(io.BytesIO(blob), header, len(blob), 0, count) == data
    assert age.decrypt_chunks(io.BytesIO(blob), header, len(blob), count - 1, count) == data[(count - 1) * CHUNK :]


def _worker_sha(path: str, header: age.AgeHeader, start: int, stop: int) -> str:
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        return hashlib.sha256(age.decrypt_chunks(f, header, size, start, stop)).hexdigest()


def test_ranges_decrypt_in_other_processes(tmp_path):
    data = plaintext(7 * CHUNK + 1, seed=6)
    path = tmp_path / "f.age"
    path.write_bytes(seal(data))
    with open(path, "rb") as f:
        header = age.read_header(f, [ID1])
    count = age.chunk_count(path.stat().st_size, header.payload_offset)
    ranges = [(0, 3), (3, 6), (6, count)]
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as pool:
        shas = list(pool.map(_worker_sha, [str(path)] * 3, [header] * 3, *zip(*ranges)))
    assert shas == [hashlib.sha256(data[a * CHUNK : b * CHUNK]).hexdigest() for a, b in ranges]


def test_chunk_count_rejects_impossible_sizes():
    with pytest.raises(AgeTruncatedError, match="empty"):
        age.chunk_count(100, 100)
    with pytest.raises(AgeTruncatedError):
        age.chunk_count(99, 100)
    with pytest.raises(AgeTruncatedError, match="before its authentication tag"):
        age.chunk_count(100 + ENC + 15, 100)
    with pytest.raises(AgePayloadError, match="impossible") as info:
        age.chunk_count(100 + ENC + 16, 100)
    assert not isinstance(info.value, AgeTruncatedError)
    assert age.chunk_count(100 + ENC + 17, 100) == 2
    assert age.chunk_count(100 + 16, 100) == 1  # the empty file


def test_random_access_argument_errors():
    blob = seal(plaintext(3 * CHUNK))
    src = io.BytesIO(blob)
    header = age.read_header(src, [ID1])
    with pytest.raises(ValueError):
        age.decrypt_chunks(src, header, len(blob), 2, 1)
    with pytest.raises(ValueError):
        age.decrypt_chunks(src, header, len(blob), 0, 4)
    with pytest.raises(ValueError, match="out holds"):
        age.decrypt_chunks_into(src, header, len(blob), 0, 2, bytearray(CHUNK))
    with pytest.raises(AgeTruncatedError, match="shorter than file_size"):
        age.decrypt_chunks(io.BytesIO(blob[:-10]), header, len(blob), 0, 3)


def test_read_header_refuses_armor_but_dearmor_helps():
    data = plaintext(2 * CHUNK + 3)
    armored = seal(data, armor=True)
    with pytest.raises(AgeArmorError, match="dearmor"):
        age.read_header(io.BytesIO(armored), [ID1])
    binary = io.BytesIO()
    assert age.dearmor(io.BytesIO(armored), binary) == len(binary.getvalue())
    blob = binary.getvalue()
    header = age.read_header(io.BytesIO(blob), [ID1])
    assert age.decrypt_chunks(io.BytesIO(blob), header, len(blob), 0, 3) == data


# -- damage -------------------------------------------------------------------------------------

DATA = plaintext(3 * CHUNK + 1000, seed=11)  # four chunks, the last one partial
BLOB = seal(DATA)
PREFIX, CHUNKS = split(BLOB)
OFF = len(PREFIX)


@pytest.mark.parametrize(
    ("cut", "error", "released_chunks"),
    [
        (0, AgeHeaderError, 0),
        (10, AgeHeaderError, 0),
        (OFF - 30, AgeHeaderError, 0),  # inside the MAC line
        (OFF - 16, AgeHeaderError, 0),  # no payload nonce
        (OFF - 5, AgeHeaderError, 0),  # inside the nonce
        (OFF, AgeTruncatedError, 0),  # no chunk at all
        (OFF + 10, AgeTruncatedError, 0),  # less than a tag
        (OFF + 40000, TruncOrAltered, 0),  # inside chunk 0
        (OFF + ENC, AgeTruncatedError, 1),  # at a chunk boundary: final chunk missing
        (OFF + 2 * ENC + 5, AgeTruncatedError, 2),
        (len(BLOB) - 1, TruncOrAltered, 3),  # one byte short of the end
    ],
)
def test_truncation(cut, error, released_chunks):
    released, exc = open_all(BLOB[:cut])
    assert type(exc) is error, repr(exc)
    assert isinstance(exc, (AgeHeaderError, AgeTruncatedError))
    assert released == DATA[: released_chunks * CHUNK]
    if isinstance(exc, AgePayloadError):
        assert "chunk" in str(exc) and "re-send" in str(exc)


def test_truncated_file_fails_random_access_too():
    header = age.read_header(io.BytesIO(BLOB), [ID1])
    for cut in (OFF + ENC, OFF + 2 * ENC + 5, len(BLOB) - 1):
        short = BLOB[:cut]
        with pytest.raises(AgeTruncatedError):
            count = age.chunk_count(len(short), header.payload_offset)
            age.decrypt_chunks(io.BytesIO(short), header, len(short), 0, count)


def test_reordered_chunks():
    blob = PREFIX + CHUNKS[0] + CHUNKS[2] + CHUNKS[1] + CHUNKS[3]
    released, exc = open_all(blob)
    assert type(exc) is AgeChunkAuthError and "chunk 1 " in str(exc)
    assert released == DATA[:CHUNK]
    header = age.read_header(io.BytesIO(blob), [ID1])
    src = io.BytesIO(blob)
    # Each range is checked on its own: the good ones still decrypt.
    assert age.decrypt_chunks(src, header, len(blob), 0, 1) == DATA[:CHUNK]
    assert age.decrypt_chunks(src, header, len(blob), 3, 4) == DATA[3 * CHUNK :]
    for index in (1, 2):
        with pytest.raises(AgeChunkAuthError, match=f"chunk {index} "):
            age.decrypt_chunks(src, header, len(blob), index, index + 1)


@pytest.mark.parametrize(
    ("index", "where", "error"),
    [
        (0, 5, AgeChunkAuthError),
        (1, ENC - 1, AgeChunkAuthError),  # in the tag
        (2, 30000, AgeChunkAuthError),
        (3, 500, TruncOrAltered),  # the last, partial chunk: cut or altered cannot be told apart
    ],
)
def test_flipped_bit_in_a_chunk(index, where, error):
    chunks = list(CHUNKS)
    damaged = bytearray(chunks[index])
    damaged[where] ^= 0x10
    chunks[index] = bytes(damaged)
    blob = PREFIX + b"".join(chunks)
    released, exc = open_all(blob)
    assert type(exc) is error
    assert f"chunk ({index}," in str(exc) or f"chunk {index} " in str(exc)
    assert isinstance(exc, AgeChunkAuthError)
    assert released == DATA[: index * CHUNK]
    out = bytearray(b"\xaa" * len(DATA))
    with pytest.raises(AgeChunkAuthError):
        age.decrypt_chunks_into(io.BytesIO(blob), age.read_header(io.BytesIO(blob), [ID1]), len(blob), 0, 4, out)
    assert out[: index * CHUNK] == DATA[: index * CHUNK]
    failed = out[index * CHUNK : (index + 1) * CHUNK]
    assert failed == bytes(len(failed))  # the failing chunk's unauthenticated output is wiped


def test_flipped_bit_in_the_payload_nonce():
    blob = bytearray(BLOB)
    blob[OFF - 3] ^= 1
    released, exc = open_all(bytes(blob))
    assert type(exc) is AgeChunkAuthError and "chunk 0 " in str(exc) and released == b""


def test_altered_header_fails_the_mac():
    grease = Stanza(("grease",), b"abc")
    blob = craft([(b"data", True)], stanzas=[grease])
    text = blob.replace(b"-> grease\n", b"-> greasy\n")
    released, exc = open_all(text)
    assert type(exc) is AgeHmacError and released == b""
    mac_at = blob.index(b"\n--- ") + 5
    other_mac = encode_unpadded(os.urandom(32))
    released, exc = open_all(blob[:mac_at] + other_mac + blob[mac_at + 43 :])
    assert type(exc) is AgeHmacError and "re-send" in str(exc)


@pytest.mark.parametrize(
    ("chunks", "trailing", "error", "released"),
    [
        ([(b"a" * CHUNK, False), (b"b" * CHUNK, False)], b"", AgeTruncatedError, 2),
        ([(b"a" * CHUNK, False), (b"abc", False)], b"", AgeTruncatedError, 1),
        ([(b"a" * CHUNK, True), (b"x", True)], b"", AgeTrailingDataError, 1),
        ([(b"a" * CHUNK, False), (b"b" * CHUNK, True), (b"c" * CHUNK, False), (b"end", True)], b"", AgeTrailingDataError, 2),
        ([(b"a" * CHUNK, False), (b"b" * CHUNK, True)], b"garbage", AgeTrailingDataError, 2),
        ([(b"a" * CHUNK, False), (b"b" * 10, True)], b"garbage", TruncOrAltered, 1),
        ([(b"a" * CHUNK, False), (b"", True)], b"", AgeChunkAuthError, 1),
        ([(b"abc", False), (b"b" * CHUNK, True)], b"", AgeChunkAuthError, 0),
    ],
    ids=[
        "missing-final-full",
        "missing-final-short",
        "second-final-chunk",
        "final-flag-in-the-middle",
        "trailing-data-after-full-final",
        "trailing-data-after-short-final",
        "empty-final-after-full",
        "short-non-final-first",
    ],
)
def test_malformed_streams(chunks, trailing, error, released):
    blob = craft(chunks, trailing)
    expected = b"".join(pt for pt, _ in chunks[:released])
    got, exc = open_all(blob)
    assert type(exc) is error, repr(exc)
    assert got == expected
    # The sharding path refuses the same files (its class may differ: it sees sizes first).
    header = age.read_header(io.BytesIO(blob), [ID1])
    with pytest.raises(AgePayloadError):
        count = age.chunk_count(len(blob), header.payload_offset)
        age.decrypt_chunks(io.BytesIO(blob), header, len(blob), 0, count)


def test_random_access_names_the_flag_problems():
    blob = craft([(b"a" * CHUNK, False), (b"b" * CHUNK, True), (b"c" * CHUNK, False), (b"end", True)])
    header = age.read_header(io.BytesIO(blob), [ID1])
    with pytest.raises(AgeTrailingDataError, match=r"final chunk \(1\)"):
        age.decrypt_chunks(io.BytesIO(blob), header, len(blob), 1, 2)
    blob = craft([(b"a" * CHUNK, False), (b"b" * CHUNK, False)])
    header = age.read_header(io.BytesIO(blob), [ID1])
    assert age.decrypt_chunks(io.BytesIO(blob), header, len(blob), 0, 1) == b"a" * CHUNK
    with pytest.raises(AgeTruncatedError, match="without a final chunk"):
        age.decrypt_chunks(io.BytesIO(blob), header, len(blob), 1, 2)


def test_wrong_key():
    released, exc = open_all(BLOB, [ID2])
    assert type(exc) is AgeNoIdentityMatch and released == b""
    with pytest.raises(AgeNoIdentityMatch):
        age.read_header(io.BytesIO(BLOB), [ID2])
    with pytest.raises(AgeNoIdentityMatch, match="no identity was given"):
        age.open_decrypt(io.BytesIO(BLOB), [])


def test_not_an_age_file_says_so():
    for blob, message in [
        (b"PK\x03\x04 zip data", "not an age file"),
        (BLOB.replace(b"\n", b"\r\n", 1), "CRLF"),
        (b"age-encryption.org/v2\n", "unsupported age format version"),
        (b"", "empty"),
    ]:
        released, exc = open_all(blob)
        assert type(exc) is AgeHeaderError and message in str(exc) and released == b""


def test_reader_keeps_raising_after_an_error():
    reader = age.open_decrypt(io.BytesIO(BLOB[:-1]), [ID1])
    assert len(reader.read(3 * CHUNK)) == 3 * CHUNK
    for _ in range(2):
        with pytest.raises(AgeTruncatedError):
            reader.read(10)


def test_writer_aborts_on_exception():
    out = io.BytesIO()
    with pytest.raises(RuntimeError):
        with age.open_encrypt(out, [ID1.recipient()]) as writer:
            writer.write(b"x" * (2 * CHUNK + 5))
            raise RuntimeError("producer failed")
    released, exc = open_all(out.getvalue())
    assert type(exc) is AgeTruncatedError and released == b"x" * (2 * CHUNK)
    with pytest.raises(ValueError):
        writer.write(b"more")


def test_errors_pickle_with_class_and_message():
    errors = [
        open_all(BLOB[: OFF + 40000])[1],
        open_all(BLOB[:OFF])[1],
        open_all(BLOB, [ID2])[1],
        open_all(craft([(b"a" * CHUNK, True), (b"x", True)]))[1],
        open_all(b"junk")[1],
        open_all(b"-----BEGIN AGE ENCRYPTED FILE-----\nAAAA\n")[1],
    ]
    assert len({type(e) for e in errors}) == len(errors)
    for err in errors:
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err) and str(back) == str(err) and back.hint == err.hint


# -- armor --------------------------------------------------------------------------------------


def test_armored_output_is_strict_pem():
    blob = seal(plaintext(1000), armor=True)
    lines = blob.decode("ascii").split("\n")
    assert lines[0] == "-----BEGIN AGE ENCRYPTED FILE-----"
    assert lines[-2:] == ["-----END AGE ENCRYPTED FILE-----", ""]
    body = lines[1:-2]
    assert all(len(line) == 64 for line in body[:-1]) and 0 < len(body[-1]) <= 64


def test_armor_detection_and_tolerated_variants():
    armored = seal(b"hello", armor=True)
    assert age.is_armored(armored) and age.is_armored(b"\n \t" + armored)
    assert not age.is_armored(seal(b"hello"))
    assert open_all(armored.replace(b"\n", b"\r\n")) == (b"hello", None)
    assert open_all(b"\n\n" + armored + b"  \n") == (b"hello", None)


def test_armor_round_trips_every_last_line_length():
    # File sizes 0..47 apart cover every length of the last armor line, padded or not,
    # including a 64-column line that still carries padding.
    seen = set()
    for size in range(48):
        data = plaintext(size, seed=size)
        armored = seal(data, armor=True)
        body = armored.split(b"\n")[1:-2]
        seen.add((len(body[-1]), body[-1].endswith(b"=")))
        assert open_all(armored) == (data, None)
        assert open_all(armored.replace(b"\n", b"\r\n")) == (data, None)
        binary = io.BytesIO()
        age.dearmor(io.BytesIO(armored), binary)
        assert open_all(binary.getvalue()) == (data, None)
    assert (64, True) in seen and (64, False) in seen


@pytest.mark.parametrize(
    "damage",
    [
        lambda a: a[: len(a) // 2],  # cut short
        lambda a: a + b"trailing text\n",
        lambda a: a.replace(b"-----\n", b"-----\nComment: hi\n\n", 1),
        lambda a: a.replace(b"\n", b"\n ", 2),
        lambda a: b"\n" * 2000 + a,  # too much leading whitespace
        lambda a: a[:100] + b"*" + a[101:],  # not base64, inside a full line
        lambda a: a[:98] + b"=" + a[99:],  # padding inside a full line
        lambda a: a.replace(b"-----\n", b"-----\n\n", 1),
    ],
    ids=["cut", "trailing-text", "pem-headers", "indented", "whitespace-flood", "bad-char", "inner-padding", "blank-line"],
)
def test_damaged_armor(damage):
    armored = seal(plaintext(500), armor=True)
    released, exc = open_all(damage(armored))
    assert type(exc) is AgeArmorError and released == b""
    assert "re-send" in str(exc)


# -- decrypt() from a regular file: the memory-mapped path ---------------------------------------


def _decrypt_path(path) -> tuple[bytes, AgeError | None]:
    out = io.BytesIO()
    try:
        with open(path, "rb") as src:
            age.decrypt(src, out, [ID1])
    except AgeError as exc:
        return out.getvalue(), exc
    return out.getvalue(), None


@pytest.mark.parametrize("damage", ["none", "flip-20", "flip-16", "cut-boundary-33", "cut-inside-40", "trailing"])
def test_mapped_decrypt_matches_the_stream_path(tmp_path, damage):
    """Across several 16-chunk batches, whole or damaged, a file on disk (mapped) releases the
    same plaintext and raises the same error as the streaming decryptor on the same bytes."""
    data = plaintext(45 * CHUNK + 123, seed=9)
    prefix, chunks = split(seal(data))
    if damage.startswith("flip"):
        index = int(damage.split("-")[1])
        bad = bytearray(chunks[index])
        bad[77] ^= 1
        chunks[index] = bytes(bad)
    blob = prefix + b"".join(chunks)
    if damage.startswith("cut-boundary"):
        blob = prefix + b"".join(chunks[: int(damage.split("-")[2])])
    elif damage.startswith("cut-inside"):
        blob = blob[: len(prefix) + 40 * ENC + 1000]
    elif damage == "trailing":
        blob += b"extra"
    path = tmp_path / "file.age"
    path.write_bytes(blob)
    mapped = _decrypt_path(path)
    streamed = open_all(blob)
    assert mapped[0] == streamed[0]
    assert type(mapped[1]) is type(streamed[1])
    if damage == "none":
        assert mapped == (data, None)
    else:
        assert mapped[1] is not None and str(mapped[1]) == str(streamed[1])
        assert len(mapped[0]) < len(data)
