"""``file:PATH`` — append the alert document as one JSON line (relative paths land in
``[notify] file_dir`` under the home)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the config imports this package (engine/notify SCHEMES), not the other way
    from engine.config import NotifyConfig


def send(target: str, doc: dict[str, Any], config: NotifyConfig, home: Path) -> None:
    path = Path(target).expanduser()
    if not path.is_absolute():
        path = home / config.file_dir / path
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(doc, default=str) + "\n").encode()
    # One write() of an O_APPEND descriptor: concurrent writers never interleave within a line.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
