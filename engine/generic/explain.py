"""Per-line Python path for the lines the byte screens set aside or pyarrow cannot read.

Bytes no JSON text may hold (NUL, invalid UTF-8, a BOM on a record line) are named without
parsing. Otherwise the line is parsed with `json` (never deeper than the depth screen let
through) and walked against the rule tree: a key repeated in one object, a value of the wrong
JSON type, a number too large for a double or a lone UTF-16 surrogate becomes a reason and the
offending value is dropped, so the rest of the record still goes through the same vectorised
checks as every other record (one implementation of the semantic rules). Only lines already
set aside come here, so this per-record Python walk never sees the bulk of a file.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from typing import Any

from engine.generic.lines import BOM
from engine.generic.rules import UNLIMITED, Node

Reason = tuple[str, str]  #: (field path, text)


def raw_text(line: bytes) -> str:
    """A line as text for the error table (without a CRLF's `\r`): invalid UTF-8 bytes are
    backslash-escaped."""
    return line.removesuffix(b"\r").decode("utf-8", errors="backslashreplace")


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), type(value).__name__)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


#: a JSON number with a fraction or exponent, outside a string (json gives +-inf for 1e400)
_FLOAT_TOKEN = re.compile(rb"(?<=[:,\[\s])-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?(?=[,}\]\s])")


def _overflowing(line: bytes) -> list[str]:
    """The number tokens of a line that overflow a double, in order (for the reasons' text)."""
    found = []
    for m in _FLOAT_TOKEN.finditer(line):
        token = m.group()
        if (b"." in token or b"e" in token or b"E" in token) and math.isinf(float(token)):
            found.append(token.decode()[:40])
    return found


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate escape, e.g. "\ud800"
        return False
    return True


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, allow_nan=True)
    if not _encodable(text):
        text = json.dumps(value, allow_nan=True)
    return text if len(text) <= 80 else text[:77] + "…"


def _join(path: str, name: str) -> str:
    if not _encodable(name):
        name = json.dumps(name)
    return f"{path}.{name}" if path else name


class _Repeated(dict):
    """A JSON object in which a key repeats: the first value of each key, and how many times
    each repeated key appears (Python's json would keep the last value without a word)."""

    repeated: dict[str, int]


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    out = _Repeated(dict.fromkeys(key for key, _ in pairs))  # keys in the order they first appear
    out.update(reversed(pairs))  # the first value of each key is written last
    out.repeated = {key: n for key, n in Counter(key for key, _ in pairs).items() if n > 1}
    return out


def explain_line(line: bytes, rules: Node) -> tuple[dict[str, Any] | None, list[Reason]]:
    """(the record conformed to the rule tree's types, or None; the structural reasons)."""
    body = line.rstrip(b"\r")
    if not body.strip(b" \t\r\n"):
        return None, [("", "empty line")]
    if b"\0" in body:
        return None, [("", f"NUL byte at byte {body.index(0) + 1}: JSON text cannot hold one")]
    if body.startswith(BOM):
        return None, [("", "starts with a byte order mark (BOM): only line 1 of a file may")]
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [("", f"not valid UTF-8 at byte {exc.start + 1}")]
    try:
        obj = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_object)
    except json.JSONDecodeError as exc:
        return None, [("", f"invalid JSON at column {exc.colno}: {exc.msg}")]
    except (ValueError, RecursionError) as exc:
        return None, [("", f"invalid JSON: {exc}")]
    if not isinstance(obj, dict):
        return None, [("", f"must be a JSON object, got {json_type(obj)}")]
    conformer = _Conformer(surrogates=b"\\ud" in body or b"\\uD" in body)
    record = conformer.object(obj, rules, "")
    if conformer.overflows:  # name each too-large number as it was written
        texts = iter(_overflowing(body))
        conformer.out = [(p, t.replace(_OVERFLOW, next(texts, "inf"))) for p, t in conformer.out]
    return record, conformer.out


_NUMBERS = frozenset(("number", "integer", "amount"))
_OVERFLOW = "\x00overflow\x00"  # stands in for a too-large float's text until it is found


class _Conformer:
    """Walks a parsed record against the rule tree: wrong-typed parts are dropped and reported,
    nulls are left to the vectorised checks. The common cases (a string where a string belongs,
    a finite number where a number belongs) take a fast path that builds no field path."""

    def __init__(self, surrogates: bool) -> None:
        self.out: list[Reason] = []
        self.surrogates = surrogates  # the line holds a \\uD... escape: check strings for lone ones
        self.overflows = 0  # floats json read as +-inf (their text is filled in afterwards)

    def object(self, value: dict[str, Any], node: Node, path: str) -> dict[str, Any]:
        out, props, result = self.out, node.properties, {}
        for key, count in getattr(value, "repeated", {}).items():
            out.append((_join(path, key), f"duplicate key: it appears {count} times in one object"))
        for key, item in value.items():
            child = props.get(key)
            if child is None:
                out.append((_join(path, key), "unknown field"))
                continue
            kind, typ = child.kind, type(item)
            if item is None or (kind == "string" and typ is str and not self.surrogates):
                result[key] = item
            elif kind in _NUMBERS and typ is float and math.isfinite(item):
                result[key] = item
            elif kind == "boolean" and typ is bool:
                result[key] = item
            else:
                result[key] = self.value(item, child, _join(path, key))
        return result

    def value(self, value: Any, node: Node, path: str) -> Any:
        """The general path for one value (not None)."""
        kind = node.kind
        if kind == "object":
            return self.object(value, node, path) if isinstance(value, dict) else self.wrong(value, "an object", path)
        if kind == "array":
            if not isinstance(value, list):
                return self.wrong(value, "an array", path)
            items = node.items
            return [None if item is None else self.value(item, items, f"{path}[{i}]")  # type: ignore[arg-type]
                    for i, item in enumerate(value)]  # fmt: skip
        if kind == "string":
            if not isinstance(value, str):
                return self.wrong(value, "a string", path)
            if not _encodable(value):
                self.out.append((path, "contains an unpaired UTF-16 surrogate escape"))
                return None
            return value
        if kind == "boolean":
            return value if isinstance(value, bool) else self.wrong(value, "true or false", path)
        if kind == "amount" and value == UNLIMITED:
            return math.inf  # the reader's representation of UNLIMITED
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            expected = f'a number or "{UNLIMITED}"' if kind == "amount" else ("an integer" if kind == "integer" else "a number")
            return self.wrong(value, expected, path)
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if math.isinf(number):  # 1e999 or a 400-digit integer: beyond any range the schemas allow
            if isinstance(value, float):
                self.overflows += 1
            self.out.append((path, f"number out of range, got {_OVERFLOW if isinstance(value, float) else str(value)[:40]}"))
            return None
        return number

    def wrong(self, value: Any, expected: str, path: str) -> None:
        self.out.append((path, f"must be {expected}, got {json_type(value)} {_short(value)}"))
        return None


def conformed_json(record: dict[str, Any]) -> bytes:
    """Re-serialise a conformed record for pyarrow (UNLIMITED stays +infinity: `Infinity`)."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"), allow_nan=True).encode("utf-8")


def suppressed(reasons: list[Reason]) -> set[str]:
    """Paths whose vectorised reasons would only echo a structural one (the value was dropped)."""
    return {path for path, _ in reasons}


def is_suppressed(path: str, paths: set[str]) -> bool:
    return any(path == p or path.startswith(p + ".") or path.startswith(p + "[") for p in paths if p)
