"""The payload errors, each with its cause and what to do, built in one place.

A payload failure names the chunk index so an operator can tell a cut transfer (the end is
missing) from corruption in the middle, and every message ends with the same advice.
"""

from __future__ import annotations

from engine.age.primitives import ENC_CHUNK_SIZE
from engine.errors import (
    AgeChunkAuthError,
    AgePayloadError,
    AgeTrailingDataError,
    AgeTruncatedError,
)

RESEND = "ask the sender to re-send the file"


class AgeTruncatedOrAlteredError(AgeTruncatedError, AgeChunkAuthError):
    """The last, partial chunk fails authentication: the file was cut inside it, or altered.

    Cryptography cannot tell the two apart, so this is both an AgeTruncatedError and an
    AgeChunkAuthError; the common cause is a transfer that stopped part-way.
    """


def no_chunks_error() -> AgeTruncatedError:
    return AgeTruncatedError(
        "the age payload is empty (not even a final chunk): the file was cut short after its header",
        hint=RESEND,
    )


def missing_final_error(index: int) -> AgeTruncatedError:
    return AgeTruncatedError(
        f"the age payload ends after chunk {index - 1} without a final chunk: "
        "the file was cut short at a chunk boundary",
        hint=RESEND,
    )


def short_chunk_error(index: int, size: int) -> AgeTruncatedError:
    return AgeTruncatedError(
        f"the age payload ends {size} bytes into chunk {index}, before its authentication tag: "
        "the file was cut short",
        hint=RESEND,
    )


def last_chunk_error(index: int, size: int) -> AgePayloadError:
    if size < ENC_CHUNK_SIZE:
        return AgeTruncatedOrAlteredError(
            f"the last chunk ({index}, {size} bytes) fails authentication: "
            "the file was cut short inside it, altered, or has data appended",
            hint=RESEND,
        )
    return AgeChunkAuthError(
        f"chunk {index} (the last) fails authentication: the file was altered or damaged",
        hint=RESEND,
    )


def short_non_final_error(index: int) -> AgeTruncatedError:
    return AgeTruncatedError(
        f"the age payload ends with chunk {index}, which is not marked final (and is shorter "
        "than 64 KiB, which no age writer produces): the final chunk is missing",
        hint=RESEND,
    )


def chunk_auth_error(index: int) -> AgeChunkAuthError:
    return AgeChunkAuthError(
        f"chunk {index} fails authentication: the file was altered, damaged or its chunks reordered",
        hint=RESEND,
    )


def trailing_data_error(index: int) -> AgeTrailingDataError:
    return AgeTrailingDataError(
        f"data follows the final chunk ({index}): the file was altered or two files were joined",
        hint=RESEND,
    )


def empty_final_error(index: int) -> AgeChunkAuthError:
    return AgeChunkAuthError(
        f"chunk {index} is an empty final chunk, which age forbids after other chunks: "
        "the file was altered or written by a faulty encoder",
        hint=RESEND,
    )


def impossible_size_error(size: int, last_index: int) -> AgePayloadError:
    return AgePayloadError(
        f"the age payload size ({size} bytes) is impossible: it would end in an empty "
        f"chunk {last_index} after full ones (altered, or data appended after the final chunk)",
        hint=RESEND,
    )
