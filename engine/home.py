"""The engine's home folder (CLI.md): config, keys, database and the file folders."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from engine import age
from engine.config import CONFIG_FILE, DAEMON_NAMES, Config, load_config
from engine.config.template import render as render_template
from engine.daemons import EXTRACT, LOAD, of_kind
from engine.errors import ConfigError, KeyFormatError, UsageError
from engine.permissions import PRIVATE_DIR, PRIVATE_FILE, identity_exposure, private_paths, tighten
from engine.store import connect

#: Daemons that read files from inbound/<name>/, and those that write to outbound/<name>/.
INBOUND_DAEMONS = tuple(d.config_name for d in of_kind(LOAD))
OUTBOUND_DAEMONS = tuple(d.config_name for d in of_kind(EXTRACT))


@dataclass(frozen=True)
class InitResult:
    home: Path
    created: tuple[str, ...]
    recipient: str
    tightened: tuple[str, ...] = ()  # existing files and folders made private (engine/permissions.py)


def init_home(home: Path) -> InitResult:
    """Create (or complete) a home. Existing config, keys and data are never overwritten, but
    their modes are tightened: the home 0700, cmp.toml, the keys and the database 0600."""
    home = home.expanduser().resolve()
    created: list[str] = []
    if not home.exists():
        home.mkdir(parents=True)
        os.chmod(home, PRIVATE_DIR)  # not mkdir's mode: the umask would decide
    toml = home / CONFIG_FILE
    if not toml.exists():
        write_private(toml, render_template())
        created.append(CONFIG_FILE)
    config = load_config(home, env={})
    existed = {str(path) for path, _ in private_paths(config)  # what was there before: tightened, not created
               if path.exists() and not (path == toml and CONFIG_FILE in created)}
    folders = [config.archive_dir, config.quarantine_dir, config.traces_dir, config.db_path.parent]
    folders += [config.inbound_dir(d) for d in INBOUND_DAEMONS]
    folders += [config.outbound_dir(d) for d in OUTBOUND_DAEMONS]
    for folder in folders:
        if not folder.exists():
            folder.mkdir(parents=True)
            created.append(str(folder.relative_to(home)))
    identity_path = config.identity_path
    if not identity_path.exists():
        write_identity(identity_path, age.Identity.generate())
        created.append(str(identity_path.relative_to(home)))
    if not config.db_path.exists():
        created.append(str(config.db_path.relative_to(home)))
    connect(config.db_path).close()
    tightened = tuple(str(Path(p).relative_to(home)) for p in tighten(config) if p in existed)
    return InitResult(home, tuple(created), str(home_recipient(config)), tightened)


def write_identity(path: Path, identity: "age.Identity") -> None:
    """Write an identity file in age-keygen's format, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, f"# created: cmp-provisioning\n# public key: {identity.recipient()}\n{identity}\n")


def write_private(path: Path, text: str) -> None:
    """Create ``path`` (it must not exist) as 0600 whatever the umask, then write ``text``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    with os.fdopen(fd, "w") as fh:
        os.fchmod(fh.fileno(), PRIVATE_FILE)
        fh.write(text)


def home_identities(config: Config) -> list["age.Identity"]:
    """The home's identities; refused (ConfigError) while another user may read the file."""
    path = config.identity_path
    if not path.exists():
        raise UsageError(f"no identity at {path}", hint="run `cmpctl init` or pass -i IDENTITY")
    exposed = identity_exposure(config)
    if exposed is not None:
        raise ConfigError(f"refusing to use an identity others can read: {exposed.line()}")
    identities = age.load_identities(path)
    if not identities:
        raise KeyFormatError("no identity in file", file=str(path))
    return identities


def home_recipient(config: Config) -> "age.Recipient":
    return home_identities(config)[0].recipient()


__all__ = ["DAEMON_NAMES", "INBOUND_DAEMONS", "OUTBOUND_DAEMONS", "InitResult", "init_home", "home_identities", "home_recipient", "write_identity"]
