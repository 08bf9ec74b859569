"""``email:ADDRESS`` — a plain-text mail over SMTP (``[notify.smtp]``: host, port, sender,
STARTTLS, optional login with a Secret password)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.notify.message import subject_line

if TYPE_CHECKING:  # the config imports this package (engine/notify SCHEMES), not the other way
    from engine.config import NotifyConfig


def send(address: str, doc: dict[str, Any], config: NotifyConfig, home: Path) -> None:
    import smtplib  # here, not at the top: every process imports the config, which imports notify
    from email.message import EmailMessage

    smtp = config.smtp
    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = address
    message["Subject"] = subject_line(doc)
    message.set_content(f"{doc.get('message') or ''}\n\n{json.dumps(doc, indent=2, default=str)}\n")
    with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds) as client:
        if smtp.starttls:
            client.starttls()
        if smtp.user:
            client.login(smtp.user, smtp.password.reveal())
        client.send_message(message)
