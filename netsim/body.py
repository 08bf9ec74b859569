"""Request-body checks shared by the OCS and Openet handlers.

The simulator is deliberately strict: an unknown field or a wrong type is a 400 with a reason
that names the field, so an adaptor bug (a misspelt field, an amount sent as a string) shows up
in the first test run instead of passing silently. TMF polymorphism markers (fields starting
with ``@``, e.g. ``@type``) are always allowed, as TMF clients commonly send them.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Any

_MSISDN = re.compile(r"^[0-9]{8,15}$")


class BusinessError(Exception):
    """A refusal with an HTTP status and a JSON body ``{"code":…, "reason":…}``.

    ``category`` says which counter it feeds: ``invalid`` (400), ``conflict`` (409, a business
    duplicate sent under a different Idempotency-Key), ``out_of_order`` (422, the subscriber
    does not exist yet) or ``reject`` (422, any other business refusal).
    """

    STATUS = {"invalid": 400, "conflict": 409, "out_of_order": 422, "reject": 422}

    def __init__(self, category: str, code: str, reason: str) -> None:
        super().__init__(reason)
        self.category = category
        self.status = self.STATUS[category]
        self.code = code
        self.reason = reason

    def body(self) -> dict[str, str]:
        return {"code": self.code, "reason": self.reason}


def invalid(reason: str, code: str = "INVALID_REQUEST") -> BusinessError:
    return BusinessError("invalid", code, reason)


def fields(*names: str) -> frozenset[str]:
    """The allowed fields of one object shape (built once, at import)."""
    return frozenset(names)


def require_object(value: Any, where: str, allowed: frozenset[str]) -> dict[str, Any]:
    """``value`` must be a JSON object whose fields are all in ``allowed`` (or start with @)."""
    if not isinstance(value, dict):
        raise invalid(f"{where}: expected a JSON object")
    if not allowed.issuperset(value):  # the common case, checked in C
        for key in value:
            if key not in allowed and not key.startswith("@"):
                raise invalid(f"{where}: unknown field {key!r}")
    return value


def ident(value: Any, where: str) -> str:
    """An id: a non-empty string (<= 128 chars) or an integer, normalised to a string so the
    same subscription id sent once as 123 and once as "123" refers to one subscriber."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise invalid(f"{where}: expected a string id")
    text = str(value)
    if not text or len(text) > 128:
        raise invalid(f"{where}: id must be 1-128 characters")
    return text


def text(value: Any, where: str, *, max_len: int = 128, nullable: bool = False) -> str | None:
    if value is None and nullable:
        return None
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise invalid(f"{where}: expected a non-empty string of at most {max_len} characters")
    return value


def msisdn(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _MSISDN.match(value):
        raise invalid(f"{where}: msisdn must be a string of 8-15 digits")
    return value


def integer(value: Any, where: str, lo: int, hi: int, *, nullable: bool = False) -> int | None:
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise invalid(f"{where}: expected an integer {lo}-{hi}")
    return value


def positive_number(value: Any, where: str, *, unlimited_ok: bool = False) -> int | float | str:
    """Amounts: a JSON number > 0, or (allowances only) the string "UNLIMITED"."""
    if unlimited_ok and value == "UNLIMITED":
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        extra = ' or "UNLIMITED"' if unlimited_ok else ""
        raise invalid(f"{where}: expected a number > 0{extra}")
    return value


def boolean(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise invalid(f"{where}: expected true or false")
    return value


def one_of(value: Any, where: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise invalid(f"{where}: expected one of {', '.join(choices)}")
    return value


def rfc3339(value: Any, where: str) -> tuple[str, float]:
    """An RFC 3339 time with an offset or Z. Returns (the text as sent, epoch seconds)."""
    if not isinstance(value, str):
        raise invalid(f"{where}: expected an RFC 3339 time")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise invalid(f"{where}: {value!r} is not an RFC 3339 time") from None
    if parsed.tzinfo is None or "T" not in value.upper():
        raise invalid(f"{where}: {value!r} needs a date, a time and an offset or Z")
    return value, parsed.timestamp()


_second_cache: tuple[int, str] = (-1, "")


def format_time(epoch: float) -> str:
    """RFC 3339 UTC with milliseconds and a Z, the form netsim writes everywhere.

    Called for every bucket and cap created, so the date-time text of the current second is
    cached (a tuple swap, safe without a lock) and only the milliseconds are formatted."""
    global _second_cache
    second = int(epoch)
    cached_second, prefix = _second_cache
    if second != cached_second:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _second_cache = (second, prefix)
    return f"{prefix}.{int((epoch - second) * 1000):03d}Z"
