"""``log:`` — a WARNING (trigger, failure) or INFO (resolve) line on the engine's log."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.notify.message import subject_line

if TYPE_CHECKING:  # the config imports this package (engine/notify SCHEMES), not the other way
    from engine.config import NotifyConfig

log = logging.getLogger("cmp.alerts")


def send(target: str, doc: dict[str, Any], config: NotifyConfig, home: Path) -> None:
    level = logging.INFO if doc["event"] == "resolve" else logging.WARNING
    log.log(level, "%s %s", subject_line(doc), json.dumps({"message": doc.get("message")}, default=str))
