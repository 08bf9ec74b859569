"""The X25519 recipient stanza: ``-> X25519 <ephemeral share>`` + the wrapped file key.

wrap key = HKDF-SHA256(ikm = X25519(ephemeral, recipient), salt = share || recipient,
info = "age-encryption.org/v1/X25519"); body = ChaCha20-Poly1305(wrap key, zero nonce, file key).
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from engine.age.header import Stanza
from engine.age.keys import Identity, Recipient
from engine.age.primitives import FILE_KEY_SIZE, TAG_SIZE, hkdf_sha256
from engine.age.strict_base64 import Base64Error, decode_unpadded, encode_unpadded
from engine.errors import AgeHeaderError

STANZA_TYPE = "X25519"
_LABEL = b"age-encryption.org/v1/X25519"
_SHARE_SIZE = 32
_BODY_SIZE = FILE_KEY_SIZE + TAG_SIZE
_ZERO_NONCE = bytes(12)
_RESEND = "ask the sender to re-send the file"


def _wrap_key(shared: bytes, share: bytes, recipient: bytes) -> bytes:
    return hkdf_sha256(shared, share + recipient, _LABEL)


def wrap(file_key: bytes, recipient: Recipient) -> Stanza:
    ephemeral = X25519PrivateKey.generate()
    share = ephemeral.public_key().public_bytes_raw()
    shared = ephemeral.exchange(recipient.public_key)  # Recipient refuses low-order points
    key = _wrap_key(shared, share, recipient.public_bytes)
    body = ChaCha20Poly1305(key).encrypt(_ZERO_NONCE, file_key, None)
    return Stanza((STANZA_TYPE, encode_unpadded(share).decode("ascii")), body)


def check_stanza(stanza: Stanza) -> bytes:
    """Validate an X25519 stanza's shape (whoever it is for); return the ephemeral share."""
    if len(stanza.args) != 2:
        raise AgeHeaderError(
            f"malformed age header: an X25519 stanza has {len(stanza.args) - 1} arguments, not 1",
            hint=_RESEND,
        )
    try:
        share = decode_unpadded(stanza.args[1].encode("ascii"))
    except Base64Error as exc:
        raise AgeHeaderError(
            f"malformed age header: the X25519 share is not canonical base64 ({exc})", hint=_RESEND
        ) from None
    if len(share) != _SHARE_SIZE:
        raise AgeHeaderError(
            f"malformed age header: the X25519 share is {len(share)} bytes, not {_SHARE_SIZE}",
            hint=_RESEND,
        )
    # Checked before any decryption: a longer body could smuggle a different-length file key.
    if len(stanza.body) != _BODY_SIZE:
        raise AgeHeaderError(
            f"malformed age header: an X25519 stanza body is {len(stanza.body)} bytes, not {_BODY_SIZE}",
            hint=_RESEND,
        )
    return share


def unwrap(stanza: Stanza, share: bytes, identity: Identity) -> bytes | None:
    """The file key if this stanza is for ``identity``, else None."""
    try:
        shared = identity.private_key.exchange(X25519PublicKey.from_public_bytes(share))
    except ValueError:
        # All-zero shared secret: the share is a low-order point. age forbids it (it would
        # let anyone unwrap), and it is the same for every identity, so it is a header error.
        raise AgeHeaderError(
            "malformed age header: the X25519 share is a low-order point (all-zero shared secret)",
            hint=_RESEND,
        ) from None
    key = _wrap_key(shared, share, identity.recipient().public_bytes)
    try:
        return ChaCha20Poly1305(key).decrypt(_ZERO_NONCE, stanza.body, None)
    except InvalidTag:
        return None
