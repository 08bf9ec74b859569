"""From a parsed header and our identities to the file key, then to the payload key.

Order of checks, as age does it: header syntax, every X25519 stanza's shape, unwrap with each
identity (a low-order share is a header error), then the header MAC with the file key found.
Stanzas of other types are skipped (the spec's "grease"), except that a passphrase (scrypt)
stanza must be alone in the header.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.age import x25519
from engine.age.header import Header, parse_header
from engine.age.keys import Identity
from engine.age.primitives import PAYLOAD_NONCE_SIZE, payload_key
from engine.age.source import Source
from engine.errors import AgeHeaderError, AgeNoIdentityMatch

_SCRYPT = "scrypt"


def find_file_key(header: Header, identities: Sequence[Identity]) -> bytes:
    if not identities:
        raise AgeNoIdentityMatch(
            "no identity was given to open the age file", hint="pass the AGE-SECRET-KEY-1… identity file"
        )
    types = [s.type for s in header.stanzas]
    if _SCRYPT in types and len(types) > 1:
        raise AgeHeaderError(
            "malformed age header: a passphrase (scrypt) stanza must be the only stanza",
            hint="ask the sender to re-send the file",
        )
    candidates = [(s, x25519.check_stanza(s)) for s in header.stanzas if s.type == x25519.STANZA_TYPE]
    for stanza, share in candidates:
        for identity in identities:
            file_key = x25519.unwrap(stanza, share, identity)
            if file_key is not None:
                header.verify_mac(file_key)
                return file_key
    if not candidates:
        kinds = ", ".join(sorted(set(types))) or "none"
        raise AgeNoIdentityMatch(
            f"the age file has no X25519 recipient stanza (stanza types: {kinds}); "
            "passphrase, post-quantum and plugin recipients are not supported",
            hint="ask the sender to encrypt to our X25519 recipient (age1…)",
        )
    ours = ", ".join(str(i.recipient()) for i in identities[:3]) + (" …" if len(identities) > 3 else "")
    raise AgeNoIdentityMatch(
        f"none of our {len(identities)} identities opens this age file "
        f"({len(candidates)} X25519 recipient(s) in it; ours: {ours})",
        hint="check you have the right identity, or ask the sender to encrypt to our recipient",
    )


def open_payload(src: Source, identities: Sequence[Identity]) -> tuple[bytes, Header]:
    """Parse and verify the header, read the payload nonce; return (payload key, header)."""
    header = parse_header(src)
    file_key = find_file_key(header, identities)
    nonce = src.read_exact(PAYLOAD_NONCE_SIZE)
    if len(nonce) != PAYLOAD_NONCE_SIZE:
        raise AgeHeaderError(
            f"the age file ends {len(nonce)} bytes into the {PAYLOAD_NONCE_SIZE}-byte payload nonce "
            "after its header: it was cut short",
            hint="ask the sender to re-send the file",
        )
    return payload_key(file_key, nonce), header
