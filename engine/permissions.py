"""Secrets at rest: who else on the machine may read the home's config, keys and database.

`cmpctl init` makes the home 0700 and its secrets 0600, whatever the umask, and tightens them in
an existing home. The engine (`cmpctl up`, the Store at start, every command that reads the
home's identity) checks them again, because modes drift (a restore from backup, a `cp -r`, an
editor that rewrites the file under a 022 umask). Per file, what that costs:

============  ====================================  ========================  =================
file          holds                                 readable by the group     by everyone
============  ====================================  ========================  =================
identity      the key that decrypts every partner   refuse                    refuse
              file (like ssh with a private key)
cmp.toml      network tokens, the SMTP password     warn                      refuse if it sets
                                                                              a secret, else warn
database      customers' names, e-mails, dates of   warn (a group may be      refuse
(+ its WAL)   birth, raw bad lines                  a deliberate audit team)
home folder   the names of everything in it         warn                      warn
============  ====================================  ========================  =================

A refusal is a ConfigError naming every exposed file, its mode and the fix; a warning is one line
per file, also with the fix.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from engine.config import CONFIG_FILE, Config, Secret, load_config
from engine.errors import ConfigError

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


@dataclass(frozen=True)
class Exposure:
    path: Path
    mode: int
    refuse: bool
    holds: str  # what another user could read

    def line(self) -> str:
        who = "everyone" if self.mode & stat.S_IROTH else "its group" if self.mode & stat.S_IRGRP else "others"
        fix = f"chmod {PRIVATE_DIR if self.path.is_dir() else PRIVATE_FILE:o} {self.path}"
        return (f"{self.path} is mode {self.mode:04o}, open to {who}: it holds {self.holds}; "
                f"fix: {fix} (or run `cmpctl init`, which tightens the home)")


def database_files(db_path: Path) -> list[Path]:
    """The database and, while the engine writes, its write-ahead log."""
    return [db_path, db_path.with_name(db_path.name + ".wal")]


def exposure(path: Path, holds: str, *, refuse_group: bool, refuse_world: bool) -> Exposure | None:
    """How ``path`` is open to others (None if it is not, or does not exist)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return None
    if not mode & 0o077:
        return None
    return Exposure(path, mode, refuse_world if mode & 0o007 else refuse_group, holds)


def exposures(config: Config) -> list[Exposure]:
    """Every file of the home that others may read more of than the table above allows."""
    secrets = _sets_secret(config)
    found = [
        exposure(config.home, "the names of everything in the home", refuse_group=False, refuse_world=False),
        identity_exposure(config),
        exposure(config.home / CONFIG_FILE,
                 "the engine's configuration" + (" with its tokens or passwords" if secrets else ""),
                 refuse_group=False, refuse_world=secrets),
        *database_exposures(config.db_path),
    ]
    return [e for e in found if e is not None]


def database_exposures(db_path: Path) -> list[Exposure]:
    found = [exposure(p, "customers' personal data", refuse_group=False, refuse_world=True)
             for p in database_files(db_path)]
    return [e for e in found if e is not None]


def identity_exposure(config: Config) -> Exposure | None:
    return exposure(config.identity_path, "the identity that decrypts every partner file",
                    refuse_group=True, refuse_world=True)


def enforce(found: list[Exposure], warn: Callable[[str], None]) -> None:
    """Warn once per exposure that is only a warning; raise one ConfigError naming every refusal."""
    refused = [e for e in found if e.refuse]
    for e in found:
        if not e.refuse:
            warn(e.line())
    if refused:
        raise ConfigError("refusing to run with secrets others can read: " + "; ".join(e.line() for e in refused))


def private_paths(config: Config) -> list[tuple[Path, int]]:
    """The home's private folders and files, with the mode each should have."""
    return [(config.home, PRIVATE_DIR), (config.identity_path.parent, PRIVATE_DIR),
            (config.db_path.parent, PRIVATE_DIR), (config.home / CONFIG_FILE, PRIVATE_FILE),
            (config.identity_path, PRIVATE_FILE)] + [(p, PRIVATE_FILE) for p in database_files(config.db_path)]


def tighten(config: Config) -> list[str]:
    """Make the home 0700 and its secrets 0600 (what `cmpctl init` does); the paths changed."""
    changed = []
    for path, mode in private_paths(config):
        try:
            if stat.S_IMODE(path.stat().st_mode) != mode:
                os.chmod(path, mode)
                changed.append(str(path))
        except FileNotFoundError:
            continue
    return changed


def _sets_secret(config: Config) -> bool:
    """Does cmp.toml itself (not the environment) set a token or password?"""
    try:
        from_file = load_config(config.home, env={})
    except ConfigError:
        return True  # unreadable as config: assume the worst
    return any(bool(secret) for secret in _secrets(from_file))


def _secrets(node: Any) -> list[Secret]:
    if isinstance(node, Secret):
        return [node]
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        return [s for f in dataclasses.fields(node) for s in _secrets(getattr(node, f.name))]
    if isinstance(node, dict):
        return [s for value in node.values() for s in _secrets(value)]
    return []


__all__ = ["Exposure", "PRIVATE_DIR", "PRIVATE_FILE", "database_exposures", "enforce", "exposure", "exposures",
           "identity_exposure", "private_paths", "tighten"]
