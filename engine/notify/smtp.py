"""``email:ADDRESS`` — a plain-text mail over SMTP (``[notify.smtp]``: host, port, sender,
STARTTLS, optional login with a Secret password).

STARTTLS verifies the server: its certificate must chain to a trusted CA and name the host the
engine connects to. Trusted means the system's trust store, or, when ``notify.smtp.ca_file`` is
set, only the CA(s) in that file (a private CA). Without verification a man in the middle who
answers STARTTLS with a certificate of its own reads the login's password. For the same reason
the password is never sent over a connection that STARTTLS did not protect.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import CertificateNotTrusted, ConfigError
from engine.notify.message import subject_line

if TYPE_CHECKING:  # the config imports this package (engine/notify SCHEMES), not the other way
    import ssl

    from engine.config import NotifyConfig, SmtpConfig


def send(address: str, doc: dict[str, Any], config: NotifyConfig, home: Path) -> None:
    import smtplib  # here, not at the top: every process imports the config, which imports notify
    import ssl
    from email.message import EmailMessage

    smtp = config.smtp
    if smtp.user and not smtp.starttls:
        raise ConfigError(f"refusing to send the SMTP password for {smtp.user!r} unencrypted to {smtp.host}",
                          hint="set notify.smtp.starttls = true (the server must offer STARTTLS)")
    context = tls_context(smtp, home) if smtp.starttls else None
    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = address
    message["Subject"] = subject_line(doc)
    message.set_content(f"{doc.get('message') or ''}\n\n{json.dumps(doc, indent=2, default=str)}\n")
    with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds) as client:
        if context is not None:
            try:
                client.starttls(context=context)
            except ssl.SSLCertVerificationError as exc:
                raise CertificateNotTrusted(
                    f"the SMTP server's certificate is not trusted ({smtp.host}:{smtp.port}): "
                    f"{exc.verify_message or exc.reason}; nothing was sent",
                    hint="if the server uses a private CA, set notify.smtp.ca_file to that CA's PEM file") from None
        if smtp.user:
            client.login(smtp.user, smtp.password.reveal())
        client.send_message(message)


def tls_context(smtp: SmtpConfig, home: Path) -> ssl.SSLContext:
    """A client context that verifies the server's certificate and host name: against the
    system's trust store, or only the CA(s) of ``ca_file`` (relative to the home) when given."""
    import ssl

    if not smtp.ca_file:
        return ssl.create_default_context()
    ca_file = Path(smtp.ca_file).expanduser()
    ca_file = ca_file if ca_file.is_absolute() else home / ca_file
    try:
        return ssl.create_default_context(cafile=str(ca_file))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load the CA file {ca_file}: {getattr(exc, 'strerror', None) or exc}",
                          hint="notify.smtp.ca_file names a PEM file of the CA that signed the server's "
                               "certificate") from None
