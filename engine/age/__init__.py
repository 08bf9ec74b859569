"""age v1 (age-encryption.org/v1) for X25519 recipients, on the ``cryptography`` package only.

Streaming::

    encrypt(src, dst, recipients, armor=False) -> int          # plaintext bytes
    decrypt(src, dst, identities) -> int                         # binary or armored input
    open_encrypt(dst, recipients) -> AgeWriter                   # write(); close() seals
    open_decrypt(src, identities) -> AgeReader                   # read(); readinto()

Random access (sharding one file over processes)::

    header = read_header(f, identities)                          # AgeHeader, picklable
    n = chunk_count(file_size, header.payload_offset)            # plaintext_size(...) too
    decrypt_chunks(f, header, file_size, start, stop) -> bytes
    decrypt_chunks_into(..., out) / iter_decrypt_chunks(...)     # into caller / reused buffers
    is_armored(prefix), dearmor(src, dst)                        # armored files: dearmor first

Errors are the engine's: AgeHeaderError, AgeArmorError, AgeNoIdentityMatch, AgeHmacError and
the AgePayloadError family (AgeTruncatedError, AgeChunkAuthError, AgeTrailingDataError, and
AgeTruncatedOrAlteredError for a last chunk cut short or altered). Keys: KeyFormatError.
"""

from engine.age.armor import dearmor, is_armored
from engine.age.keys import Identity, Recipient, load_identities, parse_identities
from engine.age.primitives import CHUNK_SIZE, ENC_CHUNK_SIZE
from engine.age.random_access import (
    AgeHeader,
    decrypt_chunks,
    decrypt_chunks_into,
    iter_decrypt_chunks,
    plaintext_size,
    read_header,
)
from engine.age.reader import AgeReader, decrypt, open_decrypt
from engine.age.payload_errors import AgeTruncatedOrAlteredError
from engine.age.stream import chunk_count
from engine.age.writer import AgeWriter, encrypt, open_encrypt

__all__ = [
    "CHUNK_SIZE",
    "ENC_CHUNK_SIZE",
    "AgeHeader",
    "AgeReader",
    "AgeTruncatedOrAlteredError",
    "AgeWriter",
    "Identity",
    "Recipient",
    "chunk_count",
    "dearmor",
    "decrypt",
    "decrypt_chunks",
    "decrypt_chunks_into",
    "encrypt",
    "is_armored",
    "iter_decrypt_chunks",
    "load_identities",
    "open_decrypt",
    "open_encrypt",
    "parse_identities",
    "plaintext_size",
    "read_header",
]
