"""Small file-system helpers shared by the CLI, the daemons and netsim-facing code."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import BinaryIO, Iterator


@contextlib.contextmanager
def atomic_output(path: Path | str) -> Iterator[BinaryIO]:
    """Write ``path`` under a temporary name (``.NAME.part``) and rename it when complete.

    Readers that ignore temporary names (the Load daemons) never see a half-written file;
    on an error the partial file is removed.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.part")
    fh = open(tmp, "wb")
    try:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())
        fh.close()
        os.replace(tmp, path)
    except BaseException:
        fh.close()
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def open_output(target: str | Path | None) -> Iterator[BinaryIO]:
    """``-``/None: binary stdout; else an atomically written file."""
    if target is None or str(target) == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
    else:
        with atomic_output(target) as fh:
            yield fh


@contextlib.contextmanager
def open_input(source: str | Path) -> Iterator[BinaryIO]:
    """``-``: binary stdin; else the file."""
    if str(source) == "-":
        yield sys.stdin.buffer
    else:
        with open(source, "rb") as fh:
            yield fh


def is_temporary_name(name: str) -> bool:
    """Producers write under a leading ``.`` or a ``.part`` suffix (FORMATS.md)."""
    return name.startswith(".") or name.endswith(".part")
