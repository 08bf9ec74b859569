"""``webhook:URL`` — HTTP POST of the alert document as JSON; any non-2xx answer is a failure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the config imports this package (engine/notify SCHEMES), not the other way
    from engine.config import NotifyConfig


def send(url: str, doc: dict[str, Any], config: NotifyConfig, home: Path) -> None:
    import urllib.error  # here, not at the top: every process imports the config, which imports notify
    import urllib.request

    if not url.startswith(("http://", "https://")):
        raise ValueError(f"webhook URL must be http(s)://…, got {url!r}")
    body = json.dumps(doc, default=str).encode()
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "cmp-provisioning"})
    try:
        with urllib.request.urlopen(request, timeout=config.webhook_timeout_seconds) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"webhook answered HTTP {exc.code}") from None
