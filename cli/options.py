"""What every command shares: the --home and --json options, the home's config, output."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

from engine.config import default_home, load_config
from engine.errors import UsageError

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

HomeOpt = Annotated[
    Optional[Path],
    typer.Option("--home", help="Engine home (default: $CMP_HOME, else ~/.cmp).", show_default=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document and nothing else.")]


def _home(home: Path | None) -> Path:
    return (home or default_home()).expanduser().resolve()


def _config(home: Path | None):
    return load_config(_home(home))


def _print_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")


def _params(pairs: list[str] | None) -> dict[str, str]:
    params = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--param takes key=value, got {pair!r}")
        params[key.strip()] = value.strip()
    return params
