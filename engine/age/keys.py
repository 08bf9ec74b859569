"""X25519 keys in age's text forms: ``AGE-SECRET-KEY-1…`` identities and ``age1…`` recipients.

Only the native X25519 type is supported. Post-quantum hybrid (``AGE-SECRET-KEY-PQ-1…``),
passphrase and plugin keys are refused with a KeyFormatError that says so, rather than being
silently skipped, so that a partner sending the wrong kind of key finds out at once.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from engine.age import bech32
from engine.errors import KeyFormatError

IDENTITY_HRP = "age-secret-key-"
RECIPIENT_HRP = "age"
_KEY_LEN = 32


class Recipient:
    """An X25519 public key that files can be encrypted to (``age1…``)."""

    __slots__ = ("_raw", "_key")

    def __init__(self, public_bytes: bytes) -> None:
        if len(public_bytes) != _KEY_LEN:
            raise KeyFormatError(f"an X25519 recipient is {_KEY_LEN} bytes, got {len(public_bytes)}")
        key = X25519PublicKey.from_public_bytes(bytes(public_bytes))
        try:
            # A low-order point makes every shared secret zero: files "encrypted" to it are open
            # to anyone, so refuse it here rather than at encryption time.
            X25519PrivateKey.generate().exchange(key)
        except ValueError:
            raise KeyFormatError(
                "the recipient is a low-order X25519 point and cannot be encrypted to",
                hint="ask for the output of age-keygen -y for the partner's key",
            ) from None
        self._raw = bytes(public_bytes)
        self._key = key

    @classmethod
    def parse(cls, text: str) -> Recipient:
        text = text.strip()
        if text.lower().startswith("age1pq1"):
            raise KeyFormatError(
                "post-quantum (age1pq1…) recipients are not supported; only X25519 (age1…)",
                hint="ask for an X25519 key made with age-keygen",
            )
        try:
            hrp, data = bech32.decode(text)
        except bech32.Bech32Error as exc:
            raise KeyFormatError(
                f"malformed age recipient {text[:80]!r}: {exc}",
                hint="an X25519 recipient looks like age1… (62 characters), as age-keygen -y prints",
            ) from None
        if hrp != RECIPIENT_HRP:
            kind = "a plugin" if hrp.startswith("age1") else "not an age"
            raise KeyFormatError(
                f"{text[:80]!r} is {kind} recipient (prefix {hrp!r}); only X25519 age1… keys work",
                hint="ask for an X25519 key made with age-keygen",
            )
        return cls(data)

    @property
    def public_bytes(self) -> bytes:
        return self._raw

    @property
    def public_key(self) -> X25519PublicKey:
        return self._key

    def __str__(self) -> str:
        return bech32.encode(RECIPIENT_HRP, self._raw)

    def __repr__(self) -> str:
        return f"Recipient({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Recipient) and other._raw == self._raw

    def __hash__(self) -> int:
        return hash(self._raw)

    def __reduce__(self):
        return (Recipient, (self._raw,))


class Identity:
    """An X25519 private key (``AGE-SECRET-KEY-1…``). ``repr`` shows only the public half."""

    __slots__ = ("_secret", "_key", "_recipient")

    def __init__(self, secret_bytes: bytes) -> None:
        if len(secret_bytes) != _KEY_LEN:
            raise KeyFormatError(f"an X25519 identity is {_KEY_LEN} bytes, got {len(secret_bytes)}")
        self._secret = bytes(secret_bytes)
        self._key = X25519PrivateKey.from_private_bytes(self._secret)
        self._recipient = Recipient(self._key.public_key().public_bytes_raw())

    @classmethod
    def generate(cls) -> Identity:
        return cls(os.urandom(_KEY_LEN))

    @classmethod
    def parse(cls, text: str) -> Identity:
        # Error messages never echo the text: it may be a (slightly mistyped) secret.
        text = text.strip()
        upper = text.upper()
        if upper.startswith("AGE-SECRET-KEY-PQ-"):
            raise KeyFormatError(
                "post-quantum (AGE-SECRET-KEY-PQ-1…) identities are not supported; only X25519",
                hint="use an identity made with age-keygen (without -pq)",
            )
        if upper.startswith("AGE-PLUGIN-"):
            raise KeyFormatError(
                "age plugin identities are not supported; only X25519 (AGE-SECRET-KEY-1…)",
                hint="use an identity made with age-keygen",
            )
        try:
            hrp, data = bech32.decode(text)
        except bech32.Bech32Error as exc:
            raise KeyFormatError(
                f"malformed age identity: {exc}",
                hint="an identity is one AGE-SECRET-KEY-1… line (74 characters) as age-keygen writes",
            ) from None
        if hrp != IDENTITY_HRP or len(data) != _KEY_LEN:
            raise KeyFormatError(
                "not an X25519 age identity (expected AGE-SECRET-KEY-1… encoding 32 bytes)",
                hint="use an identity made with age-keygen",
            )
        return cls(data)

    def recipient(self) -> Recipient:
        return self._recipient

    @property
    def private_key(self) -> X25519PrivateKey:
        return self._key

    @property
    def secret_bytes(self) -> bytes:
        return self._secret

    def __str__(self) -> str:
        # age-keygen writes identities upper case; the checksum is case-insensitive.
        return bech32.encode(IDENTITY_HRP, self._secret).upper()

    def __repr__(self) -> str:
        return f"Identity(recipient={str(self._recipient)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Identity) and other._secret == self._secret

    def __hash__(self) -> int:
        return hash(self._recipient)

    def __reduce__(self):
        # Identities may be shipped to worker processes; the secret travels, the repr never shows it.
        return (Identity, (self._secret,))


def parse_identities(text: str, *, source: str | None = None) -> list[Identity]:
    """Parse an identity file as age-keygen writes it: one key a line, ``#`` comments, blanks."""
    identities: list[Identity] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            identities.append(Identity.parse(line))
        except KeyFormatError as exc:
            raise KeyFormatError(exc.message, file=source, line=lineno, hint=exc.hint) from None
    if not identities:
        raise KeyFormatError(
            "no identity found (only comments or blank lines)",
            file=source,
            hint="the file should contain an AGE-SECRET-KEY-1… line as age-keygen writes",
        )
    return identities


def load_identities(path: str | os.PathLike[str]) -> list[Identity]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise KeyFormatError(
            "identity file is not UTF-8 text", file=str(path), hint="use a file written by age-keygen"
        ) from None
    except OSError as exc:
        raise KeyFormatError(
            f"cannot read identity file: {exc.strerror or exc}",
            file=str(path),
            hint="check the path and its permissions",
        ) from None
    return parse_identities(text, source=str(path))

