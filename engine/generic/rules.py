"""Compile a record JSON Schema (schemas/*.schema.json) into a rule tree the vectorised
validator runs. The published schema is the single source of the rules, so the validator and
partners' JSON Schema tools cannot drift apart silently: a keyword this compiler does not know
raises at compile time instead of being ignored.

The subset is what Arrow can represent: every object has `additionalProperties: false`; a
field is either required and non-null or optional and nullable (Arrow cannot tell an absent
field from a null one); conditions are `allOf: [{if: {properties: {F: {const|enum}},
required: [F]}, then: {...}}]` on a sibling field F; the one union is `anyOf: [number, {const:
"UNLIMITED"}]` (an allowance amount, carried as +infinity).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

ANNOTATIONS = {"title", "description", "$comment", "examples", "$schema", "$id", "$defs"}
SCALAR_KEYWORDS = {
    "type", "enum", "const", "pattern", "minLength", "maxLength", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "format",
}  # fmt: skip
UNLIMITED = "UNLIMITED"


@dataclass(frozen=True)
class Cond:
    """A condition on a sibling field: `path` (within the list element) is one of `values`."""

    path: tuple[str, ...]
    values: tuple[Any, ...]

    @property
    def label(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True)
class Check:
    """One rule on a field's value. `kind` is one of: required, null, enum, pattern, length,
    range, integer, decimals, date, datetime, items, finite, number (amount must not be
    UNLIMITED). `cond` limits it to elements where the condition holds."""

    kind: str
    cond: Cond | None = None
    values: tuple[Any, ...] = ()
    pattern: str = ""
    title: str = ""
    low: float | None = None
    high: float | None = None
    low_exclusive: bool = False
    high_exclusive: bool = False


@dataclass
class Node:
    """A value position in the record: its JSON kind and its checks."""

    name: str
    kind: str  # object | array | string | number | integer | boolean | amount
    nullable: bool
    checks: list[Check] = field(default_factory=list)
    properties: dict[str, Node] = field(default_factory=dict)
    items: Node | None = None


class SchemaError(ValueError):
    """The JSON Schema uses something the vectorised validator cannot enforce."""


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Merge a local `$ref` into its sibling keywords (2020-12: both apply)."""
    if "$ref" not in schema:
        return schema
    ref = schema["$ref"]
    if not ref.startswith("#/$defs/"):
        raise SchemaError(f"only local $defs references are supported, got {ref!r}")
    target = _resolve(defs[ref.removeprefix("#/$defs/")], defs)
    merged = {k: v for k, v in schema.items() if k != "$ref"}
    for key, value in target.items():
        if key in merged and merged[key] != value and key not in ("title", "description"):
            raise SchemaError(f"$ref {ref} and its siblings disagree on {key!r}")
        merged.setdefault(key, value)
    return merged


def _types(schema: dict[str, Any]) -> list[str]:
    typ = schema.get("type")
    return [typ] if isinstance(typ, str) else list(typ or [])


class _Compiler:
    def __init__(self, defs: dict[str, Any]) -> None:
        self.defs = defs

    def node(self, name: str, schema: dict[str, Any], path: tuple[str, ...]) -> Node:
        """`path` is the position within the current list element (reset at array items)."""
        schema = _resolve(schema, self.defs)
        if "anyOf" in schema:
            return self._amount(name, schema)
        types = _types(schema)
        kinds = [t for t in types if t != "null"]
        if len(kinds) != 1:
            raise SchemaError(f"{name}: needs exactly one non-null type, got {types}")
        node = Node(name, kinds[0], "null" in types)
        if node.kind == "object":
            self._object(node, schema, path)
        elif node.kind == "array":
            self._array(node, schema)
        else:
            unknown = set(schema) - SCALAR_KEYWORDS - ANNOTATIONS
            if unknown:
                raise SchemaError(f"{name}: unsupported keywords {sorted(unknown)}")
            node.checks.extend(self._scalar_checks(node.kind, schema, None))
        return node

    def _amount(self, name: str, schema: dict[str, Any]) -> Node:
        number, unlimited = (_resolve(s, self.defs) for s in schema["anyOf"])
        if set(schema) - {"anyOf"} - ANNOTATIONS or unlimited != {"const": UNLIMITED} or number.get("type") != "number":
            raise SchemaError(f'{name}: the only anyOf supported is [number, {{"const": "{UNLIMITED}"}}]')
        node = Node(name, "amount", False)
        node.checks.extend(self._scalar_checks("amount", number, None))
        return node

    def _object(self, node: Node, schema: dict[str, Any], path: tuple[str, ...]) -> None:
        unknown = set(schema) - {"type", "properties", "required", "additionalProperties", "allOf"} - ANNOTATIONS
        if unknown:
            raise SchemaError(f"{node.name}: unsupported keywords {sorted(unknown)}")
        if schema.get("additionalProperties") is not False:
            raise SchemaError(f"{node.name}: objects must say additionalProperties: false")
        required = set(schema.get("required", ()))
        for child_name, child_schema in schema.get("properties", {}).items():
            child = self.node(child_name, child_schema, path + (child_name,))
            if (child_name in required) == child.nullable:
                raise SchemaError(
                    f"{node.name}.{child_name}: a required field must be non-null and an optional one nullable"
                )
            if child_name in required:
                child.checks.insert(0, Check("required"))
            node.properties[child_name] = child
        if required - set(node.properties):
            raise SchemaError(f"{node.name}: required fields without a schema: {sorted(required - set(node.properties))}")
        for rule in schema.get("allOf", ()):
            if set(rule) != {"if", "then"}:
                raise SchemaError(f"{node.name}: allOf entries must be if/then pairs")
            cond = self._cond(node, rule["if"], path)
            self._then(node, rule["then"], cond)

    def _cond(self, node: Node, rule: dict[str, Any], path: tuple[str, ...]) -> Cond:
        props = rule.get("properties", {})
        if len(props) != 1 or set(rule) != {"properties", "required"} or rule["required"] != list(props):
            raise SchemaError(f"{node.name}: if must test one required sibling with const or enum")
        (fname, test), = props.items()  # fmt: skip
        if fname not in node.properties or node.properties[fname].kind in ("object", "array"):
            raise SchemaError(f"{node.name}: if tests unknown or non-scalar field {fname!r}")
        values = (test["const"],) if set(test) == {"const"} else tuple(test["enum"]) if set(test) == {"enum"} else None
        if values is None:
            raise SchemaError(f"{node.name}.{fname}: if supports const or enum only")
        return Cond(path + (fname,), values)

    def _then(self, node: Node, rule: dict[str, Any], cond: Cond) -> None:
        if set(rule) - {"required", "properties"}:
            raise SchemaError(f"{node.name}: then supports required and properties only")
        required = list(rule.get("required", ()))
        for fname in required:
            if fname not in node.properties:
                raise SchemaError(f"{node.name}: then requires unknown field {fname!r}")
            node.properties[fname].checks.append(Check("required", cond))
        for fname, sub in rule.get("properties", {}).items():
            child = node.properties.get(fname)
            if child is None:
                raise SchemaError(f"{node.name}: then constrains unknown field {fname!r}")
            sub = _resolve(sub, self.defs)
            types = _types(sub)
            if types == ["null"]:
                child.checks.append(Check("null", cond))
                sub = {k: v for k, v in sub.items() if k != "type"}
            elif types:
                if types != [child.kind] and not (child.kind == "amount" and types == ["number"]):
                    raise SchemaError(f"{node.name}.{fname}: then may only narrow the type to {child.kind} or null")
                if fname not in required and child.kind != "amount":
                    raise SchemaError(f"{node.name}.{fname}: a non-null type in then needs the field in then.required")
                if child.kind == "amount":
                    child.checks.append(Check("number", cond))
                sub = {k: v for k, v in sub.items() if k != "type"}
            if child.kind == "object":
                if set(sub) - {"properties"} - ANNOTATIONS:
                    raise SchemaError(f"{node.name}.{fname}: then on an object supports properties only")
                self._then(child, {"properties": sub.get("properties", {})}, cond)
            else:
                if set(sub) - SCALAR_KEYWORDS - ANNOTATIONS:
                    raise SchemaError(f"{node.name}.{fname}: unsupported keywords in then")
                child.checks.extend(self._scalar_checks(child.kind, sub, cond))

    def _array(self, node: Node, schema: dict[str, Any]) -> None:
        if set(schema) - {"type", "items", "minItems", "maxItems"} - ANNOTATIONS:
            raise SchemaError(f"{node.name}: unsupported array keywords")
        if "minItems" in schema or "maxItems" in schema:
            node.checks.append(Check("items", low=schema.get("minItems", 0), high=schema.get("maxItems")))
        node.items = self.node(node.name, schema["items"], ())  # list elements start a new level
        if node.items.nullable or node.items.kind != "object":
            raise SchemaError(f"{node.name}: items must be non-null objects")

    def _scalar_checks(self, kind: str, schema: dict[str, Any], cond: Cond | None) -> list[Check]:
        checks: list[Check] = []
        numeric = kind in ("number", "integer", "amount")
        if numeric and cond is None:  # once per field, not again under each condition
            checks.append(Check("finite"))
            if kind == "integer":
                checks.append(Check("integer"))
        if "const" in schema:
            checks.append(Check("enum", cond, values=(schema["const"],)))
        if "enum" in schema:
            checks.append(Check("enum", cond, values=tuple(schema["enum"])))
        if "pattern" in schema:
            pattern = schema["pattern"]
            if not (pattern.startswith("^") and pattern.endswith("$")):
                raise SchemaError(f"pattern {pattern!r} must be anchored with ^ and $")
            checks.append(Check("pattern", cond, pattern=pattern, title=schema.get("title", "")))
        if "minLength" in schema or "maxLength" in schema:
            checks.append(Check("length", cond, low=schema.get("minLength", 0), high=schema.get("maxLength")))
        if numeric and any(k in schema for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")):
            low = schema.get("exclusiveMinimum", schema.get("minimum"))
            high = schema.get("exclusiveMaximum", schema.get("maximum"))
            checks.append(Check("range", cond, low=low, high=high, low_exclusive="exclusiveMinimum" in schema,
                                high_exclusive="exclusiveMaximum" in schema))  # fmt: skip
        if "multipleOf" in schema:
            if schema["multipleOf"] != 0.01:
                raise SchemaError("multipleOf is supported for money (0.01) only")
            checks.append(Check("decimals", cond))
        fmt = schema.get("format")
        if fmt is not None:
            if fmt not in ("date", "date-time") or "pattern" not in schema:
                raise SchemaError(f"format {fmt!r} needs to be date or date-time, with a pattern")
            checks.append(Check("date" if fmt == "date" else "datetime", cond))
        if not numeric and any(k in schema for k in ("minimum", "maximum", "exclusiveMinimum", "multipleOf")):
            raise SchemaError(f"numeric keywords on a {kind}")
        return checks


def compile_schema(schema: dict[str, Any]) -> Node:
    """The rule tree of a record schema (its root is an object node)."""
    root = _Compiler(schema.get("$defs", {})).node("", schema, ())
    if root.kind != "object" or root.nullable:
        raise SchemaError("a record schema must be a non-null object")
    return root


@cache
def load_rules(schema_path: Path) -> Node:
    """Compile (once per process) the schema file of a record type."""
    with open(schema_path, encoding="utf-8") as fh:
        return compile_schema(json.load(fh))
