"""Decrypting a regular file through a read-only memory map, without copying the ciphertext.

The streaming path reads ciphertext into a buffer before decrypting it; for a file in the page
cache that copy costs ~15% on top of ChaCha20-Poly1305 itself (bench/codec.py). A map lets the
AEAD read the page cache directly. Only the happy path runs here: when the payload's size is
impossible or a chunk fails, the streaming decryptor replays the file from the failing batch,
so errors and released plaintext are exactly those of the streaming path.

Used by ``decrypt`` (the CLI and whole-file reads). The loader's shard workers keep ``pread``:
a file truncated while it is mapped kills the reading process with SIGBUS, which a long-running
daemon must not risk on files that partners write; a one-shot command may, as ripgrep does.
"""

from __future__ import annotations

import mmap
import os
import stat
from collections.abc import Callable
from typing import BinaryIO

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from engine.age.primitives import CHUNK_SIZE, ENC_CHUNK_SIZE
from engine.age.source import Source
from engine.age.stream import DEFAULT_BATCH, PayloadDecryptor, chunk_count, decrypt_range_into
from engine.errors import AgePayloadError


def close_map(mapped: mmap.mmap, view: memoryview) -> None:
    """Release ``view`` and unmap, unless an error raised on a damaged file still refers to a
    slice of the map (its traceback holds one in a reference cycle): then the map is unmapped
    when that error is collected."""
    view.release()
    try:
        mapped.close()
    except BufferError:
        pass


def map_file(src: BinaryIO) -> mmap.mmap | None:
    """A read-only map of ``src`` when it is a non-empty regular file, else None."""
    try:
        fd = src.fileno()
        info = os.fstat(fd)
    except (AttributeError, OSError, ValueError):
        return None
    if not stat.S_ISREG(info.st_mode) or info.st_size == 0:
        return None
    try:
        mapped = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):
        return None
    mapped.madvise(mmap.MADV_SEQUENTIAL)
    return mapped


class _ViewReader:
    """``readinto`` over a memoryview: feeds the streaming decryptor without copying the file."""

    def __init__(self, view: memoryview) -> None:
        self._view = view
        self._pos = 0

    def read(self, n: int = -1) -> bytes:
        end = len(self._view) if n is None or n < 0 else self._pos + n
        data = bytes(self._view[self._pos : end])
        self._pos += len(data)
        return data

    def readinto(self, buffer: memoryview) -> int:
        n = min(len(buffer), len(self._view) - self._pos)
        buffer[:n] = self._view[self._pos : self._pos + n]
        self._pos += n
        return n


def decrypt_mapped(view: memoryview, payload_offset: int, payload_key: bytes,
                   write: Callable[[memoryview], None]) -> int:
    """Decrypt the payload at ``view[payload_offset:]``, calling ``write`` per authenticated batch."""
    try:
        count = chunk_count(len(view), payload_offset)
    except AgePayloadError:
        count = None
    if count is None:
        return _replay(view, payload_offset, payload_key, 0, write)
    aead = ChaCha20Poly1305(payload_key)
    out = memoryview(bytearray(DEFAULT_BATCH * CHUNK_SIZE))
    total = 0
    index = 0
    while index < count:
        start = payload_offset + index * ENC_CHUNK_SIZE
        end = min(start + DEFAULT_BATCH * ENC_CHUNK_SIZE, len(view))
        try:
            produced = decrypt_range_into(aead, view[start:end], index, count, out)
        except AgePayloadError:
            produced = None
        if produced is None:
            return total + _replay(view, start, payload_key, index, write)
        write(out[:produced])
        total += produced
        index += DEFAULT_BATCH
    return total


def _replay(view: memoryview, start: int, payload_key: bytes, first_index: int,
            write: Callable[[memoryview], None]) -> int:
    """The streaming decryptor from chunk ``first_index`` at ``start``: it releases what it
    authenticates and raises the error the streaming path would."""
    decryptor = PayloadDecryptor(Source(_ViewReader(view[start:])), payload_key, first_index=first_index)
    total = 0
    while block := decryptor.next_block():
        write(block)
        total += len(block)
    return total  # not reached on a damaged file: next_block raised
