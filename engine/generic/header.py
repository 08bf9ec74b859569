"""The generic-file header: line 1 of every file (FORMATS.md, schemas/header.schema.json).

The header is one small line, so it is checked in plain Python; a broken header rejects the
whole file with a FormatError that names line 1, the field and what to fix.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime

from engine.errors import FormatError
from engine.generic.depth import DEFAULT_MAX_DEPTH, depth_reason, line_depth
from engine.generic.explain import json_type

INTERFACE_CATEGORY = "Provisioning"
VERSION = "1.0"
INTERFACE_TYPES: tuple[str, ...] = (
    "Order",
    "Response",
    "Request",
    "Bill Cycle Change Request",
    "Bill Cycle Change Response",
)
TIME_FIELDS: tuple[str, ...] = ("extractDateTime", "loadDateTime")
HEADER_FIELDS: tuple[str, ...] = (
    "interfaceCategory",
    "interfaceType",
    "version",
    "identifier",
    *TIME_FIELDS,
    "recordCount",
)
MAX_RECORD_COUNT = 2**53 - 1  # JSON-safe integer; the schema says the same

IDENTIFIER_RE = re.compile(r"[A-Za-z0-9._-]{1,64}\Z")
# RFC 3339 as the schemas' dateTime pattern says: upper-case T and Z, no leap second.
DATE_TIME_RE = re.compile(
    r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"(\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])\Z"
)
_BOM = b"\xef\xbb\xbf"


def parse_rfc3339(text: str) -> datetime | None:
    """The aware datetime of an RFC 3339 date-time as the schemas allow it, or None."""
    if not DATE_TIME_RE.match(text):
        return None
    main, _, rest = text.partition(".")
    if rest:  # Python keeps microseconds: cut the fraction to 6 digits, keep the offset
        digits = re.match(r"[0-9]+", rest).group()  # type: ignore[union-attr]
        text = f"{main}.{digits[:6].ljust(6, '0')}{rest[len(digits):]}"
    try:
        return datetime.fromisoformat(text)
    except ValueError:  # a day the month lacks, or year 0
        return None


def format_rfc3339(value: datetime) -> str:
    """RFC 3339 text of an aware datetime: `Z` for UTC, microseconds only when non-zero."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"datetime must be timezone-aware, got {value!r}")
    spec = "seconds" if value.microsecond == 0 else "microseconds"
    text = value.isoformat(timespec=spec)
    return text[:-6] + "Z" if text.endswith("+00:00") else text


@dataclass(frozen=True, kw_only=True)
class FileHeader:
    """Line 1 of a generic file. `created_at` is the extractDateTime or the loadDateTime."""

    interface_category: str = INTERFACE_CATEGORY
    interface_type: str
    version: str = VERSION
    identifier: str
    created_at: datetime
    record_count: int
    #: which header field carries created_at: outbound files say extractDateTime
    time_field: str = field(default="extractDateTime")

    def __post_init__(self) -> None:  # a header built in code that breaks the contract is a bug
        problems = []
        if self.interface_category != INTERFACE_CATEGORY:
            problems.append(f"interface_category must be {INTERFACE_CATEGORY!r}")
        if self.interface_type not in INTERFACE_TYPES:
            problems.append(f"interface_type must be one of {INTERFACE_TYPES}")
        if self.version != VERSION:
            problems.append(f"version must be {VERSION!r}")
        if not isinstance(self.identifier, str) or not IDENTIFIER_RE.match(self.identifier):
            problems.append("identifier must be 1-64 characters of A-Z a-z 0-9 . _ -")
        if not isinstance(self.created_at, datetime) or self.created_at.utcoffset() is None:
            problems.append("created_at must be a timezone-aware datetime")
        if (
            not isinstance(self.record_count, int)
            or isinstance(self.record_count, bool)
            or not 0 <= self.record_count <= MAX_RECORD_COUNT
        ):
            problems.append("record_count must be an integer >= 0")
        if self.time_field not in TIME_FIELDS:
            problems.append(f"time_field must be one of {TIME_FIELDS}")
        if problems:
            raise ValueError("invalid FileHeader: " + "; ".join(problems))

    def to_dict(self) -> dict[str, object]:
        return {
            "interfaceCategory": self.interface_category,
            "interfaceType": self.interface_type,
            "version": self.version,
            "identifier": self.identifier,
            self.time_field: format_rfc3339(self.created_at),
            "recordCount": self.record_count,
        }

    def to_json_line(self) -> bytes:
        """The header as written on line 1: compact JSON, UTF-8, `\\n`-terminated."""
        return json.dumps(self.to_dict(), separators=(",", ":")).encode() + b"\n"


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON value")


def parse_header(line: bytes, *, file: str, max_depth: int = DEFAULT_MAX_DEPTH) -> FileHeader:
    """Parse and check line 1 of a generic file; FormatError (line 1) says what is wrong.

    Nesting deeper than `max_depth` is found on the bytes before json sees the line (Python's
    json raises RecursionError near 1,000 levels)."""

    def fail(message: str, field_name: str | None = None, hint: str | None = None) -> FormatError:
        return FormatError(f"header: {message}", file=file, line=1, field=field_name, hint=hint)

    raw = bytes(line)
    if raw.startswith(_BOM):  # tolerated: some Windows tools write one
        raw = raw[len(_BOM) :]
    raw = raw.removesuffix(b"\n").removesuffix(b"\r")
    if not raw.strip():
        raise fail("line 1 is empty", hint="the first line must be the header object")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise fail(f"not valid UTF-8 at byte {exc.start}", hint="write the file in UTF-8") from None
    if raw.count(b"{") + raw.count(b"[") > max_depth and (depth := line_depth(raw)) > max_depth:
        raise fail(depth_reason(depth, max_depth), hint="line 1 must be the flat header object")
    try:
        obj = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:  # only reachable with a very large max_depth
        raise fail(f"nested too deeply for a JSON parser (max_depth is {max_depth})") from None
    except ValueError as exc:
        col = f" at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        msg = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise fail(f"not valid JSON{col}: {msg}") from None
    if not isinstance(obj, dict):
        raise fail(f"must be a JSON object, got {json_type(obj)}")

    unknown = [k for k in obj if k not in HEADER_FIELDS]
    if unknown:
        names = ", ".join(json.dumps(k) for k in unknown)
        raise fail(f"unknown field {names}", unknown[0], hint="allowed: " + ", ".join(HEADER_FIELDS))
    for name in ("interfaceCategory", "interfaceType", "version", "identifier", "recordCount"):
        if name not in obj:
            raise fail(f"missing field {name}", name)
    present_times = [k for k in TIME_FIELDS if k in obj]
    if len(present_times) != 1:
        what = "both" if present_times else "neither"
        raise fail(
            f"needs exactly one of extractDateTime and loadDateTime, has {what}",
            "extractDateTime",
            hint="outbound files carry extractDateTime, inbound files loadDateTime",
        )
    time_field = present_times[0]
    for name in ("interfaceCategory", "interfaceType", "version", "identifier", time_field):
        if not isinstance(obj[name], str):
            raise fail(f"{name} must be a string, got {json_type(obj[name])}", name)

    if obj["interfaceCategory"] != INTERFACE_CATEGORY:
        raise fail(f"interfaceCategory must be {INTERFACE_CATEGORY!r}, got {obj['interfaceCategory']!r}", "interfaceCategory")
    if obj["interfaceType"] not in INTERFACE_TYPES:
        raise fail(
            f"unknown interfaceType {obj['interfaceType']!r}",
            "interfaceType",
            hint="one of: " + ", ".join(INTERFACE_TYPES),
        )
    if obj["version"] != VERSION:
        raise fail(f"version must be {VERSION!r}, got {obj['version']!r}", "version", hint="this engine reads version 1.0")
    if not IDENTIFIER_RE.match(obj["identifier"]):
        raise fail(
            f"bad identifier {obj['identifier']!r}",
            "identifier",
            hint="1-64 characters of A-Z a-z 0-9 . _ -",
        )
    created_at = parse_rfc3339(obj[time_field])
    if created_at is None:
        raise fail(
            f"{time_field} is not an RFC 3339 date-time: {obj[time_field]!r}",
            time_field,
            hint="e.g. 2026-11-25T06:00:00Z",
        )
    count = obj["recordCount"]
    if isinstance(count, float) and count.is_integer():  # JSON 250000.0 is an integer
        count = int(count)
    if not isinstance(count, int) or isinstance(count, bool):
        raise fail(f"recordCount must be an integer, got {json_type(count)}", "recordCount")
    if not 0 <= count <= MAX_RECORD_COUNT:
        raise fail(f"recordCount must be between 0 and {MAX_RECORD_COUNT}, got {count}", "recordCount")
    return FileHeader(
        interface_type=obj["interfaceType"],
        identifier=obj["identifier"],
        created_at=created_at,
        record_count=count,
        time_field=time_field,
    )
