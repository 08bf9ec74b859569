"""Streaming decryption: ``decrypt`` (stream to stream) and ``open_decrypt`` (a file-like reader).

Binary and ASCII-armored inputs are both accepted; armor is recognised from the first bytes.
Memory use is constant (about 2 MiB of buffers per open file) whatever the file size.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import BinaryIO

from engine.age.armor import MAX_WHITESPACE, ArmorReader, is_armored
from engine.age.file_key import open_payload
from engine.age.keys import Identity
from engine.age.mapped import close_map, decrypt_mapped, map_file
from engine.age.source import Source
from engine.age.stream import PayloadDecryptor

_SNIFF = MAX_WHITESPACE + 8  # enough to see past allowed leading whitespace to "-----"


def open_source(src: BinaryIO) -> Source:
    """Wrap ``src``, inserting the armor decoder if the input is armored."""
    source = Source(src)
    if is_armored(source.peek(_SNIFF)):
        return Source(ArmorReader(source))
    return source


def write_all(write, data: memoryview) -> None:
    """Write everything, also to raw files whose ``write`` may accept only part."""
    while data:
        n = write(data)
        if n is None or n >= len(data):
            return
        data = data[n:]


class AgeReader(io.RawIOBase):
    """Plaintext of an age file, read on demand.

    Each chunk's plaintext is returned only after it authenticated. Damage raises an AgeError
    subclass when reached; a missing final chunk raises AgeTruncatedError at the end instead of
    a clean end of file. Wrap in ``io.BufferedReader``/``io.TextIOWrapper`` to read lines.
    Closing does not close the underlying source.
    """

    def __init__(self, decryptor: PayloadDecryptor) -> None:
        super().__init__()
        self._dec = decryptor
        self._block = memoryview(b"")
        self._pos = 0
        self._done = False
        self.released = 0  # plaintext bytes returned so far

    def readable(self) -> bool:
        return True

    def _refill(self) -> bool:
        if self._done:
            return False
        self._block = self._dec.next_block()
        self._pos = 0
        if not self._block:
            self._done = True
            return False
        return True

    def readinto(self, buffer) -> int:
        if self._pos >= len(self._block) and not self._refill():
            return 0
        view = memoryview(buffer).cast("B")
        n = min(len(view), len(self._block) - self._pos)
        view[:n] = self._block[self._pos : self._pos + n]
        self._pos += n
        self.released += n
        return n

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return self.readall()
        if self._pos >= len(self._block) and (size == 0 or not self._refill()):
            return b""
        n = min(size, len(self._block) - self._pos)
        data = bytes(self._block[self._pos : self._pos + n])
        self._pos += n
        self.released += n
        return data

    def readall(self) -> bytes:
        parts = []
        while True:
            if self._pos >= len(self._block) and not self._refill():
                break
            parts.append(bytes(self._block[self._pos :]))
            self.released += len(self._block) - self._pos
            self._pos = len(self._block)
        return b"".join(parts)


def open_decrypt(src: BinaryIO, identities: Sequence[Identity]) -> AgeReader:
    """Check the header (raising AgeHeaderError, AgeNoIdentityMatch, AgeHmacError, AgeArmorError)
    and return a reader of the plaintext."""
    source = open_source(src)
    key, _ = open_payload(source, identities)
    return AgeReader(PayloadDecryptor(source, key))


def decrypt(src: BinaryIO, dst: BinaryIO, identities: Sequence[Identity]) -> int:
    """Decrypt ``src`` into ``dst``; return the plaintext size.

    On an error, ``dst`` holds the authenticated plaintext of the chunks before the damage:
    callers must discard it (write to a temporary name and rename only on success).
    """
    start = src.tell() if getattr(src, "seekable", lambda: False)() else 0
    source = open_source(src)
    key, _ = open_payload(source, identities)
    write = dst.write
    if source.raw is src and (mapped := map_file(src)) is not None:  # binary, regular file
        view = memoryview(mapped)
        try:
            return decrypt_mapped(view, start + source.consumed, key, lambda block: write_all(write, block))
        finally:
            close_map(mapped, view)
    decryptor = PayloadDecryptor(source, key)
    total = 0
    while block := decryptor.next_block():
        write_all(write, block)
        total += len(block)
    return total
