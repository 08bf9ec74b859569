"""Value types of the configuration: secrets and sizes."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Secret:
    """A value that must not appear in logs, reprs or ``--json`` dumps."""

    value: str = ""

    def reveal(self) -> str:
        return self.value

    def __bool__(self) -> bool:
        return bool(self.value)

    def __repr__(self) -> str:
        return "Secret('***')" if self.value else "Secret('')"

    __str__ = __repr__


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?\s*$", re.IGNORECASE)
_UNITS = {None: 1, "b": 1, "kb": 10**3, "kib": 2**10, "mb": 10**6, "mib": 2**20, "gb": 10**9, "gib": 2**30}


def parse_size(text: str) -> int:
    """``"64MiB"`` → 67108864. Plain integers are bytes."""
    m = _SIZE.match(str(text))
    if not m:
        raise ValueError(f"not a size: {text!r} (use e.g. 65536, 64MiB, 1GB)")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower() if m.group(2) else None])


def format_size(size: int) -> str | int:
    """67108864 → ``"64MiB"`` (the largest binary unit that divides it); else the plain int."""
    for unit in ("GiB", "MiB", "KiB"):
        factor = _UNITS[unit.lower()]
        if size and size % factor == 0:
            return f"{size // factor}{unit}"
    return size


__all__ = ["Secret", "format_size", "parse_size"]
