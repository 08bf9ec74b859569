"""Conformance: every C2SP/CCTV age test vector, one test each.

A vector is ``key: value`` lines, an empty line, then the age file (zlib-compressed when
``compressed: zlib``). ``payload`` is the SHA-256 of all plaintext an implementation may
release, also when a failure comes later; with no ``payload`` line nothing may be released.

We support X25519 only: scrypt (passphrase) and post-quantum hybrid vectors that expect
success are skipped, but those that expect a failure must still fail and release nothing.
"""

from __future__ import annotations

import hashlib
import io
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import engine.age as age
from engine.errors import (
    AgeArmorError,
    AgeError,
    AgeHeaderError,
    AgeHmacError,
    AgeNoIdentityMatch,
    AgePayloadError,
    KeyFormatError,
)

SHARED = Path(os.environ.get("CMP_SHARED_DIR") or Path(__file__).resolve().parents[1].parent / "shared")
VECTORS = SHARED / "testdata" / "age-vectors"

EXPECTED_ERROR = {
    "no match": (AgeNoIdentityMatch,),
    "HMAC failure": (AgeHmacError,),
    "header failure": (AgeHeaderError,),
    "payload failure": (AgePayloadError,),
    "armor failure": (AgeArmorError,),
}


@dataclass
class Vector:
    name: str
    expect: str
    body: bytes
    payload: str | None = None
    identities: list[str] = field(default_factory=list)
    passphrases: list[str] = field(default_factory=list)
    armored: bool = False

    @property
    def x25519_identities(self) -> list[age.Identity]:
        out = []
        for text in self.identities:
            try:
                out.append(age.Identity.parse(text))
            except KeyFormatError:
                assert text.startswith("AGE-SECRET-KEY-PQ-"), f"{self.name}: unparsable identity"
        return out

    @property
    def unsupported(self) -> str | None:
        if self.passphrases:
            return "scrypt (passphrase) recipients are not supported: X25519 only"
        if self.identities and not self.x25519_identities:
            return "post-quantum hybrid (mlkem768x25519) recipients are not supported: X25519 only"
        return None


def load_vector(path: Path) -> Vector:
    raw = path.read_bytes()
    head, _, body = raw.partition(b"\n\n")
    meta: dict[str, str] = {}
    identities: list[str] = []
    passphrases: list[str] = []
    for line in head.decode("utf-8").splitlines():
        key, _, value = line.partition(": ")
        if key == "identity":
            identities.append(value)
        elif key == "passphrase":
            passphrases.append(value)
        else:
            meta[key] = value
    if meta.get("compressed") == "zlib":
        body = zlib.decompress(body)
    elif "compressed" in meta:
        raise ValueError(f"{path.name}: unknown compression {meta['compressed']!r}")
    return Vector(
        name=path.name,
        expect=meta["expect"],
        body=body,
        payload=meta.get("payload"),
        identities=identities,
        passphrases=passphrases,
        armored=meta.get("armored") == "yes",
    )


def _vector_params() -> list:
    if not VECTORS.is_dir():
        reason = f"age vectors not found at {VECTORS} (set CMP_SHARED_DIR to the shared folder)"
        return [pytest.param(None, id="no-vectors", marks=pytest.mark.skip(reason=reason))]
    paths = sorted(p for p in VECTORS.iterdir() if p.is_file() and p.name != "SOURCE.md")
    return [pytest.param(p, id=p.name) for p in paths]


PARAMS = _vector_params()


def _stream_read(body: bytes, identities: list[age.Identity], size: int) -> tuple[bytes, AgeError | None]:
    """Plaintext released by open_decrypt().read(size), and the error that stopped it."""
    released = bytearray()
    try:
        reader = age.open_decrypt(io.BytesIO(body), identities)
        while chunk := reader.read(size):
            released += chunk
    except AgeError as exc:
        return bytes(released), exc
    return bytes(released), None


def _decrypt_to(body: bytes, identities: list[age.Identity]) -> tuple[bytes, AgeError | None]:
    out = io.BytesIO()
    try:
        age.decrypt(io.BytesIO(body), out, identities)
    except AgeError as exc:
        return out.getvalue(), exc
    return out.getvalue(), None


def _decrypt_file(body: bytes, identities: list[age.Identity], tmp_path: Path) -> tuple[bytes, AgeError | None]:
    """decrypt() from a regular file: the memory-mapped path, which must behave identically."""
    path = tmp_path / "vector.age"
    path.write_bytes(body)
    out = io.BytesIO()
    try:
        with path.open("rb") as src:
            age.decrypt(src, out, identities)
    except AgeError as exc:
        return out.getvalue(), exc
    return out.getvalue(), None


def test_vector_set_is_complete():
    # Missing vectors must fail the suite, not skip it: the conformance claim rests on them.
    if not VECTORS.is_dir():
        pytest.fail(f"age vectors not found at {VECTORS} (set CMP_SHARED_DIR to the shared folder)")
    vectors = [load_vector(p) for p in VECTORS.iterdir() if p.is_file() and p.name != "SOURCE.md"]
    assert len(vectors) >= 140
    assert {v.expect for v in vectors} == {"success", *EXPECTED_ERROR}
    assert sum(v.unsupported is None for v in vectors) >= 90


@pytest.mark.parametrize("path", PARAMS)
def test_vector(path: Path, tmp_path: Path):
    vec = load_vector(path)
    identities = vec.x25519_identities
    if vec.unsupported:
        if vec.expect == "success":
            pytest.skip(vec.unsupported)
        # Must never succeed, and cannot release anything: we cannot open these files at all.
        released, error = _stream_read(vec.body, identities, 65536)
        assert error is not None, f"{vec.name}: expected {vec.expect}, but it decrypted"
        assert released == b""
        return

    # Two APIs, several read sizes: the same plaintext and the same outcome every time.
    runs = [_stream_read(vec.body, identities, n) for n in (1 << 20, 65536, 4097)]
    runs.append(_decrypt_to(vec.body, identities))
    runs.append(_decrypt_file(vec.body, identities, tmp_path))
    for released, error in runs:
        if vec.expect == "success":
            assert error is None, f"{vec.name}: {error!r}"
        else:
            assert error is not None, f"{vec.name}: expected {vec.expect}, but it decrypted"
            expected = EXPECTED_ERROR[vec.expect]
            if vec.expect == "armor failure" and not age.is_armored(vec.body):
                # Text before the BEGIN line: the input is not recognisable as armor at all,
                # so it is rejected as "not an age file".
                expected = (AgeArmorError, AgeHeaderError)
            assert isinstance(error, expected), f"{vec.name}: {type(error).__name__}: {error}"
            assert str(error)  # every error carries a message
        if vec.payload is not None:
            assert hashlib.sha256(released).hexdigest() == vec.payload, vec.name
        else:
            assert released == b"", f"{vec.name}: released plaintext although none may be"


def _random_access_params() -> list:
    out = []
    for param in PARAMS:
        path = param.values[0]
        if path is None:
            continue
        vec = load_vector(path)
        if vec.armored or vec.unsupported or vec.expect not in ("success", "payload failure"):
            continue
        out.append(pytest.param(path, id=path.name))
    return out or [pytest.param(None, marks=pytest.mark.skip(reason="age vectors not found"))]


@pytest.mark.parametrize("path", _random_access_params())
def test_vector_random_access(path: Path):
    """The sharding path (read_header + decrypt_chunks) agrees with the streaming one."""
    vec = load_vector(path)
    src = io.BytesIO(vec.body)
    header = age.read_header(src, vec.x25519_identities)
    size = len(vec.body)
    if vec.expect == "success":
        count = age.chunk_count(size, header.payload_offset)
        plain = age.decrypt_chunks(src, header, size, 0, count)
        assert hashlib.sha256(plain).hexdigest() == vec.payload
        assert len(plain) == age.plaintext_size(size, header.payload_offset)
    else:
        with pytest.raises(AgePayloadError):
            count = age.chunk_count(size, header.payload_offset)
            age.decrypt_chunks(src, header, size, 0, count)
