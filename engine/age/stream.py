"""The STREAM payload: 64 KiB chunks, each sealed with ChaCha20-Poly1305 under the payload key.

The nonce of chunk i is i as 11 big-endian bytes, then 0x01 for the final chunk, else 0x00.
Only the final chunk may be shorter than 64 KiB, and it may be empty only when it is the only
chunk. Whether a full-size chunk is the final one is seen from whether data follows it.

Plaintext is only ever released per chunk after that chunk authenticated; on a failure the
plaintext of the chunks before it has been released (as age and the conformance vectors do)
and the error names the chunk.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from engine.age.payload_errors import (
    chunk_auth_error,
    empty_final_error,
    impossible_size_error,
    last_chunk_error,
    missing_final_error,
    no_chunks_error,
    short_chunk_error,
    short_non_final_error,
    trailing_data_error,
)
from engine.age.primitives import CHUNK_SIZE, ENC_CHUNK_SIZE, TAG_SIZE
from engine.age.source import Source
from engine.errors import AgePayloadError

DEFAULT_BATCH = 16  # chunks per read: 1 MiB reads, buffers stay in cache

_NONCE = struct.Struct(">3xQB")  # 11-byte big-endian counter (top 3 bytes zero) + last flag


def chunk_nonce(index: int, last: bool) -> bytes:
    return _NONCE.pack(index, last)


# -- random-access arithmetic --------------------------------------------------------------------


def chunk_count(file_size: int, payload_offset: int) -> int:
    """Number of chunks in a payload spanning ``payload_offset``..``file_size``.

    Raises when no valid payload has that size: empty (AgeTruncatedError), a last chunk shorter
    than its tag (AgeTruncatedError) or a last chunk that could only be an empty non-first
    final chunk (AgePayloadError).
    """
    size = file_size - payload_offset
    if size <= 0:
        raise no_chunks_error()
    count = -(-size // ENC_CHUNK_SIZE)
    last = size - (count - 1) * ENC_CHUNK_SIZE
    if last < TAG_SIZE:
        raise short_chunk_error(count - 1, last)
    if last == TAG_SIZE and count > 1:
        raise impossible_size_error(size, count - 1)
    return count


# -- streaming decryption ------------------------------------------------------------------------


class PayloadDecryptor:
    """Pulls ciphertext from a Source, returns authenticated plaintext a batch at a time."""

    def __init__(self, src: Source, payload_key: bytes, batch: int = DEFAULT_BATCH, *, first_index: int = 0) -> None:
        if batch < 2:
            raise ValueError("batch must be at least 2 chunks (one is kept back as look-ahead)")
        self._aead = ChaCha20Poly1305(payload_key)
        self._src = src
        self._cap = batch * ENC_CHUNK_SIZE
        self._in = bytearray(self._cap)
        self._in_mv = memoryview(self._in)
        self._out_mv = memoryview(bytearray(batch * CHUNK_SIZE))
        self._have = 0  # ciphertext bytes waiting at the front of _in
        self._index = first_index  # index of the next chunk (src starts at that chunk)
        self._finished = False
        self._error: AgePayloadError | None = None  # raised after the plaintext before it

    def _fail(self, error: AgePayloadError, released: int) -> memoryview:
        self._error = error
        if released:
            return self._out_mv[:released]
        raise error

    def next_block(self) -> memoryview:
        """The next run of authenticated plaintext; empty once the final chunk was returned.

        The view is valid until the next call (the buffer is reused).
        """
        if self._error is not None:
            raise self._error
        if self._finished:
            return self._out_mv[:0]
        have = self._have + self._src.readinto_full(self._in_mv[self._have :])
        at_eof = have < self._cap
        full, rest = divmod(have, ENC_CHUNK_SIZE)
        if at_eof:
            if have == 0:
                raise no_chunks_error() if self._index == 0 else missing_final_error(self._index)
            middle, last_size = (full - 1, ENC_CHUNK_SIZE) if rest == 0 else (full, rest)
        else:
            middle, last_size = full - 1, 0  # keep the last chunk: is it followed by data?

        aead, inp, out, pack = self._aead, self._in_mv, self._out_mv, _NONCE.pack
        index = self._index
        pos_in = pos_out = 0
        for _ in range(middle):  # chunks followed by more data: must be non-final
            try:
                aead.decrypt_into(
                    pack(index, 0),
                    inp[pos_in : pos_in + ENC_CHUNK_SIZE],
                    None,
                    out[pos_out : pos_out + CHUNK_SIZE],
                )
            except InvalidTag:
                try:  # a full final chunk with data after it?
                    aead.decrypt_into(
                        pack(index, 1),
                        inp[pos_in : pos_in + ENC_CHUNK_SIZE],
                        None,
                        out[pos_out : pos_out + CHUNK_SIZE],
                    )
                except InvalidTag:
                    return self._fail(chunk_auth_error(index), pos_out)
                return self._fail(trailing_data_error(index), pos_out + CHUNK_SIZE)
            index += 1
            pos_in += ENC_CHUNK_SIZE
            pos_out += CHUNK_SIZE
        self._index = index

        if not at_eof:
            inp[:ENC_CHUNK_SIZE] = inp[pos_in : pos_in + ENC_CHUNK_SIZE]
            self._have = ENC_CHUNK_SIZE
            return out[:pos_out]

        self._have = 0
        return self._last_chunk(inp[pos_in : pos_in + last_size], pos_out)

    def _last_chunk(self, chunk: memoryview, pos_out: int) -> memoryview:
        index, size = self._index, len(chunk)
        if size < TAG_SIZE:
            return self._fail(short_chunk_error(index, size), pos_out)
        plain = size - TAG_SIZE
        dest = self._out_mv[pos_out : pos_out + plain]
        try:
            self._aead.decrypt_into(_NONCE.pack(index, 1), chunk, None, dest)
        except InvalidTag:
            try:  # a genuine non-final chunk with nothing after it?
                self._aead.decrypt_into(_NONCE.pack(index, 0), chunk, None, dest)
            except InvalidTag:
                return self._fail(last_chunk_error(index, size), pos_out)
            if size < ENC_CHUNK_SIZE:  # authentic, not final, short: the writer never finished
                return self._fail(short_non_final_error(index), pos_out)
            self._index = index + 1  # cut exactly at a chunk boundary: this chunk is good
            return self._fail(missing_final_error(index + 1), pos_out + plain)
        if plain == 0 and index > 0:
            return self._fail(empty_final_error(index), pos_out)
        self._index = index + 1
        self._finished = True
        return self._out_mv[: pos_out + plain]


# -- random-access decryption --------------------------------------------------------------------


def decrypt_range_into(
    aead: ChaCha20Poly1305,
    ciphertext: memoryview,
    first: int,
    count: int,
    out: memoryview,
) -> int:
    """Decrypt consecutive chunks, the first being chunk ``first``, from ``ciphertext`` into ``out``.

    ``count`` is the payload's total chunk count, which fixes which chunk must be final.
    On failure the failing chunk's output is wiped before raising.
    """
    pack = _NONCE.pack
    last_index = count - 1
    pos_in = pos_out = 0
    end = len(ciphertext)
    index = first
    while pos_in < end:
        size = min(ENC_CHUNK_SIZE, end - pos_in)
        plain = size - TAG_SIZE
        src = ciphertext[pos_in : pos_in + size]
        dest = out[pos_out : pos_out + plain]
        is_last = index == last_index
        try:
            aead.decrypt_into(pack(index, is_last), src, None, dest)
        except InvalidTag:
            error = _classify_failure(aead, src, dest, index, is_last)
            dest[:] = bytes(plain)
            raise error from None
        index += 1
        pos_in += size
        pos_out += plain
    return pos_out


def _classify_failure(
    aead: ChaCha20Poly1305, src: memoryview, dest: memoryview, index: int, is_last: bool
) -> AgePayloadError:
    """Say why chunk ``index`` failed by trying the other value of the last flag."""
    try:
        aead.decrypt_into(_NONCE.pack(index, not is_last), src, None, dest)
    except InvalidTag:
        return last_chunk_error(index, len(src)) if is_last else chunk_auth_error(index)
    if not is_last:
        return trailing_data_error(index)
    if len(src) < ENC_CHUNK_SIZE:
        return short_non_final_error(index)
    return missing_final_error(index + 1)


# -- encryption ----------------------------------------------------------------------------------


class PayloadEncryptor:
    """Seals plaintext into chunks, holding back the last one until ``finish`` marks it final."""

    def __init__(
        self, payload_key: bytes, write: Callable[[memoryview], object], batch: int = DEFAULT_BATCH
    ) -> None:
        self._aead = ChaCha20Poly1305(payload_key)
        self._write = write
        self._batch = batch
        self._out_mv = memoryview(bytearray(batch * ENC_CHUNK_SIZE))
        self._pending = bytearray()  # at most one chunk; emitted once more data follows
        self._index = 0
        self.plaintext_size = 0

    def _emit_full(self, data: memoryview) -> None:
        """Seal whole, non-final chunks (``len(data)`` is a multiple of CHUNK_SIZE)."""
        aead, out, pack = self._aead, self._out_mv, _NONCE.pack
        total = len(data) // CHUNK_SIZE
        done = 0
        while done < total:
            n = min(self._batch, total - done)
            for k in range(n):
                start = (done + k) * CHUNK_SIZE
                aead.encrypt_into(
                    pack(self._index, 0),
                    data[start : start + CHUNK_SIZE],
                    None,
                    out[k * ENC_CHUNK_SIZE : (k + 1) * ENC_CHUNK_SIZE],
                )
                self._index += 1
            self._write(out[: n * ENC_CHUNK_SIZE])
            done += n

    def write(self, data: bytes | bytearray | memoryview) -> int:
        mv = memoryview(data).cast("B")
        size = len(mv)
        if not size:
            return 0
        self.plaintext_size += size
        if self._pending:
            need = CHUNK_SIZE - len(self._pending)
            if size <= need:
                self._pending += mv
                return size
            self._pending += mv[:need]
            mv = mv[need:]
            with memoryview(self._pending) as pending:  # more data follows it: non-final
                self._emit_full(pending)
            self._pending.clear()
        full = (len(mv) - 1) // CHUNK_SIZE  # keep at least one byte back for the final chunk
        if full:
            self._emit_full(mv[: full * CHUNK_SIZE])
        self._pending += mv[full * CHUNK_SIZE :]
        return size

    def finish(self) -> None:
        pending = bytes(self._pending)
        self._write(memoryview(self._aead.encrypt(_NONCE.pack(self._index, 1), pending, None)))
        self._pending.clear()
        self._index += 1
