"""The one-line summary of an alert event, for mail subjects and log lines."""

from __future__ import annotations

from typing import Any


def subject_line(doc: dict[str, Any]) -> str:
    """``[cmp] FIRING warning adaptor_errors: Transmission/… value 0.12`` (mail subject, log line)."""
    state = {"trigger": "FIRING", "failure": "PROBE FAILED", "resolve": "RESOLVED"}.get(doc["event"], doc["event"])
    value = "" if doc.get("value") is None else f" value {doc['value']:.4g}"
    return f"[cmp] {state} {doc.get('severity') or ''} {doc['probe']}: {doc['subject']}{value}".replace("  ", " ")


__all__ = ["subject_line"]
