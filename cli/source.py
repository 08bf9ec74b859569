"""Where the CLI's data comes from: the running engine, joined through Ray."""

from __future__ import annotations

from pathlib import Path

from cli.options import _config


def connect(home: Path | None, address: str | None = None):
    """Join the running engine's Ray (exit 3 when there is none)."""
    from engine import runtime

    config = _config(home)
    run = runtime.connect(config, address)
    return config, run


def store(home: Path | None):
    """The running engine's Store facade (exit 3 when no engine runs)."""
    from actors.clients import StoreClient

    config, _ = connect(home)
    return StoreClient.lookup(config.ray.namespace)


def probe_store(home: Path | None):
    from actors.clients import StoreClient

    config, _ = connect(home)
    return config, StoreClient.lookup(config.ray.namespace)
