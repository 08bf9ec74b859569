"""``email:ADDRESS`` — a plain-text mail over SMTP (``[notify.smtp]``: host, port, sender,
STARTTLS, optional login with a Secret password)."""

from __future__ import annotations

import json
import smtplib
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from engine.config import NotifyConfig


def send(address: str, doc: dict[str, Any], config: NotifyConfig, home: Path) -> None:
    from engine.notify import subject_line

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
