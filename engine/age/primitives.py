"""The key derivations and constants of age v1, in one place."""

from __future__ import annotations

import hmac
from hashlib import sha256

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION_LINE = b"age-encryption.org/v1"
FILE_KEY_SIZE = 16
PAYLOAD_NONCE_SIZE = 16
CHUNK_SIZE = 64 * 1024  # plaintext bytes per STREAM chunk
TAG_SIZE = 16  # Poly1305 tag
ENC_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int = 32) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def header_mac(file_key: bytes, mac_input: bytes) -> bytes:
    """HMAC-SHA256 over the header up to and including ``---``, keyed from the file key."""
    key = hkdf_sha256(file_key, b"", b"header")
    return hmac.new(key, mac_input, sha256).digest()


def payload_key(file_key: bytes, nonce: bytes) -> bytes:
    return hkdf_sha256(file_key, nonce, b"payload")
