"""A Load daemon's inbound folder: which files are ready, and where they go afterwards.

A file is *ready* when its name is final (not ``.x`` / ``x.part``), it is a regular file (not a
symlink, not a device), its name is plain (no path tricks), and its size and mtime have not
changed since the previous poll: producers that write in place are given time to finish.
After the load the file moves to ``archive/`` (committed) or ``quarantine/`` with a
``.reason`` file beside it (rejected), so nothing is ever processed twice from the folder.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from engine.fsutil import is_temporary_name

GENERIC_SUFFIX = ".jsonl.age"
_HASH_BLOCK = 8 * 1024 * 1024


@dataclass(frozen=True)
class Candidate:
    path: Path
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Refusal:
    """A file the folder itself refuses (before any decryption)."""

    path: Path
    reason: str


class Inbox:
    """The inbound folder of one daemon. Remembers only what it saw at the previous poll."""

    def __init__(self, folder: Path, archive: Path, quarantine: Path):
        self.folder = folder
        self.archive = archive
        self.quarantine = quarantine
        self._seen: dict[str, tuple[int, int]] = {}

    def poll(self) -> tuple[list[Candidate], list[Refusal]]:
        """Files ready to load (oldest first) and files to refuse outright."""
        ready: list[Candidate] = []
        refused: list[Refusal] = []
        seen: dict[str, tuple[int, int]] = {}
        try:
            entries = list(os.scandir(self.folder))
        except FileNotFoundError:
            self.folder.mkdir(parents=True, exist_ok=True)
            return [], []
        for entry in entries:
            name = entry.name
            if is_temporary_name(name):
                continue  # still being written by its producer
            path = Path(entry.path)
            if entry.is_symlink():
                refused.append(Refusal(path, "is a symbolic link; only regular files are loaded"))
                continue
            if not _plain_name(name):
                refused.append(Refusal(path, "the name has path characters or control characters"))
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # moved away between listing and stat
            if stat.S_ISDIR(st.st_mode):
                continue
            if not stat.S_ISREG(st.st_mode):
                refused.append(Refusal(path, "is not a regular file"))
                continue
            if not name.endswith(GENERIC_SUFFIX):
                refused.append(Refusal(path, f"the name does not end in {GENERIC_SUFFIX}"))
                continue
            now = (st.st_size, st.st_mtime_ns)
            seen[name] = now
            if self._seen.get(name) == now:
                ready.append(Candidate(path, st.st_size, st.st_mtime_ns))
        self._seen = seen
        ready.sort(key=lambda c: (c.mtime_ns, c.path.name))
        return ready, refused

    def archive_file(self, path: Path, batch_id: int) -> Path:
        return _move(path, self.archive, f"b{batch_id}-")

    def quarantine_file(self, path: Path, reason: str) -> Path:
        target = _move(path, self.quarantine, "")
        stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
        target.with_name(target.name + ".reason").write_text(f"{stamp} {reason}\n")
        return target


def _plain_name(name: str) -> bool:
    return (
        name not in (".", "..")
        and ".." not in name
        and "/" not in name
        and "\\" not in name
        and all(ch.isprintable() for ch in name)
    )


def _move(path: Path, folder: Path, prefix: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{prefix}{path.name}"
    n = 1
    while target.exists():  # never overwrite an earlier file of the same name
        target = folder / f"{prefix}{path.name}.{n}"
        n += 1
    os.replace(path, target)
    return target


def sha256_file(path: Path) -> str:
    """SHA-256 of the file's bytes (the ciphertext): the file's identity in the ledger."""
    digest = hashlib.sha256()
    with open(path, "rb", buffering=0) as fh:
        buf = bytearray(_HASH_BLOCK)
        view = memoryview(buf)
        while n := fh.readinto(buf):
            digest.update(view[:n])
    return digest.hexdigest()
