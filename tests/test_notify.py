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


def _self_signed(tmp_path: Path) -> ssl.SSLContext:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(hours=1)).sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    return context


def test_email_with_starttls_and_login(tmp_path):
    with SmtpReceiver(tls_context=_self_signed(tmp_path), credentials=("alerts", "s3cret")) as server:
        base = dict(host=server.host, port=server.port, starttls=True, user="alerts")
        wrong = deliver("email:ops@example.com", DOC, NotifyConfig(smtp=SmtpConfig(**base, password=Secret("nope"))),
                        tmp_path)
        no_tls = deliver("email:ops@example.com", DOC,
                         NotifyConfig(smtp=SmtpConfig(**{**base, "starttls": False}, password=Secret("s3cret"))), tmp_path)
        good = deliver("email:ops@example.com", DOC, NotifyConfig(smtp=SmtpConfig(**base, password=Secret("s3cret"))),
                       tmp_path)
        server.wait_for(1)
    assert not wrong.ok and "SMTPAuthenticationError" in wrong.error and "s3cret" not in wrong.error
    assert not no_tls.ok
    assert good.ok and server.logins == ["alerts"] and len(server.messages) == 1


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
