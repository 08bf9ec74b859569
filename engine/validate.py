"""Checking a generic file against the contract without loading it (``cmpctl validate``)."""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, Sequence

from engine import age
from engine.errors import AgeError, EngineError
from engine.generic.header import FileHeader
from engine.generic.depth import DEFAULT_MAX_DEPTH
from engine.generic.reader import DEFAULT_MAX_LINE_BYTES, read_generic


@dataclass(frozen=True)
class InvalidRecord:
    line_no: int
    raw: str
    reasons: tuple[str, ...]


@dataclass
class ValidationReport:
    file: str
    header: FileHeader | None = None
    records: int = 0
    valid: int = 0
    invalid: list[InvalidRecord] = field(default_factory=list)
    invalid_total: int = 0  # may exceed len(invalid) when the listing was capped

    @property
    def ok(self) -> bool:
        return self.invalid_total == 0

    def to_dict(self) -> dict:
        h = self.header
        return {
            "file": self.file,
            "header": None
            if h is None
            else {
                "interfaceCategory": h.interface_category,
                "interfaceType": h.interface_type,
                "version": h.version,
                "identifier": h.identifier,
                "createdAt": h.created_at.isoformat(),
                "recordCount": h.record_count,
            },
            "records": self.records,
            "valid": self.valid,
            "invalid": self.invalid_total,
            "errors": [
                {"line": r.line_no, "raw": r.raw, "reasons": list(r.reasons)} for r in self.invalid
            ],
        }


def open_plaintext(path: Path, identities: Sequence["age.Identity"] | None, *, plain: bool = False) -> BinaryIO:
    """The file's plaintext as a stream: decrypted (binary or armored age) unless ``plain``."""
    src = open(path, "rb")
    if plain:
        return src
    prefix = src.read(64)
    src.seek(0)
    if not (prefix.startswith(b"age-encryption.org/") or age.is_armored(prefix)):
        src.close()
        raise AgeError(
            "not an age-encrypted file",
            file=str(path),
            hint="generic files must be encrypted with age to this engine's recipient "
            "(`cmpctl encrypt -r $(cmpctl keys recipient)`), or pass --plain for plaintext",
        )
    if not identities:
        src.close()
        raise AgeError("no identity to decrypt with", file=str(path), hint="pass -i IDENTITY or run `cmpctl init`")
    return age.open_decrypt(src, identities)


def validate_stream(
    plaintext: BinaryIO,
    *,
    file: str,
    max_listed: int = 1000,
    on_progress: Callable[[int], None] | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> ValidationReport:
    """Read every record of ``plaintext`` and collect the invalid ones (at most ``max_listed``).

    The records go through the loader's own kernel (engine.generic.parse_records, with the same
    line cutter), so a file validates exactly as it would load. File-level breaks (header,
    record count, damaged encryption) raise: they reject the file.
    """
    report = ValidationReport(file=file)
    header, blocks = read_generic(plaintext, file=file, max_line_bytes=max_line_bytes, max_depth=max_depth)
    report.header = header
    for block in blocks:
        report.records += block.valid.num_rows + block.invalid.num_rows
        report.valid += block.valid.num_rows
        report.invalid_total += block.invalid.num_rows
        room = max_listed - len(report.invalid)
        if room > 0 and block.invalid.num_rows:
            rows = block.invalid.slice(0, room).to_pylist()
            report.invalid.extend(InvalidRecord(r["line_no"], r["raw"], tuple(r["reasons"])) for r in rows)
        if on_progress:
            on_progress(report.records)
    return report


def validate_file(
    path: Path,
    identities: Sequence["age.Identity"] | None,
    *,
    plain: bool = False,
    max_listed: int = 1000,
    on_progress: Callable[[int], None] | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> ValidationReport:
    try:
        with closing(open_plaintext(path, identities, plain=plain)) as stream:
            return validate_stream(stream, file=str(path), max_listed=max_listed, on_progress=on_progress,
                                   max_line_bytes=max_line_bytes, max_depth=max_depth)
    except EngineError as exc:
        exc.file = exc.file or str(path)  # every rejection names the file
        raise
