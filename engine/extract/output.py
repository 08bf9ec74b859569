"""Writing one outbound file: encrypted, atomically, durably, with its SHA-256.

The bytes go to a temporary dot-name (:func:`engine.fsutil.atomic_output`: the Load daemons
and partners' pick-up ignore such names), are fsynced and renamed; then the folder itself is
fsynced so the rename survives a power cut. The hash is taken while writing.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Sequence

from engine import age
from engine.fsutil import atomic_output


@dataclass(frozen=True)
class Written:
    path: Path
    sha256: str
    size_bytes: int


class _Hashing:
    """A write-only file wrapper that hashes and counts what passes through."""

    def __init__(self, fh: BinaryIO):
        self._fh = fh
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data) -> int:
        n = self._fh.write(data)
        n = len(data) if n is None else n
        self.sha.update(memoryview(data)[:n])
        self.size += n
        return n

    def flush(self) -> None:
        self._fh.flush()


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_encrypted(path: Path, recipients: Sequence["age.Recipient | str"],
                    produce: Callable[[BinaryIO], object]) -> Written:
    """Write ``produce(plaintext_sink)``'s output to ``path``, age-encrypted to ``recipients``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as fh:
        hashing = _Hashing(fh)
        with age.open_encrypt(hashing, list(recipients)) as writer:  # aborts (truncated) on error
            produce(writer)
    fsync_dir(path.parent)
    return Written(path, hashing.sha.hexdigest(), hashing.size)


def sha256_of(path: Path) -> Written:
    sha = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            sha.update(block)
            size += len(block)
    return Written(path, sha.hexdigest(), size)


__all__ = ["Written", "fsync_dir", "sha256_of", "write_encrypted"]
