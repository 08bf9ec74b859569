"""Opening the engine's DuckDB file and bringing its schema up to date.

Only the Store (one process) opens the file read-write (ARCHITECTURE.md rule 2); the CLI may
open it read-only for audits when no engine runs.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from engine.errors import StoreBusy, StoreError
from engine.store.schema import MIGRATIONS, Migration

_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       VARCHAR NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""


def connect(path: Path | str, *, read_only: bool = False, migrate: bool = True) -> duckdb.DuckDBPyConnection:
    """Open the database at ``path`` (created if missing) and run pending migrations."""
    path = Path(path)
    new = not read_only and not path.exists()
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    elif not path.exists():
        raise StoreError(f"no database at {path}", hint="run `cmpctl init` first")
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise StoreBusy(
                f"the database {path} is open in another process",
                hint="the running engine owns it: use cmpctl commands that go through the engine, "
                "or stop it with `cmpctl down`",
            ) from None
        raise StoreError(f"cannot open {path}: {exc}") from None
    if new:  # it will hold personal data: the owner's alone, whatever the umask (engine/permissions.py)
        os.chmod(path, 0o600)
    # Bulk loads do not need insertion order, and keeping it costs memory and speed.
    con.execute("SET preserve_insertion_order = false")
    if migrate and not read_only:
        apply_migrations(con)
    return con


def applied_versions(con: duckdb.DuckDBPyConnection) -> set[int]:
    con.execute(_LEDGER)
    return {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}


def renumber_released(con: duckdb.DuckDBPyConnection, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[int]:
    """Record under its version each migration a ledger holds under its ``released_as`` number
    (and the same name); returns the versions renumbered. Lowest first, one statement each:
    every target number is free by then, and a renumbering cut short is finished next time."""
    con.execute(_LEDGER)
    names = dict(con.execute("SELECT version, name FROM schema_migrations").fetchall())
    renumbered = []
    for m in sorted(migrations, key=lambda m: m.version):
        if m.released_as is None or m.version in names or names.get(m.released_as) != m.name:
            continue
        con.execute("UPDATE schema_migrations SET version = ? WHERE version = ? AND name = ?",
                    [m.version, m.released_as, m.name])
        names[m.version] = names.pop(m.released_as)
        renumbered.append(m.version)
    return renumbered


def apply_migrations(
    con: duckdb.DuckDBPyConnection, migrations: tuple[Migration, ...] = MIGRATIONS
) -> list[int]:
    """Apply every migration not yet recorded, each in one transaction. Returns the new ones."""
    renumber_released(con, migrations)
    done = applied_versions(con)
    applied = []
    for migration in sorted(migrations, key=lambda m: m.version):
        if migration.version in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            migration.apply(con)
            con.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                [migration.version, migration.name],
            )
            con.execute("COMMIT")
        except Exception as exc:
            con.execute("ROLLBACK")
            raise StoreError(f"migration {migration.version} ({migration.name}) failed: {exc}") from exc
        applied.append(migration.version)
    return applied
