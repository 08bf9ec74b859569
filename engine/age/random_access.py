"""Random access to the payload, for loaders that shard one file over many processes.

One process reads the header (``read_header``) and ships the resulting ``AgeHeader`` (payload
key and payload offset; picklable) to workers; each worker opens the file itself and decrypts
a range of chunks with ``decrypt_chunks``. The file size fixes the chunk count, hence which
chunk must carry the final flag, so every range is checked as strictly as a full read:
a chunk moved, altered, or wrongly (not) final fails, naming its index.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from engine.age.armor import MAX_WHITESPACE, is_armored
from engine.age.file_key import open_payload
from engine.age.keys import Identity
from engine.age.primitives import CHUNK_SIZE, ENC_CHUNK_SIZE, TAG_SIZE
from engine.age.source import Source
from engine.age.stream import DEFAULT_BATCH, chunk_count, chunk_nonce, decrypt_range_into
from engine.errors import AgeArmorError, AgeTruncatedError


@dataclass(frozen=True)
class AgeHeader:
    """What a worker needs to decrypt any chunk: keep it as secret as an identity."""

    payload_key: bytes = field(repr=False)  # 32 bytes
    payload_offset: int  # absolute file offset of chunk 0 (after header and 16-byte nonce)


def read_header(src: BinaryIO, identities: Sequence[Identity]) -> AgeHeader:
    """Open the header of a binary age file read from its start; ``src``'s position is then undefined."""
    start = src.tell() if getattr(src, "seekable", lambda: False)() else 0
    source = Source(src)
    if is_armored(source.peek(MAX_WHITESPACE + 8)):
        raise AgeArmorError(
            "random access needs the binary age file, and this one is ASCII-armored",
            hint="convert it first with engine.age.dearmor()",
        )
    key, _ = open_payload(source, identities)
    return AgeHeader(payload_key=key, payload_offset=start + source.consumed)


@lru_cache(maxsize=8)
def _aead(key: bytes) -> ChaCha20Poly1305:
    return ChaCha20Poly1305(key)


_scratch = threading.local()


def _cipher_buffer(size: int) -> memoryview:
    """A per-thread ciphertext buffer reused across calls (fresh big buffers cost page faults).

    Safe to share between interleaved calls: each use is read-then-decrypt, with no yield between.
    """
    buf = getattr(_scratch, "buf", None)
    if buf is None or len(buf) < size:
        buf = _scratch.buf = bytearray(size)
    return memoryview(buf)[:size]


def plaintext_size(file_size: int, payload_offset: int) -> int:
    """Plaintext bytes in a payload of that size (raises like ``chunk_count``)."""
    count = chunk_count(file_size, payload_offset)
    return file_size - payload_offset - count * TAG_SIZE


def _range(header: AgeHeader, file_size: int, start: int, stop: int) -> tuple[int, int, int]:
    """(chunk count, ciphertext offset, ciphertext length) of chunks [start, stop)."""
    count = chunk_count(file_size, header.payload_offset)
    if not 0 <= start <= stop <= count:
        raise ValueError(f"chunk range [{start}, {stop}) is outside the file's {count} chunks")
    offset = header.payload_offset + start * ENC_CHUNK_SIZE
    end = min(header.payload_offset + stop * ENC_CHUNK_SIZE, file_size)
    return count, offset, max(0, end - offset)


def _read_at(src: BinaryIO, offset: int, view: memoryview) -> None:
    src.seek(offset)
    got = 0
    while got < len(view):
        n = src.readinto(view[got:])
        if not n:
            raise AgeTruncatedError(
                f"the age file ends at byte {offset + got}, before the {offset + len(view)} "
                "bytes its size promised: it is shorter than file_size (cut short, or still being written)",
                hint="ask the sender to re-send the file",
            )
        got += n


def iter_decrypt_chunks(
    src: BinaryIO,
    header: AgeHeader,
    file_size: int,
    start: int,
    stop: int,
    *,
    batch: int = DEFAULT_BATCH,
) -> Iterator[memoryview]:
    """Plaintext of chunks [start, stop), ``batch`` chunks per view (each valid until the next)."""
    count, offset, length = _range(header, file_size, start, stop)
    aead = _aead(header.payload_key)
    plain = memoryview(bytearray(min(length, batch * CHUNK_SIZE)))
    index = start
    while index < stop:
        n = min(batch, stop - index)
        size = min(n * ENC_CHUNK_SIZE, length - (index - start) * ENC_CHUNK_SIZE)
        cipher = _cipher_buffer(batch * ENC_CHUNK_SIZE)
        _read_at(src, offset + (index - start) * ENC_CHUNK_SIZE, cipher[:size])
        produced = decrypt_range_into(aead, cipher[:size], index, count, plain)
        yield plain[:produced]
        index += n


def decrypt_chunks_into(
    src: BinaryIO,
    header: AgeHeader,
    file_size: int,
    start: int,
    stop: int,
    out: bytearray | memoryview,
    *,
    batch: int = DEFAULT_BATCH,
) -> int:
    """Decrypt chunks [start, stop) into ``out`` (large enough); return the plaintext size.

    Reads ``batch`` chunks at a time, so memory beyond ``out`` stays constant. On an error the
    failing chunk's region of ``out`` is zeroed; earlier regions hold authenticated plaintext.
    """
    count, offset, length = _range(header, file_size, start, stop)
    aead = _aead(header.payload_key)
    dest = memoryview(out).cast("B")
    need = length - (stop - start) * TAG_SIZE
    if len(dest) < need:
        raise ValueError(f"out holds {len(dest)} bytes; chunks [{start}, {stop}) need {need}")
    cipher = _cipher_buffer(batch * ENC_CHUNK_SIZE)
    pos_out = 0
    index = start
    while index < stop:
        n = min(batch, stop - index)
        size = min(n * ENC_CHUNK_SIZE, length - (index - start) * ENC_CHUNK_SIZE)
        _read_at(src, offset + (index - start) * ENC_CHUNK_SIZE, cipher[:size])
        pos_out += decrypt_range_into(aead, cipher[:size], index, count, dest[pos_out:])
        index += n
    return pos_out


def decrypt_chunks(src: BinaryIO, header: AgeHeader, file_size: int, start: int, stop: int) -> bytes:
    """Plaintext of chunks [start, stop), decrypted independently of the rest of the file.

    Chunk ``chunk_count(...) - 1`` must be final and no other may be; failures raise
    AgeChunkAuthError (naming the chunk), AgeTrailingDataError or AgeTruncatedError.
    """
    count, offset, length = _range(header, file_size, start, stop)
    if stop - start == 1:  # one chunk: the AEAD's own result is the answer, no extra buffer
        cipher = _cipher_buffer(length)
        _read_at(src, offset, cipher)
        try:
            return _aead(header.payload_key).decrypt(chunk_nonce(start, start == count - 1), cipher, None)
        except InvalidTag:
            pass  # the general path below says why
    # Decrypt straight into the buffer of the bytes object that is returned: BytesIO.getvalue()
    # hands over its buffer without a copy, so the result costs one allocation.
    result = io.BytesIO()
    size = length - (stop - start) * TAG_SIZE
    if size:
        result.seek(size - 1)
        result.write(b"\0")
    with result.getbuffer() as view:
        decrypt_chunks_into(src, header, file_size, start, stop, view)
    return result.getvalue()
