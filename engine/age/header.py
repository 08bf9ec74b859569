"""The age v1 text header: version line, recipient stanzas, MAC line.

Parsing is strict because the header is authenticated only by its MAC, which needs the file
key, which needs a stanza: every byte must have exactly one valid reading (canonical base64,
64-column body lines ending with a short line, printable-ASCII arguments, LF line ends).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from engine.age.primitives import VERSION_LINE, header_mac
from engine.age.source import Source
from engine.age.strict_base64 import Base64Error, decode_unpadded, encode_unpadded
from engine.errors import AgeHeaderError, AgeHmacError

COLUMNS = 64  # base64 characters per full body line
BYTES_PER_LINE = COLUMNS // 4 * 3
MAC_SIZE = 32
MAX_LINE = 64 * 1024  # a stanza line is ~100 bytes; post-quantum ones ~1.5 KB
MAX_HEADER = 4 * 1024 * 1024  # ~30 000 recipients; refuses a header that never ends

_RESEND = "ask the sender to re-send the file"


@dataclass(frozen=True)
class Stanza:
    args: tuple[str, ...]  # args[0] is the stanza type, e.g. "X25519"
    body: bytes

    @property
    def type(self) -> str:
        return self.args[0]


@dataclass(frozen=True)
class Header:
    stanzas: tuple[Stanza, ...]
    mac: bytes
    mac_input: bytes  # header bytes up to and including "---"
    size: int  # header bytes including the MAC line's newline

    def verify_mac(self, file_key: bytes) -> None:
        if not hmac.compare_digest(header_mac(file_key, self.mac_input), self.mac):
            raise AgeHmacError(
                "the age header MAC does not verify: the header was altered or damaged",
                hint=_RESEND,
            )


def _header_error(what: str, hint: str = _RESEND) -> AgeHeaderError:
    return AgeHeaderError(f"malformed age header: {what}", hint=hint)


def _is_vchar_arg(arg: bytes) -> bool:
    return bool(arg) and all(0x21 <= b <= 0x7E for b in arg)


def _read_line(src: Source, total: int) -> bytes:
    line = src.readline(MAX_LINE)
    if not line.endswith(b"\n"):
        if len(line) >= MAX_LINE:
            raise _header_error(f"a line is longer than {MAX_LINE} bytes")
        raise _header_error("the file ends inside the header (it was cut short)")
    if total + len(line) > MAX_HEADER:
        raise _header_error(f"the header is larger than {MAX_HEADER} bytes")
    return line


def _check_version(first: bytes) -> None:
    if first == VERSION_LINE + b"\n":
        return
    if not first:
        raise _header_error("the file is empty", hint="check the producer wrote the file completely")
    if first == VERSION_LINE + b"\r\n":
        raise _header_error("header lines must end with LF, not CRLF (was it converted as text?)")
    if not first.endswith(b"\n") and VERSION_LINE.startswith(first):
        raise _header_error("the file ends inside the header (it was cut short)")
    if first.startswith(b"age-encryption.org/"):
        version = first.rstrip(b"\n")[:80].decode("ascii", "replace")
        raise _header_error(
            f"unsupported age format version {version!r}; only age-encryption.org/v1 is known",
            hint="ask the sender to encrypt with a standard age tool",
        )
    raise _header_error(
        "not an age file (the first line is not age-encryption.org/v1)",
        hint="check the file is age-encrypted and was transferred in binary mode",
    )


def parse_header(src: Source) -> Header:
    """Read and check the header's syntax; stops right after the MAC line's newline."""
    first = src.readline(256)
    _check_version(first)
    raw = bytearray(first)
    stanzas: list[Stanza] = []
    while True:
        line = _read_line(src, len(raw))
        if line.startswith(b"--- "):
            try:
                mac = decode_unpadded(line[4:-1])
            except Base64Error as exc:
                raise _header_error(f"the MAC line is not canonical base64 ({exc})") from None
            if len(mac) != MAC_SIZE:
                raise _header_error(f"the MAC is {len(mac)} bytes, not {MAC_SIZE}")
            mac_input = bytes(raw) + b"---"
            return Header(tuple(stanzas), mac, mac_input, len(raw) + len(line))
        if not line.startswith(b"-> "):
            raise _header_error(f"line {len(raw.splitlines()) + 1} is neither a stanza (->) nor the MAC (---)")
        raw += line
        args = line[3:-1].split(b" ")
        if not all(_is_vchar_arg(a) for a in args):
            raise _header_error("a stanza argument is empty or has characters outside printable ASCII")
        body = bytearray()
        while True:
            body_line = _read_line(src, len(raw))
            raw += body_line
            text = body_line[:-1]
            if len(text) > COLUMNS:
                raise _header_error(f"a stanza body line is longer than {COLUMNS} columns")
            try:
                body += decode_unpadded(text)
            except Base64Error as exc:
                raise _header_error(f"a stanza body is not canonical base64 ({exc})") from None
            if len(text) < COLUMNS:  # the short (possibly empty) line ends the stanza
                break
        stanzas.append(Stanza(tuple(a.decode("ascii") for a in args), bytes(body)))


def encode_stanza(stanza: Stanza) -> bytes:
    out = bytearray(b"-> " + " ".join(stanza.args).encode("ascii") + b"\n")
    body = stanza.body
    for i in range(0, len(body), BYTES_PER_LINE):
        out += encode_unpadded(body[i : i + BYTES_PER_LINE]) + b"\n"
    if len(body) % BYTES_PER_LINE == 0:
        out += b"\n"  # a full last line must be followed by an empty one
    return bytes(out)


def encode_header(stanzas: list[Stanza], file_key: bytes) -> bytes:
    mac_input = VERSION_LINE + b"\n" + b"".join(encode_stanza(s) for s in stanzas) + b"---"
    return mac_input + b" " + encode_unpadded(header_mac(file_key, mac_input)) + b"\n"
