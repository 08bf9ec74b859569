"""What the config classes say about themselves: which fields are sections, which are named
tables, their defaults and the comment on each field's line (the documentation of a key).

The loader, the README reference (engine/config_reference.py) and the cmp.toml template all
walk the classes through these functions.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import typing
from typing import Any

from engine.config.values import Secret


def is_section(tp: Any) -> bool:
    """A ``[section]`` of its own: a config dataclass (a Secret is a value)."""
    return dataclasses.is_dataclass(tp) and tp is not Secret


def table_map(tp: Any) -> Any:
    """The entry class of a ``dict[str, Section]`` field (named tables such as
    ``[schedules.provisioning]``), else None.

    Such a field takes its built-in entries from its ``default_factory``; a table in the config
    with a built-in's name overrides only the keys it gives, other names add entries, and an
    entry can be switched off with ``enabled = false`` where its class has that key.
    """
    if typing.get_origin(tp) is dict:
        key, value = typing.get_args(tp)
        if key is str and is_section(value):
            return value
    return None


def field_types(cls: Any) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def field_default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


_FIELD_LINE = re.compile(r"^\s+(\w+)\s*:\s*[^=#]+?(?:=[^#]*)?(?:#\s*(?P<comment>.*))?$")


def field_comments(cls: Any) -> dict[str, str]:
    """Field name -> the comment on its line in the class's source: the key's documentation."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    out = {}
    for line in source.splitlines()[1:]:
        m = _FIELD_LINE.match(line)
        if m and m.group("comment"):
            out[m.group(1)] = m.group("comment").strip()
    return out


__all__ = ["field_comments", "field_default", "field_types", "is_section", "table_map"]
