"""Notifiers: tell a recipient about an alert event (trigger, failure, resolve).

A recipient is ``scheme:target`` — ``log:``, ``webhook:http://…``, ``email:ops@example.com``,
``file:alerts.jsonl``. :data:`SCHEMES` is the one list of schemes; ``[probes.<name>]
recipients`` are checked against it when the config is loaded (:func:`check_recipient`).
Delivery never raises: a failure comes back as a :class:`Delivery` with the error, which the
caller records (a broken webhook must not stop the probes).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from engine.notify import file, log, smtp, webhook
from engine.notify.message import subject_line

if TYPE_CHECKING:  # the config imports this module to check recipients
    from engine.config import NotifyConfig


@dataclass(frozen=True)
class Scheme:
    target: str  # what follows the colon, as an operator reads it ("URL"); "": nothing
    send: Callable[[str, dict[str, Any], "NotifyConfig", Path], None]


SCHEMES: dict[str, Scheme] = {
    "log": Scheme("", log.send),
    "webhook": Scheme("URL", webhook.send),
    "email": Scheme("ADDRESS", smtp.send),
    "file": Scheme("PATH", file.send),
}


def check_recipient(recipient: str) -> None:
    """ValueError naming the forms unless ``recipient`` is ``scheme:target`` of a known scheme
    (with a target where the scheme needs one)."""
    scheme, sep, target = recipient.partition(":")
    known = SCHEMES.get(scheme)
    if not sep or known is None or (known.target and not target):
        forms = [f"{name}:{s.target}" for name, s in SCHEMES.items()]
        raise ValueError(f"recipient {recipient!r} must be {', '.join(forms[:-1])} or {forms[-1]}")


@dataclass(frozen=True)
class Delivery:
    recipient: str
    ok: bool
    error: str | None = None


def deliver(recipient: str, doc: dict[str, Any], config: NotifyConfig, home: Path) -> Delivery:
    scheme, _, target = recipient.partition(":")
    if scheme not in SCHEMES:
        return Delivery(recipient, False, f"unknown recipient scheme {scheme!r} ({', '.join(SCHEMES)})")
    try:
        SCHEMES[scheme].send(target, doc, config, home)
    except Exception as exc:  # recorded, not raised: see the module docstring
        return Delivery(recipient, False, f"{type(exc).__name__}: {exc}"[:1000])
    return Delivery(recipient, True)


__all__ = ["Delivery", "SCHEMES", "Scheme", "check_recipient", "deliver", "subject_line"]
