"""Notifiers: tell a recipient about an alert event (trigger, failure, resolve).

A recipient is ``scheme:target`` — ``log:``, ``webhook:http://…``, ``email:ops@example.com``,
``file:alerts.jsonl``. Delivery never raises: a failure comes back as a :class:`Delivery` with
the error, which the caller records (a broken webhook must not stop the probes).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.config import NotifyConfig


@dataclass(frozen=True)
class Delivery:
    recipient: str
    ok: bool
    error: str | None = None


def subject_line(doc: dict[str, Any]) -> str:
    """``[cmp] FIRING warning adaptor_errors: Transmission/… value 0.12`` (mail subject, log line)."""
    state = {"trigger": "FIRING", "failure": "PROBE FAILED", "resolve": "RESOLVED"}.get(doc["event"], doc["event"])
    value = "" if doc.get("value") is None else f" value {doc['value']:.4g}"
    return f"[cmp] {state} {doc.get('severity') or ''} {doc['probe']}: {doc['subject']}{value}".replace("  ", " ")


def deliver(recipient: str, doc: dict[str, Any], config: NotifyConfig, home: Path) -> Delivery:
    from engine.notify import file, log, smtp, webhook

    scheme, _, target = recipient.partition(":")
    senders = {"log": log.send, "webhook": webhook.send, "email": smtp.send, "file": file.send}
    if scheme not in senders:
        return Delivery(recipient, False, f"unknown recipient scheme {scheme!r} (log, webhook, email, file)")
    try:
        senders[scheme](target, doc, config, home)
    except Exception as exc:  # recorded, not raised: see the module docstring
        return Delivery(recipient, False, f"{type(exc).__name__}: {exc}"[:1000])
    return Delivery(recipient, True)


__all__ = ["Delivery", "deliver", "subject_line"]
