"""Notifiers against real receivers on loopback: an aiohttp webhook endpoint, an SMTP server
(aiosmtpd; plain, and STARTTLS with a login), a JSON-lines file. Failures come back recorded."""

from __future__ import annotations

import datetime as dt
import json
import ssl
import time
from pathlib import Path

import pytest

from engine.config import NotifyConfig, Secret, SmtpConfig
from engine.notify import deliver
from engine.notify.testing import SmtpReceiver, WebhookReceiver

DOC = {"event": "trigger", "alert_id": 7, "probe": "adaptor_errors", "subject": "Transmission/Provisioning/OCSadaptor (OCS)",
       "severity": "severe", "value": 0.31, "message": "adaptor_errors severe: 31 of 100 outcomes in error",
       "at": "2026-03-02T09:00:00+00:00", "stage": "Provisioning", "category": "Provisioning", "type": "Normal"}


def test_webhook_posts_the_json_document(tmp_path):
    with WebhookReceiver() as hook:
        delivery = deliver(f"webhook:{hook.url}", DOC, NotifyConfig(), tmp_path)
        (got,) = hook.wait_for(1)
    assert delivery.ok and delivery.error is None
    assert got == DOC and hook.headers[0]["Content-Type"] == "application/json"


def test_webhook_failures_are_recorded_not_raised(tmp_path):
    with WebhookReceiver(status=500) as hook:
        delivery = deliver(f"webhook:{hook.url}", DOC, NotifyConfig(), tmp_path)
    assert not delivery.ok and "HTTP 500" in delivery.error
    with WebhookReceiver(delay=1.5) as hook:
        start = time.monotonic()
        delivery = deliver(f"webhook:{hook.url}", DOC, NotifyConfig(webhook_timeout_seconds=0.3), tmp_path)
        assert time.monotonic() - start < 1.2
    assert not delivery.ok and "timed out" in delivery.error
    refused = deliver("webhook:http://127.0.0.1:9/hook", DOC, NotifyConfig(webhook_timeout_seconds=1), tmp_path)
    assert not refused.ok and "refused" in refused.error.lower()


def test_email_over_smtp(tmp_path):
    with SmtpReceiver() as server:
        config = NotifyConfig(smtp=SmtpConfig(host=server.host, port=server.port, sender="cmp@example.com"))
        delivery = deliver("email:ops@example.com", DOC, config, tmp_path)
        (mail,) = server.wait_for(1)
    assert delivery.ok
    assert server.envelopes == [("cmp@example.com", ["ops@example.com"])]
    assert mail["Subject"] == "[cmp] FIRING severe adaptor_errors: Transmission/Provisioning/OCSadaptor (OCS) value 0.31"
    body = mail.get_payload(decode=True).decode()
    assert body.startswith(DOC["message"]) and json.loads(body[body.index("{"):]) == DOC


def _key_and_name(cn: str):
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509 import Name, NameAttribute
    from cryptography.x509.oid import NameOID

    return ec.generate_private_key(ec.SECP256R1()), Name([NameAttribute(NameOID.COMMON_NAME, cn)])


def _write_pem(path: Path, cert, key=None) -> Path:
    from cryptography.hazmat.primitives import serialization

    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        path.with_suffix(".key").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return path


def _certificate(subject_key, subject, issuer_key, issuer, *, ca: bool, hosts: tuple[str, ...] = ()):
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    now = dt.datetime.now(dt.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
               .public_key(subject_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=1)).not_valid_after(now + dt.timedelta(hours=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False),
            critical=True)
    if hosts:
        names = [x509.IPAddress(ipaddress.ip_address(h)) if h[0].isdigit() else x509.DNSName(h) for h in hosts]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


class PrivateCA:
    """A CA of the test's own, and server certificates for aiosmtpd: signed by it or self-signed."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.key, self.name = _key_and_name("cmp test CA")
        self.ca_file = _write_pem(folder / "ca.pem", _certificate(self.key, self.name, self.key, self.name, ca=True))

    def server_context(self, *, hosts: tuple[str, ...] = ("127.0.0.1", "localhost"),
                       self_signed: bool = False) -> ssl.SSLContext:
        key, name = _key_and_name(hosts[0])
        issuer_key, issuer = (key, name) if self_signed else (self.key, self.name)
        cert = _write_pem(self.folder / f"server-{len(list(self.folder.iterdir()))}.pem",
                          _certificate(key, name, issuer_key, issuer, ca=False, hosts=hosts), key)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, cert.with_suffix(".key"))
        return context


def test_email_with_starttls_and_login_to_a_server_of_a_private_ca(tmp_path):
    ca = PrivateCA(tmp_path)
    with SmtpReceiver(tls_context=ca.server_context(), credentials=("alerts", "s3cret")) as server:
        base = dict(host=server.host, port=server.port, starttls=True, user="alerts", ca_file=str(ca.ca_file))
        wrong = deliver("email:ops@example.com", DOC, NotifyConfig(smtp=SmtpConfig(**base, password=Secret("nope"))),
                        tmp_path)
        good = deliver("email:ops@example.com", DOC, NotifyConfig(smtp=SmtpConfig(**base, password=Secret("s3cret"))),
                       tmp_path)
        relative = deliver("email:ops@example.com", DOC, NotifyConfig(smtp=SmtpConfig(
            **{**base, "ca_file": "ca.pem"}, password=Secret("s3cret"))), tmp_path)  # relative to the home
        server.wait_for(2)
    assert not wrong.ok and "SMTPAuthenticationError" in wrong.error and "s3cret" not in wrong.error
    assert good.ok and relative.ok and server.logins == ["alerts", "alerts"] and len(server.messages) == 2


def test_a_server_whose_certificate_is_not_trusted_gets_nothing(tmp_path):
    ca = PrivateCA(tmp_path)
    login = dict(starttls=True, user="alerts", password=Secret("s3cret"))
    # signed by the private CA, but the client trusts only the system's CAs (the default)
    with SmtpReceiver(tls_context=ca.server_context(), credentials=("alerts", "s3cret")) as server:
        system = deliver("email:ops@example.com", DOC,
                         NotifyConfig(smtp=SmtpConfig(host=server.host, port=server.port, **login)), tmp_path)
    # self-signed (a man in the middle's own certificate), though the client trusts the private CA
    with SmtpReceiver(tls_context=ca.server_context(self_signed=True), credentials=("alerts", "s3cret")) as server:
        mitm = deliver("email:ops@example.com", DOC, NotifyConfig(smtp=SmtpConfig(
            host=server.host, port=server.port, ca_file=str(ca.ca_file), **login)), tmp_path)
    # signed by the CA, but for another host
    with SmtpReceiver(tls_context=ca.server_context(hosts=("mail.example.com",)),
                      credentials=("alerts", "s3cret")) as server:
        other = deliver("email:ops@example.com", DOC, NotifyConfig(smtp=SmtpConfig(
            host=server.host, port=server.port, ca_file=str(ca.ca_file), **login)), tmp_path)
        assert server.logins == [] and server.messages == []
    for failed in (system, mitm, other):
        assert not failed.ok and "certificate is not trusted" in failed.error, failed.error
        assert "notify.smtp.ca_file" in failed.error and "s3cret" not in failed.error
    assert "self-signed" in mitm.error and "127.0.0.1" in other.error


def test_no_password_is_sent_without_tls(tmp_path):
    with SmtpReceiver() as server:  # a plain server that would take a login
        delivery = deliver("email:ops@example.com", DOC, NotifyConfig(smtp=SmtpConfig(
            host=server.host, port=server.port, user="alerts", password=Secret("s3cret"))), tmp_path)
    assert not delivery.ok and "starttls" in delivery.error and server.messages == []


def test_a_missing_ca_file_is_a_clear_failure(tmp_path):
    config = NotifyConfig(smtp=SmtpConfig(host="127.0.0.1", port=9, starttls=True, ca_file="no/such.pem"))
    delivery = deliver("email:ops@example.com", DOC, config, tmp_path)
    assert not delivery.ok and str(tmp_path / "no/such.pem") in delivery.error and "notify.smtp.ca_file" in delivery.error


def test_email_to_a_server_that_is_down_is_recorded(tmp_path):
    config = NotifyConfig(smtp=SmtpConfig(host="127.0.0.1", port=9, timeout_seconds=2))
    delivery = deliver("email:ops@example.com", DOC, config, tmp_path)
    assert not delivery.ok and "ConnectionRefusedError" in delivery.error


def test_file_appends_json_lines(tmp_path):
    config = NotifyConfig(file_dir="alerts")
    assert deliver("file:ops.jsonl", DOC, config, tmp_path).ok
    assert deliver("file:ops.jsonl", {**DOC, "event": "resolve"}, config, tmp_path).ok
    absolute = tmp_path / "elsewhere" / "a.jsonl"
    assert deliver(f"file:{absolute}", DOC, config, tmp_path).ok
    lines = (tmp_path / "alerts" / "ops.jsonl").read_text().splitlines()
    assert [json.loads(line)["event"] for line in lines] == ["trigger", "resolve"]
    assert json.loads(absolute.read_text()) == DOC


def test_log_and_unknown_recipients(tmp_path, caplog):
    with caplog.at_level("WARNING", logger="cmp.alerts"):
        assert deliver("log:", DOC, NotifyConfig(), tmp_path).ok
    assert "FIRING severe adaptor_errors" in caplog.text
    unknown = deliver("pager:42", DOC, NotifyConfig(), tmp_path)
    assert not unknown.ok and "unknown recipient scheme 'pager'" in unknown.error


@pytest.mark.parametrize("url", ["ftp://x/y", "127.0.0.1:80/hook"])
def test_webhook_url_must_be_http(tmp_path, url):
    delivery = deliver(f"webhook:{url}", DOC, NotifyConfig(), tmp_path)
    assert not delivery.ok and "http(s)" in delivery.error
