"""Streaming encryption: ``encrypt`` (stream to stream) and ``open_encrypt`` (a file-like writer)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import partial
from typing import BinaryIO

from engine.age import x25519
from engine.age.armor import ArmorWriter
from engine.age.header import encode_header
from engine.age.keys import Recipient
from engine.age.primitives import FILE_KEY_SIZE, PAYLOAD_NONCE_SIZE, payload_key
from engine.age.reader import write_all
from engine.age.stream import PayloadEncryptor
from engine.errors import KeyFormatError

_READ_BLOCK = 1 << 20


def _as_recipients(recipients: Sequence[Recipient | str]) -> list[Recipient]:
    if isinstance(recipients, (str, Recipient)):
        recipients = [recipients]
    out = [r if isinstance(r, Recipient) else Recipient.parse(r) for r in recipients]
    if not out:
        raise KeyFormatError("no recipient to encrypt to", hint="pass at least one age1… recipient")
    return out


class AgeWriter:
    """Encrypts what is written to it; ``close()`` seals the final chunk.

    Used as a context manager, an exception inside the block *aborts* instead: no final chunk
    is written, so the partial output can never be mistaken for a complete file (every reader
    rejects it as truncated). Neither close nor abort closes ``dst``.
    """

    def __init__(self, dst: BinaryIO, recipients: Sequence[Recipient | str], *, armor: bool = False) -> None:
        recipients = _as_recipients(recipients)
        self._armor = ArmorWriter(dst) if armor else None
        out = self._armor.write if self._armor is not None else partial(write_all, dst.write)
        file_key = os.urandom(FILE_KEY_SIZE)
        stanzas = [x25519.wrap(file_key, r) for r in recipients]
        nonce = os.urandom(PAYLOAD_NONCE_SIZE)
        out(memoryview(encode_header(stanzas, file_key) + nonce))
        self._enc = PayloadEncryptor(payload_key(file_key, nonce), out)
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def plaintext_size(self) -> int:
        return self._enc.plaintext_size

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._closed:
            raise ValueError("write to a closed AgeWriter")
        return self._enc.write(data)

    def flush(self) -> None:
        """Nothing to do: whole chunks are written as soon as data after them arrives."""

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._enc.finish()
        if self._armor is not None:
            self._armor.close()

    def abort(self) -> None:
        """Stop without the final chunk: the output stays an invalid (truncated) age file."""
        self._closed = True

    def __enter__(self) -> AgeWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def open_encrypt(
    dst: BinaryIO, recipients: Sequence[Recipient | str], *, armor: bool = False
) -> AgeWriter:
    return AgeWriter(dst, recipients, armor=armor)


def encrypt(
    src: BinaryIO, dst: BinaryIO, recipients: Sequence[Recipient | str], *, armor: bool = False
) -> int:
    """Encrypt all of ``src`` to ``recipients`` into ``dst``; return the plaintext size."""
    writer = AgeWriter(dst, recipients, armor=armor)
    readinto = getattr(src, "readinto", None)
    buf = bytearray(_READ_BLOCK)
    view = memoryview(buf)
    while True:
        if readinto is not None:
            n = readinto(view) or 0
            chunk = view[:n]
        else:
            chunk = memoryview(src.read(_READ_BLOCK))
            n = len(chunk)
        if not n:
            break
        writer.write(chunk)
    writer.close()
    return writer.plaintext_size
