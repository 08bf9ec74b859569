"""A read-side wrapper that lets the header parser look ahead without losing bytes.

The header is parsed line by line from a buffer; whatever was read past it stays here and is
handed to the payload decryptor first. ``consumed`` counts the bytes handed out, which gives
the absolute offset of the payload for random access without needing ``tell()``.
"""

from __future__ import annotations

from typing import BinaryIO, Protocol

_READ_BLOCK = 64 * 1024


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


class Source:
    """Buffered front of a binary stream: ``peek``, ``readline``, ``readinto``, ``read_exact``."""

    def __init__(self, raw: BinaryIO | Readable) -> None:
        self._raw = raw
        self._raw_readinto = getattr(raw, "readinto", None)
        self._buf = bytearray()
        self._pos = 0
        self._eof = False
        self.consumed = 0

    @property
    def raw(self) -> BinaryIO | Readable:
        """The stream this wraps (an armor decoder's Source wraps that decoder, not the file)."""
        return self._raw

    # -- internal -------------------------------------------------------------------------

    def _raw_read(self, mv: memoryview) -> int:
        if self._raw_readinto is not None:
            n = self._raw_readinto(mv)
            return n or 0  # None (non-blocking, no data) is treated as end of input
        data = self._raw.read(len(mv))
        mv[: len(data)] = data
        return len(data)

    def _fill(self, want: int) -> None:
        """Make at least ``want`` unread bytes buffered, unless the stream ends first."""
        if self._pos:
            del self._buf[: self._pos]
            self._pos = 0
        while len(self._buf) < want and not self._eof:
            chunk = self._raw.read(max(_READ_BLOCK, want - len(self._buf)))
            if not chunk:
                self._eof = True
            else:
                self._buf += chunk

    def _take(self, n: int) -> bytes:
        out = bytes(self._buf[self._pos : self._pos + n])
        self._pos += len(out)
        self.consumed += len(out)
        return out

    # -- public ---------------------------------------------------------------------------

    def peek(self, n: int) -> bytes:
        """Up to ``n`` upcoming bytes, without consuming them (fewer only at end of input)."""
        if len(self._buf) - self._pos < n:
            self._fill(n)
        return bytes(self._buf[self._pos : self._pos + n])

    def readline(self, limit: int) -> bytes:
        """One line including its ``\\n``; at end of input, the rest without one.

        Returns at most ``limit`` bytes: a longer line comes back cut, without its ``\\n``,
        which callers treat as an error.
        """
        scanned = 0  # bytes after _pos already searched for a newline
        while True:
            end = min(len(self._buf), self._pos + limit)
            idx = self._buf.find(b"\n", self._pos + scanned, end)
            if idx >= 0:
                return self._take(idx + 1 - self._pos)
            avail = len(self._buf) - self._pos
            if avail >= limit or self._eof:
                return self._take(min(avail, limit))
            scanned = avail
            self._fill(avail + _READ_BLOCK)  # compacts the buffer: _pos becomes 0

    def read_exact(self, n: int) -> bytes:
        """``n`` bytes, or fewer only at end of input."""
        if len(self._buf) - self._pos < n:
            self._fill(n)
        return self._take(n)

    def readinto(self, mv: memoryview) -> int:
        """Fill ``mv`` as far as one underlying read allows; 0 means end of input."""
        buffered = len(self._buf) - self._pos
        if buffered:
            n = min(buffered, len(mv))
            mv[:n] = self._buf[self._pos : self._pos + n]
            self._pos += n
            self.consumed += n
            if self._pos == len(self._buf):
                self._buf.clear()
                self._pos = 0
            return n
        if self._eof:
            return 0
        n = self._raw_read(mv)
        if n == 0:
            self._eof = True
        self.consumed += n
        return n

    def readinto_full(self, mv: memoryview) -> int:
        """Fill ``mv`` completely unless the input ends first; return the byte count."""
        total = 0
        size = len(mv)
        while total < size:
            n = self.readinto(mv[total:])
            if n == 0:
                break
            total += n
        return total
