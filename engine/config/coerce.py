"""Plain data ↔ the typed tree: each value coerced to its field's type, sections and named
tables built (named tables over their built-in entries), and back to plain data (``to_dict``)."""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Mapping

from engine.config.introspect import field_default, field_types, is_section, table_map
from engine.config.values import Secret, parse_size
from engine.errors import ConfigError


def build(cls: Any, data: Mapping[str, Any], source: str, default: Any = None) -> Any:
    """An instance of section ``cls`` from plain ``data`` (keys already checked).

    Keys not given keep their values in ``default``, the section's default instance, which is
    not always the class's: ``[daemons.ocs_adaptor]`` defaults to its daemon's poll interval
    (engine/daemons.py), and a table giving only ``enabled`` must keep it.
    """
    kwargs = {}
    types_ = field_types(cls)
    for f in dataclasses.fields(cls):
        if f.name in data:
            tp, where = types_[f.name], f"{source}.{f.name}"
            if entry_cls := table_map(tp):
                kwargs[f.name] = _build_table_map(f, entry_cls, data[f.name], where)
            elif is_section(tp):
                within = getattr(default, f.name) if default is not None else field_default(f)
                kwargs[f.name] = build(tp, data[f.name], where, within)
            else:
                kwargs[f.name] = coerce(tp, data[f.name], where)
    try:
        return dataclasses.replace(default, **kwargs) if default is not None else cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: {exc}") from None


def _build_table_map(f: dataclasses.Field, entry_cls: Any, given: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Built-in entries overlaid with the given tables, key by key (see ``table_map``)."""
    builtins = f.default_factory() if f.default_factory is not dataclasses.MISSING else {}
    out = dict(builtins)
    for name, entry in given.items():
        base = to_dict(builtins[name], reveal=True) if name in builtins else {}
        out[name] = build(entry_cls, _merge(base, entry), f"{source}.{name}")
    return out


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged


def coerce(tp: Any, value: Any, where: str) -> Any:
    """``value`` (from TOML, an environment variable or a flag) as type ``tp``; ConfigError
    naming the key otherwise."""
    key = where.removeprefix("config.")
    try:
        if tp is Secret:
            return value if isinstance(value, Secret) else Secret(str(value))
        if tp is Path:
            return Path(value).expanduser()
        if tp is bool:
            return _bool(value)
        if tp is int:
            if isinstance(value, bool):
                raise ValueError("expected an integer, got a boolean")
            if isinstance(value, int):
                return value
            return parse_size(value) if key.endswith("_bytes") else int(str(value).strip())
        if tp is float:
            if isinstance(value, bool):
                raise ValueError("expected a number, got a boolean")
            return float(value)
        if tp is str:
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise ValueError(f"expected a string, got {type(value).__name__}")
            return str(value)
        origin = typing.get_origin(tp)
        if origin is dict:
            return _mapping(value)
        if origin is tuple:
            items = [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else list(value)
            return tuple(str(v) for v in items)
        if origin in (types.UnionType, typing.Union):
            return value
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad value for {key}: {exc}") from None
    raise ConfigError(f"unsupported config type for {key}: {tp!r}")


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _mapping(value: Any) -> dict[str, str]:
    """A plain mapping of strings (schedule params, a CSV column mapping): a table in the file,
    or "k=v,k=v" from an environment variable or a flag."""
    if isinstance(value, str):
        pairs = [p.partition("=") for p in value.split(",") if p.strip()]
        if any(not sep or not k.strip() for k, sep, _ in pairs):
            raise ValueError(f"expected key=value pairs separated by commas, got {value!r}")
        value = {k.strip(): v.strip() for k, _, v in pairs}
    if not isinstance(value, Mapping):
        raise ValueError(f"expected a table of names to values, got {type(value).__name__}")
    return {str(k): str(v) for k, v in value.items()}


def to_dict(config: Any, *, reveal: bool = False) -> dict[str, Any]:
    """A config (or any section of it) as plain data, secrets redacted unless ``reveal``,
    e.g. for ``--json``."""

    def conv(obj: Any) -> Any:
        if isinstance(obj, Secret):
            return obj.reveal() if reveal else ("***" if obj else "")
        if dataclasses.is_dataclass(obj):
            return {f.name: conv(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
        if isinstance(obj, Path):
            return str(obj)
        if isinstance(obj, tuple):
            return [conv(v) for v in obj]
        if isinstance(obj, dict):
            return {k: conv(v) for k, v in obj.items()}
        return obj

    return conv(config)


__all__ = ["build", "coerce", "to_dict"]
