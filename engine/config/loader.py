"""Loading the config of a home: ``cmp.toml`` < ``CMP_<SECTION>__<KEY>`` env < CLI flags.

Unknown keys are rejected with the source that named them (the file, the variable, the flag)
and the closest known key.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import tomllib
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from engine.config.coerce import build
from engine.config.introspect import field_types, is_section, table_map
from engine.config.root import CONFIG_FILE, Config
from engine.errors import ConfigError

ENV_PREFIX = "CMP_"


def default_home() -> Path:
    return Path(os.environ.get("CMP_HOME") or "~/.cmp").expanduser()


def load_config(
    home: Path | str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Build the config of ``home``: its ``cmp.toml``, then ``CMP_*__*`` env, then ``overrides``.

    ``overrides`` maps dotted keys (``"load.shard_bytes"``) to values, as CLI flags give them.
    """
    home_path = Path(home).expanduser() if home else default_home()
    tree: dict[str, Any] = {}
    toml_path = home_path / CONFIG_FILE
    if toml_path.exists():
        try:
            with toml_path.open("rb") as fh:
                tree = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"not valid TOML: {exc}", file=str(toml_path)) from None
    _check_keys(tree, Config, str(toml_path), prefix="")
    for dotted, value in _env_items(os.environ if env is None else env):
        _set_dotted(tree, dotted, value, source=f"environment variable {_env_name(dotted)}")
    for dotted, value in (overrides or {}).items():
        _set_dotted(tree, dotted, value, source=f"flag for {dotted}")
    tree.pop("home", None)
    return build(Config, {**tree, "home": home_path.resolve()}, source="config")


def _env_name(dotted: str) -> str:
    return ENV_PREFIX + "__".join(p.upper() for p in dotted.split("."))


def _env_items(env: Mapping[str, str]) -> Iterator[tuple[str, str]]:
    # Only CMP_<SECTION>__<KEY> names are config; CMP_HOME and friends are not.
    for name, value in env.items():
        if name.startswith(ENV_PREFIX) and "__" in name:
            yield ".".join(p.lower() for p in name[len(ENV_PREFIX) :].split("__")), value


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any, *, source: str) -> None:
    parts = dotted.split(".")
    cls: Any = Config
    node = tree
    for i, part in enumerate(parts):
        fields = {f.name: f for f in dataclasses.fields(cls)}
        if part not in fields or part == "home":
            raise ConfigError(f"unknown config key {dotted!r} (from {source}){_suggest(part, fields)}")
        ftype = field_types(cls)[part]
        if i == len(parts) - 1:
            if is_section(ftype) or table_map(ftype):
                raise ConfigError(f"{dotted!r} is a section, not a key (from {source})")
            node[part] = value
        elif table_map(ftype):
            # [schedules.<name>] and the like: the next part is the entry's name, any string.
            if i + 2 >= len(parts):
                raise ConfigError(f"{dotted!r} names an entry, not a key (from {source})")
            name = parts[i + 1]
            node = node.setdefault(part, {}).setdefault(name, {})
            _set_dotted_in(node, parts[i + 2 :], table_map(ftype), value, dotted, source)
            return
        else:
            if not is_section(ftype):
                raise ConfigError(f"unknown config key {dotted!r} (from {source})")
            node = node.setdefault(part, {})
            cls = ftype


def _set_dotted_in(node: dict[str, Any], parts: list[str], cls: Any, value: Any, dotted: str, source: str) -> None:
    """The rest of a dotted key inside one entry of a named table (a plain section class)."""
    for i, part in enumerate(parts):
        fields = {f.name: f for f in dataclasses.fields(cls)}
        if part not in fields:
            raise ConfigError(f"unknown config key {dotted!r} (from {source}){_suggest(part, fields)}")
        ftype = field_types(cls)[part]
        if i == len(parts) - 1:
            node[part] = value
            return
        if not is_section(ftype):
            raise ConfigError(f"unknown config key {dotted!r} (from {source})")
        node = node.setdefault(part, {})
        cls = ftype


def _check_keys(tree: Mapping[str, Any], cls: Any, source: str, prefix: str) -> None:
    fields = {f.name for f in dataclasses.fields(cls)}
    types_ = field_types(cls)
    for key, value in tree.items():
        if key not in fields or (cls is Config and key == "home"):
            raise ConfigError(f"unknown config key {prefix + key!r}{_suggest(key, fields)}", file=source)
        if is_section(types_[key]):
            if not isinstance(value, dict):
                raise ConfigError(f"{prefix + key!r} must be a table [{prefix + key}]", file=source)
            _check_keys(value, types_[key], source, prefix + key + ".")
        elif entry_cls := table_map(types_[key]):
            if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
                raise ConfigError(f"{prefix + key!r} must hold named tables [{prefix + key}.<name>]", file=source)
            for name, entry in value.items():
                _check_keys(entry, entry_cls, source, f"{prefix}{key}.{name}.")


def _suggest(key: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


__all__ = ["ENV_PREFIX", "default_home", "load_config"]
