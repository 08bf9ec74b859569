"""Bech32 (BIP 173) as age uses it for keys: ``age1…`` recipients, ``AGE-SECRET-KEY-1…`` identities.

age uses the original Bech32 checksum (not Bech32m) and lifts BIP 173's 90-character limit, so
this module does too. Strings must be all lower case or all upper case, as BIP 173 requires.
"""

from __future__ import annotations

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_CHARSET_REV = {c: i for i, c in enumerate(CHARSET)}
_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


class Bech32Error(ValueError):
    """The string is not valid Bech32; the message says why."""


def _polymod(values: list[int]) -> int:
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i, gen in enumerate(_GENERATOR):
            if (top >> i) & 1:
                chk ^= gen
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _convert_bits(data: bytes | list[int], from_bits: int, to_bits: int, pad: bool) -> list[int]:
    acc = 0
    bits = 0
    out: list[int] = []
    maxv = (1 << to_bits) - 1
    for value in data:
        if value < 0 or value >> from_bits:
            raise Bech32Error("data value out of range")
        acc = (acc << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((acc >> bits) & maxv)
    if pad:
        if bits:
            out.append((acc << (to_bits - bits)) & maxv)
    elif bits >= from_bits or (acc << (to_bits - bits)) & maxv:
        # Decoding: leftover bits must be fewer than one group and all zero (canonical form).
        raise Bech32Error("non-zero or excess padding bits")
    return out


def encode(hrp: str, data: bytes) -> str:
    """Encode ``data`` under ``hrp``; the result is lower case (callers upper-case it if needed)."""
    hrp = hrp.lower()
    values = _convert_bits(data, 8, 5, pad=True)
    checksum_mod = _polymod(_hrp_expand(hrp) + values + [0] * 6) ^ 1
    checksum = [(checksum_mod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(CHARSET[v] for v in values + checksum)


def decode(text: str) -> tuple[str, bytes]:
    """Return ``(hrp, data)``; the hrp is returned lower case. Raises Bech32Error."""
    if any(ord(c) < 33 or ord(c) > 126 for c in text):
        raise Bech32Error("invalid character (only printable ASCII, no spaces)")
    if text.lower() != text and text.upper() != text:
        raise Bech32Error("mixed upper and lower case")
    text = text.lower()
    sep = text.rfind("1")
    if sep < 1 or sep + 7 > len(text):
        raise Bech32Error("missing separator, prefix or checksum")
    hrp, rest = text[:sep], text[sep + 1 :]
    try:
        values = [_CHARSET_REV[c] for c in rest]
    except KeyError as exc:
        raise Bech32Error(f"invalid data character {exc.args[0]!r}") from None
    if _polymod(_hrp_expand(hrp) + values) != 1:
        raise Bech32Error("checksum mismatch (a character was mistyped or lost)")
    return hrp, bytes(_convert_bits(values[:-6], 5, 8, pad=False))
