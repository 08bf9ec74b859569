"""A traceparent that travels with a file: a ``user.traceparent`` extended attribute.

`cmpctl load` copies the file into an inbound folder and the Load daemon picks it up later in
another process: the attribute carries the CLI's span to the daemon, so the load (and the jobs
its batch triggers) join the CLI's trace. Where extended attributes are not supported the file
simply starts a trace of its own.
"""

from __future__ import annotations

import os
from pathlib import Path

ATTRIBUTE = "user.traceparent"


def tag_file(target: int | Path | str, traceparent: str | None) -> bool:
    """Attach ``traceparent`` to a file (path or open descriptor); False where unsupported."""
    if not traceparent:
        return False
    try:
        os.setxattr(target, ATTRIBUTE, traceparent.encode("ascii"))  # type: ignore[arg-type]
        return True
    except (OSError, AttributeError, UnicodeEncodeError):
        return False


def file_traceparent(path: Path | str) -> str | None:
    try:
        return os.getxattr(path, ATTRIBUTE).decode("ascii", errors="replace")
    except (OSError, AttributeError):
        return None


__all__ = ["ATTRIBUTE", "file_traceparent", "tag_file"]
