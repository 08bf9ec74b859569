"""The options several commands share, and the home they point at."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from engine.config import Config, default_home, load_config
from engine.errors import UsageError

HomeOpt = Annotated[
    Optional[Path],
    typer.Option("--home", help="Engine home (default: $CMP_HOME, else ~/.cmp).", show_default=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document and nothing else.")]
ParamOpt = Annotated[Optional[list[str]], typer.Option("--param", "-p", help="key=value (repeatable).")]
LimitOpt = Annotated[int, typer.Option("--limit", help="At most this many, newest first.")]
JobArg = Annotated[str, typer.Argument(help="Job name (see `cmpctl jobs list`).")]


def home_dir(home: Path | None) -> Path:
    return (home or default_home()).expanduser().resolve()


def home_config(home: Path | None) -> Config:
    """The home's configuration: cmp.toml < CMP_* environment variables."""
    return load_config(home_dir(home))


def parse_params(pairs: list[str] | None) -> dict[str, str]:
    """``--param key=value`` pairs as a dict (a later key wins)."""
    params = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--param takes key=value, got {pair!r}")
        params[key.strip()] = value.strip()
    return params
