"""age's ASCII armor: strict PEM of type ``AGE ENCRYPTED FILE``.

Accepted: optional whitespace before and after (at most 1 KiB each side), the BEGIN line, base64
lines of exactly 64 columns except a last one of 1-64, the END line; LF or CRLF line ends;
canonical padded base64. Refused: PEM headers, blank or indented lines, trailing spaces,
checksums, short lines before the last, anything but whitespace around the block.

The reader streams: the END line and what follows are checked before it reports end of input,
so a payload decryptor reading from it never accepts a final chunk whose armor is bad.
"""

from __future__ import annotations

import binascii
from typing import BinaryIO

from engine.age.source import Source
from engine.age.strict_base64 import Base64Error, decode_padded
from engine.errors import AgeArmorError

BEGIN = b"-----BEGIN AGE ENCRYPTED FILE-----"
END = b"-----END AGE ENCRYPTED FILE-----"
COLUMNS = 64
BYTES_PER_LINE = COLUMNS // 4 * 3
MAX_WHITESPACE = 1024
WHITESPACE = b" \t\r\n\v\f"

_BLOCK = 256 * 1024  # armored text read at a time
_HINT = "ask the sender to re-send the file, or to send it unarmored (binary)"


def is_armored(prefix: bytes) -> bool:
    """True if a file starting with ``prefix`` is (meant to be) ASCII-armored.

    Anything whose first non-blank bytes are ``-----`` is treated as armor, so a damaged
    BEGIN line is reported as an armor error rather than "not an age file". A prefix of only
    whitespace also counts: a binary age file never starts with it, armor may.
    """
    rest = prefix.lstrip(WHITESPACE)
    return rest.startswith(b"-----") or (bool(prefix) and not rest)


def _armor_error(what: str) -> AgeArmorError:
    return AgeArmorError(f"invalid age ASCII armor: {what}", hint=_HINT)


class ArmorReader:
    """Decodes armored text from a Source into the binary age file, strictly and in bounded memory."""

    def __init__(self, src: Source) -> None:
        self._src = src
        self._text = bytearray()  # armored text read but not yet decoded
        self._eof = False
        self._started = False
        self._expect_end = False  # a short line was seen: only the END line may follow
        self._ended = False
        self._leading = 0
        self._out = bytearray()
        self._out_pos = 0

    # -- text supply ----------------------------------------------------------------------------

    def _more_text(self) -> bool:
        chunk = self._src.read_exact(_BLOCK)
        if not chunk:
            self._eof = True
            return False
        self._text += chunk
        return True

    def _next_line(self) -> tuple[bytes, bool] | None:
        """The next line without its end (``\\n`` or ``\\r\\n``) and whether it had one; None: read more."""
        idx = self._text.find(b"\n")
        if idx < 0:
            if not self._eof:
                if len(self._text) > MAX_WHITESPACE + len(BEGIN) + 2:
                    raise _armor_error(f"a line is longer than {COLUMNS} columns")
                return None
            line, had_newline = bytes(self._text), False
            self._text.clear()
        else:
            line, had_newline = bytes(self._text[:idx]), True
            del self._text[: idx + 1]
        if line.endswith(b"\r"):
            line = line[:-1]
        return line, had_newline

    # -- decoding --------------------------------------------------------------------------------

    def _check_trailing(self) -> None:
        rest = bytes(self._text) + self._src.read_exact(MAX_WHITESPACE + 1)
        self._text.clear()
        if rest.strip(WHITESPACE):
            raise _armor_error("data follows the END line")
        if len(rest) > MAX_WHITESPACE:
            raise _armor_error(f"more than {MAX_WHITESPACE} bytes of whitespace follow the END line")

    def _start(self, line: bytes, had_newline: bool) -> None:
        if not line.strip(WHITESPACE) and had_newline:
            self._leading += len(line) + 1
            if self._leading > MAX_WHITESPACE:
                raise _armor_error(f"more than {MAX_WHITESPACE} bytes of whitespace before the BEGIN line")
            return
        if line != BEGIN:
            raise _armor_error(f"the first line is not {BEGIN.decode()}")
        self._started = True

    def _decode_line(self, line: bytes, had_newline: bool) -> None:
        if line == END:
            self._ended = True
            self._check_trailing()
            return
        if not had_newline and not line:
            raise _armor_error("the END line is missing: the file was cut short")
        if self._expect_end:
            raise _armor_error("expected the END line after the short last line, found another line")
        if not had_newline:
            raise _armor_error("the END line is missing: the file was cut short")
        if not line:
            raise _armor_error("empty line inside the armor")
        if len(line) > COLUMNS:
            raise _armor_error(f"a line is longer than {COLUMNS} columns")
        try:
            data = decode_padded(line)
        except Base64Error as exc:
            raise _armor_error(str(exc)) from None
        self._out += data
        if len(data) < BYTES_PER_LINE:
            self._expect_end = True

    def _full_lines(self) -> bool:
        """Fast path: decode the run of whole 64-column lines at the front of the text, if any.

        Line ends are checked by position (every 65th byte, or 65th/66th for CRLF) and by the
        length left after removing them; the strict decoder then checks the alphabet.
        """
        text = self._text
        if len(text) <= COLUMNS or text.find(b"\n", 0, COLUMNS) != -1:
            return False
        if text[COLUMNS] == 0x0A:
            stride, eol = COLUMNS + 1, b"\n"
            count = len(text) // stride
            count -= len(text[COLUMNS : count * stride : stride].lstrip(b"\n"))
        elif text[COLUMNS] == 0x0D and len(text) > COLUMNS + 1 and text[COLUMNS + 1] == 0x0A:
            stride, eol = COLUMNS + 2, b"\r\n"
            count = len(text) // stride
            count -= max(
                len(text[COLUMNS : count * stride : stride].lstrip(b"\r")),
                len(text[COLUMNS + 1 : count * stride : stride].lstrip(b"\n")),
            )
        else:
            return False
        if count == 0:
            return False
        block = bytes(text[: count * stride]).replace(eol, b"")
        if len(block) != count * COLUMNS:
            return False  # a line end inside a line: let the line-by-line path report it
        try:
            data = binascii.a2b_base64(block, strict_mode=True)
        except binascii.Error as exc:
            raise _armor_error(f"invalid base64: {exc}") from None
        if len(data) != count * BYTES_PER_LINE:
            # Padding ends the last line: it must be canonical, and only END may follow.
            try:
                decode_padded(block[-COLUMNS:])
            except Base64Error as exc:
                raise _armor_error(str(exc)) from None
            self._expect_end = True
        self._out += data
        del text[: count * stride]
        return True

    def _produce(self) -> None:
        """Decode more text into ``_out``; leaves it empty only at the (checked) end."""
        self._out.clear()
        self._out_pos = 0
        while not self._out and not self._ended:
            if self._started and not self._expect_end and self._full_lines():
                continue
            got = self._next_line()
            if got is None:
                self._more_text()
                continue
            line, had_newline = got
            if not self._started:
                if not line and not had_newline:
                    raise _armor_error("no BEGIN line: the input is empty or only whitespace")
                self._start(line, had_newline)
            else:
                self._decode_line(line, had_newline)

    # -- file-like ----------------------------------------------------------------------------

    def readinto(self, buffer: memoryview | bytearray) -> int:
        if self._out_pos >= len(self._out):
            if self._ended:
                return 0
            self._produce()
        n = min(len(buffer), len(self._out) - self._out_pos)
        memoryview(buffer)[:n] = memoryview(self._out)[self._out_pos : self._out_pos + n]
        self._out_pos += n
        return n

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            parts = []
            while chunk := self.read(1 << 20):
                parts.append(chunk)
            return b"".join(parts)
        buf = bytearray(n)
        got = self.readinto(buf)
        return bytes(buf[:got])


class ArmorWriter:
    """Writes armored text to ``dst``: BEGIN line, 64-column lines, END line (LF ends)."""

    def __init__(self, dst: BinaryIO) -> None:
        self._dst = dst
        self._pending = bytearray()  # fewer than BYTES_PER_LINE bytes
        self._closed = False
        dst.write(BEGIN + b"\n")

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._pending += data
        whole = len(self._pending) // BYTES_PER_LINE * BYTES_PER_LINE
        if whole:
            encoded = binascii.b2a_base64(memoryview(self._pending)[:whole], newline=False)
            lines = [encoded[i : i + COLUMNS] for i in range(0, len(encoded), COLUMNS)]
            lines.append(b"")
            self._dst.write(b"\n".join(lines))
            del self._pending[:whole]
        return len(data)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        tail = binascii.b2a_base64(bytes(self._pending), newline=True) if self._pending else b""
        self._dst.write(tail + END + b"\n")


def dearmor(src: BinaryIO, dst: BinaryIO) -> int:
    """Turn an armored age file into the binary one (e.g. before sharding); return bytes written."""
    reader = ArmorReader(Source(src))
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    total = 0
    while n := reader.readinto(view):
        dst.write(view[:n])
        total += n
    return total
