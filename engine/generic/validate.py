"""Vectorised validation of parsed records against the rule tree of their JSON Schema.

Every check is one or two pyarrow.compute kernels over a whole column (nested list levels are
flattened with list_flatten, and list_parent_indices maps an element back to its record); the
common case — no failure — costs the kernel and one `any`. Only failing elements are touched in
Python, to render a reason naming the field path (`subscriptions[1].msisdn: must be 8-15
digits, got "44A"`). Columns that the schema does not know (read with pyarrow's "infer") are
reported as unknown fields.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.generic import strings
from engine.generic.levels import Level, dates, floats, member, valid, values_at
from engine.generic.rules import Check, Cond, Node

Reasons = dict[int, list[tuple[str, str]]]  #: record row -> [(field path, text)] in check order


def render(value: Any, amount: bool = False) -> str:
    """A value as JSON-ish text for a reason (strings quoted and cut at 80 characters)."""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return '"UNLIMITED"' if amount and value > 0 else ("Infinity" if value > 0 else "-Infinity")
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        return text if len(text) <= 80 else text[:78] + '…"'
    return json.dumps(value)


def _when(cond: Cond | None, cond_values: list[Any] | None, k: int) -> str:
    return "" if cond is None else f" when {cond.label} is {render(cond_values[k]).strip(chr(34))}"


def _bound_text(check: Check) -> str:
    lo, hi = check.low, check.high
    lo_t = None if lo is None else render(float(lo))
    hi_t = None if hi is None else render(float(hi))
    if check.low_exclusive or check.high_exclusive or lo is None or hi is None:
        parts = []
        if lo is not None:
            parts.append(f"{'>' if check.low_exclusive else '>='} {lo_t}")
        if hi is not None:
            parts.append(f"{'<' if check.high_exclusive else '<='} {hi_t}")
        return " and ".join(parts)
    return f"between {lo_t} and {hi_t}"


class Validator:
    """Runs a record type's rule tree over a table; `run()` returns the reasons per row."""

    def __init__(self, rules: Node) -> None:
        self.rules = rules

    def run(self, table: pa.Table) -> Reasons:
        reasons: Reasons = {}
        if table.num_rows:
            for level, idx, path, texts in self._object(Level(table), (), self.rules):
                rows = level.root_rows(idx)
                for row, prefix, text in zip(rows.tolist(), level.prefixes(idx), texts):
                    full = ".".join(filter(None, (prefix, ".".join(path))))
                    reasons.setdefault(row, []).append((full, text))
        return reasons

    # -- walking ------------------------------------------------------------------------------

    def _object(self, level: Level, path: tuple[str, ...], node: Node) -> Iterator[tuple]:
        typ = level.type_at(path)
        for f in typ:  # fields read with "infer" that the schema does not have
            if f.name not in node.properties:
                bad = pc.is_valid(level.col(path + (f.name,)))
                yield from self._emit(level, path + (f.name,), bad, lambda vals, idx: ["unknown field"] * len(idx))
        for name, child in node.properties.items():
            cpath = path + (name,)
            for check in child.checks:
                yield from self._check(level, cpath, child, check)
            if child.kind == "object":
                yield from self._object(level, cpath, child)
            elif child.kind == "array":
                lists = level.col(cpath)
                values = pc.list_flatten(lists)
                if len(values):
                    items = Level(values, level, pc.list_parent_indices(lists).to_numpy(), ".".join(cpath))
                    bad = pc.is_null(items.values)
                    yield from self._emit(items, (), bad, lambda vals, idx: ["must be an object, got null"] * len(idx))
                    yield from self._object(items, (), child.items)

    def _emit(self, level: Level, path: tuple[str, ...], bad: Any, texts) -> Iterator[tuple]:
        if not pc.any(bad).as_py():
            return
        idx = np.flatnonzero(pc.fill_null(bad, False).to_numpy(zero_copy_only=False))
        yield level, idx, path, texts(None, idx)

    def _cond_mask(self, level: Level, cond: Cond, as_numpy: bool) -> Any:
        key = ("cond", cond, as_numpy)
        if key not in level._cols:
            if as_numpy:
                mask = member(level, cond.path, cond.values)
            else:
                mask = pa.array(self._cond_mask(level, cond, True))
            level._cols[key] = mask
        return level._cols[key]

    def _check(self, level: Level, path: tuple[str, ...], node: Node, check: Check) -> Iterator[tuple]:
        v = level.col(path)
        bad = self._violation(level, path, node, check, v)
        if bad is None or (isinstance(bad, np.ndarray) and not len(bad)):
            return
        cond = check.cond
        if isinstance(bad, np.ndarray):  # numpy kernels: strings' bytes, float maths
            if cond is not None:
                bad = bad & self._cond_mask(level, cond, True)
            if not bad.any():
                return
            idx = np.flatnonzero(bad)
        else:
            if cond is not None:
                bad = pc.and_(bad, self._cond_mask(level, cond, False))
            if not pc.any(bad).as_py():
                return
            idx = np.flatnonzero(pc.fill_null(bad, False).to_numpy(zero_copy_only=False))
        vals = values_at(v, idx)
        cvals = None if cond is None else values_at(level.col(cond.path), idx)
        amount = node.kind == "amount"
        texts = [self._text(check, vals[k], _when(cond, cvals, k), amount) for k in range(len(idx))]
        yield level, idx, path, texts

    @staticmethod
    def _pattern_bad(level: Level, path: tuple[str, ...], pattern: str) -> np.ndarray:
        """Non-null values not matching `pattern` (numpy bool; cached for the date checks)."""
        key = ("pattern", path, pattern)
        if key not in level._cols:
            v = level.col(path)
            simple = strings.char_class(pattern)
            if simple is not None:
                bad = strings.class_violations(v, *simple)
            elif pattern == strings.DATE_PATTERN:
                bad = dates(level, path)[0]
            else:
                ok = pc.match_substring_regex(v, pattern)
                bad = pc.invert(pc.fill_null(ok, True)).to_numpy(zero_copy_only=False)
            level._cols[key] = bad
        return level._cols[key]

    @staticmethod
    def _violation(level: Level, path: tuple[str, ...], node: Node, check: Check, v: Any) -> Any:
        """True where the value breaks the check (arrow or numpy bool; null: not applicable)."""
        kind = check.kind
        nulls = v.null_count  # kept by Arrow per chunk: decides many checks without a kernel
        if kind == "required":
            if nulls == 0:
                return None
            present = level.present(path[:-1])
            return pc.is_null(v) if present is None else pc.and_(pc.is_null(v), present)
        if nulls == len(v):  # every other check applies to values only
            return None
        if kind == "null":
            return pc.is_valid(v)
        if kind == "enum":
            return ~member(level, path, check.values) & valid(level, path)
        if kind == "pattern":
            return Validator._pattern_bad(level, path, check.pattern)
        if kind == "length":
            return _outside(pc.utf8_length(v), check.low, check.high)
        if kind == "items":
            return _outside(pc.list_value_length(v), check.low, check.high)
        if kind in ("range", "finite", "number", "integer", "decimals"):
            x, present = floats(level, path)
            with np.errstate(invalid="ignore"):
                return present & _numeric(kind, check, x, node.kind == "amount")
        if kind in ("date", "datetime"):
            patterns = [c.pattern for c in node.checks if c.kind == "pattern"]
            if patterns == [strings.DATE_PATTERN]:
                return dates(level, path)[1]
            bad = strings.calendar_violations(v)
            for pattern in patterns:  # a value that breaks the pattern is reported once, there
                bad &= ~Validator._pattern_bad(level, path, pattern)
            return bad
        raise ValueError(f"unknown check kind {kind!r}")

    @staticmethod
    def _text(check: Check, value: Any, when: str, amount: bool) -> str:
        got = render(value, amount)
        kind = check.kind
        if kind == "required":
            return f"is required{when}"
        if kind == "null":
            return f"must be null{when}, got {got}"
        if kind == "enum":
            allowed = render(check.values[0]) if len(check.values) == 1 else "one of " + ", ".join(map(str, check.values))
            return f"must be {allowed}{when}, got {got}"
        if kind == "pattern":
            return f"must be {check.title}{when}, got {got}" if check.title else f"must match {check.pattern}{when}, got {got}"
        if kind == "length":
            n = len(value)
            span = f"{check.low}-{check.high}" if check.high is not None else f"at least {check.low}"
            return f"must be {span} characters long{when}, got {n}" + ("" if n > 60 else f" ({got})")
        if kind == "items":
            n = len(value)
            span = f"{check.low}-{check.high}" if check.high is not None else f"at least {check.low}"
            return f"must have {span} items{when}, got {n}"
        if kind == "range":
            return f"must be {_bound_text(check)}{when}, got {got}"
        if kind == "finite":
            return f"must be a JSON number{when}, got {got}"
        if kind == "number":
            return f"must be a number{when}, got {got}"
        if kind == "integer":
            return f"must be an integer{when}, got {got}"
        if kind == "decimals":
            return f"must have at most 2 decimals{when}, got {got}"
        if kind == "date":
            return f"must be a real calendar date{when}, got {got}"
        if kind == "datetime":
            return f"must be a real calendar date-time{when}, got {got}"
        raise ValueError(kind)


def _numeric(kind: str, check: Check, x: np.ndarray, amount: bool) -> np.ndarray:
    """Numeric checks over float64 values (integers are read as float64 too)."""
    if kind == "finite":  # NaN, Infinity and -Infinity are read by pyarrow but are not JSON
        return (np.isnan(x) | (x == -np.inf)) if amount else ~np.isfinite(x)
    if kind == "number":  # +inf is an amount's UNLIMITED
        return x == np.inf
    if kind == "integer":
        return np.isfinite(x) & (np.floor(x) != x)
    if kind == "decimals":
        # x*100 is within float noise of an integer exactly when the number has <= 2
        # decimals (for |x| < 1e12 and numbers written with <= 15 significant digits)
        h = x * 100.0
        return np.isfinite(h) & (np.abs(h - np.rint(h)) > np.abs(h) * 4e-16 + 1e-9)
    bad = np.zeros(len(x), bool)
    if check.low is not None:
        bad |= (x <= check.low) if check.low_exclusive else (x < check.low)
    if check.high is not None:
        over = (x >= check.high) if check.high_exclusive else (x > check.high)
        bad |= over & (x != np.inf) if amount else over  # +inf is UNLIMITED, allowed by the anyOf
    return bad


def _outside(n: Any, low: float | None, high: float | None) -> Any:
    bad = pc.less(n, low) if low else None
    if high is not None:
        over = pc.greater(n, high)
        bad = over if bad is None else pc.or_(bad, over)
    return bad


def unknown_fields(table: pa.Table, rules: Node, wire: pa.Schema) -> tuple[set[str], Reasons]:
    """Fields read with "infer" that the schema lacks: (names of those that are null in every
    row, so their rows cannot be found from the table; reasons per row for the others)."""
    nulls: set[str] = set()
    reasons: Reasons = {}

    def walk(level: Level, path: tuple[str, ...], node: Node, expected: pa.DataType) -> None:
        for f in level.type_at(path):
            p = path + (f.name,)
            child = node.properties.get(f.name)
            if child is None:
                if pa.types.is_null(f.type):
                    nulls.add(f.name)
                    continue
                bad = pc.is_valid(level.col(p))
                if pc.any(bad).as_py():
                    idx = np.flatnonzero(pc.fill_null(bad, False).to_numpy(zero_copy_only=False))
                    for row, prefix in zip(level.root_rows(idx).tolist(), level.prefixes(idx)):
                        reasons.setdefault(row, []).append((".".join(filter(None, (prefix, ".".join(p)))), "unknown field"))
                continue
            want = expected.field(f.name).type
            if f.type == want:
                continue
            if child.kind == "object":
                walk(level, p, child, want)
            elif child.kind == "array":
                lists = level.col(p)
                items = Level(pc.list_flatten(lists), level, pc.list_parent_indices(lists).to_numpy(), ".".join(p))
                walk(items, (), child.items, want.value_type)  # type: ignore[arg-type]

    walk(Level(table), (), rules, pa.struct(list(wire)))
    return nulls, reasons
