"""Canonical base64 as age requires it.

Header values use the standard alphabet *without* padding; armor lines use it *with* padding.
Both must be canonical: exactly one encoding per byte string, so unused trailing bits are zero.
Python's decoder accepts non-canonical input, hence the re-encoding check.
"""

from __future__ import annotations

import binascii
import re

_UNPADDED = re.compile(rb"[A-Za-z0-9+/]*")


class Base64Error(ValueError):
    """Not canonical base64 of the expected form."""


def encode_unpadded(data: bytes) -> bytes:
    return binascii.b2a_base64(data, newline=False).rstrip(b"=")


def decode_unpadded(text: bytes) -> bytes:
    """Decode unpadded canonical base64 (age header form); raise Base64Error otherwise."""
    if not _UNPADDED.fullmatch(text):
        raise Base64Error("characters outside the base64 alphabet (or padding, which age forbids here)")
    if len(text) % 4 == 1:
        raise Base64Error("impossible base64 length")
    data = binascii.a2b_base64(text + b"=" * (-len(text) % 4), strict_mode=True)
    if encode_unpadded(data) != text:
        raise Base64Error("non-canonical base64 (unused bits are not zero)")
    return data


def decode_padded(text: bytes) -> bytes:
    """Decode padded canonical base64 (armor form); raise Base64Error otherwise."""
    if len(text) % 4:
        raise Base64Error("base64 length is not a multiple of 4 (missing padding?)")
    try:
        data = binascii.a2b_base64(text, strict_mode=True)
    except binascii.Error as exc:
        raise Base64Error(f"invalid base64: {exc}") from None
    if binascii.b2a_base64(data, newline=False) != text:
        raise Base64Error("non-canonical base64 (unused bits are not zero)")
    return data
